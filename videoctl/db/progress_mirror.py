"""Mirror a job's progress to Redis for the web app; never a reason to fail a job."""

from __future__ import annotations

import json
import logging
import time

log = logging.getLogger(__name__)


def progress_key(video_id: int) -> str:
    return f"videoctl:progress:video:{video_id}"


class RedisProgressMirror:
    def __init__(self, url: str, *, ttl_s: int = 3600) -> None:
        self.client = _client(url)
        self.ttl_s = ttl_s
        self._warned = False

    def publish(self, *, video_id: int, job_id: int, attempt: int, state: str, progress: int,
                eta_s: float | None = None) -> bool:
        if self.client is None:
            return False
        document = {"job_id": job_id, "attempt": attempt, "state": state, "progress": progress,
                    "eta_s": eta_s, "updated_at": time.time()}
        try:
            self.client.set(progress_key(video_id), json.dumps(document), ex=self.ttl_s)
            return True
        except Exception as exc:  # noqa: BLE001 - Redis is optional by contract
            if not self._warned:
                log.warning("progress mirror to Redis failed; the job goes on: %s", type(exc).__name__)
                self._warned = True
            return False

    def close(self) -> None:
        if self.client is None:
            return
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass


def _client(url: str):
    """A Redis client for *url*, or None (mirror off) if redis-py cannot use the URL.

    Settings already refused a malformed REDIS_URL; what is left (an option in its
    query redis-py cannot read, say) turns the mirror off with a warning instead of
    failing the job. The warning names the error's type only: redis-py's message may
    quote the URL.
    """
    try:
        import redis

        # Short timeouts: a slow Redis must not slow the heartbeat.
        return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    except Exception as exc:  # noqa: BLE001 - Redis is optional by contract
        log.warning("REDIS_URL cannot be used (%s); progress is not mirrored to Redis", type(exc).__name__)
        return None
