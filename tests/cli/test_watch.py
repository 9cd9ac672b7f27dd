"""``s3vp watch``: CodePipeline and CodeBuild answered by botocore's Stubber, the build log by moto's CloudWatch Logs.

Time is a fake clock: ``sleep`` moves it forward (and can add log lines, or press Ctrl-C); nothing really sleeps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from s3_validated_pipeline.cli import _aws, _watch
from tests.cli.conftest import REGION, FakeSession, run, use_session

PIPELINE = "app-pipeline"
VERSION = "version-one"
BUILD = "app-validate:0f1e2d3c-aaaa-bbbb-cccc-000000000001"
LOG_GROUP = "/aws/codebuild/app-validate"
LOG_STREAM = "0f1e2d3c-aaaa-bbbb-cccc-000000000001"
T0 = datetime(2026, 12, 1, 15, 0, 0, tzinfo=timezone.utc)
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


@dataclass
class FakeClock:
    """``monotonic`` and ``sleep`` without waiting; ``on_sleep`` runs at each sleep (with the sleep's number)."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[int], None] | None = None

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))
        self.now += seconds


@dataclass
class Aws:
    pipeline: Stubber
    build: Stubber
    logs: Any
    clock: FakeClock
    calls: list[str]

    def log(self, *lines: str) -> None:
        """Lines the build writes to its log, one event each, as CodeBuild does."""
        stamp = int(time.time() * 1000)
        self.logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=LOG_STREAM,
            logEvents=[{"timestamp": stamp + i, "message": line + "\n"} for i, line in enumerate(lines)],
        )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        codepipeline = boto3.client("codepipeline", **CREDENTIALS)
        codebuild = boto3.client("codebuild", **CREDENTIALS)
        logs = boto3.client("logs", **CREDENTIALS)
        logs.create_log_group(logGroupName=LOG_GROUP)
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=LOG_STREAM)
        calls: list[str] = []
        for client in (codepipeline, codebuild, logs):
            client.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
        clock = FakeClock()
        use_session(monkeypatch, FakeSession({"codepipeline": codepipeline, "codebuild": codebuild, "logs": logs}))
        monkeypatch.setattr(_watch, "DEFAULT_CLOCK", clock)
        with Stubber(codepipeline) as pipeline_stub, Stubber(codebuild) as build_stub:
            yield Aws(pipeline_stub, build_stub, logs, clock, calls)
            pipeline_stub.assert_no_pending_responses()
            build_stub.assert_no_pending_responses()


# ------------------------------------------------------------------------------------------------------------------
# What CodePipeline and CodeBuild answer


