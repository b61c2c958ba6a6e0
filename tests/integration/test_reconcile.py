"""reconcile on the real PostgreSQL: the local store and moto S3, the local executor and moto Batch.

Each kind of drift is made for real (rows in the database, objects in the store, Batch jobs in
moto's queue), found, left alone without --fix, and repaired with it; what must never be
touched (a live ladder, a source, an active job's attempts, a young folder) is checked to be
still there afterwards.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import boto3
import pytest

from tests import clips
from tests.ladders import ladder_files
from videoctl.api import Client
from videoctl.domain import keys
from videoctl.domain.errors import StorageError
from videoctl.domain.reconcile import Outcome, in_key_order
from videoctl.domain.states import JobState, VideoStatus
from videoctl.services.reconcile import CANCEL_REASON, ORPHAN_REASON, reconcile
from videoctl.storage.local import LocalStore

DAY = 86_400


class World:
    """Videos in the test's database and objects in the configured store."""

    def __init__(self, ctx, tmp_path: Path) -> None:
        self.ctx, self.tmp = ctx, tmp_path
        self.local = isinstance(ctx.store, LocalStore)

    def put(self, key: str, data: bytes = b"x", *, age_s: float | None = 3 * DAY) -> str:
        source = self.tmp / "upload"
        source.write_bytes(data)
        self.ctx.store.upload_file(source, key)
        if age_s is not None and self.local:
            then = time.time() - age_s
            os.utime(self.ctx.store.root / key, (then, then))
        return key

    def ladder(self, prefix: str, *, drop: tuple[str, ...] = (), replace: dict[str, bytes] | None = None,
               age_s: float | None = 3 * DAY, **shape) -> list[str]:
        files = {**ladder_files(**shape), **(replace or {})}
        return [self.put(prefix + name, data, age_s=age_s) for name, data in files.items() if name not in drop]

    def video(self, status: VideoStatus = VideoStatus.READY, *, video_id: int | None = None, job: int = 9,
              ladder: bool = True, source: bool = True, **ladder_shape):
        videos = self.ctx.videos
        video_id = video_id or videos.next_id()
        source_key = keys.source_key("videos", video_id, "a.mp4")
        videos.add(video_id, title=f"video {video_id}", source_key=source_key, size_bytes=1)
        if source:
            self.put(source_key)
        if status is VideoStatus.READY:
            prefix = keys.attempt_prefix("videos", video_id, job, 1)
            if ladder:
                self.ladder(prefix, **ladder_shape)
            videos.set_ready(video_id, keys.master_key(prefix))
        elif status is VideoStatus.PROCESSING:
            videos.set_status(video_id, VideoStatus.PROCESSING)
        return videos.get(video_id)

    def keys(self) -> set[str]:
        return {info.key for info in self.ctx.store.list_prefix("videos/")}


@pytest.fixture
def world(ctx, tmp_path) -> World:
    return World(ctx, tmp_path)


@pytest.fixture
def client(ctx) -> Client:
    return Client(context=ctx)


def by(items, field: str) -> dict:
    return {getattr(item, field): item for item in items}


# ---------------------------------------------------------------- in sync


def test_a_store_that_matches_the_database_is_in_sync(world, client, ctx):
    ready = world.video()
    world.video(VideoStatus.UPLOADED)
    uploading = world.video(VideoStatus.UPLOADED)
    job = ctx.jobs.create(uploading.id, max_attempts=3, begin=True)
    world.put(keys.attempt_prefix("videos", uploading.id, job.id, 1) + "360p/seg_00000.ts")  # its upload so far

    report = client.reconcile()

    assert report.in_sync
    assert [f.counts()["found"] for f in (report.broken, report.orphans, report.unowned, report.stuck)] == [0] * 4
    ladder = ladder_files()
    assert report.scanned == {"videos": 3, "objects": len(ladder) + 3 + 1,
                              "bytes": sum(map(len, ladder.values())) + 3 + 1,
                              "playlists_read": 4, "executor_jobs": None}
    assert ready.hls_path in world.keys()
    # The local executor has no queue: said so, not an error.
    assert report.notes and "local executor has no queue to list" in report.notes[0]


# ---------------------------------------------------------------- (a) broken ladders


