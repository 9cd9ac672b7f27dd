"""Operations for a pipeline: notifications, alarms, a dashboard, an execution history and an optional audit trail.

``PipelineOperations`` watches one CodePipeline and the CodeBuild projects of its stages. Every piece is chosen by
its own options object in ``OperationsOptions`` and can be switched off by passing ``None`` (``audit``: by its flags).

What it costs, in us-east-1 at the time of writing (see each options class):

* notifications: SNS charges per message (email: 1,000 a month free, then $2 per 100,000); rules on AWS service
  events are free;
* alarms: $0.10 per alarm a month (3 + 2 per build stage with the defaults);
* dashboard: about $3 a month (an account's first three dashboards of up to 50 metrics are free);
* history: CloudWatch Logs ingestion and storage of a few KB per execution, and up to four custom metrics
  ($0.30 each a month) for the dashboard's outcome graph;
* trail (off by default): $0.10 per 100,000 S3 data events, plus their CloudWatch Logs ingestion ($0.50 per GB),
  S3 storage and $1 a month for the trail's KMS key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import jsii
from aws_cdk import Annotations, ArnFormat, Aws, CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from ._buckets import new_access_log_bucket, private_bucket, send_access_logs
from ._compliance import acknowledge, acknowledge_in_packs
from ._keys import new_log_key
from ._logs import encrypted_log_group, retention_problems
from .errors import Problem, raise_if_any, unresolved, wrong_type

PIPELINE_STATES = ("CANCELED", "FAILED", "RESUMED", "STARTED", "STOPPED", "STOPPING", "SUCCEEDED", "SUPERSEDED")
"""The states of a pipeline execution that CodePipeline sends to EventBridge."""

PIPELINE_EXECUTION_EVENT = "CodePipeline Pipeline Execution State Change"
STAGE_EXECUTION_EVENT = "CodePipeline Stage Execution State Change"
ACTION_EXECUTION_EVENT = "CodePipeline Action Execution State Change"

METRIC_NAMESPACE = "S3ValidatedPipeline"
"""Where the execution history's metric filter puts ``Executions`` (dimensions ``PipelineName`` and ``State``)."""
OUTCOMES = ("SUCCEEDED", "FAILED", "STOPPED", "SUPERSEDED")
"""The final states counted by the history's metric filter, one custom metric each once they occur."""

ALARMS_WITHOUT_ACTIONS_WARNING = "s3-validated-pipeline:alarmsWithoutActions"
CHAT_CHANNEL_NOT_SUBSCRIBED_WARNING = "s3-validated-pipeline:chatChannelNotSubscribed"
KEY_POLICY_UNCHANGED_WARNING = "s3-validated-pipeline:operationsKeyPolicyUnchanged"

# EventBridge keeps retrying an undeliverable event this long, then puts it in the dead-letter queue.
_RETRY_ATTEMPTS = 185
_MAX_EVENT_AGE = Duration.hours(24)
# Alarms look at 5-minute periods; the dashboard graphs hourly values over its time range.
_ALARM_PERIOD = Duration.minutes(5)
_GRAPH_PERIOD = Duration.hours(1)
_STAGE_NAME = re.compile(r"[A-Za-z0-9.@_-]{1,100}")
_DASHBOARD_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_EVENTS = iam.ServicePrincipal("events.amazonaws.com")


def _duration_problems(argument: str, value: object, example: str) -> list[Problem]:
    if not isinstance(value, Duration):
        return [wrong_type(argument, value, "a Duration", example)]
    if not value.is_unresolved() and value.to_seconds(integral=False) <= 0:
        return [Problem(argument, value.to_human_string(), f"Give a positive duration, e.g. {example}.")]
    return []


def _bool_problems(argument: str, value: object) -> list[Problem]:
    return [] if isinstance(value, bool) else [wrong_type(argument, value, "a bool", "True")]


