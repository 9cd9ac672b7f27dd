"""The checks of ``ValidatedS3Pipeline``'s arguments taken together (``_pipeline_arguments``): the defects an outside
review found, each pinned."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs

from s3_validated_pipeline import (
    InputError,
    OperationsOptions,
    PipelineFoundation,
    ValidatedS3Pipeline,
    ValidationOptions,
)

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
