"""Signed playback: a token in the URL's path opens one ladder, for a while. Pure.

Every reference inside a ladder is relative (playlists, the MPD, the storyboard's VTT,
captions), so a token placed in the path is carried by the player on every request it
makes for that ladder, with nothing rewritten::

    {base}/t/{token}/videos/7/hls/12-1/master.m3u8

A token is six fields joined by dots, each safe in a URL path (no ``/``, no padding)::

    v1.{kid}.{exp}.{b64url(prefix)}.{b64url(viewer)}.{b64url(mac)}

``kid`` names the key that signed it, ``exp`` is when it stops working (Unix seconds),
``prefix`` the ladder it opens (``videos/{id}/hls/{job}-{n}/``), ``viewer`` who it was
given to (empty for nobody named: it is for tracing a leaked link, not for access). The
MAC is HMAC-SHA256 over the text before it, so it covers every field as written.

The edge Worker (worker/edge/src/token.js) implements :func:`verify` again in JavaScript;
both are held to tests/fixtures/playback_vectors.json, reason for reason.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes, urlsplit

from videoctl.domain.errors import InvalidInput

VERSION = "v1"
#: A key id: short, and safe in a path and between the token's dots.
KID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # (verify checks the same by hand, faster)
#: A secret shorter than this is guessable offline from one token; `openssl rand -hex 32` gives 64.
MIN_SECRET_CHARS = 32
#: How far ahead of the edge's clock the signer's may run: a token valid for longer than the
#: longest lifetime allowed plus this was not made by us, or by a clock that is wrong.
CLOCK_SKEW_S = 60
#: The default cap on a token's lifetime (VIDEOCTL_PLAYBACK_MAX_EXPIRY_SECONDS).
DEFAULT_MAX_LIFETIME_S = 86_400
#: The longest viewer id a token carries (it travels in every request's path).
MAX_VIEWER_CHARS = 128
#: Request paths longer than this are not object keys of ours.
MAX_PATH_CHARS = 1024
#: What a token opens: exactly one attempt's folder, ``{root}/{id}/hls/{job}-{n}/``, never a
#: video's whole folder (its source lives there). No segment starts with a dot, so none is '.' or '..'.
#: (The root's segments are matched lazily: the fewest first, as a prefix has few.)
LADDER_PREFIX = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)+?[1-9][0-9]*/hls/[1-9][0-9]*-[0-9]+/")
#: The path segment that introduces a token: ``/t/{token}/{key}``.
TOKEN_SEGMENT = "t"

_MAC_CHARS = 43  # 32 bytes in base64url without padding
_SIGNED_END = -_MAC_CHARS - 1  # the signed text: everything before the MAC's dot
_KID_CHARS = 32
#: How many opened tokens a keyring remembers (about a megabyte): more viewers than one process serves at once.
_REMEMBERED = 8192
_EXP_DIGITS = 12
#: A token's shape (its bytes), every field split out: the version, a key id of up to _KID_CHARS,
#: an expiry of up to _EXP_DIGITS without a leading zero, two base64url fields (the second may be
#: empty), the MAC of _MAC_CHARS. Possessive quantifiers: nothing to backtrack into.
_FIELD = rb"([A-Za-z0-9_-]*+)"
_TOKEN = re.compile(rb"%s\.([A-Za-z0-9_-]{1,%d}+)\.([1-9][0-9]{0,%d}+)\.%s\.%s\.([A-Za-z0-9_-]{%d})"
                    % (VERSION.encode(), _KID_CHARS, _EXP_DIGITS - 1, _FIELD, _FIELD, _MAC_CHARS))
#: A path already in normal form (no escape, no empty or dot segment, nothing odd): no work to do.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*+(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*+)*+")
#: Builds a Grant from a tuple without NamedTuple's Python-level __new__ (every request makes one).
_grant = tuple.__new__
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_BLOCK = 64  # SHA-256's block size
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")

#: Why a token was refused, as the future serve route and the edge Worker say it.
REASONS = ("malformed", "unknown_key", "bad_signature", "bad_prefix", "expired", "too_far_future", "bad_path",
           "outside_prefix")


class Refused(Exception):
    """A request the token does not allow; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Key:
    kid: str
    secret: bytes
    #: SHA-256 with the inner and the outer padded key absorbed, copied for each MAC (RFC 2104).
    inner: Any = field(init=False, repr=False, compare=False)
    outer: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # HMAC's two padded keys (RFC 2104), hashed once: each MAC then costs two SHA-256 of a
        # copied state, under half of what OpenSSL's one-shot HMAC takes to set itself up per call.
        block = hashlib.sha256(self.secret).digest() if len(self.secret) > _BLOCK else self.secret
        block = block.ljust(_BLOCK, b"\0")
        object.__setattr__(self, "inner", hashlib.sha256(block.translate(_IPAD)))
        object.__setattr__(self, "outer", hashlib.sha256(block.translate(_OPAD)))

    def __repr__(self) -> str:  # never the secret, in a traceback or a log's extra fields
        return f"Key(kid={self.kid!r})"

    def mac(self, data: bytes) -> bytes:
        """HMAC-SHA256 of *data* under this key."""
        inner = self.inner.copy()
        inner.update(data)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class Keyring:
    """The playback keys: the first signs, every one verifies (so a rotation needs no downtime)."""

    def __init__(self, keys: Iterable[Key]) -> None:
        self.keys = tuple(keys)
        if not self.keys:
            raise ValueError("a keyring needs at least one key")
        self.by_kid = {key.kid: key for key in self.keys}
        self.by_raw_kid = {key.kid.encode("ascii"): key for key in self.keys}
        #: Tokens these keys opened: token → (kid, expiry, prefix, viewer); see :func:`verify`.
        self.opened: dict[str, tuple[str, int, str, str | None]] = {}
        #: Prefix fields of tokens these keys opened → the ladder's prefix, decoded and checked.
        self.prefixes: dict[bytes, str] = {}

    def __repr__(self) -> str:
        return f"Keyring(kids={self.kids!r})"

    @property
    def signing(self) -> Key:
        return self.keys[0]

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(key.kid for key in self.keys)

    def get(self, kid: str) -> Key | None:
        return self.by_kid.get(kid)

    def remember_prefix(self, field: bytes, prefix: str) -> str:
        if len(self.prefixes) >= _REMEMBERED:
            self.prefixes.clear()
        self.prefixes[field] = prefix
        return prefix


