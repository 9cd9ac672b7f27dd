"""Deprecated: import from ``s3_validated_pipeline.source`` (or ``s3_validated_pipeline``) instead.

Kept so that code written against the old module path keeps working; the library itself never imports it.
"""

from __future__ import annotations

import warnings

from .source.bucket import (
    ACCESS_LOGS_DISABLED_WARNING,
    REMOVAL_POLICY_WARNING,
    SourceBucket,
    SourceBucketOptions,
    bucket_name_problems,
    grantee_problems,
    object_key_problems,
)

__all__ = [
    "ACCESS_LOGS_DISABLED_WARNING",
    "REMOVAL_POLICY_WARNING",
    "SourceBucket",
    "SourceBucketOptions",
    "bucket_name_problems",
    "grantee_problems",
    "object_key_problems",
]

warnings.warn(
    "s3_validated_pipeline.source_bucket is deprecated: import SourceBucket and SourceBucketOptions from "
    "s3_validated_pipeline.source (or s3_validated_pipeline) instead.",
    DeprecationWarning,
    stacklevel=2,
)
