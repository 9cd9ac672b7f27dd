"""Follow one pipeline execution: find it by object version, show its stages and actions, stream its build logs.

The watcher only reads (CodePipeline, CodeBuild and CloudWatch Logs ``Get``/``List`` calls): Ctrl-C or a timeout
stops the watching, never the pipeline. Time goes through a small ``Clock`` (``monotonic`` and ``sleep``), so the
tests drive it with a fake clock and never sleep.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from ._aws import AwsError, aws_errors
from ._execution import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_SUCCEEDED,
    EXIT_SUPERSEDED,
    EXIT_TIMED_OUT,
    OUTCOMES,
    ActionView,
    WatchResult,
    action_view,
    colour,
    describe_end,
    format_duration,
    parse_duration,
)
from ._history import _revision, _source_version

__all__ = [
    "DEFAULT_CLOCK",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_SUCCEEDED",
    "EXIT_SUPERSEDED",
    "EXIT_TIMED_OUT",
    "ActionView",
    "Clock",
    "SystemClock",
    "WatchResult",
    "Watcher",
    "describe_end",
    "format_duration",
    "parse_duration",
]

VALIDATE_STAGE = "Validate"
"""The construct's package-check stage and its CodeBuild action are both named ``Validate``."""

FINDING = re.compile(r"^  \[[A-Za-z0-9_.-]+\] ")
"""A package-check finding in the validate build's log (``  [rule] message``, from ``Report.summary()``)."""

_LOG_PAGES_PER_POLL = 20
_RECENT_EXECUTIONS = 50
_HINT_AFTER_SECONDS = 120.0
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


class Clock(Protocol):
    """What the watcher needs of time: a monotonic reading in seconds, and a way to wait."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start; never goes back."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real clock: ``time.monotonic`` and ``time.sleep``."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """``time.sleep(seconds)``."""
        time.sleep(seconds)


DEFAULT_CLOCK: Clock = SystemClock()
"""The clock the commands use; the tests replace it."""


Say = Callable[[str, str | None], None]
"""Print one line for a person, with an optional colour name (a no-op with --json)."""


def _quiet(text: str, colour: str | None) -> None:
    return None


@dataclass
class _BuildLog:
    """Where a build's log is in CloudWatch Logs and how far it has been read."""

    build_id: str
    group: str | None = None
    stream: str | None = None
    region: str | None = None
    """The log's Region when it is not the pipeline's (a deployment in another Region); None for the pipeline's."""
    token: str | None = None
    finished: bool = False
    lines: list[str] = field(default_factory=list)


def _parse_log_stream_arn(arn: str) -> tuple[str, str, str] | None:
    """``arn:aws:logs:REGION:ACCOUNT:log-group:GROUP:log-stream:STREAM`` as (group, stream, region)."""
    match = re.fullmatch(r"arn:[^:]+:logs:([^:]*):[^:]*:log-group:(.+):log-stream:(.+)", arn)
    return (match.group(2), match.group(3), match.group(1)) if match else None


