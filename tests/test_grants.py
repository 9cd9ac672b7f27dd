"""Where the library's grants to the user's principals land: a customer managed policy attached to a role or user the
app defines (cdk-nag's NIST, HIPAA and PCI packs report an inline policy on it, which only the user could
acknowledge), and CDK's default policy on an imported role, whose policies are its owner's."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs

from s3_validated_pipeline import ValidatedS3Pipeline
from s3_validated_pipeline._grants import GRANTS_POLICY_ID
from tests.conftest import VALID, synthesize
from tests.iam_eval import Resolver, roles_in

STACK = "Stack"


@pytest.fixture(scope="module")
def granted() -> dict[str, Any]:
    """Two pipelines; a role granted uploads on both, a user on one, an imported role on one; a queue that waits
    for the user's grant."""
    stack = cdk.Stack(cdk.App(), STACK)
    role = iam.Role(stack, "Uploader", assumed_by=iam.AccountRootPrincipal())
    user = iam.User(stack, "Person")
    imported = iam.Role.from_role_name(stack, "Developers", "developers")
    first = ValidatedS3Pipeline(stack, "First", validation=VALID, operations=None)
    second = ValidatedS3Pipeline(stack, "Second", validation=VALID, operations=None)
    first.grant_upload(role)
    second.grant_upload(role)
    grant = first.grant_upload(user)
    second.grant_upload(imported)
    assert grant.success
    grant.apply_before(sqs.Queue(stack, "AfterGrant"))
    template: dict[str, Any] = synthesize(stack).json
    return template


def policies_naming(template: dict[str, Any], attachment: str, who: object) -> list[tuple[str, dict[str, Any]]]:
    return [
        (k, v)
        for k, v in template["Resources"].items()
        if v["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and who in v["Properties"].get(attachment, [])
    ]


def logical_id(template: dict[str, Any], prefix: str, type_: str) -> str:
    [found] = [k for k, v in template["Resources"].items() if k.startswith(prefix) and v["Type"] == type_]
    return found


def test_a_role_of_the_app_gets_one_managed_policy_for_every_grant(granted: dict[str, Any]) -> None:
    role_id = logical_id(granted, "Uploader", "AWS::IAM::Role")
    # THEN the only policy naming the role is the library's managed policy ...
    [(policy_id, policy)] = policies_naming(granted, "Roles", {"Ref": role_id})
    assert policy_id.startswith(f"Uploader{GRANTS_POLICY_ID}")
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    # ... holding both pipelines' grants, and still only their watched objects
    resolver = Resolver({STACK: granted})
    role = roles_in(resolver, STACK)[role_id]
    for pipeline in ("First", "Second"):
        bucket = resolver.attribute(STACK, logical_id(granted, f"{pipeline}SourceBucket", "AWS::S3::Bucket"), "Arn")
        assert role.may("s3:PutObject", f"{bucket}/source.zip"), pipeline
        assert not role.may("s3:PutObject", f"{bucket}/other.zip"), pipeline
        assert not role.may("s3:GetObject", f"{bucket}/source.zip"), pipeline


def test_a_user_of_the_app_gets_a_managed_policy_that_the_grant_waits_for(granted: dict[str, Any]) -> None:
    user = logical_id(granted, "Person", "AWS::IAM::User")
    [(policy_id, policy)] = policies_naming(granted, "Users", {"Ref": user})
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    # The attachment is in the policy's own resource: what waits for the grant waits for the user to hold it
    queue = logical_id(granted, "AfterGrant", "AWS::SQS::Queue")
    assert policy_id in granted["Resources"][queue]["DependsOn"]


def test_an_imported_role_keeps_cdks_default_policy(granted: dict[str, Any]) -> None:
    [(_, policy)] = policies_naming(granted, "Roles", "developers")
    assert policy["Type"] == "AWS::IAM::Policy"
    assert policy["Properties"]["PolicyDocument"]["Statement"][0]["Action"] == [
        "s3:PutObject",
        "s3:AbortMultipartUpload",
    ]