def test_each_way_a_ladder_breaks_is_found_and_nothing_changes_without_fix(world, client, ctx):
    world.video(cmaf=True)  # intact
    no_master = world.video(drop=("master.m3u8",))
    no_playlist = world.video(drop=("240p/index.m3u8",))
    no_segment = world.video(drop=("audio/seg_00002.ts",))
    no_init = world.video(cmaf=True, drop=("360p/init.mp4",))
    garbage = world.video(replace={"master.m3u8": b"<html>not a playlist</html>"})
    empty = world.video(ladder=False, source=False)  # READY, and nothing at all in its folder
    before = world.keys()

    report = client.reconcile(fix=False)

    found = by(report.broken.items, "video_id")
    assert set(found) == {no_master.id, no_playlist.id, no_segment.id, no_init.id, garbage.id, empty.id}
    prefix = {v.id: keys.prefix_of_master(v.hls_path) for v in (no_playlist, no_segment, no_init)}
    for video in (no_master, empty):
        assert (found[video.id].missing, found[video.id].first_missing) == (1, video.hls_path)
        assert found[video.id].reason == "the master playlist is missing"
    assert (found[no_playlist.id].missing, found[no_playlist.id].first_missing) == \
        (1, prefix[no_playlist.id] + "240p/index.m3u8")
    assert (found[no_segment.id].missing, found[no_segment.id].first_missing) == \
        (1, prefix[no_segment.id] + "audio/seg_00002.ts")
    assert found[no_segment.id].reason == "1 of the 13 files its playlists name are missing"
    assert found[no_init.id].first_missing == prefix[no_init.id] + "360p/init.mp4"  # CMAF's #EXT-X-MAP counts
    assert found[garbage.id].reason.startswith("a playlist cannot be read:")
    assert {item.outcome for item in report.broken.items} == {Outcome.REPORTED}
    assert report.broken.remaining == 6 and not report.in_sync
    assert ctx.jobs.list() == [] and world.keys() == before


def test_a_name_outside_the_ladder_is_looked_up_and_one_above_the_root_is_missing(world, client):
    """Only the ladder's own folder is listed; anything else a playlist names costs one HEAD."""
    shared = world.put("videos/common/intro.ts")
    playlist = (b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n../../../../common/intro.ts\n"
                b"#EXTINF:4.0,\n../../../../../../../etc/passwd\n#EXT-X-ENDLIST\n")
    video = world.video(replace={"240p/index.m3u8": playlist})

    (item,) = [i for i in client.reconcile().broken.items if i.video_id == video.id]

    assert shared in world.keys()
    assert (item.missing, item.first_missing) == (1, "../../etc/passwd")
    assert item.reason == "1 of the 12 files its playlists name are missing"


def test_a_broken_ladder_with_a_reencode_under_way_is_in_hand(world, client, ctx):
    broken = world.video(drop=("360p/seg_00001.ts",))
    reencode = ctx.jobs.create(broken.id, max_attempts=3, reencode=True, begin=True)

    report = client.reconcile(fix=True)

    (item,) = report.broken.items
    assert (item.outcome, item.job_id) == (Outcome.IN_HAND, reencode.id)
    assert report.in_sync
    assert [j.id for j in ctx.jobs.list(video_id=broken.id)] == [reencode.id]


@pytest.mark.slow
def test_fix_resubmits_a_broken_ladder_and_the_reencode_replaces_it(world, client, ctx, monkeypatch, tmp_path):
    """Real ffmpeg, and the re-encode run by the local executor in its own process."""
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400")
    monkeypatch.setenv("VIDEOCTL_HEARTBEAT_SECONDS", "0.2")
    from videoctl.media.binary import find_ffmpeg

    video = client.add_video(clips.normal(find_ffmpeg(), tmp_path))
    client.run_job(ctx.jobs.create(video.id, max_attempts=3, begin=True).id)
    first = client.get_video(video.id)
    assert client.reconcile().in_sync
    old_prefix = keys.prefix_of_master(first.hls_path)
    segment = sorted(k for k in world.keys() if k.startswith(old_prefix) and k.endswith((".ts", ".m4s")))[1]
    ctx.store.delete_keys([segment])

    report = client.reconcile(fix=True)

    (item,) = report.broken.items
    assert (item.outcome, item.first_missing) == (Outcome.FIXED, segment)
    job = ctx.jobs.get(item.job_id)
    assert job.reencode and job.video_id == video.id
    deadline = time.monotonic() + 180
    while (job := ctx.jobs.get(item.job_id)).state is not JobState.SUCCEEDED:
        assert job.state in (JobState.QUEUED, JobState.SUBMITTED, JobState.RUNNING), job
        assert time.monotonic() < deadline, "the re-encode did not finish"
        time.sleep(0.5)
    again = client.get_video(video.id)
    assert again.status is VideoStatus.READY and again.hls_path != first.hls_path
    assert not any(k.startswith(old_prefix) for k in world.keys())  # the replaced ladder went to delete-r2
    assert client.reconcile().in_sync


