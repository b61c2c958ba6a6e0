"""`videoctl serve` over HTTP, as a browser or a player sends it (paths exactly as written): only
requests addressed to a loopback name without a token (421 otherwise), media
with byte ranges and the right types, nothing outside a video's ladder (a '..' or a planted link
is a 404), error pages for unknown ids, a 503 page while the database is down and the pages
back when it is, and one request's failure logged while the next is served.

These need no browser, only the server of tests/browser/site.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from tests.browser.site import clean_env, read_document, request
from tests.processes import wait_until
from videoctl.db import embedded
from videoctl.db.repositories import VideoRepository
from videoctl.domain import keys
from videoctl.domain.outputs import Outputs


def ladder_of(site, video_id: int) -> tuple[str, Path]:
    """The video's master key, and the folder it is in in the local store."""
    hls_path = VideoRepository(site.jobs.conn).get(video_id).hls_path
    return hls_path, site.storage / keys.prefix_of_master(hls_path)


def media(site, video_id: int, path: str) -> str:
    return f"/videos/{video_id}/media/{path}"


def test_media_comes_with_its_type_and_answers_byte_ranges(site):
    _, folder = ladder_of(site, site.demo_video)
    expected = {"master.m3u8": "application/vnd.apple.mpegurl", "manifest.mpd": "application/dash+xml",
                "storyboard.vtt": "text/vtt; charset=utf-8", "poster.jpg": "image/jpeg", "download.mp4": "video/mp4",
                "360p/index.m3u8": "application/vnd.apple.mpegurl", "360p/seg_00000.m4s": "video/iso.segment",
                "360p/init_360p.mp4": "video/mp4"}
    for name, kind in expected.items():
        status, headers, body = request(site.base, media(site, site.demo_video, name))
        assert (status, headers["content-type"]) == (200, kind), name
        assert body == (folder / name).read_bytes(), name

    whole = (folder / "download.mp4").read_bytes()
    path = media(site, site.demo_video, "download.mp4")
    status, headers, body = request(site.base, path, headers={"Range": "bytes=100-1099"})
    assert (status, headers["content-range"], body) == (206, f"bytes 100-1099/{len(whole)}", whole[100:1100])
    assert headers["accept-ranges"] == "bytes" and headers["content-length"] == "1000"
    status, headers, body = request(site.base, path, headers={"Range": "bytes=-500"})
    assert (status, body) == (206, whole[-500:])
    status, headers, body = request(site.base, path, headers={"Range": f"bytes={len(whole) - 10}-"})
    assert (status, body) == (206, whole[-10:])
    for bad in (f"bytes={len(whole)}-", "bytes=500-100", "bytes=oops"):
        status, headers, _ = request(site.base, path, headers={"Range": bad})
        assert (status, headers["content-range"]) == (416, f"bytes */{len(whole)}"), bad
    status, headers, body = request(site.base, path, method="HEAD")
    assert (status, headers["content-length"], body) == (200, str(len(whole)), b"")
    etag = headers["etag"]
    status, _, body = request(site.base, path, headers={"If-None-Match": etag})
    assert (status, body) == (304, b"")


@pytest.mark.parametrize("path", ["/", "/jobs", "/jobs/live", "/videos/{video}", "/videos/{video}/media/master.m3u8",
                                  "/videos/{video}/media/poster.jpg", "/static/app.css", "/no/such/page"])
def test_without_a_token_a_request_addressed_to_another_name_gets_421(site, path):
    path = path.format(video=site.demo_video)
    port = urlsplit(site.base).port
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.nip.io:{port}", "localhost.evil.example"):
        status, headers, body = request(site.base, path, headers={"Host": host})
        assert status == 421, (host, path, status)
        assert b"Misdirected request" in body and b"hls" not in body.lower() and b"EXTM3U" not in body
        assert request(site.base, path, method="HEAD", headers={"Host": host})[0] == 421
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert request(site.base, path, headers={"Host": host})[0] in (200, 404), (host, path)


