"""Direct uploads: what a browser may send, how it is cut into parts, where it lands.

An app asks for an upload (`upload create`), the browser PUTs the file straight to
R2 with presigned URLs, and `upload complete` checks what arrived. The rules here
are S3's own limits, enforced by us because moto (and a mistaken client) is looser
than AWS and R2 are, plus the choices that keep the bucket ours: the key comes
from the video id, never from the client, only a video container type is accepted,
and a multipart upload is joined only from the parts its plan names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from videoctl.domain import keys
from videoctl.domain.errors import InvalidInput
from videoctl.domain.ranges import MAX_ID

MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40

#: Below this a single presigned PUT; from it on, a multipart upload (a browser can
#: resume parts, and no one request carries gigabytes).
SINGLE_PUT_LIMIT = 100 * MiB
#: S3's limits on multipart uploads (R2 keeps them): parts of 5 MiB to 5 GiB but the
#: last, at most 10 000 parts, objects up to 5 TiB.
MIN_PART = 5 * MiB
MAX_PART = 5 * GiB
MAX_PARTS = 10_000
MAX_OBJECT = 5 * TiB
#: Parts start at 16 MiB (what our own uploads use) and grow only when 10 000 would not do.
DEFAULT_PART = 16 * MiB

#: The failure reason of a video whose upload never completed before it expired.
UPLOAD_EXPIRED = "upload_expired"

#: The types an upload may be sent with, each a video container the probe opens (the
#: demuxers of domain/containers.py), and the source file's extension for it. Nothing
#: else: the object is stored with this type and a player or a browser may be handed
#: it, so a type that renders as a page or an image (text/html, image/svg+xml, a
#: made-up video/html…) must never reach the bucket. Audio types are refused too: the
#: pipeline encodes video, and the probe would refuse an audio-only file anyway, after
#: the whole upload and a job (DEAD, invalid_input). (video/avi and
#: video/vnd.dlna.mpeg-tts are what Windows names .avi and .m2ts files.)
CONTENT_TYPES: dict[str, str] = {
    "video/mp4": ".mp4", "video/x-m4v": ".m4v", "video/quicktime": ".mov", "video/x-matroska": ".mkv",
    "video/webm": ".webm", "video/mp2t": ".ts", "video/vnd.dlna.mpeg-tts": ".ts", "video/mpeg": ".mpg",
    "video/x-msvideo": ".avi", "video/avi": ".avi", "video/x-ms-wmv": ".wmv", "video/x-ms-asf": ".asf",
    "video/x-flv": ".flv", "application/mxf": ".mxf", "video/ogg": ".ogv", "video/3gpp": ".3gp",
    "video/3gpp2": ".3g2", "video/dv": ".dv", "video/x-dv": ".dv",
}

#: An entity tag as HTTP writes it (RFC 9110): visible ASCII but '"', quoted or not (S3
#: and R2 send it quoted; a shell drops the quotes). A part's ETag is 32 hex digits on S3.
_ETAG = re.compile(r'"[\x21\x23-\x7e]{1,1024}"|[\x21\x23-\x7e]{1,1024}')


@dataclass(frozen=True)
class Part:
    """One part of a multipart upload, as the bucket holds it (``size``) or as the client
    names it by its PUT's ETag (``size`` None)."""

    number: int
    etag: str
    size: int | None = None


@dataclass(frozen=True)
class PartPlan:
    """How a multipart upload of ``size`` bytes is cut: ``count`` parts of ``part_size``
    (the last one holds the rest)."""

    size: int
    part_size: int
    count: int

    def part_length(self, number: int) -> int:
        """The byte length of part *number* (1-based)."""
        if not 1 <= number <= self.count:
            raise ValueError(f"part {number} is not in 1..{self.count}")
        return self.part_size if number < self.count else self.size - self.part_size * (self.count - 1)


def check_size(size: int | None) -> int | None:
    """A declared upload size: positive and at most what S3 stores in one object."""
    if size is None:
        return None
    if size <= 0:
        raise InvalidInput(f"the upload size must be at least 1 byte, got {size}")
    if size > MAX_OBJECT:
        raise InvalidInput(f"the upload size {size} bytes is over 5 TiB, the largest object R2 and S3 store")
    return size


def uses_multipart(size: int | None) -> bool:
    """A single PUT below 100 MiB (or when the size is not known), else multipart."""
    return size is not None and size >= SINGLE_PUT_LIMIT


def plan_parts(size: int) -> PartPlan:
    """Parts of 16 MiB, or the smallest whole number of MiB that keeps to 10 000 parts."""
    check_size(size)
    part = max(DEFAULT_PART, math.ceil(size / MAX_PARTS / MiB) * MiB)
    part = max(MIN_PART, min(part, MAX_PART))
    count = math.ceil(size / part)
    return PartPlan(size, part, count)


def recorded_plan(size: int, part_size: int | None) -> PartPlan:
    """The plan a multipart upload was created with, from what its row recorded: its part
    size (None for an upload created before that was recorded: cut as :func:`plan_parts` cuts)."""
    if part_size is None:
        return plan_parts(size)
    return PartPlan(size, part_size, math.ceil(size / part_size))


