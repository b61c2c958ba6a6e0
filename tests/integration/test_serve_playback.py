"""`videoctl serve`'s ``/t/{token}/…`` route over real HTTP (paths sent exactly as written): the same
tokens as the edge Worker, checked by the same code (every shared vector gets the Worker's status
and reason), and the Worker's answers: GET and HEAD, single ranges (206, 416), ETags (304), types,
cache lives, CORS for VIDEOCTL_PLAYBACK_ORIGINS, 403 and 404 and never a listing; a link planted
in a ladder is never served; no VIDEOCTL_SERVE_TOKEN asked for, the Host check kept; no database
needed. The video page's own player plays through it."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import pytest

from tests import playback_vectors
from tests.browser.site import request
from tests.e2e.test_playback_cli import ready_video
from tests.ladders import ladder_files
from videoctl.api import Client
from videoctl.domain import playback
from videoctl.settings import Settings
from videoctl.web.server import running

APP = "https://app.example.com"
TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mpd": "application/dash+xml", ".m4s": "video/iso.segment",
         ".mp4": "video/mp4", ".vtt": "text/vtt; charset=utf-8", ".jpg": "image/jpeg"}
SHORT = "public, max-age=60"
IMMUTABLE = "public, max-age=31536000, immutable"
#: Every printable ASCII character stays as written; anything else is escaped, as a browser sends it.
AS_WRITTEN = "".join(chr(c) for c in range(0x21, 0x7F))


def sent(path: str) -> str:
    return quote(path, safe=AS_WRITTEN)


def refused(reply: tuple[int, dict[str, str], bytes], reason: str) -> None:
    status, headers, body = reply
    assert status == 403, (status, body[:200])
    assert json.loads(body) == {"error": "forbidden", "reason": reason}
    assert headers["cache-control"] == "no-store"


class Served:
    def __init__(self, base: str, video_id: int, prefix: str, folder: Path, token: str,
                 files: dict[str, bytes]) -> None:
        self.base, self.video_id, self.prefix, self.folder, self.token = base, video_id, prefix, folder, token
        self.files = files

    def url(self, name: str, token: str | None = None) -> str:
        return f"/t/{token or self.token}/{self.prefix}{name}"

    def get(self, name: str, **options) -> tuple[int, dict[str, str], bytes]:
        return request(self.base, self.url(name), **options)


def plant_ladder(storage: Path, prefix: str) -> dict[str, bytes]:
    """A ladder's every kind of output, written where run-job writes them."""
    files = {name: data for name, data in ladder_files(cmaf=True).items()}
    # (A manifest of another name: tests/conftest.py holds every manifest.mpd to MPEG's schema.)
    files.update({"dash.mpd": b"<MPD/>", "poster.jpg": b"\xff\xd8jpeg", "storyboard.vtt": b"WEBVTT\n",
                  "subs/ko.vtt": "WEBVTT\n\n00:00.000 --> 00:01.000\n안녕\n".encode(),
                  "download.mp4": os.urandom(5000)})
    for name, data in files.items():
        path = storage / prefix / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


@pytest.fixture
def served(env, conn, monkeypatch):
    """A READY video's ladder in the local store, `serve` over it (nothing set but the app's origin),
    and a token for it signed as `videoctl playback` signs one."""
    monkeypatch.setenv("VIDEOCTL_PLAYBACK_ORIGINS", APP)
    video_id, prefix = ready_video(conn)
    storage = Path(env["VIDEOCTL_STORAGE_DIR"])
    files = plant_ladder(storage, prefix)
    with running(Settings.from_env()) as listening:
        base = listening["url"].rstrip("/")
        with Client() as videoctl:
            signed = videoctl.playback(video_id, expires_s=600, viewer="student-42", base_url=base)
        assert signed.master == f"{base}/t/{signed.token}/{prefix}master.m3u8"
        yield Served(base, video_id, prefix, storage / prefix, signed.token, files)


