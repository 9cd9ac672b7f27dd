"""The arguments of ``ValidatedS3Pipeline``, checked together before anything is built: every problem is reported
at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jsii
from aws_cdk import CfnResource, IAspect, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct, Node

from ._inputs import (
    CODEPIPELINE_NAME,
    bool_problems,
    looks_like,
    options_problems,
    positive_days_problems,
    stage_name_problems,
)
from ._logs import retention_problems
from ._warnings import NO_UPLOADER, OBJECT_KEY_NOT_ZIP, SUPERSEDED_EXECUTION_MODE
from .build_network import network_problems
from .errors import Problem, raise_if_any, unresolved, wrong_enum, wrong_type
from .foundation import PipelineFoundation
from .foundation.construct import environment_problems, pipeline_name_on
from .operations import OperationsOptions
from .operations.options import same_options
from .source import SourceBucketOptions
from .source.options import object_key_problems
from .source.trigger import TriggerMode, trigger_mode_problems
from .stages import DeployTarget, DeployWave, StageOptions, TestStageOptions
from .stages._deploy_list import deploy_problems
from .validate import ValidationOptions

DEFAULT_OPERATIONS = OperationsOptions()
"""The default ``operations`` of ``ValidatedS3Pipeline``: anything else is an error on a foundation."""


def warn_about_execution_mode(scope: Construct, execution_mode: codepipeline.ExecutionMode) -> None:
    if execution_mode == codepipeline.ExecutionMode.SUPERSEDED:
        SUPERSEDED_EXECUTION_MODE.add(
            scope,
            "execution_mode=SUPERSEDED lets a newer upload overtake one still being validated, which is then "
            "never validated. Use ExecutionMode.QUEUED (the default), or acknowledge this warning.",
        )


def warn_about_object_key(scope: Construct, object_key: str) -> None:
    if not unresolved(object_key) and not object_key.lower().endswith(".zip"):
        OBJECT_KEY_NOT_ZIP.add(
            scope,
            f"object_key {object_key!r} does not end in '.zip', yet the pipeline only accepts zip archives: an "
            "upload of anything else fails the package check. Name the key like the archive, e.g. 'source.zip', or "
            "acknowledge this warning.",
        )


@jsii.implements(IAspect)
class NoUploaderCheck:
    """At synthesis, after the app has made its grants: warn when nobody may upload to the bucket the pipeline made.

    A warning cannot be added by a validation (``node.add_validation`` only returns errors), so this is an aspect
    that acts on the pipeline's own construct only.
    """

    def __init__(self, pipeline: Construct, granted: Callable[[], bool]) -> None:
        self._path = pipeline.node.path
        self._granted = granted

    def visit(self, node: IConstruct) -> None:
        """Warn on the pipeline when no uploader was granted."""
        if node.node.path != self._path or self._granted():
            return
        NO_UPLOADER.add(
            node,
            "Nobody may upload to the source bucket: its policy denies uploads by anyone not granted, so only the "
            "account's root user can start this pipeline. Call pipeline.grant_upload(role) for the role your "
            "developers (or CI) use, or pass SourceBucketOptions(uploaders=[role]); or acknowledge this warning.",
        )


def checked_name(
    pipeline: Construct,
    *,
    foundation: object,
    validation: ValidationOptions,
    object_key: str,
    source_bucket: s3.IBucket | None,
    source_bucket_options: SourceBucketOptions | None,
    execution_mode: codepipeline.ExecutionMode,
    pipeline_name: str | None,
    log_retention_days: int,
    artifact_retention_days: int | None,
    trigger_mode: TriggerMode,
    trigger_reserved_concurrency: int | None,
    test: TestStageOptions | None,
    deploy: Sequence[DeployTarget | DeployWave],
    operations: OperationsOptions | None,
    outputs: bool,
    build_network: object,
) -> str | None:
    """Raise ``InputError`` naming every problem of ``ValidatedS3Pipeline``'s arguments, found before anything is
    built; return the pipeline's name (on a foundation, the one it gets there)."""
    stack = Stack.of(pipeline)
    name, on_foundation = foundation_problems(
        pipeline,
        foundation,
        pipeline_name=pipeline_name,
        source_bucket=source_bucket,
        source_bucket_options=source_bucket_options,
        artifact_retention_days=artifact_retention_days,
        operations=operations,
        trigger_mode=trigger_mode,
    )
    found = [
        *on_foundation,
        *options_problems("validation", validation, ValidationOptions, "ValidationOptions(commands=['npm ci'])"),
        *object_key_problems("object_key", object_key),
        *_source_problems(source_bucket, source_bucket_options),
        *_execution_mode_problems(execution_mode),
        *_pipeline_name_problems(name),
        *retention_problems("log_retention_days", log_retention_days),
        *positive_days_problems("artifact_retention_days", artifact_retention_days, optional=True),
        *trigger_mode_problems(
            "trigger_mode", trigger_mode, "trigger_reserved_concurrency", trigger_reserved_concurrency
        ),
        *options_problems("test", test, TestStageOptions, "TestStageOptions(commands=['npm test'])", optional=True),
        *options_problems("operations", operations, OperationsOptions, "OperationsOptions()", optional=True),
        *bool_problems("outputs", outputs),
        *network_problems("build_network", build_network),
        *deploy_problems(
            deploy,
            execution_mode,
            stack.region,
            stack.account,
            on_foundation=isinstance(foundation, PipelineFoundation),
            build_network=build_network,
        ),
    ]
    raise_if_any(found)
    return name


