"""VIDEOCTL_UPLOAD_ORIGINS: origins written as a browser sends them, or a config_error naming the variable."""

from __future__ import annotations

import pytest

from videoctl.domain.errors import ConfigError
from videoctl.domain.origins import parse_origins, split_origins
from videoctl.settings import Settings

VAR = "VIDEOCTL_UPLOAD_ORIGINS"


@pytest.mark.parametrize(("raw", "kept"), [
    ("https://app.example.com", "https://app.example.com"),
    ("HTTPS://App.Example.COM", "https://app.example.com"),  # browsers send scheme and host in lower case
    (" https://a.example.com , http://localhost:3000 ,", "https://a.example.com,http://localhost:3000"),
    ("https://a.example.com,https://a.example.com", "https://a.example.com"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://[::1]:5173", "http://[::1]:5173"),
    ("https://app.example.com:8443", "https://app.example.com:8443"),
    ("*", "*"),
])
def test_origins_are_kept_as_a_browser_writes_them(raw, kept):
    assert parse_origins(raw) == kept


@pytest.mark.parametrize(("raw", "why"), [
    ("app.example.com", "is not an http:// or https:// origin"),
    ("ftp://app.example.com", "is not an http:// or https:// origin"),
    ("https://app.example.com/", "has a path, a trailing slash"),
    ("https://app.example.com/upload", "has a path"),
    ("https://app.example.com?x=1", "a query"),
    ("https://app.example.com#top", "a fragment"),
    ("https://app.example.com:443", "names the default port 443"),
    ("http://app.example.com:80", "names the default port 80"),
    ("https://app.example.com:99999", "has an invalid host or port"),
    ("https://user@app.example.com", "has a user name"),
    ("https://*.example.com", "has a wildcard"),
    ("https://app_example.com", "has an invalid host name"),
    ("https://", "has an invalid host name"),
    ("https://app .example.com", "contains a space"),
    ("*,https://app.example.com", "lists '*' with other origins"),
    (",", "must list at least one origin"),
])
def test_a_malformed_origin_is_refused_saying_why(raw, why):
    with pytest.raises(ValueError) as err:
        parse_origins(raw)
    assert why in str(err.value)


def test_the_setting_is_optional_and_normalised():
    assert Settings.from_env({}).upload_origins is None
    s = Settings.from_env({VAR: "https://App.example.com, http://localhost:3000"})
    assert s.upload_origins == "https://app.example.com,http://localhost:3000"
    assert s.sources["upload_origins"] == f"env:{VAR}"
    assert split_origins(s.upload_origins) == ["https://app.example.com", "http://localhost:3000"]
    assert split_origins(None) is None
    row = next(r for r in s.describe() if r["name"] == "upload_origins")
    assert row["env"] == VAR and row["value"] == s.upload_origins and row["secret"] is False


def test_a_malformed_value_is_a_config_error_naming_the_variable_and_the_entry():
    with pytest.raises(ConfigError) as err:
        Settings.from_env({VAR: "https://app.example.com, https://app.example.com/"})
    assert err.value.code == "config_error"
    assert f"{VAR} entry 'https://app.example.com/' has a path" in err.value.message
