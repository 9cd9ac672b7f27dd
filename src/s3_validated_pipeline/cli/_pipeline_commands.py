"""The ``s3vp`` commands that follow the pipeline rather than a package: ``history``, ``watch`` and ``redrive``."""

from __future__ import annotations

import sys
from datetime import timezone
from typing import TYPE_CHECKING, Any

import click

from ._aws import AwsError
from ._common import (
    EXIT_ACCEPTED,
    EXIT_REJECTED,
    CliError,
    aws_options,
    echo_json,
    json_option,
    resolve_pipeline,
    stack_pipeline_name,
    watch_options,
)
from ._watch import format_duration

if TYPE_CHECKING:
    from ._redrive import Redrive, Redriven
    from ._watch import WatchResult

__all__ = ["history_command", "redrive_command", "run_watch", "watch_command"]


STACK_HELP = "The stack holding the ValidatedS3Pipeline (reads its PipelineName output)."
PIPELINE_HELP = "The pipeline's name: alone, or with --stack holding several pipelines, the one to choose."
NEITHER_USAGE = "pass --stack NAME, --pipeline NAME, or both (a stack holding several pipelines needs both)"

_STATUS_COLOURS = {
    "Succeeded": "green",
    "Failed": "red",
    "Stopped": "yellow",
    "Superseded": "yellow",
    "Cancelled": "yellow",
}


@click.command("history", short_help="List recent executions with the object version each validated.")
@click.option("--stack", metavar="NAME", help=STACK_HELP)
@click.option("--pipeline", "pipeline_name", metavar="NAME", help=PIPELINE_HELP)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="How many executions, newest first.",
)
@aws_options
@json_option
def history_command(
    stack: str | None, pipeline_name: str | None, limit: int, profile: str | None, region: str | None, as_json: bool
) -> None:
    """List recent executions with the object version each validated, its status, start and duration.

    The version is the Source action's VersionId output variable, so an execution can be matched with the
    version id `s3vp push` printed. The pipeline is --pipeline, or the one in --stack (with several, --stack and
    --pipeline together choose the one so named). Needs codepipeline:ListPipelineExecutions and
    ListActionExecutions (and cloudformation:DescribeStacks with --stack).

    \b
    Examples:
      s3vp history --stack MyPipelineStack
      s3vp history --stack MyPipelineStack -n 5 --profile dev
      s3vp history --stack FleetTeams1 --pipeline fleet-team01
      s3vp history --pipeline my-pipeline --json | jq -r '.[] | select(.status == "Failed") | .version_id'
    """
    from ._aws import make_session
    from ._history import now, recent_executions

    if stack is None and pipeline_name is None:
        raise click.UsageError(NEITHER_USAGE)
    try:
        session = make_session(profile, region)
        pipeline_name = resolve_pipeline(session, stack, pipeline_name)
        executions = recent_executions(session, pipeline_name, limit=limit)
    except AwsError as exc:
        raise CliError(str(exc)) from None
    moment = now()
    if as_json:
        echo_json([execution.to_dict(moment) for execution in executions])
        return
    if not executions:
        click.echo(f"No executions of {pipeline_name} yet.")
        return
    rows = [
        (
            execution.execution_id,
            execution.status,
            execution.version_id or "-",
            execution.start.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if execution.start else "-",
            format_duration(execution.duration_seconds(moment)),
        )
        for execution in executions
    ]
    header = ("EXECUTION", "STATUS", "VERSION", "STARTED (UTC)", "DURATION")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    click.echo("  ".join(title.ljust(width) for title, width in zip(header, widths, strict=True)).rstrip())
    for row in rows:
        cells = [value.ljust(width) for value, width in zip(row, widths, strict=True)]
        cells[1] = click.style(cells[1], fg=_STATUS_COLOURS.get(row[1]))
        click.echo("  ".join(cells).rstrip())


def _say(text: str, colour: str | None) -> None:
    click.secho(text, fg=colour)


def run_watch(
    session: Any,
    pipeline: str,
    *,
    version_id: str | None = None,
    execution_id: str | None = None,
    timeout: float,
    interval: float,
    as_json: bool,
) -> WatchResult:
    """Watch one execution, printing as it goes (nothing with --json), then its outcome; returns the result."""
    from . import _watch

    watcher = _watch.Watcher(
        session,
        pipeline,
        version_id=version_id,
        execution_id=execution_id,
        timeout=timeout,
        interval=interval,
        clock=_watch.DEFAULT_CLOCK,
        say=None if as_json else _say,
        stream_logs=not as_json,
    )
    if not as_json:
        what = (
            f"execution {execution_id}"
            if execution_id
            else (f"the execution of version {version_id}" if version_id else "the newest execution")
        )
        click.echo(f"Watching {what} of {pipeline} (timeout {format_duration(timeout)}; Ctrl-C stops watching only)")
    try:
        result = watcher.run()
    except AwsError as exc:
        raise CliError(str(exc)) from None
    for text, colour, to_stderr in _watch.describe_end(result, timeout=timeout):
        if as_json and not to_stderr:
            continue
        click.secho(text, fg=colour, err=to_stderr, bold=colour == "red" and not text.startswith(" "))
    return result


