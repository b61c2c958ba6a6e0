"""Helpers for the tests of chunked encoding (#23): a source, settings, and reading ladders back."""

from __future__ import annotations

import io
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import av

from videoctl.media import mp4
from videoctl.media.hls import load_media_playlist
from videoctl.services.run_job import Runner, run_job
from videoctl.services.videos import add_video

#: A tiny ladder, short segments and chunks: the suite stays fast on 2 shared cores.
LADDER = "180:400,144:200"
SEGMENT_S = 2
CHUNK_S = 8
CLIP_SECONDS = 36


def chunk_env(monkeypatch, tmp_path, *, chunk_after_s: float = 0) -> None:
    monkeypatch.setenv("VIDEOCTL_LADDER", LADDER)
    monkeypatch.setenv("VIDEOCTL_SEGMENT_SECONDS", str(SEGMENT_S))
    monkeypatch.setenv("VIDEOCTL_CHUNK_SECONDS", str(CHUNK_S))
    monkeypatch.setenv("VIDEOCTL_CHUNK_AFTER_SECONDS", str(chunk_after_s))
    monkeypatch.setenv("VIDEOCTL_HEARTBEAT_SECONDS", "0.2")
    monkeypatch.setenv("VIDEOCTL_SCRATCH_DIR", str(tmp_path / "scratch"))


def lecture(ffmpeg_bin: str, path: Path, seconds: float = CLIP_SECONDS, *, width: int = 320, height: int = 180) -> Path:
    """A lecture-like source: moving grainy pictures, and two audio tracks (a tone and a
    quieter, different one, the second an interpretation), every frame different."""
    video = f"testsrc2=size={width}x{height}:rate=30:duration={seconds},noise=alls=6:allf=t"
    subprocess.run([ffmpeg_bin, "-hide_banner", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", video,
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
                    "-f", "lavfi", "-i", f"aevalsrc=0.05*sin(2*PI*300*t)*(1+0.5*sin(2*PI*0.3*t)):s=44100:d={seconds}",
                    "-map", "0:v", "-map", "1:a", "-map", "2:a", "-metadata:s:a:1", "language=kor",
                    "-c:v", "libx264", "-preset", "veryfast", "-g", "90", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    str(path)], check=True, capture_output=True)
    return path


def new_job(ctx, source: Path):
    """A new video of ``source`` and its job's first attempt begun (``ctx``: an AppContext)."""
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=source)
    return video, ctx.jobs.begin_attempt(ctx.jobs.create(video.id, max_attempts=3))


def encode_in_chunks(ctx, deps, source: Path, *, chunks: int = 5):
    """A new video of ``source`` encoded by its lead and its ``chunks`` chunks, run here one
    after the other (``deps``' executor starts nothing); the video and its job."""
    video, job = new_job(ctx, source)
    lead = run_job(job.id, deps, Runner("lead", None))
    assert lead.outcome == "chunked" and lead.job.chunks == chunks
    outcomes = [run_job(job.id, deps, Runner(f"chunk-{index}", None, chunk=index, chunk_attempt=1)).outcome
                for index in range(chunks)]
    assert outcomes == ["chunk_encoded"] * (chunks - 1) + ["assembled"]
    return video, job


@dataclass
class FakeChunkExecutor:
    """A local executor that starts nothing: the test runs each chunk it was asked for itself."""

    kind: str = "local"
    slots: int = 1
    #: The sizing table (VIDEOCTL_SIZING) a Batch executor would have; a local one has none.
    sizing: object = None
    started: list[tuple[int, int]] = field(default_factory=list)
    arrays: list[tuple[str, int]] = field(default_factory=list)
    #: The container size each chunk was sent with, by (attempt, index).
    sizes: dict[tuple[int, int], object] = field(default_factory=dict)

    def submit_array(self, name, *, job_id, video_id, attempt, size, priority=None, container_size=None):
        return None

    def submit_chunk(self, name, *, job_id, video_id, attempt, index, priority=None, cpus=None, container_size=None):
        self.started.append((attempt, index))
        self.sizes[(attempt, index)] = container_size
        return f"fake:{attempt}:{index}"

    def chunk_slots(self):
        return [frozenset({0})] * self.slots

    def find_chunk(self, **_):
        return None

    def stop_chunks(self, executor_job_ids, reason):
        pass

    def cancel(self, executor_job_id, reason):
        pass

    def describe(self, ids):
        return {}


def fragment_times(directory: Path) -> list[tuple[int, int]]:
    """(decode time, duration) of each fragment a media playlist names."""
    playlist = load_media_playlist(directory)
    init = (directory / playlist.map_uri).read_bytes()
    default = mp4.trex_default_duration(init)
    return [(timing.decode_time, timing.duration) for timing in
            (mp4.fragment_timing(mp4.read_fragment_head(directory / s.uri), default) for s in playlist.segments)]


def decoded(directory: Path, kind: str) -> list[tuple[float, int]]:
    """(time, samples or 1) of every decoded frame of a rendition, init and segments laid end to end."""
    playlist = load_media_playlist(directory)
    data = (directory / playlist.map_uri).read_bytes() + b"".join(
        (directory / s.uri).read_bytes() for s in playlist.segments)
    with av.open(io.BytesIO(data), format="mp4") as container:
        stream = container.streams.audio[0] if kind == "audio" else container.streams.video[0]
        return [(float(frame.time), frame.samples if kind == "audio" else 1) for frame in container.decode(stream)]
