"""Start the pipeline once for every upload, on exactly the uploaded object version.

Self-contained on purpose: the rule, its target and their checks live here alone, so a different way of starting
the pipeline replaces this module without touching the bucket. Two ways are offered (``TriggerMode``): the rule
starts the pipeline itself (``DIRECT``, the default), or through a function (``FUNCTION``, code in ``_handler/``).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import jsii
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
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from .._compliance import acknowledge, acknowledge_in_packs, acknowledge_role_policies, skip_checkov
from .._inputs import positive_whole_problems
from .._logs import encrypted_log_group, retention_problems
from .._resources import EVENT_MAX_AGE, EVENT_RETRY_ATTEMPTS, dead_lettered_target, encrypted_dead_letter_queue
from .._warnings import TRIGGER_CONCURRENCY_UNRESERVED
from ..errors import Problem, raise_if_any, wrong_enum
from ._checks import object_key_problems

"""The id of the warning given when the trigger function has no reserved concurrency."""

DEFAULT_RESERVED_CONCURRENCY = 5
"""How many starts the trigger function may run at once unless told otherwise (``TriggerMode.FUNCTION`` only)."""

FUNCTION_RUNTIME = lambda_.Runtime.PYTHON_3_13
"""The trigger function's runtime, pinned: a new aws-cdk-lib never changes it. The handler runs on any Python 3."""

# The function's code: one standard-library-and-boto3 file, hashed as an asset (only __pycache__ left out).
_HANDLER_DIR = Path(__file__).parent / "_handler"
_NO_VPC_REASON = (
    "The function only calls the CodePipeline API and reaches no private resource; a VPC would add an interface "
    "endpoint and its cost without isolating anything."
)
_EVENTS = iam.ServicePrincipal("events.amazonaws.com")


class TriggerMode(Enum):
    """How an upload starts the pipeline. Both start exactly the uploaded object version."""

    DIRECT = "DIRECT"
    """The EventBridge rule starts the pipeline itself, with an input transformer that sets the source revision
    (``S3_OBJECT_VERSION_ID``) from the event. No code to run or patch; one hop. A duplicate delivery of one event
    (rare; EventBridge delivers at least once) starts a second execution of the same version."""
    FUNCTION = "FUNCTION"
    """The rule invokes a small Lambda function that starts the pipeline with a client request token derived from
    bucket, key and version, so a duplicate delivery cannot start a second execution. Costs a function, its role,
    policy, log group, invoke configuration and permission, and a runtime to keep current."""


def reserved_concurrency_problems(argument: str, value: int | None) -> list[Problem]:
    """Return a problem unless ``value`` is None or a positive whole number."""
    return positive_whole_problems(
        argument, value, "Give a positive whole number of concurrent starts, e.g. 5, or None.", optional=True
    )


def trigger_mode_problems(
    argument: str, mode: object, concurrency_argument: str, reserved_concurrency: int | None
) -> list[Problem]:
    """Return what is wrong with ``mode`` and the reserved concurrency that goes with it.

    Reserved concurrency is the function's: with ``DIRECT`` there is no function, so any value but the default is
    a mistake, reported naming both arguments; with ``FUNCTION`` it must be None or a positive whole number.
    """
    if mode is TriggerMode.DIRECT:
        if reserved_concurrency == DEFAULT_RESERVED_CONCURRENCY and not isinstance(reserved_concurrency, bool):
            return []
        return [
            Problem(
                concurrency_argument,
                reserved_concurrency,
                f"Reserved concurrency is the trigger function's, and {argument}=TriggerMode.DIRECT (the default) "
                f"has none: pass {argument}=TriggerMode.FUNCTION to use it, or leave {concurrency_argument} out.",
            )
        ]
    found = reserved_concurrency_problems(concurrency_argument, reserved_concurrency)
    if not isinstance(mode, TriggerMode):
        found.insert(0, wrong_enum(argument, mode, TriggerMode, TriggerMode.DIRECT))
    return found


