"""What every stage after validation is built from: the pipeline's parts a stage needs, passed explicitly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import CfnResource
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct


@dataclass(frozen=True)
class StageContext:
    """The parts of a ``ValidatedS3Pipeline`` that the stages after validation are built from."""

    scope: Construct
    """Where the stages' constructs are defined (the pipeline construct: their ids are part of the contract)."""
    pipeline: codepipeline.Pipeline
    validated_artifact: codepipeline.Artifact
    artifact_bucket: s3.IBucket
    artifact_key: kms.IKey
    log_key: kms.IKey
    log_retention_days: int
    artifact_buckets: Sequence[CfnResource | str]
    """The artifact bucket's resource, for the acknowledgement of CDK's grants on its objects."""
    source_version: str
    """The uploaded object version an execution runs on, as a CodePipeline variable (``#{SourceVariables...}``)."""


def retry_failed_actions() -> codepipeline.FailureConditions:
    """On failure, retry the stage's failed actions once (CodePipeline's automatic retry)."""
    return codepipeline.FailureConditions(
        result=codepipeline.Result.RETRY, retry_mode=codepipeline.RetryMode.FAILED_ACTIONS
    )
