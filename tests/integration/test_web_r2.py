"""`videoctl serve` with R2 storage (moto behind an R2-style endpoint): a browser is sent to a
short-lived presigned URL for each image, segment and download, while playlists and WebVTT are
relayed by the server so that their relative URIs keep pointing at it. The pages read the
ladder from the bucket; nothing outside a video's ladder can be named; no secret leaves.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from tests.browser.site import request
from tests.browser.test_captions_playback import srt
from videoctl.api import Client
from videoctl.db.repositories import JobRepository
from videoctl.domain import keys
from videoctl.media.binary import find_ffmpeg
from videoctl.media.sample import generate_sample_clip
from videoctl.settings import Settings
from videoctl.web.server import running

pytestmark = pytest.mark.slow


@pytest.fixture
def on_r2(r2_env, conn, tmp_path, monkeypatch):
    """A READY video with Korean captions, encoded by run-job into the moto bucket, and the page
    serving it from a thread of this process (moto answers only here)."""
    monkeypatch.setenv("VIDEOCTL_LADDER", "240:400")
    clip = generate_sample_clip(find_ffmpeg(), tmp_path / "clip.mp4", seconds=4, width=426, height=240)
    with Client() as videoctl:
        video = videoctl.add_video(clip, title="on R2", captions={"ko": srt(tmp_path / "ko.srt")})
        result = videoctl.run_job(JobRepository(conn).create(video.id, max_attempts=1).id)
    assert result.video.status == "READY"
    with running(Settings.from_env()) as listening:
        yield result.video, listening["url"].rstrip("/")


def stored(key: str) -> bytes:
    return boto3.client("s3", region_name="us-east-1").get_object(Bucket="videos-test", Key=key)["Body"].read()


def test_images_segments_and_the_download_go_to_presigned_urls(on_r2, r2_env):
    video, base = on_r2
    prefix = keys.prefix_of_master(video.hls_path)
    for name in ("poster.jpg", "poster-320.jpg", "storyboard.jpg", "download.mp4", "240p/init_240p.mp4",
                 "240p/seg_00000.m4s"):
        status, headers, body = request(base, f"/videos/{video.id}/media/{name}")
        assert (status, body) == (307, b""), name
        assert headers["cache-control"] == "no-store"
        location = headers["location"]
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}" == r2_env["R2_ENDPOINT_URL"]
        assert parts.path == f"/videos-test/{prefix}{name}"  # path-style, as R2 wants
        query = parse_qs(parts.query)
        assert query["X-Amz-Expires"] == ["300"] and query["X-Amz-Signature"]
        assert r2_env["R2_SECRET_ACCESS_KEY"] not in location
        fetched = requests.get(location, timeout=30)  # what the browser does next
        assert fetched.status_code == 200 and fetched.content == stored(prefix + name), name

    status, headers, _ = request(base, f"/videos/{video.id}/media/download.mp4?download")
    disposition = parse_qs(urlsplit(headers["location"]).query)["response-content-disposition"]
    assert status == 307 and disposition == [f'attachment; filename="video-{video.id}.mp4"']


def test_playlists_and_webvtt_are_relayed_so_their_relative_uris_stay_here(on_r2):
    video, base = on_r2
    prefix = keys.prefix_of_master(video.hls_path)
    for name, kind in (("master.m3u8", "application/vnd.apple.mpegurl"), ("240p/index.m3u8", "application/vnd.apple.mpegurl"),
                       ("manifest.mpd", "application/dash+xml"), ("storyboard.vtt", "text/vtt; charset=utf-8"),
                       ("subs/ko.m3u8", "application/vnd.apple.mpegurl"), ("subs/ko.vtt", "text/vtt; charset=utf-8")):
        status, headers, body = request(base, f"/videos/{video.id}/media/{name}")
        assert (status, headers["content-type"]) == (200, kind), name
        assert body == stored(prefix + name), name
    assert request(base, f"/videos/{video.id}/media/nothing.m3u8")[0] == 404
    for path in ("../source/clip.mp4", "..%2F..%2Fsource%2Fclip.mp4", "subs/../../source/clip.mp4"):
        assert request(base, f"/videos/{video.id}/media/{path}")[0] == 404, path


def test_the_pages_read_the_ladder_from_the_bucket(on_r2):
    video, base = on_r2
    status, _, body = request(base, "/")
    assert status == 200
    assert f'src="/videos/{video.id}/media/poster-320.jpg"'.encode() in body and b"240p" in body
    status, _, body = request(base, f"/videos/{video.id}")
    assert status == 200 and b"426x240" in body
    assert b"r2-test-secret" not in body and b"r2-test-key" not in body
    # The player plays through the signed playback route, as a viewer's does: from R2, like the
    # media URLs, its playlists relayed and the rest sent on to presigned URLs.
    prefix = keys.prefix_of_master(video.hls_path)
    source = re.search(rb'data-src="(/t/[^/"]+/)([^"]+)"', body)
    assert source is not None and source[2].decode() == prefix + "master.m3u8"
    status, headers, master = request(base, (source[1] + source[2]).decode())
    assert (status, master, headers["cache-control"]) == (200, stored(prefix + "master.m3u8"), "public, max-age=60")
    status, headers, _ = request(base, f"{source[1].decode()}{prefix}240p/seg_00000.m4s")
    assert status == 307 and urlsplit(headers["location"]).path == f"/videos-test/{prefix}240p/seg_00000.m4s"


def test_a_local_store_has_no_presigned_url(env, tmp_path):
    with Client() as videoctl:
        assert videoctl.presigned_url("videos/1/hls/1-1/poster.jpg") is None
    root = Path(env["VIDEOCTL_STORAGE_DIR"])
    (root / "videos/1").mkdir(parents=True)
    (root / "videos/1/poster.jpg").write_bytes(b"jpeg")
    with Client() as videoctl, videoctl.open_object("videos/1/poster.jpg") as opened:
        assert opened.read() == b"jpeg"