class UploadTrigger(Construct):
    """Define the EventBridge rule that starts ``pipeline`` for each upload of ``object_key``.

    S3's own EventBridge "Object Created" events are used (no CloudTrail trail needed). EventBridge retries
    delivery for 24 hours; what still fails lands in the encrypted dead-letter queue, from which it can be redriven.
    See ``TriggerMode`` for what starts the pipeline and what each way costs.

    Args:
        bucket: the versioned source bucket; it must send events to EventBridge.
        object_key: the watched key.
        pipeline: the pipeline to start.
        source_action_name: the name of the pipeline's S3 source action, whose revision is overridden.
        encryption_key: encrypts the dead-letter queue and, with ``FUNCTION``, the function's logs and settings;
            it must let CloudWatch Logs use it. The construct lets EventBridge use it for the queue.
        mode: ``TriggerMode.DIRECT`` (default) or ``TriggerMode.FUNCTION``.
        log_retention_days: how long the function's logs are kept (``FUNCTION`` only). Default: 365.
        reserved_concurrency: how many starts the function may run at once; bursts wait in Lambda's retry queue.
            Default: 5. ``FUNCTION`` only: anything else with ``DIRECT`` is an error. ``None`` leaves the function
            unreserved and adds ``s3-validated-pipeline:triggerConcurrencyUnreserved``; use it in accounts whose
            concurrency limit is too low to reserve any (new accounts start at 10).
        dead_letter_queue: an encrypted queue to dead-letter into, shared with other triggers (a
            ``PipelineFoundation``'s, ``DIRECT`` only): its policy and key must already admit this trigger's rule,
            which the queue's owner does by ``rule_name``. Default: a new queue admitting the rule.
        rule_name: a physical name for the rule. Default: generated by CloudFormation.
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
        mode: TriggerMode = TriggerMode.DIRECT,
        log_retention_days: int = 365,
        reserved_concurrency: int | None = DEFAULT_RESERVED_CONCURRENCY,
        dead_letter_queue: sqs.IQueue | None = None,
        rule_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        raise_if_any(
            [
                *object_key_problems("object_key", object_key),
                *retention_problems("log_retention_days", log_retention_days),
                *trigger_mode_problems("mode", mode, "reserved_concurrency", reserved_concurrency),
                *(
                    [Problem("mode", mode, "A shared dead-letter queue admits EventBridge rules only: use DIRECT.")]
                    if dead_letter_queue is not None and mode is not TriggerMode.DIRECT
                    else []
                ),
            ]
        )
        self.mode: TriggerMode = mode
        """How an upload starts the pipeline."""
        self.dead_letter_queue: sqs.IQueue = dead_letter_queue or encrypted_dead_letter_queue(
            self,
            "DeadLetterQueue",
            key=encryption_key,
            catches="the trigger's rule" + (" and function" if mode is TriggerMode.FUNCTION else ""),
            handled_by="events in it are inspected and redriven by people",
        )
        """Where an upload that could not start the pipeline waits, to be inspected and redriven."""
        if dead_letter_queue is None:
            let_eventbridge_dead_letter(encryption_key)

        self.function: lambda_.Function | None = None
        """The function that starts the pipeline (``FUNCTION``); None with ``DIRECT``."""
        self.log_group: logs.LogGroup | None = None
        """The function's log group, one line per execution started (``FUNCTION``); None with ``DIRECT``."""
        if mode is TriggerMode.DIRECT:
            self.role: iam.Role = _new_start_role(self, pipeline)
            """The role that starts the pipeline: EventBridge's (``DIRECT``) or the function's (``FUNCTION``)."""
            target: events.IRuleTarget = _StartPipeline(
                pipeline,
                role=self.role,
                source_action_name=source_action_name,
                dead_letter_queue=self.dead_letter_queue,
                admit_rule=dead_letter_queue is None,
            )
        else:
            self.role, self.function, self.log_group = _function_parts(
                self,
                pipeline=pipeline,
                source_action_name=source_action_name,
                key=encryption_key,
                log_retention_days=log_retention_days,
                dead_letter_queue=self.dead_letter_queue,
                reserved_concurrency=reserved_concurrency,
            )
            target = targets.LambdaFunction(
                self.function,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=EVENT_RETRY_ATTEMPTS,
                max_event_age=EVENT_MAX_AGE,
            )
        self.rule: events.Rule = _new_rule(
            self, bucket=bucket, object_key=object_key, target=target, rule_name=rule_name
        )
        """The EventBridge rule matching S3's "Object Created" events for the watched key."""


