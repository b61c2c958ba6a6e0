"""Reconcile's rules: where a key belongs, who owns a folder, what a playlist names. Pure.

The store is compared with the database folder by folder. Every key under the videos
root falls in one *group*, the folder right below the root (``videos/12/``), and inside
a video's group in one *unit*: the folder that is created, owned and deleted as a whole.

- ``videos/{id}/hls/{job}-{attempt}/``: one attempt's outputs (DESIGN.md section 4);
- ``videos/{id}/source/``: the upload;
- ``videos/{id}/{other}/``: anything else in a folder, a unit of its own;
- a key in no such folder (``videos/12/x.txt``, ``videos/readme``) is a *loose* object:
  reported, never deleted, since delete-r2 deletes prefixes only.

A group that is not a video's own folder (``videos/tmp/``, ``videos/012/``) or whose
video has no row is one unit.
"""

from __future__ import annotations

import heapq
import posixpath
import re
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any, NamedTuple

from videoctl.domain import keys
from videoctl.domain.errors import Drift
from videoctl.domain.prefixes import owner_video_id
from videoctl.domain.states import ACTIVE_JOB_STATES

#: Orphans younger than this are left alone: an upload may still be filling them.
DEFAULT_GRACE_S = 86_400.0

#: The largest id a video can have (bigint): 19 decimal digits.
_MAX_ID = 2**63 - 1

_ATTEMPT_NAME = re.compile(r"^video-([1-9][0-9]*)-job-([1-9][0-9]*)-a([1-9][0-9]*)(-chunks|-c(0|[1-9][0-9]*)-t([1-9][0-9]*))?$")
_ATTEMPT_FOLDER = re.compile(r"^([1-9][0-9]*)-([1-9][0-9]*)$")


class Outcome(StrEnum):
    """What became of one finding."""

    REPORTED = "reported"  # drift, left as it is (no --fix)
    FIXED = "fixed"
    FAILED = "failed"  # --fix tried and could not; the error says why
    IN_HAND = "in_hand"  # already being repaired: a re-encode is active, a delete request pending
    GRACE = "grace"  # an orphan younger than --older-than: maybe an upload in progress
    MANUAL = "manual"  # a loose object: delete-r2 deletes prefixes, so a person must

    @property
    def remains(self) -> bool:
        """Drift still there after this run."""
        return self in (Outcome.REPORTED, Outcome.FAILED, Outcome.MANUAL)


class VideoRow(NamedTuple):
    """What reconcile reads of a video: its keys, and the active job that may own a folder."""

    id: int
    status: str
    hls_path: str | None
    source_key: str
    #: The video's active job (non-terminal), if it has one, and its current attempt.
    job_id: int | None
    job_attempt: int | None
    job_reencode: bool | None


class JobAttempt(NamedTuple):
    """A job's state and current attempt: whose container a name in the executor's queue is."""

    id: int
    video_id: int
    state: str
    attempt: int


def in_key_order(fetch: Callable[[int, int, int], list[VideoRow]], page: int = 1000) -> Iterator[VideoRow]:
    """Every video in the byte order of its folder ``{root}/{id}/``: the order a store lists keys in.

    *fetch(after_id, last_id, limit)* returns the videos with ``after_id < id <= last_id``
    in id order. Among ids of one length, byte order is numeric order, so each length is
    one keyset-paginated range scan of the primary key; the 19 lengths are merged here
    (``1/`` < ``10/`` < ``100/`` < ``2/``). Memory: one page per length.
    """

    def of_length(digits: int) -> Iterator[VideoRow]:
        after, last = 10 ** (digits - 1) - 1, min(10**digits - 1, _MAX_ID)
        while True:
            rows = fetch(after, last, page)
            yield from rows
            if len(rows) < page:
                return
            after = rows[-1].id

    return heapq.merge(*(of_length(d) for d in range(1, len(str(_MAX_ID)) + 1)), key=lambda row: f"{row.id}/")


def group_of(key: str, root: str) -> str | None:
    """The folder right below *root* that holds *key* (``videos/12/``); None for a key directly in it."""
    head, slash, _ = key[len(root):].partition("/")
    return f"{root}{head}/" if slash else None


