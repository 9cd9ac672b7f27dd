"""Who may approve: ``ApprovalOptions(approvers=[...])`` lets exactly those principals decide that one approval."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from s3_validated_pipeline import ApprovalOptions, DeployTarget, ValidatedS3Pipeline
from tests.conftest import VALID, assert_fails, synthesize
from tests.iam_eval import ACCOUNT, PARTITION, REGION, Resolver, Role, roles_in

STACK = "Stack"


@pytest.fixture(scope="module")
def approvers() -> dict[str, Role]:
    """Two targets: Staging approved by the release role, Production by the release role and the lead."""
    stack = cdk.Stack(cdk.App(), STACK)
    release = iam.Role(stack, "Release", assumed_by=iam.AccountRootPrincipal())
    lead = iam.Role(stack, "Lead", assumed_by=iam.AccountRootPrincipal())
    pipeline = ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=VALID,
        pipeline_name="app",
        deploy=[
            DeployTarget(name="Staging", commands=["true"], approval=ApprovalOptions(approvers=[release])),
            DeployTarget(name="Production", commands=["true"], approval=ApprovalOptions(approvers=[release, lead])),
        ],
    )
    pipeline.grant_upload(release)  # an approver may also upload: each permission stays its own
    template = synthesize(stack).json
    roles = roles_in(Resolver({STACK: template}), STACK)
    return {name: next(r for k, r in roles.items() if k.startswith(name)) for name in ("Release", "Lead")}


PIPELINE = f"arn:{PARTITION}:codepipeline:{REGION}:{ACCOUNT}:app"


@pytest.mark.parametrize(
    ("who", "stage", "allowed"),
    [
        ("Release", "ApproveStaging", True),
        ("Release", "ApproveProduction", True),
        ("Lead", "ApproveProduction", True),
        ("Lead", "ApproveStaging", False),
    ],
)
def test_an_approver_may_decide_exactly_the_approvals_it_is_named_for(
    approvers: dict[str, Role], who: str, stage: str, allowed: bool
) -> None:
    role = approvers[who]
    assert role.may("codepipeline:PutApprovalResult", f"{PIPELINE}/{stage}/Approve") is allowed


def test_an_approver_sees_the_pipeline_it_approves_in_and_nothing_more(approvers: dict[str, Role]) -> None:
    lead = approvers["Lead"]
    for action in ("codepipeline:GetPipelineState", "codepipeline:GetPipeline", "codepipeline:GetPipelineExecution"):
        assert lead.may(action, PIPELINE), action
    assert not lead.may("codepipeline:GetPipelineState", f"{PIPELINE}-other")
    assert not lead.may("codepipeline:ListPipelines", "*")
    assert not lead.may("codepipeline:PutApprovalResult", f"{PIPELINE}/DeployProduction/Deploy")


def test_fails_when_an_approver_is_not_a_role_or_user() -> None:
    assert_fails(
        "deploy[0].approval.approvers[0]",
        "'release-role'",
        "an iam.IGrantable (a role or user)",
        deploy=[DeployTarget(name="Staging", commands=["true"], approval=ApprovalOptions(approvers=["release-role"]))],
    )


def test_fails_when_approvers_is_not_a_list() -> None:
    role = iam.Role(cdk.Stack(cdk.App(), "Roles"), "Release", assumed_by=iam.AccountRootPrincipal())
    assert_fails(
        "deploy[0].approval.approvers",
        repr(role)[:20],
        "a list of roles or users",
        deploy=[DeployTarget(name="Staging", commands=["true"], approval=ApprovalOptions(approvers=role))],  # type: ignore[arg-type]
    )
