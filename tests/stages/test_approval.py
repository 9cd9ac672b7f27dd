"""Who may approve: ``ApprovalOptions(approvers=[...])`` lets exactly those principals decide that one approval."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from s3_validated_pipeline import ApprovalOptions, DeployTarget, ValidatedS3Pipeline
from tests.conftest import ROOT, VALID, assert_fails, synthesize
from tests.iam_eval import ACCOUNT, PARTITION, REGION, Effect, Resolver, Role, decide, roles_in, statements_of

STACK = "Stack"


@pytest.fixture(scope="module")
def approval_app() -> dict[str, Any]:
    """Two targets: Staging approved by the release role, Production by the release role and the lead; each
    approval emails the release list, Production's the lead too."""
    stack = cdk.Stack(cdk.App(), STACK)
    release = iam.Role(stack, "Release", assumed_by=iam.AccountRootPrincipal())
    lead = iam.Role(stack, "Lead", assumed_by=iam.AccountRootPrincipal())
    emails = ["release@example.com"]
    pipeline = ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=VALID,
        pipeline_name="app",
        deploy=[
            DeployTarget(
                name="Staging",
                commands=["true"],
                approval=ApprovalOptions(approvers=[release], notify_emails=emails),
            ),
            DeployTarget(
                name="Production",
                commands=["true"],
                approval=ApprovalOptions(approvers=[release, lead], notify_emails=[*emails, "lead@example.com"]),
            ),
        ],
        operations=None,  # the approval's dead letters stand on their own, without the operations' queue
    )
    pipeline.grant_upload(release)  # an approver may also upload: each permission stays its own
    template: dict[str, Any] = synthesize(stack).json
    return template


@pytest.fixture(scope="module")
def approvers(approval_app: dict[str, Any]) -> dict[str, Role]:
    roles = roles_in(Resolver({STACK: approval_app}), STACK)
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


def test_approvers_grants_are_in_a_managed_policy_attached_to_each_approver(approval_app: dict[str, Any]) -> None:
    # GIVEN roles of the app named as approvers (one also an uploader)
    resources = approval_app["Resources"]
    for name in ("Release", "Lead"):
        [role_id] = [k for k, v in resources.items() if k.startswith(name) and v["Type"] == "AWS::IAM::Role"]
        # THEN the only policy naming each is one customer managed policy (cdk-nag's IAMNoInlinePolicy holds)
        policies = [
            v
            for v in resources.values()
            if v["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
            and {"Ref": role_id} in v["Properties"].get("Roles", [])
        ]
        assert [p["Type"] for p in policies] == ["AWS::IAM::ManagedPolicy"], name
        assert "ManagedPolicyArns" not in resources[role_id]["Properties"]


def test_undeliverable_approval_emails_wait_in_an_encrypted_retained_queue(approval_app: dict[str, Any]) -> None:
    resources = approval_app["Resources"]
    subscriptions = {
        v["Properties"]["Endpoint"]: v["Properties"]
        for v in resources.values()
        if v["Type"] == "AWS::SNS::Subscription"
    }
    # THEN each address is subscribed once, with a redrive policy to the same queue
    assert sorted(subscriptions) == ["lead@example.com", "release@example.com"]
    [queue_id] = {s["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for s in subscriptions.values()}
    assert queue_id.startswith("PipelineApprovalDeadLetterQueue")
    queue = resources[queue_id]
    assert queue["DeletionPolicy"] == "Retain"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    key_id = queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    [topic] = [v for v in resources.values() if v["Type"] == "AWS::SNS::Topic"]
    assert topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0] == key_id
    # AND SNS may write to it: the queue admits the approval topic, the key admits SNS of this account
    [queue_policy] = [
        v
        for v in resources.values()
        if v["Type"] == "AWS::SQS::QueuePolicy" and v["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    [send] = [s for s in queue_policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert send["Principal"] == {"Service": "sns.amazonaws.com"}
    assert send["Action"] == "sqs:SendMessage"
    assert send["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Ref": next(k for k, v in resources.items() if v["Type"] == "AWS::SNS::Topic")
    }
    [sns_use] = [
        s
        for s in resources[key_id]["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "ApprovalEmailDeadLetters"
    ]
    assert sns_use["Principal"] == {"Service": "sns.amazonaws.com"}
    assert sns_use["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def approval_policies() -> list[dict[str, Any]]:
    """The two policy documents of docs/stages.md, "Keeping everyone else from approving": the SCP, the boundary."""
    text = (ROOT / "docs" / "stages.md").read_text(encoding="utf-8")
    section = text.split("### Keeping everyone else from approving", 1)[1].split("\n## ", 1)[0]
    return [json.loads(block) for block in re.findall(r"^```json\n(.*?)^```", section, re.MULTILINE | re.DOTALL)]


APPROVE = f"arn:{PARTITION}:codepipeline:{REGION}:{ACCOUNT}:my-pipeline/ApproveProduction/Approve"


def test_the_documented_scp_lets_only_the_approvers_approve() -> None:
    scp, _ = approval_policies()
    statements = statements_of(scp)

    def denied(role: str, action: str = "codepipeline:PutApprovalResult", resource: str = APPROVE) -> bool:
        context = {"aws:PrincipalArn": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{role}"}
        return decide(statements, action=action, resource=resource, context=context).effect is Effect.DENY

    assert not denied("release-approvers")
    assert denied("developers")
    assert denied("uploader")
    # Only approving that pipeline's approvals is taken away
    assert not denied("developers", resource=APPROVE.replace("my-pipeline", "other-pipeline"))
    assert not denied("developers", action="codepipeline:GetPipelineState", resource=APPROVE.rsplit("/", 2)[0])


def test_the_documented_boundary_takes_approving_away_and_nothing_else() -> None:
    _, boundary = approval_policies()
    statements = statements_of(boundary)
    assert decide(statements, action="codepipeline:PutApprovalResult", resource=APPROVE).effect is Effect.DENY
    for action, resource in (
        ("codepipeline:GetPipelineState", APPROVE.rsplit("/", 2)[0]),
        ("s3:PutObject", "arn:aws:s3:::uploads/source.zip"),
        ("codepipeline:PutApprovalResult", APPROVE.replace("my-pipeline", "other-pipeline")),
    ):
        assert decide(statements, action=action, resource=resource).allowed, action
