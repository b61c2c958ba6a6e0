"""The pure prefix rules, the delete message, and process_message over an in-memory store."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from videoctl.domain import prefixes
from videoctl.domain.errors import InvalidInput, StorageError
from videoctl.domain.keys import key_problem
from videoctl.domain.prefixes import (
    build_message,
    check_delete_prefix,
    idempotency_key,
    live_ladder_overlap,
    owner_video_id,
    parse_message,
    process_message,
)
from videoctl.storage.base import ObjectInfo

ROOT = "videos"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class MemoryStore:
    """An object store in a dict, matching prefixes as strings (as S3 and LocalStore do).

    It does not batch deletes itself, so the 1 000-key limit seen here is
    process_message's own.
    """

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self.objects = {k: len(k) for k in keys}
        self.delete_calls: list[int] = []

    def list_prefix(self, prefix: str) -> Iterator[ObjectInfo]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                yield ObjectInfo(key, self.objects[key])

    def delete_keys(self, keys: Iterable[str]) -> int:
        keys = list(keys)
        self.delete_calls.append(len(keys))
        for key in keys:
            self.objects.pop(key, None)  # absent keys are done
        return len(keys)


def body(for_prefix: str, **overrides) -> str:
    message = build_message(for_prefix, "test", bucket="b", videos_root=ROOT, requested_at=NOW).to_dict()
    message.update(overrides)
    return json.dumps(message)


# ---------------------------------------------------------------- prefix rules


@pytest.mark.parametrize(
    ("prefix", "why"),
    [
        ("", "empty"),
        ("/", "start with '/'"),
        ("/videos/12/", "start with '/'"),
        ("videos/", "videos root itself"),
        ("videos", "end with '/'"),
        ("videos/12", "end with '/'"),
        ("videos/../secrets/", "'..'"),
        ("videos/12/../13/", "'..'"),
        ("videos//12/", "empty or '.'"),
        ("videos/./12/", "empty or '.'"),
        ("other/12/", "outside the videos root"),
        ("videos2/12/", "outside the videos root"),
        ("videos/12\\x/", "backslash"),
        ("videos/12\x00/", "control"),
        ("videos/" + "a" * 1100 + "/", "longer than"),
    ],
)
def test_refused_prefixes_say_why(prefix, why):
    with pytest.raises(InvalidInput) as refused:
        check_delete_prefix(prefix, ROOT)
    assert why in refused.value.message


@pytest.mark.parametrize("prefix", ["videos/12/", "videos/12/hls/3-1/", "videos/old-uploads/", "videos/12.mp4/"])
def test_accepted_prefixes(prefix):
    assert check_delete_prefix(prefix, ROOT) == prefix


def test_nested_videos_root():
    assert check_delete_prefix("media/videos/1/", "media/videos") == "media/videos/1/"
    with pytest.raises(InvalidInput):
        check_delete_prefix("media/videos/", "media/videos")


def test_video_id_confines_the_prefix_to_that_video():
    assert check_delete_prefix("videos/12/hls/1-1/", ROOT, video_id=12)
    for other in ("videos/13/", "videos/123/", "videos/1/"):
        with pytest.raises(InvalidInput, match="not inside video 12"):
            check_delete_prefix(other, ROOT, video_id=12)


def test_owner_video_id():
    assert owner_video_id("videos/12/", ROOT) == 12
    assert owner_video_id("videos/12/hls/1-1/", ROOT) == 12
    assert owner_video_id("videos/old/", ROOT) is None
    assert owner_video_id("videos/012/", ROOT) is None  # not how video 12's prefix is spelled
    assert owner_video_id("videos/١٢/", ROOT) is None  # non-ASCII digits are not an id
    assert owner_video_id("other/12/", ROOT) is None


def test_live_ladder_overlap_both_ways():
    hls = "videos/12/hls/3-1/master.m3u8"
    assert live_ladder_overlap("videos/12/", hls) == "videos/12/hls/3-1/"  # contains it
    assert live_ladder_overlap("videos/12/hls/", hls) == "videos/12/hls/3-1/"
    assert live_ladder_overlap("videos/12/hls/3-1/v0/", hls) == "videos/12/hls/3-1/"  # inside it
    assert live_ladder_overlap("videos/12/hls/2-1/", hls) is None  # an older attempt
    assert live_ladder_overlap("videos/12/hls/3-10/", hls) is None
    assert live_ladder_overlap("videos/12/source/", hls) is None
    assert live_ladder_overlap("videos/12/", None) is None


# ---------------------------------------------------------------- the message


def test_message_round_trip_and_shape():
    message = build_message("videos/12/hls/1-1/", " replaced ", bucket="b", videos_root=ROOT, video_id=12,
                            requested_at=NOW.astimezone(timezone(timedelta(hours=9))))
    data = json.loads(message.to_json())
    assert data == {
        "version": 1, "prefix": "videos/12/hls/1-1/", "bucket": "b", "reason": "replaced", "video_id": 12,
        "requested_at": "2024-05-01T12:00:00+00:00", "idempotency_key": message.idempotency_key,
    }
    assert parse_message(message.to_json(), bucket="b", videos_root=ROOT) == message


def test_idempotency_key_is_deterministic_per_request():
    args = {"bucket": "b", "prefix": "videos/1/", "reason": "r", "video_id": 1}
    assert idempotency_key(**args) == idempotency_key(**args)
    assert len(idempotency_key(**args)) == 32
    assert idempotency_key(**args, request_id=7) == idempotency_key(**args, request_id=7)
    assert idempotency_key(**args, request_id=7) != idempotency_key(**args, request_id=8)
    assert idempotency_key(**args) != idempotency_key(**{**args, "prefix": "videos/2/"})


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (None, "not JSON"),
        (body("videos/1/", version=2), "unsupported message version 2"),
        (body("videos/1/", version=True), "unsupported message version"),
        (body("videos/1/", version=1.0), "unsupported message version"),
        (body("videos/1/", extra="x"), "unexpected ['extra']"),
        (json.dumps({k: v for k, v in json.loads(body("videos/1/")).items() if k != "reason"}), "missing ['reason']"),
        (body("videos/1/", bucket="other"), "for bucket 'other'"),
        (body("videos/1/", prefix="videos/"), "videos root itself"),
        (body("videos/1/", prefix="videos/1"), "end with '/'"),
        (body("videos/1/", prefix=7), "'prefix' must be a string"),
        (body("videos/1/", video_id=2), "not inside video 2"),
        (body("videos/1/", video_id="1"), "'video_id'"),
        (body("videos/1/", requested_at="2024-05-01T12:00:00"), "no time zone"),
        (body("videos/1/", requested_at="yesterday"), "ISO 8601"),
        (body("videos/1/", reason="  "), "needs a reason"),
        (body("videos/1/", idempotency_key=""), "idempotency_key"),
    ],
)
def test_parse_refuses_malformed_messages_and_deletes_nothing(raw, why):
    store = MemoryStore(["videos/1/a", "videos/12/b"])
    with pytest.raises(InvalidInput) as refused:
        process_message(raw, store, bucket="b", videos_root=ROOT)
    assert why in refused.value.message
    assert store.delete_calls == [] and len(store.objects) == 2


# ---------------------------------------------------------------- process_message


def test_batches_of_at_most_1000_whatever_the_store_does():
    assert prefixes.DELETE_BATCH == 1000
    inside = [f"videos/12/hls/1-1/seg{i:05d}.ts" for i in range(2500)]
    neighbours = ["videos/123/a", "videos/12.mp4", "videos/1/x", "videos/12"]
    store = MemoryStore(inside + neighbours)
    result = process_message(body("videos/12/"), store, bucket="b", videos_root=ROOT)
    assert result.deleted == 2500 and result.batches == 3
    assert store.delete_calls == [1000, 1000, 500]
    assert sorted(store.objects) == sorted(neighbours)
    # Redelivered: nothing left to delete, still a success.
    assert process_message(body("videos/12/"), store, bucket="b", videos_root=ROOT).deleted == 0


def test_a_listed_key_outside_the_prefix_stops_the_delete():
    class Broken(MemoryStore):
        def list_prefix(self, prefix):
            yield ObjectInfo("videos/12/a", 1)
            yield ObjectInfo("videos/123/b", 1)  # a store bug: not under the prefix

    store = Broken(["videos/12/a", "videos/123/b"])
    with pytest.raises(StorageError, match="outside it"):
        process_message(body("videos/12/"), store, bucket="b", videos_root=ROOT)
    assert "videos/123/b" in store.objects and store.delete_calls == []


# ---------------------------------------------------------------- the property

SEGMENTS = st.sampled_from(["videos", "12", "123", "1", "12.mp4", "hls", "1-1", "..", ".", "", "v0", "videos2"])
SAFE = st.sampled_from(["12", "123", "1", "012", "12.mp4", "hls", "1-1", "v0", "videos"])
KEY = st.one_of(
    st.lists(SAFE, min_size=1, max_size=4).map(lambda s: "videos/" + "/".join(s)),  # under the root
    st.lists(SAFE, min_size=2, max_size=4).map(lambda s: "videos/" + "/".join(s)),  # deeper under it
    st.lists(SEGMENTS, min_size=1, max_size=5).map("/".join),  # anything, neighbours included
)
KEYS = st.lists(KEY, min_size=1, max_size=40, unique=True)


@st.composite
def prefix_for(draw, keys: list[str]) -> str:
    """A key cut after one of its slashes, a safe-looking prefix, a cut anywhere, or any string of segments."""
    kind = draw(st.sampled_from(["slash", "slash", "safe", "anywhere", "built"]))
    if kind == "safe":
        return "videos/" + "/".join(draw(st.lists(SAFE, min_size=1, max_size=3))) + "/"
    if kind == "built":
        segments = draw(st.lists(SEGMENTS, max_size=4))
        return ("/" if draw(st.booleans()) else "") + "/".join(segments) + ("/" if draw(st.booleans()) else "")
    key = draw(st.sampled_from(keys))
    cuts = [i + 1 for i, c in enumerate(key) if c == "/"] if kind == "slash" else []
    if len(cuts) > 1 and draw(st.booleans()):
        cuts = cuts[1:]  # below the first level more often: that is where deletes happen
    return key[: draw(st.sampled_from(cuts) if cuts else st.integers(0, len(key)))]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), keys=KEYS)
def test_nothing_outside_the_prefix_is_ever_deleted(data, keys):
    prefix = data.draw(prefix_for(keys))
    owner = owner_video_id(prefix, ROOT)
    video_id = data.draw(st.sampled_from([None, None, owner, owner, 1, 12]))
    store = MemoryStore(keys)
    message = json.dumps({"version": 1, "prefix": prefix, "bucket": "b", "reason": "r", "video_id": video_id,
                          "requested_at": NOW.isoformat(), "idempotency_key": "k"})
    try:
        check_delete_prefix(prefix, ROOT, video_id=video_id)
    except InvalidInput:
        event("refused")
        with pytest.raises(InvalidInput):
            process_message(message, store, bucket="b", videos_root=ROOT)
        assert set(store.objects) == set(keys), "a refused prefix deleted something"
        return
    event("accepted, deleted some" if any(k.startswith(prefix) for k in keys) else "accepted, nothing under it")
    # Accepted: a safe prefix strictly under the root, ending in '/'.
    assert prefix.startswith(ROOT + "/") and prefix.endswith("/") and prefix != ROOT + "/"
    # What the producer builds for it, the consumer accepts.
    built = build_message(prefix, "r", bucket="b", videos_root=ROOT, video_id=video_id, requested_at=NOW)
    assert parse_message(built.to_json(), bucket="b", videos_root=ROOT) == built
    result = process_message(message, store, bucket="b", videos_root=ROOT)
    # A listed key no store may name ('..' and the like) is skipped and reported; the rest goes.
    unsafe = {k for k in keys if k.startswith(prefix) and key_problem(k)}
    assert set(store.objects) == {k for k in keys if not k.startswith(prefix)} | unsafe
    assert result.deleted == sum(1 for k in keys if k.startswith(prefix)) - len(unsafe)
    assert result.skipped == len(unsafe) and set(result.skipped_keys) == unsafe
    assert all(n <= 1000 for n in store.delete_calls)


def test_dotdot_is_reported_before_the_trailing_slash_hint():
    with pytest.raises(InvalidInput, match=r"must not contain '\.\.'") as info:
        prefixes.check_delete_prefix("videos/../x", "videos")
    assert info.value.hint is None  # never a hint that suggests a climbing prefix
