"""An execution as the watcher reports it: its actions, how it ended, the exit codes, and the closing lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .._names import ATTESTED

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_SUCCEEDED",
    "EXIT_SUPERSEDED",
    "EXIT_TIMED_OUT",
    "OUTCOMES",
    "ActionView",
    "WatchResult",
    "action_view",
    "colour",
    "describe_end",
    "format_duration",
    "parse_duration",
]

EXIT_SUCCEEDED = 0
EXIT_FAILED = 1
"""Failed or stopped."""
EXIT_SUPERSEDED = 3
"""Superseded or cancelled: a newer upload took this one's place."""
EXIT_TIMED_OUT = 4
EXIT_INTERRUPTED = 130
"""Ctrl-C: the watching stopped; the execution runs on."""

OUTCOMES = {
    "Succeeded": ("succeeded", EXIT_SUCCEEDED),
    "Failed": ("failed", EXIT_FAILED),
    "Stopped": ("stopped", EXIT_FAILED),
    "Superseded": ("superseded", EXIT_SUPERSEDED),
    "Cancelled": ("cancelled", EXIT_SUPERSEDED),
}
"""Terminal execution statuses: the outcome's name and the exit code."""


def parse_duration(text: str) -> float:
    """Seconds in ``30m``, ``2h``, ``1h30m``, ``90s`` or a bare number of seconds; ValueError otherwise."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
    else:
        match = re.fullmatch(r"(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?", value)
        if not value or match is None:
            raise ValueError(f"{text!r} is not a duration: use e.g. 90s, 30m, 2h or 1h30m")
        hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = float(hours * 3600 + minutes * 60 + secs)
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return seconds


def format_duration(seconds: float | None) -> str:
    """``42s``, ``3m 05s`` or ``1h 02m``; ``-`` for None."""
    if seconds is None:
        return "-"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else (f"{minutes}m {secs:02d}s" if minutes else f"{secs}s")


@dataclass(frozen=True)
class ActionView:
    """One action of the execution, as ``ListActionExecutions`` last reported it."""

    stage: str
    action: str
    status: str
    start: datetime | None
    end: datetime | None
    """When it last changed; its end once it is no longer InProgress."""
    provider: str | None
    external_id: str | None
    """For a CodeBuild action, the build id."""
    summary: str | None
    error: str | None
    url: str | None
    log_stream_arn: str | None
    provenance: str | None = None
    """Where the artifact holding the signed provenance is (``s3://...``), once the Attest action has written it."""

    @property
    def name(self) -> str:
        """``Stage/Action``, or the stage alone when the action is named like it (as the construct names them)."""
        return self.stage if self.stage == self.action else f"{self.stage}/{self.action}"

    @property
    def seconds(self) -> float | None:
        """How long it ran, once it has finished."""
        if self.status == "InProgress" or self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()

    @property
    def is_build(self) -> bool:
        """A CodeBuild action whose build id is known."""
        return self.provider == "CodeBuild" and bool(self.external_id)

    def to_dict(self) -> dict[str, Any]:
        """The action as JSON-ready values."""
        return {
            "stage": self.stage,
            "action": self.action,
            "status": self.status,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end and self.status != "InProgress" else None,
            "duration_seconds": self.seconds,
            "external_execution_id": self.external_id,
            "summary": self.summary,
            "error": self.error,
            "url": self.url,
            "provenance": self.provenance,
        }


def action_view(detail: dict[str, Any]) -> ActionView:
    """An ``ActionExecutionDetail`` of ``ListActionExecutions`` as an ``ActionView``."""
    result = detail.get("output", {}).get("executionResult", {})
    error = result.get("errorDetails") or {}
    error_text = ": ".join(str(part) for part in (error.get("code"), error.get("message")) if part) or None
    return ActionView(
        stage=str(detail.get("stageName", "?")),
        action=str(detail.get("actionName", "?")),
        status=str(detail.get("status", "Unknown")),
        start=detail.get("startTime"),
        end=detail.get("lastUpdateTime"),
        provider=detail.get("input", {}).get("actionTypeId", {}).get("provider"),
        external_id=result.get("externalExecutionId"),
        summary=result.get("externalExecutionSummary"),
        error=error_text,
        url=result.get("externalExecutionUrl"),
        log_stream_arn=result.get("logStreamARN"),
        provenance=next(
            (
                f"s3://{artifact['s3location']['bucket']}/{artifact['s3location']['key']}"
                for artifact in detail.get("output", {}).get("outputArtifacts", [])
                if artifact.get("name") == ATTESTED and artifact.get("s3location")
            ),
            None,
        ),
    )


@dataclass
class WatchResult:
    """How the watching ended."""

    pipeline: str
    execution_id: str | None
    version_id: str | None
    status: str | None
    """The execution's last status, None when it was never found."""
    outcome: str
    """succeeded, failed, stopped, superseded, cancelled, timed_out, interrupted, or reached (``Watcher.until``)."""
    exit_code: int
    status_summary: str | None = None
    actions: list[ActionView] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    """The package check's findings, when the Validate action failed and its log could be read."""

    @property
    def failed_actions(self) -> list[ActionView]:
        """The actions that failed."""
        return [action for action in self.actions if action.status == "Failed"]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values."""
        return {
            "pipeline": self.pipeline,
            "execution_id": self.execution_id,
            "version_id": self.version_id,
            "status": self.status,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "status_summary": self.status_summary,
            "actions": [action.to_dict() for action in self.actions],
            "failed_actions": [action.to_dict() for action in self.failed_actions],
            "findings": list(self.findings),
        }


def colour(status: str) -> str | None:
    """The colour a status is shown in: green, red or yellow; None for InProgress."""
    return {
        "Succeeded": "green",
        "Failed": "red",
        "Stopped": "yellow",
        "Stopping": "yellow",
        "Superseded": "yellow",
        "Cancelled": "yellow",
        "Abandoned": "yellow",
    }.get(status)


def describe_end(result: WatchResult, *, timeout: float) -> Iterator[tuple[str, str | None, bool]]:
    """The closing lines for a person: (text, colour, to standard error)."""
    execution = result.execution_id or "?"
    if result.outcome == "interrupted":
        where = f"execution {execution} runs on" if result.execution_id else "the pipeline runs on"
        yield f"Stopped watching (Ctrl-C); {where}: nothing was stopped.", "yellow", True
        if result.execution_id:
            yield f"Resume with: s3vp watch --pipeline {result.pipeline} --execution-id {execution}", None, True
        return
    if result.outcome == "timed_out":
        if result.execution_id is None:
            text = f"Timed out after {format_duration(timeout)}: no execution started for version {result.version_id}."
        else:
            text = (
                f"Timed out after {format_duration(timeout)}: execution {execution} is still {result.status}; "
                "it runs on (nothing was stopped)."
            )
        yield text, "yellow", True
        return
    headline = f"Execution {execution} {result.status}"
    if result.status_summary:
        headline += f": {result.status_summary}"
    yield headline, colour(str(result.status)), False
    if result.outcome in {"superseded", "cancelled"}:
        yield (
            f"A newer execution took this one's place: version {result.version_id or '?'} was not validated by it.",
            "yellow",
            False,
        )
    for action in result.failed_actions:
        reason = action.summary or action.error or "no summary"
        yield f"{action.name} failed: {reason}", "red", False
        if action.error and action.summary and action.error not in action.summary:
            yield f"  {action.error}", None, False
        if action.url:
            yield f"  {action.url}", None, False
    if result.findings:
        yield "Package check findings:", "red", False
        for line in result.findings:
            yield line, None, False
