"""Playback tokens (videoctl.domain.playback): one token opens one ladder, for a while, and nothing else.

The shared vectors (tests/fixtures/playback_vectors.json) are what this module answers; the tests
here also say, case by case, what the answer must be, so the file cannot drift into agreeing
with a mistake. The edge Worker is held to the same file (worker/edge/test/).
"""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import playback_vectors
from videoctl.domain import playback
from videoctl.domain.errors import InvalidInput

KEYS = playback_vectors.KEYS
NOW = playback_vectors.NOW
PREFIX = playback_vectors.PREFIX


def keyring() -> playback.Keyring:
    return playback.parse_keys(KEYS)


def test_the_committed_vectors_are_what_the_code_produces():
    assert playback_vectors.FILE.read_text(encoding="utf-8") == playback_vectors.render(), \
        "run `python -m tests.playback_vectors` and commit tests/fixtures/playback_vectors.json"


#: What each vector must get: None for a grant, else the reason. Written out by hand.
EXPECTED = {
    "the master": None,
    "a segment, signed with the older key": None,
    "no viewer named": None,
    "a viewer id in Korean": None,
    "an encoded plain character": None,
    "an encoded space": None,
    "expired a second ago": "expired",
    "expiring this very second": "expired",
    "as far ahead as allowed, with the clock skew": None,
    "a second too far ahead": "too_far_future",
    "an unknown key": "unknown_key",
    "the expiry changed": "bad_signature",
    "the prefix changed to another video's": "bad_signature",
    "the viewer changed": "bad_signature",
    "the key id changed to the other key": "bad_signature",
    "the MAC's last character changed": "bad_signature",
    "the MAC cut short": "malformed",
    "the MAC left out": "malformed",
    "an extra field": "malformed",
    "another version": "malformed",
    "a character outside base64url": "malformed",
    "a character outside ASCII": "malformed",
    "empty": "malformed",
    "an expiry with a leading zero": "malformed",
    "a validly signed prefix that is a whole video's folder": "bad_prefix",
    "a validly signed prefix with a '..' segment": "bad_prefix",
    "'..' segments": "bad_path",
    "encoded '..' segments": "bad_path",
    "an encoded slash": "bad_path",
    "an encoded slash alone": "bad_path",
    "a doubled slash": "bad_path",
    "a '.' segment": "bad_path",
    "the prefix itself (a listing)": "bad_path",
    "the prefix without its slash": "outside_prefix",
    "a backslash": "bad_path",
    "an encoded backslash": "bad_path",
    "an encoded NUL": "bad_path",
    "a broken escape": "bad_path",
    "escapes that are not UTF-8": "bad_path",
    "the video's source": "outside_prefix",
    "videos/7 opens not videos/70": "outside_prefix",
    "job 12-1 opens not 12-10": "outside_prefix",
    "videos/1 opens not videos/10": "outside_prefix",
    "videos/10 opens not videos/1": "outside_prefix",
    "a path that starts with a slash": "bad_path",
}

VECTORS = json.loads(playback_vectors.FILE.read_text(encoding="utf-8"))


def test_every_vector_is_expected_by_name():
    assert sorted(v["name"] for v in VECTORS["vectors"]) == sorted(EXPECTED)
    assert {v["expect"].get("reason") for v in VECTORS["vectors"]} - {None} == set(playback.REASONS)


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_each_vector(vector):
    wanted = EXPECTED[vector["name"]]
    try:
        grant = playback.verify(vector["token"], vector["path"], keyring(), VECTORS["now"],
                                max_lifetime_s=VECTORS["max_lifetime_s"])
    except playback.Refused as refused:
        assert refused.reason == wanted == vector["expect"]["reason"]
        return
    assert wanted is None and {"ok": True, **grant._asdict()} == vector["expect"]
    assert grant.key.startswith(grant.prefix)


def test_a_grant_says_who_when_and_what():
    key = keyring().signing
    token = playback.sign(PREFIX, key=key, expires_at=NOW + 60, viewer="student-42")
    grant = playback.verify(token, PREFIX + "360/seg_00003.m4s", keyring(), NOW)
    assert grant == playback.Grant("k2026b", NOW + 60, PREFIX, "student-42", PREFIX + "360/seg_00003.m4s")


