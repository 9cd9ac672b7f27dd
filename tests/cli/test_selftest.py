"""``s3vp selftest``: S3, SQS, CloudFormation, EventBridge, KMS and CloudWatch in moto; CodePipeline, CodeBuild and
CloudWatch Logs answered by botocore's Stubber. Time is a fake clock: nothing sleeps.

The stack is created in moto's CloudFormation from a template shaped like the construct's (its outputs and logical
ids); moto's CloudFormation cannot create alarms or CodeBuild projects, so those are made in their own moto services
(alarms) or stubbed (projects), and added to the stack's resource listing as CloudFormation would list them.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.s3.models import s3_backends

from s3_validated_pipeline import check as checker
from s3_validated_pipeline._build_project import CHECKER_FILE
from s3_validated_pipeline._buildspec import validation_buildspec
from s3_validated_pipeline.check import Limits
from s3_validated_pipeline.cli import _watch
from s3_validated_pipeline.cli._rules import CheckRules
from s3_validated_pipeline.cli._selftest_canary import MARK, make_canary
from s3_validated_pipeline.validate import PackageCheckOptions
from tests.cli.conftest import REGION, FakeSession, run, use_session
from tests.cli.test_watch import FakeClock

STACK = "AppStack"
PIPELINE = "app-pipeline"
PROJECT = "app-validate"
ACCOUNT = "123456789012"
PIPELINE_ARN = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{PIPELINE}"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:notifications"
ASSETS = "cdk-hnb659fds-assets-123456789012-eu-west-1"
CHECKER_KEY = "0123abcd.py"
BUILD = f"{PROJECT}:0f1e2d3c-0000-0000-0000-000000000001"
LOG_STREAM_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/codebuild/{PROJECT}:log-stream:0f1e2d3c"
T0 = datetime(2026, 12, 1, 15, 0, 0, tzinfo=timezone.utc)
VERSION_TRANSFORMER = {
    "InputPathsMap": {"detail-object-version-id": "$.detail.object.version-id"},
    "InputTemplate": '{"sourceRevisions":[{"actionName":"Source","revisionType":"S3_OBJECT_VERSION_ID",'
    '"revisionValue":<detail-object-version-id>}]}',
}
KEY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}],
    }
)
BUILDSPEC = json.dumps(
    validation_buildspec(
        commands=["npm ci", "npm test"],
        required_files=["package.json"],
        check_options=PackageCheckOptions().arguments(),
        max_package_bytes=PackageCheckOptions().max_package_bytes,
        runtime_versions={"nodejs": "18"},
    )
)


def template(signing_key: str) -> dict[str, Any]:
    """A stack like the construct's (construct id ``Pipeline``): what moto's CloudFormation can create."""
    rule = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "State": "ENABLED",
            "EventPattern": {"source": ["aws.s3"], "detail-type": ["Object Created"]},
            "Targets": [{"Id": "Target0", "Arn": PIPELINE_ARN, "InputTransformer": VERSION_TRANSFORMER}],
        },
    }
    notify = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "State": "ENABLED",
            "EventPattern": {"source": ["aws.codepipeline"]},
            "Targets": [{"Id": "Target0", "Arn": TOPIC_ARN}],
        },
    }
    key = {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True, "KeyPolicy": KEY_POLICY}}
    return {
        "Resources": {
            "PipelineSourceBucket196D1E0C": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
            },
            "PipelineSourceKey8882641A": key,
            "PipelineArtifactKeyFFEED257": key,
            "PipelineTriggerDeadLetterQueueE2E769C9": {"Type": "AWS::SQS::Queue"},
            "PipelineTriggerRule82804786": rule,
            "PipelineOperationsNotifyFailed1ECD662D": notify,
        },
        "Outputs": {
            "PipelineSourceBucketName609A66DA": {"Value": {"Ref": "PipelineSourceBucket196D1E0C"}},
            "PipelineObjectKey44604448": {"Value": "source.zip"},
            "PipelineSourceKeyArn95012608": {"Value": {"Fn::GetAtt": ["PipelineSourceKey8882641A", "Arn"]}},
            "PipelinePipelineName0D474C17": {"Value": PIPELINE},
            "PipelineSigningKeyArnDE8A6B66": {"Value": signing_key},
            "PipelineDeadLetterQueueUrl516CDC5F": {"Value": {"Ref": "PipelineTriggerDeadLetterQueueE2E769C9"}},
        },
    }


def declaration(*later: str, mode: str = "QUEUED", kind: str = "V2") -> dict[str, Any]:
    """The pipeline as ``GetPipeline`` gives it: Source, Validate (Validate, Attest), then ``later`` stages."""

    def act(name: str, category: str, provider: str, run_order: int = 1) -> dict[str, Any]:
        configuration = {"ProjectName": PROJECT} if name == "Validate" else {}
        action_type = {"category": category, "owner": "AWS", "provider": provider, "version": "1"}
        return {"name": name, "actionTypeId": action_type, "runOrder": run_order, "configuration": configuration}

    stages = [
        {"name": "Source", "actions": [act("Source", "Source", "S3")]},
        {
            "name": "Validate",
            "actions": [act("Validate", "Build", "CodeBuild"), act("Attest", "Build", "CodeBuild", 2)],
        },
    ]
    for name in later:
        category = "Approval" if name.startswith("Approve") else "Build"
        action = "Approve" if category == "Approval" else ("Deploy" if name.startswith("Deploy") else name)
        stages.append(
            {"name": name, "actions": [act(action, category, "Manual" if category == "Approval" else "CodeBuild")]}
        )
    pipeline = {"name": PIPELINE, "roleArn": f"arn:aws:iam::{ACCOUNT}:role/p", "stages": stages, "version": 1}
    return {**pipeline, "pipelineType": kind, "executionMode": mode}


def deny(client: Any, operation: str) -> None:
    """Make ``operation`` of ``client`` answer AccessDenied, as a policy denying it would."""

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "AccessDenied", "Message": "not allowed by the bucket policy"}
        return AWSResponse("https://aws", 403, {}, None), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}

    client.meta.events.register(f"before-call.*.{operation}", answer)


@dataclass
class Aws:
    s3: Any
    sqs: Any
    events: Any
    kms: Any
    cloudwatch: Any
    pipeline: Stubber
    build: Stubber
    logs: Stubber
    clock: FakeClock
    bucket: str
    queue_url: str
    listed: list[dict[str, Any]] = field(default_factory=list)
    """What the stack holds that moto's CloudFormation cannot create, added to its resource listing."""
    hidden: set[str] = field(default_factory=set)
    """Logical ids left out of the stack's resource listing, as if the stack had none such."""
    declaration: dict[str, Any] = field(default_factory=declaration)
    on_upload: Callable[[str], None] | None = None
    uploads: list[str] = field(default_factory=list)

    def expect_reads(self, *, canary: bool) -> None:
        """What every run reads from CodePipeline and CodeBuild; the canary reads the rules again."""
        self.pipeline.add_response("get_pipeline", {"pipeline": self.declaration}, {"name": PIPELINE})
        for _ in range(2 if canary else 1):
            self.build.add_response("batch_get_projects", {"projects": [PROJECT_RESPONSE]}, {"names": [PROJECT]})

    def physical(self, logical: str) -> str:
        """The physical id of the stack's resource ``logical``."""
        return next(
            r["PhysicalResourceId"]
            for r in boto3.client("cloudformation", region_name=REGION).list_stack_resources(StackName=STACK)[
                "StackResourceSummaries"
            ]
            if r["LogicalResourceId"] == logical
        )


