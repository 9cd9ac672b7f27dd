"""The read-only checks of ``s3vp selftest``: each reads one part of a deployed pipeline and returns a ``Finding``
that names the resource and, when it fails, the fix. None of them writes anything."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from .._buildspec import CHECKER_VARIABLES
from .._names import VALIDATE
from ._aws import AwsError, PipelineOutputs, aws_errors, read_stack_outputs, stack_resources
from ._common import stack_pipeline_name

__all__ = [
    "CHECKS",
    "FAILED",
    "PASSED",
    "SKIPPED",
    "Deployed",
    "Finding",
    "read_deployed",
]

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"

REDEPLOY = "redeploy the stack (`cdk deploy`) to restore it"


@dataclass(frozen=True)
class Finding:
    """What one check found: passed, failed or skipped, and a message naming the resource (and the fix)."""

    name: str
    status: str
    message: str
    seconds: float = 0.0
    blocked: bool = False
    """The check could not run: a credentials or permission problem (exit 2 rather than 1)."""

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready values."""
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "message": self.message,
            "blocked": self.blocked,
        }

    def timed(self, seconds: float) -> Finding:
        """This finding, with how long its check took."""
        return replace(self, seconds=seconds)


@dataclass
class Deployed:
    """What every check starts from: the stack's outputs and the pipeline's declaration, read once."""

    session: Any
    stack: str
    outputs: PipelineOutputs
    pipeline: str
    declaration: dict[str, Any]
    """``codepipeline:GetPipeline``'s ``pipeline``: stages, actions, type and execution mode."""
    _listed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def resources(self, resource_type: str, marker: str = "") -> list[dict[str, Any]]:
        """This pipeline's resources of ``resource_type`` in the stack whose logical id starts with the construct's
        path and ``marker`` (``ListStackResources``, once per type)."""
        if resource_type not in self._listed:
            self._listed[resource_type] = stack_resources(self.session, self.stack, resource_type, "")
        own = self.outputs.construct + marker
        return [item for item in self._listed[resource_type] if str(item.get("LogicalResourceId", "")).startswith(own)]

    def stage_names(self) -> list[str]:
        """The pipeline's stages, in order."""
        return [str(stage.get("name")) for stage in self.declaration.get("stages", [])]

    def validate_project(self) -> str | None:
        """The CodeBuild project the Validate action runs."""
        for stage in self.declaration.get("stages", []):
            for action in stage.get("actions", []):
                if stage.get("name") == VALIDATE and action.get("name") == VALIDATE:
                    name = action.get("configuration", {}).get("ProjectName")
                    return str(name) if name else None
        return None


def read_deployed(session: Any, stack: str, pipeline: str | None) -> Deployed:
    """The stack's outputs (``cloudformation:DescribeStacks``) and its pipeline's declaration
    (``codepipeline:GetPipeline``); ``AwsError`` when either cannot be read."""
    outputs = read_stack_outputs(session, stack, pipeline=pipeline)
    name = stack_pipeline_name(outputs)
    with aws_errors(action="codepipeline:GetPipeline", resource=f"the pipeline {name!r}"):
        declaration = session.client("codepipeline").get_pipeline(name=name)["pipeline"]
    return Deployed(session, stack, outputs, name, declaration)


def _passed(name: str, message: str) -> Finding:
    return Finding(name, PASSED, message)


def _failed(name: str, message: str) -> Finding:
    return Finding(name, FAILED, message)


def check_bucket(deployed: Deployed) -> Finding:
    """The source bucket is versioned and sends S3's events to EventBridge."""
    bucket = deployed.outputs.bucket
    s3 = deployed.session.client("s3")
    action = "s3:GetBucketVersioning and s3:GetBucketNotification"
    with aws_errors(action=action, resource=f"the bucket {bucket!r}"):
        versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status")
        notification = s3.get_bucket_notification_configuration(Bucket=bucket)
    problems = []
    if versioning != "Enabled":
        problems.append(f"versioning is {versioning or 'off'}, so an upload is no version the pipeline can name")
    if "EventBridgeConfiguration" not in notification:
        problems.append("it sends no events to EventBridge, so no upload starts the pipeline")
    if problems:
        return _failed(
            "source-bucket",
            f"the source bucket {bucket}: {'; '.join(problems)}. Fix: {REDEPLOY} (a bucket the stack did not create: "
            "turn on versioning and EventBridge notifications on it)",
        )
    return _passed("source-bucket", f"the source bucket {bucket} is versioned and sends its events to EventBridge")


