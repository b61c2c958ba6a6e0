"""The process's one api.Client, shared by every command and closed at exit."""

from __future__ import annotations

import atexit

from videoctl.api import Client

_client: Client | None = None


def client() -> Client:
    global _client
    if _client is None:
        _client = Client()
        atexit.register(_client.close)
    return _client
