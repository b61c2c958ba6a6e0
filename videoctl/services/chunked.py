"""Chunked encoding of a long video (#23): the lead's preparation, one chunk, the assembly.

Every container runs the same command, ``videoctl run-job JOB_ID``; what it does follows from
the rows and its environment (``run_job``):

1. **The lead** is the attempt's container, as for any video. It downloads and probes the
   source; when the video is longer than ``VIDEOCTL_CHUNK_AFTER_SECONDS`` (and sought in
   reliably: fMP4 segments, a container whose timestamps do not jump) it decides once (the
   decision stored on the job, as for one pass, which every chunk then reads), records the plan,
   one job_chunk row per chunk, and sends the chunks (:func:`send`): one Batch array job, or
   local processes, at most one per spare CPU. Then, while they encode, it makes and uploads what
   covers the whole video once — every audio rendition with its loudness gain (then checked),
   the captions, the poster from the source's keyframes — and records it on the job
   (:func:`make_and_record_whole`). Its own work is then off the path to READY: it is done
   before the chunks are on any long video. It exits, unless every chunk had succeeded by then:
   then it holds the job's claim and assembles.
2. **A chunk** (AWS_BATCH_JOB_ARRAY_INDEX, or VIDEOCTL_CHUNK_INDEX when sent alone) claims its
   row, downloads the source, encodes its frames of every rung (``media.chunks``), uploads its
   segments and storyboard tiles under the attempt's prefix, and succeeds: the fenced atomic
   counter on the job counts it (:meth:`ChunkRepository.finish`). Locally it then starts the
   next chunk nobody has started, on the CPU it frees. No container waits for another.
3. **The assembler** is the chunk whose success made the count reach the number of chunks, the
   lead's outputs recorded (else the lead, when it records them last): it holds the job's claim
   from that moment. It writes the media playlists, the master, the MPD,
   the storyboard from the chunks' tiles and the MP4 download (a remux of the segments), checks
   them against the store, measures the quality sample of the whole video against the source
   (``VIDEOCTL_MEASURE_QUALITY``, as one pass does, once: no chunk measures), uploads them
   (master last), and completes the job in one transaction, as one pass does.

A chunk that fails records its failure; a chunk whose container died goes quiet or is reported
gone by its executor: scan-stuck resubmits it alone, under the job's attempt policy
(``services.scan``). A chunk of an abandoned attempt is fenced out by the attempt number.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from videoctl.domain import keys, quality
from videoctl.domain.chunks import PROGRESS_CHUNKS_FROM, PROGRESS_CHUNKS_TO, ChunkPlan, plan_chunks
from videoctl.domain.decision import EncodeDecision
from videoctl.domain.errors import InvalidState, VerifyFailed
from videoctl.domain.executor import Executor
from videoctl.domain.ladder import Rung, output_fps, rung_size
from videoctl.domain.models import Job, JobChunk, Video
from videoctl.domain.repositories import ChunkRepository
from videoctl.domain.sizing import SourceFacts, chunk_size
from videoctl.media import dash, download, encode, hls, poster, storyboard
from videoctl.media.assemble import WholeVideo, assemble_sheets, verify_assembled, write_manifests
from videoctl.media.captions import package_captions
from videoctl.media.chunks import ChunkOutput, encode_chunk
from videoctl.media.probe import SourceInfo
from videoctl.services.captions import fetch_sidecars
from videoctl.services.encode import (
    OutputPlan,
    Progress,
    check_loudness,
    download_files,
    fetch_source,
    ladder_crfs,
    upload_ladder,
)
from videoctl.services.ladder_quality import AssembledLadder, QualityOutcome, measure_encoded
from videoctl.settings import Settings
from videoctl.storage import ObjectStore
from videoctl.storage.scratch import SOURCE_FILE

log = logging.getLogger(__name__)


#: The chunked attempt's stored form (the job's ``chunking`` column), bumped when it changes.
CHUNKING_VERSION = 1


def chunk_plan(settings: Settings, info: SourceInfo) -> ChunkPlan | None:
    """How the source is cut into chunks; None for one pass: a short video, MPEG-TS segments
    (chunks put fMP4 fragments in place by their decode times), or a container whose
    timestamps may jump (its time cannot be sought in reliably); always None while chunking is
    off (VIDEOCTL_CHUNK_AFTER_SECONDS=off)."""
    if settings.chunk_after_s is None or settings.segment_format != encode.FMP4 or info.timestamps_may_jump:
        return None
    return plan_chunks(info.duration_s, output_fps(info.fps), segment_s=settings.segment_s,
                       chunk_s=settings.chunk_s, chunk_after_s=settings.chunk_after_s)


@dataclass(frozen=True)
class LeadOutputs:
    """What the lead made for the whole video while its chunks encoded, for the assembler."""

    whole: WholeVideo
    #: Each audio rendition's length, and its loudness as encoded, for the job's record.
    audio_durations: dict[str, float]
    measurements: dict | None

    def to_dict(self) -> dict:
        return {"whole": self.whole.to_dict(), "audio_durations": self.audio_durations,
                "measurements": self.measurements}

    @classmethod
    def from_dict(cls, data: dict) -> LeadOutputs:
        return cls(WholeVideo.from_dict(data["whole"]), {name: float(s) for name, s in data["audio_durations"].items()},
                   data.get("measurements"))


@dataclass(frozen=True)
class Chunking:
    """What every chunk and the assembler read of the attempt: the lead's word on it. ``lead``
    is None until the lead has recorded its whole-video outputs (``whole`` in the stored form,
    what the job queries look for)."""

    plan: ChunkPlan
    info: SourceInfo
    rungs: tuple[Rung, ...]
    lead: LeadOutputs | None = None

    def to_dict(self) -> dict:
        return {"version": CHUNKING_VERSION, "plan": self.plan.to_dict(), "info": self.info.to_dict(),
                "rungs": [[r.height, r.maxrate_kbps, r.bufsize_kbps, r.audio_kbps] for r in self.rungs],
                **(self.lead.to_dict() if self.lead else {})}

    @classmethod
    def from_dict(cls, data: dict) -> Chunking:
        if data.get("version") != CHUNKING_VERSION:
            raise InvalidState(f"the chunked attempt was prepared by another version of videoctl "
                               f"(chunking version {data.get('version')}, this one reads {CHUNKING_VERSION})")
        return cls(ChunkPlan.from_dict(data["plan"]), SourceInfo.from_dict(data["info"]),
                   tuple(Rung(*rung) for rung in data["rungs"]),
                   LeadOutputs.from_dict(data) if "whole" in data else None)


# ------------------------------------------------------------------ the lead


def send(job: Job, info: SourceInfo, plan: ChunkPlan, rungs: tuple[Rung, ...], *, chunks: ChunkRepository,
         executor: Executor, progress: Progress) -> Job:
    """The lead records the plan, one job_chunk row per chunk, and sends the chunks: first, so
    they encode while the lead makes the whole-video outputs (:func:`make_and_record_whole`)."""
    job = chunks.create(job, plan, Chunking(plan, info, rungs).to_dict())
    send_chunks(job, chunks=chunks, executor=executor,
                source=SourceFacts(info.duration_s, info.width, info.height, info.fps))
    log.info("chunks sent", extra={"job_id": job.id, "attempt": job.attempt, "chunks": job.chunks})
    progress("chunks", 10)
    return job


def make_and_record_whole(job: Job, video: Video, src: Path, info: SourceInfo, rungs: tuple[Rung, ...],
                          decision: EncodeDecision, *, store: ObjectStore, settings: Settings, ffmpeg: str,
                          workdir: Path, prefix: str, chunks: ChunkRepository, progress: Progress) -> Job:
    """The lead's own part, while its chunks encode: the whole-video outputs made, uploaded and
    recorded on the job. Returns the job as that left it: when every chunk had succeeded by
    then, the lead still holds the claim and assembles (``chunks_done == chunks``)."""
    out_dir = workdir / "whole"
    out_dir.mkdir()
    started = time.monotonic()
    whole, measurements = make_whole_outputs(ffmpeg, src, out_dir, info, rungs, settings, decision,
                                             fetch_sidecars(store, settings.videos_root, video.id, workdir), progress)
    audio_durations = {r.name: hls.load_media_playlist(out_dir / r.name).duration_s for r in info.audio_renditions}
    upload_ladder(store, out_dir, prefix, lambda done: progress("upload", 20 + done * (PROGRESS_CHUNKS_FROM - 20)))
    job = chunks.finish_whole(job, LeadOutputs(whole, audio_durations, measurements).to_dict())
    log.info("whole-video outputs made", extra={"job_id": job.id, "chunks": job.chunks, "chunks_done": job.chunks_done,
                                                "whole_s": round(time.monotonic() - started, 3)})
    return job


def make_whole_outputs(ffmpeg: str, src: Path, out_dir: Path, info: SourceInfo, rungs: tuple[Rung, ...],
                       settings: Settings, decision: EncodeDecision, sidecars: Mapping[str, Path],
                       progress: Progress) -> tuple[WholeVideo, dict | None]:
    """What covers the whole video, made once into ``out_dir`` and verified: every audio
    rendition (with its gain, then measured again), the captions, the poster."""
    audio: dict[str, hls.Rendition] = {}
    audio_dash: dict[str, dash.Representation] = {}
    loudness_out = {}
    if info.audio_renditions:
        encode.encode_audio(ffmpeg, src, out_dir, info, segment_s=settings.segment_s, audio_kbps=rungs[0].audio_kbps,
                            gains=decision.gains(), on_progress=lambda p: progress("audio", 10 + p * 0.08))
        for rendition in info.audio_renditions:
            directory = out_dir / rendition.name
            playlist = hls.load_media_playlist(directory)
            hls.check_audio_segment(directory, playlist, rendition)
            audio[rendition.name] = hls.measure_audio(directory)
            audio_dash[rendition.name] = dash.representation(out_dir, rendition.name, audio[rendition.name])
        loudness_out = check_loudness(ffmpeg, out_dir, info, decision)
    subtitles = package_captions(ffmpeg, src, sidecars, out_dir, info, segment_s=settings.segment_s, start_s=0.0)
    plan = OutputPlan.from_settings(settings)
    if plan.pictures:
        encode.run_ffmpeg(encode.build_poster_args(ffmpeg, src, out_dir, info, rungs[0]))
        poster.verify_poster(poster.finalize_poster(out_dir), *rung_size(info.width, info.height, rungs[0].height))
    progress("whole", 20)
    measurements = None
    if decision.loudness:
        measurements = {"loudness": [{**track.to_dict(), "output": loudness_out[track.rendition].to_dict()}
                                     for track in decision.loudness if track.rendition in loudness_out]}
    return WholeVideo(audio, audio_dash, tuple(subtitles)), measurements


def send_chunks(job: Job, *, chunks: ChunkRepository, executor: Executor, source: SourceFacts) -> None:
    """Start the attempt's chunks: one array job on Batch; locally one process per spare CPU,
    the others as those end (:func:`start_next_chunk`).

    The array's containers are sized to a chunk of the ``source``, not to the whole video (the
    lead's size): the children share one override, so the longest chunk's."""
    name = keys.chunks_job_name(job.video_id, job.id, job.attempt)
    rows = chunks.of_attempt(job.id, job.attempt)
    size = chunk_size(executor.sizing, source, [(row.start_s, row.duration_s) for row in rows])
    ids = executor.submit_array(name, job_id=job.id, video_id=job.video_id, attempt=job.attempt,
                                size=job.chunks, priority=job.priority, container_size=size)
    if ids is not None:
        for row, executor_job_id in zip(rows, ids, strict=True):
            chunks.mark_sent(row, executor_job_id, size)
        return
    for cpus in executor.chunk_slots() or [None]:
        if start_next_chunk(job, chunks=chunks, executor=executor, cpus=cpus) is None:
            break


def start_next_chunk(job: Job, *, chunks: ChunkRepository, executor: Executor,
                     cpus: frozenset[int] | None) -> JobChunk | None:
    """Start the next chunk nobody has started (the local executor's queue: a process has no
    container size); None when none is left."""
    row = chunks.reserve_pending(job.id, job.attempt)
    if row is None:
        return None
    executor_job_id = executor.submit_chunk(keys.chunk_job_name(job.video_id, job.id, job.attempt, row.idx, row.tries),
                                            job_id=job.id, video_id=job.video_id, attempt=job.attempt, index=row.idx,
                                            priority=job.priority, cpus=cpus, container_size=None)
    return chunks.mark_sent(row, executor_job_id) or row


# ------------------------------------------------------------------ a chunk


def encode_and_upload_chunk(chunk: JobChunk, chunking: Chunking, decision: EncodeDecision, src: Path, *,
                            store: ObjectStore, settings: Settings, ffmpeg: str, workdir: Path, prefix: str,
                            progress: Progress, check: Callable[[], None]) -> ChunkOutput:
    """Encode one chunk into ``workdir`` and upload what it made; ``check`` raises once the
    chunk is no longer this runner's (checked before anything is uploaded).

    ``decision`` is the job's, made once by the lead: the chunk encodes the rungs the lead kept
    (``chunking.rungs``, from that decision's ladder) at each rung's CRF from that decision,
    never a decision of its own."""
    plan = chunking.plan
    out_dir = workdir / "chunk"
    output = encode_chunk(ffmpeg, src, out_dir, chunking.info, chunking.rungs, plan, plan.chunk(chunk.idx),
                          segment_s=settings.segment_s, preset=settings.x264_preset,
                          pictures=OutputPlan.from_settings(settings).pictures, crfs=ladder_crfs(decision),
                          on_progress=lambda p: progress("encode", 10 + p * 0.8))
    # The source stays until the chunk has counted itself: the chunk that assembles measures the
    # quality sample against it instead of downloading it again (it held the disk all along).
    if chunk.idx != 0:  # one init segment per rung, chunk 0's: every chunk's is the same (checked when assembled)
        for rung in chunking.rungs:
            (out_dir / rung.name / output.rungs[rung.name].init).unlink()
    for name in (encode.MASTER_PLAYLIST, *(f"{r.name}/{encode.MEDIA_PLAYLIST}" for r in chunking.rungs)):
        (out_dir / name).unlink(missing_ok=True)  # the assembler writes the video's own
    check()
    upload_ladder(store, out_dir, prefix, lambda done: progress("upload", 90 + done * 10))
    return output


# ------------------------------------------------------------------ the assembler


def assemble(job: Job, video: Video, chunking: Chunking, outputs: list[ChunkOutput], *, store: ObjectStore,
             settings: Settings, ffmpeg: str, workdir: Path, prefix: str, progress: Progress,
             source: Path | None = None) -> tuple[hls.LadderSummary, QualityOutcome | None]:
    """Write, check, measure and upload the chunked video's manifests, storyboard and download
    (master last); the quality sample's outcome (None when ``VIDEOCTL_MEASURE_QUALITY`` is off)."""
    if chunking.lead is None:
        raise InvalidState(f"job {job.id} attempt {job.attempt}: the lead has not recorded the whole-video outputs")
    info, rungs, whole = chunking.info, chunking.rungs, chunking.lead.whole
    out_dir, media_dir = workdir / "ladder", workdir / "media"
    out_dir.mkdir()
    plan = OutputPlan.from_settings(settings)
    playlists = write_manifests(out_dir, info, rungs, outputs, whole, dash_mpd=plan.dash)
    fps = output_fps(info.fps)
    video_s = playlists[rungs[-1].name].duration_s
    tile_keys: list[str] = []
    if plan.pictures:
        tiles = sum(output.tiles for output in outputs)
        tiles_dir = workdir / storyboard.TILES
        tiles_dir.mkdir()
        tile_keys = [f"{prefix}{storyboard.TILES}/{storyboard.TILE_PATTERN % n}" for n in range(tiles)]
        download_files(store, [(key, tiles_dir / key.rsplit("/", 1)[1]) for key in tile_keys])
        assemble_sheets(ffmpeg, tiles_dir, out_dir, tiles=tiles, duration_s=info.duration_s, video_duration_s=video_s,
                        fps=fps, width=outputs[0].rungs[rungs[-1].name].width,
                        height=outputs[0].rungs[rungs[-1].name].height)
        storyboard.verify_storyboard(out_dir, info.duration_s)
    progress("assemble", PROGRESS_CHUNKS_TO)
    tolerance_s = max(1.0, float(settings.segment_s))
    rung = download.choose_download_rung(rungs, plan.download_height)
    if rung is not None:
        _fetch_tracks(store, prefix, out_dir, media_dir, rung, info.has_audio)
        download.remux_download(ffmpeg, out_dir, rung, has_audio=info.has_audio, media_dir=media_dir)
        width, height = rung_size(info.width, info.height, rung.height)
        download.verify_download(out_dir, width=width, height=height, has_audio=info.has_audio,
                                 duration_s=info.duration_s, tolerance_s=tolerance_s)
    present = {found.key.removeprefix(prefix): found.size for found in store.list_prefix(prefix)}
    present.update({path.relative_to(out_dir).as_posix(): path.stat().st_size
                    for path in out_dir.rglob("*") if path.is_file()})
    summary = verify_assembled(out_dir, info, rungs, whole, playlists, present,
                               audio_durations=chunking.lead.audio_durations, tolerance_s=tolerance_s)
    progress("quality", 95)
    # As one pass does, after the verification and before the upload, once for the whole video:
    # the manifests just written, the chunks' segments from the store, and the source: the last
    # chunk's own copy (``source``), else fetched again (a failure, the source's included, is
    # recorded and the job completes without a score).
    have_source = source is not None and source.is_file()
    measured = measure_encoded(AssembledLadder(out_dir, store, prefix, workdir / "quality" / "ladder"),
                               mode=settings.measure_quality, ffmpeg=ffmpeg,
                               source=(lambda: source) if have_source else lambda: fetch_source(store, video, workdir),
                               info=info, workdir=workdir / "quality", samples=quality.DEFAULT_SAMPLES)
    for copy in (workdir / SOURCE_FILE, source):  # the scratch space goes to the upload from here on
        if copy is not None:
            copy.unlink(missing_ok=True)
    progress("upload", 96)
    upload_ladder(store, out_dir, prefix, lambda done: progress("upload", 96 + done * 3))
    # The tiles are in the sheets now; the ladder keeps no intermediate file.
    store.delete_keys(tile_keys)
    return summary, measured


def _fetch_tracks(store: ObjectStore, prefix: str, out_dir: Path, media_dir: Path, rung: Rung,
                  has_audio: bool) -> None:
    """The download's rung (its playlist as assembled) and the audio, laid out in ``media_dir``."""
    directory = media_dir / rung.name
    directory.mkdir(parents=True)
    (directory / encode.MEDIA_PLAYLIST).write_bytes((out_dir / rung.name / encode.MEDIA_PLAYLIST).read_bytes())
    names = {rung.name: directory}
    if has_audio:
        audio = media_dir / encode.AUDIO_NAME
        audio.mkdir()
        store.download_file(f"{prefix}{encode.AUDIO_NAME}/{encode.MEDIA_PLAYLIST}", audio / encode.MEDIA_PLAYLIST)
        names[encode.AUDIO_NAME] = audio
    files: list[tuple[str, Path]] = []
    for name, folder in names.items():
        playlist = hls.load_media_playlist(folder)
        if playlist.map_uri is None:
            raise VerifyFailed(f"{name}/{encode.MEDIA_PLAYLIST} has no init segment")
        files += [(f"{prefix}{name}/{uri}", folder / uri)
                  for uri in [playlist.map_uri, *(segment.uri for segment in playlist.segments)]]
    download_files(store, files)
