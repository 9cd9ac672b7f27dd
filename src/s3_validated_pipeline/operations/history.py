"""The execution history: every state change of the pipeline in an encrypted log group, a saved query and a metric.

See ``AuditOptions`` for what it keeps and what it costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .._logs import encrypted_log_group
from ._common import (
    ACTION_EXECUTION_EVENT,
    EVENTS_SERVICE,
    PIPELINE_EXECUTION_EVENT,
    STAGE_EXECUTION_EVENT,
    to_log_group,
)

METRIC_NAMESPACE = "S3ValidatedPipeline"
"""Where the execution history's metric filter puts ``Executions`` (dimensions ``PipelineName`` and ``State``)."""
OUTCOMES = ("SUCCEEDED", "FAILED", "STOPPED", "SUPERSEDED")
"""The final states counted by the history's metric filter, one custom metric each once they occur."""


@dataclass(frozen=True, kw_only=True)
class History:
    """What ``record_history`` made."""

    log_group: logs.LogGroup
    """Where every state change of the pipeline is kept, encrypted with the operations key."""
    rule: events.Rule
    """The rule that writes the state changes to ``log_group``."""
    query: logs.QueryDefinition
    """A saved CloudWatch Logs Insights query listing executions and their Source action with state and time."""
    metric_filter: logs.MetricFilter
    """Counts final states as ``Executions`` in ``METRIC_NAMESPACE``, by ``PipelineName`` and ``State``."""
    key_services: tuple[str, ...] = (EVENTS_SERVICE,)
    """The services that must be let use the operations key for these to work."""


def record_history(
    scope: Construct,
    *,
    pipeline_arns: Sequence[str],
    name: str,
    key: kms.IKey,
    retention_days: int,
    dead_letter_queue: sqs.IQueue,
    trigger_log_group: logs.ILogGroup | None,
    subject: str = "the pipeline",
) -> History:
    """Define the execution history of the pipelines ``pipeline_arns`` match, in ``scope``.

    Args:
        pipeline_arns: the rule's ``resources``: one pipeline's ARN, or ``events.Match.prefix`` of several.
        name: names the saved query, ``s3-validated-pipeline/<name>/executions``.
        subject: the pipelines as the rule's description names them. Default: ``"the pipeline"``.
        key: encrypts the log group.
        retention_days: how long the history is kept; one of CloudWatch Logs' retention values.
        dead_letter_queue: where events the rule cannot deliver go.
        trigger_log_group: the upload trigger function's log group; the saved query reads it too, to pair each
            execution with the uploaded object version. None (``TriggerMode.DIRECT``): the query shows each
            execution's Source action events instead, and the ``list-action-executions`` recipe of docs/operations.md
            gives the version.
    """
    group = encrypted_log_group(scope, "History", key=key, retention_days=retention_days)
    # EventBridge writes to CloudWatch Logs under the log group's resource policy (never a role). It delivers
    # only to log groups of the rule's own account and Region, and the statement names this one group.
    group.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal(EVENTS_SERVICE)],
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[group.log_group_arn],
        )
    )
    target_arn = Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name=group.log_group_name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
    rule = events.Rule(
        scope,
        "HistoryRule",
        description=f"Records every pipeline, stage and action state change of {subject}",
        event_pattern=events.EventPattern(
            source=["aws.codepipeline"],
            detail_type=[PIPELINE_EXECUTION_EVENT, STAGE_EXECUTION_EVENT, ACTION_EXECUTION_EVENT],
            resources=pipeline_arns,
        ),
        targets=[to_log_group(target_arn, dead_letter_queue=dead_letter_queue)],
    )
    return History(
        log_group=group,
        rule=rule,
        query=_executions_query(scope, name, group, trigger_log_group),
        metric_filter=_outcomes_metric(scope, group),
    )


def _executions_query(
    scope: Construct,
    name: str,
    group: logs.ILogGroup,
    trigger_log_group: logs.ILogGroup | None,
) -> logs.QueryDefinition:
    """One row per execution state and per state of its source action and, from the trigger's log when there is one,
    one per start naming the object version.

    Action events name their stage, action and type (``detail.type.category`` is ``Source`` for the S3 source), not
    the object version: with no trigger log, ``aws codepipeline list-action-executions`` gives the version
    (docs/operations.md).
    The trigger's JSON line holds ``"pipelineExecutionId": ..., "objectVersionId": ...`` in that order.
    """
    versions = trigger_log_group is not None
    shown = f'`detail-type` = "{PIPELINE_EXECUTION_EVENT}"'
    shown += f' or (`detail-type` = "{ACTION_EXECUTION_EVENT}" and detail.type.category = "Source")'
    return logs.QueryDefinition(
        scope,
        "ExecutionsQuery",
        query_definition_name=f"s3-validated-pipeline/{name}/executions",
        query_string=logs.QueryString(
            fields=[
                "@timestamp as time",
                "detail.pipeline as pipeline",
                "`detail.execution-id` as execution",
                "detail.state as state",
                "detail.action as action",
            ],
            parse_statements=[
                '@message /"pipelineExecutionId": "(?<started>[^"]+)", "objectVersionId": "(?<version>[^"]+)"/'
            ]
            if versions
            else None,
            filter_statements=[shown + (" or ispresent(version)" if versions else "")],
            sort="time desc",
        ),
        log_groups=[group, trigger_log_group] if trigger_log_group is not None else [group],
    )


def _outcomes_metric(scope: Construct, group: logs.ILogGroup) -> logs.MetricFilter:
    """Pipeline-level events are the ones without a stage; each final state becomes one custom metric once seen."""
    return logs.MetricFilter(
        scope,
        "OutcomesMetric",
        log_group=group,
        filter_pattern=logs.FilterPattern.all(
            logs.FilterPattern.not_exists("$.detail.stage"),
            logs.FilterPattern.any(
                *(logs.FilterPattern.string_value("$.detail.state", "=", outcome) for outcome in OUTCOMES)
            ),
        ),
        metric_namespace=METRIC_NAMESPACE,
        metric_name="Executions",
        metric_value="1",
        dimensions={"PipelineName": "$.detail.pipeline", "State": "$.detail.state"},
    )
