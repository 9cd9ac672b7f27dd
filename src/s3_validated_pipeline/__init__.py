"""A secure AWS CodePipeline that validates every zip uploaded to S3.

``ValidatedS3Pipeline`` is the one statement most users need; its parts are exported for use on their own.
Names are imported on first use, so ``python -m s3_validated_pipeline.check`` (the package checker, standard
library only) starts without loading aws-cdk-lib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build_environment import BuildEnvironment
    from .errors import InputError, Problem
    from .foundation import MemberOperations, PipelineFoundation
    from .operations import (
        AlarmOptions,
        AuditOptions,
        DashboardOptions,
        MonitoredPipeline,
        NotificationOptions,
        OperationsOptions,
        PipelineOperations,
    )
    from .pipeline import ValidatedS3Pipeline
    from .source import SourceBucket, SourceBucketOptions, TriggerMode, UploadTrigger
    from .stages import (
        ApprovalOptions,
        CloudFormationDeployment,
        DeployStage,
        DeployTarget,
        StageOptions,
        StageResources,
        TestStageOptions,
        VerifiedProject,
    )
    from .validate import PackageCheckOptions, ValidationOptions, ValidationProject

_MODULES = {
    "AlarmOptions": "operations",
    "AuditOptions": "operations",
    "DashboardOptions": "operations",
    "MonitoredPipeline": "operations",
    "NotificationOptions": "operations",
    "OperationsOptions": "operations",
    "PipelineOperations": "operations",
    "PipelineFoundation": "foundation",
    "MemberOperations": "foundation",
    "ApprovalOptions": "stages",
    "CloudFormationDeployment": "stages",
    "DeployStage": "stages",
    "DeployTarget": "stages",
    "TestStageOptions": "stages",
    "TriggerMode": "source.trigger",
    "BuildEnvironment": "build_environment",
    "InputError": "errors",
    "PackageCheckOptions": "validate",
    "Problem": "errors",
    "SourceBucket": "source.bucket",
    "SourceBucketOptions": "source.bucket",
    "StageOptions": "stages",
    "StageResources": "stages",
    "UploadTrigger": "source.trigger",
    "ValidatedS3Pipeline": "pipeline",
    "ValidationOptions": "validate",
    "ValidationProject": "validate",
    "VerifiedProject": "stages",
}

__all__ = [
    "AlarmOptions",
    "ApprovalOptions",
    "AuditOptions",
    "BuildEnvironment",
    "CloudFormationDeployment",
    "DashboardOptions",
    "DeployStage",
    "DeployTarget",
    "InputError",
    "MemberOperations",
    "MonitoredPipeline",
    "NotificationOptions",
    "OperationsOptions",
    "PackageCheckOptions",
    "PipelineFoundation",
    "PipelineOperations",
    "Problem",
    "SourceBucket",
    "SourceBucketOptions",
    "StageOptions",
    "StageResources",
    "TestStageOptions",
    "TriggerMode",
    "UploadTrigger",
    "ValidatedS3Pipeline",
    "ValidationOptions",
    "ValidationProject",
    "VerifiedProject",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_MODULES[name]}", __name__), name)


def __dir__() -> list[str]:
    return __all__


def _installed_version() -> str:
    """The version pyproject.toml gave the installed distribution (single-sourced in .projenrc.py)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("s3-validated-pipeline")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


__version__: str = _installed_version()
"""The installed version of s3-validated-pipeline, read from its metadata (aws-cdk-lib is not imported)."""