def check_trigger_rule(deployed: Deployed) -> Finding:
    """The trigger rule is on and starts this pipeline on the uploaded version, or invokes the trigger function."""
    found = deployed.resources("AWS::Events::Rule", "TriggerRule")
    if not found:
        return _failed(
            "trigger-rule",
            f"the stack {deployed.stack!r} has no trigger rule for the pipeline (an AWS::Events::Rule whose logical "
            f"id starts with {deployed.outputs.construct}TriggerRule): {REDEPLOY}",
        )
    name = str(found[0]["PhysicalResourceId"]).split("|")[-1]
    events = deployed.session.client("events")
    with aws_errors(action="events:DescribeRule and events:ListTargetsByRule", resource=f"the rule {name!r}"):
        state = events.describe_rule(Name=name).get("State")
        targets = events.list_targets_by_rule(Rule=name).get("Targets", [])
    if state != "ENABLED":
        return _failed(
            "trigger-rule",
            f"the trigger rule {name} is {state}: someone disabled it, so no upload starts the pipeline. Fix: "
            f"`aws events enable-rule --name {name}`, or {REDEPLOY}",
        )
    direct = [target for target in targets if str(target.get("Arn", "")).endswith(f":{deployed.pipeline}")]
    function = [target for target in targets if ":function:" in str(target.get("Arn", ""))]
    if direct:
        transformer = direct[0].get("InputTransformer") or {}
        paths = transformer.get("InputPathsMap") or {}
        if "$.detail.object.version-id" not in paths.values() or "S3_OBJECT_VERSION_ID" not in str(
            transformer.get("InputTemplate", "")
        ):
            return _failed(
                "trigger-rule",
                f"the trigger rule {name} starts {deployed.pipeline} without the version-id input transformer, so "
                f"an execution may validate another version than the one uploaded. Fix: {REDEPLOY}",
            )
        return _passed(
            "trigger-rule",
            f"the trigger rule {name} is enabled and starts {deployed.pipeline} on the uploaded object version "
            "(S3_OBJECT_VERSION_ID from $.detail.object.version-id)",
        )
    if function:
        return _passed(
            "trigger-rule",
            f"the trigger rule {name} is enabled and invokes the trigger function {function[0]['Arn']} "
            f"(TriggerMode.FUNCTION), which starts {deployed.pipeline} on the uploaded object version",
        )
    arns = ", ".join(str(target.get("Arn")) for target in targets) or "none"
    return _failed(
        "trigger-rule",
        f"the trigger rule {name} does not start the pipeline {deployed.pipeline} (its targets: {arns}). "
        f"Fix: {REDEPLOY}",
    )


def check_execution_mode(deployed: Deployed) -> Finding:
    """The pipeline is V2 (it takes the version to run on) and runs every upload (QUEUED or PARALLEL)."""
    kind = deployed.declaration.get("pipelineType", "V1")
    mode = deployed.declaration.get("executionMode", "SUPERSEDED")
    name = deployed.pipeline
    if kind != "V2":
        return _failed(
            "execution-mode",
            f"the pipeline {name} is a {kind} pipeline: only V2 starts on the uploaded object version. Fix: {REDEPLOY}",
        )
    if mode == "SUPERSEDED":
        return _failed(
            "execution-mode",
            f"the pipeline {name} runs in SUPERSEDED mode: a newer upload overtakes one still running, which is then "
            "never validated. Fix: redeploy with ExecutionMode.QUEUED (the default) or PARALLEL",
        )
    return _passed("execution-mode", f"the pipeline {name} is V2 in {mode} mode: every upload gets its own execution")


