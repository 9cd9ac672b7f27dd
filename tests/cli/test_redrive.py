"""``s3vp redrive``: the dead-letter queue in moto's SQS (and CloudFormation), CodePipeline answered by a Stubber."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from s3_validated_pipeline.cli import _redrive
from s3_validated_pipeline.source._handler import index as trigger_function
from tests.cli.conftest import REGION, FakeSession, run, use_session

PIPELINE = "app-pipeline"
BUCKET = "source-bucket"
KEY = "source.zip"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


@dataclass
class Aws:
    sqs: Any
    queue_url: str
    pipeline: Stubber
    calls: list[str]

    def send(self, body: str, **attributes: str) -> None:
        extra = {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()}
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=extra)

    def bodies(self) -> list[str]:
        """What is in the queue now (received, then made visible again)."""
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return sorted(message["Body"] for message in messages.get("Messages", []))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        sqs = boto3.client("sqs", **CREDENTIALS)
        queue_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        codepipeline = boto3.client("codepipeline", **CREDENTIALS)
        calls: list[str] = []
        codepipeline.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
        # moto's clients, but CodePipeline's execution APIs (which moto lacks) from a stubbed client
        session = FakeSession({"codepipeline": codepipeline}, others=lambda name: boto3.client(name, **CREDENTIALS))
        use_session(monkeypatch, session)
        monkeypatch.setattr(_redrive, "WAIT_SECONDS", 0)  # no real long polling
        with Stubber(codepipeline) as stub:
            yield Aws(sqs, queue_url, stub, calls)
            stub.assert_no_pending_responses()


def event(version: str, *, key: str = KEY, detail_type: str = "Object Created") -> str:
    """An EventBridge S3 event, as the trigger's rule (and so its dead-letter queue) receives it."""
    return json.dumps(
        {
            "version": "0",
            "id": f"event-{version}",
            "detail-type": detail_type,
            "source": "aws.s3",
            "account": "111111111111",
            "region": REGION,
            "resources": [f"arn:aws:s3:::{BUCKET}"],
            "detail": {
                "version": "0",
                "bucket": {"name": BUCKET},
                "object": {"key": key, "size": 123, "etag": "e", "version-id": version},
                "reason": "PutObject",
            },
        }
    )


def expect_start(stub: Stubber, version: str, execution_id: str) -> None:
    stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": execution_id},
        {
            "name": PIPELINE,
            "sourceRevisions": [
                {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": version}
            ],
            "clientRequestToken": _redrive.request_token(BUCKET, KEY, version),
        },
    )


def redrive(aws: Aws, *args: str) -> tuple[int, str, str]:
    return run("redrive", "--queue-url", aws.queue_url, "--pipeline", PIPELINE, *args)


def test_the_token_is_the_trigger_functions_and_deterministic() -> None:
    token = _redrive.request_token(BUCKET, KEY, "v1")
    assert token == trigger_function.request_token(BUCKET, KEY, "v1")
    assert len(token) == 64
    assert token != _redrive.request_token(BUCKET, KEY, "v2")


def test_starts_once_per_distinct_version_deletes_the_messages_and_a_second_run_finds_nothing(aws: Aws) -> None:
    aws.send(event("v1"), ERROR_CODE="THROTTLING", ERROR_MESSAGE="Rate exceeded")
    aws.send(event("v1"))  # the same upload dead-lettered twice
    aws.send(json.dumps({"Message": event("v2")}))  # wrapped (e.g. through SNS)
    expect_start(aws.pipeline, "v1", "exec-1")
    expect_start(aws.pipeline, "v2", "exec-2")
    code, out, err = redrive(aws)
    assert code == 0, err
    assert aws.calls == ["StartPipelineExecution", "StartPipelineExecution"]
    assert f"started: s3://{BUCKET}/{KEY} version v1" in out
    assert f"already started: s3://{BUCKET}/{KEY} version v1" in out
    assert "Started 2 execution(s) for 3 message(s); 0 left." in out
    assert aws.bodies() == []

    code, out, _ = redrive(aws)
    assert code == 0
    assert "The dead-letter queue is empty: nothing to redrive." in out
    assert aws.calls == ["StartPipelineExecution", "StartPipelineExecution"]


