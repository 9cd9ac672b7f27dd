"""``s3vp run``: run a synthesized ValidatedS3Pipeline on this machine, on one package, with no AWS account."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from .. import check as checker
from ._common import EXIT_ACCEPTED, EXIT_REJECTED, CliError, echo_json, json_option
from ._local.agent import Agent, AgentError, preflight
from ._local.assembly import AssemblyError, Pipeline, choose, find_pipelines, synthesize
from ._local.codebuild import SAFE_PATH
from ._local.runner import (
    FAILED,
    NOT_RUN,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    LocalRun,
    RunOptions,
    StageOutcome,
    builds_to_run,
    short_command,
)
from ._package import PackageError, build_package

__all__ = ["run_command"]

_FOLDER_LIKE = re.compile(r"\S*(?:\.out/*|/|(?:^|/)cdk\.out/\S*)")
"""An --app value that names a folder (``cdk.out``, ``build/``, ``x.out``) rather than a command: no spaces."""
_MARKS = {SUCCEEDED: ("✓", "green"), FAILED: ("✗", "red"), STOPPED: ("■", "yellow"), SKIPPED: ("-", None)}


def _cdk_json() -> dict[str, Any]:
    path = Path("cdk.json")
    if not path.is_file():
        return {}
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read cdk.json: {exc}") from None
    return data


def _assembly(app: str | None, folder: Path) -> Path:
    """The cloud assembly: ``app`` when it is a folder, else what the app command (default: cdk.json's) writes."""
    config = _cdk_json()
    command = app if app is not None else config.get("app")
    if not command:
        raise CliError("pass --app COMMAND_OR_CDK_OUT, or run in a folder whose cdk.json names the app")
    if Path(command).is_dir():
        return Path(command).resolve()
    if _FOLDER_LIKE.fullmatch(command):  # else the shell would say only "cdk.out: not found"
        source = "--app" if app is not None else "cdk.json's app"
        raise CliError(
            f"{source} {command}: no folder {command} in {Path.cwd()}; it names a cloud assembly folder, not a "
            "command. Synthesize first with `cdk synth` (it writes cdk.out), or give the app command, "
            'e.g. --app "python3 app.py"'
        )
    outdir = folder / "cdk.out"
    outdir.mkdir()
    try:
        return synthesize(command, outdir, Path.cwd(), config.get("context", {}), folder / "logs" / "synth.log")
    except AssemblyError as exc:
        raise CliError(str(exc)) from None


def _run_folder(keep: Path | None) -> Path:
    if keep is None:
        folder = Path(tempfile.mkdtemp(prefix="s3vp-run-")).resolve()
    else:
        folder = keep.resolve()
        if folder.exists() and any(folder.iterdir()):
            raise CliError(f"--keep {keep}: the folder is not empty; name a new or empty folder")
    if not SAFE_PATH.fullmatch(str(folder)):
        raise CliError(f"--keep {keep}: the path must hold only letters, digits and /._+- (it replaces /tmp/s3vp)")
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    return folder


def _package(path: Path, folder: Path) -> Path:
    if not path.is_dir():
        return path.resolve()
    try:
        return build_package(path, folder / "package.zip").output.resolve()
    except (PackageError, OSError) as exc:
        raise CliError(f"cannot package {path}: {exc}") from None


def _echo_stage(outcome: StageOutcome, width: int) -> None:
    mark, color = _MARKS.get(outcome.state, (" ", None))
    duration = f"{outcome.seconds:6.1f}s" if outcome.state not in (SKIPPED, NOT_RUN) else ""
    click.secho(f"  {mark} {outcome.name:<{width}}  {outcome.state:<10} {duration}".rstrip(), fg=color)
    for action in outcome.actions:
        prefix = f"      {action.name}: " if len(outcome.actions) > 1 else "      "
        for warning in action.warnings:
            click.secho(f"{prefix}warning: {warning}", fg="yellow")
        if action.detail and action.state != SUCCEEDED:
            click.echo(f"{prefix}{action.detail}")
        if action.failed_command is not None:
            click.echo(f"{prefix}failed command: {short_command(action.failed_command)}")
        for finding in action.findings:
            click.secho(f"{prefix}{finding}", fg="red")
        if action.state == FAILED and action.log:
            click.echo(f"{prefix}log: {action.log}")


def _document(pipeline: Pipeline, package: Path, run: LocalRun, outcomes: list[StageOutcome]) -> dict[str, Any]:
    failed = next((o.name for o in outcomes if o.state == FAILED), None)
    stopped = next((o.name for o in outcomes if o.state == STOPPED), None)
    return {
        "pipeline": pipeline.path,
        "stack": pipeline.stack,
        "package": str(package),
        "version_id": run.version_id,
        "execution_id": run.execution_id,
        "pipeline_name": pipeline.name,
        "folder": str(run.folder),
        "public_key": str(run.public_key),
        "provenance": _provenance(run),
        "result": "failed" if failed else "stopped" if stopped else "succeeded",
        "failed_stage": failed,
        "stopped_at": stopped,
        "stages": [outcome.to_dict() for outcome in outcomes],
    }


def _provenance(run: LocalRun) -> str | None:
    """The last artifact of the run holding signed provenance (what the last stages received), if any."""
    signed = [path for path in run.artifacts.values() if (path / checker.PROVENANCE_PATH).is_file()]
    return str(signed[-1]) if signed else None


def _summary(document: dict[str, Any], seconds: float) -> None:
    ran = [s["name"] for s in document["stages"] if s["state"] == SUCCEEDED]
    click.echo(f"\nRan {len(ran)} stage(s) in {seconds:.1f}s: {', '.join(ran) or 'none'} succeeded.")
    if document["failed_stage"]:
        (stage,) = (s for s in document["stages"] if s["name"] == document["failed_stage"])
        failed = next((a for a in stage["actions"] if a["failed_command"] is not None), None)
        command = ""
        if failed is not None:
            command = f" The command {short_command(failed['failed_command'])} exited with code {failed['exit_code']}."
        click.secho(f"Failed: {document['failed_stage']}.{command}", fg="red", bold=True)
    elif document["stopped_at"]:
        click.secho(f"Stopped at {document['stopped_at']} (pass --approve to go on).", fg="yellow")
    click.echo(f"Logs, artifacts and reports: {document['folder']}")
    if document["provenance"]:
        verify = shlex.join(["s3vp", "verify", document["provenance"], "--public-key", document["public_key"]])
        click.echo(f"Check its signed provenance: {verify}")


def _prepare(
    app: str | None, folder: Path, pipeline_path: str | None, until: str | None, package: Path, docker: bool
) -> tuple[Pipeline, Path, Agent | None]:
    """The pipeline to run, the package zip and (``--docker``) the local agent; a usage error when one is missing."""
    try:
        pipeline = choose(find_pipelines(_assembly(app, folder)), pipeline_path)
    except AssemblyError as exc:
        raise CliError(str(exc)) from None
    names = [stage.name for stage in pipeline.stages]
    if until is not None and until not in names:
        message = f"{until!r} is not a stage of {pipeline.path}: {', '.join(names)}"
        raise click.BadParameter(message, param_hint="--until")
    agent = None
    if docker:
        try:
            agent = preflight(action.image or "" for action in builds_to_run(pipeline, until))
        except AgentError as exc:
            raise CliError(str(exc)) from None
    return pipeline, _package(package, folder), agent


@click.command("run", short_help="Run the synthesized pipeline's stages on this machine on one package (no AWS).")
@click.argument("package", metavar="PACKAGE", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--app",
    metavar="COMMAND_OR_CDK_OUT",
    help="App command, e.g. 'python3 app.py', or the cdk.out folder `cdk synth` wrote (default: cdk.json's).",
)
@click.option("--pipeline", "pipeline_path", metavar="CONSTRUCT_PATH", help="Which pipeline, when the app has several.")
@click.option("--until", metavar="STAGE", help="Stop after this stage (with --allow-aws, deployments up to it run).")
@click.option("--keep", metavar="DIR", type=click.Path(file_okay=False, path_type=Path), help="The run folder to keep.")
@click.option("--approve", is_flag=True, help="Pass manual approvals instead of stopping there.")
@click.option("--allow-aws", is_flag=True, help="Let the builds' other AWS CLI calls reach AWS with your credentials.")
@click.option(
    "--docker",
    is_flag=True,
    help="Run each build in its project's CodeBuild image, through the CodeBuild local agent (codebuild_build.sh).",
)
@json_option
def run_command(
    package: Path,
    app: str | None,
    pipeline_path: str | None,
    until: str | None,
    keep: Path | None,
    approve: bool,
    allow_aws: bool,
    docker: bool,
    as_json: bool,
) -> None:
    """Run the CodeBuild stages of a synthesized ValidatedS3Pipeline on this machine, on PACKAGE (a zip, or a
    folder zipped as `s3vp package` does), with the buildspecs exactly as synthesized.

    The pipeline comes from --app: a command run as `cdk synth` does (--app 'python3 app.py'), or the folder a `cdk
    synth` wrote (--app cdk.out); default: the app of ./cdk.json. Stages run in pipeline order with the variables
    CodePipeline and CodeBuild set; the checker is the cloud assembly's asset, verified against the pinned SHA-256 by
    the buildspec itself. A stand-in `aws` first on PATH serves only the checker and the package, and kms sign, verify
    and get-public-key with a signing key made for the run (kept in the run folder as signing-key.pem, with
    signing-key.pub.pem for `s3vp verify`); any other AWS call fails unless --allow-aws. Deployments are skipped (shown
    with what they would run) unless --allow-aws and --until; manual approvals stop the run unless --approve. The
    buildspecs' /tmp/s3vp is replaced by a folder of the run, and HOME and TMPDIR point into it, so a run writes nothing
    outside its folder (--keep DIR, or a temporary folder printed at the end).

    With --docker, each build runs in the image its CodeBuild project names, through AWS's CodeBuild local agent:
    codebuild_build.sh (github.com/aws/aws-codebuild-docker-images, local_builds/) on PATH, each image built from that
    repository (ubuntu/standard/7.0 for aws/codebuild/standard:7.0), the agent pulled. The build gets the buildspec,
    the variables, the source folder (mounted) and the stand-in `aws`, never your AWS credentials (no --allow-aws).

    Exit 0 when every stage run succeeded, 1 when one failed (named, with the command that failed and the package
    check's findings), 2 for a usage error (with --docker: no docker, no codebuild_build.sh, or an image missing).

    \b
    Examples:
      s3vp run package.zip
      s3vp run ./my-app --app cdk.out --keep run-1
      s3vp run package.zip --app 'python3 app.py' --pipeline MyStack/Pipeline --approve --json
      s3vp run package.zip --app cdk.out --docker
    """
    if docker and allow_aws:
        raise click.UsageError("--allow-aws cannot be combined with --docker: the local agent never gets credentials")
    folder = _run_folder(keep)
    try:
        pipeline, zip_path, agent = _prepare(app, folder, pipeline_path, until, package, docker)
    except click.ClickException:
        if keep is None:  # a usage error leaves no temporary folder behind
            shutil.rmtree(folder, ignore_errors=True)
        raise
    names = [stage.name for stage in pipeline.stages]
    width = max(len(name) for name in names)
    if not as_json:
        where = "in its CodeBuild images through the local agent" if agent else "locally"
        click.echo(f"Running {pipeline.path} ({pipeline.stack}) {where} on {zip_path}")

    def on_stage(name: str, outcome: StageOutcome | None) -> None:
        if as_json:
            return
        if outcome is None:
            if sys.stdout.isatty():
                click.echo(f"  … {name:<{width}}  In progress\r", nl=False)
        else:
            _echo_stage(outcome, width)

    started = time.monotonic()
    try:
        options = RunOptions(until, approve, allow_aws, agent=agent)
        run = LocalRun(pipeline, zip_path, folder, options, on_stage=on_stage)
        outcomes = run.run()
    except (AssemblyError, AgentError) as exc:
        raise CliError(str(exc)) from None
    document = _document(pipeline, zip_path, run, outcomes)
    if as_json:
        echo_json(document)
    else:
        for outcome in outcomes:
            if outcome.state == NOT_RUN:
                _echo_stage(outcome, width)
        _summary(document, time.monotonic() - started)
    sys.exit(EXIT_REJECTED if document["failed_stage"] else EXIT_ACCEPTED)
