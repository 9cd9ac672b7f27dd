"""The compliance gate's machinery: cdk-nag's five packs, checkov and cfn-lint over a synthesized app, and the rules
every acknowledgement and skip must follow. tests/examples/test_compliance.py runs it on every example,
tests/test_configuration_matrix.py on every configuration of the matrix.

A failure lists each finding as ``<rule> at <where>: <what>``, where names the resource's construct path (which
starts with its stack), so it can be acted on directly.

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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import NagPack
from constructs import IConstruct

from s3_validated_pipeline import ValidatedS3Pipeline

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
# An app, as its synthesis wrote it


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
class Assembly:
    """One app, as the session synthesized it: an example, or a configuration of the matrix."""

    name: str
    app: cdk.App = field(repr=False)
    stacks: tuple[StackTemplate, ...]  # every stack the app synthesized, by name
    library_roots: tuple[str, ...]  # construct paths of the outermost library constructs

    def in_library(self, path: str) -> bool:
        """Whether ``path`` is strictly inside one of the library's constructs in the app."""
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


def assemble(name: str, built: Sequence[cdk.Stack], *, kind: Callable[[cdk.Stack], str] | None = None) -> Assembly:
    """The ``Assembly`` of the app holding ``built`` (every stack it has), synthesized once: ``app.synth()`` returns
    the assembly the app already made, if any. ``kind`` says which stacks are alike, so that checkov and cfn-lint read
    one of them. Default: the stack's class."""
    app = built[0].node.root
    assert isinstance(app, cdk.App)
    assembly = app.synth()
    constructs = app.node.find_all()
    nested = [c.node.path for c in constructs if cdk.NestedStack.is_nested_stack(c)]
    assert not nested, f"{name} has nested stacks {nested}; extend the compliance gate to their templates"
    by_artifact = {c.artifact_id: c for c in constructs if cdk.Stack.is_stack(c)}
    stacks = []
    for artifact in sorted(assembly.stacks_recursively, key=lambda a: a.stack_name):
        stack = by_artifact[artifact.id]
        template_file = Path(artifact.template_full_path).resolve()
        paths = {
            stack.resolve(c.logical_id): c.node.path for c in stack.node.find_all() if cdk.CfnElement.is_cfn_element(c)
        }
        template = json.loads(template_file.read_text())
        stack_kind = kind(stack) if kind is not None else type(stack).__name__
        stacks.append(StackTemplate(artifact.stack_name, template_file, template, paths, stack_kind))
    assert sorted(s.stack_name for s in built) == [s.name for s in stacks], (
        f"{name}: {[s.stack_name for s in built]} were given, the app has {[s.name for s in stacks]}"
    )
    roots = tuple(
        c.node.path
        for c in constructs
        if is_library_construct(c) and not any(is_library_construct(a) for a in c.node.scopes[:-1])
    )
    return Assembly(name, app, tuple(stacks), roots)


# ---------------------------------------------------------------------------------------------------------------
# cdk-nag and acknowledgements


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


def nag_errors(assembly: Assembly, pack: type[NagPack]) -> list[str]:
    """The unacknowledged errors ``pack`` reports on the app, as ``<rule> at <path>: <description>``."""
    return [f"{rule} at {path}: {description}" for rule, path, description in nag_findings(assembly.app, pack)]


def acknowledgement_problems(assembly: Assembly) -> tuple[list[str], list[str]]:
    """What is wrong with the app's acknowledgements, and those it makes on its own (not the library's) resources."""
    problems: list[str] = []
    own: list[str] = []
    for ack in acknowledgements(assembly.app):
        where = f"{ack.id!r} at {ack.path}"
        if (problem := id_problem(ack.id)) is not None:
            problems.append(f"{where}: id {problem}")
        if (problem := reason_problem(ack.reason)) is not None:
            problems.append(f"{where}: {problem}")
        if assembly.in_library(ack.path):
            continue
        if is_stage_or_stack(ack.holder):
            problems.append(f"{where}: made on a Stack/Stage/App, it would hide findings on every resource in it")
        elif contains_library(ack.holder):
            problems.append(
                f"{where}: made on a construct holding a whole library construct (a ValidatedS3Pipeline, a "
                "PipelineFoundation); make it on the construct inside it that causes the finding"
            )
        else:
            own.append(where)  # the app acknowledges a finding on its own resource: allowed, reported
    return problems, own


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