def test_a_range_is_read_as_rfc_9110_says_and_a_huge_number_is_a_416_not_a_500(site):
    _, folder = ladder_of(site, site.demo_video)
    whole = (folder / "download.mp4").read_bytes()
    path = media(site, site.demo_video, "download.mp4")
    logged_before = len(site.server.log_text())
    status, headers, body = request(site.base, path, headers={"Range": "BYTES=0-1"})  # the unit in any case
    assert (status, headers["content-range"], body) == (206, f"bytes 0-1/{len(whole)}", whole[:2])
    status, headers, body = request(site.base, path, headers={"Range": "items=0-1"})  # a unit unknown: ignored
    assert (status, body) == (200, whole) and "content-range" not in headers
    for huge in ("bytes=" + "9" * 5000 + "-", "bytes=0-" + "1" * 4400, "bytes=-" + "7" * 10_000):
        status, headers, body = request(site.base, path, headers={"Range": huge})
        assert (status, headers["content-range"]) == (416, f"bytes */{len(whole)}"), body[:300]
    logged = site.server.log_text()[logged_before:]
    assert "Traceback" not in logged and "ValueError" not in logged


@pytest.mark.parametrize("path", [
    "../source/demo.mp4", "../../1/source/sample.mp4", "360p/../../source/sample.mp4", "..%2F..%2Fsource%2Fsample.mp4",
    "%2e%2e/%2e%2e/source/sample.mp4", "360p/%2e%2e/%2e%2e/source", "./master.m3u8", "360p//index.m3u8",
    "..", "..\\..\\source", "%00master.m3u8", "/etc/passwd", "nothing-here.m4s"])
def test_path_traversal_in_media_urls_gets_404(site, path):
    status, headers, body = request(site.base, media(site, site.demo_video, path))
    assert status == 404, (path, body[:300])
    assert headers["content-type"].startswith("text/html") and b"Not found" in body


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2Fapp.py",
                                  "/static/vendor/../../pages.py", "/videos/../jobs/../static/../web/app.py"])
def test_path_traversal_out_of_the_static_files_gets_404(site, path):
    status, _, body = request(site.base, path)
    assert status == 404 and b"import" not in body, path


def test_a_link_planted_in_a_ladder_is_never_followed(site, tmp_path):
    _, folder = ladder_of(site, site.demo_video)
    secret = tmp_path / "outside.txt"
    secret.write_text("not for the browser")
    links = [folder / "planted.m3u8", folder / "360p" / "planted.m4s"]
    source_link = folder / "source-link"
    try:
        for link in links:
            link.symlink_to(secret)
        source_link.symlink_to(site.storage / "videos" / str(site.demo_video) / "source", target_is_directory=True)
        for path in ("planted.m3u8", "360p/planted.m4s", "source-link/sample.mp4"):
            status, _, body = request(site.base, media(site, site.demo_video, path))
            assert status == 404 and b"not for the browser" not in body, path
        assert "symbolic link" in site.server.log_text()
    finally:
        for link in [*links, source_link]:
            link.unlink(missing_ok=True)


def test_a_hard_link_planted_in_a_ladder_is_not_served(site):
    _, folder = ladder_of(site, site.demo_video)
    secret = site.home / "outside-secret.txt"  # on the store's filesystem, as a hard link needs
    secret.write_text("not for the browser")
    planted = [folder / "planted.m3u8", folder / "360p" / "planted.m4s"]
    # A real output given a second name elsewhere is refused too: which of the names is the
    # planted one cannot be told.
    second_name = site.home / "second-name-of-poster.jpg"
    try:
        for link in planted:
            os.link(secret, link)
        os.link(folder / "poster.jpg", second_name)
        for path in ("planted.m3u8", "360p/planted.m4s", "poster.jpg"):
            for method in ("GET", "HEAD"):
                status, _, body = request(site.base, media(site, site.demo_video, path), method=method)
                assert status == 404 and b"not for the browser" not in body, (path, method)
        assert "hard links" in site.server.log_text()
    finally:
        for link in [*planted, second_name]:
            link.unlink(missing_ok=True)
    assert request(site.base, media(site, site.demo_video, "poster.jpg"))[0] == 200


