"""``--pipeline NAME`` with ``--stack``: choosing one of the pipelines a stack holds (``examples/fleet``: eight to a
stack on a shared ``PipelineFoundation``), for ``push``, ``watch``, ``history`` and ``redrive``.

CloudFormation, S3, KMS and SQS are moto's; CodePipeline (whose execution APIs moto lacks) answers from a Stubber.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from s3_validated_pipeline.cli import _redrive, _rules, _watch
from s3_validated_pipeline.cli._aws import AwsError, find_pipeline_outputs
from s3_validated_pipeline.cli._package import build_package
from tests.cli.conftest import REGION, FakeSession, run, use_session

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}
STACK = "FleetTeams1"
BUCKET = "fleet-source"
TEAMS = {"team01": "fleet-team01", "team02": "fleet-team02"}
"""Construct id -> pipeline name, as ``examples/fleet`` makes them on a foundation named ``fleet``."""


def key_of(team: str) -> str:
    return f"teams/{team}/source.zip"


def fleet_outputs(kms_key: str = "arn:aws:kms:eu-west-1:111111111111:key/k") -> dict[str, str]:
    """The outputs of two pipelines on one foundation, as CDK names them (one bucket and KMS key, a key each)."""
    outputs: dict[str, str] = {}
    for index, (team, name) in enumerate(TEAMS.items()):
        outputs |= {
            f"{team}SourceBucketNameB3EE651{index}": BUCKET,
            f"{team}ObjectKey47BA1CB{index}": key_of(team),
            f"{team}SourceKeyArn3323EDE{index}": kms_key,
            f"{team}PipelineNameC735E99{index}": name,
            f"{team}UploadCommand4188127{index}": f"aws s3 cp package.zip s3://{BUCKET}/{key_of(team)} ...",
        }
    return outputs


def create_stack(cloudformation: Any, name: str, outputs: dict[str, str], resources: tuple[str, ...] = ()) -> None:
    """A stack with these outputs and an SQS queue per logical id in ``resources`` (moto needs one resource)."""
    template = {
        "Resources": {logical: {"Type": "AWS::SQS::Queue"} for logical in resources or ("Placeholder",)},
        "Outputs": {output: {"Value": value} for output, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def queue_url(cloudformation: Any, stack: str, logical_id: str) -> str:
    resources = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return str(next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == logical_id))


# ------------------------------------------------------------------------------------------------------------------
# Picking the outputs


def test_pipeline_chooses_the_outputs_of_the_pipeline_so_named() -> None:
    outputs = {
        f"{team}{suffix}1A2B3C4D": f"{team}-{suffix}"
        for team in TEAMS
        for suffix in ("SourceBucketName", "ObjectKey", "SourceKeyArn")
    }
    outputs |= {f"{team}PipelineName0F0F0F0F": name for team, name in TEAMS.items()}
    for team, name in TEAMS.items():
        found = find_pipeline_outputs(STACK, outputs, pipeline=name)
        assert (found.bucket, found.key, found.kms_key) == (
            f"{team}-SourceBucketName",
            f"{team}-ObjectKey",
            f"{team}-SourceKeyArn",
        )
        assert (found.pipeline, found.construct) == (name, team)


def test_fails_when_the_stack_holds_several_pipelines_and_none_is_named() -> None:
    with pytest.raises(AwsError) as raised:
        find_pipeline_outputs(STACK, fleet_outputs())
    assert str(raised.value) == (
        "the stack 'FleetTeams1' holds more than one ValidatedS3Pipeline (fleet-team01, fleet-team02): "
        "pass --pipeline NAME to choose one"
    )


def test_fails_when_no_pipeline_of_the_stack_has_the_name() -> None:
    with pytest.raises(AwsError) as raised:
        find_pipeline_outputs(STACK, fleet_outputs(), pipeline="fleet-team09")
    assert str(raised.value) == (
        "the stack 'FleetTeams1' holds no ValidatedS3Pipeline named 'fleet-team09'; "
        "its pipelines: fleet-team01, fleet-team02"
    )


def test_a_single_pipeline_is_found_without_a_name_and_checked_against_one() -> None:
    one = {k: v for k, v in fleet_outputs().items() if k.startswith("team01")}
    assert find_pipeline_outputs(STACK, one).pipeline == "fleet-team01"
    assert find_pipeline_outputs(STACK, one, pipeline="fleet-team01").key == key_of("team01")
    with pytest.raises(AwsError, match=r"no ValidatedS3Pipeline named 'fleet-team02'; its pipelines: fleet-team01$"):
        find_pipeline_outputs(STACK, one, pipeline="fleet-team02")


def test_a_pipeline_deployed_before_the_name_output_takes_the_name_given() -> None:
    one = {"SourceBucketName": "b", "ObjectKey": "k", "SourceKeyArn": "arn"}
    assert find_pipeline_outputs("Old", one, pipeline="named-by-hand").pipeline == "named-by-hand"
    two = {f"{p}{suffix}": "v" for p in ("A", "B") for suffix in ("SourceBucketName", "ObjectKey", "SourceKeyArn")}
    with pytest.raises(AwsError, match="pass --bucket, --key and --kms-key to choose one"):
        find_pipeline_outputs("Old", two)


# ------------------------------------------------------------------------------------------------------------------
# push


@dataclass
class PushAws:
    s3: Any
    kms_key: str
    rules_read: list[dict[str, Any]]


@pytest.fixture
def push_aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[PushAws]:
    """The foundation's bucket (versioned, SSE-KMS) and the team stack's outputs in moto; the deployed rules are the
    defaults (test_cli_rules.py reads real buildspecs), and each reading is recorded."""
    rules_read: list[dict[str, Any]] = []

    def read_pipeline_rules(session: Any, stack: str, **kwargs: Any) -> _rules.CheckRules:
        rules_read.append({"stack": stack, **kwargs})
        return _rules.CheckRules(source="the deployed pipeline")

    monkeypatch.setattr(_rules, "read_pipeline_rules", read_pipeline_rules)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        kms_key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        create_stack(boto3.client("cloudformation", region_name=REGION), STACK, fleet_outputs(kms_key))
        yield PushAws(s3, kms_key, rules_read)


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    (root / "package.json").write_text('{"name": "app"}\n')
    return build_package(root, tmp_path / "package.zip").output


def test_push_with_pipeline_uploads_to_that_pipelines_key_and_checks_with_its_rules(
    push_aws: PushAws, package: Path
) -> None:
    code, out, err = run("push", str(package), "--stack", STACK, "--pipeline", "fleet-team02", "--no-watch", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert (document["pipeline"], document["bucket"], document["key"]) == ("fleet-team02", BUCKET, key_of("team02"))
    head = push_aws.s3.head_object(Bucket=BUCKET, Key=key_of("team02"))
    assert head["VersionId"] == document["version_id"]
    assert head["SSEKMSKeyId"] == push_aws.kms_key
    assert "Versions" not in push_aws.s3.list_object_versions(Bucket=BUCKET, Prefix=key_of("team01"))
    # the local check reads the rules of the same pipeline, as `s3vp package --stack --pipeline` does
    assert [(read["stack"], read["pipeline"]) for read in push_aws.rules_read] == [(STACK, "fleet-team02")]


def test_push_fails_when_the_stack_holds_several_pipelines_and_none_is_named(push_aws: PushAws, package: Path) -> None:
    code, _, err = run("push", str(package), "--stack", STACK, "--no-watch")
    assert code == 2
    assert "holds more than one ValidatedS3Pipeline (fleet-team01, fleet-team02)" in err
    assert "pass --pipeline NAME" in err
    assert "Versions" not in push_aws.s3.list_object_versions(Bucket=BUCKET)


def test_push_fails_when_no_pipeline_has_the_name_and_lists_the_names(push_aws: PushAws, package: Path) -> None:
    code, _, err = run("push", str(package), "--stack", STACK, "--pipeline", "team02", "--no-watch")
    assert code == 2
    assert "holds no ValidatedS3Pipeline named 'team02'; its pipelines: fleet-team01, fleet-team02" in err
    assert push_aws.rules_read == []


def test_push_fails_when_pipeline_is_given_without_stack(aws_env: None, package: Path) -> None:
    target = ("--bucket", BUCKET, "--key", key_of("team01"), "--kms-key", "arn:k")
    code, _, err = run("push", str(package), *target, "--pipeline", "fleet-team01")
    assert code == 2
    assert "--pipeline chooses among the pipelines of --stack: pass --stack NAME too" in err


# ------------------------------------------------------------------------------------------------------------------
# watch and history: the stack's outputs from CloudFormation, the pipeline's executions from CodePipeline (Stubbers)


@dataclass
class Stubs:
    pipeline: Stubber
    stack: Stubber

    def outputs(self, outputs: dict[str, str]) -> None:
        stack = {
            "StackName": STACK,
            "CreationTime": "2026-12-01T00:00:00Z",
            "StackStatus": "CREATE_COMPLETE",
            "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
        }
        self.stack.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": STACK})


class _NoSleep:
    def monotonic(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        raise AssertionError("the execution has ended: nothing to wait for")


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubs]:
    codepipeline = boto3.client("codepipeline", **CREDENTIALS)
    cloudformation = boto3.client("cloudformation", **CREDENTIALS)
    use_session(monkeypatch, FakeSession({"codepipeline": codepipeline, "cloudformation": cloudformation}))
    monkeypatch.setattr(_watch, "DEFAULT_CLOCK", _NoSleep())
    with Stubber(codepipeline) as pipeline_stub, Stubber(cloudformation) as stack_stub:
        yield Stubs(pipeline_stub, stack_stub)
        pipeline_stub.assert_no_pending_responses()
        stack_stub.assert_no_pending_responses()


def expect_succeeded_execution(stub: Stubber, pipeline: str, execution_id: str) -> None:
    stub.add_response(
        "get_pipeline_execution",
        {"pipelineExecution": {"pipelineName": pipeline, "pipelineExecutionId": execution_id, "status": "Succeeded"}},
        {"pipelineName": pipeline, "pipelineExecutionId": execution_id},
    )
    stub.add_response(
        "get_pipeline_state",
        {
            "stageStates": [
                {
                    "stageName": "Validate",
                    "latestExecution": {"pipelineExecutionId": execution_id, "status": "Succeeded"},
                }
            ]
        },
        {"name": pipeline},
    )
    stub.add_response(
        "list_action_executions",
        {"actionExecutionDetails": []},
        {"pipelineName": pipeline, "filter": {"pipelineExecutionId": execution_id}},
    )


def test_watch_with_pipeline_watches_that_pipeline_of_the_stack(stubs: Stubs) -> None:
    stubs.outputs(fleet_outputs())
    expect_succeeded_execution(stubs.pipeline, "fleet-team02", "exec-2")
    code, out, err = run("watch", "--stack", STACK, "--pipeline", "fleet-team02", "--execution-id", "exec-2")
    assert code == 0, err
    assert "Watching execution exec-2 of fleet-team02" in out
    assert "Execution exec-2 Succeeded" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "holds more than one ValidatedS3Pipeline (fleet-team01, fleet-team02): pass --pipeline NAME"),
        (("--pipeline", "fleet-team03"), "no ValidatedS3Pipeline named 'fleet-team03'; its pipelines: fleet-team01"),
    ],
)
def test_watch_fails_unless_pipeline_names_one_of_the_stacks(stubs: Stubs, args: tuple[str, ...], message: str) -> None:
    stubs.outputs(fleet_outputs())
    code, _, err = run("watch", "--stack", STACK, *args)
    assert code == 2
    assert message in " ".join(err.split())


def test_history_with_pipeline_lists_the_executions_of_that_pipeline_of_the_stack(stubs: Stubs) -> None:
    stubs.outputs(fleet_outputs())
    stubs.pipeline.add_response(
        "list_pipeline_executions", {"pipelineExecutionSummaries": []}, {"pipelineName": "fleet-team01"}
    )
    code, out, err = run("history", "--stack", STACK, "--pipeline", "fleet-team01")
    assert code == 0, err
    assert out.strip() == "No executions of fleet-team01 yet."


def test_history_fails_when_the_stack_holds_several_pipelines_and_none_is_named(stubs: Stubs) -> None:
    stubs.outputs(fleet_outputs())
    code, _, err = run("history", "--stack", STACK)
    assert code == 2
    assert "(fleet-team01, fleet-team02): pass --pipeline NAME" in " ".join(err.split())


@pytest.mark.parametrize("command", ["watch", "history"])
def test_watch_and_history_need_stack_or_pipeline(stubs: Stubs, command: str) -> None:
    code, _, err = run(command)
    assert code == 2
    assert "pass --stack NAME, --pipeline NAME, or both" in err


# ------------------------------------------------------------------------------------------------------------------
# redrive: the chosen pipeline's queue, or (on a foundation) the foundation's queue given with --queue-url


@dataclass
class RedriveAws:
    sqs: Any
    cloudformation: Any
    pipeline: Stubber

    def send(self, url: str, team: str, version: str) -> None:
        """The upload event of ``team``'s key, as its trigger rule dead-letters it."""
        detail = {"bucket": {"name": BUCKET}, "object": {"key": key_of(team), "version-id": version}}
        body = {"detail-type": "Object Created", "source": "aws.s3", "detail": detail}
        self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))

    def keys_in(self, url: str) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return sorted(json.loads(m["Body"])["detail"]["object"]["key"] for m in messages.get("Messages", []))


