"""``s3vp selftest``: prove a deployed pipeline on its own account, read-only checks first, then a canary."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from ._aws import AwsError
from ._common import (
    EXIT_ACCEPTED,
    EXIT_REJECTED,
    EXIT_USAGE,
    CliError,
    aws_options,
    echo_json,
    following_options,
    json_option,
)
from ._selftest_checks import CHECKS, FAILED, PASSED, SKIPPED, Deployed, Finding, run_check

__all__ = ["selftest_command"]

READS = (
    "cloudformation:DescribeStacks",
    "cloudformation:ListStackResources",
    "codepipeline:GetPipeline",
    "codepipeline:GetPipelineState",
    "codepipeline:ListPipelineExecutions",
    "codepipeline:GetPipelineExecution",
    "codepipeline:ListActionExecutions",
    "s3:GetBucketVersioning",
    "s3:GetBucketNotification",
    "s3:GetLifecycleConfiguration",
    "s3:GetObject (the checker asset, in the CDK assets bucket)",
    "events:DescribeRule",
    "events:ListTargetsByRule",
    "kms:DescribeKey",
    "kms:GetKeyRotationStatus",
    "codebuild:BatchGetProjects",
    "codebuild:BatchGetBuilds",
    "logs:GetLogEvents",
    "sqs:GetQueueAttributes",
    "cloudwatch:DescribeAlarms",
)
WRITES = (
    "s3:PutObject on the watched key and kms:GenerateDataKey on its key (what pipeline.grant_upload grants)",
    "codepipeline:DisableStageTransition",
    "codepipeline:EnableStageTransition",
    "codepipeline:StopPipelineExecution",
    "and, optional (the canary is left marked without it), s3:DeleteObjectVersion",
)
PERMISSIONS = f"reads {', '.join(READS)}; writes (none with --dry-run) {', '.join(WRITES)}"
"""What ``s3vp selftest`` needs, for its help."""

_STATUS_COLOURS = {PASSED: "green", FAILED: "red", SKIPPED: "yellow"}


@dataclass
class _Run:
    """The findings so far, each timed by the watcher's clock (the tests' fake one)."""

    say: Callable[[str, str | None], None] | None
    findings: list[Finding] = field(default_factory=list)

    @contextmanager
    def timing(self) -> Iterator[Callable[[Finding], None]]:
        """Add findings, each with the seconds since this block began."""
        from . import _watch

        started = _watch.DEFAULT_CLOCK.monotonic()

        def add(finding: Finding) -> None:
            finding = finding.timed(_watch.DEFAULT_CLOCK.monotonic() - started)
            self.findings.append(finding)
            if self.say is not None:
                self.say(_line(finding), _STATUS_COLOURS[finding.status])

        yield add

    @property
    def exit_code(self) -> int:
        """2 when a check was blocked (access, credentials), 1 when one failed, else 0."""
        if any(finding.blocked for finding in self.findings):
            return EXIT_USAGE
        return EXIT_REJECTED if any(finding.status == FAILED for finding in self.findings) else EXIT_ACCEPTED


def _line(finding: Finding) -> str:
    return f"{finding.status.upper():<7} {finding.name} ({finding.seconds:.1f}s): {finding.message}"


def _say(text: str, colour: str | None) -> None:
    click.secho(text, fg=colour)


def _canary_steps(
    run: _Run, deployed: Deployed, *, dry_run: bool, timeout: float, interval: float, notified: Finding | None
) -> None:
    """Make the canary from the deployed rules; say what would be done (dry run), or upload, follow and judge it."""
    from . import _selftest_canary as canaries
    from ._rules import read_pipeline_rules

    with run.timing() as add:
        rules = read_pipeline_rules(deployed.session, deployed.stack, pipeline=deployed.pipeline)
        canary = canaries.make_canary(rules)
        if canary is None:
            why = f"the deployed check refuses no file by its name alone ({rules.describe()})"
            add(Finding("canary", SKIPPED, f"no harmless canary can be made: {why}"))
            return
        held = canaries.hold_stage(deployed, after_validate=True)
        if dry_run:
            add(_dry_canary(deployed, canary, held))
            return
        judged, cleaned, execution = _follow_canary(run, deployed, canary, held, timeout=timeout, interval=interval)
        for finding in judged:
            add(finding)
    with run.timing() as add:
        refused = any(finding.name == "canary-refused" and finding.status == PASSED for finding in judged)
        if notified is not None and refused:
            add(_notified(notified, execution))
        add(cleaned)


def _follow_canary(
    run: _Run, deployed: Deployed, canary: Any, held: str | None, *, timeout: float, interval: float
) -> tuple[list[Finding], Finding, str | None]:
    """Hold the stage after Validate, upload the canary, follow and judge it, delete it: (findings, the cleanup's
    finding, the execution). Once uploaded, the canary is cleaned up whatever AWS answers next."""
    from . import _selftest_canary as canaries

    judged: list[Finding] = []
    cleaned: Finding | None = None
    execution: str | None = None
    try:
        with canaries.holding(deployed, held):
            version = canaries.upload_canary(deployed, canary)
            if run.say is not None:
                run.say(f"Uploaded the canary ({canary.forbidden!r} in it): version {version}", None)
            try:
                until = canaries.validate_succeeded
                result = canaries.follow(
                    deployed, version, until=until, timeout=timeout, interval=interval, say=run.say
                )
                execution = result.execution_id
                judged = canaries.judge_canary(result, deployed, canary, timeout=timeout)
            except AwsError as exc:
                judged = [Finding("canary-refused", FAILED, str(exc), blocked=True)]
            finally:
                cleaned = canaries.clean_up(deployed, version)
    except AwsError as exc:
        if cleaned is None:  # nothing was uploaded: the step's own error
            raise
        judged.append(Finding("canary-hold", FAILED, str(exc), blocked=True))
    return judged, cleaned, execution


def _dry_canary(deployed: Deployed, canary: Any, held: str | None) -> Finding:
    outputs = deployed.outputs
    hold = f", holding the transition into {held}" if held else ""
    return Finding(
        "canary",
        SKIPPED,
        f"dry run: would upload a canary ({', '.join(canary.files)}; {len(canary.body)} bytes, sha256 {canary.sha256}) "
        f"to s3://{outputs.bucket}/{outputs.key}{hold}, expect Validate to refuse it with rule forbidden-file for "
        f"{canary.forbidden!r}, then delete that version",
    )


def _notified(notifications: Finding, execution_id: str | None) -> Finding:
    """Whether the canary's failure was announced, as far as s3vp can see without subscribing to the topic."""
    if notifications.status != PASSED:
        return Finding("canary-notified", notifications.status, f"not announced: {notifications.message}")
    return Finding(
        "canary-notified",
        PASSED,
        f"{notifications.message}, so execution {execution_id}'s failure is announced; the message itself is not "
        "read (s3vp would have to subscribe to the topic): look for it among the topic's subscribers",
    )