def parse_keys(raw: str) -> Keyring:
    """``kid:secret,kid:secret,…`` (newest first) → a :class:`Keyring`; ValueError says why not,
    naming the entry by its position: never a secret, nor a key id (which may be a secret pasted
    in the wrong place)."""
    keys: list[Key] = []
    entries = [part.strip() for part in raw.split(",") if part.strip()]
    for position, entry in enumerate(entries, start=1):
        kid, colon, secret = entry.partition(":")
        kid, secret = kid.strip(), secret.strip()
        if not colon or not KID.fullmatch(kid):
            raise ValueError(f"entry {position} must be KID:SECRET with a key id of 1 to 32 letters, digits, "
                             f"'-' or '_' (e.g. k2026a:$(openssl rand -hex 32))")
        if len(secret) < MIN_SECRET_CHARS or not all(33 <= ord(c) < 127 for c in secret):
            raise ValueError(f"entry {position} must have a secret of at least {MIN_SECRET_CHARS} printable ASCII "
                             "characters without spaces or commas (e.g. `openssl rand -hex 32`)")
        earlier = next((n for n, key in enumerate(keys, start=1) if key.kid == kid), None)
        if earlier is not None:
            raise ValueError(f"entries {earlier} and {position} have the same key id")
        keys.append(Key(kid, secret.encode("ascii")))
    if not keys:
        raise ValueError("must list at least one KID:SECRET")
    return Keyring(keys)


def secrets_of(raw: str) -> list[str]:
    """The secrets in a ``kid:secret,…`` value, however malformed: what must never be shown."""
    return [entry.partition(":")[2].strip() for entry in raw.split(",") if ":" in entry]


def masked_keys(raw: str) -> str:
    """``k2:****,k1:****``: which keys are set, in their order, with no secret."""
    return ",".join(f"{entry.partition(':')[0].strip()}:****" for entry in raw.split(",") if entry.strip())


