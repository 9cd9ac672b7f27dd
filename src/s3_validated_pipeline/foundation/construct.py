"""``PipelineFoundation``: what many pipelines share, defined once: keys, buckets, a topic, a history, a trail and a
dashboard with a row per pipeline."""

from __future__ import annotations

import re
from typing import cast

import jsii
from aws_cdk import Aspects, Aws, CfnOutput, CfnResource, Fn, IAspect, IStableListProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from .._buckets import check_policy_size, deny_writes_by_others, new_access_log_bucket, new_artifact_bucket
from .._inputs import positive_days_problems, positive_whole_problems
from .._keys import new_key, new_log_key
from .._resources import encrypted_dead_letter_queue
from .._scale_limits import check_scale_limits
from ..errors import Problem, raise_if_any, unresolved, wrong_type
from ..operations import OperationsOptions
from ..operations._common import allow_services_to_use_key
from ..operations.alarms import add_dead_letters_alarm
from ..operations.dashboard import add_pipeline_row
from ..operations.history import record_history
from ..operations.notifications import add_notifications
from ..operations.options import AlarmOptions, AuditOptions
from ..operations.trail import add_trail
from ..source import SourceBucket, SourceBucketOptions
from ..source.bucket import OBJECT_ACTIONS
from ..source.trigger import let_eventbridge_dead_letter

_NAME_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{0,14}")
MAX_PIPELINE_NAME = 50
"""The longest pipeline name on a foundation: the name is also the start of its rule's and projects' names."""
ARTIFACT_FOLDER_LENGTH = 20
"""CodePipeline keeps a pipeline's artifacts under the first 20 characters of its name, in the artifact store."""
ROLE_PATH_ROOT = "s3vp"
"""Every role of a pipeline on a foundation has the IAM path ``/s3vp/<pipeline name>/`` (see ``role_path``)."""


_TOO_MANY_PIPELINES = (
    "Each pipeline on a foundation adds a statement to the shared buckets' policies: build the pipelines beyond this "
    "many on a second PipelineFoundation, with a name_prefix of its own."
)