def summary(execution_id: str, status: str, revision: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {"pipelineExecutionId": execution_id, "status": status, "startTime": T0}
    if revision:
        item["sourceRevisions"] = [{"actionName": "Source", "revisionId": revision}]
    return item


def expect_list(stub: Stubber, summaries: list[dict[str, Any]]) -> None:
    stub.add_response(
        "list_pipeline_executions",
        {"pipelineExecutionSummaries": summaries},
        {"pipelineName": PIPELINE, "maxResults": 50},
    )


def expect_execution(stub: Stubber, execution_id: str, status: str, status_summary: str | None = None) -> None:
    execution: dict[str, Any] = {"pipelineName": PIPELINE, "pipelineExecutionId": execution_id, "status": status}
    if status_summary:
        execution["statusSummary"] = status_summary
    stub.add_response(
        "get_pipeline_execution",
        {"pipelineExecution": execution},
        {"pipelineName": PIPELINE, "pipelineExecutionId": execution_id},
    )


def expect_state(
    stub: Stubber, execution_id: str, stages: dict[str, str], queued: dict[str, list[str]] | None = None
) -> None:
    states = []
    for name in ("Source", "Validate"):
        state: dict[str, Any] = {"stageName": name}
        if name in stages:
            state["latestExecution"] = {"pipelineExecutionId": execution_id, "status": stages[name]}
        if queued and name in queued:
            state["inboundExecutions"] = [
                {"pipelineExecutionId": waiting, "status": "InProgress"} for waiting in queued[name]
            ]
            state.setdefault("latestExecution", {"pipelineExecutionId": "exec-earlier", "status": "InProgress"})
        states.append(state)
    stub.add_response("get_pipeline_state", {"pipelineName": PIPELINE, "stageStates": states}, {"name": PIPELINE})


def action(
    execution_id: str,
    stage: str,
    status: str,
    *,
    seconds: int = 0,
    offset: int = 0,
    build: str | None = None,
    summary_text: str | None = None,
    version: str | None = None,
) -> dict[str, Any]:
    provider = "CodeBuild" if build else "S3"
    detail: dict[str, Any] = {
        "pipelineExecutionId": execution_id,
        "actionExecutionId": f"{execution_id}-{stage}",
        "stageName": stage,
        "actionName": stage,
        "status": status,
        "startTime": T0 + timedelta(seconds=offset),
        "lastUpdateTime": T0 + timedelta(seconds=offset + seconds),
        "input": {
            "actionTypeId": {
                "category": "Build" if build else "Source",
                "owner": "AWS",
                "provider": provider,
                "version": "1",
            }
        },
        "output": {"outputVariables": {"VersionId": version} if version else {}},
    }
    result: dict[str, Any] = {}
    if build:
        result["externalExecutionId"] = build
    if summary_text:
        result["externalExecutionSummary"] = summary_text
    if result:
        detail["output"]["executionResult"] = result
    return detail


def expect_actions(stub: Stubber, execution_id: str, details: list[dict[str, Any]]) -> None:
    stub.add_response(
        "list_action_executions",
        {"actionExecutionDetails": list(reversed(details))},  # newest first, as the API lists them
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": execution_id}},
    )


def expect_build(stub: Stubber) -> None:
    stub.add_response(
        "batch_get_builds",
        {"builds": [{"id": BUILD, "logs": {"groupName": LOG_GROUP, "streamName": LOG_STREAM}}]},
        {"ids": [BUILD]},
    )


def source_done(execution_id: str) -> dict[str, Any]:
    return action(execution_id, "Source", "Succeeded", seconds=4, version=VERSION)


# ------------------------------------------------------------------------------------------------------------------
# Outcomes


def test_a_succeeded_execution_is_found_by_version_shown_live_and_exits_0(aws: Aws) -> None:
    p = aws.pipeline
    # 1st look: the upload's execution has not started yet
    expect_list(p, [summary("exec-old", "Succeeded", "version-zero")])
    # 2nd look: there it is; the Source action runs
    expect_list(p, [summary("exec-1", "InProgress", VERSION), summary("exec-old", "Succeeded", "version-zero")])
    expect_execution(p, "exec-1", "InProgress")
    expect_state(p, "exec-1", {"Source": "InProgress"})
    expect_actions(p, "exec-1", [action("exec-1", "Source", "InProgress")])
    # 3rd: the validate build runs and writes its log
    expect_execution(p, "exec-1", "InProgress")
    expect_state(p, "exec-1", {"Source": "Succeeded", "Validate": "InProgress"})
    expect_actions(p, "exec-1", [source_done("exec-1"), action("exec-1", "Validate", "InProgress", build=BUILD)])
    expect_build(aws.build)
    # 4th: done; the tail of the log is read once more
    expect_execution(p, "exec-1", "Succeeded")
    expect_state(p, "exec-1", {"Source": "Succeeded", "Validate": "Succeeded"})
    expect_actions(
        p,
        "exec-1",
        [source_done("exec-1"), action("exec-1", "Validate", "Succeeded", offset=5, seconds=95, build=BUILD)],
    )

    def build_writes(sleep: int) -> None:
        if sleep == 2:
            aws.log("[Container] Running command npm ci", "added 120 packages")
        if sleep == 3:
            aws.log("ACCEPTED: source.zip: 0 finding(s)")

    aws.log("[Container] Entering phase INSTALL")
    aws.clock.on_sleep = build_writes
    code, out, err = run("watch", "--pipeline", PIPELINE, "--version-id", VERSION)
    assert code == 0, err
    lines = out.splitlines()
    assert f"Waiting for the execution of object version {VERSION} to start..." in lines
    assert f"Execution exec-1 of {PIPELINE} (object version {VERSION})" in lines
    assert "Stage Source: InProgress" in lines
    assert "  Source: Succeeded after 4s" in lines
    assert f"  Validate: InProgress (build {BUILD})" in lines
    assert "  Validate: Succeeded after 1m 35s" in lines
    assert "Stage Validate: Succeeded" in lines
    log = [line for line in lines if line.startswith("    | ")]
    assert log == [
        "    | [Container] Entering phase INSTALL",
        "    | [Container] Running command npm ci",
        "    | added 120 packages",
        "    | ACCEPTED: source.zip: 0 finding(s)",
    ]
    assert lines[-1] == "Execution exec-1 Succeeded"
    assert aws.clock.sleeps == [5.0, 5.0, 5.0]


REJECTED_LOG = (
    "[Container] Running command python3 /work/check.py /work/source.zip --extract .",
    "REJECTED: source.zip: 2 finding(s); 3 entries, 120 bytes uncompressed, 300 bytes zipped, sha256 abc",
    "  [forbidden-file] server.pem: a private key or certificate file",
    "  [required-file] package.json: missing",
    "[Container] Command did not exit successfully python3 /work/check.py exit status 1",
)


def failed_execution(aws: Aws) -> None:
    p = aws.pipeline
    expect_execution(p, "exec-1", "InProgress")
    expect_state(p, "exec-1", {"Source": "Succeeded", "Validate": "InProgress"})
    expect_actions(p, "exec-1", [source_done("exec-1"), action("exec-1", "Validate", "InProgress", build=BUILD)])
    expect_build(aws.build)
    expect_execution(p, "exec-1", "Failed", "Stage Validate failed")
    expect_state(p, "exec-1", {"Source": "Succeeded", "Validate": "Failed"})
    failed = action(
        "exec-1", "Validate", "Failed", seconds=42, build=BUILD, summary_text="Build terminated with state: FAILED"
    )
    expect_actions(p, "exec-1", [source_done("exec-1"), failed])


def test_a_failed_validation_streams_the_log_and_prints_the_summary_and_findings(aws: Aws) -> None:
    expect_list(aws.pipeline, [summary("exec-1", "InProgress", VERSION)])
    failed_execution(aws)
    aws.log(*REJECTED_LOG[:2])
    aws.clock.on_sleep = lambda sleep: aws.log(*REJECTED_LOG[2:])
    code, out, _ = run("watch", "--pipeline", PIPELINE, "--version-id", VERSION)
    assert code == 1
    lines = out.splitlines()
    assert "    |   [forbidden-file] server.pem: a private key or certificate file" in lines  # streamed
    assert "  Validate: Failed after 42s" in lines
    end = lines[lines.index("Execution exec-1 Failed: Stage Validate failed") :]
    assert end == [
        "Execution exec-1 Failed: Stage Validate failed",
        "Validate failed: Build terminated with state: FAILED",
        "Package check findings:",
        "  [forbidden-file] server.pem: a private key or certificate file",
        "  [required-file] package.json: missing",
    ]


def test_json_reports_the_failure_and_findings_without_streaming(aws: Aws) -> None:
    failed_execution(aws)
    aws.log(*REJECTED_LOG)
    code, out, _ = run("watch", "--pipeline", PIPELINE, "--execution-id", "exec-1", "--json")
    assert code == 1
    document = json.loads(out)  # one JSON object and nothing else
    assert (document["execution_id"], document["status"], document["outcome"]) == ("exec-1", "Failed", "failed")
    assert document["exit_code"] == 1
    assert [a["summary"] for a in document["failed_actions"]] == ["Build terminated with state: FAILED"]
    assert document["findings"] == [
        "  [forbidden-file] server.pem: a private key or certificate file",
        "  [required-file] package.json: missing",
    ]


def test_a_superseded_execution_shows_its_place_in_the_queue_then_exits_3(aws: Aws) -> None:
    p = aws.pipeline
    expect_execution(p, "exec-2", "InProgress")
    expect_state(p, "exec-2", {}, queued={"Source": ["exec-9", "exec-2"]})
    expect_actions(p, "exec-2", [])
    expect_execution(p, "exec-2", "Superseded")
    expect_state(p, "exec-2", {})
    expect_actions(p, "exec-2", [])
    code, out, _ = run("watch", "--pipeline", PIPELINE, "--execution-id", "exec-2")
    assert code == 3
    lines = out.splitlines()
    assert "Queued: position 2 before stage Source; stage Source is running execution exec-earlier" in lines
    assert "Execution exec-2 Superseded" in lines
    assert any("A newer execution took this one's place" in line for line in lines)


def test_a_cancelled_execution_exits_3(aws: Aws) -> None:
    expect_execution(aws.pipeline, "exec-2", "Cancelled")
    expect_state(aws.pipeline, "exec-2", {})
    expect_actions(aws.pipeline, "exec-2", [])
    assert run("watch", "--pipeline", PIPELINE, "--execution-id", "exec-2")[0] == 3


def test_watching_times_out_with_exit_4_and_leaves_the_execution_running(aws: Aws) -> None:
    for _ in range(3):  # at 0s, 5s and 10s
        expect_execution(aws.pipeline, "exec-1", "InProgress")
        expect_state(aws.pipeline, "exec-1", {"Source": "InProgress"})
        expect_actions(aws.pipeline, "exec-1", [action("exec-1", "Source", "InProgress")])
    code, _, err = run("watch", "--pipeline", PIPELINE, "--execution-id", "exec-1", "--timeout", "10s")
    assert code == 4
    assert "Timed out after 10s: execution exec-1 is still InProgress; it runs on" in err
    assert aws.clock.sleeps == [5.0, 5.0]
    assert not [call for call in aws.calls if call.startswith("Stop")]


def test_waiting_for_an_execution_that_never_starts_times_out(aws: Aws) -> None:
    for _ in range(3):
        expect_list(aws.pipeline, [])
    code, out, err = run(
        "watch", "--pipeline", PIPELINE, "--version-id", VERSION, "--timeout", "1m", "--interval", "30"
    )
    assert code == 4
    assert out.count("Waiting for the execution") == 1
    assert f"no execution started for version {VERSION}" in err


def test_ctrl_c_stops_watching_not_the_pipeline_and_exits_130(aws: Aws) -> None:
    expect_execution(aws.pipeline, "exec-1", "InProgress")
    expect_state(aws.pipeline, "exec-1", {"Source": "InProgress"})
    expect_actions(aws.pipeline, "exec-1", [action("exec-1", "Source", "InProgress")])

    def press_ctrl_c(sleep: int) -> None:
        raise KeyboardInterrupt

    aws.clock.on_sleep = press_ctrl_c
    code, _, err = run("watch", "--pipeline", PIPELINE, "--execution-id", "exec-1")
    assert code == 130
    assert "Stopped watching (Ctrl-C); execution exec-1 runs on: nothing was stopped." in err
    assert f"s3vp watch --pipeline {PIPELINE} --execution-id exec-1" in err
    assert aws.calls == ["GetPipelineExecution", "GetPipelineState", "ListActionExecutions"]


# ------------------------------------------------------------------------------------------------------------------
# Finding the execution, options and errors


def test_the_version_is_found_through_the_source_action_when_the_execution_has_no_revision(aws: Aws) -> None:
    p = aws.pipeline
    expect_list(p, [summary("exec-2", "InProgress", None), summary("exec-1", "Succeeded", None)])
    expect_actions(p, "exec-2", [action("exec-2", "Source", "Succeeded", version="other")])
    expect_actions(p, "exec-1", [source_done("exec-1")])
    expect_execution(p, "exec-1", "Succeeded")
    expect_state(p, "exec-1", {})
    expect_actions(p, "exec-1", [source_done("exec-1")])
    code, out, _ = run("watch", "--pipeline", PIPELINE, "--version-id", VERSION)
    assert code == 0
    assert "Execution exec-1 Succeeded" in out


def test_with_stack_the_pipeline_name_comes_from_the_outputs(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    def outputs(session: Any, stack: str, pipeline: str | None = None) -> _aws.PipelineOutputs:
        assert (stack, pipeline) == ("AppStack", None)
        return _aws.PipelineOutputs(stack, "bucket", "source.zip", "arn:k", PIPELINE)

    monkeypatch.setattr(_aws, "read_stack_outputs", outputs)
    expect_list(aws.pipeline, [summary("exec-3", "Succeeded", VERSION)])  # no version: the newest execution
    expect_execution(aws.pipeline, "exec-3", "Succeeded")
    expect_state(aws.pipeline, "exec-3", {})
    expect_actions(aws.pipeline, "exec-3", [])
    code, out, _ = run("watch", "--stack", "AppStack")
    assert code == 0
    assert "Watching the newest execution of app-pipeline" in out


def test_an_unknown_execution_is_a_clear_error(aws: Aws) -> None:
    aws.pipeline.add_client_error("get_pipeline_execution", service_error_code="PipelineExecutionNotFoundException")
    code, _, err = run("watch", "--pipeline", PIPELINE, "--execution-id", "nope")
    assert code == 2
    assert f"the pipeline '{PIPELINE}' has no execution 'nope'" in err


def test_an_unreadable_log_is_noted_and_the_watching_goes_on(aws: Aws) -> None:
    p = aws.pipeline
    expect_execution(p, "exec-1", "InProgress")
    expect_state(p, "exec-1", {})
    expect_actions(p, "exec-1", [action("exec-1", "Validate", "InProgress", build=BUILD)])
    aws.build.add_client_error("batch_get_builds", service_error_code="AccessDeniedException")
    expect_execution(p, "exec-1", "Succeeded")
    expect_state(p, "exec-1", {})
    expect_actions(p, "exec-1", [action("exec-1", "Validate", "Succeeded", build=BUILD)])
    code, out, _ = run("watch", "--pipeline", PIPELINE, "--execution-id", "exec-1")
    assert code == 0
    assert out.count(f"cannot read the log of build {BUILD}") == 1
    assert "logs:GetLogEvents" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "pass --stack NAME, --pipeline NAME, or both"),
        (("--pipeline", "p", "--version-id", "v", "--execution-id", "e"), "not both"),
        (("--pipeline", "p", "--timeout", "soon"), "is not a duration"),
        (("--pipeline", "p", "--timeout", "0m"), "not a positive duration"),
    ],
)
def test_usage_errors(aws: Aws, args: tuple[str, ...], message: str) -> None:
    code, _, err = run("watch", *args)
    assert code == 2
    assert message in err


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800.0), ("2h", 7200.0), ("1h30m", 5400.0), ("90s", 90.0), ("45", 45.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert _watch.parse_duration(text) == seconds


def test_the_real_clock_is_the_default() -> None:
    clock = _watch.SystemClock()
    assert clock.monotonic() <= time.monotonic()
    clock.sleep(0)


ARTIFACT_BUCKET = "app-artifacts"
ATTESTED_KEY = "app-pipeline/Attested/AbCdEfG"
ATTEST_STREAM = "attest-0001"


def attested_execution(aws: Aws) -> None:
    """exec-1 has succeeded: Source, then Validate and its second action Attest, which wrote the Attested artifact."""
    aws.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=ATTEST_STREAM)
    validate = action("exec-1", "Validate", "Succeeded", offset=5, seconds=60, build=BUILD)
    validate["output"]["executionResult"]["logStreamARN"] = (
        f"arn:aws:logs:{REGION}:123456789012:log-group:{LOG_GROUP}:log-stream:{LOG_STREAM}"
    )
    attest = action("exec-1", "Validate", "Succeeded", offset=70, seconds=30, build="app-attest:0002")
    attest["actionName"] = "Attest"
    attest["output"]["executionResult"]["logStreamARN"] = (
        f"arn:aws:logs:{REGION}:123456789012:log-group:{LOG_GROUP}:log-stream:{ATTEST_STREAM}"
    )
    attest["output"]["outputArtifacts"] = [
        {"name": "Attested", "s3location": {"bucket": ARTIFACT_BUCKET, "key": ATTESTED_KEY}}
    ]
    p = aws.pipeline
    expect_execution(p, "exec-1", "Succeeded")
    expect_state(p, "exec-1", {"Source": "Succeeded", "Validate": "Succeeded"})
    expect_actions(p, "exec-1", [source_done("exec-1"), validate, attest])


