"""The token gate of `videoctl serve`: loopback needs none (but a loopback Host); with
VIDEOCTL_SERVE_TOKEN set, every request needs it (bearer header, or the session cookie that the
401 page's form or a one-time link sets). A one-time link works once; the cookie carries a
signed expiry and dies with the token; a redirect stays on this server; and the token is never
shown: not in the cookie, not in a configuration error, not in a link."""

from __future__ import annotations

import asyncio
import threading

import pytest

from videoctl.domain.errors import ConfigError
from videoctl.settings import Settings
from videoctl.web.auth import (
    COOKIE,
    COOKIE_MAX_AGE,
    LINK_TTL_S,
    LoopbackHostsOnly,
    TokenGate,
    is_loopback,
    is_loopback_authority,
    same_origin_path,
    session_is_valid,
    session_value,
)
from videoctl.web.server import check_bind

TOKEN = "s3cret-token-of-32-characters-ok"
NOW = 1_800_000_000.0


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


@pytest.mark.parametrize("token", [
    "short-token", "sixteen chars ok!", "tøken-with-non-ascii-1234", "a-token-of-31-characters-is-sho",
    "a" * 64, "ab" * 32, "abcd" * 8, "0" * 31 + "1", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "token with a space in it but long enough"])
def test_a_weak_or_unsendable_token_is_refused_without_quoting_it(token):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VIDEOCTL_SERVE_TOKEN": token})
    assert "VIDEOCTL_SERVE_TOKEN" in info.value.message and token not in info.value.message


@pytest.mark.parametrize("token", [TOKEN, "0123456789abcdef0123456789abcdef", "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
                                   "correct-horse-battery-staple-xyz1"])
def test_a_long_varied_token_is_taken(token):
    assert Settings.from_env({"VIDEOCTL_SERVE_TOKEN": token}).serve_token == token


def test_random_tokens_of_32_characters_are_always_taken():
    import secrets

    for _ in range(2000):
        Settings.from_env({"VIDEOCTL_SERVE_TOKEN": secrets.token_hex(16)})
        Settings.from_env({"VIDEOCTL_SERVE_TOKEN": secrets.token_urlsafe(24)})


def test_the_token_is_a_masked_secret():
    settings = Settings.from_env({"VIDEOCTL_SERVE_TOKEN": TOKEN})
    shown = {row["name"]: row for row in settings.describe()}["serve_token"]
    assert shown["secret"] and shown["value"] == "****"
    assert TOKEN not in settings.scrubber()(f"a message quoting {TOKEN}")


def test_the_cookie_holds_no_token_and_an_expiry_signed_with_it():
    cookie = session_value(TOKEN, int(NOW) + 60)
    assert TOKEN not in cookie and cookie.startswith(f"{int(NOW) + 60}.")
    assert session_is_valid(TOKEN, cookie, NOW)
    assert not session_is_valid(TOKEN, cookie, NOW + 61)  # expired, whatever the browser keeps
    assert not session_is_valid(TOKEN + "x", cookie, NOW)  # another token: every cookie is void
    expires, _, mac = cookie.partition(".")
    assert not session_is_valid(TOKEN, f"{int(expires) + 86_400}.{mac}", NOW)  # lengthened: the HMAC says no
    for forged in ("", ".", f"{expires}.", f".{mac}", mac, f"{expires}x.{mac}", f"{'9' * 5000}.{mac}", TOKEN):
        assert not session_is_valid(TOKEN, forged, NOW), forged


@pytest.mark.parametrize(("path", "target"), [
    ("/", "/"), ("/videos/3", "/videos/3"), ("//evil.example", "/evil.example"), ("///evil.example/x", "/evil.example/x"),
    ("/\\evil.example", "/evil.example"), ("\\/evil.example", "/evil.example"), ("http://evil.example", "/http://evil.example"),
    ("", "/")])
def test_a_redirect_target_is_a_path_on_this_server(path, target):
    assert same_origin_path(path) == target


def call(gate, path: str, query: str = "", headers: dict[str, str] | None = None, *, method: str = "GET",
         body: bytes = b"") -> tuple[int, dict]:
    """One request through the gate, as uvicorn would make it; (status, response headers)."""
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": query.encode(),
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
             "scheme": "http", "server": ("127.0.0.1", 8080), "root_path": "", "http_version": "1.1"}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": body}

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


def refused(_request, back, problem):
    from starlette.responses import PlainTextResponse

    return PlainTextResponse(f"token required; back to {back}; {problem}", status_code=401)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate(clock) -> TokenGate:
    return TokenGate(behind, TOKEN, refused, clock=clock)


def session_of(headers: dict) -> str:
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    return cookie.split(";")[0].removeprefix(f"{COOKIE}=")


