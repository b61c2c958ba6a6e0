"""`videoctl serve` off loopback: every request without VIDEOCTL_SERVE_TOKEN gets 401, whatever it
asks for; the bearer header lets a request in, and a browser gets in with a session cookie from
the one-time link `serve` prints (which works once) or from the 401 page's form; every redirect
stays on the server; the session expires server-side and dies with the token; the token shows up
nowhere (address, page, cookie, log); and a non-loopback host without a token configured, or
with a weak one, does not start at all (config_error, naming the variable).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest

from tests.browser.site import request
from tests.browser.test_serve_pages import wait_for
from tests.processes import wait_until
from videoctl.web.auth import COOKIE, COOKIE_MAX_AGE, session_value

TOKEN = "browser-test-token-9f8e7d6c5b4a3f2e1d0c"


def serve_with(site, token: str):
    """A second server on the same database, bound to every interface, with *token*."""
    return site.serve("--host", "0.0.0.0", env={**site.env, "VIDEOCTL_SERVE_TOKEN": token})


def loopback(served) -> str:
    return f"http://127.0.0.1:{urlsplit(served.url).port}"


def one_time_link(served) -> str:
    """The link the server printed, as a browser on this machine opens it."""
    return f"{loopback(served)}{path_of(served.document['data']['login_url'])}"


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@pytest.fixture
def gated(site):
    served = serve_with(site, TOKEN)
    yield served, loopback(served)
    assert served.stop() == 0


def cookie_of(headers: dict[str, str]) -> str:
    return headers["set-cookie"].split(";")[0].removeprefix(f"{COOKIE}=")


def test_a_non_loopback_bind_without_the_token_gets_401_everywhere(site, gated):
    served, base = gated
    assert served.document["data"]["host"] == "0.0.0.0" and served.document["data"]["token_required"] is True
    paths = ["/", "/?status=READY", "/jobs", "/jobs/live", f"/videos/{site.demo_video}", "/videos/987654",
             f"/videos/{site.demo_video}/media/master.m3u8", f"/videos/{site.demo_video}/media/poster.jpg",
             f"/videos/{site.demo_video}/media/../source/x", "/static/app.css", "/static/vendor/hls.js/hls.min.js",
             "/no/such/page", "/favicon.ico"]
    wrong = [{}, {"Authorization": "Bearer not-the-token-at-all"}, {"Authorization": f"Basic {TOKEN}"},
             {"Cookie": f"{COOKIE}={TOKEN}"}, {"Cookie": f"{COOKIE}=0123abcd"}]
    for path in paths:
        for headers in wrong:
            status, answer, body = request(base, path, headers=headers)
            assert status == 401, (path, headers, status)
            assert answer["www-authenticate"] == 'Bearer realm="videoctl"'
            assert TOKEN.encode() not in body and b"EXTM3U" not in body and b"data-video-id" not in body
            assert b"<video" not in body and b"<script" not in body
        assert request(base, path, method="HEAD")[0] == 401
    assert request(base, "/?token=not-the-token-at-all")[0] == 401
    status, headers, _ = request(base, f"/?token={TOKEN}")  # the token itself is never taken in an address
    assert status == 401 and "set-cookie" not in headers

    status, _, body = request(base, "/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and f'data-video-id="{site.demo_video}"'.encode() in body
    status, _, _ = request(base, f"/videos/{site.demo_video}/media/poster.jpg",
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert TOKEN not in served.log_text()


def test_a_browser_gets_in_through_the_one_time_link_once_and_keeps_no_token(site, gated, page_of):
    served, base = gated
    link = one_time_link(served)
    assert TOKEN not in json.dumps(served.document) and "?token=" in link
    page = page_of()
    refused = page.goto(base + f"/videos/{site.demo_video}")
    assert refused.status == 401 and "Token required" in page.inner_text("#error")

    page.goto(link)
    assert page.url == base + "/"  # the code is gone from the address bar
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == [COOKIE]
    assert TOKEN not in json.dumps(cookies) and cookies[0]["httpOnly"]
    assert page.evaluate("document.cookie") == ""  # no page script can read it
    page.goto(base + f"/videos/{site.demo_video}")
    page.evaluate("document.getElementById('player').play()")
    wait_for(page, "document.getElementById('player').currentTime >= 1", what="playback through the cookie")

    page.goto(base + "/")
    poster = page.locator(f'li.card[data-video-id="{site.demo_video}"] img.poster')
    poster.scroll_into_view_if_needed()
    wait_for(page, f"""(() => {{ const i = document.querySelector('li.card[data-video-id="{site.demo_video}"] img.poster');
                         return i.complete && i.naturalWidth > 0; }})()""", what="the poster through the cookie")
    assert TOKEN not in page.content()
    # The one refusal: the page opened without the token (a 401 page loads nothing else).
    assert page.problems == ["error: Failed to load resource: the server responded with a status of 401 (Unauthorized)"]

    again = page_of()  # another browser, with the same link: it worked once
    response = again.goto(link)
    assert response.status == 401 and "used already" in again.inner_text("#error")
    assert again.context.cookies() == []
    assert TOKEN not in served.log_text() and urlsplit(link).query not in served.log_text()


def test_a_browser_gets_in_through_the_form_of_the_401_page(site, gated, page_of):
    _, base = gated
    page = page_of()
    assert page.goto(base + f"/videos/{site.demo_video}").status == 401
    page.fill("#token", "not-the-token-not-the-token-not-the-token")
    page.click("#login button")
    assert "that is not the token" in page.inner_text("#error") and page.context.cookies() == []

    page.fill("#token", TOKEN)
    with page.expect_navigation():
        page.click("#login button")
    assert page.url == base + f"/videos/{site.demo_video}"  # back where it was going, no token in the address
    assert page.locator("#player").count() == 1 and TOKEN not in page.content()
    assert [c["name"] for c in page.context.cookies()] == [COOKIE]


def test_the_link_redirects_only_to_a_path_on_this_server(site, gated, page_of):
    served, base = gated
    code = urlsplit(one_time_link(served)).query  # token=CODE
    page = page_of()
    response = page.goto(f"{base}//evil.example?{code}")
    assert page.url == f"{base}/evil.example"  # a page of this server (none: 404), not evil.example
    assert response.status == 404 and [c["name"] for c in page.context.cookies()] == [COOKIE]
    for path in ("//evil.example", "/\\evil.example", "///evil.example/x"):
        status, headers, _ = request(base, "/login", method="POST", body=f"token={TOKEN}&next={path}",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303 and headers["location"].startswith("/") and not headers["location"].startswith("//")
        assert urlsplit(headers["location"]).netloc == "", headers["location"]


def test_the_session_expires_server_side_and_a_new_token_voids_every_cookie(site, gated):
    served, base = gated
    status, headers, _ = request(base, path_of(one_time_link(served)))
    assert status == 303
    cookie = cookie_of(headers)
    expires, _, mac = cookie.partition(".")
    assert abs(int(expires) - (time.time() + COOKIE_MAX_AGE)) < 300  # signed into it, not only the browser's Max-Age
    assert request(base, "/", headers={"Cookie": f"{COOKIE}={cookie}"})[0] == 200
    past = session_value(TOKEN, int(time.time()) - 1)  # a session signed with the token, but over
    assert request(base, "/", headers={"Cookie": f"{COOKIE}={past}"})[0] == 401
    lengthened = f"{int(expires) + 86_400 * 365}.{mac}"
    assert request(base, "/", headers={"Cookie": f"{COOKIE}={lengthened}"})[0] == 401

    renewed = serve_with(site, TOKEN[::-1] + "-renewed")
    try:
        assert request(loopback(renewed), "/", headers={"Cookie": f"{COOKIE}={cookie}"})[0] == 401
        status, headers, _ = request(loopback(renewed), path_of(one_time_link(renewed)))
        renewed_cookie = cookie_of(headers)
        assert status == 303 and request(loopback(renewed), "/", headers={"Cookie": f"{COOKIE}={renewed_cookie}"})[0] == 200
    finally:
        assert renewed.stop() == 0


def answers(base: str) -> bool:
    try:
        return request(base, "/")[0] == 401
    except OSError:
        return False


def test_serve_prints_the_one_time_link_for_people_too(site):
    process = subprocess.Popen([sys.executable, "-m", "videoctl", "serve", "--host", "0.0.0.0", "--port", "0"],
                               env={**site.env, "VIDEOCTL_SERVE_TOKEN": TOKEN, "COLUMNS": "300"},
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        printed = ""
        for line in iter(process.stdout.readline, ""):
            printed += line
            if "stop with Ctrl-C" in line:
                break
        assert "every request needs VIDEOCTL_SERVE_TOKEN" in printed, printed
        assert "open this link to let one browser in (once, within 15 minutes): http://0.0.0.0:" in printed
        assert "/?token=" in printed and TOKEN not in printed
        port = int(re.search(r"http://0\.0\.0\.0:(\d+)/", printed)[1])
        wait_until(lambda: answers(f"http://127.0.0.1:{port}"), timeout=30, what="the server to answer")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_a_non_loopback_host_without_a_token_configured_does_not_start(site):
    refused = site.cli("--json", "serve", "--host", "0.0.0.0", "--port", "0", timeout=60)
    assert refused.returncode == 6
    error = json.loads(refused.stdout)["error"]
    assert error["code"] == "config_error" and "VIDEOCTL_SERVE_TOKEN" in error["message"]
    for token in ("short", "a-token-of-31-characters-is-sho", "a" * 48, "ab" * 24):
        weak = site.cli("--json", "serve", "--port", "0", env={**site.env, "VIDEOCTL_SERVE_TOKEN": token}, timeout=60)
        assert weak.returncode == 6, token
        error = json.loads(weak.stdout)["error"]
        assert error["code"] == "config_error" and "VIDEOCTL_SERVE_TOKEN" in error["message"]
        assert token not in weak.stdout and token not in weak.stderr