@click.command("watch", short_help="Follow an execution live: stages, actions, build log; exit with its outcome.")
@click.option("--stack", metavar="NAME", help=STACK_HELP)
@click.option("--pipeline", "pipeline_name", metavar="NAME", help=PIPELINE_HELP)
@click.option("--version-id", metavar="V", help="Watch the execution started for this object version.")
@click.option("--execution-id", metavar="E", help="Watch this execution.")
@watch_options
@aws_options
@json_option
def watch_command(
    stack: str | None,
    pipeline_name: str | None,
    version_id: str | None,
    execution_id: str | None,
    timeout: float,
    interval: float,
    profile: str | None,
    region: str | None,
    as_json: bool,
) -> None:
    """Follow one execution until it ends: stages and actions as they change, the build log, and the outcome.

    With --version-id it waits for the execution started for that object version (the version id `s3vp push`
    printed: the execution's source revision, or its Source action's VersionId); with --execution-id it watches that
    one; with neither, the newest execution. While it waits in a QUEUED pipeline it shows its place in the queue.
    The running CodeBuild action's log is streamed from CloudWatch Logs; on failure the failing action's summary is
    printed, and the package check's findings when the Validate action failed.

    The pipeline is --pipeline, or the one in --stack (with several, --stack and --pipeline together choose the one
    so named). Exit 0 succeeded, 1 failed or stopped, 3 superseded or cancelled, 4 timed out (--timeout), 130 Ctrl-C,
    2 a usage, credentials or permission problem. Watching only reads: neither Ctrl-C nor a timeout stops the pipeline.
    Needs codepipeline:ListPipelineExecutions, GetPipelineExecution, GetPipelineState and ListActionExecutions, and
    for the log codebuild:BatchGetBuilds and logs:GetLogEvents (and cloudformation:DescribeStacks with --stack).

    \b
    Examples:
      s3vp watch --stack MyPipelineStack --version-id 3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY
      s3vp watch --pipeline my-pipeline --execution-id 0a1b2c3d-... --timeout 2h
      s3vp watch --stack MyPipelineStack                      # the newest execution
      s3vp watch --stack FleetTeams1 --pipeline fleet-team01  # one of the stack's pipelines
      s3vp watch --stack MyPipelineStack --version-id "$VERSION" --json | jq -r .outcome
    """
    from ._aws import make_session

    if stack is None and pipeline_name is None:
        raise click.UsageError(NEITHER_USAGE)
    if version_id is not None and execution_id is not None:
        raise click.UsageError("pass --version-id or --execution-id, not both")
    try:
        session = make_session(profile, region)
        pipeline = resolve_pipeline(session, stack, pipeline_name)
    except AwsError as exc:
        raise CliError(str(exc)) from None
    result = run_watch(
        session,
        pipeline,
        version_id=version_id,
        execution_id=execution_id,
        timeout=timeout,
        interval=interval,
        as_json=as_json,
    )
    if as_json:
        echo_json(result.to_dict())
    sys.exit(result.exit_code)


_REDRIVE_TEXT = {
    "started": ("started", "green"),
    "duplicate": ("already started", None),
    "would_start": ("would start", "cyan"),
    "skipped": ("left in the queue", "yellow"),
    "failed": ("not started, left in the queue", "red"),
}