class PipelineFoundation(Construct):
    """Define, once, what many ``ValidatedS3Pipeline``s can share; each pipeline built with ``foundation=`` uses it.

    Shared: the artifact, operations and source keys; the artifact bucket, the source bucket (each pipeline
    watches its own key, e.g. ``teams/<team>/source.zip``, with its own uploaders) and their access-log bucket;
    the upload triggers' dead-letter queue and its alarm; and, as ``operations`` asks, one notification topic with
    one rule per kind of event for every pipeline, one execution history, one CloudTrail trail and one dashboard
    with a row per pipeline. Each pipeline keeps its own CodeBuild projects, roles, log groups, trigger rule and
    alarms.

    Pipelines on a foundation are named ``<name_prefix>-<construct id>`` (or their own ``pipeline_name`` starting
    with ``<name_prefix>-``) so that the shared rules match them by name and the dashboard and policies name them
    without referring to their stacks: the foundation's stack never depends on a pipeline's, so pipelines can live
    in as many stacks (of the same account and Region) as CloudFormation's limits need.

    Isolation, both ways. Each pipeline's roles get a permissions boundary that lets them reach only their own
    artifacts (``<first 20 characters of its name>/`` in the artifact bucket, where CodePipeline keeps them) and
    their own source key, list only those prefixes, and decrypt with the source key only their own object (the
    source bucket uses no S3 Bucket Key, so KMS sees each object's ARN). And the buckets' policies deny reading and
    writing a pipeline's source key and artifact folder to every principal but that pipeline's roles, its uploaders,
    the root user and the source bucket's ``admin_role``, whatever the other principals' own policies allow (a
    developer role with ``s3:GetObject`` on ``*`` included); writing anywhere in the artifact bucket is denied to
    every principal but the pipelines' roles and those administrators.

    The policies recognise a pipeline's roles by their IAM path, not their ARNs, which live in the pipelines'
    stacks: every role of a pipeline on a foundation has the path ``/s3vp/<pipeline name>/``, and the policies admit
    ``arn:<partition>:iam::<account>:role/s3vp/<pipeline name>/*`` (``aws:PrincipalArn`` of a role's session is the
    role's ARN, path included). A role's path is fixed when it is created, so only a principal allowed
    ``iam:CreateRole`` can make a role that passes for a pipeline's; principal tags were the alternative, but any
    principal allowed ``iam:TagRole`` could forge those.

    Example::

        foundation = PipelineFoundation(self, "Foundation", name_prefix="acme")
        ValidatedS3Pipeline(
            self, "Payments", foundation=foundation, object_key="teams/payments/source.zip", validation=validation
        )

    Args:
        name_prefix: starts the name of every pipeline on the foundation, followed by ``-``: 1 to 15 letters, digits
            or ``_`` (no ``-``, so that one foundation's prefix never starts another's), unique in the account and
            Region.
        source_bucket_options: settings for the shared source bucket (its ``uploaders`` are not allowed: uploaders
            are granted per pipeline). Default: ``SourceBucketOptions()``.
        artifact_retention_days: how long pipeline artifacts are kept. Default: 365.
        operations: what the pipelines share for operations (notifications, history, trail, dashboard) and the
            alarms each gets. Default: ``OperationsOptions()``; ``None`` for none.
        concurrent_build_limit: the most builds each CodeBuild project of each pipeline may run at once (its
            ``ConcurrentBuildLimit``), so that one team's uploads cannot take all of the account's CodeBuild
            concurrency, which every pipeline on the foundation shares. Default: ``None``, the account's limit alone.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name_prefix: str,
        source_bucket_options: SourceBucketOptions | None = None,
        artifact_retention_days: int = 365,
        operations: OperationsOptions | None = OperationsOptions(),  # noqa: B008  # frozen, so safe to share
        concurrent_build_limit: int | None = None,
    ) -> None:
        super().__init__(scope, id)
        raise_if_any(
            _problems(name_prefix, source_bucket_options, artifact_retention_days, operations, concurrent_build_limit)
        )
        check_scale_limits(self)
        self.artifact_retention_days: int = artifact_retention_days
        """How long the pipelines' artifacts are kept."""
        self.name_prefix: str = name_prefix
        """Starts the name of every pipeline on the foundation."""
        self.pipeline_names: list[str] = []
        """The pipelines built on the foundation so far, by name."""
        self.concurrent_build_limit: int | None = concurrent_build_limit
        """The most builds each project of each pipeline may run at once; None for the account's limit alone."""
        self.operations_options: OperationsOptions | None = operations
        """What the foundation was asked to build for operations; its ``alarms`` are made for each pipeline."""

        self.artifact_key: kms.Key = new_key(self, "ArtifactKey", description="Encrypts pipeline artifacts")
        """Encrypts the pipelines' artifacts."""
        self.operations_key: kms.Key = new_log_key(
            self, "OperationsKey", description="Encrypts the pipelines' logs, topic, history and dead letters"
        )
        """Encrypts logs, topics, the history and the dead-letter queues."""
        self.access_log_bucket: s3.Bucket = new_access_log_bucket(
            self, "AccessLogs", removal_policy=RemovalPolicy.RETAIN
        )
        """Receives the server access logs of the source and artifact buckets."""
        self.source: SourceBucket = SourceBucket(
            self, "Source", options=source_bucket_options, access_log_bucket=self.access_log_bucket
        )
        """The shared source bucket and its key; each pipeline watches its own key in it."""
        check_policy_size(self.source.bucket, fix=_TOO_MANY_PIPELINES)
        self.artifact_bucket: s3.Bucket = self._artifact_store(artifact_retention_days)
        """The pipelines' artifact store; each pipeline's roles reach only its own folder."""
        self.trigger_dead_letter_queue: sqs.Queue = self._trigger_dead_letter_queue()
        """Where an upload that could not start its pipeline waits, to be inspected and redriven."""
        self.topic: sns.ITopic | None = None
        """Where notifications and alarms go; None with notifications off."""
        self.notification_rules: dict[str, events.Rule] = {}
        """One notification rule per kind of event, for every pipeline on the foundation."""
        self.event_dead_letter_queue: sqs.Queue | None = None
        """What the notification and history rules could not deliver; None with both off."""
        self.history_log_group: logs.LogGroup | None = None
        """Every pipeline's execution history; None with the history off."""
        self.trail: cloudtrail.Trail | None = None
        """The one trail recording the buckets' data events; None with the trail off."""
        self.dashboard: cloudwatch.Dashboard | None = None
        """One dashboard with a row per pipeline; None with the dashboard off."""
        self.dead_letters_alarm: cloudwatch.Alarm | None = None
        """An upload could not start its pipeline; None with alarms off."""
        self.alarm_topics: tuple[sns.ITopic, ...] = ()
        """Where every pipeline's alarms publish."""
        self._build_operations(
            operations or OperationsOptions(notifications=None, alarms=None, dashboard=None, audit=None)
        )

    def _artifact_store(self, retention_days: int) -> s3.Bucket:
        """The artifact bucket, written to by the pipelines' roles alone, and its export."""
        bucket = new_artifact_bucket(
            self,
            "Artifacts",
            key=self.artifact_key,
            access_log_bucket=self.access_log_bucket,
            retention_days=retention_days,
        )
        deny_writes_by_others(
            bucket,
            writers=[f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{ROLE_PATH_ROOT}/{self.name_prefix}-*/*"],
            administrators=self.source.administrators,
        )
        check_policy_size(bucket, fix=_TOO_MANY_PIPELINES)
        # Pipelines in other stacks import the bucket by this name, which the acknowledgement of CDK's grants on its
        # objects can name (an export CDK generates has a hashed name), and which stays the same as the app grows.
        self._artifact_bucket_export = f"{self.name_prefix}-ArtifactBucketArn"
        CfnOutput(
            self,
            "ArtifactBucketArn",
            value=bucket.bucket_arn,
            export_name=self._artifact_bucket_export,
            description="The artifact bucket of the pipelines on the foundation, imported by those of other stacks.",
        )
        return bucket

    def _trigger_dead_letter_queue(self) -> sqs.Queue:
        """The queue every pipeline's trigger rule dead-letters into; it admits the rules by name."""
        queue = encrypted_dead_letter_queue(
            self,
            "TriggerDeadLetterQueue",
            key=self.operations_key,
            catches="the upload triggers of every pipeline on the foundation",
            handled_by="events in it are inspected and redriven by people",
        )
        let_eventbridge_dead_letter(self.operations_key)
        queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
                # Each trigger rule is named after its pipeline: the statement names them all, by name, when the
                # template is written, and admits no other rule whose name merely starts with the prefix.
                conditions={"ArnEquals": {"aws:SourceArn": Lazy.list(_UploadRuleArns(self))}},
            )
        )
        return queue

    def _build_operations(self, options: OperationsOptions) -> None:
        """The shared parts of the operations; their rules match every pipeline whose name has the prefix."""
        pipelines = events.Match.prefix(self._arn("codepipeline", f"{self.name_prefix}-"))
        audit = options.audit or AuditOptions(history=False, trail=False)
        self._history = audit.history
        key_services: list[str] = []
        if options.notifications is not None or audit.history:
            self.event_dead_letter_queue = encrypted_dead_letter_queue(
                self, "EventDeadLetterQueue", key=self.operations_key, catches="the operations rules and emails"
            )
        if options.notifications is not None:
            assert self.event_dead_letter_queue is not None
            notifications = add_notifications(
                self,
                options.notifications,
                pipeline_arns=pipelines,
                key=self.operations_key,
                dead_letter_queue=self.event_dead_letter_queue,
                source_action_name="Source",
                alarms=options.alarms is not None,
                subject=self._subject(),
            )
            self.topic, self.notification_rules = notifications.topic, dict(notifications.rules)
            self.alarm_topics = notifications.topics
            key_services += notifications.key_services
        if audit.history:
            assert self.event_dead_letter_queue is not None
            history = record_history(
                self,
                pipeline_arns=pipelines,
                name=self.name_prefix,
                key=self.operations_key,
                retention_days=audit.history_retention_days,
                dead_letter_queue=self.event_dead_letter_queue,
                trigger_log_group=None,
                subject=self._subject(),
            )
            self.history_log_group = history.log_group
            key_services += history.key_services
        if options.alarms is not None:
            self.dead_letters_alarm = add_dead_letters_alarm(
                self, self.trigger_dead_letter_queue, topics=self.alarm_topics
            )
        if audit.trail:
            self.trail = add_trail(
                self,
                audit,
                source_bucket=self.source.bucket,
                artifact_bucket=self.artifact_bucket,
                access_log_bucket=self.access_log_bucket,
            ).trail
        if options.dashboard is not None:
            self.dashboard = cloudwatch.Dashboard(
                self,
                "Dashboard",
                dashboard_name=options.dashboard.dashboard_name,
                default_interval=options.dashboard.time_range,
            )
        allow_services_to_use_key(self, self.operations_key, key_services)

    @property
    def alarm_options(self) -> AlarmOptions | None:
        """The alarms each pipeline on the foundation gets; None with alarms off."""
        return self.operations_options.alarms if self.operations_options is not None else None

    def _subject(self) -> str:
        return f"every pipeline named {self.name_prefix}-*"

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"

    @staticmethod
    def upload_rule_name(pipeline_name: str) -> str:
        """The name of the trigger rule of ``pipeline_name``; the dead-letter queue admits rules named so."""
        return f"{pipeline_name}-upload"


@jsii.implements(IStableListProducer)
class _UploadRuleArns:
    """The ARN of every trigger rule of the foundation's pipelines, read when the template is written."""

    def __init__(self, foundation: PipelineFoundation) -> None:
        self._foundation = foundation

    def produce(self) -> list[str] | None:
        f = self._foundation
        return [f._arn("events", f"rule/{f.upload_rule_name(name)}") for name in f.pipeline_names]


def role_path(pipeline_name: str) -> str:
    """The IAM path of every role of the pipeline ``pipeline_name`` on a foundation."""
    return f"/{ROLE_PATH_ROOT}/{pipeline_name}/"


def roles_of(pipeline_name: str) -> str:
    """The ARN pattern of every role of the pipeline ``pipeline_name`` on a foundation, which its policies admit."""
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role{role_path(pipeline_name)}*"


@jsii.implements(IAspect)
class _OnRolePath:
    """Gives every role it visits the IAM path ``path``; roles CDK adds (the pipeline's action roles) included."""

    def __init__(self, path: str) -> None:
        self._path = path

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, iam.CfnRole):
            node.path = self._path


# The package-internal interface of a foundation to the pipelines built on it (pipeline.py, member.py).


def pipeline_name_on(foundation: PipelineFoundation, id: str, pipeline_name: str | None) -> tuple[str, list[Problem]]:
    """The name a pipeline with construct id ``id`` gets on this foundation, and what is wrong with it."""
    name = pipeline_name if pipeline_name is not None else f"{foundation.name_prefix}-{id}"
    start = f"{foundation.name_prefix}-"
    argument = "pipeline_name" if pipeline_name is not None else "id"
    if not isinstance(name, str) or unresolved(name):
        return name, [Problem(argument, name, f"Give a plain string starting with {start!r}, e.g. '{start}a'.")]
    if not name.startswith(start) or not re.fullmatch(r"[A-Za-z0-9_-]+", name) or len(name) > MAX_PIPELINE_NAME:
        return name, [
            Problem(
                argument,
                name,
                f"On a foundation, a pipeline name starts with {start!r} and has at most {MAX_PIPELINE_NAME} "
                "letters, digits, '-' and '_', e.g. "
                f"'{start}payments'. The foundation's rules find its pipelines by this name.",
            )
        ]
    folder = name[:ARTIFACT_FOLDER_LENGTH]
    clash = next((taken for taken in foundation.pipeline_names if taken[:ARTIFACT_FOLDER_LENGTH] == folder), None)
    if clash is not None:
        return name, [
            Problem(
                argument,
                name,
                f"Its first {ARTIFACT_FOLDER_LENGTH} characters ({folder!r}) are those of {clash!r}: CodePipeline "
                "keeps a pipeline's artifacts under them, so the two could read each other's. Make them differ "
                "within the first 20 characters (a shorter name_prefix leaves more room).",
            )
        ]
    return name, []


def isolate_member(foundation: PipelineFoundation, scope: Construct, pipeline_name: str, object_key: str) -> None:
    """Put every role below ``scope`` on the IAM path of ``pipeline_name``, and close its source key
    ``object_key`` and its artifact folder to every principal but those roles, its uploaders and the administrators.

    Changing a role's path replaces the role; the statements name no resource of ``scope``'s stack.
    """
    Aspects.of(scope).add(_OnRolePath(role_path(pipeline_name)))
    source = foundation.source
    source.watch(object_key, owners=[roles_of(pipeline_name)])
    foundation.artifact_bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid=f"DenyOthersInFolder{len(source.watched_keys)}",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=list(OBJECT_ACTIONS),
            resources=[foundation.artifact_bucket.arn_for_objects(f"{pipeline_name[:ARTIFACT_FOLDER_LENGTH]}/*")],
            conditions={"ArnNotLike": {"aws:PrincipalArn": source.admitted(object_key, roles_of(pipeline_name))}},
        )
    )


def add_member(foundation: PipelineFoundation, pipeline_name: str) -> cloudwatch.GraphWidget | None:
    """Record the pipeline ``pipeline_name`` (checked by ``pipeline_name_on``); give it a dashboard row.

    Returns the row's build duration graph, or None with the dashboard off.
    """
    foundation.pipeline_names.append(pipeline_name)
    if foundation.dashboard is None:
        return None
    return add_pipeline_row(foundation.dashboard, pipeline_name=pipeline_name, history=foundation._history)


def artifact_store_for(foundation: PipelineFoundation, scope: Construct) -> tuple[s3.IBucket, CfnResource | str]:
    """The artifact bucket as a pipeline in ``scope``'s stack uses it (imported by name from another stack), and
    what acknowledges CDK's grants on its objects (see ``acknowledge_cdk_grants``)."""
    if Stack.of(scope) is Stack.of(foundation):
        return foundation.artifact_bucket, cast(CfnResource, foundation.artifact_bucket.node.default_child)
    imported = s3.Bucket.from_bucket_attributes(
        scope,
        "FoundationArtifacts",
        bucket_arn=Fn.import_value(foundation._artifact_bucket_export),
        encryption_key=foundation.artifact_key,
    )
    return imported, foundation._artifact_bucket_export


def environment_problems(foundation: PipelineFoundation, scope: Construct) -> list[Problem]:
    """A problem unless ``scope``'s stack is in the foundation's account and Region (when both are known)."""
    mine, theirs = Stack.of(foundation), Stack.of(scope)
    for what, a, b in (("account", mine.account, theirs.account), ("region", mine.region, theirs.region)):
        if not unresolved(a) and not unresolved(b) and a != b:
            return [
                Problem(
                    "foundation",
                    foundation.node.path,
                    f"The foundation is in {what} {a} and this pipeline in {b}: build pipelines in the "
                    "foundation's account and Region, or give them a foundation of their own there.",
                )
            ]
    return []


def _problems(
    name_prefix: object, options: object, retention_days: object, operations: object, build_limit: object
) -> list[Problem]:
    found: list[Problem] = []
    if not isinstance(name_prefix, str) or unresolved(name_prefix) or not _NAME_PREFIX.fullmatch(name_prefix):
        found.append(
            Problem(
                "name_prefix",
                name_prefix,
                "Give 1 to 15 letters, digits or '_', starting with a letter or digit, e.g. 'acme': it starts every "
                "pipeline's name, followed by '-'. No '-' in it, so that no foundation's prefix starts another's; "
                "at most 15, so that pipeline names can still differ within the 20 characters CodePipeline keeps.",
            )
        )
    if options is not None:
        if not isinstance(options, SourceBucketOptions):
            found.append(wrong_type("source_bucket_options", options, "SourceBucketOptions", "SourceBucketOptions()"))
        elif options.uploaders:
            found.append(
                Problem(
                    "source_bucket_options.uploaders",
                    list(options.uploaders),
                    "Uploaders are granted per pipeline, each on its own key: pass them to the pipeline's "
                    "grant_upload, or leave this empty.",
                )
            )
        else:
            found.extend(options.problems("source_bucket_options"))
    found.extend(positive_days_problems("artifact_retention_days", retention_days))
    found.extend(
        positive_whole_problems(
            "concurrent_build_limit",
            build_limit,
            "Give the most builds each project may run at once, e.g. 2, or None for no limit of its own.",
            optional=True,
        )
    )
    if operations is not None:
        if not isinstance(operations, OperationsOptions):
            found.append(wrong_type("operations", operations, "OperationsOptions or None", "OperationsOptions()"))
        else:
            found.extend(operations.problems("operations"))
    return found
