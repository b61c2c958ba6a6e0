"""The playback token test vectors shared by the Python tests and the edge Worker's (JavaScript).

    python -m tests.playback_vectors      # rewrite tests/fixtures/playback_vectors.json

Fixed keys and a fixed clock, so the file is the same every time; tests/unit/test_playback_tokens.py
checks that the committed file is what this module builds, and that videoctl.domain.playback
gives every expected answer; worker/edge/test/ holds the Worker's verify to the same answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from videoctl.domain import playback

FILE = Path(__file__).with_name("fixtures") / "playback_vectors.json"

#: Test keys only: the newest first, as VIDEOCTL_PLAYBACK_KEYS lists them.
KEYS = ("k2026b:test-only-secret-b-0123456789abcdef0123456789abcdef,"
        "k2026a:test-only-secret-a-0123456789abcdef0123456789abcdef")
#: A key no keyring lists.
STRANGER = playback.Key("k2024z", b"test-only-secret-z-0123456789abcdef0123456789abcdef")
NOW = 1_900_000_000
MAX_LIFETIME_S = 86_400
PREFIX = "videos/7/hls/12-1/"
MASTER = PREFIX + "master.m3u8"


def _raw_token(key: playback.Key, exp: int, prefix: str, viewer: str = "") -> str:
    """A correctly signed token for anything at all (the signer refuses what is not a ladder)."""
    signed = f"v1.{key.kid}.{exp}.{playback._b64(prefix.encode())}.{playback._b64(viewer.encode())}"
    mac = hmac.new(key.secret, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{playback._b64(mac)}"


def _replace_field(token: str, index: int, value: str) -> str:
    fields = token.split(".")
    fields[index] = value
    return ".".join(fields)


def build() -> dict[str, Any]:
    keys = playback.parse_keys(KEYS)
    newest, older = keys.keys

    def sign(prefix: str = PREFIX, *, key: playback.Key = newest, exp: int = NOW + 3600,
             viewer: str | None = "student-42") -> str:
        return playback.sign(prefix, key=key, expires_at=exp, viewer=viewer)

    good = sign()
    cases: list[tuple[str, str, str]] = [
        ("the master", good, MASTER),
        ("a segment, signed with the older key", sign(key=older), PREFIX + "720/seg_00001.m4s"),
        ("no viewer named", sign(viewer=None), PREFIX + "subs/ko/0.vtt"),
        ("a viewer id in Korean", sign(viewer="학생-7"), PREFIX + "poster.jpg"),
        ("an encoded plain character", good, PREFIX + "%37%32%30/init.mp4"),
        ("an encoded space", good, PREFIX + "a%20b.vtt"),
        ("expired a second ago", sign(exp=NOW - 1), MASTER),
        ("expiring this very second", sign(exp=NOW), MASTER),
        ("as far ahead as allowed, with the clock skew", sign(exp=NOW + MAX_LIFETIME_S + playback.CLOCK_SKEW_S),
         MASTER),
        ("a second too far ahead", sign(exp=NOW + MAX_LIFETIME_S + playback.CLOCK_SKEW_S + 1), MASTER),
        ("an unknown key", _raw_token(STRANGER, NOW + 3600, PREFIX, "student-42"), MASTER),
        ("the expiry changed", _replace_field(good, 2, str(NOW + 7200)), MASTER),
        ("the prefix changed to another video's",
         _replace_field(good, 3, playback._b64(b"videos/8/hls/12-1/")), "videos/8/hls/12-1/master.m3u8"),
        ("the viewer changed", _replace_field(good, 4, playback._b64(b"student-43")), MASTER),
        ("the key id changed to the other key", _replace_field(good, 1, "k2026a"), MASTER),
        ("the MAC's last character changed", good[:-1] + ("A" if good[-1] != "A" else "B"), MASTER),
        ("the MAC cut short", good[:-1], MASTER),
        ("the MAC left out", good.rsplit(".", 1)[0], MASTER),
        ("an extra field", good + ".x", MASTER),
        ("another version", "v2" + good[2:], MASTER),
        ("a character outside base64url", good[:-2] + "+" + good[-1], MASTER),
        ("a character outside ASCII", good[:-2] + "é" + good[-1], MASTER),
        ("empty", "", MASTER),
        ("an expiry with a leading zero", _replace_field(good, 2, "0" + str(NOW + 3600)), MASTER),
        ("a validly signed prefix that is a whole video's folder",
         _raw_token(newest, NOW + 3600, "videos/7/", "x"), "videos/7/source/lecture.mp4"),
        ("a validly signed prefix with a '..' segment",
         _raw_token(newest, NOW + 3600, "videos/7/../hls/12-1/", "x"), MASTER),
        ("'..' segments", good, PREFIX + "../../../8/source/a.mp4"),
        ("encoded '..' segments", good, PREFIX + "%2e%2e/%2E%2E/source/a.mp4"),
        ("an encoded slash", good, PREFIX + "..%2F..%2Fsource/a.mp4"),
        ("an encoded slash alone", good, PREFIX + "%2F"),
        ("a doubled slash", good, PREFIX + "/master.m3u8"),
        ("a '.' segment", good, PREFIX + "./master.m3u8"),
        ("the prefix itself (a listing)", good, PREFIX),
        ("the prefix without its slash", good, PREFIX.rstrip("/")),
        ("a backslash", good, PREFIX + "..\\..\\source\\a.mp4"),
        ("an encoded backslash", good, PREFIX + "..%5C..%5Csource%5Ca.mp4"),
        ("an encoded NUL", good, PREFIX + "master.m3u8%00.jpg"),
        ("a broken escape", good, PREFIX + "%zzmaster.m3u8"),
        ("escapes that are not UTF-8", good, PREFIX + "%ff%fe.vtt"),
        ("the video's source", good, "videos/7/source/lecture.mp4"),
        ("videos/7 opens not videos/70", good, "videos/70/hls/12-1/master.m3u8"),
        ("job 12-1 opens not 12-10", good, "videos/7/hls/12-10/master.m3u8"),
        ("videos/1 opens not videos/10", sign("videos/1/hls/2-1/"), "videos/10/hls/2-1/master.m3u8"),
        ("videos/10 opens not videos/1", sign("videos/10/hls/2-1/"), "videos/1/hls/2-1/master.m3u8"),
        ("a path that starts with a slash", good, "/" + MASTER),
    ]
    vectors = []
    for name, token, path in cases:
        try:
            grant = playback.verify(token, path, playback.parse_keys(KEYS), NOW, max_lifetime_s=MAX_LIFETIME_S)
            expect: dict[str, Any] = {"ok": True, "kid": grant.kid, "expires_at": grant.expires_at,
                                      "prefix": grant.prefix, "viewer": grant.viewer, "key": grant.key}
        except playback.Refused as refused:
            expect = {"ok": False, "reason": refused.reason}
        vectors.append({"name": name, "token": token, "path": path, "expect": expect})
    return {
        "about": "Playback token vectors: videoctl/domain/playback.py and worker/edge/src/token.js must give "
                 "every expected answer. Generated by `python -m tests.playback_vectors`; test keys only.",
        "keys": KEYS,
        "now": NOW,
        "max_lifetime_s": MAX_LIFETIME_S,
        "vectors": vectors,
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    FILE.parent.mkdir(exist_ok=True)
    FILE.write_text(render(), encoding="utf-8")
    print(f"wrote {FILE}")
