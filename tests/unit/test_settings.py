"""Settings: defaults, sources, and every kind of bad value refused at start naming its variable."""

import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from videoctl.domain.errors import ConfigError, InvalidInput
from videoctl.domain.keys import video_prefix
from videoctl.domain.prefixes import check_delete_prefix
from videoctl.settings import FIELDS, Settings, environment_scrubber


def test_defaults_mean_the_embedded_default():
    s = Settings.from_env({"VIDEOCTL_HOME": "/srv/vc"})
    assert s.embedded_db and s.database_url is None
    assert s.executor == "local" and s.sources["executor"] == "embedded"
    assert s.storage_dir == Path("/srv/vc/storage") and s.sources["storage_dir"] == "embedded"
    assert s.batch_job_queue == "academy-video-batch-queue"
    assert s.batch_job_definition == "academy-video-batch-jobdef"
    assert s.sources["batch_job_queue"] == "default"


def test_env_values_and_their_sources():
    s = Settings.from_env({
        "DATABASE_URL": "postgresql://u:pw@db:5432/app",
        "VIDEO_BATCH_JOB_QUEUE": "q2",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "VIDEOCTL_MAX_ATTEMPTS": "5",
    })
    assert s.database_url == "postgresql://u:pw@db:5432/app"
    assert s.sources["database_url"] == "env:DATABASE_URL"
    assert s.executor == "batch"  # a real database means the real executor
    assert s.batch_job_queue == "q2" and s.aws_region == "eu-west-1" and s.max_attempts == 5


