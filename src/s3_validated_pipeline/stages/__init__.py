"""The stages after validation: tests, manual approvals, deployments, and stages of your own.

Every stage verifies the validated artifact's manifest before it runs anything. Each module owns one kind of
stage: its options and how it is added to the pipeline.
"""

from __future__ import annotations

from .._build_project import StageResources
from .approval import ApprovalOptions
from .build import StageOptions
from .deploy import CloudFormationDeployment, DeployStage, DeployTarget
from .test import TestStageOptions
from .wave import DeployWave

__all__ = [
    "ApprovalOptions",
    "CloudFormationDeployment",
    "DeployStage",
    "DeployTarget",
    "DeployWave",
    "StageOptions",
    "StageResources",
    "TestStageOptions",
]