PROJECT_RESPONSE = {
    "name": PROJECT,
    "source": {"type": "CODEPIPELINE", "buildspec": BUILDSPEC},
    "environment": {
        "type": "LINUX_CONTAINER",
        "image": "aws/codebuild/standard:7.0",
        "computeType": "BUILD_GENERAL1_SMALL",
        "environmentVariables": [
            {"name": "CHECKER_BUCKET", "value": ASSETS},
            {"name": "CHECKER_KEY", "value": CHECKER_KEY},
            {"name": "CHECKER_SHA256", "value": hashlib.sha256(CHECKER_FILE.read_bytes()).hexdigest()},
        ],
    },
}


def _listed(logical: str, physical: str, kind: str) -> dict[str, Any]:
    return {
        "LogicalResourceId": logical,
        "PhysicalResourceId": physical,
        "ResourceType": kind,
        "LastUpdatedTimestamp": T0,
        "ResourceStatus": "CREATE_COMPLETE",
    }


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mock_aws():
        clients = {name: boto3.client(name, region_name=REGION) for name in ("codepipeline", "codebuild", "logs")}
        moto = {
            name: boto3.client(name, region_name=REGION)
            for name in ("s3", "sqs", "events", "kms", "cloudwatch", "cloudformation")
        }
        signing = moto["kms"].create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
        moto["cloudformation"].create_stack(StackName=STACK, TemplateBody=json.dumps(template(signing)))
        listed = moto["cloudformation"].list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        bucket = next(r["PhysicalResourceId"] for r in listed if r["ResourceType"] == "AWS::S3::Bucket")
        queue_url = next(r["PhysicalResourceId"] for r in listed if r["ResourceType"] == "AWS::SQS::Queue")
        # moto's CloudFormation leaves the bucket's VersioningConfiguration out: applied as CloudFormation would
        moto["s3"].put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        moto["s3"].put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        moto["s3"].create_bucket(Bucket=ASSETS, CreateBucketConfiguration={"LocationConstraint": REGION})
        moto["s3"].put_object(Bucket=ASSETS, Key=CHECKER_KEY, Body=CHECKER_FILE.read_bytes())
        alarm = "AppStack-PipelineOperationsFailedExecutionsAlarm-1A2B3C"
        moto["cloudwatch"].put_metric_alarm(
            AlarmName=alarm,
            AlarmDescription="An execution of the pipeline failed: open its execution history to see the stage.",
            MetricName="FailedPipelineExecutions",
            Namespace="AWS/CodePipeline",
            Period=300,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            Statistic="Sum",
        )
        listed_too = [
            _listed("PipelineOperationsFailedExecutionsAlarmBC475907", alarm, "AWS::CloudWatch::Alarm"),
            _listed("PipelineValidationProjectF2917D83", PROJECT, "AWS::CodeBuild::Project"),
        ]

        def list_like_cloudformation(parsed: dict[str, Any], **_: Any) -> None:
            created = [
                r for r in parsed.get("StackResourceSummaries", []) if r["LogicalResourceId"] not in state.hidden
            ]
            parsed["StackResourceSummaries"] = [*created, *state.listed]

        def with_eventbridge(parsed: dict[str, Any], **_: Any) -> None:
            # moto 5.2 stores a bucket's EventBridgeConfiguration but leaves it out of its answer
            configuration = s3_backends[ACCOUNT]["aws"].get_bucket(bucket).notification_configuration
            if configuration is not None and configuration.event_bridge is not None:
                parsed["EventBridgeConfiguration"] = {}

        moto["cloudformation"].meta.events.register(
            "after-call.cloudformation.ListStackResources", list_like_cloudformation
        )
        moto["s3"].meta.events.register("after-call.s3.GetBucketNotificationConfiguration", with_eventbridge)
        clock = FakeClock()
        monkeypatch.setattr(_watch, "DEFAULT_CLOCK", clock)
        use_session(monkeypatch, FakeSession({**clients, **moto}))
        with Stubber(clients["codepipeline"]) as p, Stubber(clients["codebuild"]) as b, Stubber(clients["logs"]) as lg:
            state = Aws(
                moto["s3"],
                moto["sqs"],
                moto["events"],
                moto["kms"],
                moto["cloudwatch"],
                p,
                b,
                lg,
                clock,
                bucket,
                queue_url,
                listed=listed_too,
            )

            def uploaded(parsed: dict[str, Any], **_: Any) -> None:
                if "VersionId" not in parsed:  # the assets bucket is not versioned
                    return
                state.uploads.append(parsed["VersionId"])
                if state.on_upload is not None:
                    state.on_upload(parsed["VersionId"])

            moto["s3"].meta.events.register("after-call.s3.PutObject", uploaded)
            yield state
            p.assert_no_pending_responses()
            b.assert_no_pending_responses()
            lg.assert_no_pending_responses()


