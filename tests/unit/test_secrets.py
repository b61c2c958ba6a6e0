"""Masking and scrubbing secrets: by what a URL is, not by whether it parses."""

import json
from urllib.parse import quote

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from videoctl.domain.secrets import MASK, Scrubber, mask_url, secret_forms, split_url

#: Every printable ASCII character, with the ones that confuse URL parsers drawn more often.
PASSWORD_CHARS = st.one_of(st.sampled_from("/?#%@: []"), st.characters(min_codepoint=0x20, max_codepoint=0x7E))
passwords = st.text(PASSWORD_CHARS, min_size=4, max_size=30)


@pytest.mark.parametrize(("url", "masked"), [
    # The examples: a parse-based mask showed the password as host, port or path.
    ("postgresql://u:123/TopSECRET@127.0.0.1/db", "postgresql://****@127.0.0.1/db"),
    ("postgresql://u:abc/def@127.0.0.1/db", "postgresql://****@127.0.0.1/db"),
    ("postgresql://u:p%zzSECRET@127.0.0.1/db", "postgresql://****@127.0.0.1/db"),
    ("redis://:pa?ss#wo@rd@cache:6379/0", "redis://****@cache:6379/0"),
    ("postgresql://db.internal:5432/app", "postgresql://db.internal:5432/app"),
    ("postgresql:///app?host=/run/pg&sslpassword=k3y&sslmode=require",
     "postgresql:///app?host=/run/pg&sslpassword=****&sslmode=require"),
    ("not a url with a secret", MASK),
])
def test_mask_url_hides_everything_before_the_last_at(url, masked):
    assert mask_url(url) == masked


@given(passwords)
@example("123/TopSECRET")
@example("abc/def")
@example("p%zzSECRET")
def test_mask_url_never_shows_a_password(password):
    for url in (f"postgresql://u:{password}@127.0.0.1:5432/db", f"redis://:{password}@127.0.0.1:6379/0"):
        shown = mask_url(url)
        # What may legitimately appear: the scheme, the mask, the host, port and path.
        assume(password not in f"postgresql://{MASK}@127.0.0.1:5432/db redis://{MASK}@127.0.0.1:6379/0")
        assert password not in shown


def test_split_url_cuts_at_the_last_at():
    url = split_url("postgresql://u:p@ss/w@rd@db:5432/app")
    assert url is not None
    assert (url.scheme, url.userinfo, url.rest) == ("postgresql", "u:p@ss/w@rd", "db:5432/app")
    assert split_url("no scheme here") is None
    assert split_url("postgresql://db/app").userinfo is None


def test_secret_forms_cover_encoded_decoded_and_escaped_spellings():
    forms = secret_forms("postgresql://app:pa%2Fss%22wd@db/app", url=True)
    for form in ("app:pa%2Fss%22wd", "pa%2Fss%22wd", 'pa/ss"wd', 'pa/ss\\"wd', "pa%2Fss%22wd"):
        assert form in forms
    assert "db/app" not in " ".join(forms)  # where it points is no secret
    assert secret_forms("postgresql://db/app", url=True) == set()
    assert secret_forms("abc") == set()  # too short to scrub without mangling every text


@given(passwords)
@example('p"a\\s/s')
def test_scrubber_removes_every_form(password):
    scrub = Scrubber(secret_forms(f"postgresql://u:{password}@h/db", url=True))
    forms = {password, quote(password, safe=""), json.dumps(password)[1:-1], repr(password)[1:-1]}
    text = " | ".join(f"<{form}>" for form in forms)
    scrubbed = scrub(text)
    for form in forms:
        assume(form not in f"<{MASK}> | ")  # the mask itself is no leak
        assert form not in scrubbed, (form, scrubbed)


def test_scrubber_masks_again_until_no_secret_is_left():
    scrub = Scrubber(["*****"])
    assert "*****" not in scrub("******x")  # one pass would leave "****" + "*" = the secret again


def test_scrubber_deep_keeps_structure_and_types():
    scrub = Scrubber(["hunter22"])
    value = {"msg": "pw hunter22", "n": 3, "ok": True, "none": None, "rungs": ["hunter22", 1.5], "t": ("x",)}
    assert scrub.deep(value) == {"msg": f"pw {MASK}", "n": 3, "ok": True, "none": None, "rungs": [MASK, 1.5],
                                 "t": ["x"]}
    assert not Scrubber() and Scrubber()("text") == "text"