def test_every_shared_vector_gets_the_workers_answer(env):
    """tests/fixtures/playback_vectors.json, sent to serve at the vectors' clock: every grant is
    the object (200), every refusal 403 with the reason the Worker gives."""
    vectors = json.loads(playback_vectors.FILE.read_text(encoding="utf-8"))
    storage = Path(env["VIDEOCTL_STORAGE_DIR"])
    granted = {v["expect"]["key"]: v["name"] for v in vectors["vectors"] if v["expect"]["ok"]}
    for key, name in granted.items():
        (storage / key).parent.mkdir(parents=True, exist_ok=True)
        (storage / key).write_text(name)
    settings = Settings.from_env({**os.environ, "VIDEOCTL_PLAYBACK_KEYS": vectors["keys"],
                                  "VIDEOCTL_PLAYBACK_MAX_EXPIRY_SECONDS": str(vectors["max_lifetime_s"])})
    with running(settings, clock=lambda: vectors["now"]) as listening:
        base = listening["url"].rstrip("/")
        for vector in vectors["vectors"]:
            reply = request(base, sent(f"/t/{vector['token']}/{vector['path']}"))
            if vector["expect"]["ok"]:
                assert reply[0] == 200, (vector["name"], reply)
                assert reply[2] == granted[vector["expect"]["key"]].encode(), vector["name"]
            else:
                refused(reply, vector["expect"]["reason"])
    assert len(granted) >= 5 and sum(not v["expect"]["ok"] for v in vectors["vectors"]) >= 30


def test_every_output_comes_whole_with_its_type_etag_and_cache_life(served):
    assert {PurePosixPath(name).suffix for name in served.files} == set(TYPES)
    for name, data in served.files.items():
        status, headers, body = served.get(name)
        suffix = PurePosixPath(name).suffix
        assert (status, body, headers["content-type"]) == (200, data, TYPES[suffix]), name
        assert headers["cache-control"] == (SHORT if suffix in (".m3u8", ".mpd") else IMMUTABLE), name
        assert headers["content-length"] == str(len(data)) and headers["accept-ranges"] == "bytes"
        assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', headers["etag"])
        status, head_headers, body = served.get(name, method="HEAD")
        assert (status, body, head_headers["content-length"]) == (200, b"", str(len(data))), name


def test_a_single_range_is_206_one_beyond_the_end_416_and_several_the_whole(served):
    data = (served.folder / "download.mp4").read_bytes()
    size = len(data)
    for asked, (start, end) in {"bytes=10-99": (10, 99), "bytes=-50": (size - 50, size - 1),
                                f"bytes={size - 7}-": (size - 7, size - 1), f"bytes=0-{size + 100}": (0, size - 1)}.items():
        status, headers, body = served.get("download.mp4", headers={"Range": asked})
        assert (status, headers["content-range"], body) == (206, f"bytes {start}-{end}/{size}", data[start:end + 1])
        assert headers["content-length"] == str(end - start + 1)
    for asked in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=-0"):
        status, headers, _ = served.get("download.mp4", headers={"Range": asked})
        assert (status, headers["content-range"]) == (416, f"bytes */{size}"), asked
    assert served.get("download.mp4", headers={"Range": "bytes=0-1,5-6"})[::2] == (200, data)
    etag = served.get("download.mp4", method="HEAD")[1]["etag"]
    assert served.get("download.mp4", headers={"Range": "bytes=0-9", "If-Range": etag})[0] == 206
    assert served.get("download.mp4", headers={"Range": "bytes=0-9", "If-Range": '"older"'})[::2] == (200, data)


def test_an_etag_the_player_holds_is_304(served):
    etag = served.get("master.m3u8")[1]["etag"]
    for held in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, headers, body = served.get("master.m3u8", headers={"If-None-Match": held})
        assert (status, body, headers["etag"], headers["cache-control"]) == (304, b"", etag, SHORT), held
    assert served.get("master.m3u8", headers={"If-None-Match": '"other"'})[0] == 200


def test_a_missing_object_is_404_and_a_folder_is_never_listed(served):
    assert served.get("360p/seg_09999.m4s")[:1] == (404,)
    assert served.get("360p")[0] == 404  # a folder is not an object
    refused(request(served.base, served.url("")), "bad_path")
    refused(request(served.base, served.url("360p/")), "bad_path")
    refused(request(served.base, f"/t/{served.token}/videos/{served.video_id}/source/a.mp4"), "outside_prefix")
    refused(request(served.base, "/t/"), "malformed")


