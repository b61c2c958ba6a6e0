"""process_video: download → probe → [per-title probe] → one ffmpeg for every output → package → verify → [quality] → upload.

``make_outputs`` is everything between the probe and the upload, on local files: the one
ffmpeg process (ladder, poster, storyboard sheets, from one decode), the master playlist,
the MPD (fMP4 only), the poster and storyboard files, the download's remux (a second, cheap
ffmpeg: stream copy), and the verification of each of them.
A failure anywhere is ``verify_failed`` (or ``media_error`` from ffmpeg) and nothing is
uploaded, so nothing becomes READY.

After the verification, ``VIDEOCTL_MEASURE_QUALITY`` scores the verified ladder against the
source (services/quality.py); the source is deleted only after that. A failed measurement
is part of the result, never a failure of the encode.

Progress is reported in phases so a bar and the heartbeat move steadily:
download 0–10 %, encode 10–85 %, package, verify and measure 85–92 %, upload 92–100 %.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from videoctl.domain import keys, quality
from videoctl.domain.audio import GainDecision, Loudness, output_problem
from videoctl.domain.decision import EncodeDecision, TrackLoudness, reusable, source_identity
from videoctl.domain.errors import InvalidInput, SourceChanged, StorageError, VerifyFailed
from videoctl.domain.ladder import Rung, choose_rungs, output_fps, parse_ladder, rung_size
from videoctl.domain.models import Video
from videoctl.domain.outputs import SubtitleRendition
from videoctl.domain.pertitle import LadderDecision, mode_for
from videoctl.media import dash, download, encode, hls, loudness, poster, storyboard
from videoctl.media.captions import package_captions
from videoctl.media.probe import SourceInfo, probe
from videoctl.services import pertitle
from videoctl.services.captions import fetch_sidecars
from videoctl.services.ladder_quality import QualityOutcome, measure_encoded
from videoctl.settings import Settings
from videoctl.storage import ObjectStore
from videoctl.storage.scratch import SOURCE_FILE, require_free_space

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
T = TypeVar("T")

UPLOAD_WORKERS = 8


@dataclass(frozen=True)
class EncodeResult:
    master_key: str
    info: SourceInfo
    summary: hls.LadderSummary
    decision: EncodeDecision | None = None
    #: Each audio rendition's loudness as encoded, by name (none with loudness off).
    loudness_out: dict[str, Loudness] = field(default_factory=dict)
    #: The ladder's quality measurement (VIDEOCTL_MEASURE_QUALITY), None when it is off.
    quality: QualityOutcome | None = None


@dataclass(frozen=True)
class OutputPlan:
    """What one encode yields besides the HLS ladder, and how it is cut."""

    segment_s: int = 4
    preset: str = "veryfast"
    segment_format: str = encode.FMP4
    #: Poster and storyboard, off the ladder's decode.
    pictures: bool = True
    #: manifest.mpd over the fMP4 segments (never with MPEG-TS).
    dash: bool = True
    #: The rung height of download.mp4 (see ``download.choose_download_rung``); None for none.
    download_height: int | None = 720
    subtitles: tuple[SubtitleRendition, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, subtitles: Sequence[SubtitleRendition] = ()) -> OutputPlan:
        return cls(segment_s=settings.segment_s, preset=settings.x264_preset,
                   segment_format=settings.segment_format, download_height=settings.download_height,
                   subtitles=tuple(subtitles))


def fetch_source(store: ObjectStore, video: Video, workdir: Path) -> Path:
    """Download the source after checking it exists, is not empty and fits on disk.

    A source recorded with its ETag (its upload's completion, a registered key) must still
    be that object: the size recorded, and a download held to the ETag, so a file sent to
    the upload's URL after it completed is refused (SourceChanged, never retried) instead of
    encoded. A video from before ETags were recorded is downloaded as it is.
    """
    size = store.size(video.source_key)
    if size is None:
        raise InvalidInput(f"the source object {video.source_key!r} of video {video.id} does not exist")
    if size == 0:
        raise InvalidInput(f"the source object {video.source_key!r} of video {video.id} is empty (0 bytes)")
    if video.source_etag is not None and size != video.size_bytes:
        raise _source_changed(video, f"it is {size} bytes, but {video.size_bytes} were recorded")
    require_free_space(workdir, size)
    path = workdir / SOURCE_FILE  # never the upload's name: a name can pick a demuxer
    try:
        store.download_file(video.source_key, path, if_match=video.source_etag)
    except SourceChanged as exc:
        raise _source_changed(video, f"it is no longer the object of ETag {video.source_etag}") from exc
    return path


def _source_changed(video: Video, why: str) -> SourceChanged:
    return SourceChanged(f"the source {video.source_key!r} of video {video.id} was replaced after it was recorded "
                         f"(by `upload complete` or `video add --key`: {why}); what is there now is not encoded",
                         hint=f"send the video again as a new upload (`videoctl upload create`), and find out who "
                              f"wrote to {video.source_key!r}")


def process_video(video: Video, *, prefix: str, store: ObjectStore, settings: Settings, ffmpeg: str,
                  workdir: Path, progress: Progress, decided: EncodeDecision | None = None,
                  on_decision: Callable[[EncodeDecision, SourceInfo], None] | None = None) -> EncodeResult:
    """The whole encode in one pass. ``decided`` is an earlier decision about this video's source
    (another attempt's, a re-encode's): reused when it is about the same source. ``on_decision``
    records the decision and the probe's facts before the encode starts, so an attempt that dies
    does not measure again, and the next one's container is sized to the source."""
    src, info = fetch_and_probe(video, store=store, workdir=workdir, progress=progress)
    decision = decide_for(video, src, info, settings=settings, ffmpeg=ffmpeg, decided=decided, workdir=workdir)
    if on_decision is not None:
        on_decision(decision, info)
    return encode_one_pass(video, src, info, decision, prefix=prefix, store=store, settings=settings, ffmpeg=ffmpeg,
                           workdir=workdir, progress=progress)


def fetch_and_probe(video: Video, *, store: ObjectStore, workdir: Path, progress: Progress) -> tuple[Path, SourceInfo]:
    """The source downloaded into ``workdir`` and probed (InvalidInput for anything we cannot encode)."""
    progress("download", 0)
    src = fetch_source(store, video, workdir)
    progress("download", 10)
    info = probe(src)
    log.info("probed source", extra={"video_id": video.id, "width": info.width, "height": info.height,
                                     "duration_s": round(info.duration_s, 3), "has_audio": info.has_audio,
                                     "audio_tracks": len(info.audio_renditions),
                                     "fps": round(info.fps, 3), "rotation": info.rotation})
    return src, info


def decide_for(video: Video, src: Path, info: SourceInfo, *, settings: Settings, ffmpeg: str,
               decided: EncodeDecision | None, workdir: Path) -> EncodeDecision:
    """:func:`decide` for this video's source, with the ladder's rungs for this source: the one
    decision a pass, or every chunk of a long video, encodes with."""
    return decide(ffmpeg, src, source_identity(video.source_key, info.size_bytes, video.source_etag), info,
                  settings, decided, rungs=choose_rungs(parse_ladder(settings.ladder), info.short_side),
                  workdir=workdir / "probe")


def ladder_rungs(settings: Settings, info: SourceInfo, decision: EncodeDecision | None = None) -> tuple[Rung, ...]:
    """The rungs this source gets: one choice for a pass and for every chunk of a long video,
    less those the decision's per-title ladder dropped."""
    rungs = choose_rungs(parse_ladder(settings.ladder), info.short_side)
    ladder = ladder_of(decision) if decision is not None else None
    return ladder.kept(rungs) if ladder is not None else rungs


def ladder_crfs(decision: EncodeDecision | None) -> dict[str, int] | None:
    """Each rung's CRF in the decision's per-title ladder (None: the encoder's default for all)."""
    ladder = ladder_of(decision) if decision is not None else None
    return dict(ladder.crf) if ladder is not None else None


def encode_one_pass(video: Video, src: Path, info: SourceInfo, decision: EncodeDecision, *, prefix: str,
                    store: ObjectStore, settings: Settings, ffmpeg: str, workdir: Path,
                    progress: Progress) -> EncodeResult:
    """One ffmpeg for every output, then package, verify and upload (see the module's doc)."""
    rungs, crfs = ladder_rungs(settings, info, decision), ladder_crfs(decision)
    out_dir = workdir / "hls"
    sidecars = fetch_sidecars(store, settings.videos_root, video.id, workdir)
    measuring = settings.measure_quality != quality.OFF
    summary = make_outputs(ffmpeg, src, out_dir, info, rungs, OutputPlan.from_settings(settings),
                           sidecars=sidecars, on_progress=lambda p: progress("encode", 10 + p * 0.75),
                           # The measurement scores the ladder against the source: it goes after that.
                           source_done=None if measuring else src.unlink,
                           gains=decision.gains(), crfs=crfs)
    loudness_out = check_loudness(ffmpeg, out_dir, info, decision)
    progress("quality", 86)
    measured = measure_encoded(out_dir, mode=settings.measure_quality, ffmpeg=ffmpeg, source=src, info=info,
                               workdir=workdir / "quality", samples=quality.DEFAULT_SAMPLES)
    src.unlink(missing_ok=True)  # the scratch space goes to the upload from here on
    progress("verify", 92)

    upload_ladder(store, out_dir, prefix, lambda done: progress("upload", 92 + done * 8))
    return EncodeResult(keys.master_key(prefix), info, summary, decision, loudness_out, measured)


def decide(ffmpeg: str, src: Path, identity: str, info: SourceInfo, settings: Settings,
           decided: EncodeDecision | None, *, rungs: Sequence[Rung] | None = None,
           workdir: Path | None = None) -> EncodeDecision:
    """What this encode does with the source's audio level and (given its ``rungs``, highest
    first) its ladder: an earlier decision about the same source (``identity``:
    ``source_identity``) is reused, what is missing or made under other settings is measured
    (the per-title probe runs in ``workdir``)."""
    decision = reusable(decided, identity) or EncodeDecision(identity)
    if rungs is not None:
        mode = mode_for(settings.ladder_mode, info.duration_s, settings.per_title_after_s)
        ladder = pertitle.decide_ladder(ffmpeg, src, info, rungs, mode=mode,
                                        target=settings.vmaf_target, preset=settings.x264_preset,
                                        segment_s=settings.segment_s, workdir=workdir or src.parent / "probe",
                                        stored=ladder_of(decision))
        decision = replace(decision, extra={**decision.extra, pertitle.KEY: ladder.to_dict()})
    renditions = info.audio_renditions
    if settings.loudness.mode != "off" and renditions and decision.loudness is None:
        started = time.monotonic()
        measured = loudness.measure_tracks(ffmpeg, src, [rendition.track.index for rendition in renditions])
        decision = replace(decision, loudness=tuple(
            TrackLoudness(rendition.name, rendition.track.index, level, GainDecision(0.0, None, ""))
            for rendition, level in zip(renditions, measured, strict=True)))
        log.info("measured loudness", extra={"source": identity, "measure_s": round(time.monotonic() - started, 3),
                                             "lufs": [t.measured.to_dict()["integrated_lufs"] for t in decision.loudness]})
    decision = decision.with_loudness_settings(settings.loudness)
    limited = decision.unmeasured_limiters()
    if limited:
        # What the limiter takes off depends on the material: measured on the source, as encoded.
        rates = {rendition.name: rendition.sample_rate for rendition in renditions}
        after = loudness.measure_tracks(ffmpeg, src, [t.stream_index for t in limited],
                                        [(rates[t.rendition], t.gain) for t in limited])
        decision = decision.with_expected({t.rendition: level.integrated_lufs for t, level in zip(limited, after, strict=True)})
    return decision


def ladder_of(decision: EncodeDecision) -> LadderDecision | None:
    """The ladder part of a decision (None when it has none, or one this code cannot read)."""
    return LadderDecision.from_dict(decision.extra.get(pertitle.KEY))


def check_loudness(ffmpeg: str, out_dir: Path, info: SourceInfo, decision: EncodeDecision) -> dict[str, Loudness]:
    """Each audio rendition's loudness as encoded; VerifyFailed when one is off by more than 1 LU."""
    if not decision.loudness:
        return {}
    measured = loudness.measure_renditions(ffmpeg, out_dir, info.audio_renditions)
    for track in decision.loudness:
        problem = output_problem(track.measured, track.gain, measured[track.rendition])
        if problem is not None:
            raise VerifyFailed(f"audio rendition {track.rendition}: {problem}")
    return measured


def make_outputs(ffmpeg: str, src: Path, out_dir: Path, info: SourceInfo, rungs: tuple[Rung, ...],
                 plan: OutputPlan, *, sidecars: Mapping[str, Path] | None = None,
                 on_progress: Callable[[float], None] | None = None,
                 source_done: Callable[[], None] | None = None,
                 gains: Mapping[str, GainDecision] | None = None,
                 crfs: Mapping[str, int] | None = None) -> hls.LadderSummary:
    """Encode, package and verify every output of ``plan`` into ``out_dir``; raise VerifyFailed or MediaError.

    ``sidecars`` (language → caption file, in the order given) join the source's own text
    tracks as the ladder's captions. ``source_done`` is called once nothing reads ``src``
    any more (run-job deletes it then). ``gains``: each audio rendition's loudness decision.
    ``crfs``: each rung's CRF (the per-title ladder); none: the encoder's default for all.
    """
    started = time.monotonic()
    encode.encode_ladder(ffmpeg, src, out_dir, info, rungs, segment_s=plan.segment_s, preset=plan.preset,
                         segment_format=plan.segment_format, pictures=plan.pictures, gains=gains, crfs=crfs,
                         on_progress=on_progress)
    log.info("encoded", extra={"rungs": [r.name for r in rungs], "crfs": dict(crfs or {}), "segment_format": plan.segment_format,
                               "pictures": plan.pictures, "encode_s": round(time.monotonic() - started, 3)})
    # Captions: extracting the source's tracks needs the source, and timing them needs the
    # encoded segments (the lowest rung's first one is the smallest to read).
    subtitles = package_captions(ffmpeg, src, sidecars or {}, out_dir, info, segment_s=plan.segment_s,
                                 video_playlist=out_dir / rungs[-1].name / encode.MEDIA_PLAYLIST)
    if subtitles:
        plan = replace(plan, subtitles=plan.subtitles + tuple(subtitles))
    if source_done is not None:
        source_done()

    hls.finalize_master(out_dir, info, rungs, plan.subtitles)
    summary = hls.verify_ladder(out_dir, info, rungs, segment_format=plan.segment_format,
                                subtitles=plan.subtitles)
    # The other outputs last as long as the video, give or take what the ladder may (one segment).
    tolerance_s = max(1.0, float(plan.segment_s))
    if plan.dash and plan.segment_format == encode.FMP4:
        dash.write_mpd(out_dir, info, rungs, plan.subtitles)
        dash.verify_mpd(out_dir, info, rungs, tolerance_s=tolerance_s, subtitles=plan.subtitles)
    if plan.pictures:
        top = rung_size(info.width, info.height, rungs[0].height)
        poster.verify_poster(poster.finalize_poster(out_dir), *top)
        storyboard.finalize_storyboard(out_dir, duration_s=info.duration_s,
                                       video_duration_s=summary.rungs[-1].duration_s, fps=output_fps(info.fps),
                                       width=summary.rungs[-1].width, height=summary.rungs[-1].height)
        storyboard.verify_storyboard(out_dir, info.duration_s)
    rung = download.choose_download_rung(rungs, plan.download_height)
    if rung is not None:
        download.remux_download(ffmpeg, out_dir, rung, has_audio=info.has_audio)
        width, height = rung_size(info.width, info.height, rung.height)
        download.verify_download(out_dir, width=width, height=height, has_audio=info.has_audio,
                                 duration_s=info.duration_s, tolerance_s=tolerance_s)
    log.info("outputs made and verified", extra={"outputs_s": round(time.monotonic() - started, 3)})
    return summary


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, StorageError) and exc.transient


