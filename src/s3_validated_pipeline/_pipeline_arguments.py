"""The arguments of ``ValidatedS3Pipeline``, checked together before anything is built: every problem is reported
at once."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_s3 as s3
from constructs import Construct

from ._inputs import looks_like, options_problems, positive_days_problems
from ._logs import retention_problems
from ._warnings import SUPERSEDED_EXECUTION_MODE
from .errors import Problem, unresolved, wrong_enum, wrong_type
from .operations import OperationsOptions
from .source import SourceBucketOptions
from .source.bucket import object_key_problems
from .source.trigger import TriggerMode, trigger_mode_problems
from .stages import DeployTarget, TestStageOptions
from .stages.deploy import deploy_targets_problems
from .validate import ValidationOptions


def warn_about_execution_mode(scope: Construct, execution_mode: codepipeline.ExecutionMode) -> None:
    if execution_mode == codepipeline.ExecutionMode.SUPERSEDED:
        SUPERSEDED_EXECUTION_MODE.add(
            scope,
            "execution_mode=SUPERSEDED lets a newer upload overtake one still being validated, which is then "
            "never validated. Use ExecutionMode.QUEUED (the default), or acknowledge this warning.",
        )


def input_problems(
    *,
    validation: ValidationOptions,
    object_key: str,
    source_bucket: s3.IBucket | None,
    source_bucket_options: SourceBucketOptions | None,
    execution_mode: codepipeline.ExecutionMode,
    pipeline_name: str | None,
    log_retention_days: int,
    artifact_retention_days: int,
    trigger_mode: TriggerMode,
    trigger_reserved_concurrency: int | None,
    test: TestStageOptions | None,
    deploy: Sequence[DeployTarget],
    operations: OperationsOptions | None,
    pipeline_region: str,
) -> list[Problem]:
    """Every problem with the arguments of ``ValidatedS3Pipeline``, found before anything is built."""
    found = [
        *options_problems("validation", validation, ValidationOptions, "ValidationOptions(commands=['npm ci'])"),
        *object_key_problems("object_key", object_key),
        *_source_problems(source_bucket, source_bucket_options),
        *_execution_mode_problems(execution_mode),
        *_pipeline_name_problems(pipeline_name),
        *retention_problems("log_retention_days", log_retention_days),
        *positive_days_problems("artifact_retention_days", artifact_retention_days),
        *trigger_mode_problems(
            "trigger_mode", trigger_mode, "trigger_reserved_concurrency", trigger_reserved_concurrency
        ),
        *options_problems("test", test, TestStageOptions, "TestStageOptions(commands=['npm test'])", optional=True),
        *options_problems("operations", operations, OperationsOptions, "OperationsOptions()", optional=True),
    ]
    found.extend(deploy_targets_problems(deploy, execution_mode, pipeline_region))
    return found


def _execution_mode_problems(mode: object) -> list[Problem]:
    if isinstance(mode, codepipeline.ExecutionMode):
        return []
    return [wrong_enum("execution_mode", mode, codepipeline.ExecutionMode, codepipeline.ExecutionMode.QUEUED)]


def _source_problems(source_bucket: object, source_bucket_options: object) -> list[Problem]:
    # An IBucket is a jsii interface, which isinstance cannot check: look for what the pipeline uses of it.
    found = []
    if source_bucket is not None and not looks_like(source_bucket, "node", "bucket_name", "arn_for_objects"):
        name = source_bucket if isinstance(source_bucket, str) else "my-uploads"
        example = f"s3.Bucket.from_bucket_name(self, 'Uploads', {name!r})"
        found.append(wrong_type("source_bucket", source_bucket, "an s3.IBucket or None", example))
    if source_bucket is not None and source_bucket_options is not None:
        found.append(
            Problem(
                "source_bucket_options",
                source_bucket_options,
                "Settings for a created bucket cannot apply to the existing source_bucket: pass one or the other.",
            )
        )
    example = "SourceBucketOptions(bucket_name='my-uploads')"
    found.extend(
        options_problems("source_bucket_options", source_bucket_options, SourceBucketOptions, example, optional=True)
    )
    return found


def _pipeline_name_problems(pipeline_name: object) -> list[Problem]:
    if pipeline_name is None or unresolved(pipeline_name):
        return []
    if not isinstance(pipeline_name, str):
        return [wrong_type("pipeline_name", pipeline_name, "a str or None", "'upload-validation'")]
    if not re.fullmatch(r"[A-Za-z0-9.@_-]{1,100}", pipeline_name):
        return [
            Problem(
                "pipeline_name",
                pipeline_name,
                "CodePipeline names have 1 to 100 letters, digits and '.', '@', '-', '_' (no spaces), e.g. "
                "'upload-validation'. Or leave it out to get a generated name.",
            )
        ]
    return []
