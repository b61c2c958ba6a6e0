"""The retry policy: jittered exponential backoff, its cap, and when a failure is final."""

import pytest

from videoctl.domain.errors import InvalidInput, MediaError, is_permanent
from videoctl.domain.retry import RetryPolicy


def test_backoff_grows_exponentially_within_jitter_bounds():
    policy = RetryPolicy(base_s=10, cap_s=1000, max_attempts=10)
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 80)]:
        assert policy.backoff_s(attempt, rand=lambda: 0.0) == ceiling / 2
        assert policy.backoff_s(attempt, rand=lambda: 1.0) == ceiling


def test_backoff_is_capped():
    policy = RetryPolicy(base_s=10, cap_s=60, max_attempts=50)
    assert policy.backoff_s(30, rand=lambda: 1.0) == 60
    assert policy.backoff_s(30, rand=lambda: 0.0) == 30


def test_jitter_spreads_delays():
    import random

    rng = random.Random(7)
    delays = {RetryPolicy().backoff_s(3, rand=rng.random) for _ in range(50)}
    assert len(delays) > 40


@pytest.mark.parametrize(
    ("attempt", "code", "decision"),
    [
        (1, "media_error", "retry"),
        (2, "storage_error", "retry"),
        (3, "media_error", "dead"),  # attempts used up
        (1, "invalid_input", "dead"),  # permanent: never retried
        (1, None, "retry"),
    ],
)
def test_decide(attempt, code, decision):
    assert RetryPolicy(max_attempts=3).decide(attempt, code) == decision


def test_a_jobs_own_limit_overrides_the_default():
    policy = RetryPolicy(max_attempts=3)
    assert policy.decide(3, "media_error", max_attempts=5) == "retry"
    assert policy.decide(2, "media_error", max_attempts=2) == "dead"
    assert policy.decide(1, "invalid_input", max_attempts=5) == "dead"  # permanent still wins


def test_permanent_error_kinds():
    assert is_permanent(InvalidInput.code)
    assert not is_permanent(MediaError.code)
    assert not is_permanent(None)
    assert not is_permanent("verify_failed") and is_permanent("verify_failed", repeats=2)
    assert not is_permanent("media_error", repeats=3)  # transient however often
    assert RetryPolicy(max_attempts=5).decide(2, "verify_failed", repeats=2) == "dead"


def test_every_error_code_has_a_retry_class():
    from videoctl.domain.errors import ERROR_CLASSES, RETRY_CLASSES, ScanFailure

    assert {cls.code for cls in ERROR_CLASSES} | set(ScanFailure) == set(RETRY_CLASSES)