def test_aws_region_prefers_aws_region():
    s = Settings.from_env({"AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "eu-west-1"})
    assert s.aws_region == "ap-south-1" and s.sources["aws_region"] == "env:AWS_REGION"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("VIDEOCTL_DATABASE_URL", "mysql://x/y", "VIDEOCTL_DATABASE_URL must be a URL starting with postgresql://"),
        ("VIDEOCTL_DATABASE_URL", "postgresql://", "VIDEOCTL_DATABASE_URL has no host"),
        ("VIDEOCTL_STALE_AFTER_SECONDS", "-5", "VIDEOCTL_STALE_AFTER_SECONDS must be from 1 to 604800"),
        ("VIDEOCTL_MAX_ATTEMPTS", "three", "VIDEOCTL_MAX_ATTEMPTS must be a whole number"),
        ("VIDEOCTL_EXECUTOR", "k8s", "VIDEOCTL_EXECUTOR must be one of local, batch"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must be a URL starting with redis://"),
        ("VIDEOCTL_VIDEOS_ROOT", "../up", "VIDEOCTL_VIDEOS_ROOT must be a relative key prefix"),
        ("VIDEOCTL_SEGMENT_FORMAT", "webm", "VIDEOCTL_SEGMENT_FORMAT must be one of fmp4, ts"),
        ("VIDEOCTL_DOWNLOAD_RUNG", "720p", "VIDEOCTL_DOWNLOAD_RUNG must be a rung height from 16 to 8192 (e.g. 720) or off"),
        ("VIDEOCTL_DOWNLOAD_RUNG", "0", "VIDEOCTL_DOWNLOAD_RUNG must be a rung height"),
        ("VIDEOCTL_DOWNLOAD_RUNG", "99999", "VIDEOCTL_DOWNLOAD_RUNG must be a rung height"),
    ],
)
def test_invalid_values_name_the_variable(name, value, fragment):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert fragment in info.value.message


def test_all_problems_reported_at_once():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VIDEOCTL_MAX_ATTEMPTS": "0", "VIDEOCTL_HEARTBEAT_SECONDS": "x"})
    assert "VIDEOCTL_MAX_ATTEMPTS" in info.value.message and "VIDEOCTL_HEARTBEAT_SECONDS" in info.value.message


def test_partial_r2_configuration_is_refused():
    with pytest.raises(ConfigError, match="R2_ENDPOINT_URL, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY are not"):
        Settings.from_env({"R2_BUCKET": "b"})


def test_describe_masks_every_secret():
    env = {
        "VIDEOCTL_DATABASE_URL": "postgresql://app:hunter2@db.internal:5432/videos",
        "R2_BUCKET": "b", "R2_ENDPOINT_URL": "https://acct.r2.cloudflarestorage.com",
        "R2_ACCESS_KEY_ID": "AKIDSECRET", "R2_SECRET_ACCESS_KEY": "s3cr3tvalue",
        "REDIS_URL": "redis://:redispw@cache:6379/0",
    }
    rows = Settings.from_env(env).describe()
    text = repr(rows)
    for secret in ("hunter2", "AKIDSECRET", "s3cr3tvalue", "redispw", "app:"):
        assert secret not in text
    by_name = {r["name"]: r for r in rows}
    assert by_name["database_url"]["value"] == "postgresql://****@db.internal:5432/videos"
    assert by_name["r2_secret_access_key"]["value"] == "****"
    assert {r["name"] for r in rows} == {f.name for f in FIELDS}


# ---------------------------------------------------------------- secret URLs

#: The issue's examples (an unencoded '/', a bad '%' escape), and the other characters
#: that move the end of the userinfo for some parser.
MALFORMED_PASSWORDS = ("123/TopSECRET", "abc/defGHI", "p%zzSECRET", "QqRr?Ss12#Tt34", "UuVv@Ww56@Xx78",
                       "YyZz[Aa90]Bb12")


@pytest.mark.parametrize("password", MALFORMED_PASSWORDS)
@pytest.mark.parametrize(("name", "template"), [
    ("DATABASE_URL", "postgresql://u:{}@127.0.0.1/db"),
    ("VIDEOCTL_DATABASE_URL", "postgres://u:{}@127.0.0.1:5432/db"),
    ("REDIS_URL", "redis://:{}@127.0.0.1:6379/0"),
])
def test_a_malformed_secret_url_is_refused_without_quoting_it(name, template, password):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: template.format(password)})
    text = info.value.message + (info.value.hint or "")
    assert f"{name} has a" in info.value.message
    # Neither the password nor any piece a parser could cut out of it.
    pieces = re.split(r"[/%?#@\[\]]", password)
    for piece in [password, *pieces]:
        assert len(piece) < 4 or piece not in text, piece


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:123%2FTopSECRET@127.0.0.1/db", "postgresql://****@127.0.0.1/db"),
    ("postgresql://u:p%25zz%40x@db:5432,db2:5433/app", "postgresql://****@db:5432,db2:5433/app"),
    ("postgresql://u:pw@[::1]:5432/app?sslmode=require", "postgresql://****@[::1]:5432/app?sslmode=require"),
    ("postgresql:///app?host=/var/run/postgresql&password=hunter22", "postgresql:///app?host=/var/run/postgresql&password=****"),
    ("postgresql://app@db/videos", "postgresql://****@db/videos"),
])
def test_a_well_formed_database_url_is_accepted_and_masked(url, shown):
    rows = {r["name"]: r for r in Settings.from_env({"DATABASE_URL": url}).describe()}
    assert rows["database_url"]["value"] == shown


@pytest.mark.parametrize(("name", "value", "fragment"), [
    ("DATABASE_URL", "postgresql://u:pw@db:99999/app", "DATABASE_URL has a port that is not a number"),
    ("DATABASE_URL", "postgresql://u:pw@db:5432,db2:x/app", "DATABASE_URL has a port that is not a number"),
    ("REDIS_URL", "redis://:pw@cache:6379:1/0", "REDIS_URL has a port that is not a number"),
    ("REDIS_URL", "redis://:pw@[::1/0", "REDIS_URL has an invalid host"),
    ("REDIS_URL", "redis://:pw@cache:6379/0\n", None),  # stripped: a trailing newline is fine
    ("REDIS_URL", "redis://:p\tw@cache:6379/0", "REDIS_URL contains a control character"),
    ("REDIS_URL", "redis://:pw@cache:6379/%0", "REDIS_URL has a '%' that is not followed by two hex digits"),
    ("DATABASE_URL", "postgresql://u:0%80@db/app", "DATABASE_URL has percent-escapes that are not UTF-8"),
])
def test_secret_urls_hosts_and_ports_are_checked(name, value, fragment):
    if fragment is None:
        assert Settings.from_env({name: value}).redis_url == value.strip()
        return
    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env({name: value})


