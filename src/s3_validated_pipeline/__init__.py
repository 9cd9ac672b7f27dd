"""A secure AWS CodePipeline that validates every zip uploaded to S3.

``ValidatedS3Pipeline`` is the one statement most users need; ``PipelineFoundation`` lets many pipelines share keys,
buckets and operations. The other names here are the options they take. What a pipeline gives back (its stages'
resources, its trigger, its operations) is documented in the sub-package that defines it: ``source``, ``stages``,
``operations`` and ``foundation``.

Names are imported on first use, so ``python -m s3_validated_pipeline.check`` (the package checker, standard
library only) starts without loading aws-cdk-lib.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; tests/project/test_api_docs.py keeps it equal to _MODULES
    from .build_environment import BuildEnvironment as BuildEnvironment
    from .build_network import BuildNetwork as BuildNetwork
    from .errors import InputError as InputError
    from .errors import Problem as Problem
    from .foundation import PipelineFoundation as PipelineFoundation
    from .operations import AlarmOptions as AlarmOptions
    from .operations import AuditOptions as AuditOptions
    from .operations import DashboardOptions as DashboardOptions
    from .operations import NotificationOptions as NotificationOptions
    from .operations import OperationsOptions as OperationsOptions
    from .pipeline import ValidatedS3Pipeline as ValidatedS3Pipeline
    from .source import SourceBucketOptions as SourceBucketOptions
    from .source import TriggerMode as TriggerMode
    from .stages import ApprovalOptions as ApprovalOptions
    from .stages import CloudFormationDeployment as CloudFormationDeployment
    from .stages import DeployTarget as DeployTarget
    from .stages import DeployWave as DeployWave
    from .stages import StageOptions as StageOptions
    from .stages import TestStageOptions as TestStageOptions
    from .validate import PackageCheckOptions as PackageCheckOptions
    from .validate import ValidationOptions as ValidationOptions

_MODULES = {
    "ValidatedS3Pipeline": "pipeline",
    "PipelineFoundation": "foundation",
    "ValidationOptions": "validate",
    "PackageCheckOptions": "validate",
    "BuildEnvironment": "build_environment",
    "BuildNetwork": "build_network",
    "SourceBucketOptions": "source",
    "TriggerMode": "source",
    "TestStageOptions": "stages",
    "StageOptions": "stages",
    "DeployTarget": "stages",
    "DeployWave": "stages",
    "CloudFormationDeployment": "stages",
    "ApprovalOptions": "stages",
    "OperationsOptions": "operations",
    "NotificationOptions": "operations",
    "AlarmOptions": "operations",
    "DashboardOptions": "operations",
    "AuditOptions": "operations",
    "InputError": "errors",
    "Problem": "errors",
}
"""Every public name and the module it lives in: ``__all__``, the lazy import and the API reference read it."""

__all__ = sorted(_MODULES)


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
