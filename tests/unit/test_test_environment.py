"""The test environment is reproducible: what the tests install is pinned, and the pins are real."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["test"]]


def test_every_requirement_is_pinned_in_the_constraints_within_its_range():
    pins = _pins()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (requirement, pins[name])


def _optional_only() -> set[str]:
    """Pins for the optional extras beyond `test` (benchmarks): not installed by the test command."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return {canonicalize_name(Requirement(text).name) for name, texts in extras.items() if name != "test"
            for text in texts}


def test_the_installed_packages_are_the_pinned_ones():
    for name, version in _pins().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            assert name in _optional_only(), f"{name} is pinned but not installed"
            continue
        assert installed == version, f"{name}: installed {installed}, pinned {version}"


def test_every_moto_extra_we_name_exists():
    moto = next(r for r in _requirements() if r.name == "moto")
    provided = {canonicalize_name(extra) for extra in metadata.metadata("moto").get_all("Provides-Extra")}
    assert sorted(e for e in moto.extras if canonicalize_name(e) not in provided) == []


def test_the_readme_and_ci_install_from_the_constraints():
    readme_test_command = next(line for line in (ROOT / "README.md").read_text().splitlines()
                               if "pytest" in line and line.startswith("python3 -m venv"))
    assert "-c constraints.txt" in readme_test_command
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_test_command in ci
    assert re.search(r"pip install -e \. -c constraints\.txt && \.venv/bin/videoctl demo", (ROOT / "README.md").read_text())
