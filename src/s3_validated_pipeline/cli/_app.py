"""The ``s3vp`` commands: argument parsing and what each prints; the work is done in the sibling modules."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import check as checker
from ._aws import AwsError, PipelineOutputs
from ._common import (
    EXIT_ACCEPTED,
    EXIT_REJECTED,
    CliError,
    aws_options,
    echo_json,
    ignore_option,
    json_option,
    require_option,
    watch_options,
)
from ._deployed import PIPELINE_NEEDS_STACK, echo_cdk_cli_warnings, read_for_check, stack_options
from ._package import PackageError, build_package
from ._pipeline_commands import history_command, redrive_command, run_watch, watch_command
from ._rules import CheckRules
from ._run import run_command
from ._selftest import selftest_command
from ._verify import verify_command

if TYPE_CHECKING:
    from ._push import Upload

__all__ = ["cli"]


PUSH_REMEDY = "or pass --skip-check to upload without the local check"


def _rules(
    required: Sequence[str],
    ignored: Sequence[str],
    *,
    session: Any = None,
    stack: str | None = None,
    pipeline: str | None = None,
    remedy: str = "",
) -> CheckRules:
    """The check's rules: the deployed pipeline's with ``stack`` (``--require``/``--ignore`` add to them), or the
    pipeline's defaults; with ``stack``, one line says where they came from (on standard error)."""
    from ._rules import read_pipeline_rules

    try:
        if stack is None:
            return CheckRules().extended(required, ignored)
        rules = read_pipeline_rules(session, stack, pipeline=pipeline, remedy=remedy).extended(required, ignored)
    except AwsError as exc:
        raise CliError(str(exc)) from None
    click.echo(rules.describe(), err=True)
    return rules


def _check(path: Path, rules: CheckRules) -> checker.Report:
    """Run the package check as the pipeline does: its required files and limits (by default, the defaults)."""
    try:
        return checker.check_package(path, required=rules.required, limits=rules.limits)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


def _human(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="s3-validated-pipeline", prog_name="s3vp")
def cli() -> None:
    """Package, check and upload code for a ValidatedS3Pipeline.

    \b
    Examples:
      s3vp package . -o package.zip --require package.json
      s3vp check package.zip --require package.json
      s3vp push package.zip --stack MyPipelineStack            # upload, then watch the execution
      s3vp push package.zip --stack FleetTeams1 --pipeline fleet-team01   # a stack holding several pipelines
      s3vp watch --stack MyPipelineStack --version-id 3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY
      s3vp history --stack MyPipelineStack -n 10
      s3vp redrive --stack MyPipelineStack --dry-run
      s3vp run package.zip --app cdk.out                   # run the synthesized pipeline locally
      s3vp verify artifact.zip --stack MyPipelineStack     # check an artifact's signed provenance
      s3vp selftest --stack MyPipelineStack                # after cdk deploy: checks, then a canary it must refuse

    Credentials come from the standard AWS chain (--profile, --region, AWS_ENDPOINT_URL are honoured); nothing is
    stored. Exit codes: 0 success, 1 the package is rejected (or the execution, or a selftest check, failed), 2 a
    usage, credentials or permission problem; watch (and push, which watches) also 3 superseded or cancelled, 4 timed
    out, 130 Ctrl-C.
    """


