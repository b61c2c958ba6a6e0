"""One typed Settings object, read once from the environment.

Each field is declared once in ``FIELDS`` with its environment variable(s),
parser, default and whether it is a secret. ``Settings.from_env`` parses
them all, so a bad value fails at start with the variable named, and keeps
where each value came from for ``videoctl config show``. A mistake is found
here, before any job is touched: a setting that only failed when a job ran
would fail the job (and, as bad input, its video) instead of the command.

Nothing configured means the embedded default: an embedded PostgreSQL,
a local storage directory and the local executor, all under
:func:`default_home`.

No message here quotes a secret's value, whatever is wrong with it.
"""

from __future__ import annotations

import enum
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from videoctl.domain.audio import (
    DEFAULT_LOUDNESS_TARGET,
    DEFAULT_TRUE_PEAK,
    LOUDNESS_MODES,
    LOUDNESS_TARGET_RANGE,
    LoudnessSettings,
)
from videoctl.domain.chunks import chunk_seconds_problem
from videoctl.domain.cost import Prices
from videoctl.domain.errors import ConfigError, InvalidInput
from videoctl.domain.events import Target, parse_target, shown_target
from videoctl.domain.keys import video_prefix
from videoctl.domain.ladder import parse_ladder
from videoctl.domain.origins import ANY, parse_origin, parse_origins
from videoctl.domain.pertitle import DEFAULT_PER_TITLE_AFTER_S, DEFAULT_VMAF_TARGET, PER_TITLE, VMAF_TARGET_RANGE
from videoctl.domain.pertitle import MODES as LADDER_MODES
from videoctl.domain.playback import (
    DEFAULT_MAX_LIFETIME_S,
    LOOPBACK_HOSTS,
    Keyring,
    masked_keys,
    parse_keys,
    secrets_of,
)
from videoctl.domain.prefixes import check_delete_prefix
from videoctl.domain.quality import MODES as QUALITY_MODES
from videoctl.domain.quality import SAMPLE
from videoctl.domain.secrets import MASK, Scrubber, mask_url, secret_forms, split_url
from videoctl.domain.sizing import DEFAULT_SIZING, SizingTable, parse_sizing

# ---------------------------------------------------------------- parsers


def _text(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


#: Characters that end the userinfo early for some URL parser (libpq stops at '/' and
#: the first '@'; urllib and redis-py at '/', '?' and '#', and choke on brackets).
_ENDS_USERINFO = frozenset("/?#@[]")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})|%00")
_PORT = re.compile(r"\d{1,5}")


def _secret_url(*schemes: str, several_hosts: bool = False) -> Callable[[str], str]:
    """A URL that carries a password, checked so that every client reads it as we mask it.

    libpq, urllib and redis-py each find the end of the password differently when it
    holds an unencoded '/', '?', '#', '@' or a bad '%' escape, and quote what they took
    for a host, port or database in their errors: such a URL is refused here, with
    the remedy and without the value.
    """
    wanted = " or ".join(s + "://" for s in schemes)

    def parse(raw: str) -> str:
        value = raw.strip()
        url = split_url(value)
        if url is None or url.scheme not in schemes:
            raise ValueError(f"must be a URL starting with {wanted}")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError("contains a control character (percent-encode it)")
        if url.userinfo is not None and _ENDS_USERINFO.intersection(url.userinfo):
            raise ValueError(
                "has a '/', '?', '#', '@', '[' or ']' before its host: percent-encode them in the user "
                "name and password (/ %2F, ? %3F, # %23, @ %40, [ %5B, ] %5D), and '@' anywhere else (%40)"
            )
        if _BAD_ESCAPE.search(value):
            raise ValueError("has a '%' that is not followed by two hex digits, or %00 (write a literal '%' as %25)")
        try:  # libpq and psycopg decode the escapes as UTF-8 and fail on anything else
            unquote_to_bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("has percent-escapes that are not UTF-8 text (such as %80 alone); "
                             "encode the password's UTF-8 bytes") from None
        hosts = re.split(r"[/?#]", url.rest, maxsplit=1)[0]
        if not hosts and "?" not in url.rest:
            raise ValueError("has no host")
        try:
            urlsplit(value)
        except ValueError:  # an unbalanced '[' or ']' around the host
            raise ValueError("has an invalid host (check its brackets)") from None
        for host in hosts.split(",") if several_hosts else [hosts]:
            _check_port(host)
        return value

    return parse


def _check_port(host: str) -> None:
    """A port after the host (or after a bracketed IPv6 address) must be a number up to 65535."""
    tail = host.rpartition("]")[2] if host.startswith("[") else host
    port = tail.partition(":")[2] if ":" in tail else None
    if port is not None and not (_PORT.fullmatch(port) and int(port) <= 65535):
        raise ValueError("has a port that is not a number from 0 to 65535")


#: The host names botocore accepts in an endpoint URL (botocore.utils.is_valid_endpoint_url).
_HOST_NAME = re.compile(r"^((?!-)[A-Z\d-]{1,63}(?<!-)\.)*((?!-)[A-Z\d-]{1,63}(?<!-))$", re.IGNORECASE)


