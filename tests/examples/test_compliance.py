"""The compliance gate: every example app passes cdk-nag (five packs), checkov and cfn-lint, and every acknowledgement
is specific, explained, and made where it cannot hide a user's own findings.

Each example is the session's synthesis (``conftest.synthesized_example_stacks``: ``examples/<name>`` →
``build(app)``, which returns one stack or several). cdk-nag runs on that app's whole construct tree, every stack in
it, after ``app.synth()``; checkov and cfn-lint run on the template file of one stack of each kind (class) the
synthesis wrote (``ExampleAssembly.checked_stacks``). A failure lists each finding as
``<rule> at <where>: <what>``, where names the resource's construct path (which starts with its stack), so it can be
acted on directly.

How acknowledgements are read: ``Validations.of(c).acknowledge(Acknowledgment(id=..., reason=...))`` adds one metadata
entry to ``c.node.metadata`` per acknowledgement, of type ``Validations.ACKNOWLEDGED_RULES_METADATA_KEY``
(``"aws:cdk:acknowledged-rules"``) with data ``{"Annotation::<id>": "<reason>"}``. cdk-nag strips the
``Annotation::`` prefix and suppresses a finding on a resource when the exact id is recorded on the resource or on
any construct above it. ``test_acknowledgement_metadata_shape`` pins that shape.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from cdk_nag import (
    NagPack,
    NIST80053R5Checks,
)
from constructs import IConstruct

from s3_validated_pipeline import ValidatedS3Pipeline, ValidationOptions
from tests.conftest import EXAMPLE_NAMES, PACKS, synthesized_example_stacks

ACK_KEY = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
# aws-cdk-lib < 2.262.1 wrote "annotation::", later versions "Annotation::"; cdk-nag strips either.
ANNOTATION_PREFIX = re.compile(r"^annotation::", re.IGNORECASE)

# A cdk-nag rule id, optionally narrowed to one finding: "AwsSolutions-S1", "AwsSolutions-IAM5[Action::s3:List*]".
NAG_ID = re.compile(
    r"^(?P<rule>(?:AwsSolutions|NIST\.800\.53\.R[45]|HIPAA\.Security|PCI\.DSS\.321|Serverless)-[A-Za-z0-9]+)"
    r"(?:\[(?P<finding>[^\]].*)\])?$"
)
# Rules that report one finding per wildcard/policy/log type (cdk-nag's rules returning a findings list). cdk-nag
# matches acknowledgements exactly, so the bare rule id suppresses none of their findings, and acknowledging every
# finding of such a rule at once would be too broad anyway: name the finding. (The bare id does match one thing: the
# error cdk-nag reports when the rule throws on a resource, e.g. AwsSolutions-IAM5 on a NotAction statement, "Rule
# threw an error during validation". Acknowledging that accepts that the rule checked nothing there.)
RULES_WITH_FINDINGS = {
    "AwsSolutions-IAM4",
    "AwsSolutions-IAM5",
    "AwsSolutions-RDS16",
    "AwsSolutions-DOC5",
    "AwsSolutions-OS9",
    "NIST.800.53.R4-RDSLoggingEnabled",
    "NIST.800.53.R5-RDSLoggingEnabled",
    "HIPAA.Security-RDSLoggingEnabled",
    "PCI.DSS.321-RDSLoggingEnabled",
}
# An annotation warning id, as CDK and this library emit them: "s3-validated-pipeline:existingSourceBucket".
WARNING_ID = re.compile(r"^@?[A-Za-z0-9][\w./-]*:[A-Za-z0-9][\w./-]*$")
# A rule of aws-cdk-lib's own template validation (not cdk-nag), acknowledged as its report says: "CloudFormation-
# Validate::E3050".
TEMPLATE_CHECK_ID = re.compile(r"^CloudFormation-Validate::[EWI]\d{4}$")

MIN_REASON = 20
# Reasons that say nothing on their own; a reason must keep MIN_REASON characters once these are taken out.
GENERIC_PHRASES = (
    "n/a",
    "na",
    "none",
    "not needed",
    "not required",
    "not applicable",
    "not relevant",
    "suppressed",
    "suppress",
    "false positive",
    "acknowledged",
    "accepted risk",
    "accepted",
    "ignore",
    "ignored",
    "by design",
    "intended",
    "intentional",
    "expected",
    "known issue",
    "wontfix",
    "won't fix",
    "ok",
    "okay",
    "fine",
    "todo",
    "tbd",
    "fixme",
    "temporary",
    "see above",
    "same as above",
    "this is",
    "it is",
    "a",
    "an",
    "the",
    "and",
    "is",
    "it",
    "this",
    "here",
)
GENERIC = re.compile(
    r"(?<![\w/'])(?:" + "|".join(re.escape(p) for p in sorted(GENERIC_PHRASES, key=len, reverse=True)) + r")(?![\w/'])"
)

CHECKOV_ID = re.compile(r"^CKV2?_AWS_\d+$")
CHECKOV_NO_COMMENT = "No comment provided"  # what checkov reports for a skip without a "comment"

# cfn-lint warnings that CDK itself puts in templates. Each is allowed only for the (resource type, dependency type)
# pairs named, and only on resources of the library's constructs (see LIBRARY_MODULE):
#   W3005 "DependsOn already enforced by a Ref/GetAtt": aws-lambda's Function and aws-codepipeline's Pipeline call
#   `resource.node.add_dependency(role)`, which makes the resource DependsOn every CfnResource under the role: its
#   DefaultPolicy (needed: nothing references the policy, so without it the function or pipeline could be created,
#   and run, before its permissions exist) and the role itself, which `Fn::GetAtt role.Arn` already implies. The
#   redundant half is harmless and cannot be removed without overriding CDK internals.
# Informational findings (I*) are not run by lint_file's default configuration and are ignored if present: they are
# style hints (e.g. I1022, prefer Fn::Sub over Fn::Join), which is how CDK renders ARNs.
ALLOWED_CFN_LINT_WARNINGS: dict[str, set[tuple[str, str]]] = {
    "W3005": {("AWS::CodePipeline::Pipeline", "AWS::IAM::Role"), ("AWS::Lambda::Function", "AWS::IAM::Role")},
}

# The template sections whose entries are constructs (CfnElements): a cfn-lint finding in one names its construct path.
TEMPLATE_SECTIONS = ("Resources", "Outputs", "Parameters", "Conditions", "Mappings", "Rules")

# checkov must run offline: no mapping download, no external checks, no update check against PyPI.
CHECKOV_ENV = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE"}

# The library's constructs are the constructs of classes its package defines (ValidatedS3Pipeline, PipelineFoundation,
# and its parts when used on their own); acknowledgements and skips are allowed freely only inside them.
LIBRARY_MODULE = ValidatedS3Pipeline.__module__.partition(".")[0]


# ---------------------------------------------------------------------------------------------------------------
# Synthesis, once per example


def is_library_construct(construct: IConstruct) -> bool:
    return type(construct).__module__.partition(".")[0] == LIBRARY_MODULE


@dataclass(frozen=True)
class StackTemplate:
    """One stack of an example, as the synthesis wrote its template file."""

    name: str
    file: Path
    template: dict[str, Any] = field(repr=False)
    paths: dict[str, str] = field(repr=False)  # logical id (of a resource, output, ...) -> construct path
    kind: str = ""  # the class of the stack's construct

    def where(self, logical_id: str) -> str:
        return f"{logical_id} ({self.paths.get(logical_id, f'no construct, in {self.file.name}')})"


@dataclass(frozen=True)
class ExampleAssembly:
    """One example app, as the session synthesized it."""

    name: str
    app: cdk.App = field(repr=False)
    stacks: tuple[StackTemplate, ...]  # every stack the app synthesized, by name
    library_roots: tuple[str, ...]  # construct paths of the outermost library constructs

    def in_library(self, path: str) -> bool:
        """Whether ``path`` is strictly inside one of the library's constructs in the example."""
        return any(path.startswith(root + "/") for root in self.library_roots)

    @property
    def checked_stacks(self) -> tuple[StackTemplate, ...]:
        """The stacks checkov and cfn-lint read: the first of each kind. Stacks of one class differ only in the
        names their code was given (the fleet's three TeamsStacks), and each tool takes seconds per stack; cdk-nag
        reads every stack."""
        kinds: dict[str, StackTemplate] = {}
        for stack in self.stacks:
            kinds.setdefault(stack.kind, stack)
        return tuple(kinds.values())

    def stack_of(self, template_file: str) -> StackTemplate:
        [stack] = [s for s in self.stacks if s.file == Path(template_file).resolve()]
        return stack


