"""The Batch image's Dockerfile (no Docker engine here to build it: its contract is checked as text)."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "worker" / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.startswith(name + " ")]


def test_entrypoint_is_run_job_and_the_job_definition_command_fits_it():
    assert json.loads(instructions("ENTRYPOINT")[-1]) == ["videoctl", "run-job"]
    definition = json.loads((ROOT / "infra/json/batch/job_definition.json").read_text())
    command = definition["containerProperties"]["command"]
    assert command == ["videoctl", "run-job", "Ref::job_id"]
    from videoctl.cli import _container_args

    # What the container's process receives: entrypoint args + command.
    assert _container_args(["run-job", *command[:2], "42"]) == ["run-job", "42"]


def test_slim_python_non_root_pinned_ffmpeg_json_logs():
    assert re.match(r"python:3\.11-slim", instructions("FROM")[0])
    user = instructions("USER")[-1].strip()
    assert user and user not in ("root", "0")
    assert "imageio_ffmpeg" in DOCKERFILE and "/usr/local/bin/ffmpeg" in DOCKERFILE
    assert "VIDEOCTL_LOG_FORMAT=json" in DOCKERFILE
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"imageio-ffmpeg==[\d.]+"', pyproject)  # one pinned ffmpeg build
