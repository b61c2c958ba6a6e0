"""The layers of the house, checked from the source: imports point down, and nothing goes round.

commands parse, call videoctl.api and render: they import no service, no repository or other
database module, nothing of the infra wing and nothing that talks to AWS (the result types they
name come from videoctl.api too); so does the web page (videoctl/web), which reaches nothing
below videoctl.api.Client either. Services orchestrate: no botocore or boto3 (executors and
stores hide AWS), and no repository class (they name the domain's repository Protocols, so
importing a service loads no database driver). The domain is pure (the standard library and
itself), and no chain of imports, lazy ones included, comes back to where it began.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "videoctl"


@cache
def imports() -> dict[str, set[str]]:
    """videoctl module → every module it imports, at module level or inside a function."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[name] = names
    return found


def offenders(layer: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {}
    for module, names in imports().items():
        if module.startswith(layer):
            hits = sorted(n for n in names if n.startswith(forbidden))
            if hits:
                bad[module] = hits
    return bad


def test_commands_call_the_api_and_render():
    below = ("botocore", "boto3", "psycopg", *(f"videoctl.{layer}" for layer in (
        "db", "aws", "storage", "services", "executor", "media", "notify", "infra", "context")))
    assert offenders("videoctl.commands", below) == {}


def test_what_the_commands_take_from_the_api_is_there():
    # Type-only imports included: a name the api does not give would break no run, only the types.
    import videoctl.api

    named = {n.removeprefix("videoctl.api.") for module, names in imports().items()
             if module.startswith("videoctl.commands") for n in names if n.startswith("videoctl.api.")}
    assert {"ScanReport", "VideoDetail", "InfraDrift"} <= named
    assert sorted(n for n in named if not hasattr(videoctl.api, n)) == []


def test_the_web_page_calls_only_the_api_client():
    below = ("botocore", "boto3", "psycopg", *(f"videoctl.{layer}" for layer in (
        "db", "aws", "storage", "services", "executor", "media", "infra", "context", "commands", "cli")))
    assert offenders("videoctl.web", below) == {}


def test_services_never_see_botocore():
    assert offenders("videoctl.services", ("botocore", "boto3")) == {}


def test_services_name_the_domains_repository_protocols():
    # Not the classes of videoctl.db.repositories: importing a service loads no database driver.
    assert offenders("videoctl.services", ("videoctl.db.repositories", "psycopg")) == {}
    assert "videoctl.domain.repositories" in imports()["videoctl.services.submit"]


def test_the_domain_is_pure():
    allowed = set(sys.stdlib_module_names) | {"videoctl"}
    bad = {module: sorted(n for n in names if n.split(".")[0] not in allowed)
           for module, names in imports().items() if module.startswith("videoctl.domain")}
    assert {m: n for m, n in bad.items() if n} == {}
    upward = offenders("videoctl.domain", tuple(f"videoctl.{layer}" for layer in (
        "services", "commands", "db", "aws", "storage", "media", "executor", "infra", "context", "api", "cli",
        "web")))
    assert upward == {}


def test_no_import_circle():
    graph = {module: {n for n in names if n in imports() and n != module} for module, names in imports().items()}
    circles = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_the_checks_see_the_modules_they_judge():
    # A scan that found nothing would pass every test above.
    assert {"videoctl.commands.jobs", "videoctl.services.submit", "videoctl.domain.scan",
            "videoctl.web.pages"} <= set(imports())
    assert "videoctl.api" in imports()["videoctl.web.pages"]
    assert "videoctl.domain.errors" in imports()["videoctl.domain.scan"]
