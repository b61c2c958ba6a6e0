"""`videoctl playback ID`: signed URLs a viewer's player can fetch a READY video's ladder with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.selection import parse_duration

if TYPE_CHECKING:
    from videoctl.api import Playback


@out.document("videoctl.api:Playback")
def playback(
    video_id: Annotated[int, typer.Argument(min=1, max=out.MAX_ID, help="A READY video.")],
    expires: Annotated[str, typer.Option(
        "--expires", metavar="DURATION",
        help="How long the URLs work (90s, 15m, 4h, 1d), at most VIDEOCTL_PLAYBACK_MAX_EXPIRY_SECONDS; give a "
             "lecture its duration and some slack.")] = "4h",
    viewer: Annotated[str | None, typer.Option(
        "--viewer", metavar="ID", help="Who the URLs are for (the app's user id): carried in the token, to trace "
                                       "a leaked link.")] = None,
    json_: JsonOption = False,
) -> None:
    """Print the signed URLs of a READY video's master playlist, MPD, posters, storyboard, captions and MP4.

    One token in the path opens this video's ladder and nothing else, until it expires; the
    URLs point at VIDEOCTL_PLAYBACK_BASE_URL, the edge Worker that checks it (worker/edge/).
    Your app does the same per student with `Client.playback` (docs/api.md).

    Example: videoctl playback 42 --expires 4h --viewer user-1234 --json
    """
    signed: Playback = client().playback(video_id, expires_s=parse_duration(expires), viewer=viewer)

    def render() -> None:
        rows = [("master (HLS)", signed.master), ("MPD (DASH)", signed.mpd), ("poster", signed.poster),
                ("poster 320 px", signed.poster_small), ("storyboard", signed.storyboard),
                ("MP4", signed.download)]
        rows += [(f"captions {c.language} (HLS)", c.hls) for c in signed.captions]
        rows += [(f"captions {c.language} (WebVTT)", c.vtt) for c in signed.captions]
        out.table(None, ("output", "URL"), [(name, url) for name, url in rows if url])
        who = f" for viewer {out.safe(signed.viewer)}" if signed.viewer else ""
        out.stdout.print(f"video [bold]{signed.video_id}[/]: these URLs work until "
                         f"{signed.expires_at.astimezone().isoformat(timespec='seconds')}{who} "
                         f"(key {out.safe(signed.key_id)}); each opens {out.safe(signed.prefix)} only",
                         highlight=False)

    out.success(signed, render, json_flag=json_)
