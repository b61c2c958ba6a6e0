"""Secrets: show that one is set without showing any of it, and take every trace of one out of a text.

Pure, no IO. A secret URL (a database or Redis URL) is masked by what it is, not by
a successful parse: everything between ``://`` and the last ``@`` is the userinfo,
however malformed. A password holding an unencoded ``/``, ``?``, ``#``, ``@`` or a bad
``%`` escape moves the end of the authority for a URL parser (libpq, urllib, redis-py),
which then reads part of the password as a host, port or database name and quotes it in
its messages; cutting at the last ``@`` hides it whatever the parsers make of it.

The :class:`Scrubber` is the last line of defence at the error boundary and in the
logs: it replaces every form a secret can take in a text (as set, percent-decoded,
percent-encoded, escaped by JSON or ``repr``) with :data:`MASK`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

MASK = "****"

#: Shorter values are not scrubbed out of texts: a secret of one to three characters
#: would mangle every message it happens to occur in, and guards nothing worth the name.
MIN_SCRUB_CHARS = 4

#: Query parameters that carry a password (libpq's password and sslpassword, redis-py's password).
_SECRET_QUERY_KEY = "password"


@dataclass(frozen=True)
class SplitUrl:
    """A URL cut at ``://`` and at the last ``@`` after it, whatever lies in between."""

    scheme: str
    #: Everything between ``://`` and the last ``@``; None when there is no ``@``.
    userinfo: str | None
    #: Host, port, path and query: what follows the userinfo.
    rest: str


def split_url(value: str) -> SplitUrl | None:
    """*value* cut into scheme, userinfo and the rest, or None if it is no ``scheme://`` URL."""
    scheme, sep, after = value.partition("://")
    if not sep or not scheme or not scheme.isascii() or not scheme.replace("+", "").isalnum():
        return None
    userinfo, at, rest = after.rpartition("@")
    return SplitUrl(scheme, userinfo if at else None, rest)


def mask_url(value: str) -> str:
    """A secret URL with its userinfo and any password parameter masked; scheme, host,
    port and path stay, so an operator can see where it points."""
    url = split_url(value)
    if url is None:
        return MASK
    rest = _mask_query(url.rest)
    return f"{url.scheme}://{MASK}@{rest}" if url.userinfo is not None else f"{url.scheme}://{rest}"


def _mask_query(rest: str) -> str:
    head, question, query = rest.partition("?")
    if not question:
        return rest
    pairs = []
    for pair in query.split("&"):
        key, eq, _ = pair.partition("=")
        pairs.append(f"{key}={MASK}" if eq and _SECRET_QUERY_KEY in unquote(key).lower() else pair)
    return f"{head}?{'&'.join(pairs)}"


def _query_secrets(rest: str) -> list[str]:
    query = rest.partition("?")[2].partition("#")[0]
    secrets = []
    for pair in query.split("&"):
        key, eq, value = pair.partition("=")
        if eq and _SECRET_QUERY_KEY in unquote(key).lower():
            secrets.append(value)
    return secrets


def url_secrets(value: str) -> list[str]:
    """The secret pieces of a URL: its userinfo, its password, password parameters.

    Both the cut at the last ``@`` and urllib's own reading are taken, since a
    malformed URL reads differently to each, and a consumer may use either.
    """
    pieces = []
    url = split_url(value)
    if url is not None:
        if url.userinfo:
            pieces += [url.userinfo, url.userinfo.partition(":")[2]]
        pieces += _query_secrets(url.rest)
    try:
        parts = urlsplit(value)
        pieces += [parts.password or "", *_query_secrets("?" + parts.query)]
    except ValueError:  # urllib refuses it (a stray '[', say): the cut above has it covered
        pass
    return [piece for piece in pieces if piece]


def secret_forms(value: str, *, url: bool = False) -> set[str]:
    """Every text a secret (or, for a URL, each of its secret pieces) may appear as.

    A URL without userinfo or password parameter holds nothing secret: where it points is shown.
    """
    pieces = url_secrets(value) if url else [value]
    forms: set[str] = set()
    for piece in pieces:
        for variant in {piece, unquote(piece), quote(piece, safe=""), quote(unquote(piece), safe="")}:
            forms |= {variant, json.dumps(variant)[1:-1], repr(variant)[1:-1]}
    return {form for form in forms if len(form) >= MIN_SCRUB_CHARS}


class Scrubber:
    """Replaces every given secret form in a text with :data:`MASK`."""

    def __init__(self, forms: Iterable[str] = ()) -> None:
        # Longest first, so a password's encoded form is not left half masked by the
        # password itself matching inside it.
        ordered = sorted({f for f in forms if len(f) >= MIN_SCRUB_CHARS}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        # Again until nothing changes: a mask next to the remains of a secret may spell
        # a secret again ("*****" masked inside "******").
        for _ in range(8):
            scrubbed = self._pattern.sub(MASK, text)
            if scrubbed == text:
                break
            text = scrubbed
        return text

    def deep(self, value: object) -> object:
        """*value* with every string inside it scrubbed (log records' extra fields)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return value
        return self(str(value))
