"""`infra verify`'s playback row: what can be checked of the edge from here (keys set, an https base
URL that is not the bucket's own address), SKIPPED without VIDEOCTL_PLAYBACK_BASE_URL, never a
secret in the plan, and nothing for setup to do."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_infra_documents import ACCOUNT, SECRET_VALUES, settings
from videoctl.infra import files, playback_edge
from videoctl.infra.documents import desired_resources
from videoctl.infra.model import Desired, Kind, Status
from videoctl.infra.planner import plan


def row(**overrides: str | None):
    chosen = settings(**overrides)
    (wanted,) = [d for d in desired_resources(files.load(chosen, ACCOUNT), chosen, None)
                 if d.kind is Kind.PLAYBACK_EDGE]
    (item,) = plan([wanted], {} if wanted.skipped else {wanted.key: {}})
    return item


def test_configured_and_https_is_ok_with_nothing_to_do():
    item = row()
    assert (item.kind, item.name, item.status) == (Kind.PLAYBACK_EDGE, "https://media.example.com", Status.OK)
    assert item.actions == () and item.manual == () and item.diffs == ()
    assert not any(secret in json.dumps(item.to_dict()) for secret in SECRET_VALUES)


def test_without_a_base_url_it_is_skipped_saying_why():
    item = row(VIDEOCTL_PLAYBACK_BASE_URL=None)
    assert item.status is Status.SKIPPED and item.ok
    assert item.note.startswith("VIDEOCTL_PLAYBACK_BASE_URL is not set")


@pytest.mark.parametrize(("base", "why"), [
    ("http://127.0.0.1:8080", "need https"),
    ("https://acct.r2.cloudflarestorage.com", "bucket's own address"),
    ("https://pub-0123456789abcdef.r2.dev", "bucket's own address"),
])
def test_a_base_url_viewers_cannot_use_is_drift_for_a_person(base, why):
    endpoint = "https://acct.r2.cloudflarestorage.com"
    item = row(VIDEOCTL_PLAYBACK_BASE_URL=base, R2_ENDPOINT_URL=endpoint)
    assert item.status is Status.DRIFT and not item.ok and item.actions == ()
    assert any(why in (d.note or "") for d in item.diffs), item.diffs
    assert "worker/edge/README.md" in item.manual[0]


def test_keys_missing_is_drift():
    """Settings refuse a base URL without keys at start; the check stands on its own all the same."""
    wanted = Desired(Kind.PLAYBACK_EDGE, "https://media.example.com",
                     {"base_url": "https://media.example.com", "key_ids": [], "r2_endpoint_url": None},
                     playback_edge.SOURCE)
    item = playback_edge.plan_playback_edge(wanted, {})
    assert item.status is Status.DRIFT and [d.field for d in item.diffs] == ["VIDEOCTL_PLAYBACK_KEYS"]