def test_environment_scrubber_covers_secrets_that_do_not_parse():
    env = {"DATABASE_URL": "postgresql://u:123/TopSECRET@127.0.0.1/db", "REDIS_URL": "redis://:abc/def9@h/0",
           "R2_SECRET_ACCESS_KEY": "r2-secret-value", "AWS_SECRET_ACCESS_KEY": "aws-secret-value"}
    scrub = environment_scrubber(env)
    text = ('invalid integer value "123/TopSECRET" for port; 123%2FTopSECRET; user u:123/TopSECRET; '
            "abc/def9 r2-secret-value aws-secret-value")
    scrubbed = scrub(text)
    for secret in ("TopSECRET", "abc/def9", "r2-secret-value", "aws-secret-value"):
        assert secret not in scrubbed
    assert 'invalid integer value "****" for port' in scrubbed


# ---------------------------------------------------------------- numbers, ladder, endpoints, prefixes


NUMBERS = [spec for spec in FIELDS if spec.name in {
    "segment_s", "heartbeat_s", "db_retry_s", "stale_after_s", "unknown_after_s", "runnable_after_s", "queued_after_s",
    "backoff_base_s", "backoff_cap_s", "max_attempts", "submit_rate", "batch_max_vcpus", "upload_expiry_hours",
    "upload_url_expiry_s", "price_fargate_vcpu_hour", "price_fargate_gb_hour", "price_spot_vcpu_hour",
    "price_spot_gb_hour", "price_mediaconvert_sd_minute", "price_mediaconvert_hd_minute", "loudness_target",
    "loudness_true_peak", "delivery_timeout_s", "playback_max_expiry_s", "vmaf_target", "per_title_after_s",
    "chunk_after_s", "chunk_s"}]


def test_every_numeric_setting_is_range_checked():
    assert len(NUMBERS) == 28
    numeric = {spec.name for spec in FIELDS
               if isinstance(spec.default, int | float) and not isinstance(spec.default, bool)}
    assert numeric == {s.name for s in NUMBERS}


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("true", True), (" YES ", True), ("on", True),
                                            ("0", False), ("false", False), ("no", False), ("Off", False)])
def test_auto_submit_is_a_flag(raw, value):
    assert Settings.from_env({"VIDEOCTL_AUTO_SUBMIT": raw}).auto_submit is value
    assert Settings.from_env({}).auto_submit is False


def test_a_flag_that_is_neither_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="VIDEOCTL_AUTO_SUBMIT must be 1 or 0"):
        Settings.from_env({"VIDEOCTL_AUTO_SUBMIT": "maybe"})


def test_upload_urls_must_not_outlive_the_upload():
    with pytest.raises(ConfigError, match="VIDEOCTL_UPLOAD_URL_EXPIRY_SECONDS must not be above "
                                          "VIDEOCTL_UPLOAD_EXPIRY_HOURS"):
        Settings.from_env({"VIDEOCTL_UPLOAD_EXPIRY_HOURS": "0.5", "VIDEOCTL_UPLOAD_URL_EXPIRY_SECONDS": "3601"})
    settings = Settings.from_env({"VIDEOCTL_UPLOAD_EXPIRY_HOURS": "2", "VIDEOCTL_UPLOAD_URL_EXPIRY_SECONDS": "900"})
    assert (settings.upload_expiry_hours, settings.upload_url_expiry_s) == (2.0, 900)