# ---------------------------------------------------------------- (b) orphan prefixes


def test_orphans_are_found_and_fix_deletes_only_them(world, client, ctx):
    live = world.video(job=3)
    replaced = keys.attempt_prefix("videos", live.id, 2, 1)
    world.ladder(replaced)  # an old ladder nobody deleted
    thumbs = world.put(f"videos/{live.id}/thumbs/a.jpg")
    young = world.put(keys.attempt_prefix("videos", live.id, 4, 1) + "master.m3u8", age_s=None)
    covered = world.put(keys.attempt_prefix("videos", live.id, 5, 1) + "a.ts")
    request = ctx.delete_requests.add(f"videos/{live.id}/hls/5-1/", "replaced earlier", live.id)
    loose = world.put(f"videos/{live.id}/notes.txt")
    in_root = world.put("videos/readme.txt")
    busy = world.video(VideoStatus.UPLOADED)
    job = ctx.jobs.begin_attempt(ctx.jobs.create(busy.id, max_attempts=3, begin=True))  # on attempt 2
    earlier = world.put(keys.attempt_prefix("videos", busy.id, job.id, 1) + "master.m3u8")
    current = world.put(keys.attempt_prefix("videos", busy.id, job.id, 2) + "360p/seg_00000.ts")
    other_job = world.put(keys.attempt_prefix("videos", busy.id, job.id + 100, 1) + "master.m3u8")
    no_row = world.put("videos/999999/hls/1-1/a.ts")
    not_video = world.put("videos/tmp/a.bin")
    before = world.keys()

    report = client.reconcile()

    found = by(report.orphans.items, "prefix")
    expected = {
        replaced: (Outcome.REPORTED, live.id), f"videos/{live.id}/thumbs/": (Outcome.REPORTED, live.id),
        keys.attempt_prefix("videos", live.id, 4, 1): (Outcome.GRACE, live.id),
        f"videos/{live.id}/hls/5-1/": (Outcome.IN_HAND, live.id), loose: (Outcome.MANUAL, live.id),
        in_root: (Outcome.MANUAL, None), keys.attempt_prefix("videos", busy.id, job.id + 100, 1):
            (Outcome.REPORTED, busy.id),
        "videos/999999/": (Outcome.REPORTED, 999999), "videos/tmp/": (Outcome.REPORTED, None),
    }
    assert {p: (i.outcome, i.video_id) for p, i in found.items()} == expected
    assert found[replaced].objects == len(ladder_files())
    assert found["videos/999999/"].reason == "no video has this id"
    assert found["videos/tmp/"].reason == "not a video's folder"
    assert found[f"videos/{live.id}/hls/5-1/"].request_id == request.id
    assert report.orphans.remaining == 7  # five reported, two loose objects
    assert world.keys() == before  # nothing changes without --fix

    fixed = client.reconcile(fix=True)

    assert {i.prefix for i in fixed.orphans.items if i.outcome is Outcome.FIXED} == {
        replaced, f"videos/{live.id}/thumbs/", keys.attempt_prefix("videos", busy.id, job.id + 100, 1),
        "videos/999999/", "videos/tmp/"}
    left = world.keys()
    assert not any(k.startswith((replaced, f"videos/{live.id}/thumbs/", "videos/999999/", "videos/tmp/"))
                   for k in left)
    assert thumbs not in left and other_job not in left and no_row not in left and not_video not in left
    # Never touched: the live ladder, the source, the active job's attempts, a young folder,
    # a folder a pending request will delete, loose objects.
    assert {live.hls_path, live.source_key, earlier, current, young, covered, loose, in_root} <= left
    pending, total = ctx.delete_requests.list_pending()
    assert (total, pending[0].id) == (1, request.id)  # not sent a second time
    after = client.reconcile()
    assert after.broken.counts()["found"] == 0
    assert after.orphans.remaining == 2 and after.orphans.outcomes[Outcome.MANUAL] == 2