def test_dry_run_lists_what_it_would_start_and_deletes_nothing(aws: Aws) -> None:
    aws.send(event("v1"), ERROR_CODE="THROTTLING", ERROR_MESSAGE="Rate exceeded")
    aws.send(event("v1"))
    code, out, _ = redrive(aws, "--dry-run", "--json")
    document = json.loads(out)
    assert code == 0
    assert sorted(m["outcome"] for m in document["messages"]) == ["duplicate", "would_start"]
    would = next(m for m in document["messages"] if m["outcome"] == "would_start")
    assert (would["bucket"], would["key"], would["version_id"]) == (BUCKET, KEY, "v1")
    assert aws.calls == []
    assert aws.bodies() == [event("v1")] * 2  # still there, and visible at once


def test_a_message_that_is_not_an_upload_event_is_reported_and_left_in_the_queue(aws: Aws) -> None:
    aws.send("not json at all")
    aws.send(event("v3", detail_type="Object Deleted"))
    aws.send(event("v4"))
    expect_start(aws.pipeline, "v4", "exec-4")
    code, out, _ = redrive(aws)
    assert code == 1
    assert "left in the queue: message" in out
    assert "not an S3 event" in out
    assert "'Object Deleted' event, not 'Object Created'" in out
    assert aws.bodies() == sorted(["not json at all", event("v3", detail_type="Object Deleted")])


def test_a_failed_start_leaves_the_message_for_the_next_run(aws: Aws) -> None:
    aws.send(event("v5"))
    aws.pipeline.add_client_error("start_pipeline_execution", service_error_code="AccessDeniedException")
    code, out, _ = redrive(aws)
    assert code == 1
    assert "not started, left in the queue" in out
    assert "codepipeline:StartPipelineExecution" in out
    assert aws.bodies() == [event("v5")]


def test_with_stack_finds_the_trigger_queue_and_skips_other_objects(aws: Aws) -> None:
    cloudformation = boto3.client("cloudformation", **CREDENTIALS)
    outputs = {
        "PipelineSourceBucketName609A66DA": BUCKET,
        "PipelineObjectKey44604448": KEY,
        "PipelineSourceKeyArn95012608": "arn:aws:kms:eu-west-1:111111111111:key/k",
        "PipelinePipelineName0D474C17": PIPELINE,
    }
    template = {
        "Resources": {
            "PipelineTriggerDeadLetterQueueE2E769C9": {"Type": "AWS::SQS::Queue"},
            "PipelineOperationsDeadLetterQueue7113C133": {"Type": "AWS::SQS::Queue"},
        },
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    cloudformation.create_stack(StackName="AppStack", TemplateBody=json.dumps(template))
    resources = cloudformation.list_stack_resources(StackName="AppStack")["StackResourceSummaries"]
    queue_url = next(r["PhysicalResourceId"] for r in resources if "Trigger" in r["LogicalResourceId"])
    aws.queue_url = queue_url
    aws.send(event("v6"))
    aws.send(event("v7", key="other.zip"))
    expect_start(aws.pipeline, "v6", "exec-6")
    code, out, _ = run("redrive", "--stack", "AppStack")
    assert code == 1
    assert f"Reading {queue_url}" in out
    assert f"not an upload to s3://{BUCKET}/{KEY}" in out
    assert aws.bodies() == [event("v7", key="other.zip")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "pass --stack NAME, or --queue-url URL with --pipeline NAME"),
        (("--queue-url", "https://q"), "--queue-url needs --pipeline NAME"),
    ],
)
def test_usage_errors(aws: Aws, args: tuple[str, ...], message: str) -> None:
    code, _, err = run("redrive", *args)
    assert code == 2
    assert message in err


def test_a_queue_holding_several_objects_uploads_is_left_alone_without_the_stack(aws: Aws) -> None:
    # GIVEN a shared queue (a foundation's) with uploads of two teams' keys, and only --queue-url and --pipeline
    aws.send(event("v1"))
    aws.send(event("v2", key="teams/other/source.zip"))
    before = aws.bodies()
    # WHEN redriving  THEN nothing is started or deleted, and the error says how to choose the pipeline's own uploads
    code, _, err = redrive(aws)
    assert code == 2
    assert "holds uploads of 2 objects" in err
    assert f"s3://{BUCKET}/{KEY}" in err
    assert "Pass --stack (and --pipeline)" in err
    assert "StartPipelineExecution" not in aws.calls
    assert aws.bodies() == before
