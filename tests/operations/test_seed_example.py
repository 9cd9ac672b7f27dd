"""The seed example's monitoring and audit, as the operations issue's "done when" lists them."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from botocore.stub import Stubber

from s3_validated_pipeline import TriggerMode, ValidatedS3Pipeline, ValidationOptions
from s3_validated_pipeline.source._handler import index
from tests.conftest import Synthesized


def of_type(seed: Synthesized, kind: str, containing: str = "") -> dict[str, dict[str, Any]]:
    return {k: v for k, v in seed.json["Resources"].items() if v["Type"] == kind and containing in k}


def topic_id(seed: Synthesized) -> str:
    [found] = of_type(seed, "AWS::SNS::Topic", "Operations")
    return found


def test_an_encrypted_topic_receives_readable_pipeline_events(seed: Synthesized) -> None:
    topic = seed.json["Resources"][topic_id(seed)]
    assert "Fn::GetAtt" in topic["Properties"]["KmsMasterKeyId"]
    rules = list(of_type(seed, "AWS::Events::Rule", "OperationsNotify").values())
    states = {
        state for rule in rules for state in rule["Properties"]["EventPattern"].get("detail", {}).get("state", [])
    }
    assert {"FAILED", "SUCCEEDED", "STOPPED", "SUPERSEDED"} <= states
    targets = [t for rule in rules for t in rule["Properties"]["Targets"]]
    assert all(t["Arn"] == {"Ref": topic_id(seed)} for t in targets)
    # Readable text built from the event, not the raw event.
    assert all("InputTransformer" in t for t in targets)
    assert of_type(seed, "AWS::SNS::Subscription", "Operations")


def test_pipeline_and_build_alarms_notify_the_topic(seed: Synthesized) -> None:
    alarms = of_type(seed, "AWS::CloudWatch::Alarm", "Operations")
    metrics = {(a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms.values()}
    assert ("AWS/CodePipeline", "FailedPipelineExecutions") in metrics
    assert ("AWS/CodePipeline", "PipelineDuration") in metrics
    assert ("AWS/CodeBuild", "FailedBuilds") in metrics
    assert ("AWS/CodeBuild", "QueuedDuration") in metrics
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id(seed)}]


def test_a_dashboard_shows_the_pipeline(seed: Synthesized) -> None:
    [dashboard] = of_type(seed, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("PipelineDuration", "QueuedDuration", "ApproximateNumberOfMessagesVisible"):
        assert metric in body


def test_the_trail_validates_its_logs_and_records_both_buckets_data_events(seed: Synthesized) -> None:
    [trail] = of_type(seed, "AWS::CloudTrail::Trail").values()
    props = trail["Properties"]
    assert props["EnableLogFileValidation"] is True
    [trail_key] = of_type(seed, "AWS::KMS::Key", "TrailKey")
    [trail_logs] = of_type(seed, "AWS::Logs::LogGroup", "TrailLogs")
    assert props["KMSKeyId"] == {"Fn::GetAtt": [trail_key, "Arn"]}
    assert props["CloudWatchLogsLogGroupArn"] == {"Fn::GetAtt": [trail_logs, "Arn"]}
    # Data events of every object of exactly the two buckets, reads and writes, and nothing else
    [source] = of_type(seed, "AWS::S3::Bucket", "SourceBucket")
    [artifacts] = of_type(seed, "AWS::S3::Bucket", "PipelineArtifacts")
    objects_of = [{"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/"]]} for bucket in (source, artifacts)]
    assert props["EventSelectors"] == [
        {
            "DataResources": [{"Type": "AWS::S3::Object", "Values": objects_of}],
            "IncludeManagementEvents": False,
            "ReadWriteType": "All",
        }
    ]


def test_execution_history_is_kept_two_years_with_a_saved_query(seed: Synthesized) -> None:
    [history] = of_type(seed, "AWS::Logs::LogGroup", "History").values()
    assert history["Properties"]["RetentionInDays"] == 731
    assert "KmsKeyId" in history["Properties"]
    [query] = of_type(seed, "AWS::Logs::QueryDefinition").values()
    assert "execution-id" in query["Properties"]["QueryString"]


def test_the_saved_query_shows_each_executions_source_action(seed: Synthesized) -> None:
    # GIVEN the seed example, whose trigger (TriggerMode.DIRECT) keeps no log of its own
    [query] = of_type(seed, "AWS::Logs::QueryDefinition").values()
    [history_group] = of_type(seed, "AWS::Logs::LogGroup", "History")
    assert query["Properties"]["LogGroupNames"] == [{"Ref": history_group}]
    text = query["Properties"]["QueryString"]
    # THEN it lists pipeline execution events and the Source action's events of each execution, read from fields
    # the history log group receives (detail-type, detail.execution-id, detail.action, detail.type.category)
    assert "parse" not in text
    assert '`detail-type` = "CodePipeline Pipeline Execution State Change"' in text
    assert '`detail-type` = "CodePipeline Action Execution State Change" and detail.type.category = "Source"' in text
    assert "detail.action as action" in text


def test_the_function_log_line_holds_what_the_function_modes_query_parses(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the parse pattern of the query in TriggerMode.FUNCTION, in Python's spelling of named groups
    pattern = re.search(r"parse @message /(.+)/", _function_mode_query())
    assert pattern is not None
    regex = re.compile(pattern.group(1).replace("(?<", "(?P<"))
    # WHEN the trigger starts an execution for an upload
    monkeypatch.setenv("PIPELINE_NAME", "seed")
    monkeypatch.setenv("SOURCE_ACTION_NAME", "Source")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("codepipeline", region_name="eu-west-1")  # stubbed: it never sends
    with Stubber(client) as stub, caplog.at_level(logging.INFO):
        stub.add_response("start_pipeline_execution", {"pipelineExecutionId": "11111111-2222-3333-4444-555555555555"})
        event = {"id": "e1", "detail": {"bucket": {"name": "b"}, "object": {"key": "source.zip", "version-id": "v1"}}}
        index.handler(event, None, client=client)
    # THEN the query reads the execution id and the object version from the line it logged
    [match] = [m for m in (regex.search(r.getMessage()) for r in caplog.records) if m]
    assert match.group("started") == "11111111-2222-3333-4444-555555555555"
    assert match.group("version") == "v1"


def _function_mode_query() -> str:
    """The saved query's text for a pipeline whose trigger is a function (no synthesis: read from the construct)."""
    stack = cdk.Stack(cdk.App(), "Stack")
    pipeline = ValidatedS3Pipeline(
        stack, "Pipeline", validation=ValidationOptions(commands=["npm test"]), trigger_mode=TriggerMode.FUNCTION
    )
    assert pipeline.operations is not None
    assert pipeline.operations.history_query is not None
    query = pipeline.operations.history_query.node.default_child
    text: str = stack.resolve(query.query_string)  # type: ignore[union-attr]
    return text


