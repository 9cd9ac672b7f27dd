"""Recent executions of a pipeline, each with the object version it validated, from CodePipeline's own records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .._names import SOURCE
from ._aws import AwsError, aws_errors

__all__ = ["Execution", "recent_executions"]

"""The construct's first stage and its S3 source action are both named ``Source``."""


@dataclass(frozen=True)
class Execution:
    """One pipeline execution and the upload it validated."""

    execution_id: str
    status: str
    version_id: str | None
    """The object version the Source action read (its ``VersionId`` output variable), None before it has run."""
    start: datetime | None
    end: datetime | None
    """When the execution last changed state; None while it is still in progress or queued."""
    trigger: str | None

    def duration_seconds(self, now: datetime) -> float | None:
        """Seconds from start to end, or to ``now`` while the execution runs; None before it started."""
        if self.start is None:
            return None
        return ((self.end or now) - self.start).total_seconds()

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """The execution as JSON-ready values (times in ISO 8601)."""
        return {
            "execution_id": self.execution_id,
            "status": self.status,
            "version_id": self.version_id,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "duration_seconds": self.duration_seconds(now),
            "trigger": self.trigger,
        }


_RUNNING = {"InProgress", "Stopping", "Queued"}


def _source_version(client: Any, pipeline: str, execution_id: str) -> str | None:
    """The ``VersionId`` output variable of the execution's Source action."""
    paginator = client.get_paginator("list_action_executions")
    pages = paginator.paginate(pipelineName=pipeline, filter={"pipelineExecutionId": execution_id})
    fallback: str | None = None
    for page in pages:
        for detail in page.get("actionExecutionDetails", []):
            version = detail.get("output", {}).get("outputVariables", {}).get("VersionId")
            if version and detail.get("stageName") == SOURCE:
                return str(version)
            fallback = fallback or (str(version) if version else None)
    return fallback


def _revision(summary: dict[str, Any]) -> str | None:
    """The source revision recorded on the execution itself (for an S3 source: the object version id)."""
    for revision in summary.get("sourceRevisions", []):
        if revision.get("actionName") == SOURCE and revision.get("revisionId"):
            return str(revision["revisionId"])
    return None


def recent_executions(session: Any, pipeline: str, *, limit: int) -> Sequence[Execution]:
    """The ``limit`` most recent executions of ``pipeline``, newest first.

    The version comes from the Source action's ``VersionId`` output variable (``codepipeline:ListActionExecutions``),
    or from the execution's source revision when that action has not recorded one yet.
    """
    from botocore.exceptions import ClientError

    action = "codepipeline:ListPipelineExecutions and codepipeline:ListActionExecutions"
    with aws_errors(action=action, resource=f"the pipeline {pipeline!r}"):
        client = session.client("codepipeline")
        paginator = client.get_paginator("list_pipeline_executions")
        summaries: list[dict[str, Any]] = []
        try:
            for page in paginator.paginate(pipelineName=pipeline, PaginationConfig={"MaxItems": limit}):
                summaries.extend(page.get("pipelineExecutionSummaries", []))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "PipelineNotFoundException":
                raise AwsError(f"no pipeline named {pipeline!r} in {client.meta.region_name}") from None
            raise
        executions = []
        for summary in summaries[:limit]:
            execution_id = summary["pipelineExecutionId"]
            status = summary.get("status", "Unknown")
            trigger = summary.get("trigger", {}).get("triggerType")
            executions.append(
                Execution(
                    execution_id=execution_id,
                    status=status,
                    version_id=_source_version(client, pipeline, execution_id) or _revision(summary),
                    start=summary.get("startTime"),
                    end=None if status in _RUNNING else summary.get("lastUpdateTime"),
                    trigger=trigger,
                )
            )
    return executions


def now() -> datetime:
    """The current time, in UTC (durations of running executions are measured to it)."""
    return datetime.now(timezone.utc)
