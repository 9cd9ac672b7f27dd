"""The upload trigger's two modes: DIRECT (the rule starts the pipeline; the default) and FUNCTION (a Lambda does).

DIRECT is asserted on the seed example in test_pipeline_template.py; here its input transformer is run over S3's
documented sample event. FUNCTION is synthesized once, as the minimal example with ``trigger_mode=FUNCTION``, and
held to the same template assertions and compliance gate as before it became an option.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

import s3_validated_pipeline
from s3_validated_pipeline import (
    InputError,
    SourceBucketOptions,
    TriggerMode,
    ValidatedS3Pipeline,
    ValidationOptions,
)
from s3_validated_pipeline.source import UploadTrigger, trigger
from tests.compliance import CHECKOV_ENV, acknowledgements, id_problem, nag_findings, reason_problem
from tests.conftest import PACKS, ROOT, Synthesized, assert_fails, new_pipeline, synthesize, synthesized_example

# S3's sample "Object Created" event, as the S3 user guide prints it ("EventBridge event message structure").
S3_OBJECT_CREATED_SAMPLE: dict[str, Any] = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "111122223333",
    "time": "2021-11-12T00:00:00Z",
    "region": "ca-central-1",
    "resources": ["arn:aws:s3:::amzn-s3-demo-bucket1"],
    "detail": {
        "version": "0",
        "bucket": {"name": "amzn-s3-demo-bucket1"},
        "object": {
            "key": "example-key",
            "size": 5,
            "etag": "b1946ac92492d2347c6235b4d2611184",
            "version-id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "sequencer": "617f08299329d189",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "1.2.3.4",
        "reason": "PutObject",
    },
}
GOOD = ValidationOptions(commands=["npm ci", "npm test"])


def minimal_stack(app: cdk.App, **arguments: Any) -> cdk.Stack:
    """The minimal example's stack (its pipeline and uploader), with ``arguments`` for ``ValidatedS3Pipeline``."""
    stack = cdk.Stack(app, "ExistingStack")
    developers = iam.Role.from_role_name(stack, "Developers", "developers")
    uploaders = SourceBucketOptions(uploaders=[developers])
    ValidatedS3Pipeline(stack, "Pipeline", validation=GOOD, source_bucket_options=uploaders, **arguments)
    for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):  # as the example acknowledges the grant
        cdk.Validations.of(developers).acknowledge(
            cdk.Acknowledgment(id=f"{pack}-IAMNoInlinePolicy", reason="The upload grant is attached to this role.")
        )
    return stack


@pytest.fixture(scope="module")
def function_mode(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("cdk.out-function")))
    return synthesize(minimal_stack(app, trigger_mode=TriggerMode.FUNCTION))


def of_type(synthesized: Synthesized, type_: str, under: str = "") -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synthesized.json["Resources"].items() if v["Type"] == type_ and k.startswith(under)}


def one(synthesized: Synthesized, type_: str, under: str = "") -> tuple[str, dict[str, Any]]:
    [found] = of_type(synthesized, type_, under).items()
    return found


def trigger_ids(synthesized: Synthesized) -> dict[str, str]:
    return {k: v["Type"] for k, v in synthesized.json["Resources"].items() if k.startswith("PipelineTrigger")}


# --- DIRECT: the input transformer, evaluated -----------------------------------------------------------------


def evaluate(transformer: dict[str, Any], event: dict[str, Any]) -> Any:
    """Apply an InputTransformer the way EventBridge does for simple ``$.a.b`` paths and a JSON template.

    Each ``<name>`` placeholder outside quotes becomes the value at its path as JSON (a string gets its quotes).
    """
    text: str = transformer["InputTemplate"]
    for name, path in transformer["InputPathsMap"].items():
        assert path.startswith("$."), path
        value: Any = event
        for part in path[2:].split("."):
            value = value[part]
        text = text.replace(f"<{name}>", json.dumps(value))
    return json.loads(text)


def test_the_sample_object_created_event_becomes_a_start_request_for_its_version() -> None:
    # GIVEN the rule the seed example's trigger defines
    seed = synthesized_example("seed_pipeline")
    _, rule = one(seed, "AWS::Events::Rule", under="PipelineTrigger")
    [target] = rule["Properties"]["Targets"]
    # WHEN S3's documented sample event goes through its input transformer
    body = evaluate(target["InputTransformer"], S3_OBJECT_CREATED_SAMPLE)
    # THEN CodePipeline is asked to start on exactly that object version
    assert body == {
        "sourceRevisions": [
            {
                "actionName": "Source",
                "revisionType": "S3_OBJECT_VERSION_ID",
                "revisionValue": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            }
        ]
    }


def test_the_rule_matches_the_sample_event_shape() -> None:
    # The pattern's fields exist in the sample, where the transformer reads the version.
    seed = synthesized_example("seed_pipeline")
    _, rule = one(seed, "AWS::Events::Rule", under="PipelineTrigger")
    pattern = rule["Properties"]["EventPattern"]
    assert S3_OBJECT_CREATED_SAMPLE["source"] in pattern["source"]
    assert S3_OBJECT_CREATED_SAMPLE["detail-type"] in pattern["detail-type"]
    assert set(pattern["detail"]) <= set(S3_OBJECT_CREATED_SAMPLE["detail"])


