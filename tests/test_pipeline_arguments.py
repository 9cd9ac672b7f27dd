"""The checks of ``ValidatedS3Pipeline``'s arguments taken together (``_pipeline_arguments``): each wrong argument
fails while the pipeline is built, naming it, showing the value and saying what to do; every problem is listed at
once; tokens are not checked; the warnings on its arguments are given at synthesis. The defects an outside review
found are pinned too."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs

from s3_validated_pipeline import (
    BuildEnvironment,
    InputError,
    OperationsOptions,
    PipelineFoundation,
    SourceBucketOptions,
    ValidatedS3Pipeline,
    ValidationOptions,
)
from tests.conftest import VALID, Synthesized, assert_fails, new_pipeline, warnings_of

GOOD = ValidationOptions(commands=["npm ci"])
ENV = cdk.Environment(account="111111111111", region="eu-west-1")


def test_fails_when_an_existing_bucket_notifies_only_a_queue() -> None:
    # GIVEN a versioned bucket whose only notification goes to SQS (a "Notifications" child, but no EventBridge)
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket(stack, "Uploads", versioned=True)
    bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SqsDestination(sqs.Queue(stack, "Queue")))
    # WHEN a pipeline is to watch it
    with pytest.raises(InputError) as raised:
        ValidatedS3Pipeline(stack, "Pipeline", validation=GOOD, source_bucket=bucket)
    # THEN the pipeline would never start, and the error says what the bucket lacks
    [problem] = raised.value.problems
    assert problem.argument == "source_bucket"
    assert "S3's events sent to EventBridge (event_bridge_enabled=True)" in problem.fix
    assert "versioning" not in problem.fix


def test_a_bucket_notifying_a_queue_and_eventbridge_is_accepted() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket(stack, "Uploads", versioned=True, event_bridge_enabled=True)
    bucket.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SqsDestination(sqs.Queue(stack, "Queue")))
    pipeline = ValidatedS3Pipeline(stack, "Pipeline", validation=GOOD, source_bucket=bucket)
    assert pipeline.source_bucket is bucket


def test_fails_when_an_l1_bucket_turns_eventbridge_off() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket(stack, "Uploads", versioned=True)
    cfn = bucket.node.default_child
    assert isinstance(cfn, s3.CfnBucket)
    cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=False)
    )
    with pytest.raises(InputError, match=r"S3's events sent to EventBridge"):
        ValidatedS3Pipeline(stack, "Pipeline", validation=GOOD, source_bucket=bucket)


def test_an_explicit_default_operations_is_accepted_on_a_foundation() -> None:
    # GIVEN a foundation, and a pipeline that spells out the default operations
    app = cdk.App()
    foundation = PipelineFoundation(cdk.Stack(app, "Foundation", env=ENV), "Foundation", name_prefix="fleet")
    team = cdk.Stack(app, "Team", env=ENV)
    # WHEN it is built on the foundation
    pipeline = ValidatedS3Pipeline(
        team, "team01", validation=GOOD, foundation=foundation, operations=OperationsOptions()
    )
    # THEN it is the same as leaving operations out: the foundation's operations, the pipeline's alarms
    assert pipeline.foundation is foundation
    assert pipeline.operations is not None


def test_fails_when_other_operations_are_given_on_a_foundation() -> None:
    app = cdk.App()
    foundation = PipelineFoundation(cdk.Stack(app, "Foundation", env=ENV), "Foundation", name_prefix="fleet")
    with pytest.raises(InputError) as raised:
        ValidatedS3Pipeline(
            cdk.Stack(app, "Team", env=ENV),
            "team01",
            validation=GOOD,
            foundation=foundation,
            operations=OperationsOptions(dashboard=None),
        )
    assert [p.argument for p in raised.value.problems] == ["operations"]


# --- Each argument of its own ------------------------------------------------------------------------------------


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


def test_fails_when_an_existing_bucket_is_combined_with_settings_for_a_created_one() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    existing = s3.Bucket.from_bucket_name(stack, "Existing", "my-uploads")
    with pytest.raises(InputError, match=r"source_bucket_options: got SourceBucketOptions\(.*pass one or the other"):
        ValidatedS3Pipeline(
            stack,
            "Pipeline",
            validation=VALID,
            source_bucket=existing,
            source_bucket_options=SourceBucketOptions(server_access_logs=False),
        )


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({}, ["versioning (versioned=True)", "S3's events sent to EventBridge (event_bridge_enabled=True)"]),
        ({"versioned": True}, ["S3's events sent to EventBridge (event_bridge_enabled=True)"]),
        ({"event_bridge_enabled": True}, ["versioning (versioned=True)"]),
    ],
    ids=["neither", "no-eventbridge", "no-versioning"],
)
def test_fails_when_a_bucket_of_this_app_cannot_be_watched(settings: dict[str, Any], missing: list[str]) -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket(stack, "Uploads", **settings)
    with pytest.raises(InputError) as raised:
        ValidatedS3Pipeline(stack, "Pipeline", validation=VALID, source_bucket=bucket)
    [problem] = raised.value.problems
    assert problem.argument == "source_bucket"
    message = str(raised.value)
    assert "source_bucket: got 'Stack/Uploads'. The bucket lacks " in message
    for what in missing:
        assert what in message
    assert ("versioning" in message) == any("versioning" in m for m in missing)


def test_a_versioned_bucket_sending_events_to_eventbridge_is_accepted() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket(stack, "Uploads", versioned=True, event_bridge_enabled=True)
    pipeline = ValidatedS3Pipeline(stack, "Pipeline", validation=VALID, source_bucket=bucket)
    assert pipeline.source_bucket is bucket


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


@pytest.mark.parametrize(
    ("overrides", "argument", "shown", "advice"),
    [
        pytest.param(
            {"log_retention_days": 0}, "log_retention_days", "0", "positive whole number", id="zero-retention"
        ),
        pytest.param(
            {"log_retention_days": -30}, "log_retention_days", "-30", "positive whole number", id="negative-retention"
        ),
        pytest.param(
            {"log_retention_days": 42}, "log_retention_days", "42", "Pick the nearest",
            id="retention-cloudwatch-does-not-offer",
        ),
        pytest.param(
            {"log_retention_days": "365"}, "log_retention_days", "'365'", "Expected an int, not str",
            id="retention-as-a-string",
        ),
        pytest.param(
            {"log_retention_days": True}, "log_retention_days", "True", "Expected an int, not bool",
            id="retention-as-a-bool",
        ),
        pytest.param(
            {"artifact_retention_days": 0}, "artifact_retention_days", "0", "positive whole number",
            id="zero-artifact-retention",
        ),
    ],
)  # fmt: skip
def test_fails_when_a_retention_is_bad(overrides: dict[str, Any], argument: str, shown: str, advice: str) -> None:
    assert_fails(argument, shown, advice, **overrides)


# --- All at once, and tokens --------------------------------------------------------------------------------------


def test_fails_once_listing_every_problem() -> None:
    with pytest.raises(InputError) as raised:
        new_pipeline(
            validation=ValidationOptions(commands=[], required_files=["/abs", "../up"]),
            object_key="*",
            log_retention_days=0,
        )
    assert [p.argument for p in raised.value.problems] == [
        "validation.commands",
        "validation.required_files[0]",
        "validation.required_files[1]",
        "object_key",
        "log_retention_days",
    ]
    assert "5 problem(s)" in str(raised.value)


def test_fails_listing_every_wrong_type_at_once() -> None:
    # No check stops at the first wrong type, and none reaches a jsii call that would crash on it.
    with pytest.raises(InputError) as raised:
        new_pipeline(
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


def test_unresolved_tokens_are_not_checked() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    key = cdk.CfnParameter(stack, "Key").value_as_string
    days = cdk.CfnParameter(stack, "Days", type="Number").value_as_number
    pipeline = ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=ValidationOptions(commands=["true"], required_files=[key]),
        object_key=key,
        log_retention_days=days,  # type: ignore[arg-type]  # a number token, resolved at deploy time
    )
    assert pipeline.object_key == key


def test_unresolved_names_and_durations_are_not_checked() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    name = cdk.CfnParameter(stack, "Name").value_as_string
    minutes = cdk.CfnParameter(stack, "Minutes", type="Number").value_as_number
    pipeline = ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=ValidationOptions(
            commands=["npm ci"],
            timeout=cdk.Duration.minutes(minutes),
            build_environment=BuildEnvironment(image=name, compute_type=codebuild.ComputeType.MEDIUM),
        ),
        pipeline_name=name,
        source_bucket_options=SourceBucketOptions(bucket_name=name),
    )
    assert isinstance(pipeline.source_bucket, s3.Bucket)


# --- Warnings on the arguments, given at synthesis ------------------------------------------------------------


def test_object_key_not_ending_in_zip_warns(warned: Synthesized) -> None:
    [message] = warnings_of(warned, "NotZip", "objectKeyNotZip")
    assert "'uploads/package.tar.gz' does not end in '.zip'" in message
    assert warnings_of(warned, "Zip", "objectKeyNotZip") == []


def test_no_uploader_warns_at_synthesis(warned: Synthesized) -> None:
    [message] = warnings_of(warned, "NotZip", "noUploader")
    assert "Call pipeline.grant_upload(role)" in message
    assert "SourceBucketOptions(uploaders=[role])" in message


@pytest.mark.parametrize("pipeline", ["AllRetired", "GrantedLater", "Uploaders", "Existing", "Zip"])
def test_no_uploader_is_quiet_once_someone_may_upload(warned: Synthesized, pipeline: str) -> None:
    # grant_upload after the constructor counts: the check runs at synthesis
    assert warnings_of(warned, pipeline, "noUploader") == []
