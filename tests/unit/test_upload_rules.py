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
                                         ("video/x-matroska", "video/x-matroska"), ("video/webm", "video/webm"),
                                         ("video/mp2t", "video/mp2t"), ("application/mxf", "application/mxf")])
def test_video_container_types_are_accepted(given, kept):
    assert uploads.check_content_type(given) == kept


def test_every_accepted_type_lands_under_a_video_extension():
    for content_type, extension in uploads.CONTENT_TYPES.items():
        assert uploads.check_content_type(content_type) == content_type
        assert uploads.upload_key("videos", 1, content_type) == f"videos/1/source/upload{extension}"


@pytest.mark.parametrize("given", ["text/html", "video/html", "video/svg+xml", "image/svg+xml", "video/x-unheard-of",
                                   "application/octet-stream", "video/", "video/mp4; codecs=avc1",
                                   "video/mp4\r\nX-Amz-Acl: public-read", ""])
def test_anything_but_a_video_container_type_is_refused_with_the_reason(given):
    with pytest.raises(InvalidInput, match="not a video container type") as refused:
        uploads.check_content_type(given)
    assert "video/mp4" in refused.value.hint  # what to send instead


@pytest.mark.parametrize("given", ["audio/mpeg", "audio/x-wav", "audio/mp4", "Audio/Webm"])
def test_audio_is_refused_as_audio(given):
    with pytest.raises(InvalidInput, match="an audio type: only video is encoded"):
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


# ---------------------------------------------------------------- a multipart upload's parts against its plan

PLAN = uploads.PartPlan(size=100 * MiB + 5, part_size=16 * MiB, count=7)
ETAGS = [f'"{n:032x}"' for n in range(1, 8)]


def held(sizes=None, etags=ETAGS) -> list[uploads.Part]:
    sizes = sizes or [PLAN.part_length(n) for n in range(1, 8)]
    return [uploads.Part(n, etag, size) for n, (etag, size) in enumerate(zip(etags, sizes, strict=True), start=1)]


def test_the_recorded_plan_is_the_one_the_upload_was_created_with():
    assert uploads.recorded_plan(100 * MiB + 5, 16 * MiB) == PLAN
    assert uploads.recorded_plan(100 * MiB, 20 * MiB).count == 5  # a part size chosen by another version
    assert uploads.recorded_plan(100 * MiB + 5, None) == plan_parts(100 * MiB + 5)  # a row from before


def test_the_right_parts_are_joined_in_part_order_as_the_bucket_names_them():
    given = uploads.check_etags([e.strip('"') for e in ETAGS], PLAN)  # a shell drops the quotes
    assert [p.number for p in given] == list(range(1, 8))
    joined = uploads.parts_to_join(PLAN, list(reversed(held())), given)
    assert [(p.number, p.etag) for p in joined] == list(enumerate(ETAGS, start=1))
    assert uploads.parts_to_join(PLAN, held()) == joined  # no list given: the bucket's own, held to the plan


@pytest.mark.parametrize("etags, why", [
    (ETAGS[:6], "the upload has 7 parts, but 6 ETags were given"),
    ([*ETAGS, ETAGS[0]], "the upload has 7 parts, but 8 ETags were given"),
    ([], "but 0 ETags"),
    ([*ETAGS[:2], '"ab"cd"', *ETAGS[3:]], "the ETag given for part 3 is not an ETag"),
    ([*ETAGS[:2], "a b", *ETAGS[3:]], "part 3 is not an ETag"),
    ([*ETAGS[:6], "…"], "part 7 is not an ETag"),
    ([*ETAGS[:6], '"'], "part 7 is not an ETag"),
])
def test_a_list_not_of_the_plan_is_refused_before_anything_is_asked_of_the_bucket(etags, why):
    with pytest.raises(InvalidInput, match=why) as refused:
        uploads.check_etags(etags, PLAN)
    assert refused.value.hint


def test_an_etag_list_in_the_wrong_order_is_refused_naming_the_first_part_that_differs():
    given = uploads.check_etags([ETAGS[1], ETAGS[0], *ETAGS[2:]], PLAN)
    with pytest.raises(InvalidInput, match="the ETag given for part 1 .* is not that of the part the bucket holds"):
        uploads.parts_to_join(PLAN, held(), given)


def test_parts_missing_from_the_bucket_are_named():
    with pytest.raises(InvalidInput, match="2 of the upload's 7 parts have not arrived: part 3, 7") as refused:
        uploads.parts_to_join(PLAN, [p for p in held() if p.number not in (3, 7)])
    assert "PUT each missing part" in refused.value.hint
    with pytest.raises(InvalidInput, match="7 of the upload's 7 parts have not arrived"):
        uploads.parts_to_join(PLAN, [])


def test_a_part_not_of_its_planned_size_is_refused():
    sizes = [PLAN.part_length(n) for n in range(1, 8)]
    sizes[2] -= 1
    with pytest.raises(InvalidInput, match=f"part 3 holds {16 * MiB - 1} bytes, but the upload's plan says {16 * MiB}"):
        uploads.parts_to_join(PLAN, held(sizes))
    sizes[2], sizes[6] = 16 * MiB, 4 * MiB + 6  # the last part is the rest: 4 MiB + 5 bytes
    with pytest.raises(InvalidInput, match=f"part 7 holds {4 * MiB + 6} bytes, but the upload's plan says {4 * MiB + 5}"):
        uploads.parts_to_join(PLAN, held(sizes))


def test_a_part_beyond_the_plan_is_refused():
    extra = [*held(), uploads.Part(8, '"8"', 1)]
    with pytest.raises(InvalidInput, match="part 8, which is not in the upload's plan of 7 parts"):
        uploads.parts_to_join(PLAN, extra)
