"""One boto3 session and the clients built from it.

Clients are created on first use and cached on the factory, never at module
level, so tests hand in a factory bound to moto and the CLI builds one per
process. botocore's standard retry mode absorbs throttling
(TooManyRequestsException, SlowDown) with jittered backoff.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from videoctl.domain.errors import ConfigError
from videoctl.settings import Settings

_RETRIES = {"mode": "standard", "max_attempts": 6}


class AwsClients:
    def __init__(self, settings: Settings, *, session: boto3.session.Session | None = None) -> None:
        self.settings = settings
        self.session = session or boto3.session.Session(region_name=settings.aws_region)
        self._delivery: dict[str, Any] = {}

    def client(self, service: str, **config: Any) -> Any:
        return _built(service, lambda: self.session.client(
            service,
            endpoint_url=self.settings.aws_endpoint_url,
            config=Config(**{"retries": _RETRIES, "connect_timeout": 5, "read_timeout": 30, **config}),
        ))

    def delivery(self, service: str) -> Any:
        """A client for deliveries (events to EventBridge or SNS, prefix deletions to SQS): its
        connect and read timeouts within the delivery deadline, and one retry at most, so a
        slow endpoint costs a delivery that deadline, not botocore's six tries of 30 s each."""
        if service not in self._delivery:
            deadline = self.settings.delivery_timeout_s
            self._delivery[service] = self.client(service, connect_timeout=min(5.0, deadline), read_timeout=deadline,
                                                  retries={"mode": "standard", "total_max_attempts": 2})
        return self._delivery[service]

    @cached_property
    def batch(self) -> Any:
        return self.client("batch")

    @cached_property
    def sqs(self) -> Any:
        return self.client("sqs")

    @cached_property
    def iam(self) -> Any:
        return self.client("iam")

    @cached_property
    def ssm(self) -> Any:
        return self.client("ssm")

    @cached_property
    def sts(self) -> Any:
        return self.client("sts")

    @cached_property
    def lambda_(self) -> Any:
        return self.client("lambda")

    @cached_property
    def logs(self) -> Any:
        return self.client("logs")

    @cached_property
    def r2(self) -> Any:
        """R2's S3 API (its own endpoint and keys, not AWS's): infra reads and sets the bucket's CORS rules."""
        return r2_client(self.settings)

    @cached_property
    def events(self) -> Any:
        return self.client("events")

    @cached_property
    def sns(self) -> Any:
        return self.client("sns")


def r2_client(settings: Settings) -> Any:
    """An S3 client shaped for Cloudflare R2.

    R2 wants path-style addressing and region ``auto``, and rejects the
    CRC checksums newer botocore sends by default, so checksums are only
    computed where the API requires them.
    """
    return _built("R2 (s3)", lambda: boto3.session.Session().client(
        "s3",
        endpoint_url=settings.r2_endpoint_url,
        aws_access_key_id=settings.r2_access_key_id,
        aws_secret_access_key=settings.r2_secret_access_key,
        region_name="auto",
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries=_RETRIES,
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=32,
        ),
    ))


def _built(service: str, build: Callable[[], Any]) -> Any:
    """A client, or a ConfigError: botocore checks endpoints and regions only now, and
    reads some from places Settings does not see (the AWS config file's endpoint_url)."""
    try:
        return build()
    except ValueError as exc:  # botocore's "Invalid endpoint: …", InvalidRegionError
        raise ConfigError(
            f"cannot build the {service} client: {exc}",
            hint="check VIDEOCTL_AWS_ENDPOINT_URL, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>, R2_ENDPOINT_URL, "
                 "AWS_REGION and the endpoint_url of your AWS config file",
        ) from exc
