"""How a ladder is measured: each video rung scored against the source, VMAF and PSNR-Y (issue 22).

:func:`measure_ladder` reads the ladder's master and media playlists, cuts the chosen
segments of every rung (sample mode: N segments spread over the video, each behind its
rung's init segment) or takes each rung whole (full mode), scores them all against the
source in one decode of it per stretch (media/quality.py), and sums each rung up
(domain/quality.py), the top rung marked. The ladder is read through :class:`LadderFiles`:
in place where run-job has just written it (:class:`LocalLadder`), or from the store, file
by file as needed, so a sample downloads its segments and not the ladder (:class:`StoredLadder`),
or, for a chunked video's assembler, its manifests in place and its segments from the store,
where the chunks uploaded them (:class:`AssembledLadder`).

run-job measures through :func:`measure_encoded`, whose failures are an outcome, never an
exception: the ladder is good, only its score is missing. services/quality.py has the use
cases around it (`videoctl quality`, storing, reading back).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from videoctl.domain.errors import Fenced, Interrupted, VerifyFailed, VideoctlError
from videoctl.domain.ladder import output_fps
from videoctl.domain.quality import FULL, OFF, Score, sample_ranges, summarize, top_rung
from videoctl.media import quality as scoring
from videoctl.media.cpus import cpu_budget
from videoctl.media.encode import MASTER_PLAYLIST, MEDIA_PLAYLIST
from videoctl.media.m3u8 import MediaPlaylist, parse_master_playlist, parse_media_playlist
from videoctl.media.manifests import check_local_uri, read_manifest
from videoctl.media.probe import SourceInfo
from videoctl.storage import ObjectStore

log = logging.getLogger(__name__)


# ------------------------------------------------------------ where the ladder's files are


class LadderFiles(Protocol):
    """The files of one ladder, named relative to its master playlist."""

    def read_text(self, name: str) -> str:
        """A playlist's text."""

    def size(self, name: str) -> int:
        """A file's size in bytes."""

    def local(self, name: str) -> Path:
        """The file on local disk (downloaded first if the ladder is in a store)."""


