"""The dashboard: executions, durations, builds per stage, uploads, dead letters and the state of every alarm.

See ``DashboardOptions`` for what it shows and what it costs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._common import GRAPH_PERIOD, pipeline_metric
from .history import METRIC_NAMESPACE, OUTCOMES
from .options import DashboardOptions


@dataclass(frozen=True, kw_only=True)
class PipelineDashboard:
    """What ``add_dashboard`` made, and the graphs ``add_stage_graphs`` adds a stage to."""

    dashboard: cloudwatch.Dashboard
    """The dashboard."""
    build_duration: cloudwatch.GraphWidget
    """Build duration per stage."""
    queue_time: cloudwatch.GraphWidget
    """Build queue time per stage."""
    stages: list[str]
    """The build stages graphed so far, in order; ``add_stage_graphs`` adds to it."""


def add_dashboard(
    scope: Construct,
    options: DashboardOptions,
    *,
    pipeline: codepipeline.IPipeline,
    projects: Mapping[str, codebuild.IProject],
    history: bool,
    trigger_rule: events.IRule | None,
    dead_letter_queues: Mapping[str, sqs.IQueue],
    alarms: Sequence[cloudwatch.IAlarm],
) -> PipelineDashboard:
    """Define the dashboard of ``pipeline`` in ``scope``.

    Args:
        projects: each build stage's project, by stage name: its build duration and queue time are graphed.
        history: whether the execution history counts outcomes (``history.METRIC_NAMESPACE``); without it, only
            failed executions are graphed.
        trigger_rule: the rule starting the pipeline for each upload: uploads received are graphed. None: not.
        dead_letter_queues: the queues whose waiting messages are graphed, by label.
        alarms: the alarms whose state is shown, read when the app is synthesized: alarms appended to the
            sequence later show too. Empty: no alarm widget.
    """
    dashboard = cloudwatch.Dashboard(
        scope, "Dashboard", dashboard_name=options.dashboard_name, default_interval=options.time_range
    )
    build_duration = cloudwatch.GraphWidget(title="Build duration per stage (seconds, average)", width=12)
    queue_time = cloudwatch.GraphWidget(title="Build queue time per stage (seconds, maximum)", width=12)
    for stage, project in projects.items():
        _graph_stage(build_duration, queue_time, stage=stage, project=project)
    widgets: list[cloudwatch.IWidget] = [
        _executions_graph(pipeline.pipeline_name, history, width=12),
        _duration_graph(pipeline.pipeline_name, width=12),
    ]
    if projects:
        widgets += [build_duration, queue_time]
    if trigger_rule is not None:
        uploads = [
            _rule_metric(trigger_rule, "TriggeredRules", "uploads"),
            _rule_metric(trigger_rule, "FailedInvocations", "trigger deliveries failed"),
        ]
        widgets.append(cloudwatch.GraphWidget(title="Uploads received (per hour)", left=uploads, width=12))
    dead_letters = [
        queue.metric_approximate_number_of_messages_visible(period=GRAPH_PERIOD, statistic="Maximum", label=label)
        for label, queue in dead_letter_queues.items()
    ]
    widgets.append(cloudwatch.GraphWidget(title="Dead letters waiting", left=dead_letters, width=12))
    if alarms:
        widgets.append(_AlarmStatus(title="Alarms", alarms=alarms, width=24))
    dashboard.add_widgets(*widgets)
    return PipelineDashboard(
        dashboard=dashboard, build_duration=build_duration, queue_time=queue_time, stages=list(projects)
    )


def add_stage_graphs(dashboard: PipelineDashboard, *, stage: str, project: codebuild.IProject) -> None:
    """Graph the build duration and queue time of the build stage ``stage``, run by ``project``.

    On a dashboard made without build stages, the first one adds the two graphs in a row of their own, at the end.
    """
    if not dashboard.stages:
        dashboard.dashboard.add_widgets(dashboard.build_duration, dashboard.queue_time)
    _graph_stage(dashboard.build_duration, dashboard.queue_time, stage=stage, project=project)
    dashboard.stages.append(stage)


def _graph_stage(
    build_duration: cloudwatch.GraphWidget,
    queue_time: cloudwatch.GraphWidget,
    *,
    stage: str,
    project: codebuild.IProject,
) -> None:
    build_duration.add_left_metric(project.metric_duration(period=GRAPH_PERIOD, statistic="Average", label=stage))
    queue_time.add_left_metric(project.metric("QueuedDuration", period=GRAPH_PERIOD, statistic="Maximum", label=stage))


def _executions_graph(pipeline_name: str, history: bool, *, width: int) -> cloudwatch.GraphWidget:
    """Executions by outcome from the history's metric filter; without the history, failed executions only."""
    if not history:
        metrics = [
            pipeline_metric(pipeline_name, "FailedPipelineExecutions", "Sum", period=GRAPH_PERIOD, label="failed")
        ]
    else:
        metrics = [
            cloudwatch.Metric(
                namespace=METRIC_NAMESPACE,
                metric_name="Executions",
                dimensions_map={"PipelineName": pipeline_name, "State": outcome},
                statistic="Sum",
                period=GRAPH_PERIOD,
                label=outcome.lower(),
            )
            for outcome in OUTCOMES
        ]
    return cloudwatch.GraphWidget(title="Executions by outcome (per hour)", left=metrics, width=width)