def check_keys(deployed: Deployed) -> Finding:
    """Every key of the pipeline is enabled, and every symmetric one rotates."""
    wanted = [str(item["PhysicalResourceId"]) for item in deployed.resources("AWS::KMS::Key")]
    wanted += [key for key in (deployed.outputs.kms_key, deployed.outputs.signing_key) if key]
    kms = deployed.session.client("kms")
    seen: set[str] = set()
    problems: list[str] = []
    rotating = 0
    with aws_errors(action="kms:DescribeKey and kms:GetKeyRotationStatus", resource="the pipeline's KMS keys"):
        for key in wanted:
            metadata = kms.describe_key(KeyId=key)["KeyMetadata"]
            if metadata["KeyId"] in seen:
                continue
            seen.add(metadata["KeyId"])
            arn, state = metadata.get("Arn", key), metadata.get("KeyState")
            if state != "Enabled":
                fix = "aws kms cancel-key-deletion" if state == "PendingDeletion" else "aws kms enable-key"
                problems.append(f"the key {arn} is {state} (`{fix} --key-id {metadata['KeyId']}`)")
            if metadata.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
                continue  # an asymmetric key (the signing key) cannot rotate automatically
            if kms.get_key_rotation_status(KeyId=metadata["KeyId"]).get("KeyRotationEnabled"):
                rotating += 1
            else:
                problems.append(
                    f"the key {arn} does not rotate (`aws kms enable-key-rotation --key-id {metadata['KeyId']}`, "
                    "or redeploy the stack)"
                )
    if problems:
        return _failed("keys", "; ".join(problems))
    if not seen:
        return Finding("keys", SKIPPED, f"the stack {deployed.stack!r} names no KMS key of the pipeline")
    return _passed("keys", f"{len(seen)} key(s) enabled; the {rotating} symmetric one(s) rotate")


def check_checker(deployed: Deployed) -> Finding:
    """The checker asset the Validate project downloads exists and has the SHA-256 its template pins."""
    from botocore.exceptions import ClientError

    project = deployed.validate_project()
    if project is None:
        return _failed(
            "checker", f"the pipeline {deployed.pipeline} has no Validate action running a CodeBuild project"
        )
    with aws_errors(action="codebuild:BatchGetProjects", resource=f"the CodeBuild project {project!r}"):
        projects = deployed.session.client("codebuild").batch_get_projects(names=[project]).get("projects", [])
    variables = {
        item.get("name"): item.get("value")
        for found in projects
        for item in found.get("environment", {}).get("environmentVariables", [])
    }
    bucket, key, pinned = (variables.get(name) for name in CHECKER_VARIABLES)
    if not (bucket and key and pinned):
        return _failed(
            "checker",
            f"the Validate project {project} does not name its checker asset ({', '.join(CHECKER_VARIABLES)}): "
            + REDEPLOY,
        )
    where = f"s3://{bucket}/{key}"
    s3 = deployed.session.client("s3")
    with aws_errors(action="s3:GetObject on the CDK assets bucket", resource=f"the checker asset {where}"):
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"NoSuchKey", "NoSuchBucket", "404"}:
                raise
            return _failed(
                "checker",
                f"the checker asset {where} is missing, so every Validate build fails: someone deleted it from the "
                "CDK assets bucket. Fix: redeploy the stack (`cdk deploy` uploads its assets again)",
            )
    digest = hashlib.sha256(body).hexdigest()
    if digest != pinned:
        return _failed(
            "checker",
            f"the checker asset {where} has SHA-256 {digest}, not the {pinned} the Validate project pins, so every "
            "Validate build refuses it: someone replaced it. Fix: redeploy the stack (`cdk deploy`)",
        )
    return _passed("checker", f"the checker asset {where} holds the pinned SHA-256 {pinned}")


def dead_letter_queue(deployed: Deployed) -> str:
    """The URL of the trigger's dead-letter queue: the stack's output, or found among its resources."""
    from ._redrive import find_dead_letter_queue

    outputs = deployed.outputs
    return outputs.dead_letter_queue or find_dead_letter_queue(
        deployed.session, deployed.stack, construct=outputs.construct
    )


def check_dead_letter_queue(deployed: Deployed) -> Finding:
    """The trigger's dead-letter queue is empty: every upload so far started the pipeline."""
    url = dead_letter_queue(deployed)
    with aws_errors(action="sqs:GetQueueAttributes", resource=f"the queue {url}"):
        attributes = deployed.session.client("sqs").get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
    count = sum(int(value) for value in attributes.values())
    if count:
        return _failed(
            "dead-letter-queue",
            f"the trigger's dead-letter queue {url} holds {count} upload event(s) that could not start the pipeline. "
            f"Fix: see why with `s3vp redrive --stack {deployed.stack} --dry-run`, then start them without --dry-run",
        )
    return _passed("dead-letter-queue", f"the trigger's dead-letter queue {url} is empty")