def _package_steps(
    run: _Run,
    deployed: Deployed,
    package: Path,
    *,
    dry_run: bool,
    through_approval: bool,
    timeout: float,
    interval: float,
) -> None:
    """Upload the user's good package, follow it up to the held stage, stop it there unless through approval."""
    from . import _selftest_canary as canaries
    from ._push import upload_package

    with run.timing() as add:
        held = canaries.hold_stage(deployed, after_validate=False, through_approval=through_approval)
        if dry_run:
            digest = hashlib.sha256(package.read_bytes()).hexdigest()
            upto = f"up to {held}, held there and stopped" if held else "to its end"
            add(Finding("package", SKIPPED, f"dry run: would upload {package} (sha256 {digest}) and follow it {upto}"))
            return
        declared = {
            (str(stage.get("name")), str(action.get("name")))
            for stage in deployed.declaration.get("stages", [])[
                1 : deployed.stage_names().index(held) if held else None
            ]
            for action in stage.get("actions", [])
        }

        def reached(actions: list[Any]) -> bool:
            done = {(view.stage, view.action) for view in actions if view.status == "Succeeded"}
            waiting = through_approval and any(
                v.status == "InProgress" and v.stage.startswith("Approve") for v in actions
            )
            return waiting or (held is not None and declared <= done)

        outputs = deployed.outputs
        with canaries.holding(deployed, held):
            upload = upload_package(
                deployed.session, package, bucket=outputs.bucket, key=outputs.key, kms_key=outputs.kms_key
            )
            if upload.version_id is None:
                raise AwsError(f"s3://{outputs.bucket}/{outputs.key} has no version id: the bucket is not versioned")
            result = canaries.follow(
                deployed, upload.version_id, until=reached, timeout=timeout, interval=interval, say=run.say
            )
            add(canaries.judge_package(result, deployed, held=held, through_approval=through_approval, timeout=timeout))