def _has(value: object, *attributes: str) -> bool:
    """Whether ``value`` has what the construct uses of a jsii interface (which isinstance cannot check)."""
    return value is not None and all(hasattr(value, attribute) for attribute in attributes)


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
        if self.topic is not None and not _has(self.topic, "topic_arn", "add_subscription"):
            found.append(
                wrong_type(f"{argument}.topic", self.topic, "an sns.ITopic or None", "sns.Topic(self, 'Alerts')")
            )
        emails: object = self.emails
        if isinstance(emails, str) or not isinstance(emails, Sequence):
            found.append(wrong_type(f"{argument}.emails", emails, "a list of str", "['ops@example.com']"))
        elif any(
            not isinstance(e, str) or (not unresolved(e) and not re.fullmatch(r"[^@\s]+@[^@\s]+", e)) for e in emails
        ):
            found.append(Problem(f"{argument}.emails", emails, "Give email addresses, e.g. 'ops@example.com'."))
        if self.slack_channel is not None and not _has(self.slack_channel, "slack_channel_configuration_arn"):
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
        found.extend(_bool_problems(f"{argument}.approvals", self.approvals))
        return found


@dataclass(frozen=True, kw_only=True)
class AlarmOptions:
    """CloudWatch alarms on the pipeline, its build stages and the upload trigger's dead-letter queue.

    Alarms: an execution failed (``AWS/CodePipeline`` ``FailedPipelineExecutions`` >= 1); an execution took longer
    than ``max_execution_time`` (``PipelineDuration``, reported when an execution ends, so a stuck execution alarms
    only once it ends or times out); per build stage, a build failed (``FailedBuilds`` >= 1; a failed build usually
    also fails the execution, and this alarm names the stage) and a build waited longer than ``max_queue_time`` for
    capacity (``QueuedDuration``); an upload could not start the pipeline (a message in the trigger's dead-letter
    queue). Periods without data count as OK. With notifications on, each alarm publishes to the topic(s); without,
    the alarms have no action and the warning ``s3-validated-pipeline:alarmsWithoutActions`` is added.

    Args:
        max_execution_time: the longest an execution may take before it alarms (the design document's extended
            execution time). Default: 1 hour.
        max_queue_time: the longest a build may wait in CodeBuild's queue before it alarms. Default: 15 minutes.

    Cost: $0.10 per alarm a month: 3 alarms plus 2 per build stage.
    """

    max_execution_time: Duration = field(default_factory=lambda: Duration.hours(1))
    max_queue_time: Duration = field(default_factory=lambda: Duration.minutes(15))

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        return [
            *_duration_problems(f"{argument}.max_execution_time", self.max_execution_time, "Duration.hours(1)"),
            *_duration_problems(f"{argument}.max_queue_time", self.max_queue_time, "Duration.minutes(15)"),
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
            *_bool_problems(f"{argument}.history", self.history),
            *retention_problems(f"{argument}.history_retention_days", self.history_retention_days),
            *_bool_problems(f"{argument}.trail", self.trail),
            *retention_problems(f"{argument}.trail_retention_days", self.trail_retention_days),
            *_bool_problems(f"{argument}.trail_management_events", self.trail_management_events),
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


@jsii.implements(events.IRuleTarget)
class _Delivery:
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
        rule_arn = rule.rule_ref.rule_arn
        if self._admit is not None:
            self._admit(rule_arn)
        self._dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[_EVENTS],
                actions=["sqs:SendMessage"],
                resources=[self._dead_letter_queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule_arn}},
            )
        )
        return events.RuleTargetConfig(
            arn=self._arn,
            input=self._message,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self._dead_letter_queue.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_event_age_in_seconds=int(_MAX_EVENT_AGE.to_seconds()),
                maximum_retry_attempts=_RETRY_ATTEMPTS,
            ),
        )