@pytest.mark.parametrize("spec", NUMBERS, ids=lambda spec: spec.env[0])
@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "1e999", "1e300", "-1", "10000001"])
def test_non_finite_and_out_of_range_numbers_name_the_variable_and_range(spec, raw):
    if spec.name == "loudness_true_peak" and raw == "-1":
        raw = "1"  # a ceiling of -1 dBTP is a fine one; above 0 dBTP is the out-of-range case
    with pytest.raises(ConfigError) as info:
        Settings.from_env({spec.env[0]: raw})
    message = info.value.message
    assert f"{spec.env[0]} must be" in message and " to " in message, message


@pytest.mark.parametrize("spec", [spec for spec in NUMBERS if spec.default is not None], ids=lambda spec: spec.env[0])
def test_defaults_are_inside_their_own_ranges(spec):
    value = spec.parse(str(spec.default))
    assert value == spec.default and math.isfinite(value)


@pytest.mark.parametrize(("chunk_s", "segment_s"), [("10", "4"), ("2", "4"), ("121", "4")])
def test_a_chunk_that_is_not_whole_segments_is_a_config_error_naming_it(chunk_s, segment_s):
    with pytest.raises(ConfigError, match="VIDEOCTL_CHUNK_SECONDS must be a multiple of VIDEOCTL_SEGMENT_SECONDS"):
        Settings.from_env({"VIDEOCTL_CHUNK_SECONDS": chunk_s, "VIDEOCTL_SEGMENT_SECONDS": segment_s})


def test_chunking_is_on_by_default_after_ten_minutes_in_two_minute_chunks():
    settings = Settings.from_env({})
    assert (settings.chunk_after_s, settings.chunk_s) == (600.0, 120)
    assert Settings.from_env({"VIDEOCTL_CHUNK_AFTER_SECONDS": "off"}).chunk_after_s is None
    assert Settings.from_env({"VIDEOCTL_CHUNK_AFTER_SECONDS": "OFF "}).chunk_after_s is None
    assert Settings.from_env({"VIDEOCTL_CHUNK_AFTER_SECONDS": "1800"}).chunk_after_s == 1800.0
    assert Settings.from_env({"VIDEOCTL_CHUNK_SECONDS": "60", "VIDEOCTL_SEGMENT_SECONDS": "6"}).chunk_s == 60


def test_chunking_works_on_the_batch_executor_too():
    """Chunks are a Batch array job there (#23): no longer a config_error."""
    assert Settings.from_env({"VIDEOCTL_EXECUTOR": "batch"}).chunk_after_s == 600.0
    assert Settings.from_env({"VIDEOCTL_EXECUTOR": "batch", "VIDEOCTL_CHUNK_AFTER_SECONDS": "900"}).chunk_after_s == 900.0
    assert Settings.from_env({"VIDEOCTL_EXECUTOR": "batch", "VIDEOCTL_CHUNK_AFTER_SECONDS": "off"}).chunk_after_s is None


def test_heartbeat_must_beat_faster_than_stale_detection():
    with pytest.raises(ConfigError, match="VIDEOCTL_HEARTBEAT_SECONDS must be below VIDEOCTL_STALE_AFTER_SECONDS"):
        Settings.from_env({"VIDEOCTL_HEARTBEAT_SECONDS": "60", "VIDEOCTL_STALE_AFTER_SECONDS": "30"})


@pytest.mark.parametrize("ladder", ["garbage", "1080", "1080:5000,,720:3000", "1081:5000", "1080:0", "99999:1",
                                    "720:3000,720:2000", "1080:fast"])
def test_a_bad_ladder_is_a_config_error(ladder):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VIDEOCTL_LADDER": ladder})
    assert "VIDEOCTL_LADDER is not a valid ladder" in info.value.message


def test_a_good_ladder_is_kept_as_written():
    assert Settings.from_env({"VIDEOCTL_LADDER": " 720:3000, 360:800 "}).ladder == "720:3000, 360:800"