# ------------------------------------------------------------------------------------------------------------------
# What CodePipeline and CloudWatch Logs answer while an upload is followed


def executions(aws: Aws, found: list[tuple[str, str, str]]) -> None:
    summaries = [
        {
            "pipelineExecutionId": e,
            "status": s,
            "startTime": T0,
            "sourceRevisions": [{"actionName": "Source", "revisionId": v}],
        }
        for e, s, v in found
    ]
    aws.pipeline.add_response(
        "list_pipeline_executions",
        {"pipelineExecutionSummaries": summaries},
        {"pipelineName": PIPELINE, "maxResults": 50},
    )


def look(aws: Aws, execution: str, status: str, actions: list[dict[str, Any]]) -> None:
    """One look at a found execution: its status, the pipeline's state, its actions."""
    p = aws.pipeline
    body = {"pipelineName": PIPELINE, "pipelineExecutionId": execution, "status": status}
    p.add_response(
        "get_pipeline_execution",
        {"pipelineExecution": body},
        {"pipelineName": PIPELINE, "pipelineExecutionId": execution},
    )
    p.add_response("get_pipeline_state", {"pipelineName": PIPELINE, "stageStates": []}, {"name": PIPELINE})
    p.add_response(
        "list_action_executions",
        {"actionExecutionDetails": list(reversed(actions))},
        {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": execution}},
    )


def act(execution: str, stage: str, status: str, action: str | None = None, *, build: bool = False) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if build:
        result = {"externalExecutionId": BUILD, "logStreamARN": LOG_STREAM_ARN}
        if status == "Failed":
            result["externalExecutionSummary"] = "Build terminated with state: FAILED"
    provider = "CodeBuild" if build else "S3"
    return {
        "pipelineExecutionId": execution,
        "actionExecutionId": f"{execution}-{stage}-{action or stage}",
        "stageName": stage,
        "actionName": action or stage,
        "status": status,
        "startTime": T0,
        "lastUpdateTime": T0,
        "input": {"actionTypeId": {"category": "Build", "owner": "AWS", "provider": provider, "version": "1"}},
        "output": {"executionResult": result} if result else {},
    }


def build_log(aws: Aws, lines: list[str]) -> None:
    """The validate build's log, read from its head to its end (two pages: the lines, then nothing new)."""
    group, stream = f"/aws/codebuild/{PROJECT}", "0f1e2d3c"
    events = [{"timestamp": 1, "message": line + "\n", "ingestionTime": 1} for line in lines]
    first = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    aws.logs.add_response("get_log_events", {"events": events, "nextForwardToken": "f/1"}, first)
    aws.logs.add_response("get_log_events", {"events": [], "nextForwardToken": "f/1"}, {**first, "nextToken": "f/1"})


def checked_log(body: bytes) -> list[str]:
    """What the validate build writes for ``body``: the real check's summary."""
    report = check(body)
    return [
        "[Container] Running command python3 /work/check.py /work/source.zip --extract .",
        *report.summary().splitlines(),
    ]


def uploaded_body(aws: Aws, version: str) -> bytes:
    return bytes(aws.s3.get_object(Bucket=aws.bucket, Key="source.zip", VersionId=version)["Body"].read())


def refused_as_expected(aws: Aws) -> Callable[[str], None]:
    def answer(version: str) -> None:
        executions(aws, [("exec-1", "Failed", version)])
        look(
            aws,
            "exec-1",
            "Failed",
            [act("exec-1", "Source", "Succeeded"), act("exec-1", "Validate", "Failed", build=True)],
        )
        build_log(aws, checked_log(uploaded_body(aws, version)))

    return answer


def selftest(*args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run("selftest", "--stack", STACK, "--json", *args)
    assert out, err
    document = json.loads(out)
    return code, document


def checks(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in document["checks"]}


# ------------------------------------------------------------------------------------------------------------------
# Everything in order


def test_a_sound_pipeline_passes_every_check_and_refuses_the_canary_which_is_then_deleted(aws: Aws) -> None:
    aws.expect_reads(canary=True)
    aws.on_upload = refused_as_expected(aws)
    code, document = selftest()
    found = checks(document)
    assert code == 0, [c for c in document["checks"] if c["status"] != "passed"]
    assert [item["name"] for item in document["checks"]] == [
        "source-bucket",
        "trigger-rule",
        "execution-mode",
        "keys",
        "checker",
        "dead-letter-queue",
        "alarms",
        "notifications",
        "canary-started",
        "canary-refused",
        "canary-notified",
        "canary-cleanup",
    ]
    assert {item["status"] for item in document["checks"]} == {"passed"}
    assert (
        found["source-bucket"]["message"]
        == f"the source bucket {aws.bucket} is versioned and sends its events to EventBridge"
    )
    assert "is enabled and starts app-pipeline on the uploaded object version" in found["trigger-rule"]["message"]
    assert found["execution-mode"]["message"].startswith("the pipeline app-pipeline is V2 in QUEUED mode")
    assert found["keys"]["message"] == "3 key(s) enabled; the 2 symmetric one(s) rotate"
    assert f"s3://{ASSETS}/{CHECKER_KEY} holds the pinned SHA-256" in found["checker"]["message"]
    assert found["dead-letter-queue"]["message"] == f"the trigger's dead-letter queue {aws.queue_url} is empty"
    assert found["alarms"]["message"] == "1 alarm(s), none in ALARM"
    assert TOPIC_ARN in found["notifications"]["message"]
    version = aws.uploads[0]
    assert found["canary-started"]["message"] == f"execution exec-1 started for version {version}"
    assert (
        "Validate refused the canary in execution exec-1 with rule forbidden-file: [forbidden-file] '.env'"
        in (found["canary-refused"]["message"])
    )
    assert "execution exec-1's failure is announced" in found["canary-notified"]["message"]
    assert (
        found["canary-cleanup"]["message"] == f"the canary s3://{aws.bucket}/source.zip version {version} was deleted"
    )
    assert aws.s3.list_object_versions(Bucket=aws.bucket).get("Versions", []) == []


def test_the_canary_is_marked_holds_no_secret_and_only_its_name_is_refused(aws: Aws) -> None:
    deny(aws.s3, "DeleteObject")  # so that it stays to be looked at
    aws.expect_reads(canary=True)
    aws.on_upload = refused_as_expected(aws)
    code, _ = selftest()
    version = aws.uploads[0]
    head = aws.s3.head_object(Bucket=aws.bucket, Key="source.zip", VersionId=version)
    tags = aws.s3.get_object_tagging(Bucket=aws.bucket, Key="source.zip", VersionId=version)["TagSet"]
    report = check(uploaded_body(aws, version))
    assert code == 0
    assert head["Metadata"] == {MARK[0]: MARK[1]}
    assert tags == [], "the version's tags are Validate's to set: its verdict, which no one may change once set"
    assert head["ServerSideEncryption"] == "aws:kms"
    assert {finding.rule for finding in report.findings} == {"forbidden-file"}
    assert [finding.path for finding in report.findings] == [".env"]


def check(body: bytes) -> checker.Report:
    """The package check, with the deployed rules (package.json required), on a zip's bytes."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "package.zip")
        path.write_bytes(body)
        return checker.check_package(path, required=["package.json"])


def test_the_seconds_of_each_check_come_from_the_clock(aws: Aws) -> None:
    aws.expect_reads(canary=True)

    def answer(version: str) -> None:
        executions(aws, [])  # the first look finds nothing; ten seconds later the refusal
        executions(aws, [("exec-1", "Failed", version)])
        look(
            aws,
            "exec-1",
            "Failed",
            [act("exec-1", "Source", "Succeeded"), act("exec-1", "Validate", "Failed", build=True)],
        )
        build_log(aws, checked_log(uploaded_body(aws, version)))

    aws.on_upload = answer
    code, document = selftest("--interval", "10")
    found = checks(document)
    assert code == 0, [c for c in document["checks"] if c["status"] != "passed"]
    assert aws.clock.sleeps == [10.0]
    assert found["canary-refused"]["seconds"] == 10.0
    assert found["source-bucket"]["seconds"] == 0.0


# ------------------------------------------------------------------------------------------------------------------
# Each read-only check failing, with its message; the canary is then not uploaded


def suspend_versioning(aws: Aws) -> None:
    aws.s3.put_bucket_versioning(Bucket=aws.bucket, VersioningConfiguration={"Status": "Suspended"})


def no_eventbridge(aws: Aws) -> None:
    aws.s3.put_bucket_notification_configuration(Bucket=aws.bucket, NotificationConfiguration={})


def disable_trigger(aws: Aws) -> None:
    aws.events.disable_rule(Name=aws.physical("PipelineTriggerRule82804786"))


def plain_input(aws: Aws) -> None:
    name = aws.physical("PipelineTriggerRule82804786")
    aws.events.put_targets(Rule=name, Targets=[{"Id": "Target0", "Arn": PIPELINE_ARN, "Input": "{}"}])


def other_target(aws: Aws) -> None:
    name = aws.physical("PipelineTriggerRule82804786")
    other = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:another-pipeline"
    aws.events.put_targets(
        Rule=name, Targets=[{"Id": "Target0", "Arn": other, "InputTransformer": VERSION_TRANSFORMER}]
    )


def superseded(aws: Aws) -> None:
    aws.declaration = declaration(mode="SUPERSEDED")


def version_one(aws: Aws) -> None:
    aws.declaration = declaration(kind="V1")


def no_rotation(aws: Aws) -> None:
    aws.kms.disable_key_rotation(KeyId=aws.physical("PipelineArtifactKeyFFEED257"))


def deleting_key(aws: Aws) -> None:
    aws.kms.schedule_key_deletion(KeyId=aws.physical("PipelineArtifactKeyFFEED257"), PendingWindowInDays=7)


def checker_gone(aws: Aws) -> None:
    aws.s3.delete_object(Bucket=ASSETS, Key=CHECKER_KEY)


def checker_replaced(aws: Aws) -> None:
    aws.s3.put_object(Bucket=ASSETS, Key=CHECKER_KEY, Body=b"print('accept everything')\n")


def dead_letter(aws: Aws) -> None:
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="{}")


def alarm_firing(aws: Aws) -> None:
    name = "AppStack-PipelineOperationsFailedExecutionsAlarm-1A2B3C"
    aws.cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="Threshold Crossed")


def alarm_deleted(aws: Aws) -> None:
    aws.cloudwatch.delete_alarms(AlarmNames=["AppStack-PipelineOperationsFailedExecutionsAlarm-1A2B3C"])


def notifications_off(aws: Aws) -> None:
    aws.events.disable_rule(Name=aws.physical("PipelineOperationsNotifyFailed1ECD662D"))


BROKEN = [
    ("source-bucket", suspend_versioning, "versioning is Suspended, so an upload is no version the pipeline can name"),
    ("source-bucket", no_eventbridge, "it sends no events to EventBridge, so no upload starts the pipeline"),
    (
        "trigger-rule",
        disable_trigger,
        "is DISABLED: someone disabled it, so no upload starts the pipeline. Fix: `aws events enable-rule --name",
    ),
    ("trigger-rule", plain_input, "starts app-pipeline without the version-id input transformer"),
    ("trigger-rule", other_target, "does not start the pipeline app-pipeline (its targets: arn:aws:codepipeline"),
    ("execution-mode", superseded, "runs in SUPERSEDED mode: a newer upload overtakes one still running"),
    ("execution-mode", version_one, "is a V1 pipeline: only V2 starts on the uploaded object version"),
    ("keys", no_rotation, "does not rotate (`aws kms enable-key-rotation --key-id"),
    ("keys", deleting_key, "is PendingDeletion (`aws kms cancel-key-deletion --key-id"),
    (
        "checker",
        checker_gone,
        f"the checker asset s3://{ASSETS}/{CHECKER_KEY} is missing, so every Validate build fails",
    ),
    (
        "checker",
        checker_replaced,
        "not the " + hashlib.sha256(CHECKER_FILE.read_bytes()).hexdigest() + " the Validate project pins",
    ),
    (
        "dead-letter-queue",
        dead_letter,
        "holds 1 upload event(s) that could not start the pipeline. Fix: see why with "
        "`s3vp redrive --stack AppStack --dry-run`",
    ),
    (
        "alarms",
        alarm_firing,
        " UTC (An execution of the pipeline failed: open its execution history to see the stage.); an alarm on "
        "failures returns to OK one period (5 minutes) after the last one",
    ),
    ("alarms", alarm_firing, "AppStack-PipelineOperationsFailedExecutionsAlarm-1A2B3C is in ALARM since "),
    ("alarms", alarm_deleted, "is listed by the stack but does not exist"),
    ("notifications", notifications_off, "which announces failed executions, is DISABLED: nobody hears of a failure"),
]


@pytest.mark.parametrize(("name", "breaks", "message"), BROKEN, ids=[b.__name__ for _, b, _ in BROKEN])
def test_fails_when_a_deployed_part_is_broken_naming_it_and_the_fix(
    aws: Aws, name: str, breaks: Callable[[Aws], None], message: str
) -> None:
    breaks(aws)
    aws.expect_reads(canary=False)
    code, document = selftest()
    found = checks(document)
    assert code == 1
    assert found[name]["status"] == "failed"
    assert message in found[name]["message"]
    assert [item["name"] for item in document["checks"] if item["status"] == "failed"] == [name]
    assert found["canary"]["status"] == "skipped"
    assert aws.uploads == []


def test_fails_with_exit_2_naming_the_permission_when_a_check_cannot_read(aws: Aws) -> None:
    deny(aws.events, "DescribeRule")
    aws.expect_reads(canary=False)
    code, document = selftest()
    found = checks(document)
    assert code == 2
    assert found["trigger-rule"]["blocked"] is True
    assert "access denied to the rule" in found["trigger-rule"]["message"]
    assert "events:DescribeRule and events:ListTargetsByRule" in found["trigger-rule"]["message"]


def test_a_pipeline_without_alarms_or_notifications_skips_those_checks(aws: Aws) -> None:
    alarm_deleted(aws)
    aws.listed = [item for item in aws.listed if item["ResourceType"] != "AWS::CloudWatch::Alarm"]
    aws.hidden.add("PipelineOperationsNotifyFailed1ECD662D")
    aws.expect_reads(canary=True)
    aws.on_upload = refused_as_expected(aws)
    code, document = selftest()
    found = checks(document)
    assert code == 0, document
    assert found["alarms"]["status"] == "skipped"
    assert "has no alarms in its stack (operations off)" in found["alarms"]["message"]
    assert found["notifications"]["status"] == "skipped"
    assert (
        "no rule in the stack 'AppStack' announces the failed executions of app-pipeline"
        in (found["notifications"]["message"])
    )
    assert found["canary-notified"]["status"] == "skipped"


def test_a_trigger_rule_invoking_the_trigger_function_passes(aws: Aws) -> None:
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:AppStack-PipelineTriggerFunction"
    aws.events.put_targets(
        Rule=aws.physical("PipelineTriggerRule82804786"), Targets=[{"Id": "Target0", "Arn": function}]
    )
    aws.expect_reads(canary=True)
    aws.on_upload = refused_as_expected(aws)
    code, document = selftest()
    found = checks(document)["trigger-rule"]
    assert code == 0, document
    assert f"is enabled and invokes the trigger function {function} (TriggerMode.FUNCTION)" in found["message"]


# ------------------------------------------------------------------------------------------------------------------
# The canary's follow-up


def expect_hold(aws: Aws, stage: str, *, listed: bool = True) -> dict[str, str]:
    """Queue what holding executions before ``stage`` calls: its transition's state (enabled: listed so, or not
    listed at all), then disabling it; return the transition, as enabling it again names it."""
    transition = {"pipelineName": PIPELINE, "stageName": stage, "transitionType": "Inbound"}
    states = [{"stageName": stage, "inboundTransitionState": {"enabled": True}}] if listed else []
    state = {"pipelineName": PIPELINE, "stageStates": states}
    aws.pipeline.add_response("get_pipeline_state", state, {"name": PIPELINE})
    aws.pipeline.add_response("disable_stage_transition", {}, {**transition, "reason": ANY})
    return transition


def test_fails_when_the_canary_is_accepted_and_stops_its_execution_before_any_later_stage(aws: Aws) -> None:
    aws.declaration = declaration("Test", "DeployProduction")
    aws.expect_reads(canary=True)
    p = aws.pipeline
    hold = expect_hold(aws, "Test")

    def accepted(version: str) -> None:
        executions(aws, [("exec-1", "InProgress", version)])
        look(
            aws,
            "exec-1",
            "InProgress",
            [act("exec-1", "Source", "Succeeded"), act("exec-1", "Validate", "Succeeded", build=True)],
        )
        p.add_response(
            "stop_pipeline_execution",
            {"pipelineExecutionId": "exec-1"},
            {"pipelineName": PIPELINE, "pipelineExecutionId": "exec-1", "abandon": True, "reason": ANY},
        )
        p.add_response("enable_stage_transition", {}, hold)

    aws.on_upload = accepted
    code, document = selftest()
    found = checks(document)
    assert code == 1
    assert found["canary-started"]["status"] == "passed"
    assert found["canary-refused"]["status"] == "failed"
    assert "the pipeline ACCEPTED the canary (holding '.env') in execution exec-1" in found["canary-refused"]["message"]
    assert "it was stopped (abandoned) before any later stage" in found["canary-refused"]["message"]
    assert "canary-notified" not in found
    assert found["canary-cleanup"]["status"] == "passed"


def test_fails_when_no_execution_starts_for_the_canary_pointing_at_the_dead_letter_queue(aws: Aws) -> None:
    aws.expect_reads(canary=True)

    def never(version: str) -> None:
        executions(aws, [("exec-old", "Succeeded", "another-version")])
        executions(aws, [("exec-old", "Succeeded", "another-version")])

    aws.on_upload = never
    code, document = selftest("--timeout", "10s", "--interval", "10")
    found = checks(document)
    assert code == 1
    assert found["canary-started"]["status"] == "failed"
    assert (
        f"no execution of app-pipeline started for canary version {aws.uploads[0]} within 10s"
        in (found["canary-started"]["message"])
    )
    assert "`s3vp redrive --stack AppStack --dry-run`" in found["canary-started"]["message"]
    assert found["canary-started"]["seconds"] == 10.0
    assert "canary-refused" not in found
    assert found["canary-cleanup"]["status"] == "passed"


def test_fails_when_the_canary_is_stuck_in_the_queue(aws: Aws) -> None:
    aws.expect_reads(canary=True)

    def queued(version: str) -> None:
        executions(aws, [("exec-1", "InProgress", version)])
        look(aws, "exec-1", "InProgress", [act("exec-1", "Source", "Succeeded")])
        look(aws, "exec-1", "InProgress", [act("exec-1", "Source", "Succeeded")])

    aws.on_upload = queued
    code, document = selftest("--timeout", "10s", "--interval", "10")
    found = checks(document)
    assert code == 1
    assert found["canary-started"]["status"] == "passed"
    assert found["canary-refused"]["status"] == "failed"
    assert (
        "did not reach Validate within 10s: it is stuck in the queue behind other executions"
        in (found["canary-refused"]["message"])
    )


def hold_before_test(aws: Aws) -> dict[str, str]:
    """A pipeline with a Test stage: the canary's run holds the transition into it first."""
    aws.declaration = declaration("Test")
    aws.expect_reads(canary=True)
    return expect_hold(aws, "Test")


def test_fails_naming_the_command_when_an_accepted_canary_cannot_be_stopped(aws: Aws) -> None:
    hold = hold_before_test(aws)

    def accepted(version: str) -> None:
        executions(aws, [("exec-1", "InProgress", version)])
        look(
            aws,
            "exec-1",
            "InProgress",
            [act("exec-1", "Source", "Succeeded"), act("exec-1", "Validate", "Succeeded", build=True)],
        )
        aws.pipeline.add_client_error(
            "stop_pipeline_execution", service_error_code="AccessDeniedException", http_status_code=400
        )
        aws.pipeline.add_response("enable_stage_transition", {}, hold)

    aws.on_upload = accepted
    code, document = selftest()
    message = checks(document)["canary-refused"]["message"]
    assert code == 1
    assert "the pipeline ACCEPTED the canary" in message
    assert "it could NOT be stopped (access denied to the pipeline 'app-pipeline': your identity needs " in message
    assert "codepipeline:StopPipelineExecution" in message
    assert (
        "`aws codepipeline stop-pipeline-execution --pipeline-name app-pipeline --pipeline-execution-id exec-1 "
        "--abandon`" in message
    )


def test_fails_with_exit_2_when_the_held_transition_cannot_be_enabled_again_saying_how(aws: Aws) -> None:
    hold_before_test(aws)
    refused = refused_as_expected(aws)

    def answer(version: str) -> None:
        refused(version)
        aws.pipeline.add_client_error(
            "enable_stage_transition", service_error_code="AccessDeniedException", http_status_code=400
        )

    aws.on_upload = answer
    code, document = selftest()
    found = checks(document)
    assert code == 2
    assert found["canary-refused"]["status"] == "passed"
    assert found["canary-hold"]["blocked"] is True
    assert (
        "the transition into Test is still DISABLED, holding every execution before it"
        in found["canary-hold"]["message"]
    )
    assert (
        "`aws codepipeline enable-stage-transition --pipeline-name app-pipeline --stage-name Test "
        "--transition-type Inbound`" in found["canary-hold"]["message"]
    )
    assert found["canary-cleanup"]["status"] == "passed"


def test_fails_when_validate_is_still_running_at_the_timeout(aws: Aws) -> None:
    aws.expect_reads(canary=True)

    def slow(version: str) -> None:
        executions(aws, [("exec-1", "InProgress", version)])
        running = [act("exec-1", "Source", "Succeeded"), act("exec-1", "Validate", "InProgress", build=True)]
        look(aws, "exec-1", "InProgress", running)
        look(aws, "exec-1", "InProgress", running)

    aws.on_upload = slow
    code, document = selftest("--timeout", "10s", "--interval", "10")
    assert code == 1
    assert (
        "was still running (Validate) after 10s: run the self-test again with a longer --timeout"
        in (checks(document)["canary-refused"]["message"])
    )


def test_ctrl_c_while_following_the_canary_is_reported_and_the_canary_still_deleted(aws: Aws) -> None:
    aws.expect_reads(canary=True)

    def running(version: str) -> None:
        executions(aws, [("exec-1", "InProgress", version)])
        look(aws, "exec-1", "InProgress", [act("exec-1", "Source", "Succeeded")])

    def ctrl_c(sleep: int) -> None:
        raise KeyboardInterrupt

    aws.on_upload = running
    aws.clock.on_sleep = ctrl_c
    code, document = selftest()
    found = checks(document)
    assert code == 1
    assert found["canary-refused"]["message"].startswith("interrupted (Ctrl-C) following execution exec-1 of canary")
    assert found["canary-cleanup"]["status"] == "passed"


def test_fails_when_validate_refuses_the_canary_for_another_reason(aws: Aws) -> None:
    aws.expect_reads(canary=True)

    def other(version: str) -> None:
        executions(aws, [("exec-1", "Failed", version)])
        look(
            aws,
            "exec-1",
            "Failed",
            [act("exec-1", "Source", "Succeeded"), act("exec-1", "Validate", "Failed", build=True)],
        )
        build_log(aws, ["REJECTED: source.zip: 1 finding(s)", "  [too-large] more than 1 GiB uncompressed"])

    aws.on_upload = other
    code, document = selftest()
    message = checks(document)["canary-refused"]["message"]
    assert code == 1
    assert "Validate refused the canary in execution exec-1, but not for '.env': [too-large]" in message


def test_fails_when_the_canary_never_reaches_the_check(aws: Aws) -> None:
    aws.expect_reads(canary=True)

    def source_fails(version: str) -> None:
        executions(aws, [("exec-1", "Failed", version)])
        failed = act("exec-1", "Source", "Failed")
        failed["output"] = {"executionResult": {"externalExecutionSummary": "Access denied to the source key"}}
        look(aws, "exec-1", "Failed", [failed])

    aws.on_upload = source_fails
    code, document = selftest()
    assert code == 1
    assert (
        "execution exec-1 failed at Source before the check ran: Access denied to the source key"
        in (checks(document)["canary-refused"]["message"])
    )


def test_a_canary_the_bucket_policy_keeps_is_left_marked_naming_the_lifecycle_rule(aws: Aws) -> None:
    aws.s3.put_bucket_lifecycle_configuration(
        Bucket=aws.bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "Replaced",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                }
            ]
        },
    )
    deny(aws.s3, "DeleteObject")
    aws.expect_reads(canary=True)
    aws.on_upload = refused_as_expected(aws)
    code, document = selftest()
    cleanup = checks(document)["canary-cleanup"]
    assert code == 0, [c for c in document["checks"] if c["status"] != "passed"]
    assert cleanup["status"] == "skipped"
    assert (
        f"version {aws.uploads[0]} is left in place, marked by its metadata s3vp-selftest=canary" in cleanup["message"]
    )
    assert (
        "the bucket's lifecycle rule Replaced deletes it 90 days after the next upload replaces it"
        in cleanup["message"]
    )
    assert len(aws.s3.list_object_versions(Bucket=aws.bucket)["Versions"]) == 1