def build_stage_problems(stage_name: object, options: object, after: object, taken: Sequence[str]) -> list[Problem]:
    """What is wrong with the arguments of ``add_build_stage``, given the stages the pipeline has (``taken``)."""
    found = [
        *stage_name_problems("stage_name", stage_name, taken),
        *options_problems("options", options, StageOptions, "StageOptions(commands=['npm test'])"),
    ]
    if after is not None and after not in taken[1:]:
        found.append(Problem("after", after, f"Name a stage from Validate on: {', '.join(taken[1:])}; or pass None."))
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
    elif source_bucket is not None:
        found.extend(_bucket_settings_problems(source_bucket))
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
    if not CODEPIPELINE_NAME.fullmatch(pipeline_name):
        return [
            Problem(
                "pipeline_name",
                pipeline_name,
                "CodePipeline names have 1 to 100 letters, digits and '.', '@', '-', '_' (no spaces), e.g. "
                "'upload-validation'. Or leave it out to get a generated name.",
            )
        ]
    return []


def _bucket_settings_problems(bucket: object) -> list[Problem]:
    """What a bucket defined in this app lacks to be watched: versioning, and S3's events sent to EventBridge.

    Read from its ``s3.CfnBucket``; an imported bucket has none and cannot be checked, nor can a setting that is a
    token.
    """
    node = getattr(bucket, "node", None)
    cfn = getattr(node, "default_child", None)
    if node is None or not isinstance(cfn, s3.CfnBucket):
        return []
    missing: list[str] = []
    versioning = cfn.versioning_configuration
    if versioning is None or (
        isinstance(versioning, s3.CfnBucket.VersioningConfigurationProperty)
        and not unresolved(versioning.status)
        and versioning.status != "Enabled"
    ):
        missing.append("versioning (versioned=True), so that every upload is a version the pipeline can name")
    if not _sends_events_to_eventbridge(cfn, node):
        missing.append("S3's events sent to EventBridge (event_bridge_enabled=True), which start the pipeline")
    if not missing:
        return []
    return [
        Problem(
            "source_bucket",
            node.path,
            f"The bucket lacks {'; and '.join(missing)}. Set them on the s3.Bucket, or leave source_bucket out to let "
            "the pipeline create a bucket with both.",
        )
    ]


def _sends_events_to_eventbridge(cfn: s3.CfnBucket, node: Node) -> bool:
    """Whether the bucket's notification configuration turns EventBridge on (an unresolved one is taken as on).

    The L2 keeps its notifications (EventBridge among them, next to SQS, SNS and Lambda ones) in a custom resource,
    the ``Notifications`` child; its properties say which are on. A bucket configured on the L1 says it there.
    """
    custom = node.try_find_child("Notifications")
    resource = custom.node.try_find_child("Resource") if custom is not None else None
    if isinstance(resource, CfnResource):
        # The custom resource's properties, as they will be synthesized (a protected member, for escape hatches).
        configuration = Stack.of(resource).resolve(resource._cfn_properties).get("NotificationConfiguration", {})
        return unresolved(configuration) or "EventBridgeConfiguration" in configuration
    notifications = cfn.notification_configuration
    if not isinstance(notifications, s3.CfnBucket.NotificationConfigurationProperty):
        return notifications is not None  # a token: known at deploy time only
    event_bridge = notifications.event_bridge_configuration
    if isinstance(event_bridge, s3.CfnBucket.EventBridgeConfigurationProperty):
        return event_bridge.event_bridge_enabled is not False
    return event_bridge is not None


def foundation_problems(
    pipeline: Construct,
    foundation: object,
    *,
    pipeline_name: str | None,
    source_bucket: object,
    source_bucket_options: object,
    artifact_retention_days: object,
    operations: object,
    trigger_mode: object,
) -> tuple[str | None, list[Problem]]:
    """The pipeline's name on ``foundation`` (``pipeline_name`` without one), and what cannot go with it: what the
    foundation decides for its pipelines, passed again."""
    if foundation is None:
        return pipeline_name, []
    if not isinstance(foundation, PipelineFoundation):
        return pipeline_name, [
            wrong_type("foundation", foundation, "a PipelineFoundation or None", "PipelineFoundation(...)")
        ]
    decided = [
        ("source_bucket", source_bucket, source_bucket is not None, "it watches its object_key in the foundation's"),
        (
            "source_bucket_options",
            source_bucket_options,
            source_bucket_options is not None,
            "the source bucket is the foundation's; grant uploaders with grant_upload",
        ),
        (
            "artifact_retention_days",
            artifact_retention_days,
            artifact_retention_days is not None,
            f"artifacts are kept as long as the foundation says ({foundation.artifact_retention_days} days)",
        ),
        (
            "operations",
            operations,
            not same_options(operations, DEFAULT_OPERATIONS),
            "each pipeline gets the alarms of the foundation's operations",
        ),
    ]
    found = [
        Problem(name, value, f"Leave it out with a foundation: {reason}.")
        for name, value, given, reason in decided
        if given
    ]
    if trigger_mode is not TriggerMode.DIRECT:
        found.append(
            Problem(
                "trigger_mode",
                trigger_mode,
                "On a foundation the rule starts the pipeline itself (TriggerMode.DIRECT): the shared dead-letter "
                "queue admits rules, not functions.",
            )
        )
    name, name_problems = pipeline_name_on(foundation, pipeline.node.id, pipeline_name)
    return name, [*found, *name_problems, *environment_problems(foundation, pipeline)]