class Grant(NamedTuple):
    """What a verified token allows this request: *key* of the ladder at *prefix*."""

    kid: str
    expires_at: int
    prefix: str
    viewer: str | None
    #: The object key the request path names (percent-decoded, under *prefix*).
    key: str


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return binascii.a2b_base64(text.encode("ascii").translate(_FROM_URLSAFE) + b"=" * (-len(text) % 4))


def _mac(key: Key, signed: str) -> str:
    return _b64(key.mac(signed.encode("ascii")))


def check_viewer(viewer: str) -> str:
    if not viewer or len(viewer) > MAX_VIEWER_CHARS or _CONTROL.search(viewer):
        raise InvalidInput(f"a viewer id must be 1 to {MAX_VIEWER_CHARS} characters without control characters",
                           hint="use the app's own user id, e.g. --viewer user-1234")
    return viewer


def sign(prefix: str, *, key: Key, expires_at: int, viewer: str | None = None) -> str:
    """A token opening the ladder at *prefix* until *expires_at* (Unix seconds)."""
    if not LADDER_PREFIX.fullmatch(prefix):
        raise InvalidInput(f"{prefix!r} is not a ladder's prefix ({{root}}/{{id}}/hls/{{job}}-{{n}}/)")
    if viewer is not None:
        check_viewer(viewer)
    signed = (f"{VERSION}.{key.kid}.{int(expires_at)}.{_b64(prefix.encode('ascii'))}."
              f"{_b64(viewer.encode('utf-8')) if viewer else ''}")
    return f"{signed}.{_mac(key, signed)}"


def verify(token: str, request_path: str, keys: Keyring, now: float, *,
           max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S) -> Grant:
    """The grant *token* gives for *request_path* (what follows ``/t/{token}/``, as sent: still
    percent-encoded) at *now* (Unix seconds); :class:`Refused` with the reason otherwise.

    The MAC is checked (in constant time) before anything the token says is believed; then
    its lifetime, then the path, normalised: an encoded slash or backslash, an empty, ``.`` or
    ``..`` segment (also percent-encoded) is refused outright rather than resolved, and the
    key must lie under the prefix, whose trailing ``/`` keeps ``videos/1/`` from opening
    ``videos/10/``.

    A player sends one token with every request for a ladder (hundreds of segments), so the
    keyring remembers the tokens it has opened, the whole string (MAC included) as the key:
    a later request costs a lookup instead of an HMAC, and its lifetime and path are checked
    as the first one's were. A token it refused is never remembered.

    Every step here runs for each viewer's first request and is written for speed (one
    function, locals, C calls): benchmarks/playback_tokens.py holds it to twice a bare HMAC.
    """
    remembered = keys.opened
    opened = remembered.get(token)
    if opened is None:
        # The token's bytes (UTF-8: anything beyond ASCII then fails the shape, as malformed).
        try:
            raw = token.encode()
        except UnicodeEncodeError:  # a lone surrogate
            raw = b""
        shape = _TOKEN.fullmatch(raw)
        if shape is None:
            raise Refused("malformed", f"a token is {VERSION} and five fields of letters, digits, '-' and '_' "
                                       "separated by dots, each of the length a token has")
        kid, exp, prefix_b64, viewer_b64, mac = shape.groups()
        key = keys.by_raw_kid.get(kid)
        if key is None:
            raise Refused("unknown_key", f"no playback key {kid.decode()!r}")
        # HMAC-SHA256 of the signed text (Key.mac, inline), as the signer wrote it: base64url
        # without its padding (b2a_base64 ends in '=' and a newline); compared in constant time.
        inner = key.inner.copy()
        inner.update(raw[:_SIGNED_END])
        outer = key.outer.copy()
        outer.update(inner.digest())
        if not hmac.compare_digest(binascii.b2a_base64(outer.digest()).translate(_TO_URLSAFE)[:_MAC_CHARS], mac):
            raise Refused("bad_signature", "the token was not signed by this key, or was changed")
        # Many viewers' tokens open one lecture: its prefix field, once decoded and checked, is
        # remembered by its text (signed, like every field: the MAC above was right).
        prefix = keys.prefixes.get(prefix_b64)
        try:
            decoded = prefix or _decode_field(prefix_b64).decode("ascii")
            # (_decode_field, inline: two '=' whatever the length.)
            viewer = (binascii.a2b_base64(viewer_b64.translate(_FROM_URLSAFE) + b"==").decode()
                      if viewer_b64 else None)
        except (binascii.Error, UnicodeDecodeError):
            raise Refused("malformed", "a signed field does not decode") from None
        if prefix is None:
            if not LADDER_PREFIX.fullmatch(decoded):
                raise Refused("bad_prefix", "the token opens something other than one ladder")
            prefix = keys.remember_prefix(prefix_b64, decoded)
        opened = key.kid, int(exp), prefix, viewer
        if len(remembered) >= _REMEMBERED:
            remembered.clear()  # the tokens still in use are opened again, once each
        remembered[token] = opened
    kid, expires_at, prefix, viewer = opened
    if expires_at <= now:
        raise Refused("expired", f"the token expired {now - expires_at:.0f} s ago")
    if expires_at > now + max_lifetime_s + CLOCK_SKEW_S:
        raise Refused("too_far_future", f"the token is valid for longer than the {max_lifetime_s} s allowed")
    if (len(request_path) <= MAX_PATH_CHARS and request_path.startswith(prefix)
            and _PLAIN_PATH.fullmatch(request_path, len(prefix))):
        return _grant(Grant, (kid, expires_at, prefix, viewer, request_path))  # a plain key in the ladder
    object_key = normalise_path(request_path)
    if not object_key.startswith(prefix):
        raise Refused("outside_prefix", "the path is not inside the ladder the token opens")
    return Grant(kid, expires_at, prefix, viewer, object_key)


