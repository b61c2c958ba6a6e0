"""Read the infra/json documents from disk: this checkout's, the installed copy, or VIDEOCTL_INFRA_DIR.

Reading is strict: a missing file or bad JSON is a ConfigError naming the
file (and line). :func:`load` hands the reader to the pure
:func:`videoctl.infra.documents.load`.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from videoctl.domain.errors import ConfigError
from videoctl.infra import documents
from videoctl.settings import Settings

#: infra/json of this checkout (videoctl/infra/files.py → repo root), else the copy the
#: wheel carries (pyproject.toml force-includes it as videoctl/infra_json).
CHECKOUT_DIR = Path(__file__).resolve().parents[2] / "infra" / "json"
INSTALLED_DIR = Path(__file__).resolve().parents[1] / "infra_json"
DEFAULT_DIR = CHECKOUT_DIR if CHECKOUT_DIR.is_dir() else INSTALLED_DIR


def infra_dir(settings: Settings) -> Path:
    root = settings.infra_dir or DEFAULT_DIR
    if not root.is_dir():
        raise ConfigError(
            f"infra documents not found: {root} is not a directory "
            f"({'VIDEOCTL_INFRA_DIR' if settings.infra_dir else 'default; set VIDEOCTL_INFRA_DIR'})",
            hint="point VIDEOCTL_INFRA_DIR at the infra/json directory of a videoctl checkout",
        )
    return root


def read_json(root: Path, relative: str) -> Any:
    """One document, parsed; errors name the file and the line."""
    path = root / relative
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"infra/json/{relative} is missing (looked in {root})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"infra/json/{relative} cannot be read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"infra/json/{relative}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def load(settings: Settings, account_id: str) -> documents.Documents:
    """The documents of ``settings``' infra directory, placeholders filled for ``account_id``."""
    return documents.load(partial(read_json, infra_dir(settings)), settings, account_id)
