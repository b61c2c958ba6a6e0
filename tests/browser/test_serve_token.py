"""`videoctl serve` off loopback: every request without VIDEOCTL_SERVE_TOKEN gets 401, whatever it
asks for; the bearer header or the session cookie from a one-time `?token=` link lets a browser
in; the token shows up nowhere (page, cookie, log); and a non-loopback host without a token
configured does not start at all (config_error, naming the variable).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from tests.browser.site import request
from tests.browser.test_serve_pages import wait_for
from videoctl.web.auth import COOKIE

TOKEN = "browser-test-token-9f8e7d6c5b4a"


@pytest.fixture
def gated(site):
    """A second server on the same database, bound to every interface, with a token."""
    served = site.serve("--host", "0.0.0.0", env={**site.env, "VIDEOCTL_SERVE_TOKEN": TOKEN})
    yield served, f"http://127.0.0.1:{urlsplit(served.url).port}"
    assert served.stop() == 0


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
            assert TOKEN.encode() not in body and b"hls" not in body.lower()
        assert request(base, path, method="HEAD")[0] == 401
    assert request(base, "/?token=not-the-token-at-all")[0] == 401

    status, _, body = request(base, "/", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and f'data-video-id="{site.demo_video}"'.encode() in body
    status, _, _ = request(base, f"/videos/{site.demo_video}/media/poster.jpg",
                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert TOKEN not in served.log_text()


def test_a_browser_gets_in_through_the_one_time_link_and_keeps_no_token(site, gated, page_of):
    _, base = gated
    page = page_of()
    refused = page.goto(base + f"/videos/{site.demo_video}")
    assert refused.status == 401 and "Token required" in page.inner_text("#error")

    page.goto(base + f"/videos/{site.demo_video}?token={TOKEN}")
    assert page.url == base + f"/videos/{site.demo_video}"  # the token is gone from the address bar
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == [COOKIE]
    assert TOKEN not in json.dumps(cookies) and cookies[0]["httpOnly"]
    assert page.evaluate("document.cookie") == ""  # no page script can read it
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


def test_a_non_loopback_host_without_a_token_configured_does_not_start(site):
    refused = site.cli("--json", "serve", "--host", "0.0.0.0", "--port", "0", timeout=60)
    assert refused.returncode == 6
    error = json.loads(refused.stdout)["error"]
    assert error["code"] == "config_error" and "VIDEOCTL_SERVE_TOKEN" in error["message"]
    weak = site.cli("--json", "serve", "--port", "0", env={**site.env, "VIDEOCTL_SERVE_TOKEN": "short"}, timeout=60)
    assert weak.returncode == 6 and "VIDEOCTL_SERVE_TOKEN" in weak.stdout and "short" not in weak.stdout