def test_a_canary_left_in_place_names_the_rule_that_expires_rejected_versions(aws: Aws) -> None:
    # GIVEN the construct's two rules: replaced uploads after 90 days, versions tagged rejected after 7
    aws.s3.put_bucket_lifecycle_configuration(
        Bucket=aws.bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "Replaced",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                },
                {
                    "ID": "ExpireRejectedUploads",
                    "Status": "Enabled",
                    "Filter": {"Tag": {"Key": "s3vp-verdict", "Value": "rejected"}},
                    "Expiration": {"Days": 7},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
                },
            ]
        },
    )
    deny(aws.s3, "DeleteObject")
    aws.expect_reads(canary=True)
    aws.on_upload = refused_as_expected(aws)
    # WHEN the canary is refused and cannot be deleted
    code, document = selftest()
    cleanup = checks(document)["canary-cleanup"]
    # THEN the report names the rule for rejected versions, not the one for any replaced upload
    assert (code, cleanup["status"]) == (0, "skipped")
    assert (
        "Validate tags a refused version s3vp-verdict=rejected, and the bucket's lifecycle rule ExpireRejectedUploads "
        "deletes such a version within 14 days" in cleanup["message"]
    )
    assert "90 days" not in cleanup["message"]


# ------------------------------------------------------------------------------------------------------------------
# --package, --dry-run, usage


