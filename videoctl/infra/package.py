"""The delete-r2 Lambda's deployment zip, built from this checkout, byte-for-byte reproducible.

The zip holds ``worker/delete_r2_handler.py`` and exactly the ``videoctl``
modules it imports, found by reading the import statements (transitively,
including imports inside functions, which run later in Lambda). boto3 comes
with the python3.12 runtime; any other third-party import at module level
would fail in Lambda, so it fails the build instead.

Fixed timestamps, permissions and file order make the bytes depend only on
the sources, so Lambda's CodeSha256 tells verify whether the deployed code
is current, and an unrelated change elsewhere in videoctl does not redeploy.
"""

from __future__ import annotations

import ast
import io
import sys
import zipfile
from pathlib import Path

from videoctl.domain.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]  # videoctl/infra/package.py → the checkout (or site-packages)
HANDLER = "worker/delete_r2_handler.py"
#: What the python3.12 Lambda runtime provides besides the standard library.
RUNTIME_PACKAGES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"})
#: Our own top-level packages; everything else must be stdlib or the runtime's.
OWN_PACKAGES = ("videoctl", "worker")
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can store


def build_lambda_zip(root: Path = REPO_ROOT) -> bytes:
    """The deployment package: handler + the videoctl modules it needs, deterministic."""
    handler = root / HANDLER
    if not handler.is_file():
        raise ConfigError(f"{HANDLER} not found under {root}", hint="run infra lambda-setup from a videoctl checkout")
    files = sorted(collect(root, handler))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative in files:
            info = zipfile.ZipInfo(relative, date_time=_EPOCH)
            info.external_attr = 0o644 << 16  # rw-r--r--, readable by the Lambda runtime user
            info.create_system = 3  # Unix, whatever machine builds it
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (root / relative).read_bytes())
    return buffer.getvalue()


def collect(root: Path, entry: Path) -> set[str]:
    """Relative paths of ``entry`` and every own module it imports, with their packages' __init__.py."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        relative = path.relative_to(root).as_posix()
        if relative in seen:
            continue
        seen.add(relative)
        # The packages containing this file must be importable too (worker/__init__.py for the handler).
        todo.extend(parent / "__init__.py" for parent in path.parents
                    if root in parent.parents and (parent / "__init__.py").is_file())
        for module in _imports(path, root):
            for found in _module_files(root, module):
                todo.append(found)
    return seen


def _imports(path: Path, root: Path) -> list[str]:
    """Absolute module names imported by a file; refuses third-party imports Lambda lacks."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1] if path.name != "__init__.py"
                       else path.relative_to(root).parent.parts)
    names: list[str] = []
    for node, top_level in _walk(tree):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, package)
            # "from videoctl.domain import errors" may name a submodule: try both.
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
        else:
            continue
        for name in candidates:
            top = name.split(".")[0]
            if top in OWN_PACKAGES:
                names.append(name)
            elif top_level and top not in RUNTIME_PACKAGES and top not in sys.stdlib_module_names and top != "__future__":
                raise ConfigError(
                    f"{path.relative_to(root).as_posix()} imports {top!r} at module level, which the "
                    "python3.12 Lambda runtime does not provide",
                    hint="import it inside the function that needs it, or keep it out of the handler's imports",
                )
    return names


def _walk(tree: ast.AST) -> list[tuple[ast.AST, bool]]:
    """Import nodes with whether they run at import time; ``if TYPE_CHECKING:`` blocks never run."""
    out: list[tuple[ast.AST, bool]] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:
                    visit_node(sub, top_level)
                continue
            visit_node(child, top_level)

    def visit_node(node: ast.AST, top_level: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append((node, top_level))
        inner = top_level and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        visit(node, inner)

    visit(tree, True)
    return out


def _is_type_checking(test: ast.AST) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _module_files(root: Path, module: str) -> list[Path]:
    """The file of ``module`` and the __init__.py of every package on the way to it."""
    parts = module.split(".")
    files: list[Path] = []
    for i in range(1, len(parts) + 1):
        package_init = root.joinpath(*parts[:i], "__init__.py")
        if package_init.is_file():
            files.append(package_init)
    module_file = root.joinpath(*parts[:-1], parts[-1] + ".py")
    if module_file.is_file():
        files.append(module_file)
    return files
