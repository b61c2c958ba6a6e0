"""A chunked video's ladder, assembled from what its chunks and its lead made, without the media.

The chunks uploaded their segments (and chunk 0 the init segments); the lead uploaded the
audio renditions, the captions and the poster. What they made is described in the database
(``media.chunks.ChunkOutput`` per chunk, :class:`WholeVideo` for the lead), so the assembler
writes the manifests from those descriptions alone: each rung's media playlist, the master
(bandwidths measured over every segment, as ``hls.finalize_master`` measures them), the MPD
(each fragment's own timing, as ``dash.write_mpd`` reads it), and the storyboard, from the
chunks' tiles. Only the download needs media: one rung's segments and the audio, remuxed.

Before anything is uploaded, :func:`check_chunks` holds the chunks to one ladder (every
chunk, every rung, the same init segment, segments numbered and timed back to back across
the chunks) and :func:`verify_assembled` reads back what was written against the store's
listing: every file a manifest names is there and not empty, the variants are aligned and
the ladder lasts as long as the source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from videoctl.domain.errors import VerifyFailed
from videoctl.domain.ladder import Rung, output_fps, rung_size
from videoctl.domain.outputs import MPD, SubtitleRendition
from videoctl.media import dash
from videoctl.media.chunks import ChunkOutput, RungPart, SegmentPart
from videoctl.media.encode import COMMON_ARGS, MASTER_PLAYLIST, MEDIA_PLAYLIST, run_ffmpeg
from videoctl.media.hls import (
    LadderSummary,
    Rendition,
    RungSummary,
    check_alignment,
    check_audio_group,
    check_duration,
    master_text,
    peak_bitrate,
    write_master,
)
from videoctl.media.m3u8 import MediaPlaylist, Segment, parse_master_playlist, parse_media_playlist
from videoctl.media.manifests import check_local_uri, read_manifest
from videoctl.media.probe import SourceInfo
from videoctl.media.storyboard import (
    JPEG_QUALITY,
    SHEET_PATTERN,
    TILE_PATTERN,
    Storyboard,
    choose_interval,
    finalize_storyboard,
    frames_per_tile,
    layout,
    tile_count,
)


@dataclass(frozen=True)
class WholeVideo:
    """What a chunked video's lead made for the whole video, for the assembler."""

    #: Each audio rendition's measurement (master playlist) and Representation (MPD), by name.
    audio: dict[str, Rendition]
    audio_dash: dict[str, dash.Representation]
    subtitles: tuple[SubtitleRendition, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"audio": {name: asdict(measured) for name, measured in self.audio.items()},
                "audio_dash": {name: rep.to_dict() for name, rep in self.audio_dash.items()},
                "subtitles": [asdict(subtitle) for subtitle in self.subtitles]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WholeVideo:
        return cls({name: Rendition(**measured) for name, measured in data["audio"].items()},
                   {name: dash.Representation.from_dict(rep) for name, rep in data["audio_dash"].items()},
                   tuple(SubtitleRendition(**subtitle) for subtitle in data["subtitles"]))


# ------------------------------------------------------------------ the chunks as one ladder


def check_chunks(outputs: Sequence[ChunkOutput], rungs: Sequence[Rung], count: int) -> dict[str, list[SegmentPart]]:
    """Every rung's segments across the chunks, in order; VerifyFailed unless the chunks make one ladder."""
    indexes = [output.index for output in outputs]
    if indexes != list(range(count)):
        raise VerifyFailed(f"the ladder needs chunks 0 to {count - 1}, found {indexes}")
    ladder: dict[str, list[SegmentPart]] = {}
    for rung in rungs:
        parts = [output.rungs.get(rung.name) for output in outputs]
        missing = [output.index for output, part in zip(outputs, parts, strict=True) if part is None]
        if missing:
            raise VerifyFailed(f"chunk {missing[0]} made no {rung.name}")
        first: RungPart = parts[0]
        segments: list[SegmentPart] = []
        for output, part in zip(outputs, parts, strict=True):
            if (part.init_sha256, part.timescale, part.codec) != (first.init_sha256, first.timescale, first.codec):
                raise VerifyFailed(f"chunk {output.index}'s {rung.name} differs from chunk 0's in its init segment "
                                   f"({part.codec}, {part.timescale} ticks/s): the chunks cannot share one")
            if segments and part.segments[0].decode_time != segments[-1].decode_time + segments[-1].duration:
                raise VerifyFailed(f"chunk {output.index}'s {rung.name} starts at tick {part.segments[0].decode_time}, "
                                   f"not where chunk {output.index - 1} ends")
            segments += part.segments
        numbers = [segment.uri for segment in segments]
        if numbers != [f"seg_{n:05d}.m4s" for n in range(len(segments))]:
            raise VerifyFailed(f"{rung.name}: the chunks' segments are not numbered 0 to {len(segments) - 1}")
        ladder[rung.name] = segments
    return ladder


def media_playlist_text(init: str, segments: Sequence[SegmentPart], timescale: int) -> str:
    """A VOD media playlist as ffmpeg's hls muxer writes one, each EXTINF the fragment's exact length."""
    durations = [segment.duration / timescale for segment in segments]
    target = max(1, math.ceil(max(durations) - 0.001))
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS", f'#EXT-X-MAP:URI="{init}"']
    for segment, duration in zip(segments, durations, strict=True):
        lines += [f"#EXTINF:{duration:.6f},", segment.uri]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


def _measured(part: RungPart, segments: Sequence[SegmentPart], target: int) -> Rendition:
    """What ``hls.measure_video`` measures of a rung, from its segments' sizes and lengths."""
    sizes = [segment.size for segment in segments]
    durations = [segment.duration / part.timescale for segment in segments]
    average = round(8 * sum(sizes) / max(sum(durations), 1e-3))
    return Rendition(peak_bitrate(sizes, durations, target), average, part.codec, part.width, part.height, 0)


def write_manifests(out_dir: Path, info: SourceInfo, rungs: Sequence[Rung], outputs: Sequence[ChunkOutput],
                    whole: WholeVideo, *, dash_mpd: bool = True) -> dict[str, MediaPlaylist]:
    """Each rung's media playlist, the master and (fMP4 always) the MPD, written into ``out_dir``."""
    out_dir = Path(out_dir)
    ladder = check_chunks(outputs, rungs, len(outputs))
    first = outputs[0].rungs
    playlists: dict[str, MediaPlaylist] = {}
    video: dict[str, Rendition] = {}
    for rung in rungs:
        part, segments = first[rung.name], ladder[rung.name]
        text = media_playlist_text(part.init, segments, part.timescale)
        (out_dir / rung.name).mkdir(parents=True, exist_ok=True)
        (out_dir / rung.name / MEDIA_PLAYLIST).write_text(text, encoding="utf-8")
        playlists[rung.name] = parse_media_playlist(text, f"{rung.name}/{MEDIA_PLAYLIST}")
        video[rung.name] = _measured(part, segments, playlists[rung.name].target_duration or 1)
    audio = {rendition: whole.audio[rendition.name] for rendition in info.audio_renditions}
    write_master(out_dir, master_text(info, rungs, video, audio, whole.subtitles, fmp4=True))
    if dash_mpd:
        representations = tuple(
            dash.Representation(id=rung.name, codecs=video[rung.name].codec, bandwidth=video[rung.name].peak_bps,
                                timescale=first[rung.name].timescale, initialization=f"{rung.name}/{first[rung.name].init}",
                                media=f"{rung.name}/seg_$Number%05d$.m4s", start_number=0,
                                timeline=dash.timeline((s.decode_time, s.duration) for s in ladder[rung.name]),
                                width=video[rung.name].width, height=video[rung.name].height)
            for rung in rungs)
        tracks = tuple(dash.AudioTrackSet(rendition, whole.audio_dash[rendition.name])
                       for rendition in info.audio_renditions)
        presentation = dash.Presentation(representations, tracks, output_fps(info.fps), whole.subtitles)
        (out_dir / MPD).write_text(dash.mpd_text(presentation), encoding="utf-8")
    return playlists


# ------------------------------------------------------------------ the storyboard from the chunks' tiles


def assemble_sheets(ffmpeg_bin: str, tiles_dir: Path, out_dir: Path, *, tiles: int, duration_s: float,
                    video_duration_s: float, fps: Fraction, width: int, height: int) -> Storyboard:
    """Lay the chunks' tiles (``tiles_dir/tile_NNNNNN.jpg``, 0 … ``tiles`` − 1) out in sheets
    as one pass does, and write ``storyboard.vtt`` for them (``storyboard.finalize_storyboard``).
    ``width`` x ``height`` is the lowest rung's size, which the tiles were scaled from."""
    every = frames_per_tile(choose_interval(duration_s), fps)
    expected = tile_count(round(video_duration_s * fps), every)
    if tiles != expected:
        raise VerifyFailed(f"the chunks made {tiles} storyboard tiles, the video has {expected}")
    missing = [n for n in range(tiles) if not (tiles_dir / (TILE_PATTERN % n)).is_file()]
    if missing:
        raise VerifyFailed(f"storyboard tile {missing[0]} of {tiles} is missing")
    grid = layout(width, height, tile_count(round(duration_s * fps), every))
    run_ffmpeg([ffmpeg_bin, *COMMON_ARGS, "-f", "image2", "-framerate", "1", "-start_number", "0",
                "-i", str(tiles_dir / TILE_PATTERN), "-vf", f"tile={grid.columns}x{grid.rows}", "-c:v", "mjpeg",
                "-q:v", str(JPEG_QUALITY), "-fps_mode", "passthrough", "-start_number", "1",
                str(out_dir / SHEET_PATTERN)])
    return finalize_storyboard(out_dir, duration_s=duration_s, video_duration_s=video_duration_s, fps=fps,
                               width=width, height=height)


# ------------------------------------------------------------------ verification against the store


def verify_assembled(out_dir: Path, info: SourceInfo, rungs: Sequence[Rung], whole: WholeVideo,
                     playlists: Mapping[str, MediaPlaylist], present: Mapping[str, int], *,
                     audio_durations: Mapping[str, float], tolerance_s: float) -> LadderSummary:
    """The assembled manifests in ``out_dir`` against ``present`` (every file under the attempt's
    prefix, by relative name → size, after the chunks' and the lead's uploads and the local
    files to upload); VerifyFailed for anything a player would miss."""
    out_dir = Path(out_dir)

    def named(uri: str, where: str) -> None:
        check_local_uri(uri, where)
        if present.get(uri, 0) <= 0:
            raise VerifyFailed(f"{where} names {uri}, which is {'empty' if uri in present else 'missing'}")

    master = parse_master_playlist(read_manifest(out_dir / MASTER_PLAYLIST), MASTER_PLAYLIST)
    listed = sorted(variant.uri for variant in master.variants)
    if listed != sorted(f"{rung.name}/{MEDIA_PLAYLIST}" for rung in rungs):
        raise VerifyFailed(f"{MASTER_PLAYLIST} lists {listed}, expected one per rung")
    check_audio_group(master, info)
    subtitles = sorted(media.get("URI", "") for media in master.media if media.get("TYPE") == "SUBTITLES")
    if subtitles != sorted(subtitle.playlist for subtitle in whole.subtitles):
        raise VerifyFailed(f"{MASTER_PLAYLIST} lists subtitles {subtitles}, expected {[s.playlist for s in whole.subtitles]}")
    for media in master.media:
        named(media.get("URI", ""), MASTER_PLAYLIST)
    summaries = []
    for rung in sorted(rungs, key=lambda rung: rung.height, reverse=True):
        playlist = playlists[rung.name]
        where = f"{rung.name}/{MEDIA_PLAYLIST}"
        if not playlist.ended or playlist.map_uri is None:
            raise VerifyFailed(f"{where} is incomplete")
        for uri in [playlist.map_uri, *(segment.uri for segment in playlist.segments)]:
            named(f"{rung.name}/{uri}", where)
        width, height = rung_size(info.width, info.height, rung.height)
        variant = next(v for v in master.variants if v.uri == where)
        if variant.attributes.get("RESOLUTION") != f"{width}x{height}":
            raise VerifyFailed(f"{rung.name}: master says RESOLUTION={variant.attributes.get('RESOLUTION')}, "
                               f"expected {width}x{height}")
        summaries.append(RungSummary(rung.name, width, height, int(variant.attributes["BANDWIDTH"]),
                                     len(playlist.segments), playlist.duration_s))
    check_alignment(dict(playlists))
    lasting = {**playlists, **{name: MediaPlaylist(1, (Segment("audio", seconds),), True)
                               for name, seconds in audio_durations.items()}}
    check_duration(lasting, info, tolerance_s)
    if (out_dir / MPD).is_file():
        parsed = dash.parse_mpd(read_manifest(out_dir / MPD, MPD))
        if abs(parsed.duration_s - info.duration_s) > tolerance_s:
            raise VerifyFailed(f"{MPD} lasts {parsed.duration_s:.2f} s but the video lasts {info.duration_s:.2f} s")
        for uri in parsed.files:
            named(uri, MPD)
    return LadderSummary(out_dir / MASTER_PLAYLIST, tuple(summaries), info.has_audio)
