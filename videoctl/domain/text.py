"""Free text people give videoctl (titles, reasons): its limits. Pure.

Such text is stored as given and rendered escaped (control characters written out,
markup taken literally) by the commands; these limits keep one line of a table one
line, and a database row a row.
"""

from __future__ import annotations

from videoctl.domain.errors import InvalidInput

#: A video's title, in characters.
TITLE_MAX = 200
#: Why a job was cancelled, a prefix deleted or a delete request discarded.
REASON_MAX = 500


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
