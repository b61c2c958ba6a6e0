"""Browser tests: Debian's Chromium driven by Playwright, playing what videoctl produced.

Chromium comes from the system (`apt-get install chromium`; `.ci/run` installs it), never from
`playwright install`. Where it is missing these tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser.server import serving

VENDOR = Path(__file__).resolve().parents[2] / "videoctl" / "web" / "static" / "vendor"
PAGE = Path(__file__).with_name("player.html")


def _chromium() -> str | None:
    for candidate in (os.environ.get("VIDEOCTL_TEST_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests: .ci/run installs Chromium with apt")
        pytest.skip("no Chromium here: `apt-get install chromium` (CI installs it; see .ci/run)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox", "--mute-audio"])
        yield launched
        launched.close()


@pytest.fixture
def player_page(browser, tmp_path) -> Iterator[Callable[[Path], tuple]]:
    """Open the player page over a loopback server that also serves *media_root* under /media/."""
    pages = []

    def open_page(media_root: Path):
        site = tmp_path / "site"
        site.mkdir()
        shutil.copy(PAGE, site / "player.html")
        (site / "vendor").symlink_to(VENDOR)
        (site / "media").symlink_to(media_root)
        server = serving(site)
        base = server.__enter__()
        page = browser.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
        page.goto(f"{base}/player.html")
        pages.append((page, server))
        return page, base, console

    yield open_page
    for page, server in pages:
        page.close()
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def site(pg_server_url, template_db, tmp_path_factory):
    """`videoctl serve` over the demo video and a captioned one (tests/browser/site.py); stopped
    with SIGTERM at the end, which must be a clean exit."""
    from tests.browser.site import build_site, drop_database

    built = build_site(pg_server_url, template_db, tmp_path_factory.mktemp("serve-home"))
    try:
        yield built
    finally:
        exit_code = built.server.stop() if built.server else 0
        if built._jobs is not None:
            built._jobs.conn.close()
        drop_database(pg_server_url, built.db_url)
    assert exit_code == 0, built.server.log_text()


@pytest.fixture
def page_of(browser):
    """A new page (closed after the test) that records console errors and failed requests."""
    opened = []

    def open_page(**context_options):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
        page = context.new_page()
        page.problems = []
        page.on("console", lambda m: page.problems.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda error: page.problems.append(f"pageerror: {error}"))
        opened.append(context)
        return page

    yield open_page
    for context in opened:
        context.close()
