"""`video add --captions LANG=FILE`: sidecars checked, converted to WebVTT and stored with the
source; one malformed file refuses the whole add (exit 3) and leaves no row and no object."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import run_cli
from videoctl.domain.captions import Cue, read_webvtt
from videoctl.domain.errors import EXIT_CODES

SRT = "1\r\n00:00:00,500 --> 00:00:01,500\r\n안녕하세요 & <i>반갑습니다</i>\r\n"
VTT = "WEBVTT\n\nNOTE hand-written\n\n00:01.000 --> 00:01.800 align:start\nHello\n"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    source = tmp_path / "lecture.mp4"
    source.write_bytes(b"\x00" * 2048)  # add stores the bytes; the probe only runs at encode time
    korean, english = tmp_path / "lecture.ko.srt", tmp_path / "lecture.en.vtt"
    korean.write_bytes(b"\xef\xbb\xbf" + SRT.encode())
    english.write_text(VTT, encoding="utf-8")
    return {"source": source, "ko": korean, "en": english}


def stored_objects(env: dict[str, str]) -> list[str]:
    root = Path(env["VIDEOCTL_STORAGE_DIR"])
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def test_two_sidecars_are_stored_as_webvtt_in_the_order_given(capsys, env, files):
    added = run_cli(capsys, "--json", "video", "add", str(files["source"]),
                    "--captions", f"ko={files['ko']}", "--captions", f"EN={files['en']}")
    assert added.exit_code == 0, added.stdout + added.stderr
    video = added.json()["data"]
    assert set(video) >= {"id", "title", "source_key", "status"} and video["status"] == "UPLOADED"
    prefix = f"videos/{video['id']}/"
    assert stored_objects(env) == [f"{prefix}captions/1.ko.vtt", f"{prefix}captions/2.en.vtt", video["source_key"]]
    root = Path(env["VIDEOCTL_STORAGE_DIR"])
    korean = read_webvtt((root / prefix / "captions/1.ko.vtt").read_text(encoding="utf-8"), "ko")
    english = read_webvtt((root / prefix / "captions/2.en.vtt").read_text(encoding="utf-8"), "en")
    assert korean.cues == (Cue(500, 1500, "안녕하세요 &amp; <i>반갑습니다</i>"),)
    assert english.cues == (Cue(1000, 1800, "Hello", "align:start"),)


def test_a_malformed_sidecar_refuses_the_add_and_stores_nothing(capsys, env, files, tmp_path):
    broken = tmp_path / "broken.srt"
    broken.write_text("1\n00:00:01,000 --> 00:00:02,000\nfine\n\n2\n00:00:03.5 --> 00:00:04,000\nbad\n")
    result = run_cli(capsys, "--json", "video", "add", str(files["source"]),
                     "--captions", f"ko={files['ko']}", "--captions", f"en={broken}")
    assert result.exit_code == EXIT_CODES["invalid_input"] == 3
    error = result.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"] == ("captions 'en' (broken.srt): line 6: malformed timestamp '00:00:03.5' "
                                "(expected hh:mm:ss,ttt)")
    assert run_cli(capsys, "--json", "video", "list").json() == {"data": []}
    assert stored_objects(env) == []


@pytest.mark.parametrize(("captions", "message"), [
    ("english={ko}", "'english' is not a language tag"),
    ("ko={missing}", "captions 'ko' (missing.srt): file not found"),
    ("ko={directory}", "captions 'ko' (captions-dir): not a regular file"),
    ("ko={empty}", "captions 'ko' (empty.vtt) is empty"),
])
def test_bad_languages_and_files_are_invalid_input(capsys, env, files, tmp_path, captions, message):
    (tmp_path / "captions-dir").mkdir()
    (tmp_path / "empty.vtt").write_bytes(b"")
    value = captions.format(ko=files["ko"], missing=tmp_path / "missing.srt", directory=tmp_path / "captions-dir",
                            empty=tmp_path / "empty.vtt")
    result = run_cli(capsys, "--json", "video", "add", str(files["source"]), "--captions", value)
    assert result.exit_code == EXIT_CODES["invalid_input"]
    assert message in result.json()["error"]["message"]
    assert stored_objects(env) == []


def test_one_language_twice_is_refused(capsys, env, files):
    same = run_cli(capsys, "--json", "video", "add", str(files["source"]),
                   "--captions", f"ko={files['ko']}", "--captions", f"ko={files['en']}")
    assert same.exit_code == EXIT_CODES["usage_error"]
    assert same.json()["error"]["message"] == "--captions ko=… is given twice"
    spelled_apart = run_cli(capsys, "--json", "video", "add", str(files["source"]),
                            "--captions", f"ko={files['ko']}", "--captions", f"kor={files['en']}")
    assert spelled_apart.exit_code == EXIT_CODES["invalid_input"]
    assert spelled_apart.json()["error"]["message"] == "captions for 'ko' are given twice"
    assert stored_objects(env) == []


@pytest.mark.parametrize("value", ["ko", "=lecture.srt", "ko="])
def test_an_option_that_is_not_lang_equals_file_is_a_usage_error(capsys, env, files, value):
    result = run_cli(capsys, "--json", "video", "add", str(files["source"]), "--captions", value)
    assert result.exit_code == EXIT_CODES["usage_error"]
    assert "--captions takes LANG=FILE (e.g. ko=lecture.srt)" in result.json()["error"]["message"]
    assert stored_objects(env) == []


def test_without_captions_nothing_but_the_source_is_stored(capsys, env, files):
    added = run_cli(capsys, "video", "add", str(files["source"]))
    assert added.exit_code == 0, added.stderr
    assert [key.split("/", 2)[2] for key in stored_objects(env)] == ["source/lecture.mp4"]