@pytest.fixture
def redrive_aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedriveAws]:
    with mock_aws():
        codepipeline = boto3.client("codepipeline", **CREDENTIALS)
        # moto's clients, but CodePipeline from a stubbed client
        session = FakeSession({"codepipeline": codepipeline}, others=lambda name: boto3.client(name, **CREDENTIALS))
        use_session(monkeypatch, session)
        monkeypatch.setattr(_redrive, "WAIT_SECONDS", 0)
        with Stubber(codepipeline) as stub:
            yield RedriveAws(boto3.client("sqs", **CREDENTIALS), boto3.client("cloudformation", **CREDENTIALS), stub)
            stub.assert_no_pending_responses()


def expect_start(stub: Stubber, pipeline: str, team: str, version: str) -> None:
    stub.add_response(
        "start_pipeline_execution",
        {"pipelineExecutionId": f"exec-{version}"},
        {
            "name": pipeline,
            "sourceRevisions": [
                {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": version}
            ],
            "clientRequestToken": _redrive.request_token(BUCKET, key_of(team), version),
        },
    )


def test_redrive_with_pipeline_reads_that_pipelines_own_queue(redrive_aws: RedriveAws) -> None:
    # GIVEN two standalone pipelines in one stack, each with its trigger's dead-letter queue
    queues = ("team01TriggerDeadLetterQueueE2E769C9", "team02TriggerDeadLetterQueue7113C133")
    create_stack(redrive_aws.cloudformation, STACK, fleet_outputs(), queues)
    own = queue_url(redrive_aws.cloudformation, STACK, queues[1])
    redrive_aws.send(own, "team02", "v2")
    expect_start(redrive_aws.pipeline, "fleet-team02", "team02", "v2")
    # WHEN
    code, out, err = run("redrive", "--stack", STACK, "--pipeline", "fleet-team02")
    # THEN
    assert code == 0, err
    assert f"Reading {own}" in out
    assert f"started: s3://{BUCKET}/{key_of('team02')} version v2" in out
    assert redrive_aws.keys_in(own) == []


def test_redrive_fails_when_the_stack_holds_several_pipelines_and_none_is_named(redrive_aws: RedriveAws) -> None:
    create_stack(redrive_aws.cloudformation, STACK, fleet_outputs())
    code, _, err = run("redrive", "--stack", STACK, "--dry-run")
    assert code == 2
    assert "(fleet-team01, fleet-team02): pass --pipeline NAME" in " ".join(err.split())


def test_redrive_on_a_foundation_says_where_the_queue_is_then_takes_it_with_queue_url(
    redrive_aws: RedriveAws,
) -> None:
    # GIVEN the pipelines' stack (no queue of its own) and the foundation's, whose queue both pipelines share
    create_stack(redrive_aws.cloudformation, STACK, fleet_outputs())
    shared = ("FoundationTriggerDeadLetterQueue646E3B17",)
    create_stack(redrive_aws.cloudformation, "FleetFoundation", {}, shared)
    url = queue_url(redrive_aws.cloudformation, "FleetFoundation", shared[0])
    redrive_aws.send(url, "team01", "v1")
    redrive_aws.send(url, "team02", "v2")
    # WHEN the queue is looked for in the pipeline's stack: a clear error, naming the foundation and --queue-url
    code, _, err = run("redrive", "--stack", STACK, "--pipeline", "fleet-team02")
    assert code == 2
    message = " ".join(err.split())
    assert "has no trigger dead-letter queue" in message
    assert "A pipeline on a PipelineFoundation dead-letters into the foundation's queue" in message
    assert "--queue-url URL" in message
    # WHEN it is given: only this pipeline's upload is started; the other pipeline's stays in the shared queue
    expect_start(redrive_aws.pipeline, "fleet-team02", "team02", "v2")
    code, out, _ = run("redrive", "--stack", STACK, "--pipeline", "fleet-team02", "--queue-url", url)
    assert code == 1  # a message was left in the queue
    assert f"started: s3://{BUCKET}/{key_of('team02')} version v2" in out
    assert f"left in the queue: s3://{BUCKET}/{key_of('team01')} version v1" in out
    assert redrive_aws.keys_in(url) == [key_of("team01")]


def test_redrive_on_a_foundation_finds_the_shared_queue_from_the_pipelines_output(redrive_aws: RedriveAws) -> None:
    # GIVEN the foundation's queue, shared by both pipelines, named by each pipeline's DeadLetterQueueUrl output
    shared = ("FoundationTriggerDeadLetterQueue646E3B17",)
    create_stack(redrive_aws.cloudformation, "FleetFoundation", {}, shared)
    url = queue_url(redrive_aws.cloudformation, "FleetFoundation", shared[0])
    outputs = fleet_outputs() | {f"{team}DeadLetterQueueUrlA1B2C3D{index}": url for index, team in enumerate(TEAMS)}
    create_stack(redrive_aws.cloudformation, STACK, outputs)
    redrive_aws.send(url, "team01", "v1")
    redrive_aws.send(url, "team02", "v2")
    expect_start(redrive_aws.pipeline, "fleet-team02", "team02", "v2")
    # WHEN redriving one pipeline with its stack alone (no --queue-url)
    code, out, err = run("redrive", "--stack", STACK, "--pipeline", "fleet-team02")
    # THEN the queue comes from the output; only that pipeline's upload is started, the other's stays
    assert code == 1, err  # a message was left in the queue
    assert f"Reading {url}" in out
    assert f"started: s3://{BUCKET}/{key_of('team02')} version v2" in out
    assert redrive_aws.keys_in(url) == [key_of("team01")]