@pytest.mark.parametrize(("sizing", "fragment"), [
    ("0:2/4096,,50:4/8192", "'' is not GPX:VCPU/MEMORY_MIB"),
    ("0:2:4096", "is not GPX:VCPU/MEMORY_MIB"),
    ("0:4/4096", "Fargate does not offer 4096 MiB with 4 vCPU"),
    ("0:3/6144", "Fargate has no 3 vCPU size"),
    ("0:2/4096,200:8/16384,50:4/8192", "the thresholds must rise"),
    ("5:2/4096", "it must start at 0"),
])
def test_a_bad_sizing_table_is_a_config_error_naming_the_variable(sizing, fragment):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VIDEOCTL_SIZING": sizing})
    assert "VIDEOCTL_SIZING is not a valid sizing table" in info.value.message
    assert fragment in info.value.message


def test_the_sizing_table_defaults_on_and_can_be_turned_off():
    default = Settings.from_env({})
    assert default.sources["sizing"] == "default" and default.sizing_table is not None
    assert default.sizing_table.size_for(0).vcpus == 2
    off = Settings.from_env({"VIDEOCTL_SIZING": "Off"})
    assert off.sizing == "off" and off.sizing_table is None
    spaced = Settings.from_env({"VIDEOCTL_SIZING": " 0 : 1/2048 , 1e2:4/8192 "})
    assert spaced.sizing == "0:1/2048,100:4/8192" and spaced.sources["sizing"] == "env:VIDEOCTL_SIZING"


def test_a_sized_container_must_fit_in_the_compute_environment():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"VIDEOCTL_SIZING": "0:2/4096,100:16/32768", "VIDEO_BATCH_MAX_VCPUS": "8"})
    assert "VIDEOCTL_SIZING gives a container 16 vCPU but VIDEO_BATCH_MAX_VCPUS is 8" in info.value.message
    assert Settings.from_env({"VIDEOCTL_SIZING": "0:2/4096,100:8/16384", "VIDEO_BATCH_MAX_VCPUS": "8"})
    assert Settings.from_env({"VIDEOCTL_SIZING": "off", "VIDEO_BATCH_MAX_VCPUS": "1"})


ENDPOINT_VARIABLES = ("VIDEOCTL_AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BATCH", "R2_ENDPOINT_URL")


@pytest.mark.parametrize("name", ENDPOINT_VARIABLES)
@pytest.mark.parametrize("value", ["http://bad host", "http://bad_host:4566", "localhost:4566", "ftp://x.example",
                                   "http://", "http://x.example:99999", "https://-x.example", "http://[::1"])
def test_a_bad_endpoint_is_a_config_error(name, value):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert f"{name} " in info.value.message


ENDPOINTS = ["http://localhost:4566", "https://acct.r2.cloudflarestorage.com", "http://127.0.0.1:5000",
             "http://[::1]:4566", "https://x.example.", "http://bad host", "http://bad_host:4566",
             "https://-x.example", "http://" + "a" * 64 + ".example", "https://x.example/path", "http://",
             "http://[fe80::1%25eth0]:80"]


@pytest.mark.parametrize("value", ENDPOINTS)
def test_endpoint_check_agrees_with_botocore(value):
    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    def botocore_accepts() -> bool:
        try:
            return bool(is_valid_endpoint_url(value) or is_valid_ipv6_endpoint_url(value))
        except ValueError:
            return False

    try:
        Settings.from_env({"VIDEOCTL_AWS_ENDPOINT_URL": value})
        ours = True
    except ConfigError:
        ours = False
    assert ours == botocore_accepts()


@pytest.mark.parametrize("region", ["us east 1", "-us-east-1", "123", "eu_west_1"])
def test_a_bad_region_is_a_config_error(region):
    with pytest.raises(ConfigError, match="AWS_REGION must be an AWS region name"):
        Settings.from_env({"AWS_REGION": region})


@pytest.mark.parametrize("root", ["./videos", "videos//x", "videos/", "/videos", "..", "a/../b", "a/./b",
                                  "vid\\eos", "vid\x01eos"])