def test_the_grace_period_runs_from_the_newest_object(world, client):
    live = world.video()
    prefix = keys.attempt_prefix("videos", live.id, 2, 1)
    world.put(prefix + "old.ts", age_s=3 * DAY)
    world.put(prefix + "newer.ts", age_s=0.5 * DAY)

    (item,) = client.reconcile().orphans.items  # default 24 h: the newer object keeps it young
    assert (item.prefix, item.outcome) == (prefix, Outcome.GRACE)
    (item,) = client.reconcile(older_than_s=0.25 * DAY).orphans.items
    assert item.outcome is Outcome.REPORTED


def test_fix_leaves_a_folder_a_video_uses_from_outside_its_own(world, client, ctx):
    """A source written outside the video's folder (never by videoctl): the folder looks orphaned,
    and the check made just before the delete keeps it."""
    video_id = ctx.videos.next_id()
    ctx.videos.add(video_id, title="legacy", source_key="videos/legacy/a.mp4", size_bytes=1)
    world.put("videos/legacy/a.mp4")

    (item,) = client.reconcile(fix=True).orphans.items

    assert (item.prefix, item.outcome) == ("videos/legacy/", Outcome.FAILED)
    assert item.error == f"video {video_id}'s source or ladder lies under it; not deleted"
    assert "videos/legacy/a.mp4" in world.keys()


def test_store_and_videos_are_merged_in_byte_order(world, client, ctx):
    ids = [1, 2, 5, 9, 10, 11, 12, 101, 1000]
    for video_id in ids:
        world.video(VideoStatus.UPLOADED, video_id=video_id)
    world.video(video_id=100, ladder=False, source=False)  # READY, nothing stored
    ids.append(100)
    # Byte order puts 1-old/ before 1/ ('-' < '/'), the local store's walk after it: no matter.
    for key in ("videos/1-old/a", "videos/012/a", "videos/13/a"):
        world.put(key)

    assert [row.id for row in in_key_order(ctx.videos.for_reconcile, page=2)] == sorted(ids, key=lambda i: f"{i}/")
    report = client.reconcile()

    assert {i.prefix: i.video_id for i in report.orphans.items} == {
        "videos/1-old/": None, "videos/012/": None, "videos/13/": 13}
    assert [(i.video_id, i.reason) for i in report.broken.items] == [(100, "the master playlist is missing")]
    assert report.scanned["videos"] == len(ids)


def test_a_listing_out_of_byte_order_is_refused(world, ctx, settings):
    """Matching would misjudge every video after the first key out of place: stop instead."""

    class Backwards(LocalStore):
        def list_prefix(self, prefix):
            return iter(sorted(super().list_prefix(prefix), key=lambda info: info.key, reverse=True))

    for video_id in (3, 4):
        world.video(VideoStatus.UPLOADED, video_id=video_id)
    with pytest.raises(StorageError, match="not in byte order"):
        reconcile(videos=ctx.videos, jobs=ctx.jobs, delete_requests=ctx.delete_requests,
                  store=Backwards(settings.storage_dir), executor=ctx.executor, send=ctx.delete_sender,
                  settings=settings)


# ---------------------------------------------------------------- (d) stuck videos


def test_a_video_left_processing_without_a_job_is_set_back_to_uploaded(world, client, ctx):
    stuck = world.video(VideoStatus.PROCESSING)
    busy = world.video(VideoStatus.PROCESSING)
    ctx.jobs.create(busy.id, max_attempts=3, begin=True)

    report = client.reconcile()
    assert [(i.video_id, i.outcome) for i in report.stuck.items] == [(stuck.id, Outcome.REPORTED)]
    assert ctx.videos.get(stuck.id).status is VideoStatus.PROCESSING

    fixed = client.reconcile(fix=True)
    assert [(i.video_id, i.outcome) for i in fixed.stuck.items] == [(stuck.id, Outcome.FIXED)]
    assert ctx.videos.get(stuck.id).status is VideoStatus.UPLOADED
    assert ctx.videos.get(busy.id).status is VideoStatus.PROCESSING
    assert client.reconcile().in_sync


# ---------------------------------------------------------------- (c) the executor's queue (moto Batch)


