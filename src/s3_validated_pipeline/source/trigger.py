"""Start the pipeline once for every upload, on exactly the uploaded object version.

Self-contained on purpose: the rule, the function (its code in ``_handler/``) and their checks live here alone, so
a different way of starting the pipeline replaces this module without touching the bucket.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .._compliance import acknowledge, acknowledge_in_packs, acknowledge_role_policies, skip_checkov
from .._logs import encrypted_log_group, retention_problems
from .._resources import EVENT_MAX_AGE, EVENT_RETRY_ATTEMPTS, encrypted_dead_letter_queue
from .._warnings import TRIGGER_CONCURRENCY_UNRESERVED
from ..errors import Problem, raise_if_any, unresolved, wrong_type
from .bucket import object_key_problems

UNRESERVED_CONCURRENCY_WARNING = TRIGGER_CONCURRENCY_UNRESERVED.id
"""The id of the warning given when the trigger function has no reserved concurrency."""

# The function's code: one standard-library-and-boto3 file, hashed as an asset (only __pycache__ left out).
_HANDLER_DIR = Path(__file__).parent / "_handler"
_NO_VPC_REASON = (
    "The function only calls the CodePipeline API and reaches no private resource; a VPC would add an interface "
    "endpoint and its cost without isolating anything."
)


def reserved_concurrency_problems(argument: str, value: int | None) -> list[Problem]:
    """Return a problem unless ``value`` is None or a positive whole number."""
    if value is None or unresolved(value):
        return []
    if isinstance(value, bool) or not isinstance(value, int):
        return [wrong_type(argument, value, "an int or None", "5")]
    if value <= 0:
        return [Problem(argument, value, "Give a positive number of concurrent starts, e.g. 5, or None.")]
    return []


def latest_python_runtime() -> lambda_.Runtime:
    """Return the newest Python runtime the installed aws-cdk-lib knows; the handler runs on any Python 3."""
    python = [
        r for r in lambda_.Runtime.ALL if r.family == lambda_.RuntimeFamily.PYTHON and r.name.startswith("python3.")
    ]
    return max(python, key=lambda r: tuple(int(part) for part in r.name.removeprefix("python").split(".")))


class UploadTrigger(Construct):
    """Define the EventBridge rule and function that start ``pipeline`` for each upload of ``object_key``.

    S3's own EventBridge "Object Created" events are used (no CloudTrail trail needed). EventBridge retries
    delivery for 24 hours and Lambda retries a failed start twice; what still fails lands in the encrypted
    dead-letter queue, from which it can be redriven safely because starts are idempotent per object version.

    Args:
        bucket: the versioned source bucket; it must send events to EventBridge.
        object_key: the watched key.
        pipeline: the pipeline to start.
        source_action_name: the name of the pipeline's S3 source action, whose revision is overridden.
        encryption_key: encrypts the function's logs, its settings and the dead-letter queue; it must let
            CloudWatch Logs use it. The construct lets EventBridge use it for the queue.
        log_retention_days: how long the function's logs are kept. Default: 365.
        reserved_concurrency: how many starts may run at once; bursts wait in Lambda's retry queue. Default: 5.
            ``None`` leaves the function unreserved and adds ``s3-validated-pipeline:triggerConcurrencyUnreserved``;
            use it in accounts whose concurrency limit is too low to reserve any (new accounts start at 10).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket,
        object_key: str,
        pipeline: codepipeline.IPipeline,
        source_action_name: str,
        encryption_key: kms.IKey,
        log_retention_days: int = 365,
        reserved_concurrency: int | None = 5,
    ) -> None:
        super().__init__(scope, id)
        raise_if_any(
            [
                *object_key_problems("object_key", object_key),
                *retention_problems("log_retention_days", log_retention_days),
                *reserved_concurrency_problems("reserved_concurrency", reserved_concurrency),
            ]
        )
        if reserved_concurrency is None:
            TRIGGER_CONCURRENCY_UNRESERVED.add(
                self,
                "The upload trigger has no reserved concurrency, so a burst of uploads can use the account's "
                "shared Lambda concurrency. Set a small number such as 5 once the account's limit allows, or "
                "acknowledge this warning.",
            )

        self.dead_letter_queue: sqs.Queue = encrypted_dead_letter_queue(
            self,
            "DeadLetterQueue",
            key=encryption_key,
            catches="the trigger's rule and function",
            handled_by="events in it are inspected and redriven by people",
        )
        """Where an upload that could not start the pipeline waits, to be inspected and redriven."""
        _let_eventbridge_dead_letter(encryption_key)

        self.log_group: logs.LogGroup = encrypted_log_group(
            self, "Logs", key=encryption_key, retention_days=log_retention_days
        )
        """The function's log group, encrypted with ``encryption_key``: one line per execution started."""
        self.role: iam.Role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Starts the validation pipeline for one uploaded object version",
        )
        """The function's role: it may start this pipeline, write its logs and send to the dead-letter queue."""
        self.function: lambda_.Function = _new_function(
            self,
            environment={"PIPELINE_NAME": pipeline.pipeline_name, "SOURCE_ACTION_NAME": source_action_name},
            key=encryption_key,
            role=self.role,
            log_group=self.log_group,
            dead_letter_queue=self.dead_letter_queue,
            reserved_concurrency=reserved_concurrency,
        )
        """The function that starts the pipeline on exactly the uploaded object version."""
        self.log_group.grant_write(self.role)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["codepipeline:StartPipelineExecution"], resources=[pipeline.pipeline_arn])
        )
        _acknowledge_function_findings(self.role, self.function)

        self.rule: events.Rule = _new_rule(
            self, bucket=bucket, object_key=object_key, function=self.function, dead_letter_queue=self.dead_letter_queue
        )
        """The EventBridge rule matching S3's "Object Created" events for the watched key."""


