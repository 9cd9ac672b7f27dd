"""The seed example's monitoring and audit, as the operations issue's "done when" lists them."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from s3_validated_pipeline.source._handler import index

from .conftest import Synthesized


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
    assert "KMSKeyId" in props
    assert "CloudWatchLogsLogGroupArn" in props
    selectors = json.dumps(props["EventSelectors"])
    assert "AWS::S3::Object" in selectors
    assert selectors.count("Fn::GetAtt") >= 2 or selectors.count("Ref") >= 2


def test_execution_history_is_kept_two_years_with_a_saved_query(seed: Synthesized) -> None:
    [history] = of_type(seed, "AWS::Logs::LogGroup", "History").values()
    assert history["Properties"]["RetentionInDays"] == 731
    assert "KmsKeyId" in history["Properties"]
    [query] = of_type(seed, "AWS::Logs::QueryDefinition").values()
    assert "execution-id" in query["Properties"]["QueryString"]


def test_the_saved_query_finds_the_object_version_in_the_triggers_log_line(
    seed: Synthesized, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the query's parse pattern, in Python's spelling of named groups
    [query] = of_type(seed, "AWS::Logs::QueryDefinition").values()
    assert len(query["Properties"]["LogGroupNames"]) == 2  # the history and the trigger's log
    pattern = re.search(r"parse @message /(.+)/", query["Properties"]["QueryString"])
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
