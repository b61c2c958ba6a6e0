"""HLS ladders written by hand, shaped like the ones run-job uploads: for reconcile's tests and benchmark.

A ladder is a master naming an audio rendition and one media playlist per rung, each naming
its segments (MPEG-TS, or CMAF with an init segment named by #EXT-X-MAP). Reconcile reads
playlists and compares names with a listing, so the segments' bytes do not matter.
"""

from __future__ import annotations

RUNGS = (("360p", "640x360", 800_000), ("240p", "426x240", 400_000))


def _media(segments: int, *, cmaf: bool) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:4", "#EXT-X-PLAYLIST-TYPE:VOD"]
    if cmaf:
        lines.append('#EXT-X-MAP:URI="init.mp4"')
    for n in range(segments):
        lines += ["#EXTINF:4.000000,", f"seg_{n:05d}.{'m4s' if cmaf else 'ts'}"]
    return ("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode()


def master_playlist(rungs=RUNGS, *, audio: bool = True) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio:
        lines.append('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,'
                     'URI="audio/index.m3u8"')
    for name, resolution, bandwidth in rungs:
        group = ',AUDIO="aud"' if audio else ""
        lines += [f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={resolution},CODECS="avc1.64001e,mp4a.40.2"'
                  f"{group}", f"{name}/index.m3u8"]
    return ("\n".join(lines) + "\n").encode()


def ladder_files(*, segments: int = 3, cmaf: bool = False, rungs=RUNGS, audio: bool = True) -> dict[str, bytes]:
    """Name inside the attempt folder → content, the master included."""
    files = {"master.m3u8": master_playlist(rungs, audio=audio)}
    folders = [name for name, _, _ in rungs] + (["audio"] if audio else [])
    for folder in folders:
        files[f"{folder}/index.m3u8"] = _media(segments, cmaf=cmaf)
        if cmaf:
            files[f"{folder}/init.mp4"] = b"init"
        for n in range(segments):
            files[f"{folder}/seg_{n:05d}.{'m4s' if cmaf else 'ts'}"] = b"segment"
    return files
