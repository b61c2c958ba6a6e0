"""After ffmpeg: finish the master playlist, verify the ladder, and order the upload.

``finalize_master`` rewrites master.m3u8 from measurements, because ffmpeg's own master
leaves the shared audio out of each variant's BANDWIDTH (RFC 8216 wants the combined
figure), writes no FRAME-RATE, and lists an audio-only variant that an ABR player could
switch to and show a black picture.

Segments are MPEG-TS or fragmented MP4 (CMAF: an init segment per rendition, named by the
media playlist's ``EXT-X-MAP``). A fragment cannot be read alone, so the measurements and
checks read it behind its init segment.

``verify_ladder`` is the last gate before upload: a READY video must point at a ladder that
plays, so anything missing, empty, cut short or of the wrong shape raises VerifyFailed.

``upload_order`` puts media (segments, images, downloads) first, then the manifests that name
them (media playlists, the MPD, the storyboard's WebVTT), then the master, so a player can
never fetch a manifest that names a file not yet uploaded.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import av.error
from av.container import InputContainer
from av.video.stream import VideoStream

from videoctl.domain.audio import AudioRendition
from videoctl.domain.errors import VerifyFailed
from videoctl.domain.ladder import Rung, output_fps, rung_size
from videoctl.domain.outputs import MPD, STORYBOARD, SubtitleRendition
from videoctl.media.encode import AUDIO_GROUP, AUDIO_NAME, FMP4, MASTER_PLAYLIST, MEDIA_PLAYLIST, TS
from videoctl.media.m3u8 import MasterPlaylist, MediaPlaylist, parse_master_playlist, parse_media_playlist
from videoctl.media.manifests import check_local_uri, check_named_file, read_manifest
from videoctl.media.probe import SourceInfo

#: Segment durations of different variants may differ by EXTINF rounding, no more.
_ALIGNMENT_TOLERANCE_S = 0.05
#: NAL unit type of an H.264 sequence parameter set.
_NAL_SPS = 7
#: AAC profile (as PyAV names it) → audio object type of the ``mp4a.40.N`` codec string.
_AAC_OBJECT_TYPES = {"LC": 2, "HE-AAC": 5, "HE-AACv2": 29}

#: The HLS group every variant names in SUBTITLES="…".
SUBTITLE_GROUP = "subs"
#: Apple's media characteristic of an audio description (HLS authoring spec).
DESCRIBES_VIDEO = "public.accessibility.describes-video"

_CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".mpd": "application/dash+xml",
    ".ts": "video/mp2t",
    ".m4s": "video/mp4",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".vtt": "text/vtt",
}


@dataclass(frozen=True)
class RungSummary:
    name: str
    width: int
    height: int
    bandwidth: int
    segments: int
    duration_s: float


@dataclass(frozen=True)
class LadderSummary:
    master: Path
    rungs: tuple[RungSummary, ...]
    has_audio: bool


@dataclass(frozen=True)
class Rendition:
    """Measurements of one media playlist and its first segment, for the master playlist and the MPD."""

    peak_bps: int
    average_bps: int
    codec: str
    width: int
    height: int
    channels: int
    sample_rate: int = 0


def content_type_for(path: Path | str) -> str:
    """Content-Type to upload a ladder file with."""
    return _CONTENT_TYPES.get(Path(path).suffix.lower(), "application/octet-stream")


def upload_order(out_dir: Path) -> list[Path]:
    """Every file under ``out_dir``: media, then the manifests naming them, then master.m3u8."""
    out_dir = Path(out_dir)
    files = sorted(path for path in out_dir.rglob("*") if path.is_file())
    master = out_dir / MASTER_PLAYLIST
    manifests = {master, out_dir / MPD, out_dir / STORYBOARD}

    def is_manifest(path: Path) -> bool:
        return path.suffix == ".m3u8" or path in manifests

    media = [path for path in files if not is_manifest(path)]
    listings = [path for path in files if is_manifest(path) and path != master]
    return media + listings + [path for path in files if path == master]


def finalize_master(out_dir: Path, info: SourceInfo, rungs: tuple[Rung, ...],
                    subtitles: Sequence[SubtitleRendition] = ()) -> Path:
    """Rewrite ``out_dir/master.m3u8`` with measured BANDWIDTH, CODECS, RESOLUTION, FRAME-RATE,
    and a SUBTITLES group when there are captions."""
    out_dir = Path(out_dir)
    audio = {rendition: measure_audio(out_dir / rendition.name) for rendition in info.audio_renditions}
    video = {rung.name: measure_video(out_dir / rung.name) for rung in rungs}
    fmp4 = load_media_playlist(out_dir / rungs[0].name).map_uri is not None
    return write_master(out_dir, master_text(info, rungs, video, audio, subtitles, fmp4=fmp4))


def master_text(info: SourceInfo, rungs: Sequence[Rung], video: Mapping[str, Rendition],
                audio: Mapping[AudioRendition, Rendition], subtitles: Sequence[SubtitleRendition] = (), *,
                fmp4: bool) -> str:
    """The master playlist from each rendition's measurements (``video`` by rung name)."""
    # A variant plays with any of the tracks: its BANDWIDTH must cover the largest (RFC 8216 4.3.4.2).
    loudest = max(audio.values(), key=lambda measured: measured.peak_bps, default=None)
    # EXT-X-MAP without I-frames-only needs version 6; fMP4 segments are version 7 in the
    # media playlists ffmpeg writes, and the master says the same.
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{7 if fmp4 else 6}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    lines += [audio_media_line(rendition, measured.channels) for rendition, measured in audio.items()]
    lines += [subtitle_media_line(rendition) for rendition in subtitles]
    frame_rate = f"{float(output_fps(info.fps)):.3f}"
    for rung in sorted(rungs, key=lambda rung: rung.height, reverse=True):
        measured = video[rung.name]
        attributes = [
            f"BANDWIDTH={measured.peak_bps + (loudest.peak_bps if loudest else 0)}",
            f"AVERAGE-BANDWIDTH={measured.average_bps + (loudest.average_bps if loudest else 0)}",
            f"RESOLUTION={measured.width}x{measured.height}",
            f"FRAME-RATE={frame_rate}",
        ]
        if loudest is not None:
            attributes += [f'CODECS="{measured.codec},{loudest.codec}"', f'AUDIO="{AUDIO_GROUP}"']
        else:
            attributes.append(f'CODECS="{measured.codec}"')
        if subtitles:
            attributes.append(f'SUBTITLES="{SUBTITLE_GROUP}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attributes), f"{rung.name}/{MEDIA_PLAYLIST}"]
    return "\n".join(lines) + "\n"


def write_master(out_dir: Path, text: str) -> Path:
    master = Path(out_dir) / MASTER_PLAYLIST
    partial = master.with_name(master.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, master)  # atomic: never a half-written master
    return master


def audio_media_line(rendition: AudioRendition, channels: int) -> str:
    """The ``#EXT-X-MEDIA`` tag of one audio track in the audio group.

    An audio description carries Apple's accessibility characteristic, so players offer it
    to those who asked for descriptions and never pick it for anyone else (AUTOSELECT=NO).
    """
    attributes = [f'TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="{_quoted(rendition.label)}"']
    if rendition.language:
        attributes.append(f'LANGUAGE="{_quoted(rendition.language)}"')
    attributes.append(f'DEFAULT={"YES" if rendition.default else "NO"}')
    attributes.append(f'AUTOSELECT={"NO" if rendition.track.describes_video and not rendition.default else "YES"}')
    if rendition.track.describes_video:
        attributes.append(f'CHARACTERISTICS="{DESCRIBES_VIDEO}"')
    attributes += [f'CHANNELS="{channels}"', f'URI="{rendition.name}/{MEDIA_PLAYLIST}"']
    return "#EXT-X-MEDIA:" + ",".join(attributes)


def subtitle_media_line(rendition: SubtitleRendition) -> str:
    """The ``#EXT-X-MEDIA`` tag of one caption language in the SUBTITLES group."""
    return (
        f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="{SUBTITLE_GROUP}",LANGUAGE="{_quoted(rendition.language)}",'
        f'NAME="{_quoted(rendition.name)}",DEFAULT={"YES" if rendition.default else "NO"},AUTOSELECT=YES,'
        f'URI="{_quoted(rendition.playlist)}"'
    )


def _quoted(text: str) -> str:
    """An RFC 8216 quoted-string holds no double quote, CR or LF: they are replaced, never passed on."""
    return "".join("'" if char == '"' else " " if ord(char) < 0x20 or char == "\x7f" else char for char in text)


def verify_ladder(
    out_dir: Path,
    info: SourceInfo,
    rungs: tuple[Rung, ...],
    *,
    tolerance_s: float | None = None,
    segment_format: str | None = None,
    subtitles: Sequence[SubtitleRendition] = (),
) -> LadderSummary:
    """Check the ladder in ``out_dir`` is complete and matches the source; raise VerifyFailed.

    ``segment_format`` (``"fmp4"`` or ``"ts"``) is what every media playlist must hold; None
    accepts either, as long as all of them agree.

    The ladder's duration is that of its longest playlist, because a source's audio and
    video may end apart (players cope) while the source's duration is the longer of the two.
    ``tolerance_s`` bounds its distance from the source's duration; by default the larger of
    1 s and the target duration (one segment): enough for frame-rate conversion, too little
    to hide a ladder that stops early.
    """
    out_dir = Path(out_dir)
    master_path = out_dir / MASTER_PLAYLIST
    master = parse_master_playlist(read_manifest(master_path), MASTER_PLAYLIST)
    ordered = sorted(rungs, key=lambda rung: rung.height, reverse=True)
    expected = {f"{rung.name}/{MEDIA_PLAYLIST}": rung for rung in ordered}
    listed = [variant.uri for variant in master.variants]
    if sorted(listed) != sorted(expected):
        raise VerifyFailed(f"{MASTER_PLAYLIST} lists {listed}, expected {sorted(expected)}")
    check_audio_group(master, info)
    _check_subtitle_group(master, out_dir, subtitles)

    summaries = []
    playlists: dict[str, MediaPlaylist] = {}
    for variant in master.variants:
        rung = expected[variant.uri]
        width, height = rung_size(info.width, info.height, rung.height)
        resolution = f"{width}x{height}"
        if variant.attributes.get("RESOLUTION") != resolution:
            raise VerifyFailed(f"{rung.name}: master says RESOLUTION={variant.attributes.get('RESOLUTION')}, expected {resolution}")
        bandwidth = _positive_int(variant.attributes.get("BANDWIDTH"), f"{rung.name}: BANDWIDTH")
        if not variant.attributes.get("CODECS", "").startswith("avc1."):
            raise VerifyFailed(f"{rung.name}: master has no H.264 CODECS attribute")
        playlist = playlists[rung.name] = _check_media_playlist(out_dir / rung.name)
        check_video_segment(out_dir / rung.name, playlist, rung.name, width, height)
        summaries.append(
            RungSummary(
                name=rung.name,
                width=width,
                height=height,
                bandwidth=bandwidth,
                segments=len(playlist.segments),
                duration_s=playlist.duration_s,
            )
        )
    check_alignment(playlists)
    for rendition in info.audio_renditions:
        playlist = playlists[rendition.name] = _check_media_playlist(out_dir / rendition.name)
        check_audio_segment(out_dir / rendition.name, playlist, rendition)
    _check_segment_format(playlists, segment_format)
    check_duration(playlists, info, tolerance_s)
    return LadderSummary(master=master_path, rungs=tuple(summaries), has_audio=info.has_audio)


def load_media_playlist(directory: Path) -> MediaPlaylist:
    """``directory/index.m3u8``, parsed; VerifyFailed if it is missing, malformed or has no segments."""
    name = f"{directory.name}/{MEDIA_PLAYLIST}"
    playlist = parse_media_playlist(read_manifest(directory / MEDIA_PLAYLIST), name)
    if not playlist.segments:
        raise VerifyFailed(f"{name} has no segments")
    return playlist


def _check_media_playlist(directory: Path) -> MediaPlaylist:
    playlist = load_media_playlist(directory)
    name = f"{directory.name}/{MEDIA_PLAYLIST}"
    if not playlist.ended:
        raise VerifyFailed(f"{name} has no #EXT-X-ENDLIST: the playlist is incomplete")
    files = [segment.uri for segment in playlist.segments]
    if playlist.map_uri is not None:
        files.insert(0, playlist.map_uri)
    for uri in files:
        check_named_file(directory, uri, name)
    return playlist


def _check_segment_format(playlists: dict[str, MediaPlaylist], expected: str | None) -> None:
    found = {name: FMP4 if playlist.map_uri is not None else TS for name, playlist in playlists.items()}
    wanted = expected or next(iter(found.values()))
    wrong = sorted(name for name, kind in found.items() if kind != wanted)
    if wrong:
        raise VerifyFailed(f"{', '.join(wrong)}: segments are not {wanted} like the rest of the ladder"
                           if expected is None else f"{', '.join(wrong)}: segments are not {wanted}")


def check_duration(playlists: dict[str, MediaPlaylist], info: SourceInfo, tolerance_s: float | None) -> None:
    longest_name, longest = max(playlists.items(), key=lambda item: item[1].duration_s)
    target = max(playlist.target_duration or 0 for playlist in playlists.values())
    tolerance = tolerance_s if tolerance_s is not None else max(1.0, float(target))
    if abs(longest.duration_s - info.duration_s) > tolerance:
        raise VerifyFailed(
            f"the ladder lasts {longest.duration_s:.2f} s ({longest_name}) but the source lasts "
            f"{info.duration_s:.2f} s (tolerance {tolerance:.2f} s)"
        )


def check_audio_group(master: MasterPlaylist, info: SourceInfo) -> None:
    audio_media = [media for media in master.media if media.get("TYPE") == "AUDIO"]
    if info.has_audio and not audio_media:
        raise VerifyFailed("the source has audio but the master playlist has no audio rendition")
    if not info.has_audio and audio_media:
        raise VerifyFailed("the source has no audio but the master playlist has an audio rendition")
    listed = sorted(media.get("URI", "") for media in audio_media)
    expected = sorted(f"{rendition.name}/{MEDIA_PLAYLIST}" for rendition in info.audio_renditions)
    if listed != expected:
        raise VerifyFailed(f"{MASTER_PLAYLIST} lists audio {listed}, expected one per source track: {expected}")
    defaults = [media.get("URI") for media in audio_media if media.get("DEFAULT") == "YES"]
    if audio_media and defaults != [f"{AUDIO_NAME}/{MEDIA_PLAYLIST}"]:
        raise VerifyFailed(f"{MASTER_PLAYLIST}: the default audio is {defaults}, expected the source's default track")
    for variant in master.variants:
        if info.has_audio and variant.attributes.get("AUDIO") != AUDIO_GROUP:
            raise VerifyFailed(f"{variant.uri} is not linked to the audio group {AUDIO_GROUP!r}")


def _check_subtitle_group(master: MasterPlaylist, out_dir: Path, subtitles: Sequence[SubtitleRendition]) -> None:
    """Exactly the given caption languages, each playlist present, every variant linked to them."""
    listed = sorted(media.get("URI", "") for media in master.media if media.get("TYPE") == "SUBTITLES")
    expected = sorted(rendition.playlist for rendition in subtitles)
    if listed != expected:
        raise VerifyFailed(f"{MASTER_PLAYLIST} lists subtitles {listed}, expected {expected}")
    for uri in listed:
        check_local_uri(uri, MASTER_PLAYLIST)
        if not (out_dir / uri).is_file():
            raise VerifyFailed(f"{MASTER_PLAYLIST} names {uri}, which is missing")
    for variant in master.variants:
        if subtitles and variant.attributes.get("SUBTITLES") != SUBTITLE_GROUP:
            raise VerifyFailed(f"{variant.uri} is not linked to the subtitle group {SUBTITLE_GROUP!r}")


def _positive_int(value: str | None, what: str) -> int:
    if value is None or not value.isdigit() or int(value) <= 0:
        raise VerifyFailed(f"{what} is {value!r}, expected a positive whole number")
    return int(value)


def check_alignment(playlists: dict[str, MediaPlaylist]) -> None:
    """Every variant must cut segments at the same timestamps, or switching glitches."""
    durations = {name: [segment.duration_s for segment in p.segments] for name, p in playlists.items()}
    (first_name, first), *others = durations.items()
    for name, other in others:
        if len(other) != len(first) or any(
            abs(a - b) > _ALIGNMENT_TOLERANCE_S for a, b in zip(first, other, strict=False)
        ):
            raise VerifyFailed(f"segments of {name} are not aligned with those of {first_name}")


def _open_first_segment(directory: Path, playlist: MediaPlaylist) -> InputContainer:
    """The first segment of a playlist, behind its init segment when it is fragmented MP4."""
    uri = playlist.segments[0].uri
    try:
        if playlist.map_uri is None:
            return av.open(str(directory / uri))
        # A CMAF fragment holds no codec parameters: they are in the init segment.
        data = (directory / playlist.map_uri).read_bytes() + (directory / uri).read_bytes()
        return av.open(io.BytesIO(data), format="mp4")
    except FileNotFoundError as exc:
        raise VerifyFailed(f"{directory.name}/{Path(exc.filename).name} is missing") from None
    except av.error.FFmpegError as exc:
        raise VerifyFailed(f"{directory.name}/{uri} cannot be read: {exc.strerror}") from None


def check_video_segment(directory: Path, playlist: MediaPlaylist, name: str, width: int, height: int) -> None:
    first = playlist.segments[0].uri
    with _open_first_segment(directory, playlist) as container:
        if not container.streams.video:
            raise VerifyFailed(f"{name}: {first} has no video stream")
        if container.streams.audio:
            raise VerifyFailed(f"{name}: {first} carries audio, which belongs in the audio group")
        context = container.streams.video[0].codec_context
        if (context.width, context.height) != (width, height):
            raise VerifyFailed(f"{name}: video is {context.width}x{context.height}, expected {width}x{height}")
        if context.name != "h264" or context.pix_fmt != "yuv420p":
            raise VerifyFailed(f"{name}: video is {context.name} {context.pix_fmt}, expected h264 yuv420p")


def check_audio_segment(directory: Path, playlist: MediaPlaylist, rendition: AudioRendition) -> None:
    """AAC-LC at the rendition's rate and channel count: what every player and HLS's rules accept."""
    where = f"{directory.name}/{playlist.segments[0].uri}"
    with _open_first_segment(directory, playlist) as container:
        if not container.streams.audio:
            raise VerifyFailed(f"{where} has no audio stream")
        context = container.streams.audio[0].codec_context
        found = (context.name, context.profile or "LC", context.sample_rate, context.channels)
        wanted = ("aac", "LC", rendition.sample_rate, rendition.channels)
        if found != wanted:
            raise VerifyFailed(f"{where} is {found[0]} {found[1]} {found[2]} Hz {found[3]} ch, "
                               f"expected AAC-LC {wanted[2]} Hz {wanted[3]} ch")


def _bitrates(directory: Path) -> tuple[MediaPlaylist, int, int]:
    """A media playlist with its peak and average bit rates."""
    playlist = load_media_playlist(directory)
    sizes = []
    for segment in playlist.segments:
        try:
            sizes.append((directory / segment.uri).stat().st_size)
        except FileNotFoundError:
            raise VerifyFailed(f"{directory.name}/{MEDIA_PLAYLIST} names {segment.uri}, which is missing") from None
    durations = [segment.duration_s for segment in playlist.segments]
    average = round(8 * sum(sizes) / max(sum(durations), 1e-3))
    return playlist, peak_bitrate(sizes, durations, playlist.target_duration), average


def measure_audio(directory: Path) -> Rendition:
    """Bit rates, codec string and channels of the audio rendition in ``directory``."""
    playlist, peak, average = _bitrates(directory)
    with _open_first_segment(directory, playlist) as container:
        if not container.streams.audio:
            raise VerifyFailed(f"{directory.name}: no audio stream in the first segment")
        context = container.streams.audio[0].codec_context
        codec = f"mp4a.40.{_AAC_OBJECT_TYPES.get(context.profile or 'LC', 2)}"
        return Rendition(peak, average, codec, width=0, height=0, channels=context.channels,
                         sample_rate=context.sample_rate)


def measure_video(directory: Path) -> Rendition:
    """Bit rates, codec string and size of the video rendition in ``directory``."""
    playlist, peak, average = _bitrates(directory)
    with _open_first_segment(directory, playlist) as container:
        if not container.streams.video:
            raise VerifyFailed(f"{directory.name}: no video stream in the first segment")
        stream = container.streams.video[0]
        codec = _avc_codec(container, stream, directory.name)
        context = stream.codec_context
        return Rendition(peak, average, codec, width=context.width, height=context.height, channels=0)


def peak_bitrate(sizes: list[int], durations: list[float], target_duration: int | None) -> int:
    """RFC 8216 peak segment bit rate, in bits per second.

    The largest bit rate of any run of consecutive segments lasting between 0.5 and 1.5
    target durations, so a short final segment never counts alone. Never below the
    playlist's average (which also covers a clip shorter than half a target duration).
    """
    target = float(target_duration or max(durations))
    peak = 8 * sum(sizes) / max(sum(durations), 1e-3)
    for start in range(len(sizes)):
        total_bytes, total_s = 0, 0.0
        for size, duration in zip(sizes[start:], durations[start:], strict=True):
            total_bytes += size
            total_s += duration
            if total_s > 1.5 * target:
                break
            if total_s >= 0.5 * target:
                peak = max(peak, 8 * total_bytes / total_s)
    return round(peak)


def _avc_codec(container: InputContainer, stream: VideoStream, name: str) -> str:
    """``avc1.PPCCLL`` from the stream's own SPS: profile, constraint flags, level.

    In MP4 the SPS sits in the init segment's ``avcC`` record (version 1, then profile,
    constraint flags and level); in MPEG-TS it is in the first packets (Annex B).
    """
    extradata = stream.codec_context.extradata or b""
    if len(extradata) >= 4 and extradata[0] == 1:
        return "avc1." + extradata[1:4].hex()
    for packet in container.demux(stream):
        sps = _find_sps(bytes(packet))
        if sps is not None:
            return "avc1." + sps.hex()
    raise VerifyFailed(f"{name}: no H.264 sequence parameter set in the first segment")


def _find_sps(data: bytes) -> bytes | None:
    """profile_idc, constraint flags and level_idc of the first SPS in Annex B data."""
    start = data.find(b"\x00\x00\x01")
    while start != -1 and start + 7 <= len(data):
        if data[start + 3] & 0x1F == _NAL_SPS:
            return data[start + 4 : start + 7]
        start = data.find(b"\x00\x00\x01", start + 3)
    return None
