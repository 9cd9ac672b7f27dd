"""Start the pipeline once for every upload, on exactly the uploaded object version."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, Token
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._logs import encrypted_log_group, retention_problems
from .errors import Problem, raise_if_any

_HANDLER_DIR = Path(__file__).parent / "_trigger_handler"


def object_key_problems(argument: str, object_key: str) -> list[Problem]:
    """Return a problem unless ``object_key`` names one S3 object exactly."""
    if Token.is_unresolved(object_key):
        return []
    if not isinstance(object_key, str) or not object_key.strip():
        return [Problem(argument, object_key, "Name the object developers upload, e.g. 'source.zip'.")]
    if object_key.startswith("/"):
        return [
            Problem(
                argument,
                object_key,
                f"Drop the leading '/': S3 keys are relative, e.g. {object_key.lstrip('/')!r}.",
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
    return []


class UploadTrigger(Construct):
    """Define the EventBridge rule and function that start ``pipeline`` for each upload of ``object_key``.

    S3's own EventBridge "Object Created" events are used (no CloudTrail trail needed). EventBridge retries
    delivery for 24 hours and Lambda retries a failed start twice; what still fails lands in the dead-letter
    queue, from which it can be redriven safely because starts are idempotent per object version.

    Args:
        bucket: the versioned source bucket; it must send events to EventBridge.
        object_key: the watched key.
        pipeline: the pipeline to start.
        source_action_name: the name of the pipeline's S3 source action, whose revision is overridden.
        log_key: the key for the function's log group; it must let CloudWatch Logs use it.
        log_retention_days: how long the function's logs are kept. Default: 365.
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
        log_key: kms.IKey,
        log_retention_days: int = 365,
    ) -> None:
        super().__init__(scope, id)
        raise_if_any(
            [
                *object_key_problems("object_key", object_key),
                *retention_problems("log_retention_days", log_retention_days),
            ]
        )

        self.dead_letter_queue: sqs.Queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.log_group: logs.LogGroup = encrypted_log_group(
            self, "Logs", key=log_key, retention_days=log_retention_days
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
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(_HANDLER_DIR), exclude=["__pycache__"]),
            description="Starts the validation pipeline for exactly the uploaded S3 object version",
            environment={"PIPELINE_NAME": pipeline.pipeline_name, "SOURCE_ACTION_NAME": source_action_name},
            role=self.role,
            log_group=self.log_group,
            timeout=Duration.seconds(30),
            memory_size=128,
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            dead_letter_queue=self.dead_letter_queue,
        )
        self.log_group.grant_write(self.role)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["codepipeline:StartPipelineExecution"], resources=[pipeline.pipeline_arn])
        )

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
