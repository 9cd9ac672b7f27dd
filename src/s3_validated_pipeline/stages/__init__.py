"""The stages after validation: tests, manual approvals, deployments, and stages of your own.

Every stage verifies the validated artifact's manifest before it runs anything. Each module owns one kind of
stage: its options and how it is added to the pipeline.
"""

from __future__ import annotations

from .._build_project import StageResources
from .approval import ApprovalOptions
from .build import StageOptions, VerifiedProject, VerifyOnlyProject
from .deploy import MAX_ALARMS, CloudFormationDeployment, DeployStage, DeployTarget
from .test import REPORT_FORMATS, TestStageOptions

__all__ = [
    "MAX_ALARMS",
    "REPORT_FORMATS",
    "ApprovalOptions",
    "CloudFormationDeployment",
    "DeployStage",
    "DeployTarget",
    "StageOptions",
    "StageResources",
    "TestStageOptions",
    "VerifiedProject",
    "VerifyOnlyProject",
]
