"""What the embedded default keeps under VIDEOCTL_HOME for signed playback, so that `videoctl
playback` and `videoctl demo` sign URLs that the local `videoctl serve` verifies, with nothing
configured (README "Playback for your viewers", local mode):

- ``playback.key``: ``local:SECRET``, 64 hex digits from the system's randomness, mode 0600,
  made by whichever command needs it first. It is written under a name of its own and linked
  into place, so two commands starting at once end up with one key, never half of one. It is
  read without following a link, and refused (config_error naming the file, never its content)
  when it is not a regular file of this user's or others may read it, as ssh refuses a key.
  Nothing prints it: only a keyring holds it.
- ``serve.json``: the address of the `videoctl serve` listening on loopback and its process id,
  written once it listens and removed when it stops; a record whose process is gone is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from pathlib import Path

from videoctl.domain import playback
from videoctl.domain.errors import ConfigError

KEY_FILE = "playback.key"
SERVE_FILE = "serve.json"
#: The key id of the local key (VIDEOCTL_PLAYBACK_KEYS, when set, is used instead).
LOCAL_KID = "local"
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_BYTES = 4096


def local_keyring(home: Path) -> playback.Keyring:
    """The local playback key under *home*, made on first use."""
    path = home / KEY_FILE
    try:
        text = _read_private(path)
    except FileNotFoundError:
        _create_key(path)
        text = _read_private(path)
    try:
        return playback.parse_keys(text.strip())
    except ValueError:
        raise ConfigError(f"the local playback key {path} is damaged",
                          hint="delete it: the next command makes a new one (URLs signed with the old one "
                               "stop working), or set VIDEOCTL_PLAYBACK_KEYS") from None


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)  # the home's own mode, as the database makes it
    staged = path.with_name(f".{KEY_FILE}.{secrets.token_hex(8)}")
    fd = os.open(staged, _CREATE, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(f"{LOCAL_KID}:{secrets.token_hex(32)}\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another command made one first: theirs stands
            os.link(staged, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staged)


def _read_private(path: Path) -> str:
    try:
        fd = os.open(path, _READ)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ConfigError(f"the local playback key {path} cannot be read: {exc.strerror}",
                          hint="a link is never followed there; remove what is in its place") from None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.geteuid() or found.st_mode & 0o077:
            raise ConfigError(f"the local playback key {path} is not a private file of this user's "
                              f"(mode {stat.S_IMODE(found.st_mode):04o})",
                              hint=f"chmod 600 {path} if it is yours, or delete it for a new one")
        return os.read(fd, _MAX_BYTES).decode("ascii", "replace")
    finally:
        os.close(fd)


# ---------------------------------------------------------------- where serve listens


def record_serving(home: Path, url: str) -> None:
    """Note that this process serves *url* (a loopback ``http://`` origin), replacing any record."""
    home.mkdir(parents=True, exist_ok=True)
    staged = home / f".{SERVE_FILE}.{secrets.token_hex(8)}"
    fd = os.open(staged, _CREATE, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"url": url, "pid": os.getpid()}, out)
    os.replace(staged, home / SERVE_FILE)  # replaces the name itself, never what a link points at


def forget_serving(home: Path, url: str) -> None:
    """Remove the record if it is still this process's (another serve may have started since)."""
    if _record(home) == (url, os.getpid()):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(home / SERVE_FILE)


def serving_url(home: Path) -> str | None:
    """The address of the `videoctl serve` running on this machine, None if none is."""
    found = _record(home)
    if found is None:
        return None
    url, pid = found
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # it ended without removing its record (SIGKILL)
    except PermissionError:
        pass  # running, as another user
    return url


def _record(home: Path) -> tuple[str, int] | None:
    try:
        fd = os.open(home / SERVE_FILE, _READ)
    except OSError:
        return None
    try:
        record = json.loads(os.read(fd, _MAX_BYTES)) if stat.S_ISREG(os.fstat(fd).st_mode) else None
        url, pid = record["url"], record["pid"]  # type: ignore[index]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    finally:
        os.close(fd)
    if not (isinstance(url, str) and playback.is_local_base(url) and isinstance(pid, int) and pid > 0):
        return None  # only ever this machine's address
    return url, pid
