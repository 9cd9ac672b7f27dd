"""What the ``s3vp`` commands share: exit codes, the user-facing error, common options, JSON output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from ._aws import AwsError, PipelineOutputs
from ._watch import parse_duration

__all__ = [
    "EXIT_ACCEPTED",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "CliError",
    "aws_options",
    "echo_json",
    "following_options",
    "ignore_option",
    "json_option",
    "require_option",
    "resolve_pipeline",
    "stack_pipeline_name",
    "watch_options",
]

EXIT_ACCEPTED = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


class CliError(click.ClickException):
    """A problem the user can fix (bad input, AWS credentials or permissions): ``Error: ...``, exit code 2."""

    exit_code = EXIT_USAGE


def require_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--require GLOB`` (repeatable)."""
    return click.option(
        "--require",
        "required",
        multiple=True,
        metavar="GLOB",
        help="A file the package must hold (repeatable; '**' crosses folders), as in ValidationOptions.required_files.",
    )(function)


def ignore_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--ignore GLOB`` (repeatable)."""
    return click.option(
        "--ignore",
        "ignored",
        multiple=True,
        metavar="GLOB",
        help="A path exempt from the forbidden-file and credentials rules, e.g. node_modules (repeatable).",
    )(function)


def json_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--json``, as ``as_json``."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")(function)


def aws_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--profile`` and ``--region``."""
    function = click.option(
        "--region", metavar="REGION", help="AWS region (default: AWS_DEFAULT_REGION or the profile's)."
    )(function)
    return click.option("--profile", metavar="PROFILE", help="AWS profile (default: AWS_PROFILE or the chain).")(
        function
    )


def _duration_option(ctx: click.Context, param: click.Parameter, value: str) -> float:
    """``--timeout``: a duration such as 90s, 30m, 2h or 1h30m (a bare number is seconds), as seconds."""
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def following_options(*, timeout_help: str, interval_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--timeout DURATION`` and ``--interval SECONDS``, for a command that follows an execution."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        function = click.option(
            "--interval",
            type=click.FloatRange(min=1.0),
            default=5.0,
            show_default=True,
            metavar="SECONDS",
            help=interval_help,
        )(function)
        return click.option(
            "--timeout",
            callback=_duration_option,
            metavar="DURATION",
            default="1h",
            show_default=True,
            help=timeout_help,
        )(function)

    return decorate


watch_options = following_options(
    timeout_help="Stop watching (exit 4; the pipeline runs on) after this long, e.g. 30m, 2h, 1h30m.",
    interval_help="How often to look at the pipeline while watching.",
)
"""``--timeout`` and ``--interval`` as ``s3vp watch`` and ``s3vp push --watch`` take them."""


def echo_json(document: object) -> None:
    """Print ``document`` as indented JSON."""
    click.echo(json.dumps(document, indent=2))


def resolve_pipeline(session: Any, stack: str | None, pipeline_name: str | None) -> str:
    """The pipeline's name: ``pipeline_name`` without ``stack``; else the stack's *PipelineName output
    (``cloudformation:DescribeStacks``), with ``pipeline_name`` choosing among several (and checked against it)."""
    from ._aws import read_stack_outputs

    if stack is None:
        return str(pipeline_name)
    return stack_pipeline_name(read_stack_outputs(session, stack, pipeline=pipeline_name))


def stack_pipeline_name(outputs: PipelineOutputs) -> str:
    """The pipeline's name from its stack's outputs; ``AwsError`` when a construct too old to output it made them."""
    if not outputs.pipeline:
        raise AwsError(
            f"the stack {outputs.stack!r} does not output its pipeline's name (*PipelineName): deploy a newer version "
            "of the construct, or pass --pipeline NAME"
        )
    return outputs.pipeline