def batch_job(job_id: str):
    """moto's record of a Batch job: its status is set here as Batch would move it."""
    from moto.batch_simple.models import batch_simple_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    return batch_simple_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]._jobs[job_id]


def test_containers_that_are_no_current_attempt_are_found_and_terminated(moto_batch, world, client, ctx):
    batch = boto3.client("batch", region_name="us-east-1")

    def container(name: str, status: str) -> str:
        job_id = batch.submit_job(jobName=name, jobQueue=moto_batch["queue"],
                                  jobDefinition=moto_batch["job_definition"])["jobId"]
        batch_job(job_id).status = status
        return job_id

    current = client.submit(world.video(VideoStatus.UPLOADED).id)
    batch_job(current.executor_job_id).status = "RUNNING"
    stale_video = world.video(VideoStatus.UPLOADED)
    stale = ctx.jobs.create(stale_video.id, max_attempts=3, begin=True)
    stale_container = container(keys.attempt_job_name(stale_video.id, stale.id, 1), "RUNNABLE")
    ctx.jobs.begin_attempt(stale)  # scan-stuck moved it on to attempt 2
    cancelled_video = world.video(VideoStatus.UPLOADED)
    cancelled = ctx.jobs.cancel(ctx.jobs.create(cancelled_video.id, max_attempts=3, begin=True).id, "test")
    expected = {
        stale_container: f"job {stale.id} is on attempt 2, not 1",
        container(keys.attempt_job_name(cancelled_video.id, cancelled.id, 1), "RUNNING"):
            f"job {cancelled.id} is CANCELLED",
        container(keys.attempt_job_name(stale_video.id + 7, stale.id, 2), "RUNNING"):
            f"job {stale.id} is video {stale_video.id}'s, not video {stale_video.id + 7}'s",
        container(keys.attempt_job_name(1, 999_999, 1), "STARTING"): "no job 999999",
        container("nightly-backup", "STARTING"): "not the name of a videoctl attempt",
    }
    container("finished-long-ago", "SUCCEEDED")  # not listed: it holds nothing

    report = client.reconcile()

    assert {i.executor_job_id: i.reason for i in report.unowned.items} == expected
    assert report.scanned["executor_jobs"] == len(expected) + 1
    assert report.notes == []
    assert not any(batch_job(job_id).stop for job_id in [*expected, current.executor_job_id])

    fixed = client.reconcile(fix=True)

    assert {i.executor_job_id: i.outcome for i in fixed.unowned.items} == dict.fromkeys(expected, Outcome.FIXED)
    assert all(batch_job(job_id).stop and batch_job(job_id).job_stopped_reason == CANCEL_REASON
               for job_id in expected)
    assert not batch_job(current.executor_job_id).stop


# ---------------------------------------------------------------- moto S3 (R2)


def test_on_r2_the_listing_pages_and_orphans_go_to_the_delete_queue(r2_env, world, client, ctx):
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName=ctx.settings.delete_queue_name)["QueueUrl"]
    big = world.video(segments=340)  # 1 024 ladder objects: ListObjectsV2 returns them in two pages
    broken = world.video(drop=("240p/seg_00001.ts",))
    replaced = keys.attempt_prefix("videos", big.id, 2, 1)
    world.ladder(replaced)
    listed = list(ctx.store.list_prefix("videos/"))
    assert all(info.modified is not None and info.modified.tzinfo is not None for info in listed)

    young = client.reconcile(older_than_s=3600)
    assert [(i.prefix, i.outcome) for i in young.orphans.items] == [(replaced, Outcome.GRACE)]
    assert young.scanned["objects"] == len(listed) > 1000
    assert [(i.video_id, i.first_missing) for i in young.broken.items] == [
        (broken.id, keys.prefix_of_master(broken.hls_path) + "240p/seg_00001.ts")]

    world.put(keys.prefix_of_master(broken.hls_path) + "240p/seg_00001.ts")  # (a re-encode would need R2 for real)
    report = client.reconcile(fix=True, older_than_s=0.001)

    assert [(i.prefix, i.outcome) for i in report.orphans.items] == [(replaced, Outcome.FIXED)]
    assert report.in_sync
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert '"prefix": "' + replaced + '"' in message["Body"] and ORPHAN_REASON in message["Body"]
    assert keys.master_key(replaced) in world.keys()  # R2 objects are deleted by the Lambda only
