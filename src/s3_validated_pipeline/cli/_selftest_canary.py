"""The writing part of ``s3vp selftest``: a canary package the check must refuse, and optionally a package the user
knows is good, each uploaded and followed as ``s3vp watch`` follows an execution (``Watcher``), held before the first
stage that could deploy, run a person's approval or run the user's commands on the canary."""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .. import check as checker
from .._buildspec import VERDICT_TAG
from .._names import VALIDATE
from . import _watch
from ._aws import GRANT_REMEDY, AwsError, aws_errors
from ._execution import ActionView, WatchResult, format_duration
from ._rules import CheckRules
from ._selftest_checks import FAILED, PASSED, SKIPPED, Deployed, Finding

__all__ = ["MARK", "Canary", "hold_stage", "holding", "judge_canary", "judge_package", "make_canary"]

MARK = ("s3vp-selftest", "canary")
"""The object metadata (``x-amz-meta-s3vp-selftest``) and tag that mark the canary version."""
CANARY_RULE = "forbidden-file"
"""The rule the canary is refused by: a file name alone, no secret content."""
_HOLD_REASON = "s3vp selftest holds its test execution before this stage (re-enabled when the self-test ends)"


@dataclass(frozen=True)
class Canary:
    """The package the deployed check must refuse: a README and one file whose name alone is forbidden."""

    forbidden: str
    """The file the check refuses by name; it holds no secret."""
    files: tuple[str, ...]
    body: bytes

    @property
    def sha256(self) -> str:
        """The zip's SHA-256, hex."""
        return hashlib.sha256(self.body).hexdigest()


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def _rules_refusing(body: bytes, rules: CheckRules) -> set[str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "canary.zip")
        path.write_bytes(body)
        report = checker.check_package(path, required=rules.required, limits=rules.limits)
    return {finding.rule for finding in report.findings}


def _instance(pattern: str) -> str | None:
    """A path a glob pattern matches (``**/`` dropped, ``*`` and ``?`` filled in); None for a character class."""
    name = pattern.replace("**/", "").replace("*", "s3vp-selftest-canary").replace("?", "x")
    return None if set("[]!") & set(name) else name


def make_canary(rules: CheckRules) -> Canary | None:
    """A canary the check with ``rules`` refuses by the forbidden-file rule alone; None when none can be made (the
    rules forbid no name, or also refuse what the canary needs).

    A file matching each of the deployed rules' required patterns is added, so that nothing else refuses it.
    """
    note = "s3vp selftest canary: this file holds no secret; its name alone makes the package check refuse it.\n"
    base = {"README.txt": "A package made by `s3vp selftest` to prove that the pipeline refuses a forbidden file.\n"}
    base.update({name: "s3vp selftest canary\n" for name in map(_instance, rules.required) if name})
    for pattern in rules.limits.forbidden:
        name = None if pattern.startswith("!") else _instance(pattern)
        if name is None or name in base:
            continue
        body = _zip({**base, name: note})
        if _rules_refusing(body, rules) == {CANARY_RULE}:
            return Canary(forbidden=name, files=tuple(sorted({*base, name})), body=body)
    return None


def upload_canary(deployed: Deployed, canary: Canary) -> str:
    """Upload the canary to the watched key, marked by metadata; return its version id. (Not by a tag: the version's
    tags are Validate's to set, and once it has set its verdict no one but an administrator may change them.)"""
    outputs = deployed.outputs
    s3 = deployed.session.client("s3")
    action = "s3:PutObject on the key and kms:GenerateDataKey on the source bucket's KMS key"
    with aws_errors(action=action, resource=f"s3://{outputs.bucket}/{outputs.key}", remedy=GRANT_REMEDY):
        response = s3.put_object(
            Bucket=outputs.bucket,
            Key=outputs.key,
            Body=canary.body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=outputs.kms_key,
            ChecksumAlgorithm="SHA256",
            Metadata={MARK[0]: MARK[1]},
        )
    version = response.get("VersionId")
    if not version:
        raise AwsError(f"s3://{outputs.bucket}/{outputs.key} has no version id: the bucket is not versioned")
    return str(version)


