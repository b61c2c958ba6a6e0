"""What each page shows, read through one borrowed :class:`~videoctl.api.Client`.

Every handler takes the Client and the request and returns a response; it raises the
domain's errors (NotFound for an unknown id…) and app.py turns them into error pages.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from videoctl.api import Client
from videoctl.domain import keys
from videoctl.domain.errors import NotFound, StorageError, VideoctlError
from videoctl.domain.models import Video
from videoctl.domain.outputs import SUBTITLES
from videoctl.domain.states import JobState, VideoStatus
from videoctl.web.ladders import LadderCache
from videoctl.web.media import TEXT_SUFFIXES, Unsatisfiable, content_type, parse_range, relative_media_path

log = logging.getLogger(__name__)

#: How long a presigned R2 URL handed to a browser stays good: long enough to fetch one
#: segment or image (each request gets a fresh one), short enough to be worthless when shared.
PRESIGN_S = 300
#: A playlist or WebVTT file relayed from R2 is read whole; nothing videoctl writes comes near.
MAX_RELAYED_BYTES = 16 << 20
_CHUNK = 256 << 10
#: The job states counted on the jobs page, in the order of a job's life.
STATE_ORDER = [s.value for s in (JobState.QUEUED, JobState.SUBMITTED, JobState.RUNNING, JobState.RETRY_WAIT,
                                 JobState.FAILED, JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED)]


class BadRequest(VideoctlError):
    """A query parameter this page does not understand (400)."""

    code = "usage_error"


def media_url(video: Video, key: str | None) -> str | None:
    """The page's URL of one of *video*'s outputs (a key below its master's folder)."""
    if key is None or not video.hls_path:
        return None
    prefix = keys.prefix_of_master(video.hls_path)
    return f"/videos/{video.id}/media/{key.removeprefix(prefix)}" if key.startswith(prefix) else None


class Pages:
    def __init__(self, render: Any) -> None:
        self.render = render
        self.ladders = LadderCache()

    # ------------------------------------------------------------ videos

    def videos(self, client: Client, request: Request) -> Response:
        chosen = request.query_params.get("status") or None
        if chosen is not None and chosen not in VideoStatus.__members__:
            raise BadRequest(f"unknown status {chosen!r}: one of {', '.join(VideoStatus)}")
        videos = client.list_videos(status=VideoStatus(chosen) if chosen else None, limit=200)
        cards = [{"video": v, "poster": media_url(v, v.poster_small_path or v.poster_path),
                  "rungs": self.ladders.rungs(client, v)} for v in videos]
        return self.render("videos.html", nav="videos", cards=cards, chosen=chosen,
                           statuses=[s.value for s in VideoStatus])

    def video(self, client: Client, request: Request) -> Response:
        video_id = request.path_params["video_id"]
        detail = client.video_detail(video_id, jobs=50)
        ladder: list[Any] = []
        ladder_problem = None
        if detail.hls_path:
            try:
                ladder = client.describe_ladder(detail)
            except VideoctlError as exc:  # the page still shows the video and its jobs
                ladder_problem = f"{exc.code}: {exc.message}"
                log.warning("video %s: its ladder could not be read: %s", video_id, ladder_problem)
        prefix = keys.prefix_of_master(detail.hls_path) if detail.hls_path else ""
        captions = [{"language": language,
                     "url": media_url(detail, f"{prefix}{SUBTITLES}{language}.vtt")}
                    for language in detail.caption_languages]
        outputs = [(name, media_url(detail, key)) for name, key in (
            ("HLS master playlist", detail.hls_path), ("DASH manifest", detail.mpd_path),
            ("poster", detail.poster_path), ("storyboard", detail.storyboard_path))
            if key]
        return self.render(
            # The jobs as `jobs list` shows them: with the cost of their attempts.
            "video.html", nav="videos", video=detail, jobs=client.list_jobs(video_id=video_id, limit=50),
            ladder=ladder,
            ladder_problem=ladder_problem, captions=captions, outputs=outputs,
            master=media_url(detail, detail.hls_path), poster=media_url(detail, detail.poster_path),
            storyboard=media_url(detail, detail.storyboard_path),
            download=media_url(detail, detail.download_path))

    # ------------------------------------------------------------ jobs

    def jobs(self, client: Client, request: Request) -> Response:
        return self.render("jobs.html", nav="jobs", **self._jobs(client))

    def jobs_live(self, client: Client, request: Request) -> Response:
        """The live part of the jobs page alone, for its script to swap in (no reload)."""
        response = self.render("_jobs_live.html", **self._jobs(client))
        response.headers["Cache-Control"] = "no-store"
        return response

    def _jobs(self, client: Client) -> dict[str, Any]:
        live = client.live_jobs(limit=100)
        stats = client.stats(hours=24)
        counts = [(state, stats["by_state"].get(state, 0)) for state in STATE_ORDER]
        return {"live": live, "counts": counts, "failures": stats["failure_reasons"],
                "hours": stats["hours"], "now": datetime.now(UTC)}

    # ------------------------------------------------------------ media

    def media(self, client: Client, request: Request) -> Response:
        """One output of a video's current ladder: streamed with ranges from a local store; from
        R2, a redirect to a presigned URL (playlists and WebVTT relayed, see TEXT_SUFFIXES)."""
        video_id = request.path_params["video_id"]
        relative = relative_media_path(request.path_params["path"])
        if relative is None:
            raise NotFound(f"no such media for video {video_id}")
        video = client.get_video(video_id)
        if not video.hls_path:
            raise NotFound(f"video {video_id} has no ladder to serve ({video.status})")
        key = keys.prefix_of_master(video.hls_path) + relative
        suffix = PurePosixPath(relative).suffix.lower()
        download = f"video-{video.id}{suffix}" if "download" in request.query_params else None
        presigned = client.presigned_url(key, expires_s=PRESIGN_S, download_name=download)
        if presigned is not None and suffix not in TEXT_SUFFIXES:
            return RedirectResponse(presigned, status_code=307, headers={"Cache-Control": "no-store"})
        body = client.open_object(key)
        if presigned is not None:
            return _relayed(body, relative)
        return _file(body, request, relative, download)


def _relayed(body: BinaryIO, name: str) -> Response:
    try:
        data = body.read(MAX_RELAYED_BYTES + 1)
    finally:
        body.close()
    if len(data) > MAX_RELAYED_BYTES:
        raise NotFound(f"{name} is larger than a playlist or caption file can be")
    return Response(data, media_type=content_type(name), headers={"Cache-Control": "private, no-cache"})


def _file(body: BinaryIO, request: Request, name: str, download: str | None) -> Response:
    """A local file, whole or one byte range, with an ETag so that a revisit costs a 304; a file
    with more than one hard link is refused (404, logged)."""
    try:
        found = os.fstat(body.fileno())
        if found.st_nlink > 1:
            # videoctl writes every output as a file of its own; a second name for it means
            # someone linked a file from elsewhere (a source, a secret) into the ladder. The
            # store refuses symbolic links; a hard link it cannot tell from the file, so here.
            raise StorageError(f"{name} has {found.st_nlink} hard links; a file linked into a ladder is never served",
                               hint="videoctl never writes links: find out who planted it, then remove it")
        etag = f'"{found.st_mtime_ns:x}-{found.st_size:x}"'
        headers = {"Accept-Ranges": "bytes", "ETag": etag, "Cache-Control": "private, no-cache",
                   "Content-Type": content_type(name)}
        if download:
            headers["Content-Disposition"] = f'attachment; filename="{download}"'
        if request.headers.get("if-none-match") == etag:
            body.close()
            return Response(status_code=304, headers=headers)
        try:
            wanted = parse_range(request.headers.get("range"), found.st_size)
        except Unsatisfiable:
            body.close()
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{found.st_size}"})
        start, length, status = 0, found.st_size, 200
        if wanted is not None:
            start, length, status = wanted.start, wanted.length, 206
            headers["Content-Range"] = wanted.content_range
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            body.close()
            return Response(status_code=status, headers=headers)
        body.seek(start)
    except BaseException:
        body.close()
        raise
    return _FileStream(body, length, status_code=status, headers=headers)


class _FileStream(StreamingResponse):
    """A file's bytes, the file closed however the response ends: a browser that goes away
    mid-download (a player seeking, a closed tab) cancels the response between two chunks,
    where a generator's own ``finally`` would wait for the garbage collector."""

    def __init__(self, body: BinaryIO, length: int, **options: Any) -> None:
        self._body = body
        super().__init__(_chunks(body, length), **options)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._body.close()


def _chunks(body: BinaryIO, length: int) -> Iterator[bytes]:
    """*length* bytes from where *body* stands, then it is closed (also when the browser goes away)."""
    try:
        while length > 0:
            chunk = body.read(min(_CHUNK, length))
            if not chunk:  # shorter than its size said: the file was truncated while being read
                raise OSError("the file ended early")
            length -= len(chunk)
            yield chunk
    finally:
        body.close()
