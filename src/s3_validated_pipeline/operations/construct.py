"""``PipelineOperations``: wires the parts of the operations (one module each) for one pipeline."""

from __future__ import annotations

from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .._inputs import stage_name_problems
from .._names import SOURCE
from .._resources import encrypted_dead_letter_queue
from ..errors import raise_if_any, wrong_type
from ._arguments import (
    MonitoredPipeline,
    Watched,
    attributes_of,
    is_monitored_pipeline,
    problems_of,
    project_problems,
)
from ._common import allow_services_to_use_key
from .alarms import add_alarms, add_stage_alarms
from .dashboard import PipelineDashboard, add_dashboard, add_stage_graphs
from .history import record_history
from .notifications import add_notifications, notify_signing_key_changes
from .options import AuditOptions, OperationsOptions
from .trail import add_trail


class PipelineOperations(Construct):
    """Define notifications, alarms, a dashboard, an execution history and an optional trail for one pipeline.

    Example::

        pipeline = ValidatedS3Pipeline(self, "Pipeline", validation=validation, operations=None)
        PipelineOperations(
            self,
            "Operations",
            pipeline=pipeline,
            options=OperationsOptions(notifications=NotificationOptions(emails=["ops@example.com"])),
        )

    Args:
        pipeline: the pipeline watched: a ``ValidatedS3Pipeline``, or anything with the attributes of
            ``MonitoredPipeline`` (its CodePipeline, a V2 pipeline since CodePipeline publishes metrics for V2 only;
            its buckets, operations key, access log bucket, upload trigger and build stages' projects). Each build
            stage's project gets alarms and dashboard graphs; stages added later are watched with
            ``monitor_stage``. The operations key, whose policy already lets CloudWatch Logs of the account use it,
            encrypts the topics, the construct's dead-letter queue and the history log group; the construct adds a
            statement letting EventBridge, CloudWatch alarms and SNS (for dead letters) of this account use it. An
            imported key's policy cannot be changed: that adds the warning
            ``s3-validated-pipeline:operationsKeyPolicyUnchanged``.
        options: what to build. Default: ``OperationsOptions()``.
        source_action_name: the pipeline's S3 source action, whose revision is the uploaded object version; the
            notifications name it. Default: ``"Source"``, as ``ValidatedS3Pipeline`` names it.

    Everything EventBridge cannot deliver after a day of retries, and every email SNS cannot deliver, waits in
    ``event_dead_letter_queue`` for 14 days.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pipeline: MonitoredPipeline,
        options: OperationsOptions | None = None,
        source_action_name: str = SOURCE,
    ) -> None:
        super().__init__(scope, id)
        options = OperationsOptions() if options is None else options
        watched = _watched(pipeline, options, source_action_name)
        self.options: OperationsOptions = options
        """What the construct was asked to build."""
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
        """Every alarm: failed executions, execution time, wait time, each stage's two, dead letters, then those of
        stages monitored later."""
        self.failed_executions_alarm: cloudwatch.Alarm | None = None
        """An execution failed; None with alarms off."""
        self.execution_time_alarm: cloudwatch.Alarm | None = None
        """An execution took longer than ``AlarmOptions.max_execution_time``; None with alarms off."""
        self.wait_time_alarm: cloudwatch.Alarm | None = None
        """An upload waited longer than ``AlarmOptions.max_wait_time`` for its check; None with alarms off."""
        self.failed_builds_alarms: dict[str, cloudwatch.Alarm] = {}
        """A build of the stage failed, by stage name; empty with alarms off."""
        self.queue_time_alarms: dict[str, cloudwatch.Alarm] = {}
        """A build of the stage waited longer than ``AlarmOptions.max_queue_time``, by stage name; empty with
        alarms off."""
        self.dead_letters_alarm: cloudwatch.Alarm | None = None
        """An upload could not start the pipeline; None with alarms off."""
        self.dashboard: cloudwatch.Dashboard | None = None
        """The dashboard; None with the dashboard off."""
        self.history_rule: events.Rule | None = None
        """Writes every state change of the pipeline to ``history_log_group``; None with the history off."""
        self.history_log_group: logs.LogGroup | None = None
        """The execution history, encrypted with the operations key; None with the history off."""
        self.history_query: logs.QueryDefinition | None = None
        """A saved CloudWatch Logs Insights query listing executions; None with the history off."""
        self.history_metric_filter: logs.MetricFilter | None = None
        """Counts execution outcomes for the dashboard; None with the history off."""
        self.trail: cloudtrail.Trail | None = None
        """The trail recording the buckets' data events; None with the trail off."""
        self.trail_key: kms.Key | None = None
        """Encrypts the trail's log files; None with the trail off."""
        self.trail_bucket: s3.Bucket | None = None
        """Where the trail's log files are kept; None with the trail off."""
        self.trail_log_group: logs.LogGroup | None = None
        """Where the trail delivers its events too; None with the trail off."""
        self.trail_logs_role: iam.Role | None = None
        """Lets the trail write to ``trail_log_group``; None with the trail off."""
        self.access_log_bucket: s3.IBucket | None = None
        """Where the trail bucket's access logs go; None with the trail off."""
        self._alarm_topics: tuple[sns.ITopic, ...] = ()
        self._dashboard: PipelineDashboard | None = None
        self._projects: dict[str, codebuild.IProject] = dict(watched.projects)
        self._build(options, watched)

    def announce_signing_key_changes(self, key: kms.IKey) -> None:
        """Announce on the topic each call that could let another principal sign with ``key`` (its policy, a grant)
        or stop its signing (disabling it, scheduling its deletion); nothing with notifications off."""
        if self.topic is not None and self.event_dead_letter_queue is not None:
            notify_signing_key_changes(
                self,
                key=key,
                topic=self.topic,
                chat_topic=self.chat_topic,
                dead_letter_queue=self.event_dead_letter_queue,
            )

    def _build(self, options: OperationsOptions, watched: Watched) -> None:
        """Build each part that ``options`` asks for, in an order that keeps the template as it always was."""
        audit = options.audit or AuditOptions(history=False, trail=False)
        key_services: list[str] = []
        if options.notifications is not None or audit.history:
            self.event_dead_letter_queue = encrypted_dead_letter_queue(
                self, "DeadLetterQueue", key=watched.key, catches="the operations rules and email subscriptions"
            )
        if options.notifications is not None:
            assert self.event_dead_letter_queue is not None
            notifications = add_notifications(
                self,
                options.notifications,
                pipeline_arns=[watched.pipeline.pipeline_arn],
                key=watched.key,
                dead_letter_queue=self.event_dead_letter_queue,
                source_action_name=watched.source_action_name,
                alarms=options.alarms is not None,
            )
            self.topic, self.chat_topic = notifications.topic, notifications.chat_topic
            self.notification_rules = dict(notifications.rules)
            self._alarm_topics = notifications.topics
            key_services += notifications.key_services
        if audit.history:
            assert self.event_dead_letter_queue is not None
            history = record_history(
                self,
                pipeline_arns=[watched.pipeline.pipeline_arn],
                name=watched.pipeline.pipeline_name,
                key=watched.key,
                retention_days=audit.history_retention_days,
                dead_letter_queue=self.event_dead_letter_queue,
                trigger_log_group=watched.trigger_log_group,
            )
            self.history_log_group, self.history_rule = history.log_group, history.rule
            self.history_query, self.history_metric_filter = history.query, history.metric_filter
            key_services += history.key_services
        if options.alarms is not None:
            alarms = add_alarms(
                self,
                options.alarms,
                pipeline=watched.pipeline,
                projects=self._projects,
                trigger_dead_letter_queue=watched.dead_letter_queue,
                topics=self._alarm_topics,
            )
            self.failed_executions_alarm, self.execution_time_alarm = alarms.failed_executions, alarms.execution_time
            self.wait_time_alarm = alarms.wait_time
            self.failed_builds_alarms = {stage: made.failed_builds for stage, made in alarms.stages.items()}
            self.queue_time_alarms = {stage: made.queue_time for stage, made in alarms.stages.items()}
            self.dead_letters_alarm = alarms.dead_letters
            self.alarms = alarms.all
        if audit.trail:
            trail = add_trail(
                self,
                audit,
                source_bucket=watched.source_bucket,
                artifact_bucket=watched.artifact_bucket,
                access_log_bucket=watched.access_log_bucket,
            )
            self.trail, self.trail_key, self.trail_bucket = trail.trail, trail.key, trail.bucket
            self.trail_log_group, self.trail_logs_role = trail.log_group, trail.logs_role
            self.access_log_bucket = trail.access_log_bucket
        if options.dashboard is not None:
            self._add_dashboard(options, watched)
        allow_services_to_use_key(self, watched.key, key_services)

    def _add_dashboard(self, options: OperationsOptions, watched: Watched) -> None:
        assert options.dashboard is not None
        dead_letter_queues: dict[str, sqs.IQueue] = {"upload trigger": watched.dead_letter_queue}
        if self.event_dead_letter_queue is not None:
            dead_letter_queues["notifications and history"] = self.event_dead_letter_queue
        self._dashboard = add_dashboard(
            self,
            options.dashboard,
            pipeline=watched.pipeline,
            projects=self._projects,
            history=self.history_log_group is not None,
            trigger_rule=watched.trigger_rule,
            dead_letter_queues=dead_letter_queues,
            alarms=self.alarms,  # read at synthesis: alarms of stages monitored later show too
        )
        self.dashboard = self._dashboard.dashboard

    def monitor_stage(self, stage_name: str, project: codebuild.IProject) -> None:
        """Watch one more build stage, e.g. one added with ``ValidatedS3Pipeline.add_build_stage``.

        With alarms on, the stage gets the two alarms the stages of the constructor get (a failed build; a build
        queued longer than ``AlarmOptions.max_queue_time``), publishing to the same topics; with the dashboard on,
        its build duration and queue time are graphed with the others, and its alarms show in the alarm widget.

        Args:
            stage_name: the stage's name; each stage is monitored once.
            project: the CodeBuild project that runs the stage.
        """
        raise_if_any(
            [
                *stage_name_problems("stage_name", stage_name, list(self._projects)),
                *project_problems("project", project),
            ]
        )
        self._projects[stage_name] = project
        if self.options.alarms is not None:
            made = add_stage_alarms(
                self, self.options.alarms, stage=stage_name, project=project, topics=self._alarm_topics
            )
            self.failed_builds_alarms[stage_name] = made.failed_builds
            self.queue_time_alarms[stage_name] = made.queue_time
            self.alarms += [made.failed_builds, made.queue_time]
        if self._dashboard is not None:
            add_stage_graphs(self._dashboard, stage=stage_name, project=project)


def _watched(pipeline: object, options: object, source_action_name: object) -> Watched:
    """What ``pipeline`` asks to watch; raise ``InputError`` with every problem found."""
    if not is_monitored_pipeline(pipeline):
        raise_if_any(
            [wrong_type("pipeline", pipeline, "a ValidatedS3Pipeline or another MonitoredPipeline", "pipeline")]
        )
    raw = {**attributes_of(pipeline), "source_action_name": source_action_name}  # type: ignore[arg-type]
    raise_if_any(problems_of(raw, options))
    return Watched(**raw)
