"""What each page shows, read through one borrowed :class:`~videoctl.api.Client`.

Every handler takes the Client and the request and returns a response; it raises the
domain's errors (NotFound for an unknown id…) and app.py turns them into error pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from videoctl.api import Client
from videoctl.domain import keys
from videoctl.domain.errors import NotFound, VideoctlError
from videoctl.domain.models import Video
from videoctl.domain.outputs import SUBTITLES
from videoctl.domain.playback import playback_url
from videoctl.domain.states import JobState, VideoStatus
from videoctl.web.files import store_object
from videoctl.web.ladders import LadderCache
from videoctl.web.media import relative_media_path

log = logging.getLogger(__name__)

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
    def __init__(self, render: Any, player_token: Callable[[str], str | None] = lambda _: None) -> None:
        self.render = render
        self.ladders = LadderCache()
        #: A playback token for a ladder's prefix (None if it cannot be signed): the player on the
        #: video page plays through ``/t/{token}/…``, as a viewer's player does (web/playback.py).
        self.player_token = player_token

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
        token = self.player_token(prefix) if prefix else None

        def played(key: str | None) -> str | None:  # what the player fetches, and the links below
            if token is not None and key is not None and key.startswith(prefix):
                return playback_url("", token, key)
            return media_url(detail, key)

        return self.render(
            # The jobs as `jobs list` shows them: with the cost of their attempts.
            "video.html", nav="videos", video=detail, jobs=client.list_jobs(video_id=video_id, limit=50),
            ladder=ladder,
            ladder_problem=ladder_problem, captions=captions, outputs=outputs,
            master=played(detail.hls_path), poster=media_url(detail, detail.poster_path),
            storyboard=played(detail.storyboard_path),
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
        return store_object(client, key, request, cache_control="private, no-cache", download=download)
