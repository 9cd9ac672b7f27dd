"""Alarms: failed, slow and waiting executions, failed and queued builds per stage, uploads that could not start the
pipeline.

See ``AlarmOptions`` for what each alarm watches and what it costs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .._compliance import acknowledge_in_packs
from .._names import WAIT_METRIC, WAIT_NAMESPACE
from .._warnings import ALARMS_WITHOUT_ACTIONS
from ._common import ALARM_PERIOD, pipeline_metric
from .options import AlarmOptions

_AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_ABOVE = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD


@dataclass(frozen=True, kw_only=True)
class StageAlarms:
    """The alarms on one build stage's CodeBuild project."""

    failed_builds: cloudwatch.Alarm
    """A build of the stage failed."""
    queue_time: cloudwatch.Alarm
    """A build of the stage waited longer than ``AlarmOptions.max_queue_time`` for capacity."""


@dataclass(frozen=True, kw_only=True)
class PipelineAlarms:
    """What ``add_alarms`` made."""

    failed_executions: cloudwatch.Alarm
    """An execution failed."""
    execution_time: cloudwatch.Alarm
    """An execution took longer than ``AlarmOptions.max_execution_time``."""
    wait_time: cloudwatch.Alarm
    """An upload waited longer than ``AlarmOptions.max_wait_time`` for its check."""
    stages: Mapping[str, StageAlarms]
    """The alarms of each build stage, by stage name."""
    dead_letters: cloudwatch.Alarm | None
    """An upload could not start the pipeline: a message waits in the trigger's dead-letter queue. None when the
    queue is shared, and alarmed on by its owner."""

    @property
    def all(self) -> list[cloudwatch.Alarm]:
        """Every alarm: the pipeline's three, each stage's two, then the dead letters'."""
        found = [self.failed_executions, self.execution_time, self.wait_time]
        for stage in self.stages.values():
            found += [stage.failed_builds, stage.queue_time]
        return [*found, *([self.dead_letters] if self.dead_letters is not None else [])]


def add_alarms(
    scope: Construct,
    options: AlarmOptions,
    *,
    pipeline: codepipeline.IPipeline,
    projects: Mapping[str, codebuild.IProject],
    trigger_dead_letter_queue: sqs.IQueue | None,
    topics: Sequence[sns.ITopic],
) -> PipelineAlarms:
    """Define the alarms of ``pipeline`` and of each build stage's project in ``projects`` in ``scope``.

    Args:
        trigger_dead_letter_queue: the upload trigger's dead-letter queue. None: one shared with other pipelines,
            whose owner alarms on it.
        topics: where every alarm publishes. Without any, the alarms have no action and the warning
            ``s3-validated-pipeline:alarmsWithoutActions`` is added on ``scope``.
    """
    failed_executions = _new_alarm(
        scope,
        "FailedExecutionsAlarm",
        pipeline_metric(pipeline.pipeline_name, "FailedPipelineExecutions", "Sum", period=ALARM_PERIOD),
        threshold=1,
        comparison=_AT_LEAST,
        description="An execution of the pipeline failed: open its execution history to see the stage.",
        topics=topics,
    )
    execution_time = _new_alarm(
        scope,
        "ExecutionTimeAlarm",
        pipeline_metric(pipeline.pipeline_name, "PipelineDuration", "Maximum", period=ALARM_PERIOD),
        threshold=options.max_execution_time.to_seconds(integral=False),
        comparison=_ABOVE,
        description=f"An execution of the pipeline took longer than {options.max_execution_time.to_human_string()}.",
        topics=topics,
    )
    wait_time = _new_alarm(
        scope,
        "WaitTimeAlarm",
        cloudwatch.Metric(
            namespace=WAIT_NAMESPACE,
            metric_name=WAIT_METRIC,
            dimensions_map={"Pipeline": pipeline.pipeline_name},
            statistic="Maximum",
            period=ALARM_PERIOD,
        ),
        threshold=options.max_wait_time.to_seconds(integral=False),
        comparison=_ABOVE,
        description=f"An upload waited longer than {options.max_wait_time.to_human_string()} before Validate checked "
        "it: executions are piling up behind a slow one (QUEUED mode), or builds wait for capacity.",
        topics=topics,
    )
    stages = {
        stage: add_stage_alarms(scope, options, stage=stage, project=project, topics=topics)
        for stage, project in projects.items()
    }
    dead_letters = None
    if trigger_dead_letter_queue is not None:
        dead_letters = add_dead_letters_alarm(scope, trigger_dead_letter_queue, topics=topics)
    if not topics:
        ALARMS_WITHOUT_ACTIONS.add(
            scope,
            "Alarms are on but notifications are off, so no one is told when one fires. Turn notifications on, "
            "or add actions of your own to the alarms, then acknowledge this warning.",
        )
    return PipelineAlarms(
        failed_executions=failed_executions,
        execution_time=execution_time,
        wait_time=wait_time,
        stages=stages,
        dead_letters=dead_letters,
    )


