"""Where things live in the object store (DESIGN.md section 4). Pure."""

from __future__ import annotations

import re
import unicodedata

from videoctl.domain.captions import check_language
from videoctl.domain.errors import InvalidInput

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def key_problem(key: str) -> str | None:
    """Why videoctl will not read, write or delete *key*, or None if it may.

    A key is relative, not the bucket root, and has no '..' segment (a store,
    a proxy or a local path could resolve it to another video's object), no
    backslash and no NUL. The stores refuse such a key (InvalidInput); a delete
    that lists one under its prefix skips it and reports it.
    """
    if not key or not key.strip("/"):
        return "an object key must not be empty or the bucket root"
    if key.startswith("/"):
        return f"object key {key!r} must not start with '/'"
    if ".." in key.split("/"):
        return f"object key {key!r} must not contain '..'"
    if "\\" in key or "\x00" in key:
        return f"object key {key!r} contains a backslash or NUL"
    return None


def source_name_problem(name: str) -> str | None:
    """Why *name* cannot name a video's source (a file given to `video add`, the NAME of a
    registered key), or None.

    ``.`` and ``..`` name a folder, not a file; a name that ends in a space (or any blank)
    looks like another name in every listing, and most tools drop the blank; a control
    character (a newline, an escape, DEL) hides in a terminal and breaks a log line. Such
    a name is refused rather than silently changed into another one.
    """
    if name in ("", ".", ".."):
        return f"the source name {name!r} names a folder, not a file" if name else "the source name is empty"
    if name != name.rstrip():
        return f"the source name {name!r} ends with a space or another blank"
    control = next((c for c in name if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        return f"the source name {name!r} contains the control character U+{ord(control):04X}"
    return None


def check_source_name(name: str) -> str:
    """*name* if it may name a video's source, else InvalidInput saying why."""
    problem = source_name_problem(name)
    if problem is not None:
        raise InvalidInput(problem, hint="a source is a file's name: not . or .., with no trailing blank "
                                         "and no control character")
    return name


def safe_filename(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).strip("._") or "source"
    return cleaned[:120]


def video_prefix(root: str, video_id: int) -> str:
    return f"{root}/{video_id}/"


def source_prefix(root: str, video_id: int) -> str:
    """Where a video's source lives: the only copy of what was uploaded."""
    return f"{video_prefix(root, video_id)}source/"


def source_key(root: str, video_id: int, filename: str) -> str:
    return f"{source_prefix(root, video_id)}{safe_filename(filename)}"


def captions_prefix(root: str, video_id: int) -> str:
    """Where a video's caption files (sidecars, as WebVTT) live: beside its source, outside
    every attempt prefix, so each encode reads them again and a replaced ladder never takes
    them along. A sibling of ``source/``, so no source file name can clash with it."""
    return f"{video_prefix(root, video_id)}captions/"


def caption_key(root: str, video_id: int, position: int, language: str) -> str:
    """``…/captions/{position}.{language}.vtt``: the position keeps the order they were given
    in (the first is the default), which a listing's alphabetical order would lose."""
    return f"{captions_prefix(root, video_id)}{position}.{language}.vtt"


def caption_of_key(key: str) -> tuple[int, str] | None:
    """(position, language) of a key :func:`caption_key` wrote, else None."""
    position, dot, language = key.rsplit("/", 1)[-1].removesuffix(".vtt").partition(".")
    if not (dot and key.endswith(".vtt") and position.isdigit()):
        return None
    try:
        canonical = check_language(language)
    except InvalidInput:
        return None
    return (int(position), language) if canonical == language else None


def attempt_prefix(root: str, video_id: int, job_id: int, attempt: int) -> str:
    """Each attempt writes under its own prefix, so attempts never overwrite each other."""
    return f"{job_prefixes(root, video_id, job_id)}{attempt}/"


def job_prefixes(root: str, video_id: int, job_id: int) -> str:
    """What every attempt prefix of one job starts with (not a folder: ``…/hls/12-`` holds ``12-1/``, ``12-2/``)."""
    return f"{video_prefix(root, video_id)}hls/{job_id}-"


def master_key(prefix: str) -> str:
    return f"{prefix}master.m3u8"


def prefix_of_master(hls_path: str) -> str:
    """The attempt prefix a READY video's hls_path (its master playlist key) lives in."""
    return hls_path.rsplit("/", 1)[0] + "/"


def job_of_ladder(hls_path: str) -> int | None:
    """The job whose attempt prefix holds this master playlist ("…/hls/{job}-{attempt}/…")."""
    attempt_dir = prefix_of_master(hls_path).rstrip("/").rsplit("/", 1)[-1]
    job, sep, _ = attempt_dir.partition("-")
    return int(job) if sep and job.isdigit() else None


def attempt_of_ladder(hls_path: str) -> tuple[int, int] | None:
    """(job, attempt) whose attempt prefix holds this master playlist ("…/hls/{job}-{attempt}/…")."""
    attempt_dir = prefix_of_master(hls_path).rstrip("/").rsplit("/", 1)[-1]
    job, sep, attempt = attempt_dir.partition("-")
    return (int(job), int(attempt)) if sep and job.isdigit() and attempt.isdigit() else None


def attempt_job_name(video_id: int, job_id: int, attempt: int) -> str:
    """The executor's name for one attempt's container: unique per attempt (so a lost
    submission can be found again by name) and readable in the Batch console."""
    return f"video-{video_id}-job-{job_id}-a{attempt}"


def chunks_job_name(video_id: int, job_id: int, attempt: int) -> str:
    """The executor's name for the array job of a chunked attempt's chunks (#23)."""
    return f"{attempt_job_name(video_id, job_id, attempt)}-chunks"


def chunk_job_name(video_id: int, job_id: int, attempt: int, index: int, tries: int) -> str:
    """The executor's name for one chunk sent alone: unique per try, so a lost submission is
    found again by name, as an attempt's is."""
    return f"{attempt_job_name(video_id, job_id, attempt)}-c{index}-t{tries}"