class PipelineOperations(Construct):
    """Define notifications, alarms, a dashboard, an execution history and an optional trail for one pipeline.

    Example::

        PipelineOperations(
            self,
            "Operations",
            pipeline=pipeline.pipeline,
            projects={"Validate": pipeline.validation_project},
            source_bucket=pipeline.source_bucket,
            artifact_bucket=pipeline.artifact_bucket,
            dead_letter_queue=pipeline.trigger.dead_letter_queue,
            encryption_key=pipeline.operations_key,
            source_action_name="Source",
            trigger_rule=pipeline.trigger.rule,
            options=OperationsOptions(notifications=NotificationOptions(emails=["ops@example.com"])),
        )

    Args:
        pipeline: the pipeline watched (a V2 pipeline: CodePipeline publishes its metrics for V2 only).
        projects: the CodeBuild project of each build stage, by stage name; each gets alarms and dashboard graphs.
        source_bucket: where uploads arrive; the trail records its data events.
        artifact_bucket: the pipeline's artifact store; the trail records its data events.
        dead_letter_queue: the upload trigger's dead-letter queue: alarmed on and graphed.
        encryption_key: the pipeline's operations key, whose policy already lets CloudWatch Logs of the account use
            it. It encrypts the topics, the construct's dead-letter queue and the history log group; the construct
            adds a statement letting EventBridge, CloudWatch alarms and SNS (for dead letters) of this account use
            it. An imported key's policy cannot be changed: that adds the warning
            ``s3-validated-pipeline:operationsKeyPolicyUnchanged``.
        source_action_name: the pipeline's S3 source action, whose revision is the uploaded object version; the
            notifications name it.
        options: what to build. Default: ``OperationsOptions()``.
        trigger_rule: the EventBridge rule that starts the pipeline for each upload; graphed as uploads received.
            Default: no uploads graph.
        trigger_log_group: the upload trigger's log group, whose lines pair each execution it started with the
            uploaded object version; the saved history query reads it too. Default: the query shows no versions.
        access_log_bucket: where the trail bucket's server access logs go (e.g. the pipeline's access log bucket).
            Default: a new access log bucket, when the trail is on.

    Everything EventBridge cannot deliver after a day of retries, and every email SNS cannot deliver, waits in
    ``event_dead_letter_queue`` for 14 days.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipeline: codepipeline.IPipeline,
        projects: Mapping[str, codebuild.IProject],
        source_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        dead_letter_queue: sqs.IQueue,
        encryption_key: kms.IKey,
        source_action_name: str,
        options: OperationsOptions | None = None,
        trigger_rule: events.IRule | None = None,
        trigger_log_group: logs.ILogGroup | None = None,
        access_log_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, id)
        self._trigger_log_group = trigger_log_group
        options = OperationsOptions() if options is None else options
        raise_if_any(
            _input_problems(
                pipeline=pipeline,
                projects=projects,
                source_bucket=source_bucket,
                artifact_bucket=artifact_bucket,
                dead_letter_queue=dead_letter_queue,
                encryption_key=encryption_key,
                source_action_name=source_action_name,
                options=options,
                trigger_rule=trigger_rule,
                access_log_bucket=access_log_bucket,
            )
        )
        self.options = options
        self._pipeline = pipeline
        self._projects = dict(projects)
        self._key = encryption_key
        self._source_action_name = source_action_name
        self._trigger_dead_letter_queue = dead_letter_queue

        self.topic: sns.ITopic | None = None
        """Where notifications and alarms go, as readable text; None with notifications off."""
        self.chat_topic: sns.Topic | None = None
        """Where the same go as AWS Chatbot custom notifications; only with a Slack channel."""
        self.notification_rules: dict[str, events.Rule] = {}
        """The notification rules, by execution state, and ``"APPROVAL"`` for approvals."""
        self.event_dead_letter_queue: sqs.Queue | None = None
        """What the construct's rules and email subscriptions could not deliver; None with notifications and
        history off."""
        self.alarms: list[cloudwatch.Alarm] = []
        """Every alarm, in the order below."""
        self.failed_executions_alarm: cloudwatch.Alarm | None = None
        self.execution_time_alarm: cloudwatch.Alarm | None = None
        self.failed_builds_alarms: dict[str, cloudwatch.Alarm] = {}
        self.queue_time_alarms: dict[str, cloudwatch.Alarm] = {}
        self.dead_letters_alarm: cloudwatch.Alarm | None = None
        self.dashboard: cloudwatch.Dashboard | None = None
        self.history_rule: events.Rule | None = None
        self.history_log_group: logs.LogGroup | None = None
        self.history_query: logs.QueryDefinition | None = None
        self.history_metric_filter: logs.MetricFilter | None = None
        self.trail: cloudtrail.Trail | None = None
        self.trail_key: kms.Key | None = None
        self.trail_bucket: s3.Bucket | None = None
        self.trail_log_group: logs.LogGroup | None = None
        self.trail_logs_role: iam.Role | None = None
        self.access_log_bucket: s3.IBucket | None = None
        """Where the trail bucket's access logs go; None with the trail off."""

        notifications = options.notifications
        audit = options.audit or AuditOptions(history=False, trail=False)
        self._allow_services_to_use_key(
            events=notifications is not None or audit.history,
            alarms=options.alarms is not None
            and notifications is not None
            and (notifications.topic is None or notifications.slack_channel is not None),
            subscriptions=notifications is not None and bool(notifications.emails),
        )
        if notifications is not None or audit.history:
            self.event_dead_letter_queue = self._new_dead_letter_queue()
        if notifications is not None:
            self._notify(notifications, alarms=options.alarms is not None)
        if audit.history:
            self._record_history(audit)
        if options.alarms is not None:
            self._add_alarms(options.alarms)
        if audit.trail:
            self._add_trail(audit, source_bucket, artifact_bucket, access_log_bucket)
        if options.dashboard is not None:
            self._add_dashboard(options.dashboard, trigger_rule)

    # -----------------------------------------------------------------------------------------------------------
    # Shared

    def _allow_services_to_use_key(self, *, events: bool, alarms: bool, subscriptions: bool) -> None:
        services = [
            name
            for name, wanted in (
                ("events.amazonaws.com", events),  # encrypted topics and the dead-letter queue
                ("cloudwatch.amazonaws.com", alarms),  # alarms publishing to encrypted topics
                ("sns.amazonaws.com", subscriptions),  # undeliverable emails to the dead-letter queue
            )
            if wanted
        ]
        if not services:
            return
        result = self._key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="PipelineOperationsServices",
                principals=[iam.ServicePrincipal(service) for service in services],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
        if not result.statement_added:
            Annotations.of(self).add_warning_v2(
                KEY_POLICY_UNCHANGED_WARNING,
                f"The policy of the imported key {self._key.node.path} cannot be changed here. Let "
                f"{', '.join(services)} use it (kms:Decrypt, kms:GenerateDataKey*) with an aws:SourceAccount "
                "condition, then acknowledge this warning.",
            )

    def _new_dead_letter_queue(self) -> sqs.Queue:
        queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self._key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the operations rules and email subscriptions; the rule "
            "only recognises queues named in another queue's redrive policy.",
        )
        acknowledge(
            queue,
            "Serverless-SQSRedrivePolicy",
            "This queue is the dead-letter queue of the operations rules and email subscriptions; its messages are "
            "inspected by people, so a further dead-letter queue would have nothing to catch.",
        )
        return queue

    def _dead_letters(self) -> sqs.Queue:
        assert self.event_dead_letter_queue is not None  # created whenever a rule or subscription is
        return self.event_dead_letter_queue

    def _new_topic(self, id: str, display_name: str, *, alarms: bool) -> sns.Topic:
        topic = sns.Topic(self, id, master_key=self._key, enforce_ssl=True, display_name=display_name)
        if alarms:
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                        },
                        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    },
                )
            )
        return topic

    def _to_topic(self, topic: sns.ITopic, message: events.RuleTargetInput) -> _Delivery:
        def admit(rule_arn: str) -> object:
            return topic.add_to_resource_policy(
                iam.PolicyStatement(
                    principals=[_EVENTS],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": rule_arn}},
                )
            )

        return _Delivery(topic.topic_arn, dead_letter_queue=self._dead_letters(), message=message, admit=admit)

    # -----------------------------------------------------------------------------------------------------------
    # Notifications

    def _notify(self, options: NotificationOptions, *, alarms: bool) -> None:
        topic = options.topic or self._new_topic("Topic", "Pipeline notifications", alarms=alarms)
        self.topic = topic
        for email in options.emails:
            topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=self._dead_letters()))
        if options.slack_channel is not None:
            self.chat_topic = self._new_topic("ChatTopic", "Pipeline notifications for AWS Chatbot", alarms=alarms)
            if isinstance(options.slack_channel, chatbot.SlackChannelConfiguration):
                options.slack_channel.add_notification_topic(self.chat_topic)
            else:
                Annotations.of(self).add_warning_v2(
                    CHAT_CHANNEL_NOT_SUBSCRIBED_WARNING,
                    "The Slack channel configuration is imported, so it cannot be subscribed here: add the ARN of "
                    f"{self.chat_topic.node.path} to its SNS topics, then acknowledge this warning.",
                )

        pipeline = events.EventField.from_path("$.detail.pipeline")
        execution = events.EventField.from_path("$.detail.execution-id")
        state = events.EventField.from_path("$.detail.state")
        time = events.EventField.from_path("$.time")
        region = events.EventField.from_path("$.region")
        link = (
            f"https://console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}/executions/{execution}"
            f"/timeline?region={region}"
        )
        version = f"the uploaded object version is the revision of the {self._source_action_name} action there"
        for wanted in options.pipeline_states:
            self._add_notification(
                wanted,
                description=f"Announces each execution of the pipeline that reaches the state {wanted}",
                detail_type=PIPELINE_EXECUTION_EVENT,
                detail={"state": [wanted]},
                text=f"Pipeline {pipeline}: execution {state}\n"
                f"Execution: {execution}\n"
                f"Time: {time}\n"
                f"Details ({version}): {link}",
                title=f"Pipeline {pipeline}: execution {state}",
                description_markdown=f"Execution `{execution}` at {time}.\n<{link}|Open the execution>: {version}.",
                thread=execution,
            )
        if options.approvals:
            stage = events.EventField.from_path("$.detail.stage")
            action = events.EventField.from_path("$.detail.action")
            self._add_notification(
                "APPROVAL",
                description="Announces each manual approval of the pipeline that starts waiting",
                detail_type=ACTION_EXECUTION_EVENT,
                detail={"state": ["STARTED"], "type": {"category": ["Approval"]}},
                text=f"Approval needed: pipeline {pipeline}, stage {stage}, action {action}\n"
                f"Execution: {execution}\n"
                f"Time: {time}\n"
                f"Review it, then approve or reject it (CodePipeline rejects it after 7 days): {link}",
                title=f"Approval needed: pipeline {pipeline}, stage {stage}, action {action}",
                description_markdown=f"Execution `{execution}` at {time}.\n<{link}|Review, then approve or reject it> "
                "(CodePipeline rejects it after 7 days).",
                thread=execution,
            )

    def _add_notification(
        self,
        kind: str,
        *,
        description: str,
        detail_type: str,
        detail: Mapping[str, object],
        text: str,
        title: str,
        description_markdown: str,
        thread: str,
    ) -> None:
        assert self.topic is not None
        rule = events.Rule(
            self,
            f"Notify{kind.title()}",
            description=description,
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=[detail_type],
                resources=[self._pipeline.pipeline_arn],
                detail=dict(detail),
            ),
        )
        rule.add_target(self._to_topic(self.topic, events.RuleTargetInput.from_multiline_text(text)))
        if self.chat_topic is not None:
            # The schema of AWS Chatbot's custom notifications; plain text would not be shown in the channel.
            chat = {
                "version": "1.0",
                "source": "custom",
                "content": {"textType": "client-markdown", "title": title, "description": description_markdown},
                "metadata": {"threadId": thread},
            }
            rule.add_target(self._to_topic(self.chat_topic, events.RuleTargetInput.from_object(chat)))
        self.notification_rules[kind] = rule

    # -----------------------------------------------------------------------------------------------------------
    # Alarms

    def _pipeline_metric(
        self, name: str, statistic: str, *, period: Duration, label: str | None = None
    ) -> cloudwatch.Metric:
        # CodePipeline publishes these for V2 pipelines in AWS/CodePipeline with the dimension PipelineName:
        # FailedPipelineExecutions (count) and PipelineDuration (seconds, when an execution ends).
        return cloudwatch.Metric(
            namespace="AWS/CodePipeline",
            metric_name=name,
            dimensions_map={"PipelineName": self._pipeline.pipeline_name},
            statistic=statistic,
            period=period,
            label=label,
        )

    def _add_alarms(self, options: AlarmOptions) -> None:
        at_least_one = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        self.failed_executions_alarm = self._new_alarm(
            "FailedExecutionsAlarm",
            self._pipeline_metric("FailedPipelineExecutions", "Sum", period=_ALARM_PERIOD),
            threshold=1,
            comparison=at_least_one,
            description="An execution of the pipeline failed: open its execution history to see the stage.",
        )
        self.execution_time_alarm = self._new_alarm(
            "ExecutionTimeAlarm",
            self._pipeline_metric("PipelineDuration", "Maximum", period=_ALARM_PERIOD),
            threshold=options.max_execution_time.to_seconds(integral=False),
            comparison=above,
            description="An execution of the pipeline took longer than "
            f"{options.max_execution_time.to_human_string()}.",
        )
        for stage, project in self._projects.items():
            self.failed_builds_alarms[stage] = self._new_alarm(
                f"{stage}FailedBuildsAlarm",
                project.metric_failed_builds(period=_ALARM_PERIOD, statistic="Sum"),
                threshold=1,
                comparison=at_least_one,
                description=f"A build of the pipeline's {stage} stage failed.",
            )
            self.queue_time_alarms[stage] = self._new_alarm(
                f"{stage}QueueTimeAlarm",
                project.metric("QueuedDuration", period=_ALARM_PERIOD, statistic="Maximum"),
                threshold=options.max_queue_time.to_seconds(integral=False),
                comparison=above,
                description=f"A build of the pipeline's {stage} stage waited longer than "
                f"{options.max_queue_time.to_human_string()} for CodeBuild capacity.",
            )
        self.dead_letters_alarm = self._new_alarm(
            "DeadLettersAlarm",
            self._trigger_dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=_ALARM_PERIOD, statistic="Maximum"
            ),
            threshold=1,
            comparison=at_least_one,
            description="An upload could not start the pipeline: its event waits in the trigger's dead-letter queue. "
            "Fix the cause, then redrive the queue (starts are idempotent per object version).",
        )
        if self.topic is None:
            Annotations.of(self).add_warning_v2(
                ALARMS_WITHOUT_ACTIONS_WARNING,
                "Alarms are on but notifications are off, so no one is told when one fires. Turn notifications on, "
                "or add actions of your own to the alarms, then acknowledge this warning.",
            )
            for alarm in self.alarms:
                acknowledge_in_packs(
                    alarm,
                    "CloudWatchAlarmAction",
                    "Notifications were switched off by the user, so the library has no topic to notify; the "
                    "alarm shows on the dashboard, and the warning alarmsWithoutActions asks for actions.",
                    packs=("NIST.800.53.R5", "HIPAA.Security"),
                )

    def _new_alarm(
        self,
        id: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            id,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        for topic in (self.topic, self.chat_topic):
            if topic is not None:
                alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        self.alarms.append(alarm)
        return alarm

    # -----------------------------------------------------------------------------------------------------------
    # Execution history

    def _record_history(self, audit: AuditOptions) -> None:
        group = encrypted_log_group(self, "History", key=self._key, retention_days=audit.history_retention_days)
        # EventBridge writes to CloudWatch Logs under the log group's resource policy (never a role). It delivers
        # only to log groups of the rule's own account and Region, and the statement names this one group.
        group.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[_EVENTS],
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[group.log_group_arn],
            )
        )
        target_arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.history_log_group = group
        self.history_rule = events.Rule(
            self,
            "HistoryRule",
            description="Records every pipeline, stage and action state change of the pipeline",
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=[PIPELINE_EXECUTION_EVENT, STAGE_EXECUTION_EVENT, ACTION_EXECUTION_EVENT],
                resources=[self._pipeline.pipeline_arn],
            ),
            targets=[_Delivery(target_arn, dead_letter_queue=self._dead_letters())],
        )
        # One row per execution outcome and, from the trigger's log, one per start naming the object version
        # (its JSON line holds "pipelineExecutionId": ..., "objectVersionId": ... in that order).
        versions = self._trigger_log_group is not None
        self.history_query = logs.QueryDefinition(
            self,
            "ExecutionsQuery",
            query_definition_name=f"s3-validated-pipeline/{self._pipeline.pipeline_name}/executions",
            query_string=logs.QueryString(
                fields=[
                    "@timestamp as time",
                    "detail.pipeline as pipeline",
                    "`detail.execution-id` as execution",
                    "detail.state as state",
                ],
                parse_statements=[
                    '@message /"pipelineExecutionId": "(?<started>[^"]+)", "objectVersionId": "(?<version>[^"]+)"/'
                ]
                if versions
                else None,
                filter_statements=[
                    f'`detail-type` = "{PIPELINE_EXECUTION_EVENT}"' + (" or ispresent(version)" if versions else "")
                ],
                sort="time desc",
            ),
            log_groups=[group, self._trigger_log_group] if self._trigger_log_group is not None else [group],
        )
        # Pipeline-level events are the ones without a stage; each final state becomes one custom metric once seen.
        self.history_metric_filter = logs.MetricFilter(
            self,
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

    # -----------------------------------------------------------------------------------------------------------
    # Trail

    def _add_trail(
        self,
        audit: AuditOptions,
        source_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        access_log_bucket: s3.IBucket | None,
    ) -> None:
        key = new_log_key(self, "TrailKey", description="Encrypts the pipeline's CloudTrail log files")
        cloudtrail_principal = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        this_account = {"aws:SourceAccount": Aws.ACCOUNT_ID}
        any_trail_of_this_account = f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/*"
        # As CloudTrail's documentation asks: encrypt log files of this account's trails, and describe the key.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailEncryptLogFiles",
                principals=[cloudtrail_principal],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": this_account,
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": any_trail_of_this_account},
                },
            )
        )
        # A file CloudTrail writes without its own encryption header gets the bucket's default, this key, through S3.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailBucketDefaultEncryption",
                principals=[cloudtrail_principal],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {**this_account, "kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailDescribeKey",
                principals=[cloudtrail_principal],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions={"StringEquals": this_account},
            )
        )
        self.trail_key = key
        self.access_log_bucket = access_log_bucket or new_access_log_bucket(
            self, "TrailAccessLogs", removal_policy=RemovalPolicy.RETAIN
        )
        bucket = private_bucket(
            self,
            "TrailBucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(audit.trail_retention_days),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        send_access_logs(bucket, to=self.access_log_bucket, prefix="trail/")
        acknowledge_in_packs(
            bucket,
            "S3BucketReplicationEnabled",
            "The trail's log files are validated by CloudTrail's signed digest files and kept in this Region; "
            "a replica needs a bucket in a second Region that the user chooses.",
        )
        self.trail_bucket = bucket
        self.trail_log_group = encrypted_log_group(
            self, "TrailLogs", key=key, retention_days=audit.trail_retention_days
        )
        # CloudTrail's delivery role, defined here rather than by the Trail construct: a customer managed policy
        # naming this one log group, which the trail waits for (the role itself it references).
        role = iam.Role(
            self,
            "TrailLogsRole",
            assumed_by=cloudtrail_principal,
            description="Lets the pipeline's trail deliver its events to its log group",
        )
        policy = iam.ManagedPolicy(
            self,
            "TrailLogsPolicy",
            description="Lets the pipeline's trail deliver its events to its log group",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.trail_log_group.log_group_arn],
                )
            ],
        )
        management = cloudtrail.ReadWriteType.ALL if audit.trail_management_events else cloudtrail.ReadWriteType.NONE
        trail = cloudtrail.Trail(
            self,
            "Trail",
            bucket=bucket,
            encryption_key=key,
            enable_file_validation=True,
            # All Regions, as CIS asks; with management events off it records only these buckets' data events.
            is_multi_region_trail=True,
            include_global_service_events=True,
            management_events=management,
        )
        trail.add_s3_event_selector(
            [cloudtrail.S3EventSelector(bucket=source_bucket), cloudtrail.S3EventSelector(bucket=artifact_bucket)],
            read_write_type=cloudtrail.ReadWriteType.ALL,
            include_management_events=audit.trail_management_events,
        )
        cfn_trail = cast(cloudtrail.CfnTrail, trail.node.default_child)
        cfn_trail.cloud_watch_logs_log_group_arn = self.trail_log_group.log_group_arn
        cfn_trail.cloud_watch_logs_role_arn = role.role_arn
        cfn_trail.add_resource_dependency(cast(CfnResource, policy.node.default_child))
        self.trail_logs_role = role
        self.trail = trail

    # -----------------------------------------------------------------------------------------------------------
    # Dashboard

    def _add_dashboard(self, options: DashboardOptions, trigger_rule: events.IRule | None) -> None:
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=options.dashboard_name,
            default_interval=options.time_range,
        )
        if self.history_log_group is not None:
            executions = [
                cloudwatch.Metric(
                    namespace=METRIC_NAMESPACE,
                    metric_name="Executions",
                    dimensions_map={"PipelineName": self._pipeline.pipeline_name, "State": outcome},
                    statistic="Sum",
                    period=_GRAPH_PERIOD,
                    label=outcome.lower(),
                )
                for outcome in OUTCOMES
            ]
        else:
            executions = [
                self._pipeline_metric("FailedPipelineExecutions", "Sum", period=_GRAPH_PERIOD, label="failed")
            ]
        widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(title="Executions by outcome (per hour)", left=executions, width=12),
            cloudwatch.GraphWidget(
                title="Execution duration (seconds)",
                left=[
                    self._pipeline_metric("PipelineDuration", percentile, period=_GRAPH_PERIOD, label=percentile)
                    for percentile in ("p50", "p90", "p99")
                ],
                width=12,
            ),
        ]
        if self._projects:
            widgets += [
                cloudwatch.GraphWidget(
                    title="Build duration per stage (seconds, average)",
                    left=[
                        project.metric_duration(period=_GRAPH_PERIOD, statistic="Average", label=stage)
                        for stage, project in self._projects.items()
                    ],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title="Build queue time per stage (seconds, maximum)",
                    left=[
                        project.metric("QueuedDuration", period=_GRAPH_PERIOD, statistic="Maximum", label=stage)
                        for stage, project in self._projects.items()
                    ],
                    width=12,
                ),
            ]
        if trigger_rule is not None:
            widgets.append(
                cloudwatch.GraphWidget(
                    title="Uploads received (per hour)",
                    left=[
                        _rule_metric(trigger_rule, "TriggeredRules", "uploads"),
                        _rule_metric(trigger_rule, "FailedInvocations", "trigger deliveries failed"),
                    ],
                    width=12,
                )
            )
        dead_letters = [
            self._trigger_dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=_GRAPH_PERIOD, statistic="Maximum", label="upload trigger"
            )
        ]
        if self.event_dead_letter_queue is not None:
            dead_letters.append(
                self.event_dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=_GRAPH_PERIOD, statistic="Maximum", label="notifications and history"
                )
            )
        widgets.append(cloudwatch.GraphWidget(title="Dead letters waiting", left=dead_letters, width=12))
        if self.alarms:
            widgets.append(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24))
        dashboard.add_widgets(*widgets)
        self.dashboard = dashboard


def _rule_metric(rule: events.IRule, name: str, label: str) -> cloudwatch.Metric:
    # EventBridge publishes rule metrics in AWS/Events with the dimension RuleName for rules on the default bus.
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name=name,
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=_GRAPH_PERIOD,
        label=label,
    )


def _input_problems(
    *,
    pipeline: object,
    projects: object,
    source_bucket: object,
    artifact_bucket: object,
    dead_letter_queue: object,
    encryption_key: object,
    source_action_name: object,
    options: object,
    trigger_rule: object,
    access_log_bucket: object,
) -> list[Problem]:
    found: list[Problem] = []
    if not _has(pipeline, "pipeline_arn", "pipeline_name"):
        found.append(wrong_type("pipeline", pipeline, "a codepipeline.IPipeline", "pipeline.pipeline"))
    if not isinstance(projects, Mapping):
        found.append(wrong_type("projects", projects, "a mapping of stage name to project", "{'Validate': project}"))
    else:
        for stage, project in projects.items():
            if not isinstance(stage, str) or not _STAGE_NAME.fullmatch(stage):
                found.append(
                    Problem("projects", stage, "Key each project by its stage name, e.g. {'Validate': project}.")
                )
            if not _has(project, "project_name", "metric", "metric_failed_builds"):
                found.append(wrong_type(f"projects[{stage!r}]", project, "a codebuild.IProject", "project"))
    for name, bucket in (("source_bucket", source_bucket), ("artifact_bucket", artifact_bucket)):
        if not _has(bucket, "bucket_arn", "bucket_name"):
            found.append(wrong_type(name, bucket, "an s3.IBucket", f"pipeline.{name}"))
    if not _has(dead_letter_queue, "queue_arn", "metric_approximate_number_of_messages_visible"):
        found.append(
            wrong_type("dead_letter_queue", dead_letter_queue, "an sqs.IQueue", "pipeline.trigger.dead_letter_queue")
        )
    if not _has(encryption_key, "key_arn", "add_to_resource_policy"):
        found.append(wrong_type("encryption_key", encryption_key, "a kms.IKey", "pipeline.operations_key"))
    if not isinstance(source_action_name, str) or not (
        unresolved(source_action_name) or _STAGE_NAME.fullmatch(source_action_name)
    ):
        found.append(
            Problem("source_action_name", source_action_name, "Name the pipeline's S3 source action, e.g. 'Source'.")
        )
    if isinstance(options, OperationsOptions):
        found.extend(options.problems("options"))
    else:
        found.append(wrong_type("options", options, "OperationsOptions or None", "OperationsOptions()"))
    if trigger_rule is not None and not _has(trigger_rule, "rule_name", "rule_arn"):
        found.append(wrong_type("trigger_rule", trigger_rule, "an events.IRule or None", "pipeline.trigger.rule"))
    if access_log_bucket is not None and not _has(access_log_bucket, "bucket_name", "add_to_resource_policy"):
        found.append(
            wrong_type("access_log_bucket", access_log_bucket, "an s3.IBucket or None", "pipeline.access_log_bucket")
        )
    return found