@pytest.fixture(scope="module", params=EXAMPLE_NAMES)
def example(request: pytest.FixtureRequest) -> ExampleAssembly:
    name: str = request.param
    built = [synthesized.stack for synthesized in synthesized_example_stacks(name)]
    app = built[0].node.root
    assert isinstance(app, cdk.App)
    assembly = app.synth()  # the session's assembly of the example (the snapshot tests read it too), not a second one
    constructs = app.node.find_all()
    nested = [c.node.path for c in constructs if cdk.NestedStack.is_nested_stack(c)]
    assert not nested, f"examples/{name} has nested stacks {nested}; extend the compliance gate to their templates"
    by_artifact = {c.artifact_id: c for c in constructs if cdk.Stack.is_stack(c)}
    stacks = []
    for artifact in sorted(assembly.stacks_recursively, key=lambda a: a.stack_name):
        stack = by_artifact[artifact.id]
        template_file = Path(artifact.template_full_path).resolve()
        paths = {
            stack.resolve(c.logical_id): c.node.path for c in stack.node.find_all() if cdk.CfnElement.is_cfn_element(c)
        }
        template = json.loads(template_file.read_text())
        stacks.append(StackTemplate(artifact.stack_name, template_file, template, paths, type(stack).__name__))
    assert sorted(s.stack_name for s in built) == [s.name for s in stacks], (
        f"examples/{name}: build() returns {[s.stack_name for s in built]}, the app has {[s.name for s in stacks]}"
    )
    roots = tuple(
        c.node.path
        for c in constructs
        if is_library_construct(c) and not any(is_library_construct(a) for a in c.node.scopes[:-1])
    )
    return ExampleAssembly(name, app, tuple(stacks), roots)


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def nag_findings(app: cdk.App, pack: type[NagPack], severity: str | None = "error") -> list[tuple[str, str, str]]:
    """Run ``pack`` over ``app`` (already synthesized) and return (rule, construct path, description), sorted."""
    report = pack(app).validate_scope(app)
    return sorted(
        (v.rule_name, r.construct_path, v.description)
        for v in report.violations
        if severity is None or v.severity == severity
        for r in v.violating_resources
    )


