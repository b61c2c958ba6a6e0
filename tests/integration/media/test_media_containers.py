"""Every container the allowlist accepts opens and encodes from a copy named as run-job names it.

run-job's scratch copy of a source is ``source``, no extension (``storage.scratch.SOURCE_FILE``),
so each container is found by its content alone. Each clip goes through ``make_outputs``:
the ladder with its poster and storyboard, the captions, the MPD and the download, which is
every place that opens the source.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.clips import CONTAINERS, PLAYABLE
from videoctl.domain.containers import ALLOWED_DEMUXERS
from videoctl.domain.ladder import choose_rungs, parse_ladder
from videoctl.media.probe import probe
from videoctl.media.source_input import open_source
from videoctl.services.encode import OutputPlan, make_outputs
from videoctl.storage.scratch import SOURCE_FILE

pytestmark = pytest.mark.slow

#: The playable clips of the other tests, one per container they come in (and the one with
#: text subtitles in Matroska, whose extraction opens the source once more).
EXISTING = ("normal", "no_duration", "joined_recordings", "mkv_text_subtitles")


@pytest.fixture(scope="module")
def container_clip(ffmpeg_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``container_clip("wmv")`` → that clip of tests/clips.py's CONTAINERS, made on first use."""
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = CONTAINERS[name](ffmpeg_bin, tmp_path_factory.mktemp(name))
        return made[name]

    return get


def demuxer_of(path: Path) -> str:
    with open_source(path) as container:
        return container.format.name


def test_every_allowed_container_has_a_clip_here(container_clip, clip) -> None:
    found = {demuxer_of(container_clip(name)) for name in CONTAINERS} | {demuxer_of(clip(name)) for name in EXISTING}
    assert found == set(ALLOWED_DEMUXERS)
    assert set(EXISTING) <= set(PLAYABLE)


@pytest.mark.parametrize("name", [*CONTAINERS, *EXISTING])
def test_each_container_makes_every_output_from_a_copy_named_source(name, container_clip, clip, ffmpeg_bin,
                                                                     tmp_path) -> None:
    original = container_clip(name) if name in CONTAINERS else clip(name)
    source = tmp_path / SOURCE_FILE
    shutil.copyfile(original, source)
    info = probe(source)
    rungs = choose_rungs(parse_ladder("240:400"), info.short_side)
    out_dir = tmp_path / "hls"
    summary = make_outputs(ffmpeg_bin, source, out_dir, info, rungs, OutputPlan(segment_s=1))
    assert summary.rungs[0].duration_s == pytest.approx(info.duration_s, abs=0.5)
    made = {path.name for path in out_dir.rglob("*")}
    assert {"master.m3u8", "manifest.mpd", "poster.jpg", "storyboard.vtt", "download.mp4"} <= made
    if name == "mkv_text_subtitles":
        assert any(path.parent.name == "subs" for path in out_dir.rglob("*.m3u8"))
