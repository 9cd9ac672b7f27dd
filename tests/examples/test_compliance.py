"""The compliance gate: every example app passes cdk-nag (five packs), checkov and cfn-lint, and every acknowledgement
is specific, explained, and made where it cannot hide a user's own findings.

Each example is the session's synthesis (``conftest.synthesized_example_stacks``: ``examples/<name>`` →
``build(app)``, which returns one stack or several). cdk-nag runs on that app's whole construct tree, every stack in
it, after ``app.synth()``; checkov and cfn-lint run on the template file of one stack of each kind (class) the
synthesis wrote (``Assembly.checked_stacks``). The machinery, and how acknowledgements are read, is in
tests/compliance.py, which the configuration matrix (tests/test_configuration_matrix.py) runs too.
"""

from __future__ import annotations

import warnings
from typing import Any

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPack, NIST80053R5Checks
from constructs import IConstruct

from s3_validated_pipeline import ValidatedS3Pipeline, ValidationOptions
from tests.compliance import (
    ACK_KEY,
    CHECKOV_NO_COMMENT,
    Assembly,
    CheckovResults,
    StackTemplate,
    acknowledgement_problems,
    acknowledgements,
    assemble,
    cfn_lint_matches,
    cfn_lint_problems,
    checkov_failures,
    checkov_skip_problems,
    id_problem,
    nag_errors,
    nag_findings,
    reason_problem,
    run_checkov,
)
from tests.conftest import EXAMPLE_NAMES, PACKS, synthesized_example_stacks


@pytest.fixture(scope="module", params=EXAMPLE_NAMES)
def example(request: pytest.FixtureRequest) -> Assembly:
    """The example as the session synthesized it (the snapshot tests read the same assembly), not a second one."""
    name: str = request.param
    return assemble(f"examples/{name}", [synthesized.stack for synthesized in synthesized_example_stacks(name)])


# ---------------------------------------------------------------------------------------------------------------
# cdk-nag


@pytest.mark.parametrize("pack", PACKS.values(), ids=PACKS.keys())
def test_cdk_nag_reports_no_unacknowledged_errors(example: Assembly, pack: type[NagPack]) -> None:
    errors = nag_errors(example, pack)
    assert not errors, (
        f"{pack.__name__} on {example.name}: {len(errors)} unacknowledged error(s). Fix the resource, or "
        "acknowledge the finding id on the construct that causes it, with a reason:\n"
        + "\n".join(f"  {error}" for error in errors)
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


def test_acknowledgements_are_specific_explained_and_on_library_constructs(example: Assembly) -> None:
    problems, own = acknowledgement_problems(example)
    if own:
        warnings.warn(f"{example.name} acknowledges findings on its own resources: {', '.join(own)}", stacklevel=1)
    assert not problems, f"{example.name}: {len(problems)} acknowledgement problem(s):\n" + "\n".join(
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


@pytest.fixture(scope="module")
def checkov_results(example: Assembly) -> CheckovResults:
    """checkov's failed and skipped checks for every checked template of the example, from one run."""
    return run_checkov(example.checked_stacks)


def test_checkov_passes(example: Assembly, checkov_results: CheckovResults) -> None:
    failed = checkov_failures(example, checkov_results)
    assert not failed, (
        f"checkov on {example.name}: {len(failed)} failed check(s). Fix the resource, or skip the check "
        'on it with Metadata {"checkov": {"skip": [{"id": ..., "comment": <why>}]}}:\n'
        + "\n".join(f"  {f}" for f in failed)
    )


def test_checkov_skips_are_explained(example: Assembly, checkov_results: CheckovResults) -> None:
    problems, own = checkov_skip_problems(example, checkov_results)
    if own:
        warnings.warn(f"{example.name} skips checkov checks on its own resources: {', '.join(own)}", stacklevel=1)
    assert not problems, f"checkov skips in {example.name}: {len(problems)} problem(s):\n" + "\n".join(
        f"  {p}" for p in problems
    )


# ---------------------------------------------------------------------------------------------------------------
# cfn-lint


@pytest.fixture(scope="module")
def cfn_lint_found(example: Assembly) -> list[tuple[StackTemplate, Any]]:
    return cfn_lint_matches(example)


def test_cfn_lint_reports_no_errors_or_warnings(
    example: Assembly, cfn_lint_found: list[tuple[StackTemplate, Any]]
) -> None:
    found = cfn_lint_problems(example, cfn_lint_found)
    assert not found, f"cfn-lint on {example.name}: {len(found)} error(s)/warning(s):\n" + "\n".join(
        f"  {f}" for f in found
    )
