"""What ``PipelineOperations`` builds, chosen by one frozen options object per part, and the checks of each.

Each ``problems(argument)`` returns what is wrong with the options, naming them as ``argument``, so a construct can
collect every problem of its input and raise once (see ``errors.raise_if_any``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_sns as sns

from .._inputs import bool_problems, email_problems, looks_like
from .._logs import retention_problems
from ..errors import Problem, unresolved, wrong_type

PIPELINE_STATES = ("CANCELED", "FAILED", "RESUMED", "STARTED", "STOPPED", "STOPPING", "SUCCEEDED", "SUPERSEDED")
"""The states of a pipeline execution that CodePipeline sends to EventBridge."""

_DASHBOARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


def _duration_problems(argument: str, value: object, example: str) -> list[Problem]:
    """A positive ``Duration`` (a token is taken as it is)."""
    if not isinstance(value, Duration):
        return [wrong_type(argument, value, "a Duration", example)]
    if not value.is_unresolved() and value.to_seconds(integral=False) <= 0:
        return [Problem(argument, value.to_human_string(), f"Give a positive duration, e.g. {example}.")]
    return []


@dataclass(frozen=True, kw_only=True)
class NotificationOptions:
    """Tell people when an execution ends and when an approval waits, by email and optionally in Slack.

    Each notification is an EventBridge rule on this pipeline's CodePipeline events whose input transformer turns the
    event into a few readable lines: pipeline, state (and for approvals stage and action), execution id, time and a
    console link to the execution. The events do not carry the uploaded object's version: the linked page shows it as
    the source action's revision, and ``aws codepipeline get-pipeline-execution`` returns it in
    ``artifactRevisions``. Alarms (see ``AlarmOptions``) publish to the same topic.

    Args:
        topic: an existing topic to publish to. The construct cannot change an imported topic: its policy must let
            ``events.amazonaws.com`` and ``cloudwatch.amazonaws.com`` publish, and its KMS key let them use it.
            Default: a new topic encrypted with the operations key that accepts only TLS and admits only this
            construct's rules and this account's alarms.
        emails: addresses subscribed to the topic; each must confirm the subscription from the email SNS sends.
            Undeliverable messages go to the construct's dead-letter queue. Default: none.
        slack_channel: an AWS Chatbot Slack channel configuration. Chatbot does not show plain text, so the channel
            gets a second topic (``chat_topic``) carrying the same notifications as Chatbot custom notifications,
            and the alarms. A channel defined in this app is subscribed to it; an imported one cannot be, and adds
            the warning ``s3-validated-pipeline:chatChannelNotSubscribed``. Default: none.
        pipeline_states: the execution states notified, from ``PIPELINE_STATES``.
            Default: ``("FAILED", "STOPPED", "SUPERSEDED", "SUCCEEDED")``.
        approvals: notify when a manual approval starts waiting. Default: True.

    Cost: SNS charges per message published and delivered (email: the first 1,000 a month are free, then $2 per
    100,000); EventBridge does not charge for rules on AWS service events.
    """

    topic: sns.ITopic | None = None
    emails: Sequence[str] = ()
    slack_channel: chatbot.ISlackChannelConfiguration | None = None
    pipeline_states: Sequence[str] = ("FAILED", "STOPPED", "SUPERSEDED", "SUCCEEDED")
    approvals: bool = True

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found: list[Problem] = []
        if self.topic is not None and not looks_like(self.topic, "topic_arn", "add_subscription"):
            found.append(
                wrong_type(f"{argument}.topic", self.topic, "an sns.ITopic or None", "sns.Topic(self, 'Alerts')")
            )
        found.extend(email_problems(f"{argument}.emails", self.emails))
        if self.slack_channel is not None and not looks_like(self.slack_channel, "slack_channel_configuration_arn"):
            found.append(
                wrong_type(
                    f"{argument}.slack_channel",
                    self.slack_channel,
                    "a chatbot.ISlackChannelConfiguration or None",
                    "chatbot.SlackChannelConfiguration(self, 'Slack', ...)",
                )
            )
        states: object = self.pipeline_states
        if isinstance(states, str) or not isinstance(states, Sequence):
            found.append(wrong_type(f"{argument}.pipeline_states", states, "a list of str", "['FAILED']"))
        elif any(state not in PIPELINE_STATES for state in states):
            found.append(
                Problem(f"{argument}.pipeline_states", states, f"Use states from {', '.join(PIPELINE_STATES)}.")
            )
        found.extend(bool_problems(f"{argument}.approvals", self.approvals))
        return found


@dataclass(frozen=True, kw_only=True)
class AlarmOptions:
    """CloudWatch alarms on the pipeline, its build stages and the upload trigger's dead-letter queue.

    Alarms: an execution failed (``AWS/CodePipeline`` ``FailedPipelineExecutions`` >= 1); an execution took longer
    than ``max_execution_time`` (``PipelineDuration``, reported when an execution ends, so a stuck execution alarms
    only once it ends or times out); an upload waited longer than ``max_wait_time`` before Validate checked it
    (``S3ValidatedPipeline`` ``UploadWaitTime``, which Validate's log group derives from a line the check prints:
    CodePipeline publishes no metric of waiting executions, so this one is reported when a waiting execution reaches
    its check, and a queue that grows behind a slow build alarms as the next upload in it is checked); per build
    stage, a build failed (``FailedBuilds`` >= 1; a failed build usually also fails the execution, and this alarm
    names the stage) and a build waited longer than ``max_queue_time`` for capacity (``QueuedDuration``); an upload
    could not start the pipeline (a message in the trigger's dead-letter queue). Periods without data count as OK.
    With notifications on, each alarm publishes to the topic(s); without, the alarms have no action and the warning
    ``s3-validated-pipeline:alarmsWithoutActions`` is added.

    Args:
        max_execution_time: the longest an execution may take before it alarms. Default: 1 hour.
        max_queue_time: the longest a build may wait in CodeBuild's queue before it alarms. Default: 15 minutes.
        max_wait_time: the longest an upload may wait for its check before it alarms. Default: 1 hour (three uploads
            behind one another, each taking Validate's default 20 minutes).

    Cost: $0.10 per alarm a month: 4 alarms plus 2 per build stage; $0.30 a month for the ``UploadWaitTime`` metric.
    """

    max_execution_time: Duration = field(default_factory=lambda: Duration.hours(1))
    max_queue_time: Duration = field(default_factory=lambda: Duration.minutes(15))
    max_wait_time: Duration = field(default_factory=lambda: Duration.hours(1))

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        return [
            *_duration_problems(f"{argument}.max_execution_time", self.max_execution_time, "Duration.hours(1)"),
            *_duration_problems(f"{argument}.max_queue_time", self.max_queue_time, "Duration.minutes(15)"),
            *_duration_problems(f"{argument}.max_wait_time", self.max_wait_time, "Duration.hours(1)"),
        ]


@dataclass(frozen=True, kw_only=True)
class DashboardOptions:
    """One CloudWatch dashboard for the pipeline.

    Widgets: executions by outcome (from the execution history; without it, failed executions only), execution
    duration (p50, p90, p99), build duration and queue time per build stage, uploads received and failed trigger
    deliveries (when the trigger rule is given), messages waiting in the dead-letter queues, and the state of every
    alarm above.

    Args:
        dashboard_name: a physical name. Default: generated by CloudFormation.
        time_range: the period shown when the dashboard opens. Default: 7 days.

    Cost: about $3 a month (an account's first three dashboards of up to 50 metrics each are free).
    """

    dashboard_name: str | None = None
    time_range: Duration = field(default_factory=lambda: Duration.days(7))

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found = _duration_problems(f"{argument}.time_range", self.time_range, "Duration.days(7)")
        name: object = self.dashboard_name
        if (
            name is not None
            and not unresolved(name)
            and not (isinstance(name, str) and _DASHBOARD_NAME.fullmatch(name))
        ):
            found.append(
                Problem(
                    f"{argument}.dashboard_name",
                    name,
                    "Use 1 to 255 letters, digits, '-' or '_', e.g. 'upload-validation', or None for a generated name.",
                )
            )
        return found


@dataclass(frozen=True, kw_only=True)
class AuditOptions:
    """Who did what, kept longer than CodePipeline and S3 keep it.

    The execution history (on by default) records every pipeline, stage and action state change of this pipeline,
    as EventBridge delivers it, in a KMS-encrypted log group, with a saved CloudWatch Logs Insights query listing
    executions with their state and time. CodePipeline itself keeps execution history for 12 months. EventBridge
    writes under a CloudWatch Logs resource policy naming the log group: each pipeline uses one of the account's
    10 resource policies per Region.

    The trail (off by default) is a CloudTrail trail in this Region recording S3 data events (reads and writes) on
    the source and artifact buckets: who uploaded or downloaded which object version. Its log files are validated
    (digest files), encrypted with a key of their own, kept in a private, access-logged bucket and delivered to an
    encrypted log group too. Leave it off when an organization or account trail already records these buckets'
    data events: a second trail records, and charges for, every event again.

    Args:
        history: record the execution history. Default: True.
        history_retention_days: how long the history is kept; one of CloudWatch Logs' retention values.
            Default: 731 (two years).
        trail: create the trail. Default: False.
        trail_retention_days: how long the trail's log files (bucket and log group) are kept; one of CloudWatch Logs'
            retention values. Default: 731.
        trail_management_events: record management events (API calls such as StartPipelineExecution) too.
            CloudTrail's free event history keeps them for 90 days, and an account trail usually records them.
            Default: False.

    Cost: history: CloudWatch Logs ingestion ($0.50 per GB) and storage of a few KB per execution, and up to four
    custom metrics ($0.30 each a month). Trail: $0.10 per 100,000 data events (every upload, download and artifact
    read or write is one), their CloudWatch Logs ingestion, S3 storage, and $1 a month for the trail's KMS key;
    management events, when on, cost $2 per 100,000 in a second trail.
    """

    history: bool = True
    history_retention_days: int = 731
    trail: bool = False
    trail_retention_days: int = 731
    trail_management_events: bool = False

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        return [
            *bool_problems(f"{argument}.history", self.history),
            *retention_problems(f"{argument}.history_retention_days", self.history_retention_days),
            *bool_problems(f"{argument}.trail", self.trail),
            *retention_problems(f"{argument}.trail_retention_days", self.trail_retention_days),
            *bool_problems(f"{argument}.trail_management_events", self.trail_management_events),
        ]


@dataclass(frozen=True, kw_only=True)
class OperationsOptions:
    """What ``PipelineOperations`` builds. Pass ``None`` for a piece to switch it off.

    Args:
        notifications: an SNS topic and EventBridge rules for execution outcomes and approvals.
            Default: ``NotificationOptions()``.
        alarms: CloudWatch alarms on executions, builds and the trigger's dead letters. Default: ``AlarmOptions()``.
        dashboard: a CloudWatch dashboard (about $3 a month). Default: ``DashboardOptions()``.
        audit: the execution history (on) and a CloudTrail trail for S3 data events (off). Default: ``AuditOptions()``.
    """

    notifications: NotificationOptions | None = field(default_factory=NotificationOptions)
    alarms: AlarmOptions | None = field(default_factory=AlarmOptions)
    dashboard: DashboardOptions | None = field(default_factory=DashboardOptions)
    audit: AuditOptions | None = field(default_factory=AuditOptions)

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found: list[Problem] = []
        pieces: list[tuple[str, object, type[_Piece], str]] = [
            (
                "notifications",
                self.notifications,
                NotificationOptions,
                "NotificationOptions(emails=['ops@example.com'])",
            ),
            ("alarms", self.alarms, AlarmOptions, "AlarmOptions()"),
            ("dashboard", self.dashboard, DashboardOptions, "DashboardOptions()"),
            ("audit", self.audit, AuditOptions, "AuditOptions(trail=True)"),
        ]
        for name, value, kind, example in pieces:
            if isinstance(value, kind):
                found.extend(value.problems(f"{argument}.{name}"))
            elif value is not None:
                found.append(wrong_type(f"{argument}.{name}", value, f"{kind.__name__} or None", example))
        return found


_Piece = NotificationOptions | AlarmOptions | DashboardOptions | AuditOptions


def same_options(first: object, second: object) -> bool:
    """Whether two options say the same thing: dataclasses field by field, ``Duration``s by their length (jsii
    objects compare by identity, and every default ``Duration`` is a new one)."""
    if isinstance(first, Duration) and isinstance(second, Duration):
        if first.is_unresolved() or second.is_unresolved():
            return first is second
        return first.to_seconds(integral=False) == second.to_seconds(integral=False)
    if dataclasses.is_dataclass(first) and type(first) is type(second):
        return all(same_options(getattr(first, f.name), getattr(second, f.name)) for f in dataclasses.fields(first))
    return first is second or bool(first == second)