@dataclass(frozen=True)
class Ack:
    holder: IConstruct
    path: str
    id: str  # as cdk-nag matches it: without the "Annotation::" prefix
    reason: Any


def acknowledgements(root: IConstruct) -> Iterator[Ack]:
    """Every acknowledgement recorded by ``Validations.of(...).acknowledge`` on ``root`` and below."""
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == ACK_KEY:
                for qualified_id, reason in (entry.data or {}).items():
                    yield Ack(construct, construct.node.path, ANNOTATION_PREFIX.sub("", qualified_id), reason)


def reason_problem(reason: Any) -> str | None:
    """Why ``reason`` does not explain an acknowledgement or skip, or None if it does."""
    if not isinstance(reason, str) or not reason.strip() or reason.strip() == CHECKOV_NO_COMMENT:
        return "has no reason"
    text = " ".join(reason.split())
    if len(text) < MIN_REASON:
        return f"reason {text!r} is {len(text)} characters; say in at least {MIN_REASON} why the finding is safe here"
    substance = " ".join(GENERIC.sub(" ", text.lower()).split())
    if len(substance) < MIN_REASON:
        return f"reason {text!r} is generic; say what makes the finding safe for this resource"
    return None


def id_problem(ack_id: str) -> str | None:
    """Why ``ack_id`` is not a specific finding or rule id, or None if it is."""
    nag = NAG_ID.match(ack_id)
    if nag:
        if nag["finding"] is None and nag["rule"] in RULES_WITH_FINDINGS:
            return (
                f"acknowledges every finding of {ack_id} (cdk-nag matches none of them this way, only an error the "
                "rule throws); acknowledge each finding id as the report prints it, e.g. "
                "AwsSolutions-IAM5[Action::s3:GetObject*]"
            )
        return None
    if TEMPLATE_CHECK_ID.match(ack_id):
        return None
    if "::" in ack_id:
        return "has a namespace cdk-nag never matches; use the plain rule id, e.g. AwsSolutions-S1"
    if WARNING_ID.match(ack_id):
        return None  # an annotation warning such as s3-validated-pipeline:existingSourceBucket
    return "is neither a cdk-nag rule/finding id (Pack-Rule[Finding]) nor an annotation warning id (prefix:name)"


