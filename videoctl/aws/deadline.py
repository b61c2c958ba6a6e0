"""An AWS call that ends within a deadline, whatever the endpoint does.

botocore's timeouts apply to the connect and to each read, and its retries multiply them;
a delivery has one total deadline (``VIDEOCTL_DELIVERY_TIMEOUT_SECONDS``). The call runs in
a worker thread that is waited for that long at most; the client's own timeouts (aws/clients.py
``delivery``) end an abandoned call soon after.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from videoctl.domain.errors import AwsError

T = TypeVar("T")


def within(timeout_s: float, action: str, call: Callable[[], T]) -> T:
    """``call()``, or a transient AwsError of unknown outcome once *timeout_s* passed without its
    answer (the request may still arrive: a delivery is resent with the same id)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name=f"videoctl {action}", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise AwsError(f"{action} failed: timed out, no answer within its {timeout_s:g}s deadline",
                       outcome_unknown=True)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
