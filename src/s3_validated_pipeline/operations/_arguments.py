"""What ``PipelineOperations`` watches: the attributes of its pipeline (a ``ValidatedS3Pipeline`` or anything with
the attributes of ``MonitoredPipeline``), gathered into one ``Watched`` and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from .._inputs import looks_like, stage_name_problems
from ..errors import Problem, unresolved, wrong_type
from .options import OperationsOptions


class MonitoredTrigger(Protocol):
    """The upload trigger of a ``MonitoredPipeline``: ``UploadTrigger`` has these."""

    @property
    def rule(self) -> events.IRule:
        """The EventBridge rule that starts the pipeline for each upload; graphed as uploads received."""
        ...

    @property
    def dead_letter_queue(self) -> sqs.IQueue:
        """Where uploads that could not start the pipeline wait: alarmed on and graphed."""
        ...

    @property
    def log_group(self) -> logs.ILogGroup | None:
        """Pairs each execution the trigger started with the uploaded object version; the history query reads it.

        None when the trigger keeps no log (``TriggerMode.DIRECT``): the query then shows the Source action's events.
        """
        ...


class MonitoredPipeline(Protocol):
    """What ``PipelineOperations`` watches: ``ValidatedS3Pipeline`` has these attributes."""

    @property
    def pipeline(self) -> codepipeline.IPipeline:
        """The pipeline watched (a V2 pipeline: CodePipeline publishes its metrics for V2 only)."""
        ...

    @property
    def source_bucket(self) -> s3.IBucket:
        """Where uploads arrive; the trail records its data events."""
        ...

    @property
    def artifact_bucket(self) -> s3.IBucket:
        """The pipeline's artifact store; the trail records its data events."""
        ...

    @property
    def operations_key(self) -> kms.IKey:
        """Encrypts the topics, the dead-letter queue and the history; its policy already admits CloudWatch Logs."""
        ...

    @property
    def access_log_bucket(self) -> s3.IBucket | None:
        """Where the trail bucket's server access logs go; None: a new access log bucket, when the trail is on."""
        ...

    @property
    def trigger(self) -> MonitoredTrigger:
        """The upload trigger."""
        ...

    @property
    def stage_projects(self) -> Mapping[str, codebuild.IProject]:
        """The CodeBuild project of each build stage, by stage name; each gets alarms and dashboard graphs."""
        ...


@dataclass(frozen=True, kw_only=True)
class Watched:
    """Everything the parts of the operations watch or use."""

    pipeline: codepipeline.IPipeline
    projects: Mapping[str, codebuild.IProject]
    source_bucket: s3.IBucket
    artifact_bucket: s3.IBucket
    dead_letter_queue: sqs.IQueue
    key: kms.IKey
    source_action_name: str
    trigger_rule: events.IRule | None
    trigger_log_group: logs.ILogGroup | None
    access_log_bucket: s3.IBucket | None


_ATTRIBUTE_NAMES = {
    "pipeline": "pipeline.pipeline",
    "projects": "pipeline.stage_projects",
    "source_bucket": "pipeline.source_bucket",
    "artifact_bucket": "pipeline.artifact_bucket",
    "dead_letter_queue": "pipeline.trigger.dead_letter_queue",
    "key": "pipeline.operations_key",
    "trigger_rule": "pipeline.trigger.rule",
    "access_log_bucket": "pipeline.access_log_bucket",
}


def is_monitored_pipeline(value: object) -> bool:
    """Whether ``value`` has what ``MonitoredPipeline`` promises (a Protocol of jsii types cannot be checked)."""
    return looks_like(value, "pipeline", "source_bucket", "artifact_bucket", "operations_key", "trigger") and (
        looks_like(value, "access_log_bucket", "stage_projects")
    )


def attributes_of(pipeline: MonitoredPipeline) -> dict[str, Any]:
    """What is watched, by ``Watched`` field: the attributes of ``pipeline`` (``problems_of`` checks them)."""
    trigger = pipeline.trigger
    return {
        "pipeline": pipeline.pipeline,
        "projects": pipeline.stage_projects,
        "source_bucket": pipeline.source_bucket,
        "artifact_bucket": pipeline.artifact_bucket,
        "dead_letter_queue": getattr(trigger, "dead_letter_queue", None),
        "key": pipeline.operations_key,
        "trigger_rule": getattr(trigger, "rule", None),
        "trigger_log_group": getattr(trigger, "log_group", None),
        "access_log_bucket": pipeline.access_log_bucket,
    }


def problems_of(watched: Mapping[str, Any], options: object) -> list[Problem]:
    """Return what is wrong with the pipeline's attributes (by ``Watched`` field) and the options."""
    names = _ATTRIBUTE_NAMES
    found: list[Problem] = []
    if not looks_like(watched["pipeline"], "pipeline_arn", "pipeline_name"):
        found.append(
            wrong_type(names["pipeline"], watched["pipeline"], "a codepipeline.IPipeline", "pipeline.pipeline")
        )
    found += _projects_problems(names["projects"], watched["projects"])
    for field in ("source_bucket", "artifact_bucket"):
        if not looks_like(watched[field], "bucket_arn", "bucket_name"):
            found.append(wrong_type(names[field], watched[field], "an s3.IBucket", f"pipeline.{field}"))
    queue = watched["dead_letter_queue"]
    if not looks_like(queue, "queue_arn", "metric_approximate_number_of_messages_visible"):
        found.append(
            wrong_type(names["dead_letter_queue"], queue, "an sqs.IQueue", "pipeline.trigger.dead_letter_queue")
        )
    if not looks_like(watched["key"], "key_arn", "add_to_resource_policy"):
        found.append(wrong_type(names["key"], watched["key"], "a kms.IKey", "pipeline.operations_key"))
    action = watched["source_action_name"]
    if not isinstance(action, str) or (not unresolved(action) and stage_name_problems("source_action_name", action)):
        found.append(Problem("source_action_name", action, "Name the pipeline's S3 source action, e.g. 'Source'."))
    if isinstance(options, OperationsOptions):
        found.extend(options.problems("options"))
    else:
        found.append(wrong_type("options", options, "OperationsOptions or None", "OperationsOptions()"))
    rule = watched["trigger_rule"]
    if rule is not None and not looks_like(rule, "rule_name", "rule_arn"):
        found.append(wrong_type(names["trigger_rule"], rule, "an events.IRule or None", "pipeline.trigger.rule"))
    logs_bucket = watched["access_log_bucket"]
    if logs_bucket is not None and not looks_like(logs_bucket, "bucket_name", "add_to_resource_policy"):
        found.append(
            wrong_type(names["access_log_bucket"], logs_bucket, "an s3.IBucket or None", "pipeline.access_log_bucket")
        )
    return found


def _projects_problems(argument: str, projects: object) -> list[Problem]:
    if not isinstance(projects, Mapping):
        return [wrong_type(argument, projects, "a mapping of stage name to project", "{'Validate': project}")]
    found: list[Problem] = []
    for stage, project in projects.items():
        if stage_name_problems(argument, stage):
            found.append(Problem(argument, stage, "Key each project by its stage name, e.g. {'Validate': project}."))
        found += project_problems(f"{argument}[{stage!r}]", project)
    return found


def project_problems(argument: str, project: object) -> list[Problem]:
    """A ``codebuild.IProject``, as far as the alarms and graphs use one."""
    if looks_like(project, "project_name", "metric", "metric_failed_builds", "metric_duration"):
        return []
    return [wrong_type(argument, project, "a codebuild.IProject", "project")]
