"""The process's AppContext, shared by every command."""

from __future__ import annotations

import atexit

from videoctl.services.context import AppContext

_context: AppContext | None = None


def context() -> AppContext:
    global _context
    if _context is None:
        _context = AppContext()
        atexit.register(_context.close)
    return _context