def test_a_change_to_the_signing_keys_policy_grants_state_or_deletion_is_announced(seed: Synthesized) -> None:
    # GIVEN the seed example, whose operations notify a topic
    [(rule_id, rule)] = of_type(seed, "AWS::Events::Rule", "NotifySigningKeyChange").items()
    [key] = [k for k, v in of_type(seed, "AWS::KMS::Key").items() if v["Properties"].get("KeyUsage") == "SIGN_VERIFY"]
    # THEN a rule matches exactly those calls on exactly that key, from CloudTrail's management events
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.kms"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["kms.amazonaws.com"],
            "eventName": ["PutKeyPolicy", "CreateGrant", "DisableKey", "ScheduleKeyDeletion"],
            "resources": {"ARN": [{"Fn::GetAtt": [key, "Arn"]}]},
        },
    }
    # AND it tells the topic, in words, which call was made on which key by whom
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": topic_id(seed)}
    transformer = target["InputTransformer"]
    assert transformer["InputPathsMap"] == {
        "detail-eventName": "$.detail.eventName",
        "detail-userIdentity-arn": "$.detail.userIdentity.arn",
        "time": "$.time",
        "detail-resources-0--ARN": "$.detail.resources[0].ARN",
    }
    assert (
        "Signing key <detail-resources-0--ARN>: <detail-eventName> by <detail-userIdentity-arn>"
        in (transformer["InputTemplate"])
    )
    # AND the topic's policy lets exactly this rule publish
    admitted = [
        statement["Condition"]["ArnEquals"]["aws:SourceArn"]
        for policy in of_type(seed, "AWS::SNS::TopicPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ArnEquals" in statement.get("Condition", {})
    ]
    assert {"Fn::GetAtt": [rule_id, "Arn"]} in admitted