class Watcher:
    """Follow one execution of ``pipeline`` until it ends, the timeout passes, or Ctrl-C.

    ``session`` hands out boto3 clients; ``say`` prints a line for a person. Construct, then ``run()``.
    """

    def __init__(
        self,
        session: Any,
        pipeline: str,
        *,
        version_id: str | None = None,
        execution_id: str | None = None,
        timeout: float = 3600.0,
        interval: float = 5.0,
        clock: Clock | None = None,
        say: Say | None = None,
        stream_logs: bool = True,
        until: Callable[[list[ActionView]], bool] | None = None,
    ) -> None:
        self.session = session
        """Hands out the boto3 clients (``codepipeline``, ``codebuild``, ``logs``)."""
        self.pipeline = pipeline
        """The pipeline's name."""
        self.version_id = version_id
        """The object version whose execution is watched; learnt from the execution when not given."""
        self.execution_id = execution_id
        """The execution watched; None until the one for ``version_id`` (or the newest) is found."""
        self.timeout = timeout
        """Seconds until the watching gives up (exit 4), counted from ``run()``."""
        self.interval = interval
        """Seconds between looks at the pipeline."""
        self.clock = clock or DEFAULT_CLOCK
        """Where time comes from and how it waits."""
        self.say: Say = say or _quiet
        """Prints a line for a person."""
        self.stream_logs = stream_logs
        """Print build logs as they grow (off with --json: only a failed validation's log is read, at the end)."""
        self.until = until
        """Stop watching, with the outcome ``reached`` (exit 0), once this holds of the execution's actions so far
        (``s3vp selftest`` stops before a deployment); the execution runs on."""
        self._clients: dict[str, Any] = {}
        self._status: str | None = None
        self._status_summary: str | None = None
        self._actions: dict[tuple[str, str], ActionView] = {}
        self._stages: dict[str, str] = {}
        self._queue: tuple[str, int] | None = None
        self._logs: dict[str, _BuildLog] = {}
        self._said_once: set[str] = set()
        self._checked: dict[str, str | None] = {}
        self._announced = False

    # ----------------------------------------------------------------------------------------------------------
    # The loop

    def run(self) -> WatchResult:
        """Watch until the execution ends (exit 0, 1 or 3), the timeout passes (4) or Ctrl-C (130).

        Raises ``AwsError`` for what the user can fix: credentials, access denied, an unknown pipeline or execution.
        """
        started = self.clock.monotonic()
        deadline = started + self.timeout
        try:
            while True:
                if self._poll(waited=self.clock.monotonic() - started):
                    return self._finish()
                if self.until is not None and self.execution_id and self.until(list(self._actions.values())):
                    return self._result("reached", EXIT_SUCCEEDED)
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    return self._result("timed_out", EXIT_TIMED_OUT)
                self.clock.sleep(min(self.interval, remaining))
        except KeyboardInterrupt:
            return self._result("interrupted", EXIT_INTERRUPTED)

    def _poll(self, *, waited: float) -> bool:
        """One look at the pipeline; True once the execution has ended."""
        if self.execution_id is None:
            self.execution_id = self._find_execution(waited=waited)
            if self.execution_id is None:
                return False
            self.say(f"Execution {self.execution_id} of {self.pipeline}" + self._version_text(), "cyan")
        self._status, self._status_summary = self._execution_status(self.execution_id)
        self._show_stages(self.execution_id)
        self._show_actions(self.execution_id)
        ended = self._status in OUTCOMES
        if self.stream_logs or ended:
            self._read_logs(final=ended)
        return ended

    def _version_text(self) -> str:
        return f" (object version {self.version_id})" if self.version_id else ""

    def _client(self, name: str, region: str | None = None) -> Any:
        """The client of ``name`` in the pipeline's Region, or in ``region`` (an action's in another Region)."""
        home = self._clients.get(name) or self._clients.setdefault(name, self.session.client(name))
        if region is None or region == home.meta.region_name:
            return home
        key = f"{name}@{region}"
        if key not in self._clients:
            self._clients[key] = self.session.client(name, region_name=region)
        return self._clients[key]

    # ----------------------------------------------------------------------------------------------------------
    # CodePipeline

    def _find_execution(self, *, waited: float) -> str | None:
        """The execution started for ``version_id`` (or the newest one without a version), None while none is."""
        from botocore.exceptions import ClientError

        client = self._client("codepipeline")
        action = "codepipeline:ListPipelineExecutions and codepipeline:ListActionExecutions"
        with aws_errors(action=action, resource=f"the pipeline {self.pipeline!r}"):
            try:
                response = client.list_pipeline_executions(pipelineName=self.pipeline, maxResults=_RECENT_EXECUTIONS)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "PipelineNotFoundException":
                    region = client.meta.region_name
                    raise AwsError(f"no pipeline named {self.pipeline!r} in {region}") from None
                raise
            summaries = response.get("pipelineExecutionSummaries", [])
            if self.version_id is None:
                return str(summaries[0]["pipelineExecutionId"]) if summaries else None
            for summary in summaries:
                execution_id = str(summary["pipelineExecutionId"])
                revision = _revision(summary)
                if revision is None:  # not recorded on the execution (yet): ask its Source action
                    if execution_id in self._checked:
                        revision = self._checked[execution_id]
                    else:
                        revision = _source_version(client, self.pipeline, execution_id)
                        if revision is not None or summary.get("status") not in {"InProgress", "Stopping"}:
                            self._checked[execution_id] = revision
                if revision == self.version_id:
                    return execution_id
        if not self._announced:
            self._announced = True
            self.say(f"Waiting for the execution of object version {self.version_id} to start...", None)
        elif waited >= _HINT_AFTER_SECONDS and "hint" not in self._said_once:
            self._said_once.add("hint")
            self.say(
                f"Still no execution for version {self.version_id} after {format_duration(waited)}: if its upload "
                "event could not start the pipeline, it is in the trigger's dead-letter queue (`s3vp redrive`).",
                "yellow",
            )
        return None

    def _execution_status(self, execution_id: str) -> tuple[str, str | None]:
        from botocore.exceptions import ClientError

        client = self._client("codepipeline")
        with aws_errors(action="codepipeline:GetPipelineExecution", resource=f"the pipeline {self.pipeline!r}"):
            try:
                response = client.get_pipeline_execution(pipelineName=self.pipeline, pipelineExecutionId=execution_id)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code == "PipelineExecutionNotFoundException":
                    raise AwsError(f"the pipeline {self.pipeline!r} has no execution {execution_id!r}") from None
                if code == "PipelineNotFoundException":
                    raise AwsError(f"no pipeline named {self.pipeline!r} in {client.meta.region_name}") from None
                raise
        execution = response.get("pipelineExecution", {})
        if self.version_id is None:
            for revision in execution.get("artifactRevisions", []):
                if revision.get("revisionId"):
                    self.version_id = str(revision["revisionId"])
                    break
        return str(execution.get("status", "Unknown")), execution.get("statusSummary")

    def _show_stages(self, execution_id: str) -> None:
        """Stage changes of this execution, and its place in the queue while it waits (QUEUED mode)."""
        client = self._client("codepipeline")
        with aws_errors(action="codepipeline:GetPipelineState", resource=f"the pipeline {self.pipeline!r}"):
            state = client.get_pipeline_state(name=self.pipeline)
        queue: tuple[str, int] | None = None
        for stage in state.get("stageStates", []):
            name = str(stage.get("stageName", "?"))
            latest = stage.get("latestExecution") or {}
            if latest.get("pipelineExecutionId") == execution_id:
                status = str(latest.get("status", "Unknown"))
                if self._stages.get(name) != status:
                    self._stages[name] = status
                    self.say(f"Stage {name}: {status}", colour(status))
            inbound = list(stage.get("inboundExecutions") or [])
            if not inbound and stage.get("inboundExecution"):
                inbound = [stage["inboundExecution"]]
            ids = [item.get("pipelineExecutionId") for item in inbound]
            if execution_id in ids and queue is None:
                queue = (name, ids.index(execution_id) + 1)
            transition = stage.get("inboundTransitionState") or {}
            if transition.get("enabled") is False and name not in self._stages and f"t:{name}" not in self._said_once:
                self._said_once.add(f"t:{name}")
                reason = transition.get("disabledReason") or "no reason given"
                self.say(f"Transition into stage {name} is disabled ({reason}): executions wait before it", "yellow")
        if queue is not None and queue != self._queue and self._status == "InProgress":
            stage_name, position = queue
            busy = ((_stage(state, stage_name) or {}).get("latestExecution") or {}).get("pipelineExecutionId")
            after = f"; stage {stage_name} is running execution {busy}" if busy and busy != execution_id else ""
            self.say(f"Queued: position {position} before stage {stage_name}{after}", "yellow")
        self._queue = queue

    def _show_actions(self, execution_id: str) -> None:
        client = self._client("codepipeline")
        with aws_errors(action="codepipeline:ListActionExecutions", resource=f"the pipeline {self.pipeline!r}"):
            paginator = client.get_paginator("list_action_executions")
            pages = paginator.paginate(pipelineName=self.pipeline, filter={"pipelineExecutionId": execution_id})
            details = [detail for page in pages for detail in page.get("actionExecutionDetails", [])]
        # newest first from the API; a retried action keeps its newest attempt
        for detail in sorted(details, key=lambda item: item.get("startTime") or _EARLIEST):
            view = action_view(detail)
            key = (view.stage, view.action)
            previous = self._actions.get(key)
            self._actions[key] = view
            if previous is not None and (previous.status, previous.external_id) == (view.status, view.external_id):
                continue
            self._say_action(view)
            if view.is_build and view.external_id not in self._logs:
                self._logs[str(view.external_id)] = _BuildLog(str(view.external_id))

    def _say_action(self, view: ActionView) -> None:
        parts = [f"  {view.name}: {view.status}"]
        if view.seconds is not None:
            parts.append(f"after {format_duration(view.seconds)}")
        if view.status == "InProgress" and view.is_build:
            parts.append(f"(build {view.external_id})")
        self.say(" ".join(parts), colour(view.status))
        if view.provenance and view.status == "Succeeded":
            self.say(f"    Signed provenance in {view.provenance} (a zip): copy it, then `s3vp verify` it", None)

    # ----------------------------------------------------------------------------------------------------------
    # Build logs

    def _read_logs(self, *, final: bool) -> None:
        builds = {view.external_id: view for view in self._actions.values() if view.is_build}
        for build_id, log in self._logs.items():
            if log.finished:
                continue
            view = builds.get(build_id)
            action_done = view is None or view.status != "InProgress"
            wanted = self.stream_logs or (view is not None and view.stage == VALIDATE_STAGE and view.status == "Failed")
            if wanted:
                self._read_log(log, view)
            # once the action has ended, one more read collects the log's tail; then the stream is done
            log.finished = action_done or final

    def _read_log(self, log: _BuildLog, view: ActionView | None) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if log.group is None and not self._locate(log, view):
                return
            logs = self._client("logs", log.region)
            # Parallel actions of one stage (a wave) interleave their logs: each line then names its action.
            prefix = f"    {view.action} | " if view is not None and self._has_parallel_builds(view) else "    | "
            for _ in range(_LOG_PAGES_PER_POLL):
                arguments: dict[str, Any] = {"logGroupName": log.group, "logStreamName": log.stream}
                arguments["startFromHead"] = True
                if log.token:
                    arguments["nextToken"] = log.token
                response = logs.get_log_events(**arguments)
                for event in response.get("events", []):
                    for line in str(event.get("message", "")).rstrip("\n").split("\n"):
                        line = line.rstrip("\r")
                        log.lines.append(line)
                        if self.stream_logs:
                            self.say(f"{prefix}{line}", None)
                token = response.get("nextForwardToken")
                if not token or token == log.token:
                    break
                log.token = token
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                return  # the stream is created when the build starts writing: try again next time
            self._log_problem(log, f"{code}: {exc.response.get('Error', {}).get('Message', '')}")
        except BotoCoreError as exc:
            self._log_problem(log, str(exc))

    def _has_parallel_builds(self, view: ActionView) -> bool:
        """Whether another action of ``view``'s stage is a build too."""
        return any(
            other.stage == view.stage and other.action != view.action and other.is_build
            for other in self._actions.values()
        )

    def _locate(self, log: _BuildLog, view: ActionView | None) -> bool:
        """Find the build's log group and stream: from the action's log stream ARN, or ``BatchGetBuilds``."""
        if view is not None and view.log_stream_arn:
            parsed = _parse_log_stream_arn(view.log_stream_arn)
            if parsed:
                log.group, log.stream, log.region = parsed
                return True
        response = self._client("codebuild").batch_get_builds(ids=[log.build_id])
        for build in response.get("builds", []):
            where = build.get("logs") or {}
            if where.get("groupName") and where.get("streamName"):
                log.group, log.stream = str(where["groupName"]), str(where["streamName"])
                return True
        return False

    def _log_problem(self, log: _BuildLog, message: str) -> None:
        if log.build_id in self._said_once:
            return
        self._said_once.add(log.build_id)
        self.say(
            f"  (cannot read the log of build {log.build_id}: {message}; reading it needs codebuild:BatchGetBuilds "
            "and logs:GetLogEvents)",
            "yellow",
        )

    # ----------------------------------------------------------------------------------------------------------
    # The end

    def _findings(self) -> list[str]:
        lines: list[str] = []
        for view in self._actions.values():
            if view.stage == VALIDATE_STAGE and view.status == "Failed" and view.external_id in self._logs:
                for line in self._logs[str(view.external_id)].lines:
                    if FINDING.match(line) and line not in lines:
                        lines.append(line)
        return lines

    def _result(self, outcome: str, exit_code: int) -> WatchResult:
        return WatchResult(
            pipeline=self.pipeline,
            execution_id=self.execution_id,
            version_id=self.version_id,
            status=self._status,
            outcome=outcome,
            exit_code=exit_code,
            status_summary=self._status_summary,
            actions=list(self._actions.values()),
            findings=self._findings() if outcome == "failed" else [],
        )

    def _finish(self) -> WatchResult:
        outcome, exit_code = OUTCOMES[str(self._status)]
        return self._result(outcome, exit_code)


def _stage(state: dict[str, Any], name: str) -> dict[str, Any] | None:
    for stage in state.get("stageStates", []):
        if stage.get("stageName") == name:
            return dict(stage)
    return None
