"""The upload path: only granted principals may put the watched object, only with the bucket's own KMS key, and
nobody but the account's root user, an optional admin role and CloudFormation may delete versions or change
versioning. Each statement of the source bucket's policy is asserted here."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from s3_validated_pipeline import SourceBucketOptions, ValidatedS3Pipeline, ValidationOptions

from .conftest import Synthesized, synthesize

ROOT = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::", {"Ref": "AWS::AccountId"}, ":root"]]}


def source_policy(synthesized: Synthesized) -> tuple[str, str, dict[str, dict[str, Any]]]:
    """Return the source bucket's id, its key's id and its policy statements by Sid."""
    resources = synthesized.json["Resources"]
    [bucket_id] = [
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::S3::Bucket" and "NotificationConfiguration" in v["Properties"]
    ]
    encryption = resources[bucket_id]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    key_id = encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
    [policy] = [
        v
        for v in resources.values()
        if v["Type"] == "AWS::S3::BucketPolicy" and v["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    statements = {s.get("Sid", f"#{i}"): s for i, s in enumerate(policy["Properties"]["PolicyDocument"]["Statement"])}
    return bucket_id, key_id, statements


def watched(bucket_id: str, key: str = "source.zip") -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{key}"]]}


def test_uploads_to_any_other_key_are_denied_to_everyone(seed: Synthesized) -> None:
    bucket_id, _, statements = source_policy(seed)
    statement = statements["DenyUploadsToOtherKeys"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Action"] == "s3:PutObject"
    assert statement["NotResource"] == watched(bucket_id)


def test_only_granted_principals_and_root_may_upload(seed: Synthesized) -> None:
    bucket_id, _, statements = source_policy(seed)
    statement = statements["DenyUploadsByOthers"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Resource"] == watched(bucket_id)
    [uploader_id] = [
        k for k, v in seed.json["Resources"].items() if k.startswith("Uploader") and v["Type"] == "AWS::IAM::Role"
    ]
    assert statement["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": [ROOT, {"Fn::GetAtt": [uploader_id, "Arn"]}]}
    }


def test_uploads_naming_another_encryption_or_key_are_denied(seed: Synthesized) -> None:
    bucket_id, key_id, statements = source_policy(seed)
    other_algorithm = statements["DenyOtherEncryption"]
    assert other_algorithm["Effect"] == "Deny"
    assert other_algorithm["Resource"] == watched(bucket_id)
    assert other_algorithm["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
        "Null": {"s3:x-amz-server-side-encryption": "false"},
    }
    other_key = statements["DenyOtherKey"]
    assert other_key["Effect"] == "Deny"
    assert other_key["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": {"Fn::GetAtt": [key_id, "Arn"]}},
        "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"},
    }
    customer_keys = statements["DenyCustomerProvidedKeys"]
    assert customer_keys["Effect"] == "Deny"
    assert customer_keys["Condition"] == {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}


def test_requests_without_tls_are_denied(seed: Synthesized) -> None:
    _, _, statements = source_policy(seed)
    [tls] = [s for s in statements.values() if "aws:SecureTransport" in str(s.get("Condition"))]
    assert tls["Effect"] == "Deny"
    assert tls["Action"] == "s3:*"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_deleting_versions_or_changing_versioning_is_denied_to_all_but_root_and_cloudformation(
    seed: Synthesized,
) -> None:
    bucket_id, _, statements = source_policy(seed)
    statement = statements["DenyVersionTampering"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert sorted(statement["Action"]) == ["s3:DeleteObjectVersion", "s3:PutBucketVersioning"]
    assert statement["Resource"] == [
        {"Fn::GetAtt": [bucket_id, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
    ]
    assert statement["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": [ROOT]},
        "ForAllValues:StringNotEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]},
    }


def test_uploader_may_put_only_the_watched_object_with_the_bucket_key(seed: Synthesized) -> None:
    bucket_id, key_id, _ = source_policy(seed)
    [uploader_policy] = [
        v
        for k, v in seed.json["Resources"].items()
        if v["Type"] == "AWS::IAM::Policy" and k.startswith("UploaderDefaultPolicy")
    ]
    assert uploader_policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": ["s3:PutObject", "s3:AbortMultipartUpload"], "Effect": "Allow", "Resource": watched(bucket_id)},
        {
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [key_id, "Arn"]},
        },
    ]


@pytest.fixture(scope="module")
def with_admin_and_named_uploaders() -> Synthesized:
    stack = cdk.Stack(cdk.App(), "Stack")
    admin = iam.Role(stack, "Admin", assumed_by=iam.AccountRootPrincipal())
    named = iam.Role(stack, "Named", assumed_by=iam.AccountRootPrincipal())
    later = iam.User(stack, "Later")
    pipeline = ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=ValidationOptions(commands=["true"]),
        object_key="drop/package.zip",
        source_bucket_options=SourceBucketOptions(uploaders=[named], admin_role=admin),
    )
    pipeline.grant_upload(later)
    return synthesize(stack)


def test_named_and_later_granted_uploaders_are_all_allowed(with_admin_and_named_uploaders: Synthesized) -> None:
    bucket_id, _, statements = source_policy(with_admin_and_named_uploaders)
    resources = with_admin_and_named_uploaders.json["Resources"]
    named = next(k for k in resources if k.startswith("Named"))
    later = next(k for k in resources if k.startswith("Later"))
    assert statements["DenyUploadsByOthers"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        ROOT,
        {"Fn::GetAtt": [named, "Arn"]},
        {"Fn::GetAtt": [later, "Arn"]},
    ]
    assert statements["DenyUploadsToOtherKeys"]["NotResource"] == watched(bucket_id, "drop/package.zip")


def test_admin_role_may_also_manage_versions(with_admin_and_named_uploaders: Synthesized) -> None:
    _, _, statements = source_policy(with_admin_and_named_uploaders)
    admin = next(k for k in with_admin_and_named_uploaders.json["Resources"] if k.startswith("Admin"))
    assert statements["DenyVersionTampering"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        ROOT,
        {"Fn::GetAtt": [admin, "Arn"]},
    ]
