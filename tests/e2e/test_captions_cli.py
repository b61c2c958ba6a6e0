"""`video add --captions LANG=FILE`: sidecars checked, converted to WebVTT and stored with the
source; one malformed file refuses the whole add (exit 3) and leaves no row and no object. A
sidecar saved in CP949 is stored, and packaged by a real encode, as UTF-8 WebVTT."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import clips
from tests.cli import run_cli
from videoctl.domain.captions import Cue, read_webvtt
from videoctl.domain.errors import EXIT_CODES
from videoctl.media.binary import find_ffmpeg

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


# ---------------------------------------------------------------- encodings

#: A Korean lecture's captions with English in them, as a Korean Windows editor saves them: CP949
#: (똠 is one of the syllables EUC-KR lacks), CRLF line breaks. Every cue lies within the 2 s clip.
KOREAN_SRT = ("1\r\n00:00:00,200 --> 00:00:00,900\r\n안녕하세요, 여러분. Welcome!\r\n\r\n"
              "2\r\n00:00:01,000 --> 00:00:01,800\r\n오늘은 「미분」을 배웁니다 & 똠방각하\r\n")
KOREAN_CUES = (Cue(200, 900, "안녕하세요, 여러분. Welcome!"), Cue(1000, 1800, "오늘은 「미분」을 배웁니다 &amp; 똠방각하"))


def test_a_cp949_sidecar_is_stored_as_utf8_webvtt(capsys, env, files, tmp_path):
    korean = tmp_path / "lecture.cp949.srt"
    korean.write_bytes(KOREAN_SRT.encode("cp949"))
    added = run_cli(capsys, "--json", "video", "add", str(files["source"]), "--captions", f"ko={korean}")
    assert added.exit_code == 0, added.stdout + added.stderr
    stored = Path(env["VIDEOCTL_STORAGE_DIR"]) / f"videos/{added.json()['data']['id']}/captions/1.ko.vtt"
    data = stored.read_bytes()
    assert data.startswith(b"WEBVTT\n")  # UTF-8 without a byte order mark
    assert read_webvtt(data.decode("utf-8"), "ko").cues == KOREAN_CUES


def test_a_sidecar_whose_encoding_cannot_be_decided_refuses_the_add(capsys, env, files, tmp_path):
    mixed = tmp_path / "mixed.srt"
    first, second = KOREAN_SRT.split("2\r\n")
    mixed.write_bytes(first.encode("utf-8") + ("2\r\n" + second).encode("cp949"))
    result = run_cli(capsys, "--json", "video", "add", str(files["source"]), "--captions", f"ko={mixed}")
    assert result.exit_code == EXIT_CODES["invalid_input"]
    error = result.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"].startswith("captions 'ko' (mixed.srt): cannot tell its text encoding: line 7 is not "
                                       "UTF-8 (byte 0xbf)")
    assert all(name in error["message"] for name in ("UTF-8", "UTF-16", "UTF-32", "CP949/EUC-KR", "Latin-1"))
    assert error["hint"] == "save the file as UTF-8"
    assert run_cli(capsys, "--json", "video", "list").json() == {"data": []}
    assert stored_objects(env) == []


@pytest.mark.slow
def test_a_cp949_srt_becomes_utf8_webvtt_in_the_encoded_ladder(capsys, env, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOCTL_LADDER", "360:800,240:400")
    monkeypatch.setenv("VIDEOCTL_HOME", str(tmp_path / "home"))
    korean = tmp_path / "lecture.srt"
    korean.write_bytes(KOREAN_SRT.encode("cp949"))
    source = clips.normal(find_ffmpeg(), tmp_path)
    added = run_cli(capsys, "--json", "video", "add", str(source), "--captions", f"ko={korean}")
    assert added.exit_code == 0, added.stdout + added.stderr
    video_id = added.json()["data"]["id"]
    done = run_cli(capsys, "--json", "submit", str(video_id), "--wait")
    assert done.exit_code == 0, done.stdout + done.stderr
    video = run_cli(capsys, "--json", "video", "show", str(video_id)).json()["data"]
    assert video["status"] == "READY" and video["caption_languages"] == ["ko"]

    ladder = (Path(env["VIDEOCTL_STORAGE_DIR"]) / video["hls_path"]).parent
    assert 'TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="ko",NAME="한국어"' in (
        ladder / "master.m3u8").read_text(encoding="utf-8")
    whole = (ladder / "subs/ko.vtt").read_bytes()
    assert whole.startswith(b"WEBVTT")  # UTF-8 without a byte order mark
    assert read_webvtt(whole.decode("utf-8"), "subs/ko.vtt").cues == KOREAN_CUES
    segments = sorted((ladder / "subs/ko").glob("*.vtt"))
    assert segments
    texts = {cue.text for segment in segments for cue in read_webvtt(segment.read_bytes().decode("utf-8"), "seg").cues}
    assert texts == {cue.text for cue in KOREAN_CUES}
