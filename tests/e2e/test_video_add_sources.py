"""`video add` takes only a regular file of the user's, and a full store commits nothing.

Through the real CLI boundary on a real database and local store (R2 on moto for the
upload failure): links are resolved and their target checked, devices, FIFOs, sockets
and directories are refused (also behind a link), a private file or a link someone else
planted is refused, and a store that runs out of space (a real tmpfs of 2 MiB) is a
storage_error with no video row and no object left. Nothing refused leaves anything.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import boto3
import pytest

from tests.cli import run_cli
from videoctl.domain.errors import EXIT_CODES
from videoctl.storage.source import open_source

ROOT = os.geteuid() == 0
NOBODY = 65534


def payload(path: Path, size: int = 4096, mode: int = 0o644) -> Path:
    path.write_bytes(os.urandom(size))
    path.chmod(mode)
    return path


def stored_files(env) -> list[str]:
    root = Path(env["VIDEOCTL_STORAGE_DIR"])
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.exists() else []


def refused(capsys, env, conn, path: Path, *words: str) -> dict:
    result = run_cli(capsys, "--json", "video", "add", str(path))
    assert result.exit_code == EXIT_CODES["invalid_input"], result.stdout
    error = result.json()["error"]
    for word in words:
        assert word in error["message"], error
    assert conn.execute("SELECT count(*) AS n FROM video").fetchone()["n"] == 0
    assert stored_files(env) == []
    return error


def test_a_link_of_your_own_to_your_file_is_followed_and_named_as_given(capsys, env, conn, tmp_path):
    clip = payload(tmp_path / "real.bin")
    (tmp_path / "talk.mp4").symlink_to(clip)
    added = run_cli(capsys, "--json", "video", "add", str(tmp_path / "talk.mp4"))
    assert added.exit_code == 0, added.stdout
    video = added.json()["data"]
    assert video["source_key"] == f"videos/{video['id']}/source/talk.mp4" and video["size_bytes"] == 4096
    stored = Path(env["VIDEOCTL_STORAGE_DIR"]) / video["source_key"]
    assert stored.read_bytes() == clip.read_bytes() and not stored.is_symlink()


def test_devices_fifos_sockets_and_directories_are_refused_even_behind_a_link(capsys, env, conn, tmp_path):
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)  # opening it for reading would hang a careless reader
    sock_path = tmp_path / "sock.mp4"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        cases = {fifo: "a FIFO", sock_path: "a socket", Path("/dev/null"): "a character device",
                 tmp_path: "a directory"}
        for target, kind in cases.items():
            refused(capsys, env, conn, target, kind, "not a regular file")
            link = tmp_path / f"link-{abs(hash(target))}.mp4"
            link.symlink_to(target)
            refused(capsys, env, conn, link, kind, f"through the link {link}")
    finally:
        sock.close()


@pytest.mark.parametrize("name, why", [
    ("talk.mp4 ", "ends with a space"),
    ("talk.mp4\u00a0", "ends with a space"),
    ("talk\x1b[2J.mp4", "control character U+001B"),
    ("talk\n.mp4", "control character U+000A"),
    ("talk\x7f.mp4", "control character U+007F"),
])
def test_a_file_whose_name_no_source_should_have_is_refused(capsys, env, conn, tmp_path, name, why):
    """The file is real and readable: its name alone is refused, not quietly changed into another."""
    error = refused(capsys, env, conn, payload(tmp_path / name), why)
    assert error["hint"] and "no trailing blank" in error["hint"]


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_and_dot_dot_are_refused_by_name(capsys, env, conn, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    refused(capsys, env, conn, Path(name), f"the source name {name!r} names a folder, not a file")


def test_a_dangling_link_and_a_loop_are_refused(capsys, env, conn, tmp_path):
    (tmp_path / "dangling.mp4").symlink_to(tmp_path / "gone.mp4")
    refused(capsys, env, conn, tmp_path / "dangling.mp4", "not found")
    (tmp_path / "a.mp4").symlink_to(tmp_path / "b.mp4")
    (tmp_path / "b.mp4").symlink_to(tmp_path / "a.mp4")
    refused(capsys, env, conn, tmp_path / "a.mp4", "more than 40 links")


@pytest.mark.skipif(not Path("/etc/shadow").exists(), reason="no /etc/shadow on this machine")
def test_a_link_to_etc_shadow_copies_nothing(capsys, env, conn, tmp_path):
    (tmp_path / "lecture.mp4").symlink_to("/etc/shadow")
    # As root: not readable by every user (root's privilege is what would read it). Otherwise: not readable.
    refused(capsys, env, conn, tmp_path / "lecture.mp4", "lecture.mp4",
            "not readable by every user" if ROOT else "cannot be read")


def test_a_file_readable_only_through_privilege_is_refused(capsys, env, conn, tmp_path):
    private = payload(tmp_path / "private.mp4", mode=0o600)
    if ROOT:
        os.chown(private, NOBODY, NOBODY)  # someone else's, which only root's privilege can read
        error = refused(capsys, env, conn, private, "not readable by every user", "-rw-------")
        assert "chmod o+r" in error["hint"]
        # Root's own private file too: root can read anything, so only what anyone may read is taken.
        os.chown(private, 0, 0)
        refused(capsys, env, conn, private, "not readable by every user")
    else:
        private.chmod(0)
        refused(capsys, env, conn, private, "cannot be read")
    private.chmod(0o644)
    assert run_cli(capsys, "video", "add", str(private)).exit_code == 0


@pytest.mark.skipif(not ROOT, reason="planting a link owned by another user needs root (lchown)")
def test_a_link_planted_by_someone_else_is_refused(capsys, env, conn, tmp_path):
    target = payload(tmp_path / "roots-clip.mp4")  # root's, readable by all: only the link is wrong
    for planted in (tmp_path / "upload.mp4", tmp_path / "folder"):
        planted.symlink_to(target if planted.suffix else tmp_path)
        os.lchown(planted, NOBODY, NOBODY)
    refused(capsys, env, conn, tmp_path / "upload.mp4", "owned by uid 65534", "planted")
    # A planted link to a folder on the way is checked like the last one.
    refused(capsys, env, conn, tmp_path / "folder" / "roots-clip.mp4", f"{tmp_path}/folder", "planted")
    # The file's owner may link to their own file.
    os.chown(target, NOBODY, NOBODY)
    assert run_cli(capsys, "video", "add", str(tmp_path / "upload.mp4")).exit_code == 0


def test_what_is_copied_is_the_file_that_was_checked(tmp_path):
    """The check and the copy share one descriptor: replacing the path afterwards changes nothing."""
    path = payload(tmp_path / "clip.mp4", size=100)
    original = path.read_bytes()
    with open_source(path) as source:
        path.unlink()
        (tmp_path / "clip.mp4").symlink_to("/etc/hostname")
        assert source.size == 100 and source.file.read() == original


# ---------------------------------------------------------------- a full store


@pytest.fixture
def tiny_store(env, tmp_path, monkeypatch):
    """The local store on a real 2 MiB tmpfs."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    monkeypatch.setenv("VIDEOCTL_STORAGE_DIR", str(mount / "storage"))
    env = {**env, "VIDEOCTL_STORAGE_DIR": str(mount / "storage")}
    yield env
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_store_is_a_storage_error_and_commits_nothing(capsys, tiny_store, conn, tmp_path):
    big = payload(tmp_path / "big.mp4", size=3 << 20)
    result = run_cli(capsys, "--json", "video", "add", str(big))
    assert result.exit_code == EXIT_CODES["storage_error"] == 9, result.stdout
    error = result.json()["error"]
    assert error["code"] == "storage_error" and "No space left on device" in error["message"]
    assert "VIDEOCTL_STORAGE_DIR" in error["hint"]
    assert conn.execute("SELECT count(*) AS n FROM video").fetchone()["n"] == 0
    storage = Path(tiny_store["VIDEOCTL_STORAGE_DIR"])
    assert [p for p in storage.rglob("*")] == []  # no object, no half-written temporary, no empty folder
    # The space is all there again: a file that fits is stored.
    assert run_cli(capsys, "video", "add", str(payload(tmp_path / "small.mp4", size=1 << 20))).exit_code == 0


def test_an_r2_upload_failure_commits_nothing(capsys, r2_env, conn, tmp_path):
    boto3.client("s3", region_name="us-east-1").delete_bucket(Bucket=r2_env["R2_BUCKET"])
    result = run_cli(capsys, "--json", "video", "add", str(payload(tmp_path / "clip.mp4")))
    assert result.exit_code == EXIT_CODES["storage_error"], result.stdout
    assert "NoSuchBucket" in result.json()["error"]["message"]
    assert conn.execute("SELECT count(*) AS n FROM video").fetchone()["n"] == 0