@click.command("redrive", short_help="Re-send dead-lettered upload events so their versions get validated.")
@click.option("--stack", metavar="NAME", help="The stack holding the pipeline: its name, watched key and queue.")
@click.option(
    "--queue-url",
    metavar="URL",
    help="The trigger's dead-letter queue: instead of --stack, or with it for a queue elsewhere (a foundation's).",
)
@click.option(
    "--pipeline",
    "pipeline_name",
    metavar="NAME",
    help="The pipeline's name: with --stack holding several, the one to choose; needed with --queue-url alone.",
)
@click.option("--dry-run", is_flag=True, help="List what would be started; start nothing, delete nothing.")
@aws_options
@json_option
def redrive_command(
    stack: str | None,
    queue_url: str | None,
    pipeline_name: str | None,
    dry_run: bool,
    profile: str | None,
    region: str | None,
    as_json: bool,
) -> None:
    """Start the pipeline for each upload whose event the trigger dead-lettered, then delete that message.

    An upload's event is dead-lettered when it could not start the pipeline for a day (a throttled or missing
    pipeline, a permission removed). For each S3 "Object Created" event in the trigger's dead-letter queue (found
    among the stack's resources, or --queue-url), redrive starts the pipeline on exactly that object version, with
    the trigger's client request token (SHA-256 of bucket, key and version), which CodePipeline takes as the same
    request each time it sees it; a message is deleted once its start succeeded, so running it again is safe.
    Messages that are not such events, or (with --stack) name another object than the watched key, are reported
    and left in the queue.

    With several pipelines in --stack, --pipeline NAME chooses one (and its own queue). The pipelines on a
    PipelineFoundation share the foundation's queue, which each one's DeadLetterQueueUrl output names: only the
    chosen pipeline's uploads are started and the others' events stay in the queue (a stack deployed before that
    output needs the queue's URL as --queue-url). --queue-url with --pipeline alone starts every upload event in
    the queue on that pipeline, and refuses a queue holding uploads of several objects (a shared one), starting and
    deleting nothing.

    Exit 0 when every message was redriven (or, with --dry-run, listed), 1 when some were left in the queue, 2 a
    usage, credentials or permission problem. Needs sqs:ReceiveMessage, DeleteMessage and ChangeMessageVisibility
    on the queue, kms:Decrypt on its key, codepipeline:StartPipelineExecution, and with --stack
    cloudformation:DescribeStacks and ListStackResources.

    \b
    Examples:
      s3vp redrive --stack MyPipelineStack --dry-run
      s3vp redrive --stack MyPipelineStack
      s3vp redrive --stack FleetTeams1 --pipeline fleet-team01 --queue-url "$FOUNDATION_QUEUE_URL" --dry-run
      s3vp redrive --queue-url https://sqs.eu-west-1.amazonaws.com/111111111111/dlq --pipeline my-pipeline --json
    """
    from ._aws import make_session, read_stack_outputs
    from ._redrive import find_dead_letter_queue, redrive

    if stack is None and queue_url is None:
        raise click.UsageError("pass --stack NAME, or --queue-url URL with --pipeline NAME")
    if stack is None and not pipeline_name:
        raise click.UsageError("--queue-url needs --pipeline NAME (or --stack NAME)")

    try:
        session = make_session(profile, region)
        watched: tuple[str, str] | None = None
        if stack is not None:
            outputs = read_stack_outputs(session, stack, pipeline=pipeline_name)
            watched = (outputs.bucket, outputs.key)
            pipeline = stack_pipeline_name(outputs)
            if queue_url is None:
                queue_url = outputs.dead_letter_queue or find_dead_letter_queue(
                    session, stack, construct=outputs.construct
                )
        else:
            pipeline = str(pipeline_name)
        if not as_json:
            click.echo(f"Reading {queue_url}" + (" (dry run: nothing is started or deleted)" if dry_run else ""))
        run = redrive(
            session,
            queue_url=str(queue_url),
            pipeline=pipeline,
            dry_run=dry_run,
            watched=watched,
            say=None if as_json else _say_redriven,
        )
    except AwsError as exc:
        raise CliError(str(exc)) from None
    if as_json:
        echo_json(run.to_dict())
    else:
        _echo_redrive(run)
    failed = [item for item in run.left_in_queue if item.outcome in {"skipped", "failed"}]
    sys.exit(EXIT_REJECTED if failed else EXIT_ACCEPTED)


def _say_redriven(item: Redriven) -> None:
    text, colour = _REDRIVE_TEXT[item.outcome]
    what = f"s3://{item.bucket}/{item.key} version {item.version_id}" if item.version_id else "message"
    line = f"{text}: {what} (message {item.message_id})"
    if item.execution_id:
        line += f": execution {item.execution_id}"
    if item.reason:
        line += f": {item.reason}"
    click.secho(line, fg=colour)


def _echo_redrive(run: Redrive) -> None:
    count = len(run.messages)
    if not count:
        click.echo("The dead-letter queue is empty: nothing to redrive.")
    elif run.dry_run:
        would = sum(item.outcome == "would_start" for item in run.messages)
        click.echo(f"Dry run: {would} execution(s) would start for {count} message(s).")
    else:
        started = sum(item.outcome == "started" for item in run.messages)
        click.echo(f"Started {started} execution(s) for {count} message(s); {len(run.left_in_queue)} left.")
