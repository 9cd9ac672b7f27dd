"""``s3vp history``: CodePipeline's execution APIs (which moto lacks) answered by botocore's Stubber."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.cli.conftest import REGION, FakeSession, run, use_session

PIPELINE = "app-pipeline"
T0 = datetime(2026, 12, 1, 15, 0, 0, tzinfo=timezone.utc)


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stubber, Stubber]]:
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
    codepipeline = boto3.client("codepipeline", **credentials)
    cloudformation = boto3.client("cloudformation", **credentials)
    use_session(monkeypatch, FakeSession({"codepipeline": codepipeline, "cloudformation": cloudformation}))
    with Stubber(codepipeline) as pipeline_stub, Stubber(cloudformation) as stack_stub:
        yield pipeline_stub, stack_stub
        pipeline_stub.assert_no_pending_responses()
        stack_stub.assert_no_pending_responses()


def summary(execution_id: str, status: str, start: datetime, end: datetime, revision: str | None = None) -> Any:
    item: dict[str, Any] = {
        "pipelineExecutionId": execution_id,
        "status": status,
        "startTime": start,
        "lastUpdateTime": end,
        "trigger": {"triggerType": "StartPipelineExecution"},
    }
    if revision:
        item["sourceRevisions"] = [{"actionName": "Source", "revisionId": revision}]
    return item


def source_action(execution_id: str, version: str) -> Any:
    return {
        "pipelineExecutionId": execution_id,
        "actionExecutionId": f"{execution_id}-source",
        "stageName": "Source",
        "actionName": "Source",
        "status": "Succeeded",
        "output": {"outputVariables": {"VersionId": version, "ETag": "e"}},
    }


def validate_action(execution_id: str) -> Any:
    return {
        "pipelineExecutionId": execution_id,
        "actionExecutionId": f"{execution_id}-validate",
        "stageName": "Validate",
        "actionName": "Validate",
        "status": "Failed",
        "output": {"outputVariables": {}},
    }


def expect_executions(stub: Stubber, summaries: list[Any]) -> None:
    stub.add_response("list_pipeline_executions", {"pipelineExecutionSummaries": summaries}, {"pipelineName": PIPELINE})


def expect_actions(stub: Stubber, execution_id: str, details: list[Any]) -> None:
    stub.add_response(
        "list_action_executions",
        {"actionExecutionDetails": details},
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": execution_id}},
    )


def test_history_pairs_each_execution_with_its_source_version(clients: tuple[Stubber, Stubber]) -> None:
    pipeline, _ = clients
    expect_executions(
        pipeline,
        [
            summary("exec-2", "Failed", T0.replace(minute=10), T0.replace(minute=14, second=5)),
            summary("exec-1", "Succeeded", T0, T0.replace(minute=3, second=30)),
        ],
    )
    expect_actions(pipeline, "exec-2", [validate_action("exec-2"), source_action("exec-2", "version-two")])
    expect_actions(pipeline, "exec-1", [source_action("exec-1", "version-one")])
    code, out, err = run("history", "--pipeline", PIPELINE, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert [(e["execution_id"], e["status"], e["version_id"]) for e in document] == [
        ("exec-2", "Failed", "version-two"),
        ("exec-1", "Succeeded", "version-one"),
    ]
    assert document[0]["duration_seconds"] == 245.0
    assert document[1]["start"] == "2026-12-01T15:00:00+00:00"


def test_history_text_shows_status_version_start_and_duration(clients: tuple[Stubber, Stubber]) -> None:
    pipeline, _ = clients
    expect_executions(pipeline, [summary("exec-1", "Succeeded", T0, T0.replace(minute=3, second=30))])
    expect_actions(pipeline, "exec-1", [source_action("exec-1", "version-one")])
    code, out, _ = run("history", "--pipeline", PIPELINE)
    header, row = out.splitlines()
    assert code == 0
    assert header.split() == ["EXECUTION", "STATUS", "VERSION", "STARTED", "(UTC)", "DURATION"]
    assert row.split() == ["exec-1", "Succeeded", "version-one", "2026-12-01", "15:00:00", "3m", "30s"]


def test_history_falls_back_to_the_executions_source_revision(clients: tuple[Stubber, Stubber]) -> None:
    pipeline, _ = clients
    expect_executions(pipeline, [summary("exec-1", "InProgress", T0, T0, revision="version-from-revision")])
    expect_actions(pipeline, "exec-1", [])
    code, out, _ = run("history", "--pipeline", PIPELINE, "--json")
    document = json.loads(out)
    assert code == 0
    assert document[0]["version_id"] == "version-from-revision"
    assert document[0]["end"] is None  # still running: the duration runs until now


def test_history_with_stack_reads_the_pipeline_name_from_the_outputs(clients: tuple[Stubber, Stubber]) -> None:
    pipeline, stack = clients
    outputs = {
        "PipelineSourceBucketName1A2B3C4D": "bucket",
        "PipelineObjectKeyA1B2C3D4": "source.zip",
        "PipelineSourceKeyArnDEADBEEF": "arn:aws:kms:eu-west-1:111111111111:key/k",
        "PipelinePipelineName0F0F0F0F": PIPELINE,
    }
    stack.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "AppStack",
                    "CreationTime": T0,
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
                }
            ]
        },
        {"StackName": "AppStack"},
    )
    expect_executions(pipeline, [])
    code, out, _ = run("history", "--stack", "AppStack")
    assert code == 0
    assert out.strip() == f"No executions of {PIPELINE} yet."


def test_history_stops_after_n_executions(clients: tuple[Stubber, Stubber]) -> None:
    pipeline, _ = clients
    expect_executions(pipeline, [summary(f"exec-{i}", "Succeeded", T0, T0) for i in range(3)])
    expect_actions(pipeline, "exec-0", [source_action("exec-0", "v0")])
    code, out, _ = run("history", "--pipeline", PIPELINE, "-n", "1", "--json")
    assert code == 0
    assert [e["execution_id"] for e in json.loads(out)] == ["exec-0"]


def test_fails_when_the_pipeline_does_not_exist(clients: tuple[Stubber, Stubber]) -> None:
    pipeline, _ = clients
    pipeline.add_client_error("list_pipeline_executions", service_error_code="PipelineNotFoundException")
    code, _, err = run("history", "--pipeline", "nope")
    assert code == 2
    assert f"no pipeline named 'nope' in {REGION}" in err


def test_access_denied_names_the_codepipeline_permissions(clients: tuple[Stubber, Stubber]) -> None:
    pipeline, _ = clients
    pipeline.add_client_error(
        "list_pipeline_executions", service_error_code="AccessDeniedException", http_status_code=400
    )
    code, _, err = run("history", "--pipeline", PIPELINE)
    assert code == 2
    assert "codepipeline:ListPipelineExecutions" in err


def test_fails_without_stack_or_pipeline(clients: tuple[Stubber, Stubber]) -> None:
    code, _, err = run("history")
    assert code == 2
    assert "pass --stack NAME, --pipeline NAME, or both" in err