def hold_stage(deployed: Deployed, *, after_validate: bool, through_approval: bool = False) -> str | None:
    """The stage to hold executions before: the one after Validate (``after_validate``: nothing of the user's runs
    on the canary), else the first that deploys or, unless ``through_approval``, asks a person to approve."""
    stages = deployed.declaration.get("stages", [])
    names = [str(stage.get("name")) for stage in stages]
    start = names.index(VALIDATE) + 1 if VALIDATE in names else 1
    for stage in stages[start:]:
        categories = {str(action.get("actionTypeId", {}).get("category")) for action in stage.get("actions", [])}
        deploys = str(stage.get("name")).startswith("Deploy") or "Deploy" in categories
        if after_validate or deploys or ("Approval" in categories and not through_approval):
            return str(stage.get("name"))
    return None


@contextmanager
def holding(deployed: Deployed, stage: str | None) -> Iterator[str]:
    """Disable the transition into ``stage`` while inside, then enable it again (when this disabled it); yields a
    sentence saying what was held."""
    if stage is None:
        yield "no stage after it to hold"
        return
    client = deployed.session.client("codepipeline")
    resource = f"the pipeline {deployed.pipeline!r}"
    with aws_errors(action="codepipeline:GetPipelineState", resource=resource):
        state = client.get_pipeline_state(name=deployed.pipeline)
    transition = next(
        (
            item.get("inboundTransitionState") or {}
            for item in state.get("stageStates", [])
            if item.get("stageName") == stage
        ),
        {},
    )
    if transition.get("enabled") is False:
        yield f"the transition into {stage} was already disabled ({transition.get('disabledReason') or 'no reason'})"
        return
    where = {"pipelineName": deployed.pipeline, "stageName": stage, "transitionType": "Inbound"}
    with aws_errors(action="codepipeline:DisableStageTransition", resource=resource):
        client.disable_stage_transition(**where, reason=_HOLD_REASON)
    try:
        yield f"held before {stage} (its transition disabled, then enabled again)"
    finally:
        try:
            with aws_errors(action="codepipeline:EnableStageTransition", resource=resource):
                client.enable_stage_transition(**where)
        except AwsError as exc:
            raise AwsError(
                f"the transition into {stage} is still DISABLED, holding every execution before it ({exc}): enable it "
                f"with `aws codepipeline enable-stage-transition --pipeline-name {deployed.pipeline} --stage-name "
                f"{stage} --transition-type Inbound`"
            ) from None


def follow(
    deployed: Deployed,
    version_id: str,
    *,
    until: Callable[[list[ActionView]], bool],
    timeout: float,
    interval: float,
    say: Callable[[str, str | None], None] | None,
) -> WatchResult:
    """Watch the execution of ``version_id`` as ``s3vp watch`` does, only reading a failed validation's log."""
    watcher = _watch.Watcher(
        deployed.session,
        deployed.pipeline,
        version_id=version_id,
        timeout=timeout,
        interval=interval,
        clock=_watch.DEFAULT_CLOCK,
        say=say,
        stream_logs=False,
        until=until,
    )
    return watcher.run()


def stop(deployed: Deployed, execution_id: str, reason: str) -> str:
    """Stop an execution without waiting for its running actions (``abandon``); what became of it, as a clause."""
    try:
        with aws_errors(action="codepipeline:StopPipelineExecution", resource=f"the pipeline {deployed.pipeline!r}"):
            deployed.session.client("codepipeline").stop_pipeline_execution(
                pipelineName=deployed.pipeline, pipelineExecutionId=execution_id, abandon=True, reason=reason[:200]
            )
    except AwsError as exc:
        return (
            f"it could NOT be stopped ({exc}): stop it with `aws codepipeline stop-pipeline-execution --pipeline-name "
            f"{deployed.pipeline} --pipeline-execution-id {execution_id} --abandon`"
        )
    return "it was stopped (abandoned)"


