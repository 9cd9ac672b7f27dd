"""Deprecated module path: import from ``s3_validated_pipeline`` (or ``s3_validated_pipeline.validate``)."""

from __future__ import annotations

import warnings

from .validate import PackageCheckOptions, ValidationOptions, ValidationProject

warnings.warn(
    "s3_validated_pipeline.validation_project is deprecated: import PackageCheckOptions, ValidationOptions and "
    "ValidationProject from s3_validated_pipeline (or s3_validated_pipeline.validate).",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["PackageCheckOptions", "ValidationOptions", "ValidationProject"]