def contains_library(construct: IConstruct) -> bool:
    return any(is_library_construct(c) for c in construct.node.find_all())


def is_stage_or_stack(construct: IConstruct) -> bool:
    return cdk.Stage.is_stage(construct) or cdk.Stack.is_stack(construct)


# ---------------------------------------------------------------------------------------------------------------
# cdk-nag


@pytest.mark.parametrize("pack", PACKS.values(), ids=PACKS.keys())
def test_cdk_nag_reports_no_unacknowledged_errors(example: ExampleAssembly, pack: type[NagPack]) -> None:
    errors = nag_findings(example.app, pack)
    assert not errors, (
        f"{pack.__name__} on examples/{example.name}: {len(errors)} unacknowledged error(s). Fix the resource, or "
        "acknowledge the finding id on the construct that causes it, with a reason:\n"
        + "\n".join(f"  {rule} at {path}: {description}" for rule, path, description in errors)
    )


@jsii.implements(cdk.IAspect)
class _VersionBuckets:
    """An aspect that versions every bucket: it takes effect only when the app is synthesized."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, s3.CfnBucket):
            node.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")


def test_acknowledged_findings_are_not_reported() -> None:
    """How cdk-nag 3 honours acknowledgements, and why the gate validates after ``app.synth()``."""
    app = cdk.App()
    stack = cdk.Stack(app, "Throwaway")
    bucket = s3.Bucket(stack, "Unencrypted")  # no access logs (AwsSolutions-S1), no TLS-only policy (-S10)
    cdk.Validations.of(bucket).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-S1", reason="A throwaway bucket: nothing to log.")
    )
    wildcard = iam.PolicyStatement(actions=["s3:*"], resources=["*"])
    narrowed = iam.Role(stack, "Narrowed", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    narrowed.add_to_policy(wildcard)
    cdk.Validations.of(narrowed).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-IAM5[Action::s3:*]", reason="One finding of the rule, not the rule.")
    )
    bare = iam.Role(stack, "Bare", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    bare.add_to_policy(wildcard)
    cdk.Validations.of(bare).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-IAM5", reason="The bare rule id of a rule that reports findings.")
    )
    cdk.Aspects.of(stack).add(_VersionBuckets())

    before_synth = {(rule, path) for rule, path, _ in nag_findings(app, NIST80053R5Checks)}
    app.synth()
    found = {(rule, path) for pack in PACKS.values() for rule, path, _ in nag_findings(app, pack, severity=None)}

    # An acknowledged rule id is not reported on the construct it was made on, nor on anything below it ...
    assert not {f for f in found if f[0] == "AwsSolutions-S1"}
    # ... and a rule that was not acknowledged still is.
    assert ("AwsSolutions-S10", "Throwaway/Unencrypted/Resource") in found
    # A finding id suppresses that finding only; the rule's other findings stay.
    assert ("AwsSolutions-IAM5[Action::s3:*]", "Throwaway/Narrowed/DefaultPolicy/Resource") not in found
    assert ("AwsSolutions-IAM5[Resource::*]", "Throwaway/Narrowed/DefaultPolicy/Resource") in found
    # The bare id of a rule that reports findings suppresses none of them (so id_problem rejects it).
    assert ("AwsSolutions-IAM5[Action::s3:*]", "Throwaway/Bare/DefaultPolicy/Resource") in found
    assert ("AwsSolutions-IAM5[Resource::*]", "Throwaway/Bare/DefaultPolicy/Resource") in found
    # Aspects change resources during synthesis, so only a report made after app.synth() describes the template.
    unversioned = ("NIST.800.53.R5-S3BucketVersioningEnabled", "Throwaway/Unencrypted/Resource")
    assert unversioned in before_synth
    assert unversioned not in found


def test_acknowledgement_metadata_shape() -> None:
    """Pin the metadata that ``acknowledgements()`` reads, so a change in aws-cdk-lib fails here, not silently."""
    app = cdk.App()
    stack = cdk.Stack(app, "Throwaway")
    bucket = s3.Bucket(stack, "Bucket")
    cdk.Validations.of(bucket).acknowledge(
        cdk.Acknowledgment(id="AwsSolutions-S1", reason="first reason"),
        cdk.Acknowledgment(id="AwsSolutions-IAM5[Action::s3:*]", reason="second reason"),
    )
    assert ACK_KEY == "aws:cdk:acknowledged-rules"
    assert [m.data for m in bucket.node.metadata if m.type == ACK_KEY] == [
        {"Annotation::AwsSolutions-S1": "first reason"},
        {"Annotation::AwsSolutions-IAM5[Action::s3:*]": "second reason"},
    ]
    assert [(a.path, a.id, a.reason) for a in acknowledgements(app)] == [
        ("Throwaway/Bucket", "AwsSolutions-S1", "first reason"),
        ("Throwaway/Bucket", "AwsSolutions-IAM5[Action::s3:*]", "second reason"),
    ]


def test_acknowledgement_rules_reject_what_they_should() -> None:
    """The quality rules themselves, on ids and reasons that must pass or fail."""
    for good in (
        "AwsSolutions-S1",
        "NIST.800.53.R5-IAMNoInlinePolicy",
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsEB21E7E8.Arn>/*]",
        "s3-validated-pipeline:existingSourceBucket",
    ):
        assert id_problem(good) is None, good
    for bad in (
        "AwsSolutions-IAM5",
        "AwsSolutions-IAM4",
        "AwsSolutions::S1",
        "S1",
        "*",
        "Checkov::CKV_AWS_111",
        "Annotation::AwsSolutions-S1",
    ):
        assert id_problem(bad) is not None, bad
    assert reason_problem("S3 server access logging delivers only to buckets encrypted with SSE-S3.") is None
    for bad_reason in (
        "",
        "N/A",
        "not needed",
        "suppressed",
        "false positive",
        "This is a false positive, suppressed.",
        "Not applicable - not needed here",
        CHECKOV_NO_COMMENT,
        None,
    ):
        assert reason_problem(bad_reason) is not None, bad_reason


def test_acknowledgements_are_specific_explained_and_on_library_constructs(example: ExampleAssembly) -> None:
    problems: list[str] = []
    own: list[str] = []
    for ack in acknowledgements(example.app):
        where = f"{ack.id!r} at {ack.path}"
        if (problem := id_problem(ack.id)) is not None:
            problems.append(f"{where}: id {problem}")
        if (problem := reason_problem(ack.reason)) is not None:
            problems.append(f"{where}: {problem}")
        if example.in_library(ack.path):
            continue
        if is_stage_or_stack(ack.holder):
            problems.append(f"{where}: made on a Stack/Stage/App, it would hide findings on every resource in it")
        elif contains_library(ack.holder):
            problems.append(
                f"{where}: made on a construct holding a whole library construct (a ValidatedS3Pipeline, a "
                "PipelineFoundation); make it on the construct inside it that causes the finding"
            )
        else:
            own.append(where)  # the example acknowledges a finding on its own resource: allowed, reported
    if own:
        warnings.warn(
            f"examples/{example.name} acknowledges findings on its own resources: {', '.join(own)}",
            stacklevel=1,
        )
    assert not problems, f"examples/{example.name}: {len(problems)} acknowledgement problem(s):\n" + "\n".join(
        f"  {p}" for p in problems
    )


def test_library_acknowledgements_do_not_hide_user_findings() -> None:
    """A user's own resources beside the pipeline keep every finding they have without it."""

    def add_user_resources(stack: cdk.Stack) -> None:
        s3.Bucket(stack, "UserBucket")
        role = iam.Role(stack, "UserRole", assumed_by=iam.AccountRootPrincipal())
        # Same finding ids the library acknowledges on its own roles.
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject*", "kms:GenerateDataKey*"], resources=["*"]))
        sqs.Queue(stack, "UserQueue")

    alone = cdk.App()
    add_user_resources(cdk.Stack(alone, "UserStack"))
    beside = cdk.App()
    stack = cdk.Stack(beside, "UserStack")
    ValidatedS3Pipeline(stack, "Pipeline", validation=ValidationOptions(commands=["true"]))
    add_user_resources(stack)
    alone.synth()
    beside.synth()

    def users(app: cdk.App) -> set[tuple[str, str]]:
        return {
            (rule, path)
            for pack in PACKS.values()
            for rule, path, _ in nag_findings(app, pack, severity=None)
            if path.startswith(("UserStack/UserBucket/", "UserStack/UserRole/", "UserStack/UserQueue/"))
        }

    expected, reported = users(alone), users(beside)
    for finding in (
        ("AwsSolutions-S1", "UserStack/UserBucket/Resource"),
        ("AwsSolutions-S10", "UserStack/UserBucket/Resource"),
        ("NIST.800.53.R5-S3BucketLoggingEnabled", "UserStack/UserBucket/Resource"),
        ("NIST.800.53.R5-S3BucketSSLRequestsOnly", "UserStack/UserBucket/Resource"),
        ("NIST.800.53.R5-S3BucketReplicationEnabled", "UserStack/UserBucket/Resource"),
        ("AwsSolutions-IAM5[Action::s3:GetObject*]", "UserStack/UserRole/DefaultPolicy/Resource"),
        ("AwsSolutions-IAM5[Action::kms:GenerateDataKey*]", "UserStack/UserRole/DefaultPolicy/Resource"),
        ("NIST.800.53.R5-IAMNoInlinePolicy", "UserStack/UserRole/DefaultPolicy/Resource"),
        ("AwsSolutions-SQS3", "UserStack/UserQueue/Resource"),
    ):
        assert finding in expected, f"the baseline lacks {finding}; choose user resources that have it"
    hidden = sorted(expected - reported)
    assert not hidden, "the pipeline's acknowledgements hide the user's own findings:\n" + "\n".join(
        f"  {rule} at {path}" for rule, path in hidden
    )


