"""The delete-r2 Lambda zip: deterministic, minimal, and importable with nothing but itself and boto3."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import boto3
import pytest

from videoctl.domain.errors import ConfigError
from videoctl.infra.package import HANDLER, REPO_ROOT, build_lambda_zip

#: boto3 and what it needs: all a python3.12 Lambda runtime adds to the standard library.
RUNTIME_DISTS = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


def names(zip_bytes: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(zip_bytes)).namelist()


def fake_root(tmp_path: Path, handler_source: str) -> Path:
    """A checkout with a stand-in handler and the real videoctl package."""
    root = tmp_path / "checkout"
    (root / "worker").mkdir(parents=True)
    (root / "worker" / "__init__.py").write_text('"""worker"""\n')
    (root / "worker" / "delete_r2_handler.py").write_text(textwrap.dedent(handler_source))
    (root / "videoctl").symlink_to(REPO_ROOT / "videoctl", target_is_directory=True)
    return root


def runtime_site(tmp_path: Path) -> Path:
    """A directory holding only boto3 and its dependencies, linked from the venv."""
    site = tmp_path / "runtime-site"
    site.mkdir()
    packages = Path(boto3.__file__).resolve().parent.parent
    for dist in RUNTIME_DISTS:
        if (packages / dist).exists():
            (site / dist).symlink_to(packages / dist)
    return site


def import_in_clean_interpreter(tmp_path: Path, zip_bytes: bytes, code: str) -> subprocess.CompletedProcess:
    """python -I -S: no site-packages, no cwd, no PYTHONPATH; sys.path = stdlib + the zip + boto3."""
    package = tmp_path / "function.zip"
    package.write_bytes(zip_bytes)
    site = runtime_site(tmp_path)
    prelude = f"import sys\nsys.path[:0] = [{str(package)!r}, {str(site)!r}]\nZIP = {str(package)!r}\n"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "AWS_REGION": "eu-west-1",
           "R2_BUCKET": "videos", "R2_ENDPOINT_URL": "https://acct.r2.cloudflarestorage.com",
           "R2_ACCESS_KEY_ID": "k", "R2_SECRET_ACCESS_KEY": "s"}
    return subprocess.run([sys.executable, "-I", "-S", "-c", prelude + textwrap.dedent(code)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


CHECK_IMPORT = """
    import worker.delete_r2_handler as handler
    import videoctl
    assert handler.__file__.startswith(ZIP), handler.__file__
    assert videoctl.__file__.startswith(ZIP), videoctl.__file__
    for name in ("psycopg", "rich", "typer", "moto"):
        try:
            __import__(name)
        except ImportError:
            pass
        else:
            raise SystemExit(name + " leaked onto sys.path")
    assert callable(handler.handler)
    print("imported")
"""


def test_real_handler_zip_imports_in_a_clean_interpreter(tmp_path):
    zip_bytes = build_lambda_zip()
    listed = names(zip_bytes)
    assert HANDLER in listed and "worker/__init__.py" in listed
    assert "videoctl/settings.py" in listed and "videoctl/storage/s3.py" in listed
    assert not any(n.startswith(("videoctl/db/", "videoctl/commands/", "videoctl/media/", "videoctl/services/"))
                   for n in listed), listed
    result = import_in_clean_interpreter(tmp_path, zip_bytes, CHECK_IMPORT + """
    print(handler.handler({"Records": []}, None))
    """)
    assert result.returncode == 0, result.stderr
    assert "imported" in result.stdout and "{'batchItemFailures': []}" in result.stdout


def test_fake_handler_zip_holds_exactly_what_it_imports(tmp_path):
    root = fake_root(tmp_path, """
        from typing import TYPE_CHECKING
        import boto3
        from videoctl.settings import Settings
        from videoctl.storage import s3
        if TYPE_CHECKING:
            from videoctl.db.repositories import JobRepository  # never runs: not packaged

        def handler(event, context):
            from videoctl.domain import keys  # runs later in Lambda: packaged
            import rich  # third-party inside a function: allowed, not packaged
            return {"batchItemFailures": []}
    """)
    zip_bytes = build_lambda_zip(root)
    listed = names(zip_bytes)
    assert listed == sorted(listed)
    assert "videoctl/domain/keys.py" in listed and "videoctl/storage/s3.py" in listed
    assert "videoctl/storage/__init__.py" in listed and "videoctl/__init__.py" in listed
    assert not any(n.startswith("videoctl/db/") for n in listed)
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zipfile.ZipFile(io.BytesIO(zip_bytes)).infolist())
    result = import_in_clean_interpreter(tmp_path, zip_bytes, CHECK_IMPORT)
    assert result.returncode == 0, result.stderr


def test_zip_is_deterministic_whatever_the_file_times(tmp_path):
    root = fake_root(tmp_path, "from videoctl.storage import s3\ndef handler(e, c):\n    return {}\n")
    first = build_lambda_zip(root)
    copy = tmp_path / "copy"
    (copy / "worker").mkdir(parents=True)
    shutil.copyfile(root / "worker" / "__init__.py", copy / "worker" / "__init__.py")
    shutil.copyfile(root / HANDLER, copy / HANDLER)
    shutil.copytree(REPO_ROOT / "videoctl", copy / "videoctl", copy_function=shutil.copyfile,
                    ignore=shutil.ignore_patterns("__pycache__"))
    os.utime(copy / "videoctl" / "settings.py", (1, 1))
    assert build_lambda_zip(copy) == first
    (copy / "videoctl" / "commands" / "_render.py").write_text("# unrelated change\n")
    assert build_lambda_zip(copy) == first  # not imported by the handler: same package, no redeploy


def test_module_level_third_party_import_fails_the_build(tmp_path):
    root = fake_root(tmp_path, "import rich\ndef handler(e, c):\n    return {}\n")
    with pytest.raises(ConfigError, match="imports 'rich' at module level"):
        build_lambda_zip(root)


def test_missing_handler_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="worker/delete_r2_handler.py not found"):
        build_lambda_zip(tmp_path)