def _let_eventbridge_dead_letter(key: kms.IKey) -> None:
    """Let EventBridge use ``key``: it writes undeliverable events to the encrypted queue itself, not as a role."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="EventBridgeDeadLetters",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )


def _new_function(
    scope: Construct,
    *,
    environment: dict[str, str],
    key: kms.IKey,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    dead_letter_queue: sqs.IQueue,
    reserved_concurrency: int | None,
) -> lambda_.Function:
    """Define the function from ``_handler/``: traced, retried twice, failures kept in ``dead_letter_queue``."""
    return lambda_.Function(
        scope,
        "Function",
        runtime=latest_python_runtime(),
        architecture=lambda_.Architecture.ARM_64,
        handler="index.handler",
        code=lambda_.Code.from_asset(str(_HANDLER_DIR), exclude=["__pycache__"]),
        description="Starts the validation pipeline for exactly the uploaded S3 object version",
        environment=environment,
        environment_encryption=key,
        role=role,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        timeout=Duration.seconds(30),
        memory_size=128,
        reserved_concurrent_executions=reserved_concurrency,
        retry_attempts=2,
        max_event_age=Duration.hours(6),
        # Both, as the rules ask: the DLQ keeps the event, the destination adds the error. A failure can so
        # appear twice in the queue, which is harmless: redriving is idempotent per object version.
        dead_letter_queue=dead_letter_queue,
        on_failure=destinations.SqsDestination(dead_letter_queue),
    )


def _acknowledge_function_findings(role: iam.IRole, function: lambda_.Function) -> None:
    """Acknowledge what the rules report on the function and its role and cannot be fixed, with the reasons."""
    acknowledge_role_policies(role)
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level "
        "permissions, so AWS requires Resource '*' for them.",
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        "CDK's grant to send to the encrypted dead-letter queue: ReEncrypt on the trigger's own key only.",
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "CDK's grant to send to the encrypted dead-letter queue: GenerateDataKey on the trigger's own key only.",
    )
    acknowledge_in_packs(function, "LambdaInsideVPC", _NO_VPC_REASON)
    skip_checkov(function, "CKV_AWS_117", _NO_VPC_REASON)


def _new_rule(
    scope: Construct,
    *,
    bucket: s3.IBucket,
    object_key: str,
    function: lambda_.IFunction,
    dead_letter_queue: sqs.IQueue,
) -> events.Rule:
    """Define the rule that sends each "Object Created" event of ``object_key`` to ``function``, retried a day."""
    return events.Rule(
        scope,
        "Rule",
        description=f"Every upload of {object_key} starts the validation pipeline",
        event_pattern=events.EventPattern(
            source=["aws.s3"],
            detail_type=["Object Created"],
            detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [object_key]}},
        ),
        targets=[
            targets.LambdaFunction(
                function,
                dead_letter_queue=dead_letter_queue,
                retry_attempts=EVENT_RETRY_ATTEMPTS,
                max_event_age=EVENT_MAX_AGE,
            )
        ],
    )
