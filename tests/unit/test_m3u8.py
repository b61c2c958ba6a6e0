"""The small HLS playlist parser, on playlist text (pure, no ffmpeg, no files)."""

from __future__ import annotations

import pytest

from videoctl.domain.errors import VerifyFailed
from videoctl.media.m3u8 import parse_attributes, parse_master_playlist, parse_media_playlist

MASTER = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=950000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",AUDIO="audio"
360p/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=500000,RESOLUTION=426x240,CODECS="avc1.640015,mp4a.40.2",AUDIO="audio"
240p/index.m3u8
"""

MEDIA = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:4.000000,
seg_00000.ts
#EXTINF:4.000000,
seg_00001.ts
#EXTINF:1.500000,
seg_00002.ts
#EXT-X-ENDLIST
"""


def test_attributes_keep_commas_inside_quotes() -> None:
    assert parse_attributes('BANDWIDTH=1,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720') == {
        "BANDWIDTH": "1",
        "CODECS": "avc1.64001f,mp4a.40.2",
        "RESOLUTION": "1280x720",
    }


def test_master() -> None:
    master = parse_master_playlist(MASTER)
    assert [v.uri for v in master.variants] == ["360p/index.m3u8", "240p/index.m3u8"]
    assert master.variants[0].attributes["CODECS"] == "avc1.64001e,mp4a.40.2"
    assert master.variants[1].attributes["BANDWIDTH"] == "500000"
    assert master.media == ({"TYPE": "AUDIO", "GROUP-ID": "audio", "NAME": "audio", "DEFAULT": "YES", "URI": "audio/index.m3u8"},)


def test_media() -> None:
    playlist = parse_media_playlist(MEDIA)
    assert playlist.target_duration == 4
    assert playlist.ended
    assert [s.uri for s in playlist.segments] == ["seg_00000.ts", "seg_00001.ts", "seg_00002.ts"]
    assert playlist.duration_s == pytest.approx(9.5)


def test_media_in_fragmented_mp4_names_its_init_segment() -> None:
    text = MEDIA.replace("#EXT-X-INDEPENDENT-SEGMENTS\n", '#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI="init_360p.mp4"\n')
    assert parse_media_playlist(text).map_uri == "init_360p.mp4"
    assert parse_media_playlist(MEDIA).map_uri is None  # MPEG-TS has none
    with pytest.raises(VerifyFailed, match="#EXT-X-MAP has no URI"):
        parse_media_playlist(MEDIA.replace("#EXT-X-ENDLIST", "#EXT-X-MAP:BYTERANGE=10"))


def test_media_without_endlist_is_not_ended() -> None:
    assert not parse_media_playlist(MEDIA.replace("#EXT-X-ENDLIST\n", "")).ended


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "does not start with #EXTM3U"),
        ("seg.ts\n", "does not start with #EXTM3U"),
        ("#EXTM3U\nseg.ts\n", "has no #EXTINF duration"),
        ("#EXTM3U\n#EXTINF:4.0,\n", "the last #EXTINF has no segment URI"),
        ("#EXTM3U\n#EXTINF:four,\nseg.ts\n", "'four' is not a number"),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:x\n", "'x' is not a number"),
    ],
)
def test_malformed_media_playlists(text: str, reason: str) -> None:
    with pytest.raises(VerifyFailed, match=reason):
        parse_media_playlist(text, "360p/index.m3u8")


def test_stream_inf_without_uri() -> None:
    with pytest.raises(VerifyFailed, match="no URI after it"):
        parse_master_playlist("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n")