@cli.command("package", short_help="Zip a folder deterministically, leaving junk out, and check the zip.")
@click.argument("directory", metavar="DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE.zip",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The zip to write (replaced if it exists).",
)
@require_option
@ignore_option
@stack_options
@click.option("-v", "--verbose", is_flag=True, help="List every path left out, not only a count per pattern.")
@aws_options
@json_option
def package_command(
    directory: Path,
    output: Path,
    required: tuple[str, ...],
    ignored: tuple[str, ...],
    stack: str | None,
    pipeline: str | None,
    verbose: bool,
    profile: str | None,
    region: str | None,
    as_json: bool,
) -> None:
    """Zip DIR deterministically, leaving junk and secrets out, then run the package check on the zip.

    The same tree always gives the same bytes: entries sorted, files only, timestamps 1980-01-01 (or
    SOURCE_DATE_EPOCH), modes 0644/0755, no extra fields. Left out: .git/, node_modules/, .env and .env.* (but
    .env.example, .env.sample, .env.template), .DS_Store, __MACOSX/, Thumbs.db, and the patterns in DIR/.s3vpignore
    (gitignore syntax; '!node_modules/' puts a folder back). Symbolic links are refused: the pipeline rejects them.

    With --stack, the check runs with the deployed validate stage's rules, read from its buildspec
    (cloudformation:ListStackResources, codebuild:BatchGetProjects on the validate and deploy projects); --require
    and --ignore add to them. A deploy stage running cdk (cdk, npx cdk; not npm run cdk) is warned about when the
    zip's package.json has no aws-cdk (fix: npm install --save-dev aws-cdk, deploy with npx --no-install cdk), and
    when it runs npx cdk without --no-install. Warnings (stderr, and --json's "warnings") never change the exit
    code. Without --stack, nothing is read from AWS and nothing is warned.

    Exit 0 when the zip passes the check, 1 when the pipeline would reject it (the zip is still written), 2 for a
    usage error, a folder that cannot be packaged, or a pipeline whose rules cannot be read.

    \b
    Examples:
      s3vp package . -o package.zip
      s3vp package . -o package.zip --stack MyPipelineStack     # the deployed pipeline's rules
      s3vp package . -o package.zip --stack FleetTeams1 --pipeline fleet-team01
      s3vp package app -o dist/app.zip --require package.json --require 'bin/*.ts' --verbose
      SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) s3vp package . -o package.zip
    """
    deployed = read_for_check(required, ignored, stack=stack, pipeline=pipeline, profile=profile, region=region)
    try:
        result = build_package(directory, output)
    except PackageError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror or exc}") from None
    report = _check(output, deployed.rules)
    warnings = echo_cdk_cli_warnings(output, deployed)
    if as_json:
        echo_json(
            {
                "output": str(output),
                "files": len(result.files),
                "bytes": result.bytes_in,
                "excluded": {pattern: list(paths) for pattern, paths in result.excluded.items()},
                "check": report.to_dict(),
                "warnings": warnings,
            }
        )
    else:
        click.echo(
            f"Packaged {len(result.files)} file(s), {_human(result.bytes_in)}, into {output} "
            f"({_human(report.size)}, sha256 {report.sha256})"
        )
        if result.excluded:
            click.echo("Left out:")
            width = max(len(pattern) for pattern in result.excluded)
            for pattern, paths in result.excluded.items():
                click.echo(f"  {pattern:<{width}}  {_count(paths)}")
                if verbose:
                    for path in paths:
                        click.echo(f"      {path}")
        _echo_report(report)
    sys.exit(EXIT_ACCEPTED if report.accepted else EXIT_REJECTED)


def _count(paths: Sequence[str]) -> str:
    folders = sum(path.endswith("/") for path in paths)
    files = len(paths) - folders
    parts = [f"{n} {kind}" + ("s" if n != 1 else "") for n, kind in ((files, "file"), (folders, "folder")) if n]
    return ", ".join(parts)


def _echo_report(report: checker.Report) -> None:
    headline, _, rest = report.summary().partition("\n")
    click.secho(headline, fg="green" if report.accepted else "red", bold=not report.accepted)
    if rest:
        click.echo(rest)


@cli.command("check", short_help="Run the pipeline's package check on a zip.")
@click.argument("package", metavar="FILE.zip", type=click.Path(dir_okay=False, path_type=Path))
@require_option
@ignore_option
@stack_options
@aws_options
@json_option
def check_command(
    package: Path, required: tuple[str, ...], ignored: tuple[str, ...], as_json: bool, **where: str | None
) -> None:
    """Run the pipeline's package check on a zip, as the validate stage will.

    The same check as `python -m s3_validated_pipeline.check`, with the pipeline's default limits and forbidden
    files. Exit 0 accepted, 1 rejected (one line per finding), 2 usage error or unreadable file.

    With --stack, it checks with the deployed pipeline's rules and warns about the CDK CLI its deploy stages run,
    as `s3vp package --stack` does (same permissions; warnings never change the exit code). Without --stack,
    nothing is read from AWS and nothing is warned.

    \b
    Examples:
      s3vp check package.zip
      s3vp check package.zip --require package.json --require 'src/**/*.ts' --ignore node_modules
      s3vp check package.zip --stack MyPipelineStack           # the deployed pipeline's rules and deploy commands
      s3vp check package.zip --json | jq '.findings[].rule'
    """
    deployed = read_for_check(required, ignored, **where)
    report = _check(package, deployed.rules)
    warnings = echo_cdk_cli_warnings(package, deployed)
    if as_json:
        echo_json({**report.to_dict(), "warnings": warnings})
    else:
        _echo_report(report)
    sys.exit(EXIT_ACCEPTED if report.accepted else EXIT_REJECTED)


