"""Choose the store from settings: R2 when a bucket is configured, else local."""

from __future__ import annotations

from videoctl.settings import Settings
from videoctl.storage.base import ObjectStore


def open_store(settings: Settings) -> ObjectStore:
    if settings.uses_r2:
        from videoctl.aws.clients import r2_client
        from videoctl.storage.s3 import S3Store

        return S3Store(r2_client(settings), settings.r2_bucket or "")
    from videoctl.storage.local import LocalStore

    settings.storage_dir.mkdir(parents=True, exist_ok=True)
    return LocalStore(settings.storage_dir)