class LocalLadder:
    """A ladder run-job has just written and verified in its scratch space: read in place."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def read_text(self, name: str) -> str:
        return read_manifest(self.local(name), name)

    def size(self, name: str) -> int:
        return self.local(name).stat().st_size

    def local(self, name: str) -> Path:
        check_local_uri(name, MASTER_PLAYLIST)
        return self.out_dir / name


class StoredLadder:
    """A ladder in the store (R2, or the local store): each file is downloaded into *workdir* when
    it is first needed, so a sample costs its segments, not the ladder."""

    def __init__(self, store: ObjectStore, prefix: str, workdir: Path) -> None:
        self.store, self.prefix, self.workdir = store, prefix, workdir
        self._sizes: dict[str, int] | None = None

    def read_text(self, name: str) -> str:
        return read_manifest(self.local(name), name)

    def size(self, name: str) -> int:
        if self._sizes is None:  # one listing answers every segment of every rung
            self._sizes = {info.key.removeprefix(self.prefix): info.size for info in self.store.list_prefix(self.prefix)}
        if name not in self._sizes:
            raise VerifyFailed(f"{name} is named by the ladder {self.prefix} but is not in the store")
        return self._sizes[name]

    def local(self, name: str) -> Path:
        check_local_uri(name, MASTER_PLAYLIST)
        path = self.workdir / name
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            self.store.download_file(self.prefix + name, path)
        return path


class AssembledLadder:
    """A chunked video's ladder as its assembler holds it (#23): the manifests it has just written
    and verified in *out_dir*, not uploaded yet; every other file (segments, init segments) in the
    store under *prefix*, where the chunks uploaded them, downloaded into *workdir* as needed."""

    def __init__(self, out_dir: Path, store: ObjectStore, prefix: str, workdir: Path) -> None:
        self.written = LocalLadder(out_dir)
        self.stored = StoredLadder(store, prefix, workdir)

    def _here(self, name: str) -> bool:
        check_local_uri(name, MASTER_PLAYLIST)
        return self.written.local(name).is_file()

    def read_text(self, name: str) -> str:
        return (self.written if self._here(name) else self.stored).read_text(name)

    def size(self, name: str) -> int:
        return (self.written if self._here(name) else self.stored).size(name)

    def local(self, name: str) -> Path:
        return (self.written if self._here(name) else self.stored).local(name)


# ------------------------------------------------------------ measuring


@dataclass(frozen=True)
class MeasuredRung:
    """One rung scored, before it is stored."""

    rung: str
    width: int
    height: int
    bitrate_bps: int | None
    segments: int
    score: Score
    top_rung: bool = False

    def row(self) -> dict[str, object]:
        return {"rung": self.rung, "width": self.width, "height": self.height, "bitrate_bps": self.bitrate_bps,
                "segments": self.segments, "vmaf_mean": self.score.vmaf_mean, "vmaf_p5": self.score.vmaf_p5,
                "psnr_y_mean": self.score.psnr_y_mean, "top_rung": self.top_rung}


@dataclass(frozen=True)
class _Rung:
    name: str
    width: int
    height: int
    playlist: MediaPlaylist

    def file(self, uri: str) -> str:
        check_local_uri(uri, f"{self.name}/{MEDIA_PLAYLIST}")
        return f"{self.name}/{uri}"


def measure_ladder(ladder: LadderFiles, *, ffmpeg: str, source: Path, info: SourceInfo, mode: str, samples: int,
                   workdir: Path, threads: int) -> list[MeasuredRung]:
    """Score every video rung of the ladder against *source* (probed as *info*): *samples* segments
    spread over the video (``sample``), or every frame (``full``). Raises MediaError or VerifyFailed."""
    rungs = _video_rungs(ladder)
    if mode == FULL:
        pieces = [scoring.Piece(None, tuple(_whole(ladder, rung) for rung in rungs))]
        segments = [len(rung.playlist.segments) for rung in rungs]
    else:
        # The rungs' segments line up (verify_ladder checks it): any rung's durations place them.
        shortest = min(rungs, key=lambda rung: len(rung.playlist.segments))
        chosen = sample_ranges([segment.duration_s for segment in shortest.playlist.segments], samples)
        cuts = workdir / "cuts"
        cuts.mkdir(parents=True, exist_ok=True)
        pieces = [scoring.Piece(sampled.range, tuple(_cut(ladder, rung, sampled.index, cuts) for rung in rungs))
                  for sampled in chosen]
        segments = [len(chosen)] * len(rungs)
    frames = scoring.score(ffmpeg, source, info, pieces, fps=output_fps(info.fps), workdir=workdir / "logs",
                           threads=threads)
    measured = [MeasuredRung(rung.name, rung.width, rung.height, _bitrate(ladder, rung), count,
                             summarize([f.vmaf for f in scored], [f.psnr_y for f in scored]))
                for rung, count, scored in zip(rungs, segments, frames, strict=True)]
    top = top_rung(measured, width=lambda r: r.width, height=lambda r: r.height, bitrate=lambda r: r.bitrate_bps)
    return [replace(r, top_rung=r is top) for r in measured]


def _video_rungs(ladder: LadderFiles) -> list[_Rung]:
    master = parse_master_playlist(ladder.read_text(MASTER_PLAYLIST), MASTER_PLAYLIST)
    rungs = []
    for variant in master.variants:
        resolution = variant.attributes.get("RESOLUTION")
        if resolution is None:  # an audio-only variant: nothing to score
            continue
        width, _, height = resolution.partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise VerifyFailed(f"{MASTER_PLAYLIST}: {variant.uri} has RESOLUTION={resolution!r}")
        name, slash, _ = variant.uri.rpartition("/")
        if not slash:
            raise VerifyFailed(f"{MASTER_PLAYLIST} names {variant.uri!r}, not a rendition's folder")
        playlist = parse_media_playlist(ladder.read_text(variant.uri), variant.uri)
        if not playlist.segments:
            raise VerifyFailed(f"{variant.uri} has no segments")
        rungs.append(_Rung(name, int(width), int(height), playlist))
    if not rungs:
        raise VerifyFailed(f"{MASTER_PLAYLIST} names no video rendition to measure")
    return rungs


def _cut(ladder: LadderFiles, rung: _Rung, index: int, cuts: Path) -> Path:
    """Segment *index* of *rung* behind its init segment, one file on local disk."""
    init = ladder.local(rung.file(rung.playlist.map_uri)) if rung.playlist.map_uri else None
    segment = ladder.local(rung.file(rung.playlist.segments[index].uri))
    return scoring.cut(init, [segment], cuts / f"{rung.name}-{index}")


def _whole(ladder: LadderFiles, rung: _Rung) -> Path:
    """The rung's media playlist, every file it names on local disk beside it."""
    for uri in ([rung.playlist.map_uri] if rung.playlist.map_uri else []) + [s.uri for s in rung.playlist.segments]:
        ladder.local(rung.file(uri))
    return ladder.local(f"{rung.name}/{MEDIA_PLAYLIST}")


