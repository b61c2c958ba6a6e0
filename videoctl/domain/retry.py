"""Retry policy: exponential backoff with full jitter, a cap, and an attempt limit.

Pure: randomness comes in as a function so tests can pin it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from videoctl.domain.errors import is_permanent


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 30.0
    cap_s: float = 3600.0
    max_attempts: int = 3

    def backoff_s(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Delay before attempt ``attempt + 1``, given that ``attempt`` attempts have failed.

        Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"):
        uniform in [ceiling / 2, ceiling] so a burst of failures spreads out
        but no retry comes back immediately.
        """
        ceiling = min(self.cap_s, self.base_s * 2 ** max(attempt - 1, 0))
        return ceiling / 2 + rand() * ceiling / 2

    def decide(self, attempt: int, error_code: str | None, max_attempts: int | None = None,
               repeats: int = 1) -> str:
        """What to do with a failed attempt: ``"dead"`` or ``"retry"``.

        ``max_attempts``: the job's own limit, when it has one; else the policy's default.
        ``repeats``: how many attempts in a row failed with this code (see errors.is_permanent).
        """
        if is_permanent(error_code, repeats) or attempt >= (max_attempts or self.max_attempts):
            return "dead"
        return "retry"
