"""Adding and reading videos."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypedDict

from videoctl.db.repositories import JobRepository, VideoRepository
from videoctl.domain import keys
from videoctl.domain.models import Job, Video
from videoctl.domain.outputs import SUBTITLES
from videoctl.domain.text import check_title, title_from_filename
from videoctl.media.probe import source_size
from videoctl.services.captions import read_sidecars, store_sidecars
from videoctl.storage import ObjectStore


def add_video(videos: VideoRepository, store: ObjectStore, *, videos_root: str, path: Path,
              title: str | None = None, captions: Mapping[str, Path] | None = None) -> Video:
    """Store the file under the video's source prefix and create the video UPLOADED.

    Insert and upload share one transaction: if the upload fails (or the
    process dies) the row is never committed, so no video points at a
    source that is not there. Caption files (language → SRT or WebVTT file)
    are all checked first and stored as WebVTT in the same transaction.
    """
    title = check_title(title) if title is not None else title_from_filename(path.stem)
    size = source_size(path)
    sidecars = read_sidecars(captions or {})
    with videos.transaction():
        video_id = videos.next_id()
        key = keys.source_key(videos_root, video_id, path.name)
        video = videos.add(video_id, title=title, source_key=key, size_bytes=size)
        store.upload_file(path, key)
        store_sidecars(store, videos_root, video_id, sidecars)
    return video


@dataclass(frozen=True)
class VideoDetail(Video):
    """A video with its newest jobs (what `video show` prints)."""

    jobs: list[Job] = field(default_factory=list)


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


def output_urls(store: ObjectStore, video: Video) -> dict[str, str]:
    """Where each of a READY video's outputs beside its master can be read, by a short name."""
    found = {"poster": video.poster_path, "poster 320 px": video.poster_small_path,
             "storyboard": video.storyboard_path, "mp4": video.download_path, "mpd": video.mpd_path}
    urls = {name: store.url_for(key) for name, key in found.items() if key}
    if video.hls_path:
        prefix = keys.prefix_of_master(video.hls_path)
        for language in video.caption_languages:
            urls[f"captions ({language})"] = store.url_for(f"{prefix}{SUBTITLES}{language}.m3u8")
    return urls