# --- Upgrading: what keeps its logical id ---------------------------------------------------------------------


def test_the_rule_and_dead_letter_queue_keep_their_logical_ids_across_modes(function_mode: Synthesized) -> None:
    direct = trigger_ids(synthesized_example("minimal"))
    function = trigger_ids(function_mode)
    kept = {k: v for k, v in direct.items() if k in function}
    assert sorted(kept.values()) == ["AWS::Events::Rule", "AWS::SQS::Queue", "AWS::SQS::QueuePolicy"]
    assert sorted(direct.keys() - function.keys()) == [
        "PipelineTriggerStartPolicyF4AB6712",
        "PipelineTriggerStartRoleEC9138C4",
    ]
    # What an upgrade from the function removes (its log group is retained: it stays in the account).
    assert sorted(function[k] for k in function.keys() - direct.keys()) == [
        "AWS::IAM::Policy",
        "AWS::IAM::Role",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::Function",
        "AWS::Lambda::Permission",
        "AWS::Logs::LogGroup",
    ]


def test_resource_counts_match_the_documented_table(function_mode: Synthesized) -> None:
    direct = len(synthesized_example("minimal").json["Resources"])
    function = len(function_mode.json["Resources"])
    assert (direct, function) == (56, 60)
    assert (len(trigger_ids(synthesized_example("minimal"))), len(trigger_ids(function_mode))) == (5, 9)
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert f"| Resources in the minimal example | {direct} | {function} |" in page


# --- FUNCTION: the function, as before ------------------------------------------------------------------------


def test_function_runs_on_the_pinned_python_runtime(function_mode: Synthesized) -> None:
    _, function = one(function_mode, "AWS::Lambda::Function")
    assert function["Properties"]["Runtime"] == "python3.13"
    assert trigger.FUNCTION_RUNTIME.name == lambda_.Runtime.PYTHON_3_13.name


def test_rule_delivers_to_the_function_with_retries_and_a_dead_letter_queue(function_mode: Synthesized) -> None:
    _, rule = one(function_mode, "AWS::Events::Rule", under="PipelineTrigger")
    function_id, _ = one(function_mode, "AWS::Lambda::Function")
    queue_id, _ = one(function_mode, "AWS::SQS::Queue", under="PipelineTrigger")
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert "InputTransformer" not in target  # the function reads the whole event


def test_function_retries_failed_starts_then_parks_the_event(function_mode: Synthesized) -> None:
    function_id, function = one(function_mode, "AWS::Lambda::Function")
    queue_id, _ = one(function_mode, "AWS::SQS::Queue", under="PipelineTrigger")
    queue_arn = {"Fn::GetAtt": [queue_id, "Arn"]}
    assert function["Properties"]["DeadLetterConfig"] == {"TargetArn": queue_arn}
    [(_, invoke)] = of_type(function_mode, "AWS::Lambda::EventInvokeConfig").items()
    assert invoke["Properties"] == {
        "FunctionName": {"Ref": function_id},
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 21600,
        "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
    }


