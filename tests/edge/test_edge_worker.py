"""The playback edge Worker (worker/edge/src/) in workerd, through Miniflare, against a local R2
bucket holding a real ladder: tokens (the shared vectors, expiry, tampering, prefix escapes), GET
and HEAD with the right types, single ranges (206, 416), ETags, CORS for the app's origins, 403 and
404, and one cached copy per object for every viewer."""

from __future__ import annotations

import json
import subprocess
from pathlib import PurePosixPath

import pytest

from tests.edge.conftest import APP_ORIGIN, KEYS, Ladder, start_worker
from tests.edge.worker import EDGE, EdgeWorker, node_or_skip
from tests.processes import wait_until
from videoctl.domain import playback

#: What a player must be told each output is.
TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mpd": "application/dash+xml", ".m4s": "video/iso.segment",
         ".mp4": "video/mp4", ".vtt": "text/vtt; charset=utf-8", ".jpg": "image/jpeg"}
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=60"


def url(token: str, key: str) -> str:
    return f"/t/{token}/{key}"


def refused(reply, reason: str) -> None:
    assert reply.status == 403, (reply.status, reply.body[:200])
    assert json.loads(reply.body) == {"error": "forbidden", "reason": reason}
    assert reply.header("cache-control") == "no-store"


def test_the_shared_vectors_hold_in_node_and_in_workerd():
    """`npm test`: the Worker's verify gives every answer the Python code gives (the vectors file)."""
    run = subprocess.run([node_or_skip(), "--test", *sorted(str(p) for p in (EDGE / "test").glob("*.test.js"))],
                         cwd=EDGE, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "# fail 0" in run.stdout and "# pass 0" not in run.stdout


def test_every_output_is_served_whole_with_its_type_etag_and_cache_life(edge: EdgeWorker, edge_ladder: Ladder):
    token = edge_ladder.token()
    files = edge_ladder.files()
    suffixes = {PurePosixPath(key).suffix for key in files}
    assert suffixes == set(TYPES), suffixes  # the ladder has every kind of output
    for key, data in files.items():
        reply = edge.request(url(token, key))
        assert reply.status == 200, (key, reply.status, reply.body[:200])
        assert reply.body == data, key
        suffix = PurePosixPath(key).suffix
        assert reply.header("content-type") == TYPES[suffix], key
        assert reply.header("cache-control") == (SHORT if suffix in (".m3u8", ".mpd") else IMMUTABLE), key
        assert reply.header("content-length") == str(len(data))
        assert reply.header("etag", ).startswith('"') and reply.header("accept-ranges") == "bytes"


def test_head_answers_the_headers_without_the_body(edge: EdgeWorker, edge_ladder: Ladder):
    token = edge_ladder.token()
    key, data = next((k, v) for k, v in edge_ladder.files().items() if k.endswith(".m4s"))
    for _ in range(2):  # from R2, then from the cache
        reply = edge.request(url(token, key), method="HEAD")
        assert (reply.status, reply.body) == (200, b"")
        assert reply.header("content-length") == str(len(data)) and reply.header("content-type") == TYPES[".m4s"]
        edge.request(url(token, key))


def ranges(size: int) -> dict[str, tuple[int, int]]:
    """Range headers a player sends → the bytes they name (first, last)."""
    return {"bytes=10-99": (10, 99), "bytes=-50": (size - 50, size - 1), f"bytes={size - 7}-": (size - 7, size - 1),
            f"bytes=0-{size + 100}": (0, size - 1)}


def beyond(size: int) -> list[str]:
    return [f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=-0"]


def assert_part(reply, data: bytes, start: int, end: int, cache: str) -> None:
    assert reply.status == 206, reply.status
    assert reply.header("content-range") == f"bytes {start}-{end}/{len(data)}"
    assert reply.body == data[start:end + 1] and reply.header("content-length") == str(end - start + 1)
    assert reply.header("x-videoctl-cache") == cache


def test_a_single_range_is_206_and_one_beyond_the_end_is_416(fresh_edge: EdgeWorker, edge_ladder: Ladder):
    token = edge_ladder.token()
    files = edge_ladder.files()
    segments = [(k, v) for k, v in files.items() if k.endswith(".m4s")]
    # From R2: each range on a segment nobody fetched yet (a ranged miss then fills the cache).
    for n, (key, data) in enumerate(segments[:len(ranges(1))]):
        asked, (start, end) = list(ranges(len(data)).items())[n]
        assert_part(fresh_edge.request(url(token, key), headers={"Range": asked}), data, start, end, "miss")
    for n, (key, data) in enumerate(segments[len(ranges(1)):][:3]):
        asked = beyond(len(data))[n]
        reply = fresh_edge.request(url(token, key), headers={"Range": asked})
        assert reply.status == 416 and reply.header("content-range") == f"bytes */{len(data)}", asked
    # From the cache.
    key = edge_ladder.prefix + "download.mp4"
    data = files[key]
    fresh_edge.request(url(token, key))  # the whole object, which fills the cache
    wait_until(lambda: fresh_edge.request(url(token, key), method="HEAD").header("x-videoctl-cache") == "hit",
               timeout=30, what="the MP4 in the cache")
    for asked, (start, end) in ranges(len(data)).items():
        assert_part(fresh_edge.request(url(token, key), headers={"Range": asked}), data, start, end, "hit")
    for asked in beyond(len(data)):
        reply = fresh_edge.request(url(token, key), headers={"Range": asked})
        assert reply.status == 416 and reply.header("content-range") == f"bytes */{len(data)}", asked
    several = fresh_edge.request(url(token, key), headers={"Range": "bytes=0-1,5-6"})
    assert (several.status, several.body) == (200, data)  # several ranges: the whole object (RFC 9110)


def test_an_etag_the_player_holds_is_304(edge: EdgeWorker, edge_ladder: Ladder):
    token = edge_ladder.token()
    key = edge_ladder.prefix + "master.m3u8"
    etag = edge.request(url(token, key)).header("etag")
    for _ in range(2):
        reply = edge.request(url(token, key), headers={"If-None-Match": etag})
        assert (reply.status, reply.body, reply.header("etag")) == (304, b"", etag)
        assert edge.request(url(token, key), headers={"If-None-Match": '"other"'}).status == 200


def test_a_second_viewer_is_served_from_the_cache_without_r2(fresh_edge: EdgeWorker, edge_ladder: Ladder):
    files = edge_ladder.files()
    first = edge_ladder.token(viewer="student-1")
    for key in files:
        assert fresh_edge.request(url(first, key)).header("x-videoctl-cache") == "miss", key
    # Another viewer, another token (signed with the older key): the same cached copies.
    second = edge_ladder.token(viewer="student-2", key=1)
    wait_until(lambda: all(fresh_edge.request(url(second, key), method="HEAD").header("x-videoctl-cache") == "hit"
                           for key in files), timeout=60, what="every object in the cache")
    # Proof that the cache, not R2, answers: R2 emptied, a third viewer still gets every byte.
    assert fresh_edge.command(op="delete", prefix=edge_ladder.prefix)["deleted"] == len(files)
    third = edge_ladder.token(viewer="student-3")
    for key, data in files.items():
        reply = fresh_edge.request(url(third, key))
        assert (reply.status, reply.header("x-videoctl-cache")) == (200, "hit"), key
        assert reply.body == data
    source = edge_ladder.video.source_key
    assert fresh_edge.command(op="keys", prefix=source)["keys"] == [source]  # only the ladder went


def test_a_missing_object_is_404_and_a_folder_is_never_listed(edge: EdgeWorker, edge_ladder: Ladder):
    token = edge_ladder.token()
    assert edge.request(url(token, edge_ladder.prefix + "360/seg_09999.m4s")).status == 404
    refused(edge.request(url(token, edge_ladder.prefix)), "bad_path")
    refused(edge.request(url(token, edge_ladder.prefix + "360/")), "bad_path")
    for path in ("/", f"/{edge_ladder.prefix}master.m3u8", "/favicon.ico"):
        assert edge.request(path).status == 404, path


def test_an_expired_or_too_long_token_is_403(edge: EdgeWorker, edge_ladder: Ladder):
    key = edge_ladder.prefix + "master.m3u8"
    refused(edge.request(url(edge_ladder.token(expires_in=-1), key)), "expired")
    refused(edge.request(url(edge_ladder.token(expires_in=86_400 + 3600), key)), "too_far_future")
    assert edge.request(url(edge_ladder.token(expires_in=86_400), key)).status == 200


def test_a_tampered_truncated_or_foreign_token_is_403(edge: EdgeWorker, edge_ladder: Ladder):
    key = edge_ladder.prefix + "master.m3u8"
    token = edge_ladder.token()
    fields = token.split(".")
    later = ".".join([*fields[:2], str(int(fields[2]) + 60), *fields[3:]])
    refused(edge.request(url(later, key)), "bad_signature")
    refused(edge.request(url(token[:-1] + ("A" if token[-1] != "A" else "B"), key)), "bad_signature")
    refused(edge.request(url(token[:-5], key)), "malformed")
    refused(edge.request(url(token.rsplit(".", 1)[0], key)), "malformed")
    stranger = playback.Key("k2024z", b"edge-test-secret-z-0123456789abcdef0123456789")
    refused(edge.request(url(playback.sign(edge_ladder.prefix, key=stranger, expires_at=int(fields[2])), key)),
            "unknown_key")


def test_no_path_escapes_the_ladder(edge: EdgeWorker, edge_ladder: Ladder):
    token = edge_ladder.token()
    prefix, video = edge_ladder.prefix, edge_ladder.video
    source = video.source_key
    source_bytes = (edge_ladder.storage / source).read_bytes()
    climb = "../" * prefix.count("/")
    # workerd resolves '..' (and '%2e%2e') in the URL before the Worker sees it: what it resolves to is
    # outside the ladder, or outside /t/ altogether (404). The Worker's own rules refuse them too (the
    # vectors), for a runtime that would pass them on as sent.
    escapes = {
        f"{prefix}../../source/{PurePosixPath(source).name}": "outside_prefix",
        f"{prefix}%2e%2e/%2E%2E/source/{PurePosixPath(source).name}": "outside_prefix",
        f"{prefix}..%2F..%2Fsource%2F{PurePosixPath(source).name}": "bad_path",
        f"{prefix}%2F..%2F..%2Fsource": "bad_path",
        f"{prefix}/master.m3u8": "bad_path",
        f"{prefix}360//index.m3u8": "bad_path",
        f"{prefix}..%5C..%5Csource": "bad_path",
        f"{prefix}master.m3u8%00": "bad_path",
        source: "outside_prefix",
        f"videos/{video.id}/captions/1.ko.vtt": "outside_prefix",
        f"videos/{video.id}0/{prefix.split('/', 2)[2]}master.m3u8": "outside_prefix",
        f"{climb}{source}": None,
    }
    for path, reason in escapes.items():
        reply = edge.request(f"/t/{token}/{path}")
        assert source_bytes not in reply.body, path
        if reason is None:
            assert reply.status == 404, (path, reply.status)
        else:
            refused(reply, reason)



def test_cors_answers_the_app_s_origins_only(edge: EdgeWorker, edge_ladder: Ladder):
    token = edge_ladder.token()
    key = edge_ladder.prefix + "master.m3u8"
    allowed = edge.request(url(token, key), headers={"Origin": APP_ORIGIN})
    assert allowed.status == 200 and allowed.header("access-control-allow-origin") == APP_ORIGIN
    assert "ETag" in allowed.header("access-control-expose-headers") and "Origin" in allowed.header("vary")
    other = edge.request(url(token, key), headers={"Origin": "https://evil.example"})
    assert other.header("access-control-allow-origin") is None and "Origin" in other.header("vary")
    # A player can read why it was refused.
    denied = edge.request(url(edge_ladder.token(expires_in=-5), key), headers={"Origin": APP_ORIGIN})
    assert denied.status == 403 and denied.header("access-control-allow-origin") == APP_ORIGIN
    preflight = edge.request(url(token, key), method="OPTIONS", headers={
        "Origin": APP_ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "range"})
    assert preflight.status == 204 and preflight.header("access-control-allow-origin") == APP_ORIGIN
    assert "GET" in preflight.header("access-control-allow-methods")
    assert preflight.header("access-control-allow-headers") == "range"
    assert edge.request(url(token, key), method="OPTIONS", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}).status == 403


def test_only_get_head_and_options(edge: EdgeWorker, edge_ladder: Ladder):
    token = edge_ladder.token()
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        reply = edge.request(url(token, edge_ladder.prefix + "master.m3u8"), method=method)
        assert reply.status == 405 and reply.header("allow") == "GET, HEAD, OPTIONS", method


def test_the_viewer_of_each_playback_is_logged_and_no_key_ever(fresh_edge: EdgeWorker, edge_ladder: Ladder):
    fresh_edge.request(url(edge_ladder.token(viewer="student-77"), edge_ladder.prefix + "master.m3u8"))
    fresh_edge.request(url(edge_ladder.token(viewer="student-88"), edge_ladder.prefix + "360/index.m3u8"))
    wait_until(lambda: "student-77" in fresh_edge.log_text(), timeout=30, what="the viewer's log line")
    log = fresh_edge.log_text()
    line = next(json.loads(line[line.index("{"):]) for line in log.splitlines() if "student-77" in line)
    assert line["prefix"] == edge_ladder.prefix and line["kid"] == "k2026b"
    assert "student-88" not in log  # one line per playback (the master or MPD), not per playlist or segment
    for secret in (entry.split(":", 1)[1] for entry in KEYS.split(",")):
        assert secret not in log


def test_a_bad_keys_secret_fails_closed_without_showing_it(edge_ladder: Ladder, tmp_path):
    (tmp_path / "empty").mkdir()
    broken = EdgeWorker(seed=tmp_path / "empty", keys="k1:short-secret-value", state=tmp_path / "state")
    try:
        reply = broken.request(url(edge_ladder.token(), edge_ladder.prefix + "master.m3u8"))
        assert reply.status == 500 and b"short-secret-value" not in reply.body
        assert "short-secret-value" not in broken.log_text()
    finally:
        broken.stop()


@pytest.mark.parametrize("origins", ["*"])
def test_every_origin_with_a_star(edge_ladder: Ladder, tmp_path, origins):
    worker = start_worker(edge_ladder, tmp_path / "state", origins=origins)
    try:
        reply = worker.request(url(edge_ladder.token(), edge_ladder.prefix + "master.m3u8"),
                               headers={"Origin": "https://anyone.example"})
        assert reply.header("access-control-allow-origin") == "https://anyone.example"
    finally:
        worker.stop()