def check_alarms(deployed: Deployed) -> Finding:
    """No alarm of the pipeline is in ALARM."""
    names = [str(item["PhysicalResourceId"]) for item in deployed.resources("AWS::CloudWatch::Alarm")]
    if not names:
        return Finding(
            "alarms", SKIPPED, f"the pipeline {deployed.pipeline} has no alarms in its stack (operations off)"
        )
    cloudwatch = deployed.session.client("cloudwatch")
    found: list[dict[str, Any]] = []
    with aws_errors(action="cloudwatch:DescribeAlarms", resource=f"the alarms of the stack {deployed.stack!r}"):
        for start in range(0, len(names), 100):
            response = cloudwatch.describe_alarms(AlarmNames=names[start : start + 100])
            found += [*response.get("MetricAlarms", []), *response.get("CompositeAlarms", [])]
    missing = sorted(set(names) - {str(alarm.get("AlarmName")) for alarm in found})
    firing = [alarm for alarm in found if alarm.get("StateValue") == "ALARM"]
    problems = [
        f"{alarm['AlarmName']} is in ALARM{_since(alarm)} ({alarm.get('AlarmDescription') or 'no description'})"
        for alarm in firing
    ]
    problems += [f"{name} is listed by the stack but does not exist ({REDEPLOY})" for name in missing]
    if problems:
        # A failed execution (the one CodePipeline starts at creation, a canary's) holds its alarms for one period.
        later = "; an alarm on failures returns to OK one period (5 minutes) after the last one" if firing else ""
        return _failed("alarms", "; ".join(problems) + later)
    return _passed("alarms", f"{len(found)} alarm(s), none in ALARM")


def _since(alarm: dict[str, Any]) -> str:
    moment = alarm.get("StateUpdatedTimestamp")
    return f" since {moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC" if isinstance(moment, datetime) else ""


def check_notifications(deployed: Deployed) -> Finding:
    """The rule that announces failed executions is enabled and sends to a topic."""
    found = deployed.resources("AWS::Events::Rule", "OperationsNotifyFailed")
    if not found:
        return Finding(
            "notifications",
            SKIPPED,
            f"no rule in the stack {deployed.stack!r} announces the failed executions of {deployed.pipeline}: "
            "notifications are off, or (a pipeline on a PipelineFoundation) the foundation's stack announces them",
        )
    name = str(found[0]["PhysicalResourceId"]).split("|")[-1]
    events = deployed.session.client("events")
    with aws_errors(action="events:DescribeRule and events:ListTargetsByRule", resource=f"the rule {name!r}"):
        state = events.describe_rule(Name=name).get("State")
        topics = [
            str(target["Arn"])
            for target in events.list_targets_by_rule(Rule=name).get("Targets", [])
            if ":sns:" in str(target.get("Arn", ""))
        ]
    if state != "ENABLED" or not topics:
        why = f"is {state}" if state != "ENABLED" else "sends to no SNS topic"
        return _failed(
            "notifications",
            f"the rule {name}, which announces failed executions, {why}: nobody hears of a failure. Fix: "
            f"`aws events enable-rule --name {name}`, or {REDEPLOY}",
        )
    return _passed("notifications", f"the rule {name} announces failed executions to {', '.join(topics)}")


CHECKS: tuple[tuple[str, Callable[[Deployed], Finding]], ...] = (
    ("source-bucket", check_bucket),
    ("trigger-rule", check_trigger_rule),
    ("execution-mode", check_execution_mode),
    ("keys", check_keys),
    ("checker", check_checker),
    ("dead-letter-queue", check_dead_letter_queue),
    ("alarms", check_alarms),
    ("notifications", check_notifications),
)
"""The read-only checks, in the order they run and are reported."""


def run_check(name: str, check: Callable[[Deployed], Finding], deployed: Deployed) -> Finding:
    """Run one check; an AWS problem it cannot get past (access denied, say) is a failed, blocked finding."""
    try:
        return check(deployed)
    except AwsError as exc:
        return Finding(name, FAILED, str(exc), blocked=True)
