"""Which rungs each READY video has, remembered by master playlist key.

The grid shows every video's rungs, read from its master playlist in the store: a GET per
video each time would be tens of requests to R2 per page. A master is written once under
its attempt's own prefix and never changed (a re-encode writes a new prefix and a new
hls_path), so what was read for a key stays true: it is kept, up to a bound.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from videoctl.api import Client
from videoctl.domain.models import Video

log = logging.getLogger(__name__)


class LadderCache:
    def __init__(self, limit: int = 2048) -> None:
        self._names: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def rungs(self, client: Client, video: Video) -> tuple[str, ...] | None:
        """The rung names (``720p``, ``480p`` …) of the video's ladder; () without one; None when
        its master cannot be read (logged: the grid shows the other videos all the same)."""
        if not video.hls_path:
            return ()
        with self._lock:
            if video.hls_path in self._names:
                self._names.move_to_end(video.hls_path)
                return self._names[video.hls_path]
        try:
            names = tuple(rendition["name"] for rendition in client.describe_ladder(video))
        except Exception as exc:  # one unreadable master must not take the grid down
            log.warning("video %s: its master playlist %s could not be read: %s", video.id, video.hls_path,
                        getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")
            return None
        with self._lock:
            self._names[video.hls_path] = names
            while len(self._names) > self._limit:
                self._names.popitem(last=False)
        return names
