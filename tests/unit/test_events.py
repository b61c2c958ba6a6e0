"""The events' pure half: what each transition tells, the envelope's bytes, the targets, the signature.

The signature is checked against the verification snippet of docs/events.md itself, run as
it is printed there, so the document a receiver copies from cannot drift from what we send.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from videoctl.domain import events
from videoctl.domain.events import EventType, parse_target, shown_target, sign, verify
from videoctl.domain.models import Event, Job, Video

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"
NOW = datetime(2026, 11, 29, 14, 23, 59, 210312, tzinfo=UTC)
SECRET = "s3cret-for-the-tests-only"


def documented_verify():
    """The `verify` function of docs/events.md's "Verifying a webhook" section, as printed."""
    section = DOCS.read_text(encoding="utf-8").split("## Verifying a webhook", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


def video(**changes) -> Video:
    fields = dict(id=7, title="t", source_key="videos/7/source/a.mp4", status="READY",
                  hls_path="videos/7/hls/12-1/master.m3u8", duration_s=12.5, width=1280, height=720,
                  has_audio=True, size_bytes=100, created_at=NOW, updated_at=NOW,
                  mpd_path="videos/7/hls/12-1/manifest.mpd", poster_path="videos/7/hls/12-1/poster.jpg",
                  poster_small_path="videos/7/hls/12-1/poster-320.jpg",
                  storyboard_path="videos/7/hls/12-1/storyboard.vtt", download_path=None,
                  caption_languages=["en", "ko"])
    return Video(**{**fields, **changes})


def job(**changes) -> Job:
    fields = dict(id=12, video_id=7, state="FAILED", attempt=2, max_attempts=3, reencode=False, priority=None,
                  executor_job_id="local:1:2", runner_id=None, heartbeat_at=None, progress=40,
                  next_attempt_at=None, error_code="media_error", error_message="ffmpeg exited 1",
                  output_prefix=None, created_at=NOW, updated_at=NOW, submitted_at=NOW, started_at=NOW,
                  finished_at=NOW)
    return Job(**{**fields, **changes})


def recorded(new: events.NewEvent, *, number: int = 42, created_at: datetime = NOW) -> Event:
    return Event(id=number, event_id="0b9f6f2e-8d53-4c55-9b0e-2f1f4f2a7c11", type=new.type, video_id=new.video_id,
                 job_id=new.job_id, data=new.data, created_at=created_at, attempts=0, last_attempt_at=None,
                 last_error=None, delivered_at=None, delivered_to=None, receipt=None, discarded_at=None,
                 discard_reason=None)


# ---------------------------------------------------------------- what each transition tells


def test_video_ready_carries_every_output_and_the_duration():
    new = events.video_ready(video(), job_id=12, attempt=1, reencode=False, replaced_hls_path=None)
    assert new.type is EventType.VIDEO_READY and (new.video_id, new.job_id) == (7, 12)
    assert new.data == {
        "attempt": 1, "reencode": False, "hls_path": "videos/7/hls/12-1/master.m3u8",
        "mpd_path": "videos/7/hls/12-1/manifest.mpd", "poster_path": "videos/7/hls/12-1/poster.jpg",
        "poster_small_path": "videos/7/hls/12-1/poster-320.jpg", "storyboard_path": "videos/7/hls/12-1/storyboard.vtt",
        "download_path": None, "caption_languages": ["en", "ko"], "duration_s": 12.5, "width": 1280,
        "height": 720, "has_audio": True, "replaced_hls_path": None}


def test_job_events_carry_the_error_code_or_the_reason():
    failed = events.job_failed(job())
    assert failed.type == "job.failed" and failed.data["error_code"] == "media_error"
    assert failed.data["attempt"] == 2 and failed.data["max_attempts"] == 3
    assert events.job_dead(job(state="DEAD", error_code="invalid_input")).data["error_code"] == "invalid_input"
    cancelled = events.job_cancelled(job(state="CANCELLED", error_code="cancelled", error_message="wrong file"))
    assert cancelled.type == "job.cancelled" and cancelled.data["reason"] == "wrong file"
    assert "error_code" not in cancelled.data
    failed_video = events.video_failed(7, error_code="upload_expired", error_message="never uploaded")
    assert (failed_video.type, failed_video.job_id, failed_video.data) == (
        "video.failed", None, {"error_code": "upload_expired", "error_message": "never uploaded"})


def test_every_type_is_documented_with_an_example():
    text = DOCS.read_text(encoding="utf-8")
    for kind in EventType:
        assert f"### `{kind}`" in text, kind
        assert f'"type": "{kind}"' in text, kind


# ---------------------------------------------------------------- the envelope


def test_the_envelope_is_versioned_and_its_bytes_are_the_same_on_every_resend():
    event = recorded(events.video_ready(video(), job_id=12, attempt=1, reencode=False, replaced_hls_path=None))
    document = json.loads(events.body(event))
    assert document == {"version": 1, "id": event.event_id, "sequence": 42, "type": "video.ready",
                        "occurred_at": "2026-11-29T14:23:59.210312+00:00", "source": "videoctl",
                        "video_id": 7, "job_id": 12, "data": event.data}
    # Read back in another time zone, the row gives the same bytes.
    elsewhere = recorded(events.video_ready(video(), job_id=12, attempt=1, reencode=False, replaced_hls_path=None),
                         created_at=NOW.astimezone(timezone(timedelta(hours=9))))
    assert events.body(elsewhere) == events.body(event)
    assert b" " not in events.body(event).replace(b"master.m3u8", b"")  # canonical: no spaces


def test_the_documented_example_has_the_fields_the_code_sends():
    text = DOCS.read_text(encoding="utf-8")
    example = json.loads(re.search(r"### `video.ready`.*?```json\n(.*?)```", text, re.DOTALL).group(1))
    event = recorded(events.video_ready(video(), job_id=12, attempt=1, reencode=False, replaced_hls_path=None))
    sent = json.loads(events.body(event))
    assert set(example) == set(sent) and set(example["data"]) == set(sent["data"])


# ---------------------------------------------------------------- targets


@pytest.mark.parametrize(("raw", "kind", "value"), [
    ("eventbridge:videoctl-events", "eventbridge", "videoctl-events"),
    ("eventbridge:arn:aws:events:eu-west-1:123456789012:event-bus/videoctl", "eventbridge",
     "arn:aws:events:eu-west-1:123456789012:event-bus/videoctl"),
    ("sns:arn:aws:sns:eu-west-1:123456789012:videoctl-events", "sns", "arn:aws:sns:eu-west-1:123456789012:videoctl-events"),
    ("sns:arn:aws:sns:eu-west-1:123456789012:videoctl.fifo", "sns", "arn:aws:sns:eu-west-1:123456789012:videoctl.fifo"),
    ("https://app.example.com/hooks/videoctl?v=1", "webhook", "https://app.example.com/hooks/videoctl?v=1"),
    ("http://127.0.0.1:8080/hook", "webhook", "http://127.0.0.1:8080/hook"),
    ("http://localhost/hook", "webhook", "http://localhost/hook"),
    ("http://[::1]:9000/hook", "webhook", "http://[::1]:9000/hook"),
])
def test_targets_are_parsed(raw, kind, value):
    target = parse_target(raw)
    assert (target.kind, target.value) == (kind, value)
    assert parse_target(str(target)) == target  # what settings keep reads back the same


@pytest.mark.parametrize("raw", ["https://hooks.internal_net.example/x", "https://b\u00fccher.example/hook",
                                 "https://app.example.com./hook", "https://[2001:db8::1]:8443/hook"])
def test_host_names_dns_can_hold_are_taken(raw):
    assert parse_target(raw).value == raw


@pytest.mark.parametrize(("raw", "shown"), [
    ("https://app.example.com/hooks/videoctl?token=abc", "https://app.example.com/hooks/videoctl?****"),
    ("https://app.example.com/hooks/videoctl", "https://app.example.com/hooks/videoctl"),
    ("eventbridge:videoctl", "eventbridge:videoctl"),
])
def test_a_webhook_query_string_is_shown_masked(raw, shown):
    assert shown_target(raw) == shown


def test_a_target_names_its_bus_or_topic_and_where():
    bus = parse_target("eventbridge:arn:aws:events:eu-west-1:123456789012:event-bus/videoctl")
    assert bus.name == "videoctl" and bus.arn_region_account == ("eu-west-1", "123456789012")
    assert parse_target("eventbridge:videoctl").arn_region_account is None
    topic = parse_target("sns:arn:aws:sns:us-east-1:123456789012:events.fifo")
    assert topic.name == "events.fifo" and topic.fifo and topic.arn_region_account == ("us-east-1", "123456789012")


@pytest.mark.parametrize(("raw", "why"), [
    ("kafka:topic", "must be eventbridge:BUS"),
    ("eventbridge:", "names no EventBridge bus"),
    ("eventbridge:bad name", "names no EventBridge bus"),
    ("sns:videoctl-events", "needs an SNS topic ARN"),
    ("sns:arn:aws:sqs:eu-west-1:123456789012:q", "needs an SNS topic ARN"),
    ("http://app.example.com/hook", "must be https://"),
    ("https://user:pw@app.example.com/hook", "must not carry a user or password"),
    ("https:///hook", "has no host"),
    ("https://app.example.com:99999/hook", "not a valid URL"),
    ("https://app.example.com/\x1b[2J", "control character"),
    ("https://app.exa mple.com/hook", "contains a space"),
    ("https://app.example.com/my hook", "contains a space"),
    ("https://app..example.com/hook", "invalid host name"),
    ("https://-app.example.com/hook", "invalid host name"),
    ("https://app.exam!ple.com/hook", "invalid host name"),
])
def test_bad_targets_say_why(raw, why):
    with pytest.raises(ValueError, match=re.escape(why)):
        parse_target(raw)


# ---------------------------------------------------------------- the signature


def test_the_signature_is_what_the_documented_receiver_verifies():
    verify_as_documented = documented_verify()
    body = b'{"id":"x","type":"video.ready"}'
    header = sign(SECRET, 1_800_000_000, body)
    assert re.fullmatch(r"t=1800000000,v1=[0-9a-f]{64}", header)
    for check in (verify_as_documented, lambda s, h, b, now: verify(s, h, b, now=now)):
        assert check(SECRET, header, body, 1_800_000_000 + 10)
        assert not check(SECRET, header, body + b" ", 1_800_000_000)  # the body was changed
        assert not check("another-secret-entirely", header, body, 1_800_000_000)
        assert not check(SECRET, header, body, 1_800_000_000 + 301)  # replayed six minutes later
        assert not check(SECRET, header, body, 1_800_000_000 - 301)  # a clock far off
        assert not check(SECRET, "v1=" + header.split("v1=")[1], body, 1_800_000_000)  # no timestamp
        assert not check(SECRET, header.replace("t=1800000000", "t=1800000100"), body, 1_800_000_100)


def test_each_send_is_signed_for_its_own_moment():
    body = b"{}"
    assert sign(SECRET, 1, body) != sign(SECRET, 2, body)
