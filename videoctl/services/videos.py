"""Adding and reading videos."""

from __future__ import annotations

import tempfile
from contextlib import suppress
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypedDict

from videoctl.db.repositories import JobRepository, VideoRepository
from videoctl.domain import keys
from videoctl.domain.errors import VideoctlError
from videoctl.domain.models import Job, Video
from videoctl.domain.text import check_title, title_from_filename
from videoctl.storage import ObjectStore
from videoctl.storage.source import open_source


def add_video(videos: VideoRepository, store: ObjectStore, *, videos_root: str, path: Path,
              title: str | None = None) -> Video:
    """Store the file under the video's source prefix and create the video UPLOADED.

    The file must be a regular file of the user's (videoctl.storage.source says
    exactly what that means); what is copied is the descriptor that was checked.
    Insert and upload share one transaction: if the upload fails (a full disk,
    say) or the process dies, the row is never committed, so no video points at
    a source that is not there; an upload the commit did not follow is removed.
    """
    title = check_title(title) if title is not None else title_from_filename(path.stem)
    with open_source(path) as source:
        stored = None
        try:
            with videos.transaction():
                video_id = videos.next_id()
                key = keys.source_key(videos_root, video_id, path.name)
                video = videos.add(video_id, title=title, source_key=key, size_bytes=source.size)
                store.upload_fileobj(source.file, key)
                stored = key
        except BaseException:
            if stored is not None:
                with suppress(VideoctlError):
                    store.delete_keys([stored])
            raise
    return video


@dataclass(frozen=True)
class VideoDetail(Video):
    """A video with its newest jobs (what `video show` prints)."""

    jobs: list[Job]


def video_detail(video_id: int, *, videos: VideoRepository, jobs: JobRepository, limit: int = 20) -> VideoDetail:
    video = videos.get(video_id)
    own = {f.name: getattr(video, f.name) for f in fields(Video)}
    return VideoDetail(**own, jobs=jobs.list(video_id=video_id, limit=limit))


class Rendition(TypedDict):
    """One variant of a master playlist, as `demo` shows it."""

    name: str
    resolution: str
    bandwidth: str
    codecs: str
    frame_rate: str
    uri: str


def describe_ladder(store: ObjectStore, video: Video) -> list[Rendition]:
    """The renditions a READY video's master playlist offers, read back from the store."""
    from videoctl.media.m3u8 import parse_master_playlist

    if not video.hls_path:
        return []
    with tempfile.TemporaryDirectory(prefix="videoctl-master-") as tmp:
        local = Path(tmp) / "master.m3u8"
        store.download_file(video.hls_path, local)
        master = parse_master_playlist(local.read_text(encoding="utf-8"))
    return [
        {"name": v.uri.split("/")[0], "resolution": v.attributes.get("RESOLUTION", ""),
         "bandwidth": v.attributes.get("BANDWIDTH", ""), "codecs": v.attributes.get("CODECS", ""),
         "frame_rate": v.attributes.get("FRAME-RATE", ""), "uri": v.uri}
        for v in master.variants
    ]