@cli.command("push", short_help="Check a zip, upload it to the pipeline's source key, print the version id.")
@click.argument("package", metavar="FILE.zip", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--stack", metavar="NAME", help="The stack holding the ValidatedS3Pipeline: bucket, key and KMS key.")
@click.option("--pipeline", metavar="NAME", help="With --stack holding several pipelines: the one to upload to.")
@click.option("--bucket", metavar="BUCKET", help="The source bucket (instead of --stack).")
@click.option("--key", metavar="KEY", help="The watched object key, e.g. source.zip (instead of --stack).")
@click.option("--kms-key", metavar="ARN", help="The source bucket's KMS key ARN (instead of --stack).")
@click.option("--skip-check", is_flag=True, help="Upload even when the package check rejects the zip.")
@click.option("--no-watch", is_flag=True, help="Exit after the upload instead of watching the execution it starts.")
@require_option
@ignore_option
@watch_options
@aws_options
@json_option
def push_command(
    package: Path,
    stack: str | None,
    pipeline: str | None,
    bucket: str | None,
    key: str | None,
    kms_key: str | None,
    skip_check: bool,
    no_watch: bool,
    required: tuple[str, ...],
    ignored: tuple[str, ...],
    timeout: float,
    interval: float,
    profile: str | None,
    region: str | None,
    as_json: bool,
) -> None:
    """Check a zip locally, upload it to the pipeline's source key, print the version id, then watch its execution.

    With --stack, the bucket, key and KMS key are read from the stack's outputs (cloudformation:DescribeStacks); a
    stack holding several pipelines needs --pipeline NAME, the name of the one to upload to (its PipelineName output).
    The upload uses SSE-KMS with that key and a SHA-256 checksum (multipart above 256 MiB), so it needs
    s3:PutObject on the key and kms:GenerateDataKey on the key: pipeline.grant_upload(...) grants both.
    A zip the pipeline would reject is refused (exit 1) unless --skip-check; with --stack, the check runs with the
    deployed validate stage's rules (cloudformation:ListStackResources, codebuild:BatchGetProjects), as
    `s3vp package --stack` does.

    Then, as `s3vp watch` does, it follows the execution started for that version (with --stack, whose outputs name
    the pipeline) and exits with its outcome: 0 succeeded, 1 failed or stopped, 3 superseded or cancelled, 4 timed
    out, 130 Ctrl-C (which stops the watching, never the pipeline). --no-watch exits 0 after the upload.

    \b
    Examples:
      s3vp push package.zip --stack MyPipelineStack
      s3vp push package.zip --stack MyPipelineStack --profile dev --region eu-west-1 --require package.json
      s3vp push package.zip --stack MyPipelineStack --timeout 30m
      s3vp push package.zip --stack FleetTeams1 --pipeline fleet-team01
      s3vp push package.zip --bucket my-source-bucket --key source.zip --kms-key arn:aws:kms:...:key/...
      VERSION=$(s3vp push package.zip --stack MyPipelineStack --no-watch --json | jq -r .version_id)
    """
    from ._aws import make_session, read_stack_outputs
    from ._push import upload_package

    if pipeline is not None and stack is None:
        raise click.UsageError(PIPELINE_NEEDS_STACK)
    _one_target(stack, {"--bucket": bucket, "--key": key, "--kms-key": kms_key})
    report = None
    if stack is None and not skip_check:  # the default rules: checked before anything is asked of AWS
        report = _check_before_push(package, _rules(required, ignored), as_json=as_json)
    try:
        session = make_session(profile, region)
        if stack is not None:
            target = read_stack_outputs(session, stack, pipeline=pipeline)
            if not skip_check:
                rules = _rules(
                    required, ignored, session=session, stack=stack, pipeline=target.pipeline, remedy=PUSH_REMEDY
                )
                report = _check_before_push(package, rules, as_json=as_json)
        else:
            target = PipelineOutputs("", bucket or "", key or "", kms_key or "", None)
        if not as_json:
            click.echo(f"Uploading {package} ({_human(package.stat().st_size)}) to s3://{target.bucket}/{target.key}")
        with _progress(package.stat().st_size, enabled=not as_json) as advance:
            upload = upload_package(
                session, package, bucket=target.bucket, key=target.key, kms_key=target.kms_key, progress=advance
            )
    except AwsError as exc:
        raise CliError(str(exc)) from None
    _after_upload(
        session,
        _upload_document(upload, target, stack, report),
        upload=upload,
        target=target,
        watch=not no_watch,
        timeout=timeout,
        interval=interval,
        as_json=as_json,
    )


def _after_upload(
    session: Any,
    uploaded: dict[str, Any],
    *,
    upload: Any,
    target: PipelineOutputs,
    watch: bool,
    timeout: float,
    interval: float,
    as_json: bool,
) -> None:
    """Say what was uploaded, then watch the execution it started (and exit with its outcome) unless told not to."""
    if not as_json:
        _echo_upload(upload, target)
    if not watch or upload.version_id is None or not target.pipeline:
        if watch and upload.version_id is not None and not as_json:
            _echo_not_watching(upload.version_id)
        if as_json:
            echo_json(uploaded)
        return
    result = run_watch(
        session, target.pipeline, version_id=upload.version_id, timeout=timeout, interval=interval, as_json=as_json
    )
    if as_json:
        echo_json({**uploaded, "watch": result.to_dict()})
    sys.exit(result.exit_code)


def _one_target(stack: str | None, explicit: dict[str, str | None]) -> None:
    """Refuse --stack with --bucket/--key/--kms-key, or neither --stack nor all three."""
    if stack is not None and any(value is not None for value in explicit.values()):
        raise click.UsageError("pass either --stack, or --bucket, --key and --kms-key, not both")
    if stack is None and not all(explicit.values()):
        missing = ", ".join(name for name, value in explicit.items() if not value)
        raise click.UsageError(f"pass --stack NAME, or all of --bucket, --key and --kms-key (missing: {missing})")


def _check_before_push(package: Path, rules: CheckRules, *, as_json: bool) -> checker.Report:
    """Check the zip as the pipeline will; exit 1, uploading nothing, when it would be rejected."""
    report = _check(package, rules)
    if not report.accepted:
        if as_json:
            echo_json({"uploaded": False, "check": report.to_dict()})
        else:
            _echo_report(report)
        message = f"Not uploaded: the pipeline would reject {package}. Fix the findings, or pass --skip-check."
        click.secho(message, fg="red", err=True)
        sys.exit(EXIT_REJECTED)
    if not as_json:
        click.echo(f"Checked {package}: accepted ({report.entries} entries, sha256 {report.sha256})")
    return report


def _upload_document(
    upload: Upload, target: PipelineOutputs, stack: str | None, report: checker.Report | None
) -> dict[str, Any]:
    return {
        "uploaded": True,
        "stack": stack,
        "pipeline": target.pipeline,
        "bucket": upload.bucket,
        "key": upload.key,
        "kms_key": target.kms_key,
        "version_id": upload.version_id,
        "checksum_sha256": upload.checksum_sha256,
        "sha256": report.sha256 if report is not None else None,
        "size": upload.size,
    }


def _echo_not_watching(version_id: str) -> None:
    click.secho(
        "Not watching: the pipeline's name is unknown (pass --stack, or run `s3vp watch --pipeline NAME "
        f"--version-id {version_id}`).",
        fg="yellow",
        err=True,
    )


def _echo_upload(upload: Upload, target: PipelineOutputs) -> None:
    if upload.version_id is None:
        click.secho(
            f"Uploaded, but s3://{upload.bucket}/{upload.key} has no version id: the bucket is not versioned, so the "
            "pipeline cannot name this upload.",
            fg="yellow",
            err=True,
        )
    else:
        click.echo(f"Uploaded: version id {upload.version_id}")
        if target.pipeline:
            click.echo(f"Pipeline {target.pipeline} starts an execution for this version.")


class _NoProgress:
    def __enter__(self) -> Callable[[int], None] | None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _RichProgress:
    """A rich progress bar on standard error, driven by boto3's transfer callback (thread-safe in rich)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

        self._progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._progress.add_task("upload", total=total)

    def __enter__(self) -> Callable[[int], None]:
        self._progress.start()
        return lambda sent: self._progress.advance(self._task, sent)

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def _progress(total: int, *, enabled: bool) -> _NoProgress | _RichProgress:
    """A progress bar only when standard error is a terminal (never in a pipe, a log or CI)."""
    if enabled and sys.stderr.isatty() and os.environ.get("TERM") != "dumb":
        return _RichProgress(total)
    return _NoProgress()


for _command in (history_command, watch_command, redrive_command, run_command, verify_command, selftest_command):
    cli.add_command(_command)
