"""`videoctl quality VIDEO_ID`: score each rung of the live ladder against the source (VMAF, PSNR-Y)."""

from __future__ import annotations

from typing import Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.domain.errors import UsageError
from videoctl.domain.quality import DEFAULT_SAMPLES, MAX_SAMPLES, RungQuality


@out.document(list[RungQuality])
def quality(
    video_id: Annotated[int, typer.Argument(min=1, max=out.MAX_ID, help="Video id (READY).")],
    sample: Annotated[int | None, typer.Option(
        "--sample", min=1, max=MAX_SAMPLES, metavar="N",
        help=f"Score N segments spread over the video [default: {DEFAULT_SAMPLES}].")] = None,
    full: Annotated[bool, typer.Option("--full", help="Score every frame instead (as long as a decode of "
                                                      "the whole source and ladder).")] = False,
    json_: JsonOption = False,
) -> None:
    """Measure each rung of the video's live ladder against its source: mean and 5th-percentile VMAF
    (libvmaf, model vmaf_v0.6.1, each rung scaled to the source's display size) and mean PSNR-Y.

    The results replace the ladder's earlier ones; `video show` and the video's web page show
    them, `stats` follows the top rung's score. run-job measures every new ladder the same way
    (VIDEOCTL_MEASURE_QUALITY, default sample).

    Example: videoctl quality 7
    Example: videoctl quality 7 --full --json
    """
    if full and sample is not None:
        raise UsageError("give --sample N or --full, not both")
    how = "every frame" if full else f"{sample or DEFAULT_SAMPLES} segments spread over the video"
    out.info(f"scoring each rung of video {video_id}'s live ladder against its source ({how}) …")
    rungs = client().quality(video_id, sample=sample or DEFAULT_SAMPLES, full=full)
    out.success(rungs, lambda: out.quality_table(rungs), json_flag=json_)
