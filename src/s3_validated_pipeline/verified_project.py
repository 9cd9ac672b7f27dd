"""Deprecated module path: import from ``s3_validated_pipeline`` (or ``s3_validated_pipeline.stages``)."""

from __future__ import annotations

import warnings

from .stages import StageOptions, VerifiedProject

warnings.warn(
    "s3_validated_pipeline.verified_project is deprecated: import StageOptions and VerifiedProject from "
    "s3_validated_pipeline (or s3_validated_pipeline.stages).",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["StageOptions", "VerifiedProject"]
