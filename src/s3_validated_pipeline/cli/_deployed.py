"""What ``s3vp package`` and ``s3vp check`` take from a deployed pipeline with ``--stack``: the check's rules, and
warnings about the CDK CLI its deploy stages run. Without ``--stack``, the pipeline's default rules, and nothing is
asked of AWS."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from ._aws import AwsError
from ._cdk_cli import CliWarning, cdk_cli_warnings, read_package_json
from ._common import CliError
from ._rules import CheckRules, DeployedPipeline, read_deployed_pipeline

__all__ = ["CHECK_REMEDY", "PIPELINE_NEEDS_STACK", "echo_cdk_cli_warnings", "read_for_check", "stack_options"]

CHECK_REMEDY = "to check without reading the pipeline, leave out --stack and pass --require and --ignore yourself"
"""How to check without the permissions an access-denied message names."""
PIPELINE_NEEDS_STACK = "--pipeline chooses among the pipelines of --stack: pass --stack NAME too"


def stack_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--stack`` and ``--pipeline`` of ``package`` and ``check``."""
    function = click.option(
        "--pipeline", metavar="NAME", help="With --stack holding several pipelines: the one to read."
    )(function)
    return click.option(
        "--stack",
        metavar="NAME",
        help="Check with the rules of this stack's deployed pipeline (its required files, ignored paths and limits), "
        "and warn when its deploy stages run a CDK CLI the package does not pin.",
    )(function)


def read_for_check(
    required: Sequence[str],
    ignored: Sequence[str],
    *,
    stack: str | None,
    pipeline: str | None,
    profile: str | None,
    region: str | None,
) -> DeployedPipeline:
    """For ``package`` and ``check``: with ``stack``, the deployed pipeline's rules (``--require``/``--ignore`` add to
    them; one line says where they came from) and deploy stages; else the default rules, and nothing asked of AWS."""
    from ._aws import make_session  # looked up when called: tests replace it

    if pipeline is not None and stack is None:
        raise click.UsageError(PIPELINE_NEEDS_STACK)
    try:
        if stack is None:
            return DeployedPipeline(CheckRules()).extended(required, ignored)
        session = make_session(profile, region)
        deployed = read_deployed_pipeline(session, stack, pipeline=pipeline, remedy=CHECK_REMEDY)
        deployed = deployed.extended(required, ignored)
    except AwsError as exc:
        raise CliError(str(exc)) from None
    click.echo(deployed.rules.describe(), err=True)
    return deployed


def echo_cdk_cli_warnings(package: Path, deployed: DeployedPipeline) -> list[dict[str, str | None]]:
    """Print the warnings about the CDK CLI the deployed pipeline's deploy stages run, for the zip ``package``, on
    standard error; return them for ``--json``. Without deploy stages (or ``--stack``), the zip is not read."""
    stages = deployed.deploy_stages
    warnings = cdk_cli_warnings(stages, read_package_json(package)) if stages else []
    if deployed.unread:
        message = f"the deploy stages cannot be read, so the CDK CLI they run is not checked: {deployed.unread}"
        warnings.append(CliWarning(code="deploy-stages-unread", stage=None, message=message))
    for warning in warnings:
        click.secho(f"Warning: {warning.message}", fg="yellow", err=True)
    return [dataclasses.asdict(warning) for warning in warnings]