# ---------------------------------------------------------------------------------------------------------------
# checkov


@dataclass(frozen=True)
class CheckovCheck:
    """One check checkov reported on one resource of one template."""

    stack: StackTemplate
    id: str
    logical_id: str
    name: str
    comment: Any  # a skipped check's comment, as checkov read it

    @property
    def where(self) -> str:
        return self.stack.where(self.logical_id)


@dataclass(frozen=True)
class CheckovResults:
    failed: list[CheckovCheck] = field(repr=False)
    skipped: list[CheckovCheck] = field(repr=False)


@pytest.fixture(scope="module")
def checkov_results(example: ExampleAssembly) -> CheckovResults:
    """checkov's failed and skipped checks for every template of the example, from one run over all of them."""
    # sys.executable is the interpreter running the tests, so this is the checkov of the same environment,
    # wherever its scripts are installed. No --quiet: it drops the skipped checks, which are asserted on below.
    command = [sys.executable, "-m", "checkov.main"]
    for stack in example.checked_stacks:
        command += ["--file", str(stack.file)]
    command += ["--framework", "cloudformation", "--skip-download", "--compact", "--output", "json"]
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, env={**os.environ, **CHECKOV_ENV}, timeout=1200, check=False
    )
    # checkov exits 1 when a check fails; anything else means it did not run properly.
    assert done.returncode in (0, 1), f"checkov exited {done.returncode}:\n{done.stderr[-4000:]}"
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    [cloudformation] = [r for r in reports if r.get("check_type") == "cloudformation"]
    assert cloudformation["summary"]["parsing_errors"] == 0, f"checkov could not parse a template: {cloudformation}"
    results = cloudformation["results"]

    def checks(kind: str) -> list[CheckovCheck]:
        return [
            CheckovCheck(
                example.stack_of(c["file_abs_path"]),
                c["check_id"],
                logical_id(c["resource"]),
                c["check_name"],
                c["check_result"].get("suppress_comment"),
            )
            for c in results[kind]
        ]

    passed, failed, skipped = checks("passed_checks"), checks("failed_checks"), checks("skipped_checks")
    unscanned = {s.file.name for s in example.checked_stacks} - {c.stack.file.name for c in passed + failed + skipped}
    assert not unscanned, f"checkov reported no check on {sorted(unscanned)}: {cloudformation['summary']}"
    return CheckovResults(failed=failed, skipped=skipped)


