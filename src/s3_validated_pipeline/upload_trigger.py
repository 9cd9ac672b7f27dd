"""Start the pipeline once for every upload, on exactly the uploaded object version."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, Aws, Duration
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

from ._compliance import acknowledge, acknowledge_in_packs, acknowledge_role_policies, skip_checkov
from ._logs import encrypted_log_group, retention_problems
from .errors import Problem, raise_if_any, unresolved, wrong_type

UNRESERVED_CONCURRENCY_WARNING = "s3-validated-pipeline:triggerConcurrencyUnreserved"

_HANDLER_DIR = Path(__file__).parent / "_trigger_handler"
_NO_VPC_REASON = (
    "The function only calls the CodePipeline API and reaches no private resource; a VPC would add an interface "
    "endpoint and its cost without isolating anything."
)


def object_key_problems(argument: str, object_key: str) -> list[Problem]:
    """Return a problem unless ``object_key`` names one S3 object exactly."""
    if unresolved(object_key):
        return []
    if not isinstance(object_key, str):
        return [wrong_type(argument, object_key, "a str", "'source.zip'")]
    if not object_key.strip():
        return [Problem(argument, object_key, "Name the object developers upload, e.g. 'source.zip'.")]
    if object_key.startswith("/"):
        return [
            Problem(
                argument, object_key, f"Drop the leading '/': S3 keys are relative, e.g. {object_key.lstrip('/')!r}."
            )
        ]
    if any(char in object_key for char in "*?[]"):
        return [
            Problem(
                argument,
                object_key,
                "Wildcards are not supported: the pipeline watches one object. Name it exactly, e.g. 'source.zip'.",
            )
        ]
    if object_key.endswith("/"):
        return [
            Problem(
                argument,
                object_key,
                f"A key ending in '/' is a folder, not an object: name the zip, e.g. {object_key + 'source.zip'!r}.",
            )
        ]
    size = len(object_key.encode("utf-8"))
    if size > 1024:  # S3's limit on a key
        return [
            Problem(
                argument,
                f"{object_key[:40]}... ({size} bytes)",
                "S3 keys are at most 1024 bytes in UTF-8: use a shorter key, e.g. 'source.zip'.",
            )
        ]
    return []


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
            Annotations.of(self).add_warning_v2(
                UNRESERVED_CONCURRENCY_WARNING,
                "The upload trigger has no reserved concurrency, so a burst of uploads can use the account's "
                "shared Lambda concurrency. Set a small number such as 5 once the account's limit allows, or "
                "acknowledge this warning.",
            )

        self.dead_letter_queue: sqs.Queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        # EventBridge writes undeliverable events to the queue itself, so it needs the key too.
        encryption_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeDeadLetters",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        acknowledge(
            self.dead_letter_queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the trigger's rule and function; the rule only "
            "recognises queues named in another queue's redrive policy.",
        )
        acknowledge(
            self.dead_letter_queue,
            "Serverless-SQSRedrivePolicy",
            "This queue is the dead-letter queue of the trigger; events in it are inspected and redriven by "
            "people, so a further dead-letter queue would have nothing to catch.",
        )

        self.log_group: logs.LogGroup = encrypted_log_group(
            self, "Logs", key=encryption_key, retention_days=log_retention_days
        )
        self.role: iam.Role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Starts the validation pipeline for one uploaded object version",
        )
        self.function: lambda_.Function = lambda_.Function(
            self,
            "Function",
            runtime=latest_python_runtime(),
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(_HANDLER_DIR), exclude=["__pycache__"]),
            description="Starts the validation pipeline for exactly the uploaded S3 object version",
            environment={"PIPELINE_NAME": pipeline.pipeline_name, "SOURCE_ACTION_NAME": source_action_name},
            environment_encryption=encryption_key,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=Duration.seconds(30),
            memory_size=128,
            reserved_concurrent_executions=reserved_concurrency,
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            # Both, as the rules ask: the DLQ keeps the event, the destination adds the error. A failure can so
            # appear twice in the queue, which is harmless: redriving is idempotent per object version.
            dead_letter_queue=self.dead_letter_queue,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        self.log_group.grant_write(self.role)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["codepipeline:StartPipelineExecution"], resources=[pipeline.pipeline_arn])
        )
        acknowledge_role_policies(self.role)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level "
            "permissions, so AWS requires Resource '*' for them.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
            "CDK's grant to send to the encrypted dead-letter queue: ReEncrypt on the trigger's own key only.",
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "CDK's grant to send to the encrypted dead-letter queue: GenerateDataKey on the trigger's own key only.",
        )
        acknowledge_in_packs(self.function, "LambdaInsideVPC", _NO_VPC_REASON)
        skip_checkov(self.function, "CKV_AWS_117", _NO_VPC_REASON)

        self.rule: events.Rule = events.Rule(
            self,
            "Rule",
            description=f"Every upload of {object_key} starts the validation pipeline",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [object_key]}},
            ),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            ],
        )
