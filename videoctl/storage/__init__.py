"""The object store: R2/S3 and a local directory behind one small interface."""

from videoctl.storage.base import ObjectInfo, ObjectStore, validate_key, validate_prefix
from videoctl.storage.factory import open_store

__all__ = ["ObjectInfo", "ObjectStore", "open_store", "validate_key", "validate_prefix"]