def test_a_signed_provenance_is_shown_where_it_is_kept(aws: Aws) -> None:
    # GIVEN an execution whose Attest action signed the provenance into the Attested artifact
    attested_execution(aws)
    # WHEN it is watched
    code, out, err = run("watch", "--pipeline", PIPELINE, "--execution-id", "exec-1")
    # THEN the Attest action's line is followed by where the artifact is and how to check it
    assert code == 0, err
    lines = out.splitlines()
    attest = lines.index("  Validate/Attest: Succeeded after 30s")
    assert lines[attest + 1] == (
        f"    Signed provenance in s3://{ARTIFACT_BUCKET}/{ATTESTED_KEY} (a zip): copy it, then `s3vp verify` it"
    )
    assert sum("Signed provenance" in line for line in lines) == 1  # Validate's output is not the provenance


def test_json_gives_the_provenance_of_the_attest_action_only(aws: Aws) -> None:
    attested_execution(aws)
    code, out, _ = run("watch", "--pipeline", PIPELINE, "--execution-id", "exec-1", "--json")
    assert code == 0
    provenance = {a["action"]: a["provenance"] for a in json.loads(out)["actions"]}
    assert provenance == {"Source": None, "Validate": None, "Attest": f"s3://{ARTIFACT_BUCKET}/{ATTESTED_KEY}"}


