"""The playback edge Worker (worker/edge/) under test: workerd through Miniflare, from npm, on
loopback, bound to a local R2 bucket seeded with a real ladder (worker/edge/test/harness.mjs).

Requests go out with http.client, which sends a path exactly as written: `..`, `%2e%2e`, `%2F`
and `//` reach the Worker as an attacker would send them, not as a browser would tidy them.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import pytest

EDGE = Path(__file__).resolve().parents[2] / "worker" / "edge"


def node_or_skip() -> str:
    """The `node` binary, with the Worker's packages installed; a skip that says why where
    there is no Node.js (CI must have it)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the edge Worker's tests: Node.js and npm are missing")
        pytest.skip("no Node.js here: the edge Worker's tests run it in workerd (Miniflare, from npm)")
    _install_packages(npm)
    return node


def _install_packages(npm: str) -> None:
    """`npm ci` in worker/edge once, whoever asks first (xdist workers take turns on a lock), so
    the README's one test command needs nothing else; the versions are package-lock.json's."""
    import fcntl

    if (EDGE / "node_modules" / "miniflare").is_dir():
        return
    with open(EDGE / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (EDGE / "node_modules" / "miniflare").is_dir():
            return
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=EDGE, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"`npm ci` in {EDGE} failed:\n{done.stderr[-2000:]}")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; repeated ones joined with ", "
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class EdgeWorker:
    """One Worker, its R2 bucket seeded from *seed* (a local store's folder, keys as paths)."""

    def __init__(self, *, seed: Path, keys: str, state: Path, origins: str = "", max_expiry_s: int = 86_400):
        config = {"seed": str(seed), "keys": keys, "origins": origins, "maxExpiry": max_expiry_s,
                  "state": str(state)}
        self._log = (state.parent / f"{state.name}.log").open("w+b")
        self.process = subprocess.Popen(
            [node_or_skip(), str(EDGE / "test" / "harness.mjs"), json.dumps(config)], cwd=EDGE,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the edge Worker did not start:\n{self.log_text()}")
        self.url = json.loads(line)["url"]
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port

    @property
    def base(self) -> str:
        return self.url.rstrip("/")

    def log_text(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def request(self, path: str, *, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            connection.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            body = response.read()
            found: dict[str, str] = {}
            for name, value in response.getheaders():
                found[name.lower()] = f"{found[name.lower()]}, {value}" if name.lower() in found else value
            return Reply(response.status, found, body)
        finally:
            connection.close()

    def command(self, **command: object) -> dict:
        stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        stdin.write(json.dumps(command) + "\n")
        stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the edge Worker's harness stopped:\n{self.log_text()}")
        return json.loads(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