def _endpoint_url(raw: str) -> str:
    """An AWS or R2 endpoint as botocore will take it: checked here rather than when a
    client is first built, which may be halfway through a job."""
    value = raw.strip()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("contains a control character")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - urllib checks the port when it is read
    except ValueError:
        raise ValueError("is not a valid URL (check the host and port)") from None
    if parts.scheme not in ("https", "http"):
        raise ValueError("must be a URL starting with https:// or http://")
    host = parts.hostname
    if not host:
        raise ValueError("has no host")
    if not (_is_ip_address(host) or (len(host) <= 255 and _HOST_NAME.match(host.removesuffix(".")))):
        raise ValueError("has an invalid host name")
    return value


#: A region botocore accepts (botocore.utils.validate_region_name): a host label, not all digits.
_REGION = re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$")


def _region(raw: str) -> str:
    value = _text(raw)
    if not _REGION.match(value):
        raise ValueError(f"must be an AWS region name such as us-east-1, got {value!r}")
    return value


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _number(kind: type, *, minimum: float, maximum: float) -> Callable[[str], Any]:
    """A finite number within [minimum, maximum]: NaN, infinity and absurd values fail
    here, not as a database error in the middle of a scan."""
    allowed = f"{minimum:g} to {maximum:g}"

    def parse(raw: str) -> Any:
        try:
            value = kind(raw.strip())
        except ValueError:
            raise ValueError(f"must be a {'whole ' if kind is int else ''}number from {allowed}, got {raw!r}") from None
        if not math.isfinite(value) or not minimum <= value <= maximum:
            raise ValueError(f"must be from {allowed}, got {raw.strip()!r}")
        return value

    return parse