# ------------------------------------------------------------------------------------------------------------------
# A wave: parallel actions of one stage, one of them in another Region

US_BUILD = "prod-us:0f1e2d3c-aaaa-bbbb-cccc-000000000002"
EU_BUILD = "prod-eu:0f1e2d3c-aaaa-bbbb-cccc-000000000003"
OTHER_REGION = "us-east-1"


def wave_action(
    target: str, status: str, build: str, region: str, *, summary_text: str | None = None
) -> dict[str, Any]:
    detail = action("exec-1", "DeployProduction", status, seconds=30, offset=10, build=build, summary_text=summary_text)
    detail["actionName"] = target
    detail["actionExecutionId"] = f"exec-1-{target}"
    group, stream = f"/aws/codebuild/{target}", build.split(":")[1]
    detail["output"]["executionResult"]["logStreamARN"] = (
        f"arn:aws:logs:{region}:111111111111:log-group:{group}:log-stream:{stream}"
    )
    return detail


def test_a_wave_follows_each_target_and_reads_a_log_in_another_region_naming_its_target(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a wave whose two targets build at once: ProdUS's log in the pipeline's Region, ProdEU's in another
    other_logs = boto3.client("logs", **{**CREDENTIALS, "region_name": OTHER_REGION})
    for client, target, build in ((aws.logs, "ProdUS", US_BUILD), (other_logs, "ProdEU", EU_BUILD)):
        client.create_log_group(logGroupName=f"/aws/codebuild/{target}")
        client.create_log_stream(logGroupName=f"/aws/codebuild/{target}", logStreamName=build.split(":")[1])
        client.put_log_events(
            logGroupName=f"/aws/codebuild/{target}",
            logStreamName=build.split(":")[1],
            logEvents=[{"timestamp": int(time.time() * 1000), "message": f"deploying {target}\n"}],
        )
    clients = {"codepipeline": aws.pipeline.client, "codebuild": aws.build.client, "logs": aws.logs}
    use_session(monkeypatch, FakeSession({**clients, f"logs@{OTHER_REGION}": other_logs}))
    p = aws.pipeline
    expect_list(p, [summary("exec-1", "InProgress", VERSION)])
    expect_execution(p, "exec-1", "InProgress")
    expect_state(p, "exec-1", {"Source": "Succeeded"})
    running = [
        wave_action("ProdUS", "InProgress", US_BUILD, REGION),
        wave_action("ProdEU", "InProgress", EU_BUILD, OTHER_REGION),
    ]
    expect_actions(p, "exec-1", [source_done("exec-1"), *running])
    # WHEN ProdEU fails and fails the wave
    expect_execution(p, "exec-1", "Failed", "Stage DeployProduction failed")
    expect_state(p, "exec-1", {"Source": "Succeeded"})
    failed = wave_action("ProdEU", "Failed", EU_BUILD, OTHER_REGION, summary_text="Build terminated with state: FAILED")
    expect_actions(p, "exec-1", [source_done("exec-1"), wave_action("ProdUS", "Succeeded", US_BUILD, REGION), failed])
    code, out, _ = run("watch", "--pipeline", PIPELINE, "--version-id", VERSION)
    # THEN both targets are followed by name, each log line names its target, ProdEU's read in its own Region
    assert code == 1
    lines = out.splitlines()
    assert f"  DeployProduction/ProdUS: InProgress (build {US_BUILD})" in lines
    assert f"  DeployProduction/ProdEU: InProgress (build {EU_BUILD})" in lines
    assert "    ProdUS | deploying ProdUS" in lines
    assert "    ProdEU | deploying ProdEU" in lines
    # AND the failure names the target that failed
    assert "  DeployProduction/ProdEU: Failed after 30s" in lines
    assert "DeployProduction/ProdEU failed: Build terminated with state: FAILED" in lines
