"""The token gate of `videoctl serve`: loopback needs none; with VIDEOCTL_SERVE_TOKEN set, every
request needs it (bearer header, or the cookie a one-time ?token= link sets), and the token is
never shown: not in the cookie, not in a configuration error."""

from __future__ import annotations

import asyncio
import threading

import pytest

from videoctl.domain.errors import ConfigError
from videoctl.settings import Settings
from videoctl.web.auth import COOKIE, LoopbackHostsOnly, TokenGate, is_loopback, is_loopback_authority, session_value
from videoctl.web.server import check_bind

TOKEN = "s3cret-token-of-32-characters-ok"


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False)])
def test_only_loopback_hosts_are_loopback(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(("host", "loopback"), [
    ("localhost", True), ("localhost:8080", True), ("LocalHost:1", True), ("127.0.0.1", True), ("127.0.0.1:8080", True),
    ("127.3.2.1:80", True), ("[::1]", True), ("[::1]:8080", True),
    ("evil.example", False), ("evil.example:8080", False), ("", False), ("localhost.", False),
    ("localhost.evil.example", False), ("127.0.0.1.evil.example", False), ("127.1", False), ("2130706433", False),
    ("0x7f.0.0.1", False), ("::1", False), ("[::1]x", False), ("[127.0.0.1]", False), ("localhost:80x", False),
    ("localhost:", True), ("10.0.0.1", False), ("[fe80::1]:80", False), ("127.0.0.1:8080@evil.example", False)])
def test_only_a_loopback_name_is_a_loopback_host_header(host, loopback):
    assert is_loopback_authority(host) is loopback


def test_a_non_loopback_bind_without_a_token_is_a_config_error_naming_the_variable():
    with pytest.raises(ConfigError) as info:
        check_bind("0.0.0.0", Settings.from_env({}))
    assert "VIDEOCTL_SERVE_TOKEN" in info.value.message
    check_bind("127.0.0.1", Settings.from_env({}))
    check_bind("0.0.0.0", Settings.from_env({"VIDEOCTL_SERVE_TOKEN": TOKEN}))


@pytest.mark.parametrize("token", ["short-token", "sixteen chars ok!", "tøken-with-non-ascii-1234"])
def test_a_weak_or_unsendable_token_is_refused_without_quoting_it(token):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VIDEOCTL_SERVE_TOKEN": token})
    assert "VIDEOCTL_SERVE_TOKEN" in info.value.message and token not in info.value.message


def test_the_token_is_a_masked_secret():
    settings = Settings.from_env({"VIDEOCTL_SERVE_TOKEN": TOKEN})
    shown = {row["name"]: row for row in settings.describe()}["serve_token"]
    assert shown["secret"] and shown["value"] == "****"
    assert TOKEN not in settings.scrubber()(f"a message quoting {TOKEN}")


def test_the_cookie_holds_no_token():
    assert TOKEN not in session_value(TOKEN) and session_value(TOKEN) != session_value(TOKEN + "x")


def call(gate: TokenGate, path: str, query: str = "", headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """One request through the gate, as uvicorn would make it; (status, response headers)."""
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
             "scheme": "http", "server": ("127.0.0.1", 8080), "root_path": "", "http_version": "1.1"}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    # In a thread of its own: this one may hold Playwright's event loop already (the browser tests).
    worker = threading.Thread(target=asyncio.run, args=(gate(scope, receive, send),))
    worker.start()
    worker.join(10)
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


async def behind(scope, receive, send):
    """What the gate lets through answers 200."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"page"})


def refused(_request):
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("token required", status_code=401)


@pytest.fixture
def gate() -> TokenGate:
    return TokenGate(behind, TOKEN, refused)


def test_no_token_wrong_token_or_wrong_cookie_gets_401(gate):
    assert call(gate, "/")[0] == 401
    assert call(gate, "/static/app.css")[0] == 401
    assert call(gate, "/", headers={"Authorization": "Bearer wrong-token-wrong-token"})[0] == 401
    assert call(gate, "/", headers={"Authorization": f"Basic {TOKEN}"})[0] == 401
    assert call(gate, "/", headers={"Cookie": f"{COOKIE}={TOKEN}"})[0] == 401  # the token itself is not the cookie
    assert call(gate, "/", query="token=wrong-token-wrong-token")[0] == 401


def test_the_bearer_header_or_the_session_cookie_lets_a_request_through(gate):
    assert call(gate, "/jobs", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    assert call(gate, "/jobs", headers={"Cookie": f"{COOKIE}={session_value(TOKEN)}"})[0] == 200


def test_the_token_link_sets_the_cookie_and_redirects_to_the_page_without_it(gate):
    status, headers = call(gate, "/", query=f"status=READY&token={TOKEN}")
    assert status == 303
    assert headers["location"] == "/?status=READY"
    cookie = headers["set-cookie"]
    assert f"{COOKIE}={session_value(TOKEN)}" in cookie and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def misdirected(_request):
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("misdirected", status_code=421)


def test_without_a_token_only_requests_addressed_to_a_loopback_name_pass():
    hosts = LoopbackHostsOnly(behind, misdirected)
    assert call(hosts, "/", headers={"Host": "127.0.0.1:8080"})[0] == 200
    assert call(hosts, "/static/app.css", headers={"Host": "localhost"})[0] == 200
    assert call(hosts, "/", headers={"Host": "evil.example:8080"})[0] == 421
    assert call(hosts, "/static/app.css", headers={"Host": "evil.example"})[0] == 421
    assert call(hosts, "/")[0] == 421  # no Host at all