@pytest.mark.parametrize("path", ["/videos/987654", "/videos/987654/media/master.m3u8", "/videos/99999999999999999999",
                                  "/videos/abc", "/no/such/page", "/static/nothing.js"])
def test_unknown_ids_and_paths_get_a_404_page(site, path):
    status, headers, body = request(site.base, path)
    assert status == 404 and headers["content-type"].startswith("text/html"), path
    assert b"<h1>404" in body


def test_an_unknown_status_filter_is_a_400_page(site):
    status, _, body = request(site.base, "/?status=LOST")
    assert status == 400 and b"unknown status" in body


def test_a_database_that_is_down_gets_a_503_page_with_the_reason_and_the_pages_come_back(site, pg_server_url):
    name = urlsplit(site.db_url).path.lstrip("/")
    assert request(site.base, "/")[0] == 200  # the server holds open connections now
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        try:
            for path in ("/", "/jobs", f"/videos/{site.demo_video}", "/jobs/live",
                         media(site, site.demo_video, "poster.jpg")):
                for _ in range(2):  # a broken connection, then no connection at all
                    status, headers, body = request(site.base, path)
                    assert status == 503, (path, body[:400])
                    assert headers["retry-after"] == "5"
                    assert b"Database unavailable" in body
            assert b"not currently accepting connections" in body  # the reason, from PostgreSQL
            assert b"postgres@" not in body  # the URL's user part is masked
            status, _, _ = request(site.base, "/static/app.css")
            assert status == 200  # what needs no database is still served
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name)))
    site.jobs.conn.reconnect()
    for path in ("/", "/jobs", f"/videos/{site.demo_video}"):
        assert request(site.base, path)[0] == 200, path
    assert "Database unavailable".lower() in site.server.log_text().lower()


@pytest.fixture
def embedded_home():
    """A home of this test's own, whose embedded PostgreSQL it may stop (never the shared server).
    Not under a home folder: as root pgserver opens every parent folder."""
    home = Path(f"/tmp/videoctl-serve-{uuid.uuid4().hex[:8]}")
    yield home
    embedded.stop_server(home / "pgdata")
    shutil.rmtree(home, ignore_errors=True)


def test_the_embedded_database_stopped_gets_a_503_on_every_request_and_the_pages_come_back(embedded_home):
    env = clean_env(VIDEOCTL_HOME=str(embedded_home))  # no database URL: the embedded default

    def videoctl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "videoctl", "--json", *args], env=env, capture_output=True,
                              text=True, timeout=120)

    assert videoctl("db", "status").returncode == 0  # the server started and migrated
    log = embedded_home / "serve.log"
    with log.open("wb") as stderr:
        served = subprocess.Popen([sys.executable, "-m", "videoctl", "--json", "serve", "--port", "0"], env=env,
                                  stdout=subprocess.PIPE, stderr=stderr)
    try:
        base = read_document(served.stdout, log)["data"]["url"].rstrip("/")
        paths = ("/", "/jobs", "/jobs/live", "/videos/1", "/videos/1/media/master.m3u8")
        assert [request(base, path)[0] for path in paths] == [200, 200, 200, 404, 404]

        stopped = videoctl("db", "stop")
        assert stopped.returncode == 0 and json.loads(stopped.stdout)["data"]["stopped"] is True
        for _ in range(3):  # a broken connection first, then no server to connect to, again and again
            for path in paths:
                status, headers, body = request(base, path)
                assert status == 503, (path, body[:600])
                assert headers["retry-after"] == "5" and b"Database unavailable" in body
        assert request(base, "/static/app.css")[0] == 200
        log_text = log.read_text(errors="replace")
        assert "Traceback" not in log_text and "unexpected" not in log_text

        assert videoctl("db", "status").returncode == 0  # any command starts the embedded server again
        assert [request(base, path)[0] for path in paths] == [200, 200, 200, 404, 404]
    finally:
        served.send_signal(signal.SIGTERM)
        assert served.wait(timeout=15) == 0