def _off_or(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """``off`` (None, the same as unset) or what ``parse`` makes of the value."""

    def parse_or_off(raw: str) -> Any:
        return None if raw.strip().lower() == "off" else parse(raw)

    return parse_or_off


#: A price in USD: zero (free) to absurd.
_price = _number(float, minimum=0, maximum=1000)


def _ladder(raw: str) -> str:
    """The ladder spec, kept as text, but parsed now: a bad ladder is a configuration
    mistake, and must not reach run-job, where it would fail the video as bad input."""
    value = _text(raw)
    try:
        parse_ladder(value)
    except InvalidInput as exc:
        raise ValueError(f"is not a valid ladder: {exc.message} (use height:maxrate_kbps pairs, "
                         f"e.g. 1080:5000,720:3000,480:1500,360:800)") from None
    return value


def _sizing(raw: str) -> str:
    """The container sizing table, kept as text but parsed now: a pair Fargate does not offer
    would otherwise be refused by SubmitJob, video after video."""
    value = _text(raw)
    try:
        table = parse_sizing(value)
    except InvalidInput as exc:
        raise ValueError(f"is not a valid sizing table: {exc.message} (use GPX:VCPU/MEMORY_MIB steps from 0 Gpx "
                         f"up with Fargate sizes, e.g. {DEFAULT_SIZING}, or off)") from None
    return str(table) if table is not None else "off"


#: ``VIDEOCTL_DOWNLOAD_RUNG``'s value for no download.mp4.
DOWNLOAD_OFF = "off"


def _download_rung(raw: str) -> str:
    """A rung height (the download carries the highest rung at or below it), or ``off``."""
    value = _text(raw).lower()
    if value == DOWNLOAD_OFF:
        return value
    if not value.isdigit() or not 16 <= int(value) <= 8192:
        raise ValueError(f"must be a rung height from 16 to 8192 (e.g. 720) or {DOWNLOAD_OFF}, got {raw.strip()!r}")
    return str(int(value))


def _videos_root(raw: str) -> str:
    """The key prefix of every video: one under which a video's own prefix is deletable,
    else every delete (and every replaced ladder's cleanup) would be refused."""
    root = _text(raw)
    try:
        check_delete_prefix(video_prefix(root, 1), root)
    except InvalidInput as exc:
        raise ValueError(
            "must be a relative key prefix like 'videos' or 'media/videos' (no leading or trailing '/', "
            f"no empty, '.' or '..' segment, no backslash or control character): {exc.message}"
        ) from None
    return root


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(f"must be 1 or 0 (or true/false, yes/no, on/off), got {raw.strip()!r}")
    return value in _TRUE


#: The shortest VIDEOCTL_SERVE_TOKEN taken: 32 characters, what `secrets.token_urlsafe(24)` or
#: `openssl rand -hex 16` make.
MIN_SERVE_TOKEN = 32
#: The least a VIDEOCTL_SERVE_TOKEN's characters must carry, in bits, counted from how often each
#: repeats: 32 random hex digits carry about 115 (under 85 not once in a million tries), 43 of
#: `token_urlsafe(32)` about 210; `aaaa…` none, 32 characters of `abab…` 32, of `abcdabcd…` 64.
MIN_SERVE_TOKEN_BITS = 80


def _serve_token(raw: str) -> str:
    """What every request to `videoctl serve` must carry: printable ASCII without spaces (it travels in
    an Authorization header), long and varied enough not to be guessed. The message never quotes it."""
    value = raw.strip()
    advice = "(e.g. from `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
    if len(value) < MIN_SERVE_TOKEN or not all(33 <= ord(c) < 127 for c in value):
        raise ValueError(f"must be at least {MIN_SERVE_TOKEN} printable ASCII characters without spaces {advice}")
    if _character_bits(value) < MIN_SERVE_TOKEN_BITS:
        raise ValueError(f"repeats its characters too much to be a secret (it carries less than "
                         f"{MIN_SERVE_TOKEN_BITS} bits); use a random one {advice}")
    return value


def _character_bits(text: str) -> float:
    """The Shannon entropy of *text*'s characters times its length: an estimate of how much a
    guesser must try, blind to words (a low value is surely weak; a high one may not be strong)."""
    counts = [text.count(c) for c in set(text)]
    return -sum(n * math.log2(n / len(text)) for n in counts)


def _path(raw: str) -> Path:
    return Path(_text(raw)).expanduser()


def _events_target(raw: str) -> str:
    """Where events go (docs/events.md): checked now, so a typo never leaves them piling up unsent."""
    return str(parse_target(_text(raw)))


#: An HMAC key shorter than this is guessable; generate one with `openssl rand -hex 32`.
WEBHOOK_SECRET_MIN = 16


def _webhook_secret(raw: str) -> str:
    value = _text(raw)
    if len(value) < WEBHOOK_SECRET_MIN:  # the message never quotes it
        raise ValueError(f"must be at least {WEBHOOK_SECRET_MIN} characters (e.g. `openssl rand -hex 32`)")
    return value


def _playback_keys(raw: str) -> str:
    """``KID:SECRET,…``, newest first: checked now (the message names a key id, never a secret)."""
    value = _text(raw)
    parse_keys(value)
    return value



def _playback_base_url(raw: str) -> str:
    """Where viewers fetch ladders: an origin (``https://media.example.com``), https but on this machine."""
    value = _text(raw).rstrip("/")
    example = "e.g. https://media.example.com (the Worker's route on the bucket's custom domain)"
    try:
        origin = parse_origin(value)
    except ValueError:
        origin = ANY
    if origin == ANY:
        raise ValueError(f"must be an https:// origin, scheme://host[:port] with no path, query or user name "
                         f"(got {value!r}); {example}")
    if origin.startswith("http://") and urlsplit(origin).hostname not in LOOPBACK_HOSTS:  # local mode
        raise ValueError(f"must be https:// (players send the token in every request's path); plain http:// only "
                         f"for this machine (http://127.0.0.1:PORT, local mode); {example}")
    return origin


def default_home() -> Path:
    """Where the embedded default keeps its database, storage and logs.

    As root the directory must not sit under a home folder: pgserver runs the
    server as a ``pgserver`` user and opens read/execute on every parent of
    its data directory, which would expose /root. So root uses /var/lib.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/videoctl")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "videoctl"


# ---------------------------------------------------------------- fields

# Upper bounds for numbers: a week is longer than any sane threshold and keeps every
# duration a valid PostgreSQL interval; the submit rate's is Batch's own SubmitJob limit (50/s).
HOUR, DAY, WEEK = 3600, 86_400, 7 * 86_400


class Secret(enum.Enum):
    """How a secret setting is shown by `config show`."""

    VALUE = "value"  # only that it is set
    URL = "url"  # scheme, host, port and path; the userinfo and password parameters masked
    KEYS = "keys"  # KID:SECRET,…: the key ids, in order; every secret masked


@dataclass(frozen=True)
class FieldSpec:
    name: str
    env: tuple[str, ...]
    parse: Callable[[str], Any]
    default: Any = None
    secret: Secret | None = None
    help: str = ""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("home", ("VIDEOCTL_HOME",), _path, None, help="embedded database, local storage and logs"),
    FieldSpec(
        "database_url",
        ("VIDEOCTL_DATABASE_URL", "DATABASE_URL"),
        _secret_url("postgresql", "postgres", several_hosts=True),
        secret=Secret.URL,
        help="PostgreSQL URL; unset means the embedded server",
    ),
    FieldSpec("storage_dir", ("VIDEOCTL_STORAGE_DIR",), _path, help="local object store (when no R2 bucket)"),
    FieldSpec("r2_endpoint_url", ("R2_ENDPOINT_URL",), _endpoint_url, help="R2 S3 API endpoint"),
    FieldSpec("r2_bucket", ("R2_BUCKET",), _text, help="R2 bucket; set means R2 storage"),
    FieldSpec("r2_access_key_id", ("R2_ACCESS_KEY_ID",), _text, secret=Secret.VALUE),
    FieldSpec("r2_secret_access_key", ("R2_SECRET_ACCESS_KEY",), _text, secret=Secret.VALUE),
    FieldSpec("upload_origins", ("VIDEOCTL_UPLOAD_ORIGINS",), parse_origins,
              help="infra: origins (comma-separated, or *) the R2 bucket's CORS rules let upload and play; unset: not managed"),
    FieldSpec("videos_root", ("VIDEOCTL_VIDEOS_ROOT",), _videos_root, "videos", help="key prefix of all video objects"),
    FieldSpec("aws_region", ("AWS_REGION", "AWS_DEFAULT_REGION"), _region, "us-east-1"),
    FieldSpec("aws_endpoint_url", ("VIDEOCTL_AWS_ENDPOINT_URL",), _endpoint_url, help="AWS endpoint override"),
    FieldSpec("batch_job_queue", ("VIDEO_BATCH_JOB_QUEUE",), _text, "academy-video-batch-queue"),
    FieldSpec("batch_job_definition", ("VIDEO_BATCH_JOB_DEFINITION",), _text, "academy-video-batch-jobdef"),
    FieldSpec("delete_queue_name", ("VIDEO_DELETE_R2_QUEUE",), _text, "academy-video-delete-r2"),
    FieldSpec("redis_url", ("REDIS_URL", "VIDEOCTL_REDIS_URL"), _secret_url("redis", "rediss"), secret=Secret.URL),
    FieldSpec("executor", ("VIDEOCTL_EXECUTOR",), _choice("local", "batch"), help="local or batch"),
    FieldSpec("ffmpeg", ("VIDEOCTL_FFMPEG",), _text, help="ffmpeg binary; else PATH, else imageio-ffmpeg's"),
    FieldSpec("ladder", ("VIDEOCTL_LADDER",), _ladder, "1080:5000,720:3000,480:1500,360:800", help="HEIGHT:MAXRATE_KBPS,…"),
    FieldSpec("sizing", ("VIDEOCTL_SIZING",), _sizing, DEFAULT_SIZING,
              help="batch: Fargate vCPU/MiB by source gigapixels (duration × width × height × fps ÷ 10⁹), "
                   "GPX:VCPU/MEMORY_MIB,… from 0; off: the job definition's size"),
    FieldSpec("x264_preset", ("VIDEOCTL_X264_PRESET",), _text, "veryfast"),
    FieldSpec("ladder_mode", ("VIDEOCTL_LADDER_MODE",), _choice(*LADDER_MODES), PER_TITLE,
              help="per-title: a probe of a few sampled pieces picks each rung's CRF for VIDEOCTL_VMAF_TARGET "
                   "and drops a rung that adds nothing (sources from VIDEOCTL_PER_TITLE_AFTER_SECONDS); "
                   "fixed: CRF 23 on every rung"),
    FieldSpec("vmaf_target", ("VIDEOCTL_VMAF_TARGET",), _number(float, minimum=VMAF_TARGET_RANGE[0],
              maximum=VMAF_TARGET_RANGE[1]), DEFAULT_VMAF_TARGET,
              help="per-title: the mean VMAF the top rung is encoded to reach"),
    FieldSpec("per_title_after_s", ("VIDEOCTL_PER_TITLE_AFTER_SECONDS",), _number(float, minimum=0, maximum=WEEK),
              DEFAULT_PER_TITLE_AFTER_S,
              help="per-title: a source shorter than this takes the fixed ladder (the probe's cost is the same "
                   "for any length); 0: every source is probed"),
    FieldSpec("segment_s", ("VIDEOCTL_SEGMENT_SECONDS",), _number(int, minimum=1, maximum=60), 4),
    FieldSpec("chunk_after_s", ("VIDEOCTL_CHUNK_AFTER_SECONDS",), _off_or(_number(float, minimum=0, maximum=WEEK)),
              600.0, help="a source longer than this is encoded in chunks, by several containers at once (a Batch "
                          "array job, or local processes); off: never chunk"),
    FieldSpec("chunk_s", ("VIDEOCTL_CHUNK_SECONDS",), _number(int, minimum=1, maximum=DAY), 120,
              help="the length of a chunk: a multiple of VIDEOCTL_SEGMENT_SECONDS"),
    FieldSpec("segment_format", ("VIDEOCTL_SEGMENT_FORMAT",), _choice("fmp4", "ts"), "fmp4",
              help="fmp4 (CMAF: HLS and DASH over one set of segments) or ts (MPEG-TS, HLS only)"),
    FieldSpec("download_rung", ("VIDEOCTL_DOWNLOAD_RUNG",), _download_rung, "720",
              help="download.mp4 carries the highest rung at or below this height; off for none"),
    FieldSpec("measure_quality", ("VIDEOCTL_MEASURE_QUALITY",), _choice(*QUALITY_MODES), SAMPLE,
              help="run-job scores each rung against the source (VMAF, PSNR-Y) before completing: off, "
                   "sample (a few segments) or full (every frame); a failed measurement never fails the job"),
    FieldSpec("loudness_mode", ("VIDEOCTL_LOUDNESS",), _choice(*LOUDNESS_MODES), "normalize",
              help="EBU R128: normalize (one linear gain to the target, a limiter only for peaks), measure, or off"),
    FieldSpec("loudness_target", ("VIDEOCTL_LOUDNESS_TARGET",), _number(float, minimum=LOUDNESS_TARGET_RANGE[0],
              maximum=LOUDNESS_TARGET_RANGE[1]), DEFAULT_LOUDNESS_TARGET, help="integrated loudness, LUFS"),
    FieldSpec("loudness_true_peak", ("VIDEOCTL_LOUDNESS_TRUE_PEAK",), _number(float, minimum=-9, maximum=0),
              DEFAULT_TRUE_PEAK, help="true-peak ceiling, dBTP"),
    FieldSpec("heartbeat_s", ("VIDEOCTL_HEARTBEAT_SECONDS",), _number(float, minimum=0.1, maximum=HOUR), 5.0),
    FieldSpec("db_retry_s", ("VIDEOCTL_DB_RETRY_SECONDS",), _number(float, minimum=0, maximum=DAY), 180.0,
              help="how long run-job waits for a database that went away (failover, restart)"),
    FieldSpec("stale_after_s", ("VIDEOCTL_STALE_AFTER_SECONDS",), _number(float, minimum=1, maximum=WEEK), 300.0),
    FieldSpec("unknown_after_s", ("VIDEOCTL_UNKNOWN_AFTER_SECONDS",), _number(float, minimum=1, maximum=WEEK), 900.0),
    FieldSpec("runnable_after_s", ("VIDEOCTL_RUNNABLE_AFTER_SECONDS",), _number(float, minimum=1, maximum=WEEK), 1800.0),
    FieldSpec("queued_after_s", ("VIDEOCTL_QUEUED_AFTER_SECONDS",), _number(float, minimum=1, maximum=WEEK), 120.0),
    FieldSpec("backoff_base_s", ("VIDEOCTL_BACKOFF_BASE_SECONDS",), _number(float, minimum=0, maximum=DAY), 30.0),
    FieldSpec("backoff_cap_s", ("VIDEOCTL_BACKOFF_CAP_SECONDS",), _number(float, minimum=0, maximum=WEEK), 3600.0),
    FieldSpec("max_attempts", ("VIDEOCTL_MAX_ATTEMPTS",), _number(int, minimum=1, maximum=100), 3),
    FieldSpec("submit_rate", ("VIDEOCTL_SUBMIT_RATE",), _number(float, minimum=0.1, maximum=50), 20.0, help="bulk SubmitJob calls/s"),
    FieldSpec("scratch_dir", ("VIDEOCTL_SCRATCH_DIR",), _path, help="per-job scratch space; default: system temp"),
    FieldSpec("aws_account_id", ("AWS_ACCOUNT_ID",), _text, help="infra: AWS account; unset means STS GetCallerIdentity"),
    FieldSpec("batch_image_uri", ("VIDEO_BATCH_IMAGE_URI",), _text, help="infra: ECR image URI of the Batch container"),
    FieldSpec("batch_subnets", ("VIDEO_BATCH_SUBNETS",), _text, help="infra: comma-separated subnet ids for Batch"),
    FieldSpec("batch_security_groups", ("VIDEO_BATCH_SECURITY_GROUPS",), _text, help="infra: comma-separated security group ids"),
    FieldSpec("batch_compute_env", ("VIDEO_BATCH_COMPUTE_ENV",), _text, "academy-video-batch-ce"),
    FieldSpec("batch_compute_type", ("VIDEO_BATCH_COMPUTE_TYPE",), _choice("fargate", "fargate_spot"), "fargate"),
    FieldSpec("batch_max_vcpus", ("VIDEO_BATCH_MAX_VCPUS",), _number(int, minimum=1, maximum=10_000), 64, help="infra: compute environment cap"),
    FieldSpec("batch_assign_public_ip", ("VIDEO_BATCH_ASSIGN_PUBLIC_IP",), _choice("enabled", "disabled"), "disabled"),
    FieldSpec("batch_log_group", ("VIDEO_BATCH_LOG_GROUP",), _text, "/aws/batch/academy-video"),
    FieldSpec("ssm_prefix", ("VIDEOCTL_SSM_PREFIX",), _text, "/academy/video", help="infra: SSM Parameter Store path of the secrets"),
    FieldSpec("delete_function_name", ("VIDEO_DELETE_R2_FUNCTION",), _text, "academy-video-delete-r2"),
    FieldSpec("infra_dir", ("VIDEOCTL_INFRA_DIR",), _path, help="infra: the JSON documents; default: infra/json of this checkout"),
    FieldSpec("retention_days", ("VIDEOCTL_RETENTION_DAYS",), _number(float, minimum=1, maximum=36_500),
              help="scan-stuck --loop prunes finished jobs older than this, once a day; unset: never"),
    # Direct uploads and auto-submit (docs/api.md).
    FieldSpec("auto_submit", ("VIDEOCTL_AUTO_SUBMIT",), _flag, False,
              help="submit every video the moment it is UPLOADED (add, register, upload complete)"),
    FieldSpec("upload_expiry_hours", ("VIDEOCTL_UPLOAD_EXPIRY_HOURS",), _number(float, minimum=0.01, maximum=720),
              24.0, help="a direct upload not completed within this is aborted by scan-stuck (upload_expired)"),
    # Cost (docs: README "Cost"): USD list prices in us-east-1, Linux/x86, as of 2026-11;
    # Spot moves with the market, so set yours. MediaConvert: Basic tier, per output minute.
    FieldSpec("price_fargate_vcpu_hour", ("VIDEOCTL_PRICE_FARGATE_VCPU_HOUR",), _price, 0.04048,
              help="USD per vCPU-hour, Fargate (us-east-1 list price, 2026-11)"),
    FieldSpec("price_fargate_gb_hour", ("VIDEOCTL_PRICE_FARGATE_GB_HOUR",), _price, 0.004445,
              help="USD per GB-hour, Fargate (us-east-1 list price, 2026-11)"),
    FieldSpec("price_spot_vcpu_hour", ("VIDEOCTL_PRICE_FARGATE_SPOT_VCPU_HOUR",), _price, 0.012144,
              help="USD per vCPU-hour, Fargate Spot (us-east-1, 2026-11; it moves with the market)"),
    FieldSpec("price_spot_gb_hour", ("VIDEOCTL_PRICE_FARGATE_SPOT_GB_HOUR",), _price, 0.0013335,
              help="USD per GB-hour, Fargate Spot (us-east-1, 2026-11; it moves with the market)"),
    FieldSpec("price_mediaconvert_sd_minute", ("VIDEOCTL_PRICE_MEDIACONVERT_SD_MINUTE",), _price, 0.0075,
              help="USD per SD output minute, MediaConvert Basic tier (us-east-1 list price, 2026-11)"),
    FieldSpec("price_mediaconvert_hd_minute", ("VIDEOCTL_PRICE_MEDIACONVERT_HD_MINUTE",), _price, 0.015,
              help="USD per HD (720p and up) output minute, MediaConvert Basic tier (us-east-1, 2026-11)"),
    # SigV4 presigned URLs live at most 7 days.
    FieldSpec("upload_url_expiry_s", ("VIDEOCTL_UPLOAD_URL_EXPIRY_SECONDS",),
              _number(int, minimum=60, maximum=WEEK), 3600, help="how long a presigned upload URL is valid"),
    # Events for the app (docs/events.md).
    FieldSpec("events_target", ("VIDEOCTL_EVENTS_TARGET",), _events_target,
              help="eventbridge:BUS, sns:TOPIC_ARN or an https:// webhook; unset: events are recorded and kept pending"),
    FieldSpec("events_webhook_secret", ("VIDEOCTL_EVENTS_WEBHOOK_SECRET",), _webhook_secret, secret=Secret.VALUE,
              help="the webhook's HMAC-SHA256 signing key"),
    FieldSpec("delivery_timeout_s", ("VIDEOCTL_DELIVERY_TIMEOUT_SECONDS",), _number(float, minimum=0.1, maximum=HOUR),
              10.0, help="the total deadline of one delivery (an event, a prefix deletion): connect, send, every "
                         "read and every retry within it"),
    FieldSpec("serve_token", ("VIDEOCTL_SERVE_TOKEN",), _serve_token, secret=Secret.VALUE,
              help="videoctl serve: the token every request must carry; required off loopback"),
    # Signed playback for the app's viewers (README "Playback for your viewers"; worker/edge/).
    FieldSpec("playback_keys", ("VIDEOCTL_PLAYBACK_KEYS",), _playback_keys, secret=Secret.KEYS,
              help="KID:SECRET,… newest first: the first signs playback tokens, every one verifies"),
    FieldSpec("playback_base_url", ("VIDEOCTL_PLAYBACK_BASE_URL",), _playback_base_url,
              help="where viewers fetch ladders: the edge Worker's https:// origin; unset: no playback URLs"),
    FieldSpec("playback_origins", ("VIDEOCTL_PLAYBACK_ORIGINS",), parse_origins,
              help="the app's origins whose players may fetch ladders (CORS); the Worker's PLAYBACK_ORIGINS"),
    FieldSpec("playback_max_expiry_s", ("VIDEOCTL_PLAYBACK_MAX_EXPIRY_SECONDS",),
              _number(int, minimum=60, maximum=WEEK), DEFAULT_MAX_LIFETIME_S,
              help="the longest a playback URL may live (playback --expires); the Worker refuses longer ones"),
)


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    storage_dir: Path
    r2_endpoint_url: str | None
    r2_bucket: str | None
    r2_access_key_id: str | None
    r2_secret_access_key: str | None
    upload_origins: str | None  # normalised, comma-separated (domain.origins)
    videos_root: str
    aws_region: str
    aws_endpoint_url: str | None
    batch_job_queue: str
    batch_job_definition: str
    delete_queue_name: str
    redis_url: str | None
    executor: str
    ffmpeg: str | None
    ladder: str
    sizing: str
    x264_preset: str
    ladder_mode: str
    vmaf_target: float
    per_title_after_s: float
    segment_s: int
    chunk_after_s: float | None
    chunk_s: int
    segment_format: str
    download_rung: str
    measure_quality: str
    loudness_mode: str
    loudness_target: float
    loudness_true_peak: float
    heartbeat_s: float
    db_retry_s: float
    stale_after_s: float
    unknown_after_s: float
    runnable_after_s: float
    queued_after_s: float
    backoff_base_s: float
    backoff_cap_s: float
    max_attempts: int
    submit_rate: float
    scratch_dir: Path | None
    aws_account_id: str | None
    batch_image_uri: str | None
    batch_subnets: str | None
    batch_security_groups: str | None
    batch_compute_env: str
    batch_compute_type: str
    batch_max_vcpus: int
    batch_assign_public_ip: str
    batch_log_group: str
    ssm_prefix: str
    delete_function_name: str
    infra_dir: Path | None
    retention_days: float | None
    auto_submit: bool
    upload_expiry_hours: float
    upload_url_expiry_s: int
    price_fargate_vcpu_hour: float
    price_fargate_gb_hour: float
    price_spot_vcpu_hour: float
    price_spot_gb_hour: float
    price_mediaconvert_sd_minute: float
    price_mediaconvert_hd_minute: float
    events_target: str | None
    events_webhook_secret: str | None
    delivery_timeout_s: float
    serve_token: str | None
    playback_keys: str | None
    playback_base_url: str | None
    playback_origins: str | None  # normalised, comma-separated (domain.origins)
    playback_max_expiry_s: int
    #: field name → "env:NAME", "default", "embedded" or "derived".
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        problems: list[str] = []
        for spec in FIELDS:
            name = next((n for n in spec.env if env.get(n, "").strip()), None)
            if name is None:
                values[spec.name] = spec.default
                sources[spec.name] = "default"
                continue
            try:
                values[spec.name] = spec.parse(env[name])
                sources[spec.name] = f"env:{name}"
            except ValueError as exc:
                problems.append(f"{name} {exc}")
        problems += _aws_endpoint_problems(env)
        if problems:
            raise ConfigError("invalid configuration: " + "; ".join(problems), hint="fix the variables named above")

        if values["home"] is None:
            values["home"] = default_home()
            sources["home"] = "embedded"
        if values["storage_dir"] is None:
            values["storage_dir"] = values["home"] / "storage"
            sources["storage_dir"] = "embedded"
        if values["executor"] is None:
            values["executor"] = "local" if values["database_url"] is None else "batch"
            sources["executor"] = "embedded" if values["database_url"] is None else "derived"
        if values["database_url"] is None:
            sources["database_url"] = "embedded"
        _check_combinations(values)
        return cls(**values, sources=sources)

    @property
    def uses_r2(self) -> bool:
        return self.r2_bucket is not None

    @property
    def loudness(self) -> LoudnessSettings:
        return LoudnessSettings(self.loudness_mode, self.loudness_target, self.loudness_true_peak)

    @property
    def download_height(self) -> int | None:
        """The rung height download.mp4 is made from, None when it is off."""
        return None if self.download_rung == DOWNLOAD_OFF else int(self.download_rung)

    @property
    def prices(self) -> Prices:
        return Prices(self.price_fargate_vcpu_hour, self.price_fargate_gb_hour, self.price_spot_vcpu_hour,
                      self.price_spot_gb_hour, self.price_mediaconvert_sd_minute, self.price_mediaconvert_hd_minute)

    @property
    def sizing_table(self) -> SizingTable | None:
        """How Batch containers are sized to their sources; None when VIDEOCTL_SIZING is off."""
        return parse_sizing(self.sizing)

    @property
    def events(self) -> Target | None:
        """The parsed event target, None when events are only recorded."""
        return parse_target(self.events_target) if self.events_target else None

    @property
    def playback_keyring(self) -> Keyring | None:
        """The playback keys, parsed (None when unset); one keyring per Settings, so what it
        remembers of the tokens it opened lasts as long as the settings do."""
        if self.playback_keys is None:
            return None
        cached = self.__dict__.get("_keyring")
        if cached is None:
            cached = parse_keys(self.playback_keys)
            object.__setattr__(self, "_keyring", cached)
        return cached

    @property
    def embedded_db(self) -> bool:
        return self.database_url is None

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    def describe(self) -> list[dict[str, Any]]:
        """Every effective value, where it came from, secrets masked.

        Secrets are masked by their kind; every other value is scrubbed of them
        too, so a password that also occurs in, say, a path is not shown there.
        """
        scrub = self.scrubber()
        rows = []
        for spec in FIELDS:
            value = getattr(self, spec.name)
            shown: Any = str(value) if isinstance(value, Path) else value
            if spec.secret is not None and value is not None:
                shown = {Secret.URL: mask_url, Secret.KEYS: masked_keys}.get(spec.secret, lambda _: MASK)(str(value))
            if spec.name == "database_url" and value is None:
                shown = f"embedded PostgreSQL in {self.pgdata}"
            if spec.name == "events_target" and value is not None:
                shown = shown_target(value)  # a webhook's query string, as every other output leaves it out
            rows.append(
                {
                    "name": spec.name,
                    "env": spec.env[0],
                    "value": scrub(shown) if isinstance(shown, str) else shown,
                    "source": self.sources.get(spec.name, "default"),
                    "secret": spec.secret is not None,
                }
            )
        return rows

    def scrubber(self) -> Scrubber:
        """Takes the secret values of these settings out of a text."""
        forms: set[str] = set()
        for spec in FIELDS:
            value = getattr(self, spec.name)
            if spec.secret is not None and value is not None:
                forms |= _secret_forms(str(value), spec.secret)
        return Scrubber(forms)


def _aws_endpoint_problems(env: Mapping[str, str]) -> list[str]:
    """botocore reads AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> itself, and only
    checks them when a client is built; a bad one is a configuration mistake like ours."""
    problems = []
    for name in sorted(env):
        if (name == "AWS_ENDPOINT_URL" or name.startswith("AWS_ENDPOINT_URL_")) and env[name].strip():
            try:
                _endpoint_url(env[name])
            except ValueError as exc:
                problems.append(f"{name} {exc}")
    return problems


def _check_combinations(values: dict[str, Any]) -> None:
    if values["r2_bucket"]:
        missing = [
            spec.env[0]
            for spec in FIELDS
            if spec.name in ("r2_endpoint_url", "r2_access_key_id", "r2_secret_access_key") and not values[spec.name]
        ]
        if missing:
            raise ConfigError(
                f"R2_BUCKET is set but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not",
                hint="set all R2 variables, or unset R2_BUCKET to use local storage",
            )
    if values["backoff_cap_s"] < values["backoff_base_s"]:
        raise ConfigError("VIDEOCTL_BACKOFF_CAP_SECONDS must not be below VIDEOCTL_BACKOFF_BASE_SECONDS")
    if values["upload_url_expiry_s"] > values["upload_expiry_hours"] * HOUR:
        raise ConfigError(
            "VIDEOCTL_UPLOAD_URL_EXPIRY_SECONDS must not be above VIDEOCTL_UPLOAD_EXPIRY_HOURS",
            hint="an upload URL that outlived its upload could write objects after the upload was given up",
        )
    target = values["events_target"]
    if target and parse_target(target).kind == "webhook" and not values["events_webhook_secret"]:
        raise ConfigError("VIDEOCTL_EVENTS_TARGET is a webhook but VIDEOCTL_EVENTS_WEBHOOK_SECRET is not set",
                          hint="every webhook request is signed with it (docs/events.md): `openssl rand -hex 32`")
    chunk_problem = chunk_seconds_problem(values["chunk_s"], values["segment_s"])
    if chunk_problem is not None:
        raise ConfigError(f"VIDEOCTL_CHUNK_SECONDS {chunk_problem}",
                          hint="e.g. VIDEOCTL_CHUNK_SECONDS=120 with 4 s segments")
    if values["playback_base_url"] and not values["playback_keys"]:
        raise ConfigError("VIDEOCTL_PLAYBACK_BASE_URL is set but VIDEOCTL_PLAYBACK_KEYS is not",
                          hint="set the keys playback URLs are signed with, the same as the Worker's PLAYBACK_KEYS: "
                               "KID:SECRET, e.g. k1:$(openssl rand -hex 32)")
    table = parse_sizing(values["sizing"])
    if table is not None and table.largest_vcpus > values["batch_max_vcpus"]:
        raise ConfigError(
            f"VIDEOCTL_SIZING gives a container {table.largest_vcpus:g} vCPU but VIDEO_BATCH_MAX_VCPUS is "
            f"{values['batch_max_vcpus']}",
            hint="a job sized above the compute environment's maximum never leaves RUNNABLE: raise "
                 "VIDEO_BATCH_MAX_VCPUS (and `videoctl infra setup`) or lower the table's largest step",
        )
    if values["heartbeat_s"] >= values["stale_after_s"]:
        raise ConfigError(
            "VIDEOCTL_HEARTBEAT_SECONDS must be below VIDEOCTL_STALE_AFTER_SECONDS",
            hint="else scan-stuck takes every running job for stalled between two heartbeats",
        )


#: Not settings of ours, but read by boto3 from the same environment.
_AWS_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _secret_forms(value: str, kind: Secret) -> set[str]:
    """Every text a secret setting's value may appear as; for keys, each secret on its own too."""
    forms = secret_forms(value, url=kind is Secret.URL)
    if kind is Secret.KEYS:
        for secret in secrets_of(value):
            forms |= secret_forms(secret)
    return forms


def environment_scrubber(environ: Mapping[str, str] | None = None) -> Scrubber:
    """Takes every secret set in the environment out of a text, whether or not it parses
    as a setting: the last line of defence at the error boundary and in the logs."""
    env = os.environ if environ is None else environ
    forms: set[str] = set()
    for spec in FIELDS:
        if spec.secret is not None:
            for name in spec.env:
                raw = env.get(name, "")
                for value in {raw, raw.strip()} - {""}:
                    forms |= _secret_forms(value, spec.secret)
    for name in _AWS_SECRETS:
        forms |= secret_forms(env.get(name, "").strip())
    return Scrubber(forms)
