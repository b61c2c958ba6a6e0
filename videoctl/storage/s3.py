"""Cloudflare R2 (or any S3 API) as the object store."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from videoctl.domain.errors import InvalidInput, NotFound, StorageError
from videoctl.domain.prefixes import batched
from videoctl.storage.base import ObjectInfo, validate_key

# Multipart above 16 MiB, bounded memory per transfer whatever the file size.
_TRANSFER = TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=16 << 20, max_concurrency=4)


def _error(action: str, key: str, exc: Exception) -> StorageError:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        transient = status >= 500 or err.get("Code") in ("SlowDown", "RequestTimeout", "InternalError")
        return StorageError(f"{action} {key!r} failed: {err.get('Code')}: {err.get('Message')}", transient=transient)
    # botocore's own errors here are connection trouble that outlasted its retries.
    return StorageError(f"{action} {key!r} failed: {exc}", transient=True)


def _is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class S3Store:
    def __init__(self, client: Any, bucket: str, *, scheme: str = "r2") -> None:
        self.client = client
        self.bucket = bucket
        self.location = f"{scheme}://{bucket}"

    def upload_file(self, path: Path, key: str, *, content_type: str | None = None) -> None:
        # By name, so boto3 reads the parts of a large file in parallel.
        self._upload(lambda extra: self.client.upload_file(
            str(path), self.bucket, validate_key(key), ExtraArgs=extra, Config=_TRANSFER), key, content_type)

    def upload_fileobj(self, source: BinaryIO, key: str, *, content_type: str | None = None) -> None:
        self._upload(lambda extra: self.client.upload_fileobj(
            source, self.bucket, validate_key(key), ExtraArgs=extra, Config=_TRANSFER), key, content_type)

    def _upload(self, call: Callable[[dict[str, str] | None], None], key: str, content_type: str | None) -> None:
        """*call* with the extra arguments; a failed multipart upload is aborted by boto3, leaving no part."""
        try:
            call({"ContentType": content_type} if content_type else None)
        except S3UploadFailedError as exc:
            # boto3 wraps the ClientError; classify by the original.
            cause = exc.__cause__ or exc.__context__
            raise _error("upload", key, cause if isinstance(cause, ClientError) else exc) from exc
        except (BotoCoreError, ClientError) as exc:
            raise _error("upload", key, exc) from exc

    def download_file(self, key: str, path: Path) -> None:
        with self._reading("download", key):
            self.client.download_file(self.bucket, validate_key(key), str(path), Config=_TRANSFER)

    @contextmanager
    def _reading(self, action: str, key: str) -> Iterator[None]:
        """A read of *key*: NotFound if it does not exist, else StorageError for what failed."""
        try:
            yield
        except ClientError as exc:
            if _is_missing(exc):
                raise NotFound(f"object {key!r} not found in {self.location}") from exc
            raise _error(action, key, exc) from exc
        except BotoCoreError as exc:
            raise _error(action, key, exc) from exc

    def list_prefix(self, prefix: str) -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=validate_key(prefix)):
                for obj in page.get("Contents", []):
                    yield ObjectInfo(obj["Key"], obj["Size"], obj.get("LastModified"))
        except (BotoCoreError, ClientError) as exc:
            raise _error("list", prefix, exc) from exc

    def delete_keys(self, keys: Iterable[str]) -> int:
        deleted = 0
        for batch in batched(validate_key(k) for k in keys):
            try:
                response = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            except (BotoCoreError, ClientError) as exc:
                raise _error("delete", batch[0], exc) from exc
            # Absent keys are not errors in S3; anything reported here is real.
            errors = [e for e in response.get("Errors", []) if e.get("Code") != "NoSuchKey"]
            if errors:
                first = errors[0]
                raise StorageError(
                    f"delete failed for {len(errors)} of {len(batch)} keys, e.g. "
                    f"{first.get('Key')!r}: {first.get('Code')}: {first.get('Message')}"
                )
            deleted += len(batch)
        return deleted

    def size(self, key: str) -> int | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=validate_key(key))["ContentLength"]
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise _error("head", key, exc) from exc
        except BotoCoreError as exc:
            raise _error("head", key, exc) from exc

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def url_for(self, key: str) -> str:
        return f"{self.location}/{key}"

    # ------------------------------------------------------------ direct uploads (PresignedUploads)

    def presign_put(self, key: str, *, content_type: str, expires_s: int) -> str:
        # Signing is local (no request): only a malformed parameter can fail it.
        return self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": validate_key(key), "ContentType": content_type},
            ExpiresIn=expires_s)

    def start_multipart(self, key: str, *, content_type: str) -> str:
        try:
            response = self.client.create_multipart_upload(Bucket=self.bucket, Key=validate_key(key),
                                                           ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            raise _error("start the multipart upload of", key, exc) from exc
        return response["UploadId"]

    def presign_part(self, key: str, upload_id: str, number: int, *, expires_s: int) -> str:
        return self.client.generate_presigned_url(
            "upload_part", Params={"Bucket": self.bucket, "Key": validate_key(key), "UploadId": upload_id,
                                   "PartNumber": number}, ExpiresIn=expires_s)

    def complete_multipart(self, key: str, upload_id: str, etags: Sequence[str] | None) -> None:
        try:
            if etags is None:
                parts = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in self._parts(key, upload_id)]
            else:
                parts = [{"PartNumber": number, "ETag": etag} for number, etag in enumerate(etags, start=1)]
            if not parts:
                raise InvalidInput(f"the multipart upload of {key!r} has no parts yet",
                                   hint="PUT every part to its URL first")
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                  MultipartUpload={"Parts": parts})
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "NoSuchUpload":
                raise NotFound(f"the multipart upload of {key!r} no longer exists (completed or aborted)") from exc
            if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML"):
                raise InvalidInput(f"the parts of {key!r} do not make an upload: {code}: "
                                   f"{exc.response.get('Error', {}).get('Message')}",
                                   hint="give every part's ETag, in part order, each part but the last at "
                                        "least 5 MiB") from exc
            raise _error("complete the multipart upload of", key, exc) from exc
        except BotoCoreError as exc:
            raise _error("complete the multipart upload of", key, exc) from exc

    def _parts(self, key: str, upload_id: str) -> Iterator[dict]:
        paginator = self.client.get_paginator("list_parts")
        for page in paginator.paginate(Bucket=self.bucket, Key=key, UploadId=upload_id):
            yield from page.get("Parts", [])

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=validate_key(key), UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                return
            raise _error("abort the multipart upload of", key, exc) from exc
        except BotoCoreError as exc:
            raise _error("abort the multipart upload of", key, exc) from exc

    # ------------------------------------------------------------ reading for a browser (videoctl serve)

    def open_read(self, key: str) -> BinaryIO:
        """The object's body as a stream (the caller closes it); NotFound if it does not exist."""
        with self._reading("read", key):
            return self.client.get_object(Bucket=self.bucket, Key=validate_key(key))["Body"]

    def presign_get(self, key: str, *, expires_s: int, download_name: str | None = None) -> str | None:
        """A URL that lets whoever holds it GET *key* for *expires_s* seconds, signed here with no
        request to the store; *download_name* makes a browser save it under that name."""
        params = {"Bucket": self.bucket, "Key": validate_key(key)}
        if download_name:
            params["ResponseContentDisposition"] = f'attachment; filename="{download_name}"'
        try:
            return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)
        except BotoCoreError as exc:
            raise _error("presign", key, exc) from exc
