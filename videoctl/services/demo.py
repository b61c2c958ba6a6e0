"""`videoctl demo`: the whole pipeline on the embedded default, in one call.

Generate a clip (or take the given file), add it, encode it in a local process
whatever executor is configured, wait, and read the ladder back from the store.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from videoctl.domain.executor import Executor
from videoctl.domain.models import Job, Video, require_success
from videoctl.domain.repositories import JobRepository, VideoRepository
from videoctl.services.playback import LOCAL_SERVE_PORT, Playback, local_serve_url, playback_urls
from videoctl.services.submit import create_job_and_submit, follow_job, plan_submit
from videoctl.services.videos import Rendition, add_video, describe_ladder, output_urls
from videoctl.settings import Settings
from videoctl.storage import ObjectStore

#: How long the demo's playback URLs work: an afternoon of trying them.
DEMO_PLAYBACK_S = 4 * 3600


@dataclass(frozen=True)
class DemoResult:
    video: Video
    job: Job
    #: Where the master playlist can be read (a file path locally).
    master: str
    ladder: list[Rendition]
    #: Where the local job's log is.
    log_dir: Path
    #: Where each output beside the master can be read: "poster", "storyboard", "mp4", "mpd",
    #: and "captions (LANG)" for each caption language.
    outputs: dict[str, str]
    #: Signed URLs of the outputs at this machine's `videoctl serve` (``/t/{token}/…``), as a
    #: viewer's player gets them (`videoctl playback`); they play while `demo --serve` runs.
    playback: Playback


def run_demo(file: Path | None, *, seconds: float, settings: Settings, videos: VideoRepository,
             jobs: JobRepository, store: ObjectStore, executor: Executor,
             note: Callable[[str], None] = lambda _: None,
             on_update: Callable[[Job], None] | None = None, serve_port: int = LOCAL_SERVE_PORT) -> DemoResult:
    """*note* hears what is happening, for a person watching; *on_update* each poll of the job;
    the playback URLs point at `videoctl serve` on *serve_port*."""
    with tempfile.TemporaryDirectory(prefix="videoctl-demo-") as tmp:
        if file is None:
            from videoctl.media.binary import find_ffmpeg
            from videoctl.media.sample import generate_sample_clip

            note(f"generating a {seconds:g} s 720p sample clip with ffmpeg …")
            file = generate_sample_clip(find_ffmpeg(settings.ffmpeg), Path(tmp) / "sample.mp4",
                                        seconds=seconds, width=1280, height=720)
            file.chmod(0o644)  # ours to share: as root, video add takes only files every user may read
        video = add_video(videos, store, videos_root=settings.videos_root, path=file)
    note(f"added video {video.id}; encoding it in a local process …")
    plan = plan_submit(video.id, videos=videos, jobs=jobs, max_attempts=settings.max_attempts)
    job = create_job_and_submit(plan, jobs=jobs, executor=executor)
    job = require_success(follow_job(job.id, jobs=jobs, executor=executor, on_update=on_update))
    video = videos.get(video.id)
    signed = playback_urls(video.id, videos=videos, settings=settings, base_url=local_serve_url(serve_port),
                           expires_s=min(DEMO_PLAYBACK_S, settings.playback_max_expiry_s))
    return DemoResult(video, job, store.url_for(video.hls_path), describe_ladder(store, video),
                      settings.home / "logs", output_urls(store, video), signed)