def run_checkov(stacks: Sequence[StackTemplate]) -> CheckovResults:
    """checkov's failed and skipped checks for the templates of ``stacks``, from one run over all of them."""
    # sys.executable is the interpreter running the tests, so this is the checkov of the same environment,
    # wherever its scripts are installed. No --quiet: it drops the skipped checks, which are asserted on below.
    command = [sys.executable, "-m", "checkov.main"]
    for stack in stacks:
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
    by_file = {stack.file: stack for stack in stacks}

    def checks(kind: str) -> list[CheckovCheck]:
        return [
            CheckovCheck(
                by_file[Path(c["file_abs_path"]).resolve()],
                c["check_id"],
                logical_id(c["resource"]),
                c["check_name"],
                c["check_result"].get("suppress_comment"),
            )
            for c in results[kind]
        ]

    passed, failed, skipped = checks("passed_checks"), checks("failed_checks"), checks("skipped_checks")
    unscanned = {s.file.name for s in stacks} - {c.stack.file.name for c in passed + failed + skipped}
    assert not unscanned, f"checkov reported no check on {sorted(unscanned)}: {cloudformation['summary']}"
    return CheckovResults(failed=failed, skipped=skipped)


def logical_id(checkov_resource: str) -> str:
    """``AWS::S3::Bucket.PipelineArtifactsEB21E7E8`` -> ``PipelineArtifactsEB21E7E8``."""
    return checkov_resource.rpartition(".")[2]


def checkov_failures(assembly: Assembly, results: CheckovResults) -> list[str]:
    """checkov's failed checks on the app's templates, as ``<check> <where>: <name>``."""
    return sorted(f"{c.id} {c.where}: {c.name}" for c in results.failed if c.stack in assembly.checked_stacks)


def checkov_skip_problems(assembly: Assembly, results: CheckovResults) -> tuple[list[str], list[str]]:
    """What is wrong with the app's checkov skips, and the skips on its own (not the library's) resources."""
    problems: list[str] = []
    own: list[str] = []
    skipped = [c for c in results.skipped if c.stack in assembly.checked_stacks]
    reported = {(c.stack.name, c.id, c.logical_id) for c in skipped}
    for c in skipped:
        if (problem := reason_problem(c.comment)) is not None:
            problems.append(f"{c.id} skipped on {c.where}: {problem}")
    for stack in assembly.checked_stacks:
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
                if not assembly.in_library(stack.paths.get(resource_id, "")):
                    own.append(where)
    return sorted(set(problems)), own  # a bad comment is seen both in the template and in checkov's report


# ---------------------------------------------------------------------------------------------------------------
# cfn-lint


def cfn_lint_matches(assembly: Assembly) -> list[tuple[StackTemplate, Any]]:
    """cfn-lint's matches on every checked template of the app, each with the stack it is in."""
    from cfnlint.api import lint_file  # imported here: loading cfn-lint's schemas takes seconds

    return [(stack, match) for stack in assembly.checked_stacks for match in lint_file(stack.file)]


def allowed_warning(assembly: Assembly, stack: StackTemplate, rule_id: str, path: list[Any]) -> bool:
    """Whether a cfn-lint warning is one ALLOWED_CFN_LINT_WARNINGS names, on a resource of the library; or W6001 on
    an output of a pipeline on a foundation in another stack."""
    if rule_id == "W6001" and len(path) >= 2 and path[0] == "Outputs":
        # The pipeline's outputs (SourceBucketName, SourceKeyArn, UploadCommand) name the foundation's bucket and key,
        # which its stack imports: each stack then says where its pipelines' uploads go, which `s3vp push --stack`
        # reads. cfn-lint's W6001 only notes that an output restates an import.
        return assembly.in_library(stack.paths.get(path[1], ""))
    allowed = ALLOWED_CFN_LINT_WARNINGS.get(rule_id)
    if not allowed or len(path) != 4 or path[0] != "Resources" or path[2] != "DependsOn":
        return False
    resources = stack.template["Resources"]
    resource = resources[path[1]]
    depends_on = resource["DependsOn"]
    dependency = depends_on[path[3]] if isinstance(depends_on, list) else depends_on
    pair = (resource["Type"], resources[dependency]["Type"])
    return pair in allowed and assembly.in_library(stack.paths.get(path[1], ""))


def cfn_lint_problems(assembly: Assembly, matches: list[tuple[StackTemplate, Any]]) -> list[str]:
    """cfn-lint's errors and warnings that no rule above allows, as ``<rule> at <file:path> <element>: <message>``."""
    found = []
    for stack, match in matches:
        rule_id: str = match.rule.id
        if rule_id.startswith("I") or allowed_warning(assembly, stack, rule_id, list(match.path)):
            continue
        element = stack.where(match.path[1]) if len(match.path) > 1 and match.path[0] in TEMPLATE_SECTIONS else ""
        where = f"{stack.file.name}:{'/'.join(map(str, match.path))}"
        found.append(f"{rule_id} at {where} {element}: {match.message}")
    return sorted(found)