def upload_ladder(store: ObjectStore, out_dir: Path, prefix: str, progress: Callable[[float], None]) -> None:
    """Upload every file under *prefix*, concurrently, the master playlist last.

    A player (or the READY guard of a later run) that finds master.m3u8 can
    trust every file it names is already there.
    """
    files = hls.upload_order(out_dir)
    master, rest = files[-1], files[:-1]

    def put(path: Path) -> None:
        store.upload_file(path, prefix + path.relative_to(out_dir).as_posix(), content_type=hls.content_type_for(path))

    transfer_all(rest, put, lambda done: progress(done / len(files)))
    _retried(put, master)
    progress(1.0)


def download_files(store: ObjectStore, files: list[tuple[str, Path]]) -> None:
    """Download each (key, path), concurrently: an assembler fetches thousands of segments and
    tiles, and one at a time each would wait out a round trip to the bucket."""
    transfer_all(files, lambda file: store.download_file(*file))


def transfer_all(items: list[T], transfer: Callable[[T], None], progress: Callable[[int], None] | None = None) -> None:
    """``transfer(item)`` for every item on UPLOAD_WORKERS threads, each retried on a transient
    error; the first failure cancels the rest and is raised. ``progress`` gets the count done."""
    done = 0
    with ThreadPoolExecutor(max_workers=UPLOAD_WORKERS, thread_name_prefix="transfer") as pool:
        futures = [pool.submit(_retried, transfer, item) for item in items]
        try:
            for future in as_completed(futures):
                future.result()  # the first failure fails the whole transfer
                done += 1
                if progress is not None:
                    progress(done)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _retried(transfer: Callable[[T], None], item: T) -> None:
    for attempt in Retrying(stop=stop_after_attempt(3), wait=wait_random_exponential(multiplier=0.5, max=8),
                            retry=retry_if_exception(_transient), reraise=True):
        with attempt:
            transfer(item)
