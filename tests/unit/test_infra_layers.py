"""The infra wing's split: pure modules import no boto3/botocore and do no IO; no module borrows a private name."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import videoctl.infra

WING = Path(videoctl.infra.__file__).parent
#: The modules that talk to AWS or the file system; every other module of the wing must be pure.
IO_MODULES = frozenset({"files", "live", "apply", "package", "service"})
#: Imports that mean IO (or a way to it) in a module that must be pure.
IO_IMPORTS = ("boto3", "botocore", "videoctl.aws", "videoctl.db", "videoctl.storage", "videoctl.executor",
              "os", "io", "pathlib", "shutil", "subprocess", "socket", "urllib.request", "zipfile")
IO_CALLS = frozenset({"open", "read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "glob", "rglob"})

MODULES = sorted(path.stem for path in WING.glob("*.py") if path.stem != "__init__")
PURE = [name for name in MODULES if name not in IO_MODULES]


def tree(name: str) -> ast.Module:
    return ast.parse((WING / f"{name}.py").read_text(encoding="utf-8"))


def imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and not node.level:
        return [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def test_the_io_modules_exist_and_the_rest_is_pure():
    assert IO_MODULES <= set(MODULES)
    assert {"model", "documents", "placeholders", "validation", "compare", "planner"} <= set(PURE)


def test_pure_modules_load_no_boto3_botocore_or_io_module():
    """In a fresh interpreter: importing every pure module pulls in no AWS SDK and none of the IO modules."""
    code = (
        "import json, sys\n"
        + "".join(f"import videoctl.infra.{name}\n" for name in PURE)
        + "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')"
          " or m.startswith('videoctl.aws') or m.startswith('videoctl.infra.'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout)
    assert [m for m in loaded if m.split(".")[0] in ("boto3", "botocore") or m.startswith("videoctl.aws")] == []
    assert sorted(m.rsplit(".", 1)[1] for m in loaded) == PURE  # no IO module came along


@pytest.mark.parametrize("name", PURE)
def test_pure_module_neither_imports_nor_calls_io(name):
    found = []
    for node in ast.walk(tree(name)):
        for module in imported(node):
            if any(module == banned or module.startswith(banned + ".") for banned in IO_IMPORTS):
                found.append(f"imports {module}")
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if called in IO_CALLS:
                found.append(f"calls {called}() on line {node.lineno}")
    assert found == []


@pytest.mark.parametrize("name", MODULES)
def test_no_module_imports_another_modules_private_name(name):
    private = [f"{node.module}.{alias.name}" for node in ast.walk(tree(name)) if isinstance(node, ast.ImportFrom)
               for alias in node.names if alias.name.startswith("_") and node.module != "__future__"]
    assert private == []
