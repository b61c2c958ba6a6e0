"""The playback settings: keys (a secret), the edge's base URL, the players' origins, the longest
life of a URL. Checked at start, each mistake a config_error naming its variable, and no secret
shown by `config show` or left in a text the scrubbers clean."""

from __future__ import annotations

import pytest

from videoctl.domain.errors import ConfigError
from videoctl.settings import Settings, environment_scrubber

SECRET_A = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
SECRET_B = "Zq8/w+Kp2!e#Tn5@Hu7$Lm3%Rv6^Yc9&Xb4*Gd1(Fs0)"
KEYS = f"k2026b:{SECRET_B},k2026a:{SECRET_A}"


def settings(**values: str) -> Settings:
    return Settings.from_env(values)


def test_unset_means_no_playback():
    plain = settings()
    assert (plain.playback_keys, plain.playback_base_url, plain.playback_origins) == (None, None, None)
    assert plain.playback_keyring is None and plain.playback_max_expiry_s == 86_400


def test_keys_newest_first_base_url_and_origins_are_read():
    configured = settings(VIDEOCTL_PLAYBACK_KEYS=KEYS, VIDEOCTL_PLAYBACK_BASE_URL="https://Media.Example.com/",
                          VIDEOCTL_PLAYBACK_ORIGINS="https://app.example.com, http://localhost:3000",
                          VIDEOCTL_PLAYBACK_MAX_EXPIRY_SECONDS="43200")
    assert configured.playback_keyring.kids == ("k2026b", "k2026a")
    assert configured.playback_keyring.signing.secret == SECRET_B.encode()
    assert configured.playback_keyring is configured.playback_keyring  # one keyring: it remembers opened tokens
    assert configured.playback_base_url == "https://media.example.com"
    assert configured.playback_origins == "https://app.example.com,http://localhost:3000"
    assert configured.playback_max_expiry_s == 43_200


@pytest.mark.parametrize("base", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:9000"])
def test_plain_http_is_for_this_machine_only(base):
    assert settings(VIDEOCTL_PLAYBACK_KEYS=KEYS, VIDEOCTL_PLAYBACK_BASE_URL=base).playback_base_url == base


@pytest.mark.parametrize(("name", "value", "fragment"), [
    ("VIDEOCTL_PLAYBACK_BASE_URL", "http://media.example.com", "must be https://"),
    ("VIDEOCTL_PLAYBACK_BASE_URL", "https://media.example.com/videos", "no path"),
    ("VIDEOCTL_PLAYBACK_BASE_URL", "media.example.com", "https:// origin"),
    ("VIDEOCTL_PLAYBACK_BASE_URL", "*", "https:// origin"),
    ("VIDEOCTL_PLAYBACK_BASE_URL", "ftp://media.example.com", "https:// origin"),
    ("VIDEOCTL_PLAYBACK_ORIGINS", "https://app.example.com/", "trailing slash"),
    ("VIDEOCTL_PLAYBACK_MAX_EXPIRY_SECONDS", "30", "60 to 604800"),
    ("VIDEOCTL_PLAYBACK_MAX_EXPIRY_SECONDS", "1e9", "60 to 604800"),
])
def test_a_bad_value_is_a_config_error_naming_the_variable(name, value, fragment):
    with pytest.raises(ConfigError) as error:
        settings(VIDEOCTL_PLAYBACK_KEYS=KEYS, **{name: value})
    assert name in error.value.message and fragment in error.value.message


@pytest.mark.parametrize("raw", [
    f"k1:{SECRET_A[:31]}", SECRET_A, f"k1:{SECRET_A},k1:{SECRET_B}", f"k 1:{SECRET_A}", f"k1:{SECRET_A} x",
    f"{SECRET_A}:{SECRET_B}"])
def test_bad_keys_are_a_config_error_that_quotes_no_secret(raw):
    with pytest.raises(ConfigError) as error:
        settings(VIDEOCTL_PLAYBACK_KEYS=raw)
    text = f"{error.value.message} {error.value.hint}"
    assert "VIDEOCTL_PLAYBACK_KEYS" in text
    for secret in (SECRET_A, SECRET_A[:31], SECRET_B, SECRET_A[:16], SECRET_B[:16]):
        assert secret not in text


def test_a_base_url_needs_the_keys():
    with pytest.raises(ConfigError) as error:
        settings(VIDEOCTL_PLAYBACK_BASE_URL="https://media.example.com")
    assert "VIDEOCTL_PLAYBACK_KEYS" in error.value.message


def test_config_show_names_the_key_ids_and_masks_every_secret():
    rows = {row["name"]: row for row in settings(VIDEOCTL_PLAYBACK_KEYS=KEYS).describe()}
    assert rows["playback_keys"]["value"] == "k2026b:****,k2026a:****" and rows["playback_keys"]["secret"]
    assert {"playback_base_url", "playback_origins", "playback_max_expiry_s"} <= set(rows)
    shown = repr(list(rows.values()))
    assert SECRET_A not in shown and SECRET_B not in shown


def test_every_key_is_scrubbed_from_any_text_alone_or_together():
    text = f"boom {SECRET_A} and {SECRET_B!r} and {KEYS}"
    for scrub in (settings(VIDEOCTL_PLAYBACK_KEYS=KEYS).scrubber(),
                  environment_scrubber({"VIDEOCTL_PLAYBACK_KEYS": KEYS})):
        cleaned = scrub(text)
        assert SECRET_A not in cleaned and SECRET_B not in cleaned and "boom" in cleaned
    # A value that does not parse is scrubbed all the same.
    broken = f"k1:{SECRET_A},oops"
    assert SECRET_A not in environment_scrubber({"VIDEOCTL_PLAYBACK_KEYS": broken})(f"x {SECRET_A} y")