def _check_package(deployed: Deployed, package: Path) -> Finding | None:
    """A failed finding when the deployed check would reject ``package``: it is then not uploaded."""
    from .. import check as checker
    from ._rules import read_pipeline_rules

    rules = read_pipeline_rules(deployed.session, deployed.stack, pipeline=deployed.pipeline)
    try:
        report = checker.check_package(package, required=rules.required, limits=rules.limits)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot check --package {package}: {exc}") from None
    if report.accepted:
        return None
    rejected = "; ".join(f"[{finding.rule}] {finding.message}" for finding in report.findings[:3])
    return Finding("package", FAILED, f"not uploaded: the deployed check would reject {package}: {rejected}")


def run_selftest(
    session: Any,
    stack: str,
    pipeline: str | None,
    *,
    package: Path | None,
    dry_run: bool,
    through_approval: bool,
    timeout: float,
    interval: float,
    say: Callable[[str, str | None], None] | None,
) -> _Run:
    """Every read-only check, then (unless a check failed) the canary, then ``package``; the findings in order."""
    from ._selftest_checks import read_deployed

    run = _Run(say)
    deployed = read_deployed(session, stack, pipeline)
    for name, check in CHECKS:
        with run.timing() as add:
            add(run_check(name, check, deployed))
    notified = next(finding for finding in run.findings if finding.name == "notifications")
    if run.exit_code != EXIT_ACCEPTED and not dry_run:
        with run.timing() as add:
            add(Finding("canary", SKIPPED, "not uploaded: fix the failed checks first, then run the self-test again"))
        return run
    steps: list[tuple[str, Callable[[], None]]] = [
        (
            "canary",
            lambda: _canary_steps(
                run, deployed, dry_run=dry_run, timeout=timeout, interval=interval, notified=notified
            ),
        )
    ]
    if package is not None:
        steps.append(
            (
                "package",
                lambda: _package_step(
                    run,
                    deployed,
                    package,
                    dry_run=dry_run,
                    through_approval=through_approval,
                    timeout=timeout,
                    interval=interval,
                ),
            )
        )
    for name, step in steps:
        try:
            step()
        except AwsError as exc:
            with run.timing() as add:
                add(Finding(name, FAILED, str(exc), blocked=True))
    return run


def _package_step(run: _Run, deployed: Deployed, package: Path, **options: Any) -> None:
    refused = _check_package(deployed, package)
    if refused is not None:
        with run.timing() as add:
            add(refused)
        return
    _package_steps(run, deployed, package, **options)