def validate_succeeded(actions: list[ActionView]) -> bool:
    """The Validate action has succeeded: the canary was accepted."""
    return any(view.stage == VALIDATE and view.action == VALIDATE and view.status == "Succeeded" for view in actions)


def _not_followed(result: WatchResult, deployed: Deployed, what: str, *, timeout: float) -> Finding | None:
    """The finding when the following ended early: interrupted, no execution started, or the timeout passed before
    the execution ended (stuck in the queue, or still running); None when the execution was followed to its end."""
    named = {"canary": ("canary-started", "canary-refused")}.get(what, (what, what))
    version = f"{what} version {result.version_id}"
    execution = f"execution {result.execution_id} of {version}"
    if result.outcome == "interrupted":
        where = f"{execution}, which runs on" if result.execution_id else version
        return Finding(named[1] if result.execution_id else named[0], FAILED, f"interrupted (Ctrl-C) following {where}")
    if result.execution_id is None:
        return Finding(
            named[0],
            FAILED,
            f"no execution of {deployed.pipeline} started for {version} within {format_duration(timeout)}: the "
            f"trigger did not start it. Look at the trigger's dead-letter queue (`s3vp redrive --stack "
            f"{deployed.stack} --dry-run`) and the trigger rule's invocations in CloudWatch",
        )
    if result.outcome != "timed_out":
        return None
    if not any(view.stage == VALIDATE for view in result.actions):
        return Finding(
            named[1],
            FAILED,
            f"{execution} did not reach Validate within {format_duration(timeout)}: it is stuck in the queue behind "
            f"other executions (`s3vp history --stack {deployed.stack}`). Run the self-test again when the pipeline "
            "is idle, or with a longer --timeout",
        )
    running = ", ".join(view.name for view in result.actions if view.status == "InProgress") or "between actions"
    return Finding(
        named[1],
        FAILED,
        f"{execution} was still running ({running}) after {format_duration(timeout)}: run the self-test again with a "
        "longer --timeout",
    )


def judge_canary(result: WatchResult, deployed: Deployed, canary: Canary, *, timeout: float) -> list[Finding]:
    """What following the canary showed: it started for exactly its version, and Validate refused it by name."""
    missing = _not_followed(result, deployed, "canary", timeout=timeout)
    if missing is not None and result.execution_id is None:
        return [missing]
    started = Finding(
        "canary-started", PASSED, f"execution {result.execution_id} started for version {result.version_id}"
    )
    if missing is not None:
        return [started, missing]
    execution = f"execution {result.execution_id}"
    if result.outcome in {"reached", "succeeded"}:
        stopped = "it ran to its end (the pipeline has no later stage)"
        if result.outcome == "reached":
            stopped = stop(deployed, str(result.execution_id), "s3vp selftest - the canary was accepted")
            stopped += " before any later stage"
        return [
            started,
            Finding(
                "canary-refused",
                FAILED,
                f"the pipeline ACCEPTED the canary (holding {canary.forbidden!r}) in {execution}: its Validate stage "
                f"did not refuse a forbidden file; {stopped}. Fix: redeploy the stack and check the Validate project's "
                "buildspec",
            ),
        ]
    validate = [view for view in result.failed_actions if view.stage == VALIDATE and view.action == VALIDATE]
    named = [line for line in result.findings if f"[{CANARY_RULE}]" in line and canary.forbidden in line]
    if validate and named:
        message = f"Validate refused the canary in {execution} with rule {CANARY_RULE}: {named[0].strip()}"
        return [started, Finding("canary-refused", PASSED, message)]
    if validate and not result.findings:
        why = validate[0].summary or validate[0].error or "no summary"
        message = (
            f"Validate failed in {execution} ({why}), but its log could not be read to confirm the rule "
            f"{CANARY_RULE} (reading it needs codebuild:BatchGetBuilds and logs:GetLogEvents)"
        )
    elif validate:
        message = f"Validate refused the canary in {execution}, but not for {canary.forbidden!r}: " + "; ".join(
            line.strip() for line in result.findings
        )
    elif result.failed_actions:
        action = result.failed_actions[0]
        message = f"{execution} failed at {action.name} before the check ran: {action.summary or action.error}"
    else:
        message = f"{execution} ended {result.status} before Validate refused the canary"
    return [started, Finding("canary-refused", FAILED, message)]