def _bitrate(ladder: LadderFiles, rung: _Rung) -> int | None:
    """The rung's mean video bitrate over all of it, from its segments' sizes."""
    seconds = rung.playlist.duration_s
    if seconds <= 0:
        return None
    return round(8 * sum(ladder.size(rung.file(segment.uri)) for segment in rung.playlist.segments) / seconds)


def libvmaf_threads() -> int:
    """libvmaf's threads: the CPUs this process may use (the container's budget, not the host's)."""
    return max(1, int(cpu_budget().cpus))


# ------------------------------------------------------------ inside run-job


@dataclass(frozen=True)
class QualityOutcome:
    """What run-job's measurement gave: the measured rungs, or why there are none."""

    mode: str
    rungs: tuple[MeasuredRung, ...] = ()
    error: VideoctlError | None = field(default=None, compare=False)


def measure_encoded(ladder: Path | LadderFiles, *, mode: str, ffmpeg: str, source: Path | Callable[[], Path],
                    info: SourceInfo, workdir: Path, samples: int) -> QualityOutcome | None:
    """Score the ladder run-job has just verified (a folder: the ladder in place); None when *mode*
    is off. *source* is the source's file, or what fetches it (the assembler of a chunked video
    has none yet): a source that cannot be fetched is a failed measurement too.

    Never raises for a failed measurement: it is logged and returned as the outcome's error,
    and the job goes on. A lost claim or a stop signal does stop it (they are not measurement
    failures)."""
    if mode == OFF:
        return None
    files = LocalLadder(ladder) if isinstance(ladder, Path) else ladder
    try:
        reference = source if isinstance(source, Path) else source()
        rungs = measure_ladder(files, ffmpeg=ffmpeg, source=reference, info=info, mode=mode,
                               samples=samples, workdir=workdir, threads=libvmaf_threads())
    except (Fenced, Interrupted):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever broke, the ladder itself is good
        error = exc if isinstance(exc, VideoctlError) else VideoctlError(f"{type(exc).__name__}: {exc}")
        log.warning("the quality measurement failed; the job completes without it",
                    extra={"mode": mode, "error_code": error.code, "error": error.message})
        return QualityOutcome(mode, error=error)
    top = next(r for r in rungs if r.top_rung)
    log.info("measured quality", extra={"mode": mode, "top_rung": top.rung, "vmaf_mean": top.score.vmaf_mean,
                                        "vmaf_p5": top.score.vmaf_p5, "segments": top.segments})
    return QualityOutcome(mode, tuple(rungs))
