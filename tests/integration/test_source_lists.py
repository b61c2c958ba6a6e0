"""A source that is a list of other files ends DEAD as invalid_input, and nothing it names is encoded.

Through run-job and scan-stuck on the real database, the local store and real ffmpeg: an HLS
playlist naming a private (0600) MPEG-TS outside the store by its absolute path, added with
`video add` or registered with `--key`, and an ffmpeg concat list. Before #21 the playlist's
job encoded the private file into the video's ladder and poster. (An image-sequence pattern
cannot reach run-job: the scratch copy is always named ``source``; tests/integration/media/
test_media_source_lists.py refuses it where the source is opened.)
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests import clips
from tests.cli import run_cli
from videoctl.domain.states import JobState, VideoStatus
from videoctl.media.binary import find_ffmpeg
from videoctl.services.videos import add_video

pytestmark = pytest.mark.slow

#: How many bytes of the private file make a sample looked for in the store.
SAMPLE_BYTES = 64


@pytest.fixture
def run_env(env, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400")
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(tmp_path / "scratch"))
    return dict(os.environ)


@pytest.fixture
def private(tmp_path) -> Path:
    """A folder outside the store with a private video: secret.mp4 and secret.ts, both 0600."""
    ffmpeg_bin = find_ffmpeg()
    folder = tmp_path / "private"
    folder.mkdir()
    clip = clips.normal(ffmpeg_bin, folder)
    clip.rename(folder / "secret.mp4")
    subprocess.run([ffmpeg_bin, "-v", "error", "-i", str(folder / "secret.mp4"), "-c", "copy", "-f", "mpegts",
                    str(folder / "secret.ts")], check=True)
    for path in folder.iterdir():
        path.chmod(0o600)
    return folder


def playlist(private: Path, directory: Path) -> Path:
    path = directory / "lecture.m3u8"
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n{private / 'secret.ts'}\n#EXT-X-ENDLIST\n")
    return path


def concat_list(private: Path, directory: Path) -> Path:
    path = directory / "lecture.ffconcat"
    path.write_text(f"ffconcat version 1.0\nfile secret.mp4\nfile {private / 'secret.mp4'}\n")
    return path


def stored_files(env) -> dict[str, bytes]:
    root = Path(env["VIDEOCTL_STORAGE_DIR"])
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def samples(data: bytes) -> list[bytes]:
    """Slices of the private file spread over all of it (its packets, not only its header)."""
    step = max(SAMPLE_BYTES, len(data) // 200)
    return [data[offset:offset + SAMPLE_BYTES] for offset in range(0, len(data) - SAMPLE_BYTES, step)]


def run_to_dead(capsys, ctx, video, reason: str):
    job = ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))
    result = run_cli(capsys, "--json", "run-job", str(job.id))
    assert result.exit_code == 1, result.stdout + result.stderr
    assert run_cli(capsys, "--json", "scan-stuck").exit_code == 0
    dead = ctx.jobs.get(job.id)
    assert (dead.state, dead.error_code) == (JobState.DEAD, "invalid_input"), dead
    assert reason in dead.error_message and "names other files" in dead.error_message
    assert ctx.videos.get(video.id).status is VideoStatus.FAILED
    return dead


def assert_nothing_of_the_private_files_stored(env, private: Path, video) -> None:
    stored = stored_files(env)
    assert list(stored) == [video.source_key]  # no ladder, no poster, no download: no output at all
    for name in ("secret.mp4", "secret.ts"):
        for sample in samples((private / name).read_bytes()):
            assert not any(sample in data for data in stored.values()), f"a part of {name} is in the store"


def test_a_playlist_added_with_video_add_naming_a_private_file_ends_dead(capsys, ctx, run_env, private, tmp_path):
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=playlist(private, tmp_path))
    assert video.source_key.endswith("/lecture.m3u8")
    run_to_dead(capsys, ctx, video, "an HLS playlist")
    assert_nothing_of_the_private_files_stored(run_env, private, video)


def test_a_playlist_registered_with_key_naming_a_private_file_ends_dead(capsys, ctx, run_env, private, tmp_path):
    key = "videos/41/source/lecture.m3u8"
    ctx.store.upload_file(playlist(private, tmp_path), key)
    registered = run_cli(capsys, "--json", "video", "add", "--key", key)
    assert registered.exit_code == 0, registered.stdout
    video = ctx.videos.get(registered.json()["data"]["id"])
    run_to_dead(capsys, ctx, video, "an HLS playlist")
    assert_nothing_of_the_private_files_stored(run_env, private, video)


def test_a_concat_list_ends_dead(capsys, ctx, run_env, private, tmp_path):
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=concat_list(private, tmp_path))
    run_to_dead(capsys, ctx, video, "an ffmpeg concat list")
    assert_nothing_of_the_private_files_stored(run_env, private, video)
