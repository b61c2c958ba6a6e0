"""Free text people give videoctl (titles, reasons): its limits, and how it is shown. Pure.

Such text is stored as given and shown with :func:`visible` (control characters written
out), by the commands in a terminal and by the web page in HTML, each escaping its own
markup besides; these limits keep one line of a table one line, and a database row a row.
"""

from __future__ import annotations

import re

from videoctl.domain.errors import InvalidInput

#: A video's title, in characters.
TITLE_MAX = 200
#: Why a job was cancelled, a prefix deleted or a delete request discarded.
REASON_MAX = 500


#: C0 and C1 control characters (ESC starts ANSI sequences, CR rewrites a line, BEL rings), DEL,
#: and the bidirectional overrides that reorder what a terminal or a page shows.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """*text* (a title, a reason, a key, an error message, what AWS said) with every control
    character written out as an escape: ``\\x1b`` for ESC, ``\\u202e`` for a right-to-left override."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def clock_position(seconds: float) -> str:
    """A time in a video as a player shows it: ``0:06``, ``12:34``, ``1:02:03``."""
    hours, rest = divmod(int(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def check_title(title: str) -> str:
    return _check("title", title, TITLE_MAX)


def check_reason(reason: str) -> str:
    return _check("reason", reason, REASON_MAX)


def title_from_filename(stem: str) -> str:
    """A default title: the file's name, cut to the limit rather than refused."""
    return stem[:TITLE_MAX] or "untitled"


def _check(what: str, text: str, limit: int) -> str:
    if not text.strip():
        raise InvalidInput(f"the {what} is empty")
    if len(text) > limit:
        raise InvalidInput(f"the {what} is {len(text)} characters long; at most {limit} are allowed")
    return text