def add_dead_letters_alarm(scope: Construct, queue: sqs.IQueue, *, topics: Sequence[sns.ITopic]) -> cloudwatch.Alarm:
    """Define ``DeadLettersAlarm`` in ``scope``: an upload could not start its pipeline and waits in ``queue``."""
    return _new_alarm(
        scope,
        "DeadLettersAlarm",
        queue.metric_approximate_number_of_messages_visible(period=ALARM_PERIOD, statistic="Maximum"),
        threshold=1,
        comparison=_AT_LEAST,
        description="An upload could not start the pipeline: its event waits in the trigger's dead-letter queue. "
        "Fix the cause, then redrive the queue (starts are idempotent per object version).",
        topics=topics,
    )


def add_stage_alarms(
    scope: Construct,
    options: AlarmOptions,
    *,
    stage: str,
    project: codebuild.IProject,
    topics: Sequence[sns.ITopic],
) -> StageAlarms:
    """Define the alarms of the build stage ``stage``, run by ``project``, in ``scope``; they publish to ``topics``."""
    return StageAlarms(
        failed_builds=_new_alarm(
            scope,
            f"{stage}FailedBuildsAlarm",
            project.metric_failed_builds(period=ALARM_PERIOD, statistic="Sum"),
            threshold=1,
            comparison=_AT_LEAST,
            description=f"A build of the pipeline's {stage} stage failed.",
            topics=topics,
        ),
        queue_time=_new_alarm(
            scope,
            f"{stage}QueueTimeAlarm",
            project.metric("QueuedDuration", period=ALARM_PERIOD, statistic="Maximum"),
            threshold=options.max_queue_time.to_seconds(integral=False),
            comparison=_ABOVE,
            description=f"A build of the pipeline's {stage} stage waited longer than "
            f"{options.max_queue_time.to_human_string()} for CodeBuild capacity.",
            topics=topics,
        ),
    )


def _new_alarm(
    scope: Construct,
    id: str,
    metric: cloudwatch.IMetric,
    *,
    threshold: float,
    comparison: cloudwatch.ComparisonOperator,
    description: str,
    topics: Sequence[sns.ITopic],
) -> cloudwatch.Alarm:
    """Define one alarm that counts periods without data as OK and publishes to ``topics``."""
    alarm = cloudwatch.Alarm(
        scope,
        id,
        metric=metric,
        threshold=threshold,
        comparison_operator=comparison,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )
    for topic in topics:
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    if not topics:
        acknowledge_in_packs(
            alarm,
            "CloudWatchAlarmAction",
            "Notifications were switched off by the user, so the library has no topic to notify; the "
            "alarm shows on the dashboard, and the warning alarmsWithoutActions asks for actions.",
            packs=("NIST.800.53.R5", "HIPAA.Security"),
        )
    return alarm
