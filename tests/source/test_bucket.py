"""The upload path: only granted principals may put the watched object, only with the bucket's own KMS key, and
nobody but the account's root user, an optional admin role and CloudFormation may delete versions or change
versioning. Each statement of the source bucket's policy is asserted here."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from s3_validated_pipeline import InputError, SourceBucketOptions, ValidatedS3Pipeline, ValidationOptions
from s3_validated_pipeline.source.bucket import grant_object_upload
from tests.conftest import Synthesized, synthesize

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


# --- the one object-upload grant, for an existing bucket ---------------------------------------------------


def imported_grant(*, with_key: bool) -> tuple[iam.Grant, dict[str, Any]]:
    """Grant a new role the upload of one key of an imported bucket; return the grant and the role's policy."""
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket.from_bucket_name(stack, "Existing", "team-uploads")
    key = kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd") if with_key else None
    role = iam.Role(stack, "Uploader", assumed_by=iam.AccountRootPrincipal())
    grant = grant_object_upload(role, bucket=bucket, object_key="drop/package.zip", key=key)
    [policy] = [v for v in synthesize(stack).json["Resources"].values() if v["Type"] == "AWS::IAM::Policy"]
    return grant, policy


def test_grant_object_upload_on_an_existing_bucket_allows_the_one_object_and_its_key() -> None:
    # GIVEN an imported bucket with a known key
    # WHEN a role is granted the upload of one key
    grant, policy = imported_grant(with_key=True)

    # THEN the role may put and abort uploads of that object only, and encrypt with that key only
    assert grant.success
    upload = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":s3:::team-uploads/drop/package.zip"],
        ]
    }
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {"Action": ["s3:PutObject", "s3:AbortMultipartUpload"], "Effect": "Allow", "Resource": upload},
        {
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Effect": "Allow",
            "Resource": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd",
        },
    ]


def test_grant_object_upload_without_a_known_key_grants_s3_only() -> None:
    # GIVEN an imported bucket whose key is not known
    # WHEN a role is granted the upload of one key
    _, policy = imported_grant(with_key=False)

    # THEN only the S3 statement is added: no KMS permission on a guessed key
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]


def test_fails_when_grant_object_upload_gets_a_service_principal() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket.from_bucket_name(stack, "Existing", "team-uploads")
    with pytest.raises(InputError, match=r"grantee: got <aws_cdk\.aws_iam\.ServicePrincipal .*service principals"):
        grant_object_upload(
            iam.ServicePrincipal("codebuild.amazonaws.com"), bucket=bucket, object_key="source.zip", key=None
        )
