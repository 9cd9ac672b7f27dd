"""Misuse corpus: wrong types and values S3, CodeBuild or CodePipeline would reject fail while the construct is built.

Each error names the argument's full path, shows the value received and says what to pass instead, where jsii
would otherwise raise a TypeError about one of its own parameters, or AWS would fail the deployment. The cases
here are not in test_inputs.py. None of them synthesizes: errors are raised before any resource is defined.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from s3_validated_pipeline import (
    BuildEnvironment,
    InputError,
    SourceBucketOptions,
    TriggerMode,
    ValidatedS3Pipeline,
    ValidationOptions,
)
from s3_validated_pipeline.source import SourceBucket
from s3_validated_pipeline.validate.project import ValidationProject

GOOD = ValidationOptions(commands=["npm ci"], build_environment=BuildEnvironment.UBUNTU_22_04_NODE_22)
ROLE_ARN = "arn:aws:iam::111122223333:role/uploader"


def new_stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Stack")


def assert_fails(argument: str, shown: str, advice: str, **overrides: Any) -> None:
    """Build a pipeline with ``overrides`` and check it fails with exactly one problem, about ``argument``."""
    with pytest.raises(InputError) as raised:
        ValidatedS3Pipeline(new_stack(), "Pipeline", **{"validation": GOOD, **overrides})
    [problem] = raised.value.problems
    assert problem.argument == argument
    message = str(raised.value)
    assert f"  - {argument}: got {shown}" in message
    assert advice in message


def validation(**fields: Any) -> ValidationOptions:
    return ValidationOptions(**{"commands": ["npm ci"], **fields})


# --- ValidatedS3Pipeline's own arguments ------------------------------------------------------------------


def test_fails_when_validation_is_none() -> None:
    assert_fails("validation", "None", "pass e.g. ValidationOptions(commands=[", validation=None)


def test_fails_when_object_key_is_not_a_string() -> None:
    assert_fails("object_key", "123", "Expected a str, not int; pass e.g. 'source.zip'", object_key=123)


def test_fails_when_object_key_is_a_folder() -> None:
    assert_fails("object_key", "'uploads/'", "is a folder, not an object", object_key="uploads/")


def test_fails_when_object_key_is_longer_than_s3_allows() -> None:
    key = "uploads/" + "é" * 600  # 608 characters, but 1208 bytes in UTF-8: S3 counts bytes
    assert_fails("object_key", f"'{key[:40]}... (1208 bytes)'", "at most 1024 bytes", object_key=key)


def test_fails_when_source_bucket_is_a_bucket_name() -> None:
    assert_fails(
        "source_bucket",
        "'my-uploads'",
        "Expected an s3.IBucket or None, not str; pass e.g. s3.Bucket.from_bucket_name(self, 'Uploads', 'my-uploads')",
        source_bucket="my-uploads",
    )


def test_fails_when_source_bucket_options_is_a_dict() -> None:
    assert_fails(
        "source_bucket_options",
        "{'bucket_name': 'my-uploads'}",
        "Expected SourceBucketOptions or None, not dict",
        source_bucket_options={"bucket_name": "my-uploads"},
    )


def test_fails_when_execution_mode_is_a_string() -> None:
    # The member's name is suggested back.
    assert_fails(
        "execution_mode",
        "'parallel'",
        "Expected an ExecutionMode, not str; pass e.g. ExecutionMode.PARALLEL",
        execution_mode="parallel",
    )


def test_fails_when_pipeline_name_has_a_space() -> None:
    assert_fails("pipeline_name", "'upload validation'", "no spaces", pipeline_name="upload validation")


def test_fails_when_pipeline_name_is_longer_than_codepipeline_allows() -> None:
    assert_fails("pipeline_name", repr("p" * 101), "1 to 100 letters", pipeline_name="p" * 101)


def test_fails_when_log_retention_days_is_a_string() -> None:
    assert_fails("log_retention_days", "'365'", "Expected an int, not str", log_retention_days="365")


def test_fails_when_log_retention_days_is_a_bool() -> None:
    assert_fails("log_retention_days", "True", "Expected an int, not bool", log_retention_days=True)


@pytest.mark.parametrize("value", [0, -1])
def test_fails_when_trigger_reserved_concurrency_is_not_positive(value: int) -> None:
    assert_fails(
        "trigger_reserved_concurrency",
        str(value),
        "or None",
        trigger_mode=TriggerMode.FUNCTION,
        trigger_reserved_concurrency=value,
    )


def test_fails_when_trigger_reserved_concurrency_is_a_string() -> None:
    assert_fails(
        "trigger_reserved_concurrency",
        "'5'",
        "Expected an int or None, not str",
        trigger_mode=TriggerMode.FUNCTION,
        trigger_reserved_concurrency="5",
    )


# --- ValidationOptions and BuildEnvironment ---------------------------------------------------------------


def test_fails_when_a_command_is_not_a_string() -> None:
    assert_fails(
        "validation.commands[1]",
        "42",
        "Expected a str (one shell command), not int",
        validation=validation(commands=["npm ci", 42]),
    )


def test_fails_when_required_files_is_one_string() -> None:
    assert_fails(
        "validation.required_files",
        "'package.json'",
        "Expected a list of str",
        validation=validation(required_files="package.json"),
    )


def test_fails_when_a_required_file_is_not_a_string() -> None:
    assert_fails(
        "validation.required_files[1]",
        "PurePosixPath('src/index.ts')",
        "Expected a str, not PurePosixPath",
        validation=validation(required_files=["package.json", PurePosixPath("src/index.ts")]),
    )


def test_fails_when_build_environment_is_an_image_name() -> None:
    assert_fails(
        "validation.build_environment",
        "'aws/codebuild/standard:7.0'",
        "Expected a BuildEnvironment, not str; pass e.g. BuildEnvironment.UBUNTU_22_04_NODE_22, "
        "or BuildEnvironment(image='aws/codebuild/standard:7.0')",
        validation=validation(build_environment="aws/codebuild/standard:7.0"),
    )


def test_fails_when_timeout_is_a_number() -> None:
    assert_fails(
        "validation.timeout",
        "60",
        "Expected a Duration, not int; pass e.g. Duration.minutes(60)",
        validation=validation(timeout=60),
    )


def test_fails_when_compute_type_is_a_string() -> None:
    environment = BuildEnvironment(image="aws/codebuild/standard:7.0", compute_type="large")
    assert_fails(
        "validation.build_environment.compute_type",
        "'large'",
        "Expected a ComputeType, not str; pass e.g. ComputeType.LARGE",
        validation=validation(build_environment=environment),
    )


def test_fails_when_a_runtime_version_is_a_number() -> None:
    environment = BuildEnvironment(image="aws/codebuild/standard:7.0", runtime_versions={"python": 3.10})
    assert_fails(
        "validation.build_environment.runtime_versions",
        "{'python': 3.1}",
        "both strings",
        validation=validation(build_environment=environment),
    )


def test_fails_when_runtime_versions_is_not_a_mapping() -> None:
    environment = BuildEnvironment(image="aws/codebuild/standard:7.0", runtime_versions="nodejs=22")  # type: ignore[arg-type]
    assert_fails(
        "validation.build_environment.runtime_versions",
        "'nodejs=22'",
        "Expected a mapping, not str; pass e.g. {'nodejs': '22'}",
        validation=validation(build_environment=environment),
    )


# --- SourceBucketOptions and grant_upload -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["My_Uploads", "ab", "uploads-", "my..uploads", "192.168.5.4"])
def test_fails_when_bucket_name_is_not_valid_for_s3(name: str) -> None:
    assert_fails(
        "source_bucket_options.bucket_name",
        repr(name),
        "S3 bucket names have 3 to 63 characters",
        source_bucket_options=SourceBucketOptions(bucket_name=name),
    )


def test_fails_when_server_access_logs_is_a_string() -> None:
    # "false" is truthy: without the check, logs would silently stay on while the user believes them off.
    assert_fails(
        "source_bucket_options.server_access_logs",
        "'false'",
        "Expected a bool, not str",
        source_bucket_options=SourceBucketOptions(server_access_logs="false"),
    )


def test_fails_when_removal_policy_is_a_string() -> None:
    assert_fails(
        "source_bucket_options.removal_policy",
        "'destroy'",
        "Expected a RemovalPolicy, not str; pass e.g. RemovalPolicy.DESTROY",
        source_bucket_options=SourceBucketOptions(removal_policy="destroy"),
    )


def test_fails_when_removal_policy_is_snapshot() -> None:
    # CloudFormation rejects DeletionPolicy Snapshot on AWS::S3::Bucket and AWS::KMS::Key (cfn-lint E3035).
    assert_fails(
        "source_bucket_options.removal_policy",
        "<RemovalPolicy.SNAPSHOT: 'SNAPSHOT'>",
        "cannot snapshot an S3 bucket or a KMS key",
        source_bucket_options=SourceBucketOptions(removal_policy=cdk.RemovalPolicy.SNAPSHOT),
    )


def test_fails_when_an_uploader_is_a_service_principal() -> None:
    assert_fails(
        "source_bucket_options.uploaders[0]",
        "<aws_cdk.aws_iam.ServicePrincipal object at ",
        "service principals cannot upload",
        source_bucket_options=SourceBucketOptions(uploaders=[iam.ServicePrincipal("lambda.amazonaws.com")]),
    )


def test_fails_when_an_uploader_is_an_arn_string() -> None:
    assert_fails(
        "source_bucket_options.uploaders[0]",
        repr(ROLE_ARN),
        "Pass an IAM role or user",
        source_bucket_options=SourceBucketOptions(uploaders=[ROLE_ARN]),
    )


def test_fails_when_uploaders_is_one_principal_not_a_list() -> None:
    assert_fails(
        "source_bucket_options.uploaders",
        "<aws_cdk.aws_iam.AccountRootPrincipal object at ",
        "Expected a list of IAM roles or users, not AccountRootPrincipal; pass e.g. [uploader_role]",
        source_bucket_options=SourceBucketOptions(uploaders=iam.AccountRootPrincipal()),
    )


def test_fails_when_admin_role_is_an_arn_string() -> None:
    assert_fails(
        "source_bucket_options.admin_role",
        repr(ROLE_ARN),
        "iam.Role.from_role_arn(self, 'Admin', arn)",
        source_bucket_options=SourceBucketOptions(admin_role=ROLE_ARN),
    )


def test_fails_when_grant_upload_gets_a_service_principal() -> None:
    pipeline = ValidatedS3Pipeline(new_stack(), "Pipeline", validation=GOOD)
    with pytest.raises(InputError, match=r"grantee: got <aws_cdk\.aws_iam\.ServicePrincipal .*service principals"):
        pipeline.grant_upload(iam.ServicePrincipal("codebuild.amazonaws.com"))


def test_fails_when_grant_upload_gets_an_arn_string() -> None:
    pipeline = ValidatedS3Pipeline(new_stack(), "Pipeline", validation=GOOD)
    with pytest.raises(InputError, match=r"grantee: got 'arn:aws:iam::111122223333:role/uploader'.*from_role_arn"):
        pipeline.grant_upload(ROLE_ARN)  # type: ignore[arg-type]


def test_fails_when_grant_upload_on_an_existing_bucket_gets_a_service_principal() -> None:
    stack = new_stack()
    pipeline = ValidatedS3Pipeline(
        stack, "Pipeline", validation=GOOD, source_bucket=s3.Bucket.from_bucket_name(stack, "Existing", "uploads")
    )
    with pytest.raises(InputError, match=r"grantee: got <aws_cdk\.aws_iam\.ServicePrincipal .*service principals"):
        pipeline.grant_upload(iam.ServicePrincipal("codebuild.amazonaws.com"))


def test_fails_when_a_part_used_alone_gets_a_dict_for_its_options() -> None:
    stack = new_stack()
    key = kms.Key(stack, "Key")
    with pytest.raises(
        InputError, match=r"options: got \{'server_access_logs': False\}\. Expected SourceBucketOptions"
    ):
        SourceBucket(stack, "Source", object_key="source.zip", options={"server_access_logs": False})  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"options: got \{'commands': \['true'\]\}\. Expected ValidationOptions"):
        ValidationProject(stack, "Validation", options={"commands": ["true"]}, artifact_key=key, log_key=key)  # type: ignore[arg-type]


# --- Several at once, tokens, warnings --------------------------------------------------------------------


def test_fails_listing_every_wrong_type_at_once() -> None:
    # No check stops at the first wrong type, and none reaches a jsii call that would crash on it.
    with pytest.raises(InputError) as raised:
        ValidatedS3Pipeline(
            new_stack(),
            "Pipeline",
            validation=ValidationOptions(commands=[1], required_files=None, build_environment=None, timeout="1h"),
            object_key=None,
            source_bucket_options=SourceBucketOptions(bucket_name=7, removal_policy=None, uploaders=None),
            execution_mode=None,
            pipeline_name=3,
        )
    assert [p.argument for p in raised.value.problems] == [
        "validation.commands[0]",
        "validation.required_files",
        "validation.build_environment",
        "validation.timeout",
        "object_key",
        "source_bucket_options.bucket_name",
        "source_bucket_options.removal_policy",
        "source_bucket_options.uploaders",
        "execution_mode",
        "pipeline_name",
    ]


def test_unresolved_names_and_durations_are_not_checked() -> None:
    stack = new_stack()
    name = cdk.CfnParameter(stack, "Name").value_as_string
    minutes = cdk.CfnParameter(stack, "Minutes", type="Number").value_as_number
    pipeline = ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=validation(
            timeout=cdk.Duration.minutes(minutes),
            build_environment=BuildEnvironment(image=name, compute_type=codebuild.ComputeType.MEDIUM),
        ),
        pipeline_name=name,
        source_bucket_options=SourceBucketOptions(bucket_name=name),
    )
    assert isinstance(pipeline.source_bucket, s3.Bucket)


def test_unreserved_trigger_concurrency_warns_with_a_stable_id() -> None:
    # Read from the construct's metadata, which synthesis turns into the warning: no synthesis needed.
    pipeline = ValidatedS3Pipeline(
        new_stack(),
        "Pipeline",
        validation=GOOD,
        trigger_mode=TriggerMode.FUNCTION,
        trigger_reserved_concurrency=None,
    )
    warnings = [
        str(entry.data)
        for construct in pipeline.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:warning"
    ]
    [warning] = warnings
    assert "[ack: s3-validated-pipeline:triggerConcurrencyUnreserved]" in warning
    assert "Set a small number such as 5" in warning
