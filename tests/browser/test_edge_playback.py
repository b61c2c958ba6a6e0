"""A viewer's browser plays a ladder through the playback edge Worker (workerd, via Miniflare, over
a local R2): the app's page on one origin, the media on the Worker's, every request carrying the
signed token in its path. hls.js plays the master and dash.js the MPD, each switching renditions,
showing the Korean captions and reaching past three segments, with no error; the storyboard's
tiles load from the WebVTT's relative references."""

from __future__ import annotations

import pytest

from tests.browser.test_playback import play_switch_and_caption, wait_for
from tests.edge.conftest import Ladder, edge_ladder, start_worker  # noqa: F401 - the fixture, shared
from videoctl.api import Client

pytestmark = pytest.mark.browser

#: Loads the storyboard's first and last tiles the way a player's scrub preview does.
STORYBOARD = """async (vttUrl) => {
  const text = await (await fetch(vttUrl)).text();
  const refs = text.split("\\n").filter(line => line.includes("#xywh="));
  const load = (ref) => new Promise((resolve) => {
    const image = new Image();
    image.crossOrigin = "anonymous";
    image.onload = () => resolve([ref, image.naturalWidth]);
    image.onerror = () => resolve([ref, 0]);
    image.src = new URL(ref.split("#")[0], vttUrl).href;
  });
  return Promise.all([load(refs[0]), load(refs[refs.length - 1])]);
}"""


@pytest.fixture
def edge_page(player_page, edge_ladder: Ladder, tmp_path):  # noqa: F811 - the fixture imported above
    """The player page on its own origin, and a Worker that lets that origin play."""
    empty = tmp_path / "nothing"
    empty.mkdir()
    page, origin, console = player_page(empty)
    responses: list[tuple[int, str]] = []
    worker = start_worker(edge_ladder, tmp_path / "state", origins=origin)
    page.on("response", lambda r: responses.append((r.status, r.url)) if r.url.startswith(worker.base) else None)
    with Client(edge_ladder.settings) as videoctl:  # signed as the app signs, for the Worker's address
        signed = videoctl.playback(edge_ladder.video.id, expires_s=600, viewer="browser", base_url=worker.base)
    yield page, signed, console, responses
    worker.stop()


def assert_through_the_edge(responses: list[tuple[int, str]], token: str) -> None:
    assert len(responses) > 10, responses
    assert all(status in (200, 206, 304) for status, _ in responses), [r for r in responses if r[0] >= 300]
    assert all(f"/t/{token}/" in url for _, url in responses)


@pytest.mark.parametrize("player", ["hls", "dash"])
def test_a_ladder_plays_through_the_edge_with_captions_and_storyboard(edge_page, player):
    page, signed, console, responses = edge_page
    start = f"playHls('{signed.master}')" if player == "hls" else f"playDash('{signed.mpd}')"
    play_switch_and_caption(page, start, player)
    wait_for(page, "video.currentTime >= 6.5")  # past three 2 s segments
    record = page.evaluate("window.record")
    assert record["fatal"] == [] and record["stalls"] == [], (record, console)
    assert sorted(record["levels"]) == [240, 360] and record["textTracks"] == ["ko"] and record["cues"] > 0
    tiles = page.evaluate(STORYBOARD, signed.storyboard)
    assert all(width > 0 for _, width in tiles), tiles
    assert_through_the_edge(responses, signed.token)
