"""What the embedded default keeps under VIDEOCTL_HOME for signed playback (storage/playback_home.py):
one local key, made once, private, never shown; and where `videoctl serve` listens, believed only
while its process runs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading

import pytest

from videoctl.domain.errors import ConfigError
from videoctl.storage import playback_home


def secret_of(home) -> str:
    return (home / "playback.key").read_text().strip().partition(":")[2]


def test_the_key_is_made_once_private_and_read_back(tmp_path):
    home = tmp_path / "home"
    first = playback_home.local_keyring(home)
    key_file = home / "playback.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and key_file.stat().st_nlink == 1
    assert first.kids == ("local",) and len(secret_of(home)) == 64 and int(secret_of(home), 16) >= 0
    assert playback_home.local_keyring(home).signing.secret == first.signing.secret == secret_of(home).encode()
    assert [p.name for p in home.iterdir()] == ["playback.key"]  # nothing staged left behind
    assert secret_of(home) not in repr(first)


def test_commands_starting_at_once_end_with_one_key(tmp_path):
    home = tmp_path / "home"
    start = threading.Barrier(8)
    found: list[bytes] = []

    def make() -> None:
        start.wait()
        found.append(playback_home.local_keyring(home).signing.secret)

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and len(set(found)) == 1
    assert [p.name for p in home.iterdir()] == ["playback.key"]


def test_a_key_others_may_read_is_refused_without_showing_it(tmp_path):
    home = tmp_path / "home"
    playback_home.local_keyring(home)
    (home / "playback.key").chmod(0o640)
    with pytest.raises(ConfigError) as refused:
        playback_home.local_keyring(home)
    assert "playback.key" in refused.value.message and "0640" in refused.value.message
    assert "chmod 600" in refused.value.hint and secret_of(home) not in str(refused.value)


def test_a_link_or_a_folder_in_its_place_is_refused(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    elsewhere = tmp_path / "elsewhere.key"
    elsewhere.write_text("local:" + "a" * 64)
    elsewhere.chmod(0o600)
    (home / "playback.key").symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="cannot be read"):
        playback_home.local_keyring(home)
    (home / "playback.key").unlink()
    (home / "playback.key").mkdir()
    with pytest.raises(ConfigError, match="not a private file"):
        playback_home.local_keyring(home)


def test_a_damaged_key_is_refused_naming_the_file_not_its_content(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "playback.key").write_text("local:too-short-a-secret-XYZ\n")
    (home / "playback.key").chmod(0o600)
    with pytest.raises(ConfigError) as refused:
        playback_home.local_keyring(home)
    assert "damaged" in refused.value.message and "too-short" not in str(refused.value) + str(refused.value.hint)


def test_where_serve_listens_is_believed_while_it_runs(tmp_path):
    home = tmp_path / "home"
    assert playback_home.serving_url(home) is None
    playback_home.record_serving(home, "http://127.0.0.1:8123")
    assert playback_home.serving_url(home) == "http://127.0.0.1:8123"
    playback_home.record_serving(home, "http://[::1]:8124")  # a second serve: the latest is used
    playback_home.forget_serving(home, "http://127.0.0.1:8123")  # the first stopping leaves it alone
    assert playback_home.serving_url(home) == "http://[::1]:8124"
    playback_home.forget_serving(home, "http://[::1]:8124")
    assert playback_home.serving_url(home) is None and not (home / "serve.json").exists()


@pytest.mark.parametrize("record", [
    {"url": "https://media.example.com", "pid": os.getpid()},  # only ever this machine
    {"url": "http://192.0.2.7:8080", "pid": os.getpid()},
    {"url": "http://127.0.0.1:8080", "pid": "1"},
    "not json at all",
])
def test_a_record_that_is_not_a_local_serve_s_is_ignored(tmp_path, record):
    home = tmp_path / "home"
    home.mkdir()
    (home / "serve.json").write_text(record if isinstance(record, str) else json.dumps(record))
    assert playback_home.serving_url(home) is None


def test_a_record_left_by_a_killed_serve_is_ignored(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    ended = subprocess.Popen(["true"])
    ended.wait()
    (home / "serve.json").write_text(json.dumps({"url": "http://127.0.0.1:8080", "pid": ended.pid}))
    assert playback_home.serving_url(home) is None
