"""`videoctl playback ID` (and `Client.playback`): signed URLs of every output a READY video
recorded, each opening that ladder alone until it expires; a clear refusal otherwise."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.cli import run_cli
from videoctl.api import Client
from videoctl.db.repositories import VideoRepository
from videoctl.domain import playback
from videoctl.domain.errors import ConfigError
from videoctl.domain.outputs import Outputs
from videoctl.domain.states import VideoStatus

KEYS = "k2026b:" + "b" * 64 + ",k2026a:" + "a" * 64
BASE = "https://media.example.com"


@pytest.fixture
def playback_env(monkeypatch, env):
    monkeypatch.setenv("VIDEOCTL_PLAYBACK_KEYS", KEYS)
    monkeypatch.setenv("VIDEOCTL_PLAYBACK_BASE_URL", BASE)
    return env


def ready_video(conn, *, captions: tuple[str, ...] = ("ko", "en"), mpd: bool = True) -> tuple[int, str]:
    videos = VideoRepository(conn)
    video = videos.add(videos.next_id(), title="lecture", source_key="videos/0/source/a.mp4", size_bytes=1)
    prefix = f"videos/{video.id}/hls/3-2/"
    videos.set_ready(video.id, prefix + "master.m3u8", Outputs(
        mpd_path=prefix + "manifest.mpd" if mpd else None, poster_path=prefix + "poster.jpg",
        poster_small_path=prefix + "poster-320.jpg", storyboard_path=prefix + "storyboard.vtt",
        download_path=prefix + "download.mp4", caption_languages=captions))
    return video.id, prefix


def opened_key(url: str) -> str:
    """The object key a playback URL opens, checked as the edge checks it."""
    token, rest = playback.split_request(url.removeprefix(BASE))
    return playback.verify(token, rest, playback.parse_keys(KEYS), time.time()).key


def test_every_output_gets_a_url_that_opens_it(capsys, playback_env, conn):
    video_id, prefix = ready_video(conn)
    before = time.time()
    result = run_cli(capsys, "--json", "playback", str(video_id), "--expires", "3h", "--viewer", "student-42")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = result.json()["data"]
    named = {"master": "master.m3u8", "mpd": "manifest.mpd", "poster": "poster.jpg", "poster_small": "poster-320.jpg",
             "storyboard": "storyboard.vtt", "download": "download.mp4"}
    for field, name in named.items():
        assert data[field].startswith(f"{BASE}/t/{data['token']}/") and opened_key(data[field]) == prefix + name
    assert [(c["language"], opened_key(c["hls"]), opened_key(c["vtt"])) for c in data["captions"]] == [
        ("ko", prefix + "subs/ko.m3u8", prefix + "subs/ko.vtt"), ("en", prefix + "subs/en.m3u8", prefix + "subs/en.vtt")]
    assert (data["video_id"], data["viewer"], data["key_id"], data["prefix"]) == (video_id, "student-42", "k2026b", prefix)
    expires_at = datetime.fromisoformat(data["expires_at"]).timestamp()
    assert before + 3 * 3600 - 1 <= expires_at <= time.time() + 3 * 3600
    grant = playback.verify(data["token"], prefix + "master.m3u8", playback.parse_keys(KEYS), time.time())
    assert (grant.viewer, grant.expires_at) == ("student-42", int(expires_at))


def test_the_human_output_lists_the_urls_and_when_they_stop(capsys, playback_env, conn, monkeypatch):
    monkeypatch.setattr("videoctl.commands._render.stdout._width", 10_000)
    video_id, prefix = ready_video(conn, captions=(), mpd=False)
    result = run_cli(capsys, "playback", str(video_id))
    assert result.exit_code == 0, result.stderr
    assert f"{BASE}/t/" in result.stdout and f"/{prefix}master.m3u8" in result.stdout
    assert "MPD" not in result.stdout and "work until" in result.stdout and prefix in result.stdout


def test_the_library_call_takes_another_base_for_serve(playback_env, conn):
    video_id, prefix = ready_video(conn)
    with Client() as videoctl:
        signed = videoctl.playback(video_id, expires_s=600, base_url="http://127.0.0.1:8080")
    assert signed.master == f"http://127.0.0.1:8080/t/{signed.token}/{prefix}master.m3u8"
    assert signed.viewer is None


@pytest.mark.parametrize("status", [VideoStatus.UPLOADED, VideoStatus.PROCESSING, VideoStatus.FAILED])
def test_a_video_that_is_not_ready_is_refused(capsys, playback_env, conn, status):
    videos = VideoRepository(conn)
    video = videos.add(videos.next_id(), title="t", source_key="videos/0/source/a.mp4", size_bytes=1, status=status)
    result = run_cli(capsys, "--json", "playback", str(video.id))
    assert result.exit_code == 5
    error = result.json()["error"]
    assert error["code"] == "invalid_state" and f"is {status.value}, not READY" in error["message"]


def test_a_deleted_video_is_refused(capsys, playback_env, conn):
    video_id, _ = ready_video(conn)
    VideoRepository(conn).mark_deleted(video_id)
    result = run_cli(capsys, "--json", "playback", str(video_id))
    assert result.exit_code == 5
    assert result.json()["error"]["code"] == "invalid_state" and "DELETED" in result.json()["error"]["message"]


def test_an_unknown_video_is_not_found(capsys, playback_env):
    result = run_cli(capsys, "--json", "playback", "999")
    assert result.exit_code == 4 and result.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("args", "code", "exit_code"), [
    (("--expires", "2d"), "invalid_input", 3),  # above VIDEOCTL_PLAYBACK_MAX_EXPIRY_SECONDS (1 day)
    (("--expires", "30s"), "invalid_input", 3),
    (("--expires", "soon"), "usage_error", 2),
    (("--viewer", "a\x1b[31mb"), "invalid_input", 3),
])
def test_bad_options_are_refused(capsys, playback_env, conn, args, code, exit_code):
    video_id, _ = ready_video(conn)
    result = run_cli(capsys, "--json", "playback", str(video_id), *args)
    assert result.exit_code == exit_code and result.json()["error"]["code"] == code


def test_with_r2_and_nothing_set_it_is_a_config_error_naming_the_variable(capsys, r2_env, conn):
    video_id, _ = ready_video(conn)
    result = run_cli(capsys, "--json", "playback", str(video_id))
    error = result.json()["error"]
    assert result.exit_code == 6 and "VIDEOCTL_PLAYBACK_BASE_URL" in error["message"]
    assert "videoctl serve" in error["hint"]  # what a local store does instead


def test_keys_are_needed_for_any_address_but_this_machine_s(env, conn):
    video_id, _ = ready_video(conn)
    with Client() as videoctl, pytest.raises(ConfigError, match="VIDEOCTL_PLAYBACK_KEYS is not set"):
        videoctl.playback(video_id, expires_s=600, base_url=BASE)


# ---------------------------------------------------------------- local mode: nothing configured


def local_keys(home: Path) -> playback.Keyring:
    return playback.parse_keys((home / "playback.key").read_text().strip())


def test_with_a_local_store_and_nothing_set_urls_go_to_this_machine_s_serve(capsys, env, conn, isolated_env):
    video_id, prefix = ready_video(conn)
    result = run_cli(capsys, "--json", "playback", str(video_id), "--viewer", "student-1")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = result.json()["data"]
    assert data["master"] == f"http://127.0.0.1:8080/t/{data['token']}/{prefix}master.m3u8"  # serve's default port
    # Signed with the key the embedded default keeps under VIDEOCTL_HOME, which serve verifies with.
    key_file = isolated_env / "playback.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and data["key_id"] == "local"
    grant = playback.verify(data["token"], prefix + "master.m3u8", local_keys(key_file.parent), time.time())
    assert grant.viewer == "student-1"
    secret = key_file.read_text().strip().partition(":")[2]
    assert secret not in result.stdout + result.stderr
    again = run_cli(capsys, "--json", "playback", str(video_id)).json()["data"]
    assert again["key_id"] == "local" and playback.verify(  # one key, made once
        again["token"], prefix + "poster.jpg", local_keys(key_file.parent), time.time()).key == prefix + "poster.jpg"
    with Client() as videoctl:
        assert videoctl.playback_keyring().signing.secret == secret.encode()


def test_urls_go_to_the_port_a_running_serve_recorded_and_not_a_gone_one(capsys, env, conn, isolated_env):
    video_id, prefix = ready_video(conn)
    home = isolated_env
    with Client() as videoctl, videoctl.serving("http://127.0.0.1:47001"):
        data = run_cli(capsys, "--json", "playback", str(video_id)).json()["data"]
        assert data["master"].startswith("http://127.0.0.1:47001/t/")
        assert json.loads((home / "serve.json").read_text())["pid"] == os.getpid()
    assert not (home / "serve.json").exists()  # forgotten when serve stops
    # A serve that was killed leaves its record: the process is gone, so it is not believed.
    (home / "serve.json").write_text(json.dumps({"url": "http://127.0.0.1:47002", "pid": _ended_pid()}))
    data = run_cli(capsys, "--json", "playback", str(video_id)).json()["data"]
    assert data["master"].startswith("http://127.0.0.1:8080/t/")


def test_a_configured_key_signs_for_this_machine_too(capsys, playback_env, conn, monkeypatch, isolated_env):
    monkeypatch.delenv("VIDEOCTL_PLAYBACK_BASE_URL")
    video_id, prefix = ready_video(conn)
    data = run_cli(capsys, "--json", "playback", str(video_id)).json()["data"]
    assert data["key_id"] == "k2026b" and data["master"].startswith("http://127.0.0.1:8080/t/")
    assert not (isolated_env / "playback.key").exists()


def _ended_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