@click.command("selftest", short_help="Prove a deployed pipeline: read-only checks, then a canary it must refuse.")
@click.option("--stack", required=True, metavar="NAME", help="The stack holding the ValidatedS3Pipeline.")
@click.option("--pipeline", metavar="NAME", help="With --stack holding several pipelines: the one to test.")
@click.option(
    "--package",
    metavar="FILE.zip",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also upload this package, known to be good, and follow it up to (never into) a deployment or approval.",
)
@click.option(
    "--through-approval",
    is_flag=True,
    help="With --package: leave its execution waiting at the first approval instead of stopping it.",
)
@click.option("--dry-run", is_flag=True, help="Run the read-only checks; say what would be uploaded; write nothing.")
@following_options(
    timeout_help="How long to follow each upload before its check fails, e.g. 30m, 2h, 1h30m.",
    interval_help="How often to look at the pipeline while following an upload.",
)
@aws_options
@json_option
def selftest_command(
    stack: str,
    pipeline: str | None,
    package: Path | None,
    through_approval: bool,
    dry_run: bool,
    timeout: float,
    interval: float,
    profile: str | None,
    region: str | None,
    as_json: bool,
) -> None:
    """Prove that a deployed pipeline works, on its own account: run this after every `cdk deploy`.

    \b
    Read-only checks first, each naming the resource and the fix:
      source-bucket      versioned, and sending its events to EventBridge
      trigger-rule       enabled, starting this pipeline on the uploaded version (the version-id input transformer)
      execution-mode     a V2 pipeline in QUEUED or PARALLEL mode (SUPERSEDED skips uploads)
      keys               every KMS key enabled; every symmetric one rotating
      checker            the checker asset the Validate project downloads exists, with the SHA-256 it pins
      dead-letter-queue  the trigger's dead-letter queue is empty (else: s3vp redrive)
      alarms             none of the pipeline's alarms in ALARM
      notifications      the rule announcing failed executions is enabled and sends to a topic

    Then, when they all passed, a canary: a zip holding a README and one file the deployed check forbids by name
    alone (such as .env, holding no secret), marked by the object metadata s3vp-selftest=canary (its tags are
    Validate's, which tags it s3vp-verdict=rejected). It is uploaded to the watched key and followed as `s3vp watch`
    follows an execution: an execution must start for exactly that version (canary-started) and fail at Validate
    with the rule forbidden-file naming the file (canary-refused), so none of your commands run; the transition
    into the stage after Validate is disabled meanwhile and enabled again after, and a canary that is accepted is
    stopped there. With notifications on,
    canary-notified says the failure is announced by the enabled rule (s3vp does not subscribe to the topic to read
    the message). Like any failed execution, the canary's holds the pipeline's failure alarms in ALARM for one period
    (5 minutes) and is announced to the topic's subscribers. The canary version is then deleted; where the bucket
    policy lets only administrators delete versions, it is left marked, and the report names the lifecycle rule that
    removes it (the construct's bucket expires rejected versions within twice rejected_retention_days). Until the
    next upload, it is the current version of the watched key.

    With --package FILE.zip, a package you know is good (checked locally first, with the deployed rules) is uploaded
    and followed through Validate (and Attest, Test and any stage before the first deployment or approval), with the
    transition into that stage disabled meanwhile, then stopped with StopPipelineExecution (abandon) there; with
    --through-approval it is left waiting at the first approval (never past a deployment without one). Other
    executions wait at a disabled transition too, and only the latest goes on when it is enabled again: run the
    self-test when nobody else uploads.

    --timeout (default 1h) and --interval apply to following each upload. --dry-run runs the read-only checks and
    prints what would be uploaded, held and checked, writing nothing. --json prints one object: each check's name,
    status (passed, failed, skipped), seconds and message.

    Exit 0 when every check passed (or was skipped), 1 when one failed, 2 for a usage, credentials or permission
    problem (a check that could not run). It needs IAM permissions:
    """
    from ._aws import make_session

    if through_approval and package is None:
        raise click.UsageError("--through-approval applies to --package FILE.zip: pass --package too")
    say = None if as_json else _say
    if not as_json:
        click.echo(
            f"Self-test of the pipeline in stack {stack}" + (" (dry run: nothing is written)" if dry_run else "")
        )
    try:
        session = make_session(profile, region)
        run = run_selftest(
            session,
            stack,
            pipeline,
            package=package,
            dry_run=dry_run,
            through_approval=through_approval,
            timeout=timeout,
            interval=interval,
            say=say,
        )
    except AwsError as exc:
        raise CliError(str(exc)) from None
    _echo_report(run, stack, dry_run=dry_run, as_json=as_json)
    sys.exit(run.exit_code)


def _echo_report(run: _Run, stack: str, *, dry_run: bool, as_json: bool) -> None:
    """The JSON document, or (the findings having been printed as they came) one line of counts."""
    counts = {status: sum(f.status == status for f in run.findings) for status in (PASSED, FAILED, SKIPPED)}
    if as_json:
        echo_json(
            {
                "stack": stack,
                "dry_run": dry_run,
                "exit_code": run.exit_code,
                "checks": [f.to_dict() for f in run.findings],
            }
        )
    else:
        summary = ", ".join(f"{count} {status}" for status, count in counts.items())
        colour = "green" if run.exit_code == EXIT_ACCEPTED else "red"
        click.secho(f"Self-test: {summary}", fg=colour, bold=run.exit_code != EXIT_ACCEPTED)


selftest_command.help = f"{selftest_command.help} {PERMISSIONS}."
