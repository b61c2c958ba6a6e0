"""Browser origins allowed to upload to the R2 bucket (``VIDEOCTL_UPLOAD_ORIGINS``). Pure.

A browser sends its page's origin (``scheme://host[:port]``) with every
cross-origin request, and the bucket's CORS rules compare it with their
AllowedOrigins letter for letter. So an origin here is written the way a
browser writes it: lower-case, without a path, a trailing slash or the
scheme's default port. Anything else would be a rule that never matches, and
uploads that fail in the browser with nothing in our logs; it is refused at
start instead, naming the entry.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

#: Every origin; only on its own, since it already covers any list.
ANY = "*"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def parse_origins(raw: str) -> str:
    """The comma-separated origins, each checked and written as a browser sends it; ValueError says why not."""
    found: list[str] = []
    for entry in (part.strip() for part in raw.split(",")):
        if entry:
            origin = parse_origin(entry)
            if origin not in found:
                found.append(origin)
    if not found:
        raise ValueError("must list at least one origin, e.g. https://app.example.com")
    if ANY in found and len(found) > 1:
        raise ValueError("lists '*' with other origins: '*' already allows every origin; give it alone, "
                         "or list the origins")
    return ",".join(found)


def split_origins(value: str | None) -> list[str] | None:
    """The origins of a value :func:`parse_origins` returned; None when unset."""
    return None if value is None else value.split(",")


def parse_origin(entry: str) -> str:
    if entry == ANY:
        return ANY
    example = "write it as a browser sends it, e.g. https://app.example.com or http://localhost:3000"
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in entry):
        raise ValueError(f"entry {entry!r} contains a space or a control character")
    try:
        parts = urlsplit(entry)
        port = parts.port
    except ValueError:
        raise ValueError(f"entry {entry!r} has an invalid host or port; {example}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not entry.lower().startswith(f"{scheme}://"):
        raise ValueError(f"entry {entry!r} is not an http:// or https:// origin; {example}")
    if "@" in parts.netloc:
        raise ValueError(f"entry {entry!r} has a user name; an origin is only scheme://host[:port]")
    if parts.path or parts.query or parts.fragment or entry.endswith(("?", "#")):
        raise ValueError(f"entry {entry!r} has a path, a trailing slash, a query or a fragment; a browser's "
                         f"Origin never does, so the rule would never match; {example}")
    host = (parts.hostname or "").lower()
    if "*" in host:
        raise ValueError(f"entry {entry!r} has a wildcard; list each origin, or give '*' alone")
    if not _valid_host(host):
        raise ValueError(f"entry {entry!r} has an invalid host name; {example}")
    if port is not None and port == _DEFAULT_PORTS[scheme]:
        raise ValueError(f"entry {entry!r} names the default port {port}; a browser leaves it out of its Origin, "
                         f"so write {scheme}://{_bracketed(host)}")
    if port == 0:
        raise ValueError(f"entry {entry!r} has port 0")
    return f"{scheme}://{_bracketed(host)}" + (f":{port}" if port is not None else "")


def _valid_host(host: str) -> bool:
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(_LABEL.match(label) for label in labels)


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host
