"""What the parts of the operations share: the events they watch, metric periods, rule delivery, topics and the key.

Every part (``notifications``, ``alarms``, ``history``, ``trail``, ``dashboard``) imports from here and from
``options``, and from no other part but one: the dashboard graphs the metric the history defines. Each part can be
read on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import jsii
from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from .._resources import dead_lettered_target
from .._warnings import OPERATIONS_KEY_POLICY_UNCHANGED

PIPELINE_EXECUTION_EVENT = "CodePipeline Pipeline Execution State Change"
"""The EventBridge detail type of a pipeline execution's state change."""
STAGE_EXECUTION_EVENT = "CodePipeline Stage Execution State Change"
"""The EventBridge detail type of a stage execution's state change."""
ACTION_EXECUTION_EVENT = "CodePipeline Action Execution State Change"
"""The EventBridge detail type of an action execution's state change (approvals among them)."""

ALARM_PERIOD = Duration.minutes(5)
"""Alarms look at 5-minute periods."""
GRAPH_PERIOD = Duration.hours(1)
"""The dashboard graphs hourly values over its time range."""

EVENTS_SERVICE = "events.amazonaws.com"
"""EventBridge: writes to the encrypted topics, the dead-letter queue and the history log group."""
CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"
"""CloudWatch alarms: publish to the encrypted topics the construct creates."""
SNS_SERVICE = "sns.amazonaws.com"
"""SNS: puts undeliverable emails in the encrypted dead-letter queue."""
_KEY_SERVICES = (EVENTS_SERVICE, CLOUDWATCH_SERVICE, SNS_SERVICE)
"""The services a part may need the operations key for, in the order the key policy names them."""

_EVENTS = iam.ServicePrincipal(EVENTS_SERVICE)


@jsii.implements(events.IRuleTarget)
class Delivery:
    """An EventBridge target retried for a day, then dead-lettered; ``admit`` lets the rule in by resource policy.

    CDK's SNS target admits EventBridge without naming the rule, and its CloudWatch Logs target writes the log
    group's policy through a Lambda-backed custom resource; plain resource policies do both more narrowly.
    """

    def __init__(
        self,
        arn: str,
        *,
        dead_letter_queue: sqs.IQueue,
        message: events.RuleTargetInput | None = None,
        admit: Callable[[str], object] | None = None,
    ) -> None:
        self._arn = arn
        self._dead_letter_queue = dead_letter_queue
        self._message = message
        self._admit = admit

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        """Admit ``rule`` to the target and the dead-letter queue; return the target's settings."""
        rule_arn = rule.rule_ref.rule_arn
        if self._admit is not None:
            self._admit(rule_arn)
        return dead_lettered_target(rule_arn, self._dead_letter_queue, arn=self._arn, input=self._message)


def to_topic(topic: sns.ITopic, message: events.RuleTargetInput, *, dead_letter_queue: sqs.IQueue) -> Delivery:
    """Return a target publishing ``message`` to ``topic``, whose policy admits each rule bound to it by ARN."""

    def admit(rule_arn: str) -> object:
        return topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[_EVENTS],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule_arn}},
            )
        )

    return Delivery(topic.topic_arn, dead_letter_queue=dead_letter_queue, message=message, admit=admit)


def to_log_group(target_arn: str, *, dead_letter_queue: sqs.IQueue) -> Delivery:
    """Return a target writing each event to the log group ``target_arn`` (its own policy admits EventBridge)."""
    return Delivery(target_arn, dead_letter_queue=dead_letter_queue)


def pipeline_metric(
    pipeline_name: str, name: str, statistic: str, *, period: Duration, label: str | None = None
) -> cloudwatch.Metric:
    """Return a metric CodePipeline publishes for the pipeline ``pipeline_name`` (a V2 pipeline) in
    ``AWS/CodePipeline``.

    ``FailedPipelineExecutions`` (count) and ``PipelineDuration`` (seconds, when an execution ends), with the
    dimension ``PipelineName``.
    """
    return cloudwatch.Metric(
        namespace="AWS/CodePipeline",
        metric_name=name,
        dimensions_map={"PipelineName": pipeline_name},
        statistic=statistic,
        period=period,
        label=label,
    )


def allow_services_to_use_key(scope: Construct, key: kms.IKey, services: Iterable[str]) -> None:
    """Let ``services`` of this account use ``key`` (decrypt, generate data keys), by one key policy statement.

    The parts say which services they need (``key_services`` of what each made); the statement names them in a
    fixed order, whatever order the parts were built in. An imported key's policy cannot be changed: that adds the
    warning ``s3-validated-pipeline:operationsKeyPolicyUnchanged`` on ``scope``.
    """
    wanted = set(services)
    names = [service for service in _KEY_SERVICES if service in wanted]
    if not names:
        return
    result = key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="PipelineOperationsServices",
            principals=[iam.ServicePrincipal(service) for service in names],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )
    if not result.statement_added:
        OPERATIONS_KEY_POLICY_UNCHANGED.add(
            scope,
            f"The policy of the imported key {key.node.path} cannot be changed here. Let "
            f"{', '.join(names)} use it (kms:Decrypt, kms:GenerateDataKey*) with an aws:SourceAccount "
            "condition, then acknowledge this warning.",
        )