def test_the_newest_key_signs_and_every_key_verifies_so_rotation_needs_no_downtime():
    old = playback.parse_keys(KEYS.split(",")[1])  # before the rotation: only k2026a
    rotated = keyring()  # k2026b added in front
    issued_before = playback.sign(PREFIX, key=old.signing, expires_at=NOW + 600)
    issued_after = playback.sign(PREFIX, key=rotated.signing, expires_at=NOW + 600)
    assert issued_after.split(".")[1] == "k2026b"
    for token in (issued_before, issued_after):
        assert playback.verify(token, PREFIX + "master.m3u8", rotated, NOW).key == PREFIX + "master.m3u8"
    retired = playback.parse_keys(KEYS.split(",")[0])  # once the old tokens have expired
    with pytest.raises(playback.Refused) as refused:
        playback.verify(issued_before, PREFIX + "master.m3u8", retired, NOW)
    assert refused.value.reason == "unknown_key"


@settings(max_examples=200, deadline=None)
@given(video=st.integers(1, 2**63 - 1), job=st.integers(1, 2**63 - 1), attempt=st.integers(1, 100),
       viewer=st.one_of(st.none(), st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1,
                                           max_size=playback.MAX_VIEWER_CHARS)),
       lifetime=st.integers(1, playback.DEFAULT_MAX_LIFETIME_S))
def test_any_token_is_path_safe_and_opens_exactly_its_ladder(video, job, attempt, viewer, lifetime):
    prefix = f"videos/{video}/hls/{job}-{attempt}/"
    keys = keyring()
    token = playback.sign(prefix, key=keys.signing, expires_at=NOW + lifetime, viewer=viewer)
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token)  # no '/', '%', '=' or '+': one path segment as it is
    grant = playback.verify(token, prefix + "master.m3u8", keys, NOW)
    assert (grant.prefix, grant.viewer, grant.expires_at) == (prefix, viewer, NOW + lifetime)
    for other in (f"videos/{video}0/hls/{job}-{attempt}/master.m3u8", f"videos/{video}/hls/{job}-{attempt}0/x",
                  f"videos/{video}/source/a.mp4"):
        with pytest.raises(playback.Refused) as refused:
            playback.verify(token, other, keys, NOW)
        assert refused.value.reason == "outside_prefix"
    with pytest.raises(playback.Refused) as refused:
        playback.verify(token, prefix + "master.m3u8", keys, NOW + lifetime)
    assert refused.value.reason == "expired"


def test_a_remembered_token_still_expires_and_a_refused_one_is_never_remembered():
    keys = keyring()
    token = playback.sign(PREFIX, key=keys.signing, expires_at=NOW + 10)
    playback.verify(token, PREFIX + "master.m3u8", keys, NOW)
    assert token in keys.opened
    with pytest.raises(playback.Refused, match="expired"):
        playback.verify(token, PREFIX + "master.m3u8", keys, NOW + 10)
    with pytest.raises(playback.Refused, match="outside_prefix"):
        playback.verify(token, "videos/8/hls/12-1/master.m3u8", keys, NOW)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(playback.Refused, match="bad_signature"):
        playback.verify(forged, PREFIX + "master.m3u8", keys, NOW)
    assert forged not in keys.opened


def test_signing_refuses_what_is_not_one_ladder_and_odd_viewer_ids():
    key = keyring().signing
    for prefix in ("videos/7/", "videos/7/hls/12-1", "/videos/7/hls/12-1/", "videos/../7/hls/12-1/",
                   "videos/7/hls/12-1/720/", "videos/7/hls/0-1/", "videos/7/source/"):
        with pytest.raises(InvalidInput):
            playback.sign(prefix, key=key, expires_at=NOW)
    for viewer in ("", "a\nb", "\x1b[31m", "x" * (playback.MAX_VIEWER_CHARS + 1)):
        with pytest.raises(InvalidInput):
            playback.sign(PREFIX, key=key, expires_at=NOW, viewer=viewer)


SECRET = "0123456789abcdef0123456789abcdef-s3cr3t"


@pytest.mark.parametrize("raw", [
    SECRET, f"k1:{SECRET[:20]}", f"k1:{SECRET},k1:{SECRET}", f"bad kid:{SECRET}", f"{SECRET}:{SECRET}",
    f"k1:{SECRET} with space", ",", f"k1:{SECRET}\x7f"])
def test_a_bad_key_list_is_refused_naming_the_entry_never_a_secret(raw):
    with pytest.raises(ValueError) as refused:
        playback.parse_keys(raw)
    assert re.search(r"entr(y|ies) \d|at least one", str(refused.value))
    assert SECRET[:20] not in str(refused.value) and SECRET[:30] not in str(refused.value)


def test_keys_show_as_their_ids_and_never_their_secrets():
    keys = playback.parse_keys(f"k2:{SECRET}x,k1:{SECRET}")
    assert keys.kids == ("k2", "k1") and keys.signing.kid == "k2"
    assert SECRET not in repr(keys) and SECRET not in repr(keys.signing) and SECRET not in repr(keys.keys)
    assert playback.masked_keys(f"k2:{SECRET}x,k1:{SECRET}") == "k2:****,k1:****"
    assert playback.secrets_of(f"k2:{SECRET}x, k1:{SECRET}") == [SECRET + "x", SECRET]


