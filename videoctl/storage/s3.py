"""Cloudflare R2 (or any S3 API) as the object store."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO

from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError

from videoctl.domain.errors import InvalidInput, NotFound, SourceChanged, StorageError
from videoctl.domain.prefixes import batched
from videoctl.domain.uploads import Part
from videoctl.storage.base import ObjectInfo, validate_key

# Multipart above 16 MiB, bounded memory per transfer whatever the file size.
_TRANSFER = TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=16 << 20, max_concurrency=4)
#: A download held to an ETag: ranges of this size, this many at once (as _TRANSFER), each
#: range tried again this often when its body breaks off (as boto3's own downloads do).
_RANGE = 16 << 20
_RANGE_WORKERS = 4
_RANGE_TRIES = 3
_CHUNK = 1 << 20


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


def _is_other_object(exc: ClientError) -> bool:
    """412: the If-Match of the request did not hold, the object is another one now."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return exc.response.get("Error", {}).get("Code") == "PreconditionFailed" or status == 412


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

    def download_file(self, key: str, path: Path, *, if_match: str | None = None) -> None:
        if if_match is None:
            with self._reading("download", key):
                self.client.download_file(self.bucket, validate_key(key), str(path), Config=_TRANSFER)
            return
        try:
            with self._reading("download", key):
                self._download_matching(validate_key(key), path, if_match)
        except BaseException:
            with suppress(OSError):
                path.unlink()  # never leave part of an object, or of another one
            raise

    def _download_matching(self, key: str, path: Path, etag: str) -> None:
        """The object whose ETag is *etag*, in ranges fetched in parallel, every GET with
        If-Match: an object replaced before the download or between two of its ranges
        answers 412, so the bytes written are all that object's or there is an error.
        (boto3's download_file cannot be held to a given ETag: it takes its own from a HEAD.)"""
        with open(path, "wb") as out:
            try:
                first = self._get(key, etag, Range=f"bytes=0-{_RANGE - 1}")
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "InvalidRange":
                    raise
                first = self._get(key, etag)  # an empty object has no byte 0 to ask for
            total = int(first["ContentRange"].rsplit("/", 1)[1]) if first.get("ContentRange") else 0
            os.ftruncate(out.fileno(), total)
            _write_body(first["Body"], out.fileno(), 0)
            pool = ThreadPoolExecutor(max_workers=_RANGE_WORKERS, thread_name_prefix="download")
            try:
                futures = [pool.submit(self._fetch_range, key, etag, start, min(start + _RANGE, total) - 1,
                                       out.fileno()) for start in range(_RANGE, total, _RANGE)]
                for future in futures:
                    future.result()  # the first failure fails the download
            finally:
                pool.shutdown(cancel_futures=True)  # and no range after it is fetched

    def _fetch_range(self, key: str, etag: str, start: int, end: int, fd: int) -> None:
        for attempt in range(1, _RANGE_TRIES + 1):
            try:
                _write_body(self._get(key, etag, Range=f"bytes={start}-{end}")["Body"], fd, start)
                return
            except (HTTPClientError, IncompleteReadError):  # the body broke off: this range again
                if attempt == _RANGE_TRIES:
                    raise

    def _get(self, key: str, etag: str, **extra: str) -> dict:
        """GetObject with If-Match *etag*; SourceChanged when the object is another one."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key, IfMatch=etag, **extra)
        except ClientError as exc:
            if _is_other_object(exc):
                raise SourceChanged(f"object {key!r} in {self.location} is no longer the one recorded "
                                    f"(ETag {etag}): it was replaced") from exc
            raise

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
        found = self.head(key)
        return found.size if found is not None else None

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=validate_key(key))
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise _error("head", key, exc) from exc
        except BotoCoreError as exc:
            raise _error("head", key, exc) from exc
        return ObjectInfo(key, response["ContentLength"], response.get("LastModified"), response.get("ETag"))

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

    def list_parts(self, key: str, upload_id: str) -> list[Part]:
        try:
            paginator = self.client.get_paginator("list_parts")
            return [Part(p["PartNumber"], p["ETag"], p["Size"])
                    for page in paginator.paginate(Bucket=self.bucket, Key=validate_key(key), UploadId=upload_id)
                    for p in page.get("Parts", [])]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                raise NotFound(f"the multipart upload of {key!r} no longer exists (completed or aborted)") from exc
            raise _error("list the parts of", key, exc) from exc
        except BotoCoreError as exc:
            raise _error("list the parts of", key, exc) from exc

    def complete_multipart(self, key: str, upload_id: str, parts: Sequence[Part]) -> None:
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=validate_key(key), UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]})
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


def _write_body(body: Any, fd: int, offset: int) -> None:
    """A response body written at *offset* of the file *fd*, a MiB at a time."""
    with body:
        for chunk in iter(lambda: body.read(_CHUNK), b""):
            view = memoryview(chunk)
            while view:
                written = os.pwrite(fd, view, offset)
                view, offset = view[written:], offset + written
