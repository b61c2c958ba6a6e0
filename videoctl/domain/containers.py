"""Which containers a source may be: the media file it claims to be, never a list of other files.

ffmpeg picks a demuxer for a file from its content and its name, and some of its "formats"
are not media but lists of other files that the demuxer then opens itself: an HLS playlist
names its segments, a DASH manifest its representations, a concat list its parts, an image
sequence its pictures by a pattern, an SDP file network streams. A source read that way
encodes whatever the list names on the machine that runs the job: another video's source,
a private file (issue #21).

So a source is opened with an allowlist of container demuxers, the ones real uploads come
in, and anything else is refused as ``invalid_input`` with the reason (``refusal``).
Demuxer names are ffmpeg's: one demuxer may carry several comma-joined names
(``mov,mp4,m4a,3gp,3g2,mj2``), and it is allowed when one of them is. ``media.source_input``
turns the list into ffmpeg's ``format_whitelist`` for every open of a source.
"""

from __future__ import annotations

#: ffmpeg's demuxer → what its files are called. Phones and cameras (MP4/MOV), browsers
#: and screen recorders (WebM, Matroska), camcorders and broadcast recordings (MPEG-TS,
#: MPEG-PS, DV, MXF), and the older lecture recordings (AVI, WMV, FLV, Ogg).
ALLOWED_DEMUXERS: dict[str, str] = {
    "mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV/3GP",
    "matroska,webm": "Matroska/WebM",
    "mpegts": "MPEG-TS (.ts, .m2ts, .mts)",
    "mpeg": "MPEG-PS (.mpg, .vob)",
    "avi": "AVI",
    "asf": "ASF/WMV",
    "flv": "FLV",
    "mxf": "MXF",
    "ogg": "Ogg",
    "dv": "DV",
}

#: Demuxers that read a list of other files (or network streams) rather than media.
LIST_DEMUXERS: dict[str, str] = {
    "hls": "an HLS playlist (M3U8)",
    "dash": "a DASH manifest (MPD)",
    "webm_dash_manifest": "a DASH manifest (MPD)",
    "concat": "an ffmpeg concat list",
    "imf": "an IMF composition playlist",
    "sdp": "an SDP session description",
}

#: Demuxers of still pictures: ``image2`` (by file name, which may also be a sequence
#: pattern) and the ``*_pipe`` ones (by content).
_STILL_IMAGES = "image2"
_IMAGE_PIPE_SUFFIX = "_pipe"

_ALLOWED_NAMES = frozenset(name for demuxer in ALLOWED_DEMUXERS for name in demuxer.split(","))


def names_of(demuxer: str) -> list[str]:
    """The names one ffmpeg demuxer answers to: ``mov,mp4,m4a`` → ``["mov", "mp4", "m4a"]``."""
    return [name.strip() for name in demuxer.split(",") if name.strip()]


def is_allowed(demuxer: str) -> bool:
    return any(name in _ALLOWED_NAMES for name in names_of(demuxer))


def format_whitelist() -> str:
    """The allowlist as ffmpeg's ``format_whitelist`` option: every allowed name, comma-joined."""
    return ",".join(ALLOWED_DEMUXERS)


def accepted_text() -> str:
    return ", ".join(ALLOWED_DEMUXERS.values())


def refusal(demuxer: str) -> str | None:
    """None when a source read by ``demuxer`` may be encoded, else why not, for the operator."""
    if is_allowed(demuxer):
        return None
    names = names_of(demuxer)
    if _STILL_IMAGES in names:
        return f"still images and image sequences are not supported ({demuxer}): upload a video"
    if any(name.endswith(_IMAGE_PIPE_SUFFIX) for name in names):
        return f"still images are not supported ({demuxer}): upload a video"
    kind = next((LIST_DEMUXERS[name] for name in names if name in LIST_DEMUXERS), None)
    if kind is not None:
        return list_refusal(kind)
    return f"the {demuxer} format is not a video container videoctl accepts (accepted: {accepted_text()})"


def list_refusal(kind: str | None) -> str:
    """Why a list of other files (``kind``, or None when its kind is not known) is refused."""
    what = kind or "a playlist or a list of files"
    return (f"the source is {what}, which names other files to read, not a media file: "
            "upload the video file itself")


#: How a list announces itself at the start of the file (after a byte-order mark or blanks).
_LIST_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"#EXTM3U", LIST_DEMUXERS["hls"]),
    (b"ffconcat version", LIST_DEMUXERS["concat"]),
)
#: A DASH manifest is XML whose root element is MPD.
_MPD_ROOT = b"<MPD"


def list_kind(head: bytes) -> str | None:
    """What kind of list of other files ``head`` (a file's first bytes) starts, if it starts one.

    This names the list in the refusal only: what a source may be is the allowlist's decision.
    The scratch copy has no name that would make ffmpeg read a playlist as one, so without
    this the refusal of an M3U8 would only say that it is not a media file.
    """
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    for magic, kind in _LIST_MAGIC:
        if text.startswith(magic):
            return kind
    if text.startswith(b"<") and _MPD_ROOT in text:
        return LIST_DEMUXERS["dash"]
    return None
