"""Read the R2 bucket's CORS rules through R2's S3 API (GetBucketCors); setting them is apply's call."""

from __future__ import annotations

from typing import Any

from videoctl.aws.errors import error_code
from videoctl.aws.infra_call import call
from videoctl.domain.errors import AwsError

#: R2's and S3's answer for a bucket that has no CORS rules at all.
NO_RULES = "NoSuchCORSConfiguration"
#: Our own mark (see videoctl.infra.planner.BUCKET_MISSING): the bucket itself is not there.
BUCKET_MISSING = "BucketMissing"


def read_bucket_cors(s3: Any, bucket: str) -> dict[str, Any] | None:
    """The bucket's rules; None when it has none; ``{BucketMissing: True}`` when there is no such bucket."""
    try:
        response = call(s3, "get_bucket_cors", missing=(NO_RULES,), Bucket=bucket)
    except AwsError as exc:
        code = error_code(exc.__cause__) if exc.__cause__ is not None else None
        if code == "NoSuchBucket":
            return {"Bucket": bucket, BUCKET_MISSING: True}
        if code in ("AccessDenied", "Unauthorized"):
            exc.hint = ("the R2 API token (R2_ACCESS_KEY_ID) must have Admin Read & Write to read and set the "
                        "bucket's CORS rules; or unset VIDEOCTL_UPLOAD_ORIGINS to leave them alone")
        raise
    return None if response is None else {"Bucket": bucket, "CORSRules": response.get("CORSRules") or []}
