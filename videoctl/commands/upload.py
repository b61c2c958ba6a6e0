"""`videoctl upload …`: direct uploads from a browser or an app, straight to R2."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from videoctl.commands import _render as out
from videoctl.commands._client import client
from videoctl.commands._render import JsonOption
from videoctl.commands.video import next_step
from videoctl.domain.errors import UsageError

if TYPE_CHECKING:
    from videoctl.api import Upload, Uploaded

app = typer.Typer(help="Direct uploads: the client sends the file straight to the bucket.", no_args_is_help=True)

#: The largest object S3 and R2 store (5 TiB).
_MAX_SIZE = 5 << 40


@app.command("create")
@out.document("videoctl.services.uploads:Upload")
def create(
    title: Annotated[str | None, typer.Option(help="Title; defaults to 'upload ID'.")] = None,
    size: Annotated[int | None, typer.Option(
        min=1, max=_MAX_SIZE, metavar="BYTES",
        help="The file's size: from 100 MiB on the upload is multipart, and the size is checked on completion.")]
    = None,
    content_type: Annotated[str, typer.Option(
        "--content-type", help="The file's type, a video container type (video/mp4, video/quicktime, "
                               "video/x-matroska, video/webm, video/mp2t, application/mxf…); the PUT must send it.")]
    = "video/mp4",
    json_: JsonOption = False,
) -> None:
    """Create a PENDING video and the presigned URL(s) its file is sent to.

    Below 100 MiB (or without --size): one PUT URL. From 100 MiB: a multipart upload, one
    PUT URL per part; keep each part's ETag response header for `upload complete`. Audio
    and any type but a video container's are refused. Without
    R2 (local storage): a path to write the file to. The URLs expire after
    VIDEOCTL_UPLOAD_URL_EXPIRY_SECONDS (1 h); an upload not completed within
    VIDEOCTL_UPLOAD_EXPIRY_HOURS (24 h) is given up by scan-stuck.

    Example: videoctl upload create --title "Lecture 1" --size 734003200 --content-type video/mp4 --json
    """
    upload: Upload = client().create_upload(title=title, size=size, content_type=content_type)

    def render() -> None:
        video = upload.video
        out.stdout.print(f"video [bold]{video.id}[/] ({out.safe(video.title)}) is PENDING; its file goes to "
                         f"{out.safe(upload.key)}")
        if upload.method == "put":
            out.stdout.print(f"PUT the file, with header Content-Type: {out.safe(upload.content_type)}, to:")
            out.stdout.print(out.safe(upload.url), soft_wrap=True)
        elif upload.method == "multipart":
            out.stdout.print(f"PUT {len(upload.parts)} parts of {upload.part_size} bytes (the last one the rest), "
                             "each to its URL, and keep each response's ETag (`--json` lists the URLs):")
            for part in upload.parts[:3]:
                out.stdout.print(f"  part {part.number} ({part.size} bytes): {out.safe(part.url)}", soft_wrap=True)
            if len(upload.parts) > 3:
                out.stdout.print(f"  … {len(upload.parts) - 3} more")
        else:
            out.stdout.print(f"write the file to: {out.safe(upload.path)}", soft_wrap=True)
        if upload.urls_expire_at:
            out.stdout.print(f"the URLs expire at {upload.urls_expire_at.isoformat(timespec='seconds')}")
        out.stdout.print(f"then: [bold]{out.safe(upload.complete)}[/]")
        if upload.method == "multipart":
            out.stdout.print(f"  (the {len(upload.parts)} ETags in part order, comma-separated; or no --parts: "
                             "the parts the bucket holds are joined, if they are the ones planned)")

    out.success(upload, render, json_flag=json_)


@app.command("complete")
@out.document("videoctl.services.uploads:Uploaded")
def complete(
    video_id: Annotated[int, typer.Argument(min=1, max=out.MAX_ID, help="The PENDING video of the upload.")],
    parts: Annotated[list[str] | None, typer.Option(
        "--parts", metavar="ETAG",
        help="Multipart: every part's ETag, in part order (separate with commas, or repeat --parts); without "
             "it, the parts the bucket holds are joined. Either way the parts must be the upload's plan: each "
             "part 1 to N there, of its planned size.")] = None,
    json_: JsonOption = False,
) -> None:
    """Check the uploaded object (there, not empty, the size declared) and make the video UPLOADED.

    A multipart upload is joined first, only once its parts are the plan's (a wrong list
    is refused and the upload stays open). The object's ETag is recorded: what run-job
    encodes is this object, and a file sent to the URL afterwards fails the job
    (source_changed). With VIDEOCTL_AUTO_SUBMIT=1 the video is then submitted. Running it
    again after it succeeded changes nothing.

    Example: videoctl upload complete 42 --parts '"a54357aff0632cce46d942af68356b38"' --parts '"0c78aef83f66abc1fa1e8477f296d394"'
    """
    etags = _etags(parts) if parts else None
    videoctl = client()
    done: Uploaded = videoctl.mark_uploaded(video_id, etags=etags)

    def render() -> None:
        video = done.video
        if done.already_completed:
            out.stdout.print(f"video [bold]{video.id}[/] was uploaded already ({video.status}): nothing to do")
            return
        out.stdout.print(f"video [bold]{video.id}[/] ({out.safe(video.title)}) is UPLOADED: {video.size_bytes} bytes")
        out.stdout.print(next_step(videoctl, video))

    out.success(done, render, json_flag=json_)


def _etags(values: list[str]) -> list[str]:
    """``--parts a --parts b,c`` → ``[a, b, c]``; ETags keep their quotes, as S3 sends them."""
    etags = [etag.strip() for value in values for etag in value.split(",")]
    if any(not etag for etag in etags):
        raise UsageError("--parts has an empty ETag")
    return etags