@jsii.implements(events.IRuleTarget)
class _StartPipeline:
    """Start ``pipeline`` on the object version named by the event, as ``role``; retried a day, then dead-lettered.

    The input transformer is the one CodePipeline's user guide documents for an S3 source: it turns the event into
    ``{"sourceRevisions": [{"actionName": ..., "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": ...}]}``.
    """

    def __init__(
        self,
        pipeline: codepipeline.IPipeline,
        *,
        role: iam.IRole,
        source_action_name: str,
        dead_letter_queue: sqs.IQueue,
        admit_rule: bool,
    ) -> None:
        self._pipeline = pipeline
        self._role = role
        self._source_action_name = source_action_name
        self._dead_letter_queue = dead_letter_queue
        self._admit_rule = admit_rule

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        """Let ``rule`` (and only it) send to the dead-letter queue; return the target's settings."""
        revision = {
            "actionName": self._source_action_name,
            "revisionType": "S3_OBJECT_VERSION_ID",
            "revisionValue": events.EventField.from_path("$.detail.object.version-id"),
        }
        return dead_lettered_target(
            rule.rule_ref.rule_arn,
            self._dead_letter_queue,
            arn=self._pipeline.pipeline_arn,
            role=self._role,
            input=events.RuleTargetInput.from_object({"sourceRevisions": [revision]}),
            admit_rule=self._admit_rule,
        )


def _new_start_role(scope: Construct, pipeline: codepipeline.IPipeline) -> iam.Role:
    """The role EventBridge assumes to start ``pipeline``: one statement, in a customer managed policy.

    The role names the policy in its ``ManagedPolicyArns``, so CloudFormation creates the policy first and the rule,
    which names the role, last: no event can be delivered by a role that cannot yet start the pipeline.
    """
    policy = iam.ManagedPolicy(
        scope,
        "StartPolicy",
        description="Starts the validation pipeline, and only it",
        statements=[
            iam.PolicyStatement(actions=["codepipeline:StartPipelineExecution"], resources=[pipeline.pipeline_arn])
        ],
    )
    return iam.Role(
        scope,
        "StartRole",
        assumed_by=_EVENTS,
        description="Lets EventBridge start the validation pipeline for one uploaded object version",
        managed_policies=[policy],
    )


def let_eventbridge_dead_letter(key: kms.IKey) -> None:
    """Let EventBridge use ``key``: it writes undeliverable events to the encrypted queue itself, not as a role."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="EventBridgeDeadLetters",
            principals=[_EVENTS],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )


def _function_parts(
    scope: Construct,
    *,
    pipeline: codepipeline.IPipeline,
    source_action_name: str,
    key: kms.IKey,
    log_retention_days: int,
    dead_letter_queue: sqs.IQueue,
    reserved_concurrency: int | None,
) -> tuple[iam.Role, lambda_.Function, logs.LogGroup]:
    """The function of ``TriggerMode.FUNCTION``, with its role and log group."""
    if reserved_concurrency is None:
        TRIGGER_CONCURRENCY_UNRESERVED.add(
            scope,
            "The upload trigger has no reserved concurrency, so a burst of uploads can use the account's "
            "shared Lambda concurrency. Set a small number such as 5 once the account's limit allows, or "
            "acknowledge this warning.",
        )
    log_group = encrypted_log_group(scope, "Logs", key=key, retention_days=log_retention_days)
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description="Starts the validation pipeline for one uploaded object version",
    )
    function = _new_function(
        scope,
        environment={"PIPELINE_NAME": pipeline.pipeline_name, "SOURCE_ACTION_NAME": source_action_name},
        key=key,
        role=role,
        log_group=log_group,
        dead_letter_queue=dead_letter_queue,
        reserved_concurrency=reserved_concurrency,
    )
    log_group.grant_write(role)
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["codepipeline:StartPipelineExecution"], resources=[pipeline.pipeline_arn])
    )
    _acknowledge_function_findings(role, function)
    return role, function, log_group


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
        runtime=FUNCTION_RUNTIME,
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
    for finding in ("AwsSolutions-L1", "Serverless-LambdaLatestVersion"):
        acknowledge(
            function,
            finding,
            f"The runtime is pinned ({FUNCTION_RUNTIME.name}, a supported runtime) so that upgrading aws-cdk-lib "
            "never changes the deployed function; the handler needs only the standard library and boto3, and the "
            "pin is moved deliberately, in a release that says so.",
        )
    skip_checkov(function, "CKV_AWS_117", _NO_VPC_REASON)


def _new_rule(
    scope: Construct, *, bucket: s3.IBucket, object_key: str, target: events.IRuleTarget, rule_name: str | None
) -> events.Rule:
    """Define the rule that sends each "Object Created" event of ``object_key`` to ``target``."""
    return events.Rule(
        scope,
        "Rule",
        rule_name=rule_name,
        description=f"Every upload of {object_key} starts the validation pipeline",
        event_pattern=events.EventPattern(
            source=["aws.s3"],
            detail_type=["Object Created"],
            detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [object_key]}},
        ),
        targets=[target],
    )
