"""Upload a package to the watched key, encrypted with the source bucket's KMS key and with a SHA-256 checksum."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._aws import GRANT_REMEDY, aws_errors

__all__ = ["MULTIPART_CHUNK", "MULTIPART_THRESHOLD", "Upload", "upload_package"]

MULTIPART_THRESHOLD = 256 * 1024 * 1024
"""Packages up to this size go up in one PUT, for which S3 stores the SHA-256 of the whole object: the validate
stage compares it with the bytes it downloads. Larger ones go up in parts (in parallel, each part retried on its
own); S3 then stores a checksum of the parts' checksums, which the validate stage notes it cannot compare."""
MULTIPART_CHUNK = 64 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """The object version an upload created."""

    bucket: str
    key: str
    version_id: str | None
    """None only when the bucket is not versioned (a bucket the construct made always is)."""
    checksum_sha256: str | None
    """S3's ``ChecksumSHA256`` (base64); for a multipart upload, a checksum of the parts' checksums ending ``-N``."""
    etag: str | None
    size: int


def upload_package(
    session: Any,
    path: Path,
    *,
    bucket: str,
    key: str,
    kms_key: str,
    progress: Callable[[int], None] | None = None,
) -> Upload:
    """Upload ``path`` to ``s3://bucket/key`` with SSE-KMS under ``kms_key`` and ``ChecksumAlgorithm=SHA256``.

    ``progress`` is called with the number of bytes sent since its last call, from the transfer's threads.
    Raises ``AwsError`` for what the user can fix (credentials, access denied, no such bucket).
    """
    transfer = importlib.import_module("boto3.s3.transfer")  # by name: mypy knows boto3 alone as untyped

    config = transfer.TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK)
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key, "ChecksumAlgorithm": "SHA256"}
    responses: list[dict[str, Any]] = []

    def remember(parsed: dict[str, Any], **_: Any) -> None:
        responses.append(parsed)

    action = "s3:PutObject on the key and kms:GenerateDataKey on the source bucket's KMS key"
    with aws_errors(action=action, resource=f"s3://{bucket}/{key}", remedy=GRANT_REMEDY):
        client = session.client("s3")
        # upload_file returns nothing; the version id is in the response of the call that completes the object.
        for event in ("after-call.s3.PutObject", "after-call.s3.CompleteMultipartUpload"):
            client.meta.events.register(event, remember)
        client.upload_file(str(path), bucket, key, ExtraArgs=extra, Callback=progress, Config=config)
    final = responses[-1] if responses else {}
    return Upload(
        bucket=bucket,
        key=key,
        version_id=final.get("VersionId"),
        checksum_sha256=final.get("ChecksumSHA256"),
        etag=final.get("ETag"),
        size=path.stat().st_size,
    )