def logical_id(checkov_resource: str) -> str:
    """``AWS::S3::Bucket.PipelineArtifactsEB21E7E8`` -> ``PipelineArtifactsEB21E7E8``."""
    return checkov_resource.rpartition(".")[2]


def test_checkov_passes(example: ExampleAssembly, checkov_results: CheckovResults) -> None:
    failed = sorted(f"{c.id} {c.where}: {c.name}" for c in checkov_results.failed)
    assert not failed, (
        f"checkov on examples/{example.name}: {len(failed)} failed check(s). Fix the resource, or skip the check "
        'on it with Metadata {"checkov": {"skip": [{"id": ..., "comment": <why>}]}}:\n'
        + "\n".join(f"  {f}" for f in failed)
    )


def test_checkov_skips_are_explained(example: ExampleAssembly, checkov_results: CheckovResults) -> None:
    problems: list[str] = []
    own: list[str] = []
    reported = {(c.stack.name, c.id, c.logical_id) for c in checkov_results.skipped}
    for c in checkov_results.skipped:
        if (problem := reason_problem(c.comment)) is not None:
            problems.append(f"{c.id} skipped on {c.where}: {problem}")
    for stack in example.checked_stacks:
        for resource_id, resource in sorted(stack.template.get("Resources", {}).items()):
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                check = skip.get("id")
                where = f"{check} skipped on {stack.where(resource_id)}"
                if not isinstance(check, str) or not CHECKOV_ID.match(check):
                    problems.append(f"{where}: not a checkov CloudFormation check id (CKV_AWS_<n> or CKV2_AWS_<n>)")
                elif (stack.name, check, resource_id) not in reported:
                    problems.append(f"{where}: checkov runs no such check on this resource; stale, or a typo")
                if (problem := reason_problem(skip.get("comment"))) is not None:
                    problems.append(f"{where}: {problem}")
                if not example.in_library(stack.paths.get(resource_id, "")):
                    own.append(where)
    if own:
        warnings.warn(
            f"examples/{example.name} skips checkov checks on its own resources: {', '.join(own)}", stacklevel=1
        )
    problems = sorted(set(problems))  # a bad comment is seen both in the template and in checkov's report
    assert not problems, f"checkov skips in examples/{example.name}: {len(problems)} problem(s):\n" + "\n".join(
        f"  {p}" for p in problems
    )