def judge_package(
    result: WatchResult, deployed: Deployed, *, held: str | None, through_approval: bool, timeout: float
) -> Finding:
    """What following the good package showed: validated (and tested) up to the held stage, or to its end."""
    missing = _not_followed(result, deployed, "package", timeout=timeout)
    if missing is not None:
        return missing
    execution = f"execution {result.execution_id}"
    if result.outcome == "reached":
        waiting = [view for view in result.actions if view.status == "InProgress" and view.stage.startswith("Approve")]
        if through_approval and waiting:
            return Finding(
                "package",
                PASSED,
                f"{execution} validated the package and waits for approval at {waiting[0].name}: approve it to deploy, "
                "or reject it",
            )
        stopped = stop(deployed, str(result.execution_id), f"s3vp selftest - stopped before stage {held}")
        status = PASSED if stopped.startswith("it was stopped") else FAILED
        return Finding("package", status, f"{execution} validated the package, held before {held}; {stopped}")
    if result.outcome == "succeeded":
        return Finding("package", PASSED, f"{execution} validated the package and succeeded")
    failed = result.failed_actions
    where = f" at {failed[0].name}: {failed[0].summary or failed[0].error}" if failed else ""
    findings = f" ({'; '.join(line.strip() for line in result.findings)})" if result.findings else ""
    return Finding("package", FAILED, f"{execution} ended {result.status or result.outcome}{where}{findings}")


def lifecycle_note(deployed: Deployed) -> str:
    """Which lifecycle rule deletes a replaced upload of the source bucket, and after how long."""
    from botocore.exceptions import ClientError

    try:
        rules = deployed.session.client("s3").get_bucket_lifecycle_configuration(Bucket=deployed.outputs.bucket)[
            "Rules"
        ]
    except ClientError:
        rules = []
    for rule in rules:
        days = (rule.get("Expiration") or {}).get("Days")
        filtered = rule.get("Filter") or {}
        tags = [filtered["Tag"]] if "Tag" in filtered else (filtered.get("And") or {}).get("Tags", [])
        if rule.get("Status") == "Enabled" and days and {"Key": VERDICT_TAG, "Value": "rejected"} in tags:
            name = rule.get("ID") or "(unnamed)"
            return (
                f"Validate tags a refused version {VERDICT_TAG}=rejected, and the bucket's lifecycle rule {name} "
                f"deletes such a version within {2 * days} days"
            )
    for rule in rules:
        days = (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays")
        if rule.get("Status") == "Enabled" and days:
            name = rule.get("ID") or "(unnamed)"
            return f"the bucket's lifecycle rule {name} deletes it {days} days after the next upload replaces it"
    return "no lifecycle rule of the bucket deletes replaced versions: an administrator deletes it"


def clean_up(deployed: Deployed, version: str) -> Finding:
    """Delete the canary version where the bucket policy allows; else leave it marked, saying what removes it."""
    from botocore.exceptions import ClientError

    outputs = deployed.outputs
    where = f"s3://{outputs.bucket}/{outputs.key} version {version}"
    try:
        deployed.session.client("s3").delete_object(Bucket=outputs.bucket, Key=outputs.key, VersionId=version)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"AccessDenied", "403"}:
            return Finding("canary-cleanup", FAILED, f"the canary {where} could not be deleted: {exc}")
        return Finding(
            "canary-cleanup",
            SKIPPED,
            f"the canary {where} is left in place, marked by its metadata {MARK[0]}={MARK[1]}: the bucket policy lets "
            f"only administrators delete object versions (s3:DeleteObjectVersion). It stays the current version of "
            f"{outputs.key} until the next upload; {lifecycle_note(deployed)}",
        )
    return Finding("canary-cleanup", PASSED, f"the canary {where} was deleted")
