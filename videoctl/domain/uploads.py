"""Direct uploads: what a browser may send, how it is cut into parts, where it lands.

An app asks for an upload (`upload create`), the browser PUTs the file straight to
R2 with presigned URLs, and `upload complete` checks what arrived. The rules here
are S3's own limits, enforced by us because moto (and a mistaken client) is looser
than AWS and R2 are, plus the choices that keep the bucket ours: the key comes
from the video id, never from the client, and only video or audio is accepted.
"""

from __future__ import annotations

import math
import re
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

#: A media type such as video/mp4 or audio/x-wav, nothing after it (no parameters).
_MEDIA_TYPE = re.compile(r"(video|audio)/[a-z0-9][a-z0-9.+-]{0,99}")

#: The source file's extension for the common types; ffmpeg probes content, not names,
#: so an unknown type simply gets none.
_EXTENSIONS = {
    "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm", "video/x-matroska": ".mkv",
    "video/x-msvideo": ".avi", "video/mpeg": ".mpg", "video/mp2t": ".ts", "video/3gpp": ".3gp",
    "video/x-flv": ".flv", "video/ogg": ".ogv", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
    "audio/aac": ".aac", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/ogg": ".ogg",
    "audio/flac": ".flac", "audio/webm": ".weba",
}


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


def check_content_type(content_type: str) -> str:
    """The type the upload must be sent with: a video or audio media type, lower case."""
    value = content_type.strip().lower()
    if not _MEDIA_TYPE.fullmatch(value):
        raise InvalidInput(f"the content type must be a video or audio type such as video/mp4, got {content_type!r}",
                           hint="the browser sends the file's type (File.type); pass it with --content-type")
    return value


def upload_key(videos_root: str, video_id: int, content_type: str) -> str:
    """Where an upload lands: chosen from the video id and its type, never named by the client."""
    return keys.source_key(videos_root, video_id, "upload" + _EXTENSIONS.get(content_type, ""))


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
