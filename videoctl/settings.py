"""One typed Settings object, read once from the environment.

Each field is declared once in ``FIELDS`` with its environment variable(s),
parser, default and whether it is a secret. ``Settings.from_env`` parses
them all, so a bad value fails at start with the variable named, and keeps
where each value came from for ``videoctl config show``.

Nothing configured means the embedded default: an embedded PostgreSQL,
a local storage directory and the local executor, all under
:func:`default_home`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from videoctl.domain.errors import ConfigError

# ---------------------------------------------------------------- parsers


def _text(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            raise ValueError(f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
        if not parts.netloc and not parts.query:
            raise ValueError("has no host")
        return value

    return parse


def _number(kind: type, *, minimum: float) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        try:
            value = kind(raw.strip())
        except ValueError:
            raise ValueError(f"must be a {'whole ' if kind is int else ''}number, got {raw!r}") from None
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def _path(raw: str) -> Path:
    return Path(_text(raw)).expanduser()


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


@dataclass(frozen=True)
class FieldSpec:
    name: str
    env: tuple[str, ...]
    parse: Callable[[str], Any]
    default: Any = None
    secret: bool = False
    help: str = ""


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("home", ("VIDEOCTL_HOME",), _path, None, help="embedded database, local storage and logs"),
    FieldSpec(
        "database_url",
        ("VIDEOCTL_DATABASE_URL", "DATABASE_URL"),
        _url("postgresql", "postgres"),
        secret=True,
        help="PostgreSQL URL; unset means the embedded server",
    ),
    FieldSpec("storage_dir", ("VIDEOCTL_STORAGE_DIR",), _path, help="local object store (when no R2 bucket)"),
    FieldSpec("r2_endpoint_url", ("R2_ENDPOINT_URL",), _url("https", "http"), help="R2 S3 API endpoint"),
    FieldSpec("r2_bucket", ("R2_BUCKET",), _text, help="R2 bucket; set means R2 storage"),
    FieldSpec("r2_access_key_id", ("R2_ACCESS_KEY_ID",), _text, secret=True),
    FieldSpec("r2_secret_access_key", ("R2_SECRET_ACCESS_KEY",), _text, secret=True),
    FieldSpec("videos_root", ("VIDEOCTL_VIDEOS_ROOT",), _text, "videos", help="key prefix of all video objects"),
    FieldSpec("aws_region", ("AWS_REGION", "AWS_DEFAULT_REGION"), _text, "us-east-1"),
    FieldSpec("aws_endpoint_url", ("VIDEOCTL_AWS_ENDPOINT_URL",), _url("https", "http"), help="AWS endpoint override"),
    FieldSpec("batch_job_queue", ("VIDEO_BATCH_JOB_QUEUE",), _text, "academy-video-batch-queue"),
    FieldSpec("batch_job_definition", ("VIDEO_BATCH_JOB_DEFINITION",), _text, "academy-video-batch-jobdef"),
    FieldSpec("delete_queue_name", ("VIDEO_DELETE_R2_QUEUE",), _text, "academy-video-delete-r2"),
    FieldSpec("redis_url", ("REDIS_URL", "VIDEOCTL_REDIS_URL"), _url("redis", "rediss"), secret=True),
    FieldSpec("executor", ("VIDEOCTL_EXECUTOR",), _choice("local", "batch"), help="local or batch"),
    FieldSpec("ffmpeg", ("VIDEOCTL_FFMPEG",), _text, help="ffmpeg binary; else PATH, else imageio-ffmpeg's"),
    FieldSpec("ladder", ("VIDEOCTL_LADDER",), _text, "1080:5000,720:3000,480:1500,360:800", help="HEIGHT:MAXRATE_KBPS,…"),
    FieldSpec("x264_preset", ("VIDEOCTL_X264_PRESET",), _text, "veryfast"),
    FieldSpec("segment_s", ("VIDEOCTL_SEGMENT_SECONDS",), _number(int, minimum=1), 4),
    FieldSpec("heartbeat_s", ("VIDEOCTL_HEARTBEAT_SECONDS",), _number(float, minimum=0.1), 5.0),
    FieldSpec("stale_after_s", ("VIDEOCTL_STALE_AFTER_SECONDS",), _number(float, minimum=1), 300.0),
    FieldSpec("unknown_after_s", ("VIDEOCTL_UNKNOWN_AFTER_SECONDS",), _number(float, minimum=1), 900.0),
    FieldSpec("runnable_after_s", ("VIDEOCTL_RUNNABLE_AFTER_SECONDS",), _number(float, minimum=1), 1800.0),
    FieldSpec("queued_after_s", ("VIDEOCTL_QUEUED_AFTER_SECONDS",), _number(float, minimum=1), 120.0),
    FieldSpec("backoff_base_s", ("VIDEOCTL_BACKOFF_BASE_SECONDS",), _number(float, minimum=0), 30.0),
    FieldSpec("backoff_cap_s", ("VIDEOCTL_BACKOFF_CAP_SECONDS",), _number(float, minimum=0), 3600.0),
    FieldSpec("max_attempts", ("VIDEOCTL_MAX_ATTEMPTS",), _number(int, minimum=1), 3),
    FieldSpec("submit_rate", ("VIDEOCTL_SUBMIT_RATE",), _number(float, minimum=0.1), 20.0, help="bulk SubmitJob calls/s"),
    FieldSpec("scratch_dir", ("VIDEOCTL_SCRATCH_DIR",), _path, help="per-job scratch space; default: system temp"),
    FieldSpec("aws_account_id", ("AWS_ACCOUNT_ID",), _text, help="infra: AWS account; unset means STS GetCallerIdentity"),
    FieldSpec("batch_image_uri", ("VIDEO_BATCH_IMAGE_URI",), _text, help="infra: ECR image URI of the Batch container"),
    FieldSpec("batch_subnets", ("VIDEO_BATCH_SUBNETS",), _text, help="infra: comma-separated subnet ids for Batch"),
    FieldSpec("batch_security_groups", ("VIDEO_BATCH_SECURITY_GROUPS",), _text, help="infra: comma-separated security group ids"),
    FieldSpec("batch_compute_env", ("VIDEO_BATCH_COMPUTE_ENV",), _text, "academy-video-batch-ce"),
    FieldSpec("batch_compute_type", ("VIDEO_BATCH_COMPUTE_TYPE",), _choice("fargate", "fargate_spot"), "fargate"),
    FieldSpec("batch_max_vcpus", ("VIDEO_BATCH_MAX_VCPUS",), _number(int, minimum=1), 64, help="infra: compute environment cap"),
    FieldSpec("batch_assign_public_ip", ("VIDEO_BATCH_ASSIGN_PUBLIC_IP",), _choice("enabled", "disabled"), "disabled"),
    FieldSpec("batch_log_group", ("VIDEO_BATCH_LOG_GROUP",), _text, "/aws/batch/academy-video"),
    FieldSpec("ssm_prefix", ("VIDEOCTL_SSM_PREFIX",), _text, "/academy/video", help="infra: SSM Parameter Store path of the secrets"),
    FieldSpec("delete_function_name", ("VIDEO_DELETE_R2_FUNCTION",), _text, "academy-video-delete-r2"),
    FieldSpec("infra_dir", ("VIDEOCTL_INFRA_DIR",), _path, help="infra: the JSON documents; default: infra/json of this checkout"),
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
    x264_preset: str
    segment_s: int
    heartbeat_s: float
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
    def embedded_db(self) -> bool:
        return self.database_url is None

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    def describe(self) -> list[dict[str, Any]]:
        """Every effective value, where it came from, secrets masked."""
        rows = []
        for spec in FIELDS:
            value = getattr(self, spec.name)
            shown: Any = str(value) if isinstance(value, Path) else value
            if spec.secret and value is not None:
                shown = mask(str(value))
            if spec.name == "database_url" and value is None:
                shown = f"embedded PostgreSQL in {self.pgdata}"
            rows.append(
                {
                    "name": spec.name,
                    "env": spec.env[0],
                    "value": shown,
                    "source": self.sources.get(spec.name, "default"),
                    "secret": spec.secret,
                }
            )
        return rows


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
    root = values["videos_root"]
    if root.startswith("/") or ".." in root.split("/") or root.endswith("/"):
        raise ConfigError("VIDEOCTL_VIDEOS_ROOT must be a relative key prefix without '..' or a trailing '/'")


def mask(secret: str) -> str:
    """Show that a secret is set, and nothing of it; URLs keep scheme and host."""
    parts = urlsplit(secret)
    if parts.scheme and parts.hostname:
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://****@{parts.hostname}{port}{parts.path}"
    return "****"

