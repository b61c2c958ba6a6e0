"""The playback edge, as far as it can be checked from here: one row of `infra verify`. Pure.

The Worker runs on Cloudflare (worker/edge/, deployed with wrangler): its PLAYBACK_KEYS secret
cannot be read back and nothing here deploys it. What is checked is what videoctl signs with and
where it sends viewers: the keys are set, the base URL is https, and it is not the bucket's own
address (the S3 API endpoint or an r2.dev URL), where no Worker checks a token. Without
VIDEOCTL_PLAYBACK_BASE_URL the row is SKIPPED, as the bucket's CORS rules are without
VIDEOCTL_UPLOAD_ORIGINS.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from videoctl.infra.model import Desired, Diff, Kind, PlanItem, Status
from videoctl.settings import Settings

SOURCE = "settings: VIDEOCTL_PLAYBACK_KEYS, VIDEOCTL_PLAYBACK_BASE_URL"
#: Hosts that are the bucket itself: reached there, nothing checks a token.
_BUCKET_HOSTS = (".r2.cloudflarestorage.com", ".r2.dev")


def desired(settings: Settings) -> Desired:
    base = settings.playback_base_url
    keyring = settings.playback_keyring
    spec: dict[str, Any] = {
        "base_url": base,
        "key_ids": list(keyring.kids) if keyring else [],
        "r2_endpoint_url": settings.r2_endpoint_url,
    }
    skipped = None if base else (
        "VIDEOCTL_PLAYBACK_BASE_URL is not set: no playback URLs for viewers; set it and VIDEOCTL_PLAYBACK_KEYS "
        "to the edge Worker's (worker/edge/README.md)")
    return Desired(Kind.PLAYBACK_EDGE, base or "(no playback base URL)", spec, SOURCE, frozenset({"playback"}),
                   skipped=skipped)


def plan_playback_edge(d: Desired, live: Any) -> PlanItem:
    """OK, or DRIFT with what is wrong; setup changes nothing here (a person fixes the settings)."""
    spec = d.spec
    diffs: list[Diff] = []
    if not spec["key_ids"]:
        diffs.append(Diff("VIDEOCTL_PLAYBACK_KEYS", None, "KID:SECRET,…", "nothing can be signed without a key"))
    base = spec["base_url"] or ""
    parts = urlsplit(base)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        diffs.append(Diff("VIDEOCTL_PLAYBACK_BASE_URL", base, "https://…",
                          "viewers' players need https; http:// on this machine is for local mode only"))
    endpoint_host = (urlsplit(spec["r2_endpoint_url"]).hostname or "").lower() if spec["r2_endpoint_url"] else None
    if host.endswith(_BUCKET_HOSTS) or host == endpoint_host:
        diffs.append(Diff("VIDEOCTL_PLAYBACK_BASE_URL", base, "the Worker's host (its route on a custom domain)",
                          "this is the bucket's own address: nothing there checks a token"))
    manual = ("fix the VIDEOCTL_PLAYBACK_* settings named above; the Worker is deployed with wrangler "
              "(worker/edge/README.md)",) if diffs else ()
    status = Status.DRIFT if diffs else Status.OK
    return PlanItem(d.kind, d.name, status, tuple(diffs), (), manual, d.source)