def video_of_group(group: str, root: str) -> int | None:
    """The video whose own folder *group* is, if it is spelled as videoctl writes one."""
    return owner_video_id(group, root.rstrip("/"))


def unit_of(key: str, group: str) -> str | None:
    """The unit of a key in a video's folder *group*; None for a loose object."""
    parts = key[len(group):].split("/")
    if parts[0] == "hls":
        return f"{group}hls/{parts[1]}/" if len(parts) >= 3 else None
    return f"{group}{parts[0]}/" if len(parts) >= 2 else None


def owner_of(unit: str, row: VideoRow, group: str) -> str | None:
    """Why *unit* of the video *row* is in use, or None if nothing owns it.

    Its ladder (whatever the video's status: a live ladder is never touched), its source,
    and every attempt folder of its active job: run-job adopts the complete upload of an
    earlier attempt (README, run-job step 4), so not only the current one is spoken for.
    """
    if row.hls_path and keys.prefix_of_master(row.hls_path) == unit:
        return "the video's ladder"
    if unit == f"{group}source/" and row.source_key.startswith(unit):
        return "the video's source"
    attempt = _ATTEMPT_FOLDER.match(unit[len(group) + len("hls/"):-1]) if unit.startswith(f"{group}hls/") else None
    if attempt and row.job_id is not None and int(attempt[1]) == row.job_id \
            and int(attempt[2]) <= (row.job_attempt or 0):
        return f"an attempt of active job {row.job_id}"
    return None


def covering_prefixes(prefix: str) -> list[str]:
    """Every folder prefix that contains *prefix*, itself included (``a/``, ``a/b/``, ``a/b/c/``)."""
    parts = prefix.rstrip("/").split("/")
    return ["/".join(parts[:n]) + "/" for n in range(1, len(parts) + 1)]


def parse_attempt_job_name(name: str) -> tuple[int, int, int] | None:
    """(video, job, attempt) of a name :func:`keys.attempt_job_name` wrote, or one of the
    attempt's chunk jobs (:func:`keys.chunks_job_name`, :func:`keys.chunk_job_name`); None
    for any other name."""
    match = _ATTEMPT_NAME.match(name)
    if match is None:
        return None
    video, job, attempt = (int(g) for g in match.groups()[:3])
    suffix, index, tries = match.groups()[3:]
    if suffix is None:
        written = keys.attempt_job_name(video, job, attempt)
    elif index is None:
        written = keys.chunks_job_name(video, job, attempt)
    else:
        written = keys.chunk_job_name(video, job, attempt, int(index), int(tries))
    return (video, job, attempt) if written == name else None


def why_unowned(name: tuple[int, int, int] | None, job: JobAttempt | None) -> str | None:
    """Why a container named *name* (parsed) is not the current attempt of an active job whose
    state and attempt are *job*; None when it is."""
    if name is None:
        return "not the name of a videoctl attempt"
    video_id, job_id, attempt = name
    if job is None:
        return f"no job {job_id}"
    if job.video_id != video_id:
        return f"job {job_id} is video {job.video_id}'s, not video {video_id}'s"
    if job.state not in ACTIVE_JOB_STATES:
        return f"job {job_id} is {job.state}"
    if job.attempt != attempt:
        return f"job {job_id} is on attempt {job.attempt}, not {attempt}"
    return None


def resolve(playlist_key: str, uri: str) -> str | None:
    """The store key a playlist's relative *uri* names; None for an absolute URL (not ours to check)."""
    uri = uri.split("#", 1)[0].split("?", 1)[0]
    if not uri or "://" in uri or uri.startswith(("/", "data:")):
        return None
    return posixpath.normpath(posixpath.join(posixpath.dirname(playlist_key), uri))


class DriftRemains(Drift):
    """The database, the executor and the store disagree."""

    def __init__(self, message: str, *, hint: str | None, report: dict[str, Any]) -> None:
        super().__init__(message, hint=hint)
        self.report = report

    def to_dict(self) -> dict[str, Any]:
        # One document either way: `--json` prints the whole report inside the error.
        return {**super().to_dict(), **self.report}
