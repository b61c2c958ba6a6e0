"""Which outputs an attempt left, read off the keys under its prefix."""

from videoctl.domain.outputs import Outputs, outputs_from_keys

PREFIX = "videos/7/hls/3-1/"


def test_every_known_output_is_found_and_nothing_else():
    keys = [PREFIX + name for name in (
        "master.m3u8", "manifest.mpd", "poster.jpg", "poster-320.jpg", "storyboard.vtt", "storyboard.jpg",
        "download.mp4", "subs/ko.m3u8", "subs/ko/0.vtt", "subs/en.m3u8", "subs/en.vtt", "720p/init.mp4")]
    assert outputs_from_keys(PREFIX, keys) == Outputs(
        mpd_path=PREFIX + "manifest.mpd", poster_path=PREFIX + "poster.jpg",
        poster_small_path=PREFIX + "poster-320.jpg", storyboard_path=PREFIX + "storyboard.vtt",
        download_path=PREFIX + "download.mp4", caption_languages=("en", "ko"))


def test_a_bare_ladder_has_no_other_outputs_and_other_prefixes_do_not_count():
    keys = [PREFIX + "master.m3u8", PREFIX + "360p/playlist.m3u8", "videos/7/hls/2-1/poster.jpg",
            PREFIX + "subs/nested/x.m3u8"]
    assert outputs_from_keys(PREFIX, keys) == Outputs()