def test_an_expired_forged_or_foreign_token_is_403(served):
    with Client() as videoctl:
        keys = videoctl.playback_keyring()
    now = int(time.time())
    expired = playback.sign(served.prefix, key=keys.signing, expires_at=now - 1)
    refused(request(served.base, served.url("master.m3u8", expired)), "expired")
    too_long = playback.sign(served.prefix, key=keys.signing, expires_at=now + 86_400 + 3600)
    refused(request(served.base, served.url("master.m3u8", too_long)), "too_far_future")
    forged = served.token[:-1] + ("A" if served.token[-1] != "A" else "B")
    refused(request(served.base, served.url("master.m3u8", forged)), "bad_signature")
    stranger = playback.Key("local", b"another-machine-s-key-0123456789abcdef")
    refused(request(served.base, served.url("master.m3u8", playback.sign(served.prefix, key=stranger,
                                                                          expires_at=now + 60))), "bad_signature")


def test_cors_answers_the_app_s_origins_only(served):
    status, headers, _ = served.get("master.m3u8", headers={"Origin": APP})
    assert status == 200 and headers["access-control-allow-origin"] == APP
    assert "ETag" in headers["access-control-expose-headers"] and "Origin" in headers["vary"]
    status, headers, _ = served.get("master.m3u8", headers={"Origin": "https://evil.example"})
    assert status == 200 and "access-control-allow-origin" not in headers and "Origin" in headers["vary"]
    status, headers, _ = request(served.base, served.url("master.m3u8", "v1.nope"), headers={"Origin": APP})
    assert status == 403 and headers["access-control-allow-origin"] == APP  # a player can read why
    status, headers, _ = served.get("master.m3u8", method="OPTIONS", headers={
        "Origin": APP, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"})
    assert status == 204 and headers["access-control-allow-origin"] == APP
    assert "GET" in headers["access-control-allow-methods"] and headers["access-control-allow-headers"] == "range"
    assert served.get("master.m3u8", method="OPTIONS", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})[0] == 403


def test_only_get_head_and_options(served):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = served.get("master.m3u8", method=method)
        assert (status, headers["allow"]) == (405, "GET, HEAD, OPTIONS"), method


def test_a_link_planted_in_a_ladder_is_never_served(served, tmp_path, caplog):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"the operator's secret")
    (served.folder / "360p" / "linked.m4s").symlink_to(secret)
    os.link(secret, served.folder / "360p" / "hard.m4s")
    with caplog.at_level(logging.WARNING, logger="videoctl.web.playback"):
        for name in ("360p/linked.m4s", "360p/hard.m4s"):
            status, _, body = served.get(name)
            assert status == 404 and b"secret" not in body, name
    assert "hard links" in caplog.text and "link" in caplog.text


def test_no_serve_token_is_asked_for_and_the_host_check_stays(served, env, conn, monkeypatch):
    status, _, _ = request(served.base, served.url("master.m3u8"), headers={"Host": "evil.example"})
    assert status == 421  # DNS rebinding: as every other page on loopback without a token
    monkeypatch.setenv("VIDEOCTL_SERVE_TOKEN", "Zq8wKp2eTn5Hu7Lm3Rv6Yc9Xb4Gd1Fs0Zq8wKp2e")
    with running(Settings.from_env()) as listening:
        base = listening["url"].rstrip("/")
        assert request(base, "/")[0] == 401
        status, _, body = request(base, served.url("master.m3u8"), headers={"Host": "media.example.com"})
        assert (status, body) == (200, (served.folder / "master.m3u8").read_bytes())


def test_no_database_is_needed(served, env, monkeypatch):
    monkeypatch.setenv("VIDEOCTL_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    with running(Settings.from_env()) as listening:
        base = listening["url"].rstrip("/")
        assert request(base, "/")[0] == 503
        assert request(base, served.url("360p/seg_00001.m4s"))[0] == 200


def test_the_video_page_s_player_plays_through_the_route(served):
    status, _, page = request(served.base, f"/videos/{served.video_id}")
    assert status == 200
    source = re.search(rb'data-src="([^"]+)"', page)[1].decode()
    storyboard = re.search(rb'data-storyboard="([^"]+)"', page)[1].decode()
    assert source.startswith("/t/") and source.endswith(f"/{served.prefix}master.m3u8")
    assert storyboard.startswith("/t/") and storyboard.endswith("storyboard.vtt")
    assert request(served.base, source)[::2] == (200, (served.folder / "master.m3u8").read_bytes())
    token = source.split("/")[2]
    with Client() as videoctl:
        grant = playback.verify(token, served.prefix + "master.m3u8", videoctl.playback_keyring(), time.time())
    assert grant.viewer == "videoctl-serve-page" and grant.expires_at > time.time() + 86_000