def _decode_field(field: bytes) -> bytes:
    """A base64url field of a token, decoded: two '=' whatever its length, since base64 takes
    padding beyond what it needs (and a length no encoding has is an error all the same)."""
    return binascii.a2b_base64(field.translate(_FROM_URLSAFE) + b"==")


def normalise_path(request_path: str) -> str:
    """The object key a request path names, percent-decoded; :class:`Refused` (``bad_path``) for
    any path whose meaning depends on who resolves it."""
    if len(request_path) > MAX_PATH_CHARS:
        raise Refused("bad_path", "the path is too long")
    if _PLAIN_PATH.fullmatch(request_path):
        return request_path
    if not request_path or "\\" in request_path:
        raise Refused("bad_path", "the path is empty or holds a backslash")
    if "%" in request_path:
        lowered = request_path.lower()
        if _BAD_ESCAPE.search(request_path) or "%2f" in lowered or "%5c" in lowered:
            raise Refused("bad_path", "the path holds an encoded slash or backslash, or a broken escape")
        try:
            request_path = unquote_to_bytes(request_path).decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("bad_path", "the path is not UTF-8") from None
    if _CONTROL.search(request_path):
        raise Refused("bad_path", "the path holds a control character")
    for segment in request_path.split("/"):
        if segment in ("", ".", ".."):
            raise Refused("bad_path", "the path has an empty, '.' or '..' segment")
    return request_path


def split_request(path: str) -> tuple[str, str]:
    """``/t/{token}/{rest}`` → (token, rest); :class:`Refused` (``malformed``) for any other path."""
    token, slash, rest = path.removeprefix(f"/{TOKEN_SEGMENT}/").partition("/")
    if not path.startswith(f"/{TOKEN_SEGMENT}/") or not slash or not token:
        raise Refused("malformed", "the path is not /t/{token}/{key}")
    return token, rest


#: The names of this machine a local base URL may use (as VIDEOCTL_PLAYBACK_BASE_URL's check).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_local_base(base_url: str) -> bool:
    """Whether *base_url* is this machine's `videoctl serve`: ``http://`` on a loopback name."""
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        return False
    return (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and parts.path in ("", "/")
            and not parts.query and not parts.fragment and not parts.username)


def playback_url(base_url: str, token: str, key: str) -> str:
    """Where a player fetches *key* with *token*: ``{base}/t/{token}/{key}``."""
    return f"{base_url.rstrip('/')}/{TOKEN_SEGMENT}/{token}/{key}"