def test_no_token_wrong_token_or_wrong_cookie_gets_401(gate):
    assert call(gate, "/")[0] == 401
    assert call(gate, "/static/app.css")[0] == 401
    assert call(gate, "/", headers={"Authorization": "Bearer wrong-token-wrong-token"})[0] == 401
    assert call(gate, "/", headers={"Authorization": f"Basic {TOKEN}"})[0] == 401
    assert call(gate, "/", headers={"Cookie": f"{COOKIE}={TOKEN}"})[0] == 401  # the token itself is not the cookie
    assert call(gate, "/", query="token=wrong-token-wrong-token")[0] == 401


def test_the_token_itself_is_never_taken_in_an_address(gate):
    status, headers = call(gate, "/", query=f"token={TOKEN}")
    assert status == 401 and "set-cookie" not in headers


def test_the_bearer_header_or_the_session_cookie_lets_a_request_through(gate):
    assert call(gate, "/jobs", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200
    cookie = session_value(TOKEN, int(NOW) + 60)
    assert call(gate, "/jobs", headers={"Cookie": f"{COOKIE}={cookie}"})[0] == 200


def test_a_one_time_link_sets_the_cookie_and_redirects_to_the_page_without_it_once(gate):
    link = gate.one_time_link()
    assert link.startswith("/?token=") and TOKEN not in link
    code = link.removeprefix("/?token=")
    status, headers = call(gate, "/", query=f"status=READY&token={code}")
    assert (status, headers["location"]) == (303, "/?status=READY")
    cookie = headers["set-cookie"]
    assert TOKEN not in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert f"Max-Age={COOKIE_MAX_AGE}" in cookie
    assert session_is_valid(TOKEN, session_of(headers), NOW)

    status, headers = call(gate, "/", query=f"token={code}")  # the same link again, in another browser
    assert status == 401 and "set-cookie" not in headers
    # In a browser that is in already, the link only leaves the address.
    status, headers = call(gate, "/jobs", query=f"token={code}", headers={"Cookie": f"{COOKIE}={session_of_link(gate)}"})
    assert (status, headers["location"]) == (303, "/jobs")


def session_of_link(gate: TokenGate) -> str:
    return session_of(call(gate, "/", query=f"token={gate.one_time_link().removeprefix('/?token=')}")[1])


def test_a_one_time_link_expires_unused(gate, clock):
    code = gate.one_time_link().removeprefix("/?token=")
    clock.now += LINK_TTL_S
    assert call(gate, "/", query=f"token={code}")[0] == 401


def test_links_are_one_each_and_die_with_the_server(gate, clock):
    first, second = (gate.one_time_link().removeprefix("/?token=") for _ in range(2))
    assert first != second
    assert call(gate, "/", query=f"token={second}")[0] == 303
    assert call(gate, "/", query=f"token={first}")[0] == 303
    another_server = TokenGate(behind, TOKEN, refused, clock=clock)
    assert call(another_server, "/", query=f"token={another_server.one_time_link()[8:]}")[0] == 303
    assert call(another_server, "/", query=f"token={gate.one_time_link()[8:]}")[0] == 401


@pytest.mark.parametrize(("path", "location"), [
    ("//evil.example", "/evil.example"), ("///evil.example", "/evil.example"), ("/\\evil.example", "/evil.example"),
    ("/videos/3", "/videos/3")])
def test_the_link_redirects_only_to_a_path_on_this_server(gate, path, location):
    status, headers = call(gate, path, query=f"token={gate.one_time_link()[8:]}")
    assert (status, headers["location"]) == (303, location)


def test_the_form_exchanges_the_token_for_a_session_and_leads_back(gate):
    status, headers = call(gate, "/login", method="POST", body=f"token={TOKEN}&next=%2Fvideos%2F3%3Fx%3D1".encode(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, headers["location"]) == (303, "/videos/3?x=1")
    assert session_is_valid(TOKEN, session_of(headers), NOW)
    status, headers = call(gate, "/login", method="POST", body=f"token={TOKEN}&next=%2F%2Fevil.example".encode())
    assert (status, headers["location"]) == (303, "/evil.example")
    status, headers = call(gate, "/login", method="POST", body=b"token=not-the-token&next=%2F")
    assert status == 401 and "set-cookie" not in headers
    assert call(gate, "/login")[0] == 401  # a GET is a request like any other


def test_the_session_ends_when_its_signed_expiry_passes(gate, clock):
    cookie = session_of_link(gate)
    clock.now += COOKIE_MAX_AGE - 1
    assert call(gate, "/", headers={"Cookie": f"{COOKIE}={cookie}"})[0] == 200
    clock.now += 1
    assert call(gate, "/", headers={"Cookie": f"{COOKIE}={cookie}"})[0] == 401


def test_a_new_token_voids_every_cookie_of_the_old(gate, clock):
    cookie = session_of_link(gate)
    renewed = TokenGate(behind, "another-token-of-32-characters-ok", refused, clock=clock)
    assert call(renewed, "/", headers={"Cookie": f"{COOKIE}={cookie}"})[0] == 401


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