def test_a_good_package_is_followed_to_the_first_approval_and_stopped_there(aws: Aws, tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    good.write_bytes(_zip({"package.json": '{"name": "app"}\n', "index.js": "console.log(1)\n"}))
    aws.declaration = declaration("Test", "ApproveProduction", "DeployProduction")
    p = aws.pipeline
    aws.expect_reads(canary=True)
    aws.build.add_response("batch_get_projects", {"projects": [PROJECT_RESPONSE]}, {"names": [PROJECT]})
    hold_test = expect_hold(aws, "Test", listed=False)
    hold_approval = {**hold_test, "stageName": "ApproveProduction"}

    def answer(version: str) -> None:
        if len(aws.uploads) == 1:
            refused_as_expected(aws)(version)
            p.add_response("enable_stage_transition", {}, hold_test)
            expect_hold(aws, "ApproveProduction", listed=False)
            return
        executions(aws, [("exec-2", "InProgress", version)])
        done = [
            act("exec-2", "Source", "Succeeded"),
            act("exec-2", "Validate", "Succeeded", build=True),
            act("exec-2", "Validate", "Succeeded", "Attest", build=True),
            act("exec-2", "Test", "Succeeded", build=True),
        ]
        look(aws, "exec-2", "InProgress", done)
        p.add_response(
            "stop_pipeline_execution",
            {"pipelineExecutionId": "exec-2"},
            {"pipelineName": PIPELINE, "pipelineExecutionId": "exec-2", "abandon": True, "reason": ANY},
        )
        p.add_response("enable_stage_transition", {}, hold_approval)

    aws.on_upload = answer
    code, document = selftest("--package", str(good))
    found = checks(document)
    assert code == 0, [c for c in document["checks"] if c["status"] != "passed"]
    assert (
        found["package"]["message"]
        == "execution exec-2 validated the package, held before ApproveProduction; it was stopped (abandoned)"
    )


def test_through_approval_leaves_the_package_waiting_at_its_approval_never_stopping_it(
    aws: Aws, tmp_path: Path
) -> None:
    good = tmp_path / "good.zip"
    good.write_bytes(_zip({"package.json": '{"name": "app"}\n'}))
    aws.declaration = declaration("ApproveProduction", "DeployProduction")
    p = aws.pipeline
    aws.expect_reads(canary=True)
    aws.build.add_response("batch_get_projects", {"projects": [PROJECT_RESPONSE]}, {"names": [PROJECT]})
    hold_approval = expect_hold(aws, "ApproveProduction", listed=False)
    hold_deploy = {**hold_approval, "stageName": "DeployProduction"}

    def answer(version: str) -> None:
        if len(aws.uploads) == 1:
            refused_as_expected(aws)(version)
            p.add_response("enable_stage_transition", {}, hold_approval)
            expect_hold(aws, "DeployProduction", listed=False)
            return
        executions(aws, [("exec-2", "InProgress", version)])
        waiting = [
            act("exec-2", "Source", "Succeeded"),
            act("exec-2", "Validate", "Succeeded", build=True),
            act("exec-2", "Validate", "Succeeded", "Attest", build=True),
            act("exec-2", "ApproveProduction", "InProgress", "Approve"),
        ]
        look(aws, "exec-2", "InProgress", waiting)
        p.add_response("enable_stage_transition", {}, hold_deploy)  # and no StopPipelineExecution

    aws.on_upload = answer
    code, document = selftest("--package", str(good), "--through-approval")
    package = checks(document)["package"]
    assert code == 0, document
    assert package["message"] == (
        "execution exec-2 validated the package and waits for approval at ApproveProduction/Approve: approve it to "
        "deploy, or reject it"
    )


def test_fails_with_exit_2_when_following_the_canary_is_denied_and_still_deletes_it(aws: Aws) -> None:
    aws.expect_reads(canary=True)

    def denied(version: str) -> None:
        aws.pipeline.add_client_error(
            "list_pipeline_executions", service_error_code="AccessDeniedException", http_status_code=400
        )

    aws.on_upload = denied
    code, document = selftest()
    found = checks(document)
    assert code == 2
    assert found["canary-refused"]["blocked"] is True
    assert "codepipeline:ListPipelineExecutions" in found["canary-refused"]["message"]
    assert found["canary-cleanup"]["status"] == "passed"
    assert aws.s3.list_object_versions(Bucket=aws.bucket).get("Versions", []) == []


def test_a_package_the_deployed_check_rejects_is_not_uploaded(aws: Aws, tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_zip({"index.js": "console.log(1)\n"}))
    aws.expect_reads(canary=True)
    aws.build.add_response("batch_get_projects", {"projects": [PROJECT_RESPONSE]}, {"names": [PROJECT]})
    aws.on_upload = refused_as_expected(aws)
    code, document = selftest("--package", str(bad))
    package = checks(document)["package"]
    assert code == 1
    assert package["status"] == "failed"
    assert f"not uploaded: the deployed check would reject {bad}: [required-missing]" in package["message"]
    assert len(aws.uploads) == 1  # the canary alone


def test_dry_run_checks_and_says_what_it_would_upload_writing_nothing(aws: Aws, tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    good.write_bytes(_zip({"package.json": "{}\n"}))
    aws.declaration = declaration("ApproveProduction", "DeployProduction")
    aws.expect_reads(canary=True)
    aws.build.add_response("batch_get_projects", {"projects": [PROJECT_RESPONSE]}, {"names": [PROJECT]})
    code, out, err = run("selftest", "--stack", STACK, "--dry-run", "--package", str(good))
    assert code == 0, err
    assert "Self-test of the pipeline in stack AppStack (dry run: nothing is written)" in out
    assert "would upload a canary (.env, README.txt, package.json;" in out
    assert "holding the transition into ApproveProduction, expect Validate to refuse it with rule forbidden-file" in out
    assert (
        f"would upload {good} (sha256 {hashlib.sha256(good.read_bytes()).hexdigest()}) and follow it up to "
        "ApproveProduction" in out
    )
    assert "Self-test: 8 passed, 0 failed, 2 skipped" in out
    assert aws.uploads == []


def test_fails_when_through_approval_is_given_without_a_package() -> None:
    code, _, err = run("selftest", "--stack", STACK, "--through-approval")
    assert code == 2
    assert "--through-approval applies to --package FILE.zip: pass --package too" in err


def test_help_lists_the_checks_the_canary_the_permissions_and_the_exit_codes() -> None:
    code, out, _ = run("selftest", "--help")
    text = " ".join(out.split())
    assert code == 0
    for name in (
        "source-bucket",
        "trigger-rule",
        "execution-mode",
        "keys",
        "checker",
        "dead-letter-queue",
        "alarms",
        "notifications",
    ):
        assert name in text
    assert "fail at Validate with the rule forbidden-file" in text
    assert "Exit 0 when every check passed (or was skipped), 1 when one failed, 2 for a usage" in text
    for action in (
        "s3:PutObject",
        "codepipeline:StopPipelineExecution",
        "DisableStageTransition",
        "sqs:GetQueueAttributes",
    ):
        assert action in text


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------------------------
# The canary itself, for the deployed rules (no AWS)


@pytest.mark.parametrize(
    ("required", "limits", "forbidden"),
    [
        ((), Limits(), ".env"),
        (("package.json", "bin/*.ts", "src/**/*.js"), Limits(), ".env"),
        ((), Limits(ignore=(".env",)), ".env.s3vp-selftest-canary"),
        ((), Limits(forbidden=("*.secret",)), "s3vp-selftest-canary.secret"),
    ],
    ids=["defaults", "required-globs", "env-ignored", "own-forbidden"],
)
def test_the_canary_is_refused_by_its_forbidden_name_alone_under_the_deployed_rules(
    required: tuple[str, ...], limits: Limits, forbidden: str
) -> None:
    rules = CheckRules(required=required, limits=limits)
    canary = make_canary(rules)
    assert canary is not None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "canary.zip")
        path.write_bytes(canary.body)
        report = checker.check_package(path, required=required, limits=limits)
    assert canary.forbidden == forbidden
    assert [(finding.rule, finding.path) for finding in report.findings] == [("forbidden-file", forbidden)]


def test_no_canary_is_made_when_the_deployed_check_forbids_no_name() -> None:
    assert make_canary(CheckRules(limits=Limits(forbidden=()))) is None


def test_text_report_prints_each_check_as_it_runs_then_the_counts(aws: Aws) -> None:
    dead_letter(aws)
    aws.expect_reads(canary=False)
    code, out, _ = run("selftest", "--stack", STACK)
    lines = out.splitlines()
    assert code == 1
    assert lines[0] == "Self-test of the pipeline in stack AppStack"
    assert lines[1] == (
        f"PASSED  source-bucket (0.0s): the source bucket {aws.bucket} is versioned and sends its events to EventBridge"
    )
    assert any(line.startswith("FAILED  dead-letter-queue (0.0s): the trigger's dead-letter queue ") for line in lines)
    assert lines[-1] == "Self-test: 7 passed, 1 failed, 1 skipped"
