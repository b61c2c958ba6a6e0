"""The pure rules of direct uploads: part plans within S3's limits, accepted types, key layouts."""

from __future__ import annotations

import pytest

from videoctl.domain import uploads
from videoctl.domain.errors import InvalidInput
from videoctl.domain.uploads import GiB, MiB, TiB, plan_parts


@pytest.mark.parametrize("size", [100 * MiB, 100 * MiB + 1, 700 * MiB, 160 * GiB, 157 * GiB + 1, TiB, 5 * TiB])
def test_every_part_plan_keeps_to_s3s_limits_and_adds_up(size):
    plan = plan_parts(size)
    assert plan.count <= uploads.MAX_PARTS
    assert uploads.MIN_PART <= plan.part_size <= uploads.MAX_PART
    assert plan.part_size % MiB == 0
    lengths = [plan.part_length(n) for n in range(1, plan.count + 1)]
    assert sum(lengths) == size
    assert all(length == plan.part_size for length in lengths[:-1])
    assert 0 < lengths[-1] <= plan.part_size


def test_parts_are_16_mib_until_ten_thousand_would_not_do():
    assert plan_parts(700 * MiB).part_size == 16 * MiB
    assert plan_parts(700 * MiB).count == 44
    big = plan_parts(200 * GiB)  # 200 GiB / 10 000 = 20.48 MiB → 21 MiB parts
    assert big.part_size == 21 * MiB and big.count == 9753


def test_single_put_below_100_mib_and_when_the_size_is_unknown():
    assert not uploads.uses_multipart(None)
    assert not uploads.uses_multipart(100 * MiB - 1)
    assert uploads.uses_multipart(100 * MiB)


@pytest.mark.parametrize("size", [0, -1, 5 * TiB + 1])
def test_a_size_outside_what_s3_stores_is_refused(size):
    with pytest.raises(InvalidInput, match="upload size"):
        uploads.check_size(size)


@pytest.mark.parametrize("given, kept", [("video/mp4", "video/mp4"), (" Video/QuickTime ", "video/quicktime"),
                                         ("audio/x-wav", "audio/x-wav"), ("video/x-matroska", "video/x-matroska")])
def test_video_and_audio_types_are_accepted(given, kept):
    assert uploads.check_content_type(given) == kept


@pytest.mark.parametrize("given", ["text/html", "application/octet-stream", "image/svg+xml", "video/",
                                   "video/mp4; codecs=avc1", "video/mp4\r\nX-Amz-Acl: public-read", ""])
def test_other_types_are_refused_with_the_reason(given):
    with pytest.raises(InvalidInput, match="video or audio type"):
        uploads.check_content_type(given)


def test_the_key_comes_from_the_video_id_and_the_type():
    assert uploads.upload_key("videos", 42, "video/mp4") == "videos/42/source/upload.mp4"
    assert uploads.upload_key("media/v", 7, "video/x-unheard-of") == "media/v/7/source/upload"


@pytest.mark.parametrize("key, video_id", [("videos/123/source/lecture.mp4", 123), ("videos/1/source/a b.mov", 1),
                                           ("videos/9223372036854775807/source/a.mp4", 2**63 - 1),
                                           ("videos/1/source/.hidden", 1), ("videos/1/source/...", 1)])
def test_a_registered_key_names_its_video(key, video_id):
    assert uploads.registered_video_id(key, "videos") == video_id


@pytest.mark.parametrize("key, why", [
    ("other/123/source/a.mp4", "outside the videos root"),
    ("videos/123/a.mp4", "not a source key"),
    ("videos/123/source/", "not a source key"),
    ("videos/123/source/x/a.mp4", "not a source key"),
    ("videos/0123/source/a.mp4", "not a source key"),
    ("videos/0/source/a.mp4", "not a source key"),
    ("videos/abc/source/a.mp4", "not a source key"),
    ("videos/1/source/../../2/source/a.mp4", "'..'"),
    ("/videos/1/source/a.mp4", "must not start with '/'"),
    # Ids past PostgreSQL's bigint: refused here, not by the database.
    ("videos/9223372036854775808/source/a.mp4", "above 9223372036854775807"),
    ("videos/99999999999999999999/source/a.mp4", "above 9223372036854775807"),
    ("videos/" + "9" * 5000 + "/source/a.mp4", "above 9223372036854775807"),  # more digits than int() reads
    # Names that are not a file's.
    ("videos/1/source/.", "names a folder"),
    ("videos/1/source/a.mp4 ", "ends with a space"),
    ("videos/1/source/a.mp4\t", "ends with a space"),
    ("videos/1/source/a\x1b[31m.mp4", "control character U\\+001B"),
    ("videos/1/source/a\nb.mp4", "control character U\\+000A"),
    ("videos/1/source/a\x7f.mp4", "control character U\\+007F"),
    ("videos/1/source/a\x85.mp4", "control character U\\+0085"),
])
def test_a_key_anywhere_else_is_refused(key, why):
    with pytest.raises(InvalidInput, match=why):
        uploads.registered_video_id(key, "videos")
