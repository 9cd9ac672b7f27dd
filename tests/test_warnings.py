"""Weakened secure defaults are accepted but warned about, each with a stable id a user can acknowledge."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_s3 as s3

from s3_validated_pipeline import SourceBucketOptions, ValidatedS3Pipeline, ValidationOptions
from tests.conftest import VALID, synthesize


@pytest.fixture(scope="module")
def weakened() -> dict[str, list[str]]:
    """One synthesis holding a pipeline for each weakened default, and one acknowledging its warnings."""
    stack = cdk.Stack(cdk.App(), "Weakened")
    ValidatedS3Pipeline(stack, "Superseded", validation=VALID, execution_mode=codepipeline.ExecutionMode.SUPERSEDED)
    ValidatedS3Pipeline(
        stack, "Existing", validation=VALID, source_bucket=s3.Bucket.from_bucket_name(stack, "B", "uploads")
    )
    ValidatedS3Pipeline(
        stack,
        "NoLogs",
        validation=VALID,
        source_bucket_options=SourceBucketOptions(server_access_logs=False, removal_policy=cdk.RemovalPolicy.DESTROY),
    )
    acknowledged = ValidatedS3Pipeline(
        stack,
        "Acknowledged",
        validation=ValidationOptions(commands=["npm ci"]),
        execution_mode=codepipeline.ExecutionMode.SUPERSEDED,
    )
    for warning_id in (
        "s3-validated-pipeline:supersededExecutionMode",
        "s3-validated-pipeline:retiredBuildEnvironment",
        "s3-validated-pipeline:noUploader",
    ):
        cdk.Annotations.of(acknowledged).acknowledge_warning(warning_id, "kept on purpose in this test")
    by_path: dict[str, list[str]] = {}
    for path, message in synthesize(stack).warnings:
        by_path.setdefault(path.split("/")[2], []).append(message)
    return by_path


@pytest.mark.parametrize(
    ("pipeline", "warning_id", "advice"),
    [
        ("Superseded", "supersededExecutionMode", "Use ExecutionMode.QUEUED"),
        ("Existing", "existingSourceBucket", "make sure it is versioned"),
        ("NoLogs", "sourceAccessLogsDisabled", "server_access_logs=True"),
        ("NoLogs", "sourceBucketNotRetained", "Use RemovalPolicy.RETAIN"),
    ],
)
def test_weakened_default_warns_with_a_stable_id(
    weakened: dict[str, list[str]], pipeline: str, warning_id: str, advice: str
) -> None:
    [message] = [m for m in weakened[pipeline] if f"s3-validated-pipeline:{warning_id}" in m]
    assert advice in message


def test_secure_defaults_add_no_warning(weakened: dict[str, list[str]]) -> None:
    # Only the weakened settings above warn: a pipeline with a maintained environment warns about nothing else.
    assert all("retiredBuildEnvironment" not in m for p in ("Superseded", "Existing", "NoLogs") for m in weakened[p])


def test_acknowledged_warnings_are_not_reported(weakened: dict[str, list[str]]) -> None:
    assert "Acknowledged" not in weakened