# ---------------------------------------------------------------------------------------------------------------
# cfn-lint


@pytest.fixture(scope="module")
def cfn_lint_matches(example: ExampleAssembly) -> list[tuple[StackTemplate, Any]]:
    """cfn-lint's matches on every template of the example, each with the stack it is in."""
    from cfnlint.api import lint_file  # imported here: loading cfn-lint's schemas takes seconds

    return [(stack, match) for stack in example.checked_stacks for match in lint_file(stack.file)]


def allowed_warning(example: ExampleAssembly, stack: StackTemplate, rule_id: str, path: list[Any]) -> bool:
    """Whether a cfn-lint warning is one ALLOWED_CFN_LINT_WARNINGS names, on a resource of the library; or W6001 on
    an output of a pipeline on a foundation in another stack."""
    if rule_id == "W6001" and len(path) >= 2 and path[0] == "Outputs":
        # The pipeline's outputs (SourceBucketName, SourceKeyArn, UploadCommand) name the foundation's bucket and key,
        # which its stack imports: each stack then says where its pipelines' uploads go, which `s3vp push --stack`
        # reads. cfn-lint's W6001 only notes that an output restates an import.
        return example.in_library(stack.paths.get(path[1], ""))
    allowed = ALLOWED_CFN_LINT_WARNINGS.get(rule_id)
    if not allowed or len(path) != 4 or path[0] != "Resources" or path[2] != "DependsOn":
        return False
    resources = stack.template["Resources"]
    resource = resources[path[1]]
    depends_on = resource["DependsOn"]
    dependency = depends_on[path[3]] if isinstance(depends_on, list) else depends_on
    pair = (resource["Type"], resources[dependency]["Type"])
    return pair in allowed and example.in_library(stack.paths.get(path[1], ""))


def test_cfn_lint_reports_no_errors_or_warnings(
    example: ExampleAssembly, cfn_lint_matches: list[tuple[StackTemplate, Any]]
) -> None:
    found = []
    for stack, match in cfn_lint_matches:
        rule_id: str = match.rule.id
        if rule_id.startswith("I") or allowed_warning(example, stack, rule_id, list(match.path)):
            continue
        element = stack.where(match.path[1]) if len(match.path) > 1 and match.path[0] in TEMPLATE_SECTIONS else ""
        where = f"{stack.file.name}:{'/'.join(map(str, match.path))}"
        found.append(f"{rule_id} at {where} {element}: {match.message}")
    assert not found, f"cfn-lint on examples/{example.name}: {len(found)} error(s)/warning(s):\n" + "\n".join(
        f"  {f}" for f in sorted(found)
    )
