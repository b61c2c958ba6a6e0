"""docs/api.md names every public method of videoctl.api.Client, and every name the module exports."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import videoctl.api as api

DOC = (Path(__file__).parents[2] / "docs" / "api.md").read_text(encoding="utf-8")


def test_every_public_method_of_the_client_is_documented():
    public = {name for name, _ in inspect.getmembers(api.Client) if not name.startswith("_")}
    documented = set(re.findall(r"`(\w+)\(", DOC)) | set(re.findall(r"`(\w+)`", DOC))
    assert sorted(public - documented) == []


def test_every_exported_name_resolves_and_the_records_are_documented():
    for name in api.__all__:
        assert getattr(api, name) is not None
    for record in ("Video", "Job", "Upload", "Uploaded", "VideoStatus", "InvalidInput", "NotFound", "InvalidState"):
        assert f"`{record}`" in DOC