def test_function_is_traced_bounded_and_starts_this_pipeline(function_mode: Synthesized) -> None:
    pipeline_id, _ = one(function_mode, "AWS::CodePipeline::Pipeline")
    _, function = one(function_mode, "AWS::Lambda::Function")
    props = function["Properties"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["ReservedConcurrentExecutions"] == 5
    assert "Fn::GetAtt" in props["KmsKeyArn"]
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "index.handler"
    assert props["Environment"]["Variables"] == {"PIPELINE_NAME": {"Ref": pipeline_id}, "SOURCE_ACTION_NAME": "Source"}


def test_function_role_may_start_only_this_pipeline(function_mode: Synthesized) -> None:
    pipeline_id, _ = one(function_mode, "AWS::CodePipeline::Pipeline")
    _, function = one(function_mode, "AWS::Lambda::Function")
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    [policy] = [
        p for p in of_type(function_mode, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    found = policy["Properties"]["PolicyDocument"]["Statement"]
    [start] = [s for s in found if s["Action"] == "codepipeline:StartPipelineExecution"]
    assert {"Ref": pipeline_id} in start["Resource"]["Fn::Join"][1]
    actions = {a for s in found for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {a.split(":")[0] for a in actions} == {"codepipeline", "logs", "sqs", "kms", "xray"}


def test_function_keeps_its_log_group_and_the_history_query_reads_it(function_mode: Synthesized) -> None:
    logs_id, group = one(function_mode, "AWS::Logs::LogGroup", under="PipelineTriggerLogs")
    assert group["DeletionPolicy"] == "Retain"
    [query] = of_type(function_mode, "AWS::Logs::QueryDefinition").values()
    assert {"Ref": logs_id} in query["Properties"]["LogGroupNames"]
    assert "parse @message" in query["Properties"]["QueryString"]


# --- FUNCTION: the compliance gate ------------------------------------------------------------------------------


@pytest.mark.parametrize("pack", PACKS.values(), ids=PACKS.keys())
def test_function_mode_passes_cdk_nag(function_mode: Synthesized, pack: Any) -> None:
    app = function_mode.stack.node.root
    assert isinstance(app, cdk.App)
    assert nag_findings(app, pack) == []


def test_function_mode_acknowledgements_are_specific_and_explained(function_mode: Synthesized) -> None:
    trigger_acks = [a for a in acknowledgements(function_mode.stack) if "/Trigger/" in a.path]
    assert {a.id for a in trigger_acks} >= {"AwsSolutions-L1", "Serverless-LambdaLatestVersion"}
    problems = [(a.path, a.id, id_problem(a.id) or reason_problem(a.reason)) for a in trigger_acks]
    assert [p for p in problems if p[2] is not None] == []


def template_file(synthesized: Synthesized) -> Path:
    app = synthesized.stack.node.root
    assert isinstance(app, cdk.App)
    return Path(app.synth().get_stack_by_name(synthesized.stack.stack_name).template_full_path)


def test_function_mode_passes_cfn_lint(function_mode: Synthesized) -> None:
    from cfnlint.api import lint_file

    found = [
        (m.rule.id, "/".join(map(str, m.path)))
        for m in lint_file(template_file(function_mode))
        if not m.rule.id.startswith("I")
        # CDK's Function DependsOn its role as well as the role's policy (see test_compliance.py).
        and not (m.rule.id == "W3005" and m.path[1].startswith("PipelineTriggerFunction"))
        and not (m.rule.id == "W3005" and m.path[1] == "Pipeline9850B417")
    ]
    assert found == []


def test_function_mode_passes_checkov(function_mode: Synthesized) -> None:
    command = [sys.executable, "-m", "checkov.main", "--file", str(template_file(function_mode))]
    command += ["--framework", "cloudformation", "--skip-download", "--compact", "--quiet", "--output", "json"]
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, env={**os.environ, **CHECKOV_ENV}, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


# --- Arguments --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, 1, 10])
def test_fails_when_reserved_concurrency_is_given_with_direct(value: int | None) -> None:
    with pytest.raises(InputError) as raised:
        minimal_stack(cdk.App(), trigger_reserved_concurrency=value)
    [problem] = raised.value.problems
    assert problem.argument == "trigger_reserved_concurrency"
    assert "trigger_mode=TriggerMode.FUNCTION" in str(raised.value)
    assert "trigger_mode=TriggerMode.DIRECT (the default)" in str(raised.value)


def test_fails_when_trigger_mode_is_not_a_trigger_mode() -> None:
    with pytest.raises(InputError) as raised:
        minimal_stack(cdk.App(), trigger_mode="function")
    [problem] = raised.value.problems
    assert problem.argument == "trigger_mode"
    assert "TriggerMode.FUNCTION" in str(raised.value)


def test_upload_trigger_checks_its_mode_and_concurrency_together() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    pipeline = ValidatedS3Pipeline(stack, "Pipeline", validation=GOOD)
    with pytest.raises(InputError, match=r"reserved_concurrency: got 2.*mode=TriggerMode.FUNCTION"):
        UploadTrigger(
            stack,
            "Second",
            bucket=pipeline.source_bucket,
            object_key="other.zip",
            pipeline=pipeline.pipeline,
            source_action_name="Source",
            encryption_key=pipeline.operations_key,
            reserved_concurrency=2,
        )


def test_direct_trigger_has_no_function_and_no_log() -> None:
    pipeline = ValidatedS3Pipeline(cdk.Stack(cdk.App(), "Stack"), "Pipeline", validation=GOOD)
    assert pipeline.trigger.mode is TriggerMode.DIRECT
    assert (pipeline.trigger.function, pipeline.trigger.log_group) == (None, None)


def test_trigger_mode_is_exported() -> None:
    assert s3_validated_pipeline.TriggerMode is TriggerMode is trigger.TriggerMode
    assert "TriggerMode" in s3_validated_pipeline.__all__


@pytest.mark.parametrize(
    ("value", "shown", "advice"),
    [(0, "0", "or None"), (-1, "-1", "or None"), ("5", "'5'", "Expected an int or None, not str")],
    ids=["zero", "negative", "string"],
)
def test_fails_when_trigger_reserved_concurrency_is_not_a_positive_int(value: Any, shown: str, advice: str) -> None:
    assert_fails(
        "trigger_reserved_concurrency",
        shown,
        advice,
        trigger_mode=TriggerMode.FUNCTION,
        trigger_reserved_concurrency=value,
    )


def test_unreserved_trigger_concurrency_warns_with_a_stable_id() -> None:
    # Read from the construct's metadata, which synthesis turns into the warning: no synthesis needed.
    pipeline = new_pipeline(trigger_mode=TriggerMode.FUNCTION, trigger_reserved_concurrency=None)
    warnings = [
        str(entry.data)
        for construct in pipeline.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:warning"
    ]
    [warning] = warnings
    assert "[ack: s3-validated-pipeline:triggerConcurrencyUnreserved]" in warning
    assert "Set a small number such as 5" in warning
