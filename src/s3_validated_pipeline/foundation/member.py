"""What a pipeline on a ``PipelineFoundation`` has of its own: the boundary that keeps it to its own artifacts, its
physically named projects, and its alarms and dashboard row."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import cast

from aws_cdk import CfnResource
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .._compliance import acknowledge, acknowledge_in_packs, nag_arn, skip_checkov
from ..errors import raise_if_any
from ..operations._arguments import project_problems
from ..operations.alarms import add_alarms, add_stage_alarms
from ..operations.dashboard import graph_stage_by_name
from ..source.bucket import OBJECT_ACTIONS, S3_CONTEXT
from .construct import ARTIFACT_FOLDER_LENGTH, PipelineFoundation, add_member

LIST_ACTIONS = ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"]
"""The listings of a bucket's keys: the boundary limits them, in the foundation's buckets, to the pipeline's own."""

_BOUNDARY_REASON = (
    "A permissions boundary grants nothing: it caps what the pipeline's roles' own policies allow. Its first statement "
    "leaves everything but the objects of the foundation's two buckets as the roles' policies say; the second confines "
    "object access there to this pipeline's artifact folder and source key; the denies keep listings to those "
    "prefixes and the source key's decryption to this pipeline's own object."
)


def bound_to_own_objects(
    scope: Construct,
    *,
    foundation: PipelineFoundation,
    artifact_bucket: s3.IBucket,
    artifact_objects: CfnResource | str,
    pipeline_name: str,
    object_key: str,
) -> iam.ManagedPolicy:
    """Give every role defined below ``scope`` a permissions boundary keeping its S3 object access, in the
    foundation's buckets, to the pipeline's artifact folder and its source key; its listings of those buckets to
    the same prefixes; and its use of the source key to decrypting its own source object (which the source bucket,
    without an S3 Bucket Key, names as the encryption context).

    CDK's own grants (the pipeline's and the CodeBuild actions') name the whole artifact bucket; the boundary cuts
    them down without replacing them, so they stay as CDK writes them. ``artifact_bucket`` is the foundation's
    artifact bucket as the pipeline's stack refers to it, ``artifact_objects`` the same for cdk-nag (see
    ``nag_arn``).
    """
    source = foundation.source.bucket
    own_folder = f"{pipeline_name[:ARTIFACT_FOLDER_LENGTH]}/*"
    folder = artifact_bucket.arn_for_objects(own_folder)
    boundary = iam.ManagedPolicy(
        scope,
        "Boundary",
        description=f"Keeps the roles of {pipeline_name} to their own artifacts and source key",
        statements=[
            iam.PolicyStatement(
                sid="AllButSharedObjects",
                actions=["*"],
                not_resources=[artifact_bucket.arn_for_objects("*"), source.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="OwnObjects", actions=list(OBJECT_ACTIONS), resources=[folder, source.arn_for_objects(object_key)]
            ),
            # CDK's grants give s3:List* on the whole bucket; a listing without a prefix of its own is refused.
            iam.PolicyStatement(
                sid="OwnListings",
                effect=iam.Effect.DENY,
                actions=LIST_ACTIONS,
                resources=[artifact_bucket.bucket_arn, source.bucket_arn],
                conditions={"StringNotLike": {"s3:prefix": [own_folder, object_key]}},
            ),
            iam.PolicyStatement(
                sid="OwnSourceObject",
                effect=iam.Effect.DENY,
                actions=["kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                resources=[foundation.source.key.key_arn],
                conditions={"StringNotEquals": {S3_CONTEXT: source.arn_for_objects(object_key)}},
            ),
        ],
    )
    iam.PermissionsBoundary.of(scope).apply(boundary)
    acknowledge(boundary, "AwsSolutions-IAM5[Action::*]", _BOUNDARY_REASON)
    acknowledge(boundary, "AwsSolutions-IAM5[Action::s3:*Object*]", _BOUNDARY_REASON)
    acknowledge_in_packs(boundary, "IAMPolicyNoStatementsWithFullAccess", _BOUNDARY_REASON)
    acknowledge(boundary, f"AwsSolutions-IAM5[Resource::{nag_arn(artifact_objects)}/{own_folder}]", _BOUNDARY_REASON)
    for check in ("CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_110", "CKV_AWS_111"):
        skip_checkov(boundary, check, _BOUNDARY_REASON)
    return boundary


_ROLE_ON_PATH = (
    "The project names its role with Fn::GetAtt <role>.Arn, whose ARN includes the role's IAM path; the template check "
    "reads the GetAtt as a Ref to the role's name, which would lose the path, and it does not."
)


def project_name(pipeline_name: str, stage: str) -> str:
    """The physical name of a stage's project on a foundation: the dashboard names it, never refers to it."""
    return f"{pipeline_name}-{re.sub(r'[^A-Za-z0-9_-]', '-', stage)}"[:255]


def adopt_project(project: codebuild.IProject, foundation: PipelineFoundation, pipeline_name: str, stage: str) -> str:
    """Give ``project`` (defined in this app) its physical name and the foundation's build limit; return the name."""
    name = project_name(pipeline_name, stage)
    cfn = cast(codebuild.CfnProject, project.node.default_child)
    cfn.name = name
    acknowledge(cfn, "CloudFormation-Validate::E3050", _ROLE_ON_PATH)
    if foundation.concurrent_build_limit is not None:
        cfn.concurrent_build_limit = foundation.concurrent_build_limit
    return name


class MemberOperations(Construct):
    """The operations of one pipeline on a ``PipelineFoundation``: its alarms, publishing to the foundation's topic,
    and its row on the foundation's dashboard. Notifications, the history and the trail are the foundation's."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        foundation: PipelineFoundation,
        pipeline: codepipeline.IPipeline,
        pipeline_name: str,
        projects: Mapping[str, codebuild.IProject],
    ) -> None:
        super().__init__(scope, id)
        self._foundation = foundation
        self._pipeline_name = pipeline_name
        self.alarms: list[cloudwatch.Alarm] = []
        """Every alarm: failed executions, execution time, wait time, then each stage's two."""
        self.failed_executions_alarm: cloudwatch.Alarm | None = None
        """An execution failed; None with alarms off."""
        self.execution_time_alarm: cloudwatch.Alarm | None = None
        """An execution took longer than ``AlarmOptions.max_execution_time``; None with alarms off."""
        self.wait_time_alarm: cloudwatch.Alarm | None = None
        """An upload waited longer than ``AlarmOptions.max_wait_time`` for its check; None with alarms off."""
        self.failed_builds_alarms: dict[str, cloudwatch.Alarm] = {}
        """A build of the stage failed, by stage name; empty with alarms off."""
        self.queue_time_alarms: dict[str, cloudwatch.Alarm] = {}
        """A build of the stage waited too long, by stage name; empty with alarms off."""
        self._builds = add_member(foundation, pipeline_name)
        options = foundation.alarm_options
        if options is not None:
            made = add_alarms(
                self,
                options,
                pipeline=pipeline,
                projects={},
                trigger_dead_letter_queue=None,
                topics=foundation.alarm_topics,
            )
            self.failed_executions_alarm, self.execution_time_alarm = made.failed_executions, made.execution_time
            self.wait_time_alarm = made.wait_time
            self.alarms = made.all
        for stage, project in projects.items():
            self.monitor_stage(stage, project)

    def monitor_stage(self, stage_name: str, project: codebuild.IProject) -> None:
        """Name ``project`` after the pipeline and stage, alarm on it and graph it in the pipeline's row."""
        raise_if_any(project_problems("project", project))
        name = adopt_project(project, self._foundation, self._pipeline_name, stage_name)
        options = self._foundation.alarm_options
        if options is not None:
            made = add_stage_alarms(
                self, options, stage=stage_name, project=project, topics=self._foundation.alarm_topics
            )
            self.failed_builds_alarms[stage_name] = made.failed_builds
            self.queue_time_alarms[stage_name] = made.queue_time
            self.alarms += [made.failed_builds, made.queue_time]
        if self._builds is not None:
            graph_stage_by_name(self._builds, stage=stage_name, project_name=name)
