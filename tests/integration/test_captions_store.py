"""Sidecars in the object store, local and R2 (moto): stored as WebVTT by ``add_video`` and fetched
back for an encode in the order they were given, whatever the listing order."""

from __future__ import annotations

from pathlib import Path

import pytest

from videoctl.domain.captions import Cue, parse_captions
from videoctl.services.captions import fetch_sidecars, read_sidecars, store_sidecars
from videoctl.services.videos import add_video
from videoctl.settings import Settings
from videoctl.storage import open_store
from videoctl.storage.local import LocalStore


@pytest.fixture(params=["local", "r2"])
def store(request, tmp_path):
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
    else:
        yield open_store(Settings.from_env(request.getfixturevalue("r2_env")))


def caption_file(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_sidecars_come_back_in_the_order_given(store, tmp_path):
    files = {language: caption_file(tmp_path, f"{language}.srt", f"1\n00:00:0{n},000 --> 00:00:0{n},900\n{language}\n")
             for n, language in enumerate(["zh", "ko", "en"], start=1)}
    keys = store_sidecars(store, "videos", 5, read_sidecars(files))
    assert keys == ["videos/5/captions/1.zh.vtt", "videos/5/captions/2.ko.vtt", "videos/5/captions/3.en.vtt"]
    store.upload_file(caption_file(tmp_path, "stray.txt", "not captions"), "videos/5/captions/notes.txt")

    fetched = fetch_sidecars(store, "videos", 5, tmp_path / "work")
    assert list(fetched) == ["zh", "ko", "en"]
    for n, (language, path) in enumerate(fetched.items(), start=1):
        assert path.parent == tmp_path / "work" / "captions"
        assert parse_captions(path.read_text(encoding="utf-8"), language) == [Cue(n * 1000, n * 1000 + 900, language)]


def test_a_video_without_sidecars_fetches_none(store, tmp_path):
    assert fetch_sidecars(store, "videos", 6, tmp_path / "work") == {}
    assert not (tmp_path / "work").exists()


def test_add_video_stores_the_row_source_and_sidecars_together(ctx, tmp_path):
    source = tmp_path / "talk.mp4"
    source.write_bytes(b"\x01" * 4096)
    english = caption_file(tmp_path, "talk.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n")
    video = add_video(ctx.videos, ctx.store, videos_root="videos", path=source, captions={"en": english})
    assert ctx.videos.get(video.id).source_key == video.source_key
    assert list(fetch_sidecars(ctx.store, "videos", video.id, tmp_path / "work")) == ["en"]
