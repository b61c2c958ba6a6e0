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
        import redis

        # Short timeouts: a slow Redis must not slow the heartbeat.
        self.client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self.ttl_s = ttl_s
        self._warned = False

    def publish(self, *, video_id: int, job_id: int, attempt: int, state: str, progress: int) -> bool:
        document = {"job_id": job_id, "attempt": attempt, "state": state, "progress": progress,
                    "updated_at": time.time()}
        try:
            self.client.set(progress_key(video_id), json.dumps(document), ex=self.ttl_s)
            return True
        except Exception as exc:  # noqa: BLE001 - Redis is optional by contract
            if not self._warned:
                log.warning("progress mirror to Redis failed; the job goes on: %s", type(exc).__name__)
                self._warned = True
            return False

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:  # noqa: BLE001
            pass