def test_a_videos_root_under_which_nothing_could_be_deleted_is_refused(root):
    with pytest.raises(ConfigError, match="VIDEOCTL_VIDEOS_ROOT must be a relative key prefix"):
        Settings.from_env({"VIDEOCTL_VIDEOS_ROOT": root})


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20))
def test_every_accepted_videos_root_lets_a_videos_prefix_be_deleted(root):
    try:
        accepted = Settings.from_env({"VIDEOCTL_VIDEOS_ROOT": root}).videos_root
    except ConfigError:
        return
    for video_id in (1, 12, 123456):
        try:
            check_delete_prefix(video_prefix(accepted, video_id), accepted, video_id=video_id)
        except InvalidInput as exc:
            pytest.fail(f"root {accepted!r} accepted, yet video {video_id}'s prefix is refused: {exc}")


def test_outputs_default_to_cmaf_and_a_720p_download():
    s = Settings.from_env({})
    assert s.segment_format == "fmp4" and s.sources["segment_format"] == "default"
    assert s.download_rung == "720" and s.download_height == 720


@pytest.mark.parametrize("raw", ["ts", " TS "])
def test_mpeg_ts_segments_can_be_chosen(raw):
    assert Settings.from_env({"VIDEOCTL_SEGMENT_FORMAT": raw}).segment_format == "ts"


@pytest.mark.parametrize(("raw", "kept", "height"), [("off", "off", None), ("OFF", "off", None), ("480", "480", 480),
                                                     (" 0360 ", "360", 360)])
def test_download_rung_is_a_height_or_off(raw, kept, height):
    s = Settings.from_env({"VIDEOCTL_DOWNLOAD_RUNG": raw})
    assert (s.download_rung, s.download_height) == (kept, height)
    assert s.sources["download_rung"] == "env:VIDEOCTL_DOWNLOAD_RUNG"


def test_run_job_samples_quality_unless_told_otherwise():
    assert Settings.from_env({}).measure_quality == "sample"
    for raw, kept in (("off", "off"), (" FULL ", "full"), ("sample", "sample")):
        assert Settings.from_env({"VIDEOCTL_MEASURE_QUALITY": raw}).measure_quality == kept


def test_a_quality_mode_that_is_none_of_them_names_the_variable():
    with pytest.raises(ConfigError, match="VIDEOCTL_MEASURE_QUALITY must be one of off, sample, full"):
        Settings.from_env({"VIDEOCTL_MEASURE_QUALITY": "always"})


# ---------------------------------------------------------------- events (docs/events.md)

WEBHOOK_SECRET = "whsec-0123456789abcdef-not-shown"


def test_no_event_target_means_events_are_only_recorded():
    s = Settings.from_env({})
    assert s.events_target is None and s.events is None


def test_an_event_target_is_kept_parsed():
    s = Settings.from_env({"VIDEOCTL_EVENTS_TARGET": " https://app.example.com/hook ",
                           "VIDEOCTL_EVENTS_WEBHOOK_SECRET": WEBHOOK_SECRET})
    assert s.events_target == "https://app.example.com/hook" and s.events.kind == "webhook"
    assert s.sources["events_target"] == "env:VIDEOCTL_EVENTS_TARGET"
    bus = Settings.from_env({"VIDEOCTL_EVENTS_TARGET": "eventbridge:videoctl"})
    assert bus.events.kind == "eventbridge" and bus.events.value == "videoctl"