def check_etags(etags: Sequence[str], plan: PartPlan) -> list[Part]:
    """The ETags a client gives to complete a multipart upload: one per planned part, in
    part order, each an ETag. Checked before anything is joined, so a wrong list leaves
    the upload open to be completed right."""
    if len(etags) != plan.count:
        raise InvalidInput(f"the upload has {plan.count} parts, but {len(etags)} ETags were given",
                           hint=f"give the ETag of every part, 1 to {plan.count}, in part order (or none: "
                                "the parts the bucket holds are then joined)")
    for number, etag in enumerate(etags, start=1):
        if not _ETAG.fullmatch(etag):
            raise InvalidInput(f"the ETag given for part {number} is not an ETag: {etag[:80]!r}",
                               hint="give each part's ETag response header as its PUT answered it")
    return [Part(number, etag) for number, etag in enumerate(etags, start=1)]


def parts_to_join(plan: PartPlan, held: Sequence[Part], given: Sequence[Part] | None = None) -> list[Part]:
    """The parts to join: exactly the plan's, 1 to N, each as long as planned and, when the
    client named them (*given*, from :func:`check_etags`), each the one its PUT answered.

    S3 joins whatever list it is given, a subset too, into an object the size check then
    refuses, and the upload is gone: so every difference is refused here, before the join,
    while the part URLs still work.
    """
    by_number = {part.number: part for part in held}
    extra = sorted(n for n in by_number if not 1 <= n <= plan.count)
    if extra:
        raise InvalidInput(f"the bucket holds part {extra[0]}, which is not in the upload's plan of "
                           f"{plan.count} parts", hint="start again with `videoctl upload create`")
    missing = [n for n in range(1, plan.count + 1) if n not in by_number]
    if missing:
        named = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
        raise InvalidInput(f"{len(missing)} of the upload's {plan.count} parts have not arrived: part {named}",
                           hint="PUT each missing part to its URL, then complete the upload again")
    for number in range(1, plan.count + 1):
        size = by_number[number].size
        if size is not None and size != plan.part_length(number):
            raise InvalidInput(f"part {number} holds {size} bytes, but the upload's plan says "
                               f"{plan.part_length(number)}",
                               hint=f"PUT part {number} again with exactly its bytes of the file, then complete "
                                    "the upload again")
    for part in given or ():
        if _unquoted(part.etag) != _unquoted(by_number[part.number].etag):
            raise InvalidInput(f"the ETag given for part {part.number} ({part.etag[:80]}) is not that of the part "
                               f"the bucket holds ({by_number[part.number].etag})",
                               hint="give each part's ETag as its PUT answered it, in part order")
    return [Part(number, by_number[number].etag) for number in range(1, plan.count + 1)]


def _unquoted(etag: str) -> str:
    return etag[1:-1] if len(etag) >= 2 and etag[0] == etag[-1] == '"' else etag


def check_content_type(content_type: str) -> str:
    """The type the upload must be sent with: one of :data:`CONTENT_TYPES`, lower case."""
    value = content_type.strip().lower()
    if value in CONTENT_TYPES:
        return value
    why = ("an audio type: only video is encoded (an audio-only file has no picture to make a ladder of)"
           if value.startswith("audio/") else "not a video container type")
    raise InvalidInput(f"the content type {content_type!r} is {why}",
                       hint=f"send the file's type (a browser's File.type), one of {', '.join(CONTENT_TYPES)}")


def upload_key(videos_root: str, video_id: int, content_type: str) -> str:
    """Where an upload lands: chosen from the video id and its type, never named by the client."""
    return keys.source_key(videos_root, video_id, "upload" + CONTENT_TYPES.get(content_type, ""))


def registered_video_id(key: str, videos_root: str) -> int:
    """The video id a key already in the bucket belongs to: ``{root}/{id}/source/{name}``.

    Only that layout is accepted: the video's prefix ``{root}/{id}/`` is what its
    deletion, reconcile and the delete-r2 checks act on, so a source anywhere else
    would be orphaned, or owned by another video.
    """
    layout = f"{videos_root}/{{id}}/source/NAME"
    problem = keys.key_problem(key)
    if problem is not None:
        raise InvalidInput(problem)
    root = videos_root.rstrip("/") + "/"
    if not key.startswith(root):
        raise InvalidInput(f"{key!r} is outside the videos root {videos_root!r}", hint=f"register keys like {layout}")
    parts = key[len(root):].split("/")
    digits = parts[0]
    if (len(parts) != 3 or parts[1] != "source" or not parts[2] or not digits.isascii()
            or not digits.isdigit() or digits.startswith("0")):
        raise InvalidInput(f"{key!r} is not a source key of the form {layout}",
                           hint="the id in the key becomes the video's id, so its prefix is its own")
    # Its length first: Python will not even read a number of more than 4300 digits.
    if len(digits) > len(str(MAX_ID)) or int(digits) > MAX_ID:
        raise InvalidInput(f"{key!r} names a video id above {MAX_ID} (2⁶³−1), the largest there is",
                           hint=f"register keys like {layout} with a smaller id")
    keys.check_source_name(parts[2])
    return int(digits)