def _duration_graph(pipeline_name: str, *, width: int) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title="Execution duration (seconds)",
        left=[
            pipeline_metric(pipeline_name, "PipelineDuration", percentile, period=GRAPH_PERIOD, label=percentile)
            for percentile in ("p50", "p90", "p99")
        ],
        width=width,
    )


def add_pipeline_row(dashboard: cloudwatch.Dashboard, *, pipeline_name: str, history: bool) -> cloudwatch.GraphWidget:
    """Add a row for one pipeline of a ``PipelineFoundation`` to its shared ``dashboard``; return the row's build
    duration graph, which ``graph_stage_by_name`` adds each build stage to.

    Everything is named by physical name (``pipeline_name``, project names), never by reference: the dashboard's
    stack must not depend on the stacks of the pipelines it shows.
    """
    builds = cloudwatch.GraphWidget(title="Build duration per stage (seconds, average)", width=8)
    dashboard.add_widgets(
        cloudwatch.TextWidget(markdown=f"### {pipeline_name}", width=24, height=1),
        _executions_graph(pipeline_name, history, width=8),
        _duration_graph(pipeline_name, width=8),
        builds,
    )
    return builds


def graph_stage_by_name(builds: cloudwatch.GraphWidget, *, stage: str, project_name: str) -> None:
    """Graph the build duration of the stage ``stage``, run by the project named ``project_name``."""
    builds.add_left_metric(
        cloudwatch.Metric(
            namespace="AWS/CodeBuild",
            metric_name="Duration",
            dimensions_map={"ProjectName": project_name},
            statistic="Average",
            period=GRAPH_PERIOD,
            label=stage,
        )
    )


def _rule_metric(rule: events.IRule, name: str, label: str) -> cloudwatch.Metric:
    # EventBridge publishes rule metrics in AWS/Events with the dimension RuleName for rules on the default bus.
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name=name,
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=GRAPH_PERIOD,
        label=label,
    )


@jsii.implements(cloudwatch.IWidget)
class _AlarmStatus:
    """An ``AlarmStatusWidget`` of the alarms in a sequence as it is when the dashboard is synthesized.

    CDK's widget copies its alarms when it is made; this one renders a fresh ``AlarmStatusWidget`` each time, so
    stages monitored after the dashboard was made show their alarms too.
    """

    def __init__(self, *, title: str, alarms: Sequence[cloudwatch.IAlarm], width: int) -> None:
        self._title = title
        self._alarms = alarms
        self._width = width
        self._position: tuple[float, float] | None = None

    def _widget(self) -> cloudwatch.AlarmStatusWidget:
        widget = cloudwatch.AlarmStatusWidget(title=self._title, alarms=list(self._alarms), width=self._width)
        if self._position is not None:
            widget.position(*self._position)
        return widget

    @property
    def width(self) -> jsii.Number:
        """The widget's width, in dashboard grid units."""
        return self._width

    @property
    def height(self) -> jsii.Number:
        """The height CDK's widget has for these alarms."""
        return self._widget().height

    @property
    def warnings(self) -> list[str] | None:
        """None: the widget has nothing to warn about."""
        return None

    @property
    def warnings_v2(self) -> Mapping[str, str] | None:
        """None: the widget has nothing to warn about."""
        return None

    def position(self, x: jsii.Number, y: jsii.Number) -> None:
        """Place the widget on the dashboard's grid."""
        self._position = (x, y)

    def to_json(self) -> list[Any]:
        """Render the widget with the alarms there are now."""
        return self._widget().to_json()