@pytest.mark.parametrize(("path", "parts"), [
    ("/t/abc/videos/7/hls/12-1/master.m3u8", ("abc", "videos/7/hls/12-1/master.m3u8")),
    ("/t/abc/", ("abc", "")),
])
def test_a_request_path_splits_into_token_and_key(path, parts):
    assert playback.split_request(path) == parts


@pytest.mark.parametrize("path", ["/", "/t/", "/t/abc", "//t/abc/x", "/videos/7/hls/12-1/master.m3u8", "/x/abc/y"])
def test_anything_else_is_no_playback_path(path):
    with pytest.raises(playback.Refused) as refused:
        playback.split_request(path)
    assert refused.value.reason == "malformed"


def test_the_url_carries_the_token_as_one_path_segment():
    assert playback.playback_url("https://media.example.com/", "v1.k.1.a.b.c", PREFIX + "master.m3u8") == \
        "https://media.example.com/t/v1.k.1.a.b.c/videos/7/hls/12-1/master.m3u8"


@settings(max_examples=200, deadline=None)
@given(secret=st.binary(min_size=1, max_size=200), data=st.binary(max_size=300))
def test_a_key_s_mac_is_hmac_sha256(secret, data):
    """The padded blocks hashed once give exactly RFC 2104's HMAC, short and long keys alike."""
    import hashlib
    import hmac

    assert playback.Key("k", secret).mac(data) == hmac.new(secret, data, hashlib.sha256).digest()


# ---------------------------------------------------------------- the fast paths give the same answers

#: The patterns as they were before verify was written for speed: the new ones must match exactly
#: the same strings (a lazy or possessive quantifier changes how, never what).
_LADDER_BEFORE = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)+[1-9][0-9]*/hls/[1-9][0-9]*-[0-9]+/")
_PLAIN_BEFORE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
_PATHISH = st.text(st.sampled_from("ab19_-./%hls0"), max_size=40)


@settings(max_examples=2000, deadline=None)
@given(text=st.one_of(_PATHISH, st.builds(lambda a, b, c, d: f"{a}/{b}/hls/{c}-{d}/", _PATHISH, _PATHISH,
                                          _PATHISH, _PATHISH)))
def test_the_faster_patterns_match_exactly_what_the_earlier_ones_did(text):
    assert bool(playback.LADDER_PREFIX.fullmatch(text)) == bool(_LADDER_BEFORE.fullmatch(text))
    assert bool(playback._PLAIN_PATH.fullmatch(text)) == bool(_PLAIN_BEFORE.fullmatch(text))


@settings(max_examples=500, deadline=None)
@given(token=st.text(st.sampled_from("v1.k2026bA9_-+/=é\ud800"), max_size=130))
def test_any_string_is_a_refusal_never_a_crash(token):
    with pytest.raises(playback.Refused):
        playback.verify(token, PREFIX + "master.m3u8", keyring(), NOW)


def test_a_lone_surrogate_or_non_ascii_token_is_malformed():
    good = playback.sign(PREFIX, key=keyring().signing, expires_at=NOW + 60)
    for token in (good[:-1] + "\ud800", good[:-1] + "é", "é" * len(good)):
        with pytest.raises(playback.Refused) as refused:
            playback.verify(token, PREFIX + "master.m3u8", keyring(), NOW)
        assert refused.value.reason == "malformed"


def test_a_remembered_prefix_is_only_ever_one_that_passed_its_check():
    keys = keyring()
    newest = keys.signing
    one = playback.sign(PREFIX, key=newest, expires_at=NOW + 60, viewer="a")
    other = playback.sign(PREFIX, key=keys.keys[1], expires_at=NOW + 90, viewer="b")
    first, second = (playback.verify(t, PREFIX + "360/seg_00001.m4s", keys, NOW) for t in (one, other))
    assert list(keys.prefixes.values()) == [PREFIX]  # decoded once, for both viewers of the lecture
    assert (first.viewer, second.viewer, second.kid, second.expires_at) == ("a", "b", "k2026a", NOW + 90)
    whole_video = playback_vectors._raw_token(newest, NOW + 60, "videos/7/", "x")
    for _ in range(2):  # refused each time: a prefix that fails its check is never remembered
        with pytest.raises(playback.Refused) as refused:
            playback.verify(whole_video, "videos/7/source/a.mp4", keys, NOW)
        assert refused.value.reason == "bad_prefix"
    assert list(keys.prefixes.values()) == [PREFIX]