def test_one_requests_failure_is_logged_and_the_next_is_served(site):
    # A video whose master playlist in the store is not even text: its page fails unexpectedly.
    _, demo_folder = ladder_of(site, site.demo_video)
    videos = VideoRepository(site.jobs.conn)
    broken = site.add_video("broken master")
    prefix = f"videos/{broken}/hls/0-1/"
    shutil.copytree(demo_folder, site.storage / prefix)
    (site.storage / prefix / "master.m3u8").write_bytes(b"\xff\xfe not a playlist \x80")
    videos.set_ready(broken, prefix + "master.m3u8", Outputs(poster_path=prefix + "poster.jpg",
                                                             poster_small_path=prefix + "poster-320.jpg"))

    status, _, body = request(site.base, f"/videos/{broken}")
    assert status == 500 and b"Internal error" in body and b"UnicodeDecodeError" in body
    assert b"Traceback" not in body  # the details are in the log, not the page
    log = site.server.log_text()
    assert f"GET /videos/{broken}: unexpected UnicodeDecodeError" in log and "Traceback" in log

    status, _, body = request(site.base, "/")  # the grid shows every video, the broken one without rungs
    assert status == 200 and f'data-video-id="{broken}"'.encode() in body and b"unreadable" in body
    assert request(site.base, f"/videos/{site.demo_video}")[0] == 200


def open_files(pid: int) -> list[str]:
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            found.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            continue  # closed while we looked
    return found


def test_a_browser_that_goes_away_mid_download_leaves_the_server_serving(site):
    _, folder = ladder_of(site, site.demo_video)
    large = folder / "large.m4s"  # far more than the sockets' buffers hold
    with large.open("wb") as out:
        out.truncate(64 << 20)
    host, port = urlsplit(site.base).hostname, urlsplit(site.base).port
    pid = site.server.process.pid
    try:
        for _ in range(3):
            with socket.create_connection((host, port), timeout=10) as client:
                client.sendall(f"GET {media(site, site.demo_video, 'large.m4s')} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                assert client.recv(64).startswith(b"HTTP/1.1 200")
            # gone after a few bytes
        assert request(site.base, "/")[0] == 200
        assert site.server.process.poll() is None
        wait_until(lambda: not [f for f in open_files(pid) if f.endswith("large.m4s")], timeout=10,
                   what="the server to close the files of the abandoned downloads")
    finally:
        large.unlink()


def test_serve_prints_the_document_it_declares(site):
    from tests.contract import document_problems

    assert document_problems("serve", site.server.document["data"]) == []
    assert site.server.document["data"]["url"] == f"{site.base}/" and not site.server.document["data"]["token_required"]


def test_demo_prints_the_page_and_with_serve_serves_it(site):
    assert f"videoctl serve\n  open http://127.0.0.1:8080/videos/{site.demo_video}\n" in site.demo_output
    with socket.socket() as probe:  # a free port for the demo's server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = subprocess.Popen([sys.executable, "-m", "videoctl", "demo", "--seconds", "2", "--serve", "--port", str(port)],
                            env=site.env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        printed = ""
        for line in iter(demo.stdout.readline, ""):
            printed += line
            if "job log:" in line:
                break
        found = re.search(rf"open http://127\.0\.0\.1:{port}/videos/(\d+)", printed)
        assert found and "serving it now" in printed, printed
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}", f"/videos/{found[1]}"), timeout=30,
                   what="the demo's page")
        status, _, body = request(f"http://127.0.0.1:{port}", f"/videos/{found[1]}")
        assert status == 200 and b'id="player"' in body
    finally:
        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=15) == 0


def _answers(base: str, path: str) -> bool:
    try:
        return request(base, path)[0] == 200
    except OSError:
        return False
