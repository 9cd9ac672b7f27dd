"""Deprecated: import from ``s3_validated_pipeline.source`` (or ``s3_validated_pipeline``) instead.

Kept so that code written against the old module path keeps working; the library itself never imports it.
"""

from __future__ import annotations

import warnings

from .source.bucket import object_key_problems
from .source.trigger import (
    UNRESERVED_CONCURRENCY_WARNING,
    UploadTrigger,
    latest_python_runtime,
    reserved_concurrency_problems,
)

__all__ = [
    "UNRESERVED_CONCURRENCY_WARNING",
    "UploadTrigger",
    "latest_python_runtime",
    "object_key_problems",
    "reserved_concurrency_problems",
]

warnings.warn(
    "s3_validated_pipeline.upload_trigger is deprecated: import UploadTrigger from s3_validated_pipeline.source "
    "(or s3_validated_pipeline) instead.",
    DeprecationWarning,
    stacklevel=2,
)