@pytest.mark.parametrize(("env", "fragment"), [
    ({"VIDEOCTL_EVENTS_TARGET": "kafka:videoctl"}, "VIDEOCTL_EVENTS_TARGET must be eventbridge:BUS"),
    ({"VIDEOCTL_EVENTS_TARGET": "sns:videoctl"}, "VIDEOCTL_EVENTS_TARGET needs an SNS topic ARN"),
    ({"VIDEOCTL_EVENTS_TARGET": "http://app.example.com/hook", "VIDEOCTL_EVENTS_WEBHOOK_SECRET": WEBHOOK_SECRET},
     "VIDEOCTL_EVENTS_TARGET must be https://"),
    ({"VIDEOCTL_EVENTS_TARGET": "https://app.example.com/hook"}, "VIDEOCTL_EVENTS_WEBHOOK_SECRET is not set"),
    ({"VIDEOCTL_EVENTS_TARGET": "https://app.exa mple.com/hook", "VIDEOCTL_EVENTS_WEBHOOK_SECRET": WEBHOOK_SECRET},
     "VIDEOCTL_EVENTS_TARGET contains a space"),
    ({"VIDEOCTL_EVENTS_TARGET": "https://app.example.com/hook", "VIDEOCTL_EVENTS_WEBHOOK_SECRET": "short-pw"},
     "VIDEOCTL_EVENTS_WEBHOOK_SECRET must be at least 16 characters"),
])
def test_a_bad_event_setting_names_its_variable(env, fragment):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert fragment in caught.value.message
    assert "short-pw" not in caught.value.message


def test_the_webhook_secret_is_masked_and_scrubbed():
    s = Settings.from_env({"VIDEOCTL_EVENTS_TARGET": "https://app.example.com/hook",
                           "VIDEOCTL_EVENTS_WEBHOOK_SECRET": WEBHOOK_SECRET})
    shown = {row["name"]: row for row in s.describe()}
    assert shown["events_webhook_secret"]["secret"] is True and WEBHOOK_SECRET not in str(s.describe())
    assert s.scrubber()(f"signed with {WEBHOOK_SECRET}") == "signed with ****"
    assert WEBHOOK_SECRET not in environment_scrubber({"VIDEOCTL_EVENTS_WEBHOOK_SECRET": WEBHOOK_SECRET})(WEBHOOK_SECRET)


def test_config_show_masks_the_query_string_of_the_webhook():
    s = Settings.from_env({"VIDEOCTL_EVENTS_TARGET": "https://app.example.com/hook?token=tok-in-the-query",
                           "VIDEOCTL_EVENTS_WEBHOOK_SECRET": WEBHOOK_SECRET})
    shown = {row["name"]: row for row in s.describe()}
    assert shown["events_target"]["value"] == "https://app.example.com/hook?****"
    assert "tok-in-the-query" not in str(s.describe())
    assert s.events.value.endswith("?token=tok-in-the-query")  # what is sent keeps it


@pytest.mark.parametrize(("name", "raw"), [("VIDEOCTL_LOUDNESS", "loud"), ("VIDEOCTL_LOUDNESS_TARGET", "-3"),
                                           ("VIDEOCTL_LOUDNESS_TARGET", "nan"), ("VIDEOCTL_LOUDNESS_TRUE_PEAK", "2")])
def test_loudness_settings_are_checked_at_start(name, raw):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: raw})


def test_loudness_defaults_to_normalising_to_minus_16_lufs():
    loudness = Settings.from_env({}).loudness
    assert (loudness.mode, loudness.target_lufs, loudness.true_peak_dbtp) == ("normalize", -16.0, -1.5)
    assert Settings.from_env({"VIDEOCTL_LOUDNESS": "Measure"}).loudness.mode == "measure"


def test_the_per_title_ladder_is_the_default_for_sources_from_two_minutes():
    settings = Settings.from_env({})
    assert (settings.ladder_mode, settings.vmaf_target, settings.per_title_after_s) == ("per-title", 94.0, 120.0)
    assert Settings.from_env({"VIDEOCTL_LADDER_MODE": "fixed"}).ladder_mode == "fixed"
    assert Settings.from_env({"VIDEOCTL_PER_TITLE_AFTER_SECONDS": "0"}).per_title_after_s == 0.0
    with pytest.raises(ConfigError, match="VIDEOCTL_PER_TITLE_AFTER_SECONDS must be"):
        Settings.from_env({"VIDEOCTL_PER_TITLE_AFTER_SECONDS": "soon"})
