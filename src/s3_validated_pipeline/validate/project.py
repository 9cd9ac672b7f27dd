"""The validate stage's CodeBuild project: the package check, the user's commands, diagnostics and a manifest."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnResource
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .. import _buildspec
from .._build_project import StageConstruct, StageResources, new_build_project
from .._logs import retention_problems
from .._names import WAIT_FIELD, WAIT_METRIC, WAIT_NAMESPACE
from ..errors import raise_if_any, wrong_type
from .options import ValidationOptions


class ValidationProject(StageConstruct):
    """Define the CodeBuild project that checks, validates and records one uploaded package.

    Its buildspec, in order: installs the environment's runtimes; downloads the package checker and verifies the
    SHA-256 the template pins; downloads exactly the uploaded object version and checks it (structure, limits,
    required and forbidden files, credentials), failing before any command runs; runs the commands; writes
    ``.validated/package-check.json`` and ``.validated/manifest.json`` (the SHA-256 of every output file and of
    the source zip); and prints diagnostics (OS, tool versions, the object version) even when validation failed.
    Logs go to a KMS-encrypted log group, whose metric filter ``WaitTime`` makes the ``UploadWaitTime`` metric (seconds
    from an upload to its check, by ``Pipeline``) of the line the check prints.

    The pipeline's validate action sets ``SOURCE_BUCKET``, ``SOURCE_OBJECT_KEY`` and ``SOURCE_OBJECT_VERSION_ID``;
    call ``grant_source_read`` so the project may download that object and tag it with the check's verdict.

    Args:
        options: what to run. See ``ValidationOptions``.
        artifact_key: the key of the pipeline's artifact store; the project encrypts its output with it.
        log_key: the key for the build log group; it must let CloudWatch Logs use it.
        log_retention_days: how long the build logs are kept. Default: 365.
        artifact_buckets: the pipeline's artifact bucket(s), whose objects CDK grants the project access to; the
            grant's wildcard is acknowledged for cdk-nag. A bucket of another stack is given as its ARN's text in
            cdk-nag's findings (see ``acknowledge_cdk_grants``). Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: ValidationOptions,
        artifact_key: kms.IKey,
        log_key: kms.IKey,
        log_retention_days: int = 365,
        artifact_buckets: Sequence[CfnResource | str] = (),
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(options, ValidationOptions):
            example = "ValidationOptions(commands=['npm ci'])"
            raise_if_any([wrong_type("options", options, "ValidationOptions", example)])
        raise_if_any([*options.problems("options"), *retention_problems("log_retention_days", log_retention_days)])
        environment = options.build_environment
        self.resources: StageResources = new_build_project(
            self,
            stage="Validate",
            description="Checks, validates and records one uploaded package (s3-validated-pipeline).",
            buildspec=_buildspec.validation_buildspec(
                commands=options.commands,
                required_files=options.required_files,
                check_options=options.package_check.arguments(),
                max_package_bytes=options.package_check.max_package_bytes,
                runtime_versions=environment.runtime_versions,
            ),
            environment=environment,
            timeout=options.timeout,
            artifact_key=artifact_key,
            log_key=log_key,
            log_retention_days=log_retention_days,
            artifact_buckets=artifact_buckets,
            network=options.build_network,
        )

        logs.MetricFilter(
            self,
            "WaitTime",
            log_group=self.resources.log_group,
            # A JSON pattern matches JSON lines only: not the log's echo of the command that prints the line.
            filter_pattern=logs.FilterPattern.literal(f"{{ $.{WAIT_FIELD} >= 0 }}"),
            metric_namespace=WAIT_NAMESPACE,
            metric_name=WAIT_METRIC,
            metric_value=f"$.{WAIT_FIELD}",
            dimensions={"Pipeline": "$.pipeline"},
            unit=cloudwatch.Unit.SECONDS,
        )

    def grant_source_read(self, bucket: s3.IBucket, object_key: str) -> iam.Grant:
        """Let the project download any version of ``object_key`` (decrypting it with the bucket's key), and read and
        set that version's tags, where it records the check's verdict (``_buildspec.VERDICT_TAG``)."""
        iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["s3:GetObjectVersionTagging", "s3:PutObjectVersionTagging"],
            resource_arns=[bucket.arn_for_objects(object_key)],
        )
        return grant_source_read(self.role, bucket, object_key)


def grant_source_read(role: iam.IRole, bucket: s3.IBucket, object_key: str) -> iam.Grant:
    """Let ``role`` download any version of ``object_key`` (decrypting it with the bucket's key)."""
    grant = iam.Grant.add_to_principal(
        grantee=role,
        actions=["s3:GetObject", "s3:GetObjectVersion"],
        resource_arns=[bucket.arn_for_objects(object_key)],
    )
    if bucket.encryption_key is not None:
        bucket.encryption_key.grant(role, "kms:Decrypt")
    return grant
