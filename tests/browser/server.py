"""A static file server on loopback for the browser tests: one folder, HTTP Range, no caching.

Players fetch segments with plain GETs and (dash.js, for an MP4) byte ranges; the standard
library's handler answers neither a Range nor with CORS for a page on another port, so this
small one does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".m3u8": "application/vnd.apple.mpegurl",
                      ".mpd": "application/dash+xml", ".m4s": "video/iso.segment", ".vtt": "text/vtt",
                      ".ts": "video/mp2t", ".mp4": "video/mp4", ".js": "text/javascript"}

    def log_message(self, *args) -> None:  # quiet: the tests read the page's own record
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self):
        match = _RANGE.match(self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if not match or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start = int(match[1]) if match[1] else max(size - int(match[2] or 0), 0)
        end = min(int(match[2]), size - 1) if match[1] and match[2] else size - 1
        if start >= size or start > end:
            self.send_error(416)
            return None
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        handle = path.open("rb")
        handle.seek(start)
        return _Slice(handle, end - start + 1)


class _Slice:
    """What copyfile reads for a range: the bytes from the start up to the end, no more."""

    def __init__(self, handle, length: int) -> None:
        self.handle, self.left = handle, length

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.handle.read(size)
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """Serve *root* on 127.0.0.1 at a free port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
