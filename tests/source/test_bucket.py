"""The upload path: only granted principals may put the watched object, only with the bucket's own KMS key, and
nobody but the account's root user, an optional admin role and CloudFormation may delete versions or change
versioning. Each statement of the source bucket's policy is asserted here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from s3_validated_pipeline import InputError, SourceBucketOptions, ValidatedS3Pipeline, ValidationOptions
from s3_validated_pipeline._buildspec import VERDICT_TAG
from s3_validated_pipeline.source import SourceBucket
from s3_validated_pipeline.source.bucket import GUARDED_CONFIGURATION, VERDICT_TAGGING, grant_object_upload
from tests import iam_eval
from tests.conftest import VALID, Synthesized, assert_fails, new_pipeline, synthesize

ROLE_ARN = "arn:aws:iam::111122223333:role/uploader"
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
    assert sorted(statement["Action"]) == [
        "s3:BypassGovernanceRetention",
        "s3:DeleteObjectVersion",
        "s3:PutBucketVersioning",
    ]
    assert statement["Resource"] == [
        {"Fn::GetAtt": [bucket_id, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
    ]
    assert statement["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": [ROOT]},
        "ForAllValues:StringNotEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]},
    }


def test_changing_the_buckets_configuration_is_denied_to_all_but_root_and_cloudformation(seed: Synthesized) -> None:
    # GIVEN the seed's source bucket  THEN its policy denies every setting that could silence, expire, expose or copy
    # the uploads, or drop the policy itself, to every principal but the account root and CloudFormation
    bucket_id, _, statements = source_policy(seed)
    statement = statements["DenyConfigurationChanges"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == {"AWS": "*"}
    assert sorted(statement["Action"]) == [
        "s3:DeleteBucketPolicy",
        "s3:PutBucketLogging",
        "s3:PutBucketNotification",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketOwnershipControls",
        "s3:PutBucketPolicy",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutEncryptionConfiguration",
        "s3:PutLifecycleConfiguration",
        "s3:PutReplicationConfiguration",
    ]
    assert statement["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert statement["Condition"] == statements["DenyVersionTampering"]["Condition"]


def test_uploader_may_put_only_the_watched_object_with_the_bucket_key(seed: Synthesized) -> None:
    bucket_id, key_id, _ = source_policy(seed)
    [uploader_id] = [
        k for k, v in seed.json["Resources"].items() if k.startswith("Uploader") and v["Type"] == "AWS::IAM::Role"
    ]
    # The one policy naming the role: a customer managed policy the pipeline attached (no inline policy).
    [uploader_policy] = [
        v
        for v in seed.json["Resources"].values()
        if v["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        and {"Ref": uploader_id} in v["Properties"].get("Roles", [])
    ]
    assert uploader_policy["Type"] == "AWS::IAM::ManagedPolicy"
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


def test_admin_role_may_also_manage_versions_and_settings(with_admin_and_named_uploaders: Synthesized) -> None:
    _, _, statements = source_policy(with_admin_and_named_uploaders)
    admin = next(k for k in with_admin_and_named_uploaders.json["Resources"] if k.startswith("Admin"))
    for sid in ("DenyVersionTampering", "DenyConfigurationChanges"):
        assert statements[sid]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
            ROOT,
            {"Fn::GetAtt": [admin, "Arn"]},
        ], sid


EVERYTHING = iam_eval.statements_of({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
BROAD = f"arn:aws:iam::{iam_eval.ACCOUNT}:role/Developers"
"""A role of the account that the bucket's policy does not name, allowed ``s3:*`` on everything by its own."""


@dataclass(frozen=True)
class AsIam:
    """The bucket of ``with_admin_and_named_uploaders`` as IAM reads it: its ARN, its admin role's and its named
    uploader's, and every resource policy of the stack."""

    bucket: str
    admin: str
    named: str
    policies: tuple[iam_eval.ResourcePolicy, ...]

    def may(self, role_arn: str, action: str, resource: str, context: dict[str, Any] | None = None) -> bool:
        """Whether ``role_arn``, allowed ``s3:*`` on everything by its own policy, may make the request."""
        caller = iam_eval.Caller(iam_eval.ACCOUNT, arn=role_arn, identity=EVERYTHING)
        return iam_eval.authorize(caller, action, resource, self.policies, context).allowed


@pytest.fixture(scope="module")
def as_iam(with_admin_and_named_uploaders: Synthesized) -> AsIam:
    template = with_admin_and_named_uploaders.json
    resolver = iam_eval.Resolver({"Stack": template})
    bucket_id, _, _ = source_policy(with_admin_and_named_uploaders)

    def arn_of(prefix: str) -> str:
        return resolver.attribute("Stack", next(k for k in template["Resources"] if k.startswith(prefix)), "Arn")

    return AsIam(
        resolver.attribute("Stack", bucket_id, "Arn"),
        arn_of("Admin"),
        arn_of("Named"),
        iam_eval.resource_policies(resolver),
    )


@pytest.mark.parametrize("action", GUARDED_CONFIGURATION)
def test_a_broad_s3_role_of_the_account_cannot_change_a_guarded_setting_and_the_admin_role_can(
    as_iam: AsIam, action: str
) -> None:
    # GIVEN the bucket's policy as IAM reads it, and two roles of the account allowed s3:* on everything
    # THEN the bucket's policy refuses the broad role, and lets the admin role through
    assert not as_iam.may(BROAD, action, as_iam.bucket)
    assert as_iam.may(as_iam.admin, action, as_iam.bucket)


def source_lifecycle(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """The source bucket's lifecycle rules, by id (``#<n>`` for a rule without one)."""
    bucket_id, _, _ = source_policy(synthesized)
    rules = synthesized.json["Resources"][bucket_id]["Properties"]["LifecycleConfiguration"]["Rules"]
    return {rule.get("Id", f"#{i}"): rule for i, rule in enumerate(rules)}


def test_rejected_uploads_expire_after_a_week_and_replaced_ones_after_90_days(seed: Synthesized) -> None:
    # GIVEN the seed's source bucket  THEN versions the check tagged rejected expire after 7 days (as noncurrent, and
    # as the latest upload), every other replaced upload after 90
    rules = source_lifecycle(seed)
    assert rules["ExpireRejectedUploads"] == {
        "Id": "ExpireRejectedUploads",
        "Status": "Enabled",
        "TagFilters": [{"Key": VERDICT_TAG, "Value": "rejected"}],
        "ExpirationInDays": 7,
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
    }
    (other,) = [rule for name, rule in rules.items() if name != "ExpireRejectedUploads"]
    assert other["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert "TagFilters" not in other


def test_rejected_retention_is_configurable() -> None:
    # GIVEN a pipeline keeping rejected uploads 2 days  THEN its rule says 2
    pipeline = new_pipeline(source_bucket_options=SourceBucketOptions(rejected_retention_days=2))
    synthesized = synthesize(cdk.Stack.of(pipeline))
    rule = source_lifecycle(synthesized)["ExpireRejectedUploads"]
    assert (rule["ExpirationInDays"], rule["NoncurrentVersionExpiration"]) == (2, {"NoncurrentDays": 2})


def test_fails_when_rejected_retention_is_longer_than_any_replaced_uploads() -> None:
    assert_fails(
        "source_bucket_options.rejected_retention_days",
        "100",
        "kept at most as long as any replaced upload (90 days",
        source_bucket_options=SourceBucketOptions(rejected_retention_days=100),
    )


@pytest.mark.parametrize(("value", "shown"), [(0, "0"), ("7", "'7'")])
def test_fails_when_rejected_retention_is_not_a_positive_whole_number(value: Any, shown: str) -> None:
    assert_fails(
        "source_bucket_options.rejected_retention_days",
        shown,
        "positive whole number",
        source_bucket_options=SourceBucketOptions(rejected_retention_days=value),
    )


def test_uploads_are_not_locked_unless_asked(seed: Synthesized) -> None:
    bucket_id, _, _ = source_policy(seed)
    properties = seed.json["Resources"][bucket_id]["Properties"]
    assert "ObjectLockEnabled" not in properties
    assert "ObjectLockConfiguration" not in properties


def test_object_lock_keeps_each_upload_in_governance_mode_which_only_administrators_bypass(as_iam: AsIam) -> None:
    # GIVEN a pipeline whose uploads are locked 30 days
    pipeline = new_pipeline(source_bucket_options=SourceBucketOptions(object_lock_days=30))
    synthesized = synthesize(cdk.Stack.of(pipeline))
    bucket_id, _, statements = source_policy(synthesized)
    properties = synthesized.json["Resources"][bucket_id]["Properties"]
    # THEN the bucket has Object Lock on, every new version kept 30 days in governance mode
    assert properties["ObjectLockEnabled"] is True
    assert properties["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}},
    }
    # AND bypassing governance is denied like deleting a version: to all but the account root and the admin role
    assert "s3:BypassGovernanceRetention" in statements["DenyVersionTampering"]["Action"]
    package = as_iam.bucket + "/drop/package.zip"
    assert not as_iam.may(BROAD, "s3:BypassGovernanceRetention", package)
    assert as_iam.may(as_iam.admin, "s3:BypassGovernanceRetention", package)


@pytest.mark.parametrize(("value", "shown"), [(0, "0"), (1.5, "1.5")])
def test_fails_when_object_lock_days_is_not_a_positive_whole_number(value: Any, shown: str) -> None:
    assert_fails(
        "source_bucket_options.object_lock_days",
        shown,
        "positive whole number",
        source_bucket_options=SourceBucketOptions(object_lock_days=value),
    )


@pytest.mark.parametrize("action", VERDICT_TAGGING)
def test_a_verdict_once_set_is_changed_by_no_one_but_the_admin_role(as_iam: AsIam, action: str) -> None:
    # GIVEN the bucket's policy as IAM reads it, a role of the account allowed s3:* on everything, and the admin role
    package = as_iam.bucket + "/drop/package.zip"

    def tagged(tags: dict[str, str]) -> dict[str, Any]:
        return {f"s3:ExistingObjectTag/{key}": value for key, value in tags.items()}

    # THEN on a version with a verdict (either), the broad role is refused and the admin role is not
    for verdict in ("accepted", "rejected"):
        assert not as_iam.may(BROAD, action, package, tagged({VERDICT_TAG: verdict, "team": "a"})), verdict
        assert as_iam.may(as_iam.admin, action, package, tagged({VERDICT_TAG: verdict})), verdict
    # AND on a version without one, the bucket's policy leaves the decision to the role's own policy
    assert as_iam.may(BROAD, action, package, tagged({"team": "a"}))


def test_no_upload_may_come_with_a_verdict(as_iam: AsIam) -> None:
    # GIVEN a granted uploader whose own policy allows s3:* on everything
    package = as_iam.bucket + "/drop/package.zip"

    def may_upload(tag_keys: list[str]) -> bool:
        return as_iam.may(as_iam.named, "s3:PutObject", package, {"s3:RequestObjectTagKeys": tag_keys})

    # THEN an upload that tags the verdict is refused, and one with other tags (or none) is not
    assert not may_upload([VERDICT_TAG])
    assert not may_upload(["team", VERDICT_TAG])
    assert may_upload(["team"])
    assert as_iam.may(as_iam.named, "s3:PutObject", package)


# --- the one object-upload grant, for an existing bucket ---------------------------------------------------


def imported_grant(*, with_key: bool) -> tuple[iam.Grant, dict[str, Any]]:
    """Grant a new role the upload of one key of an imported bucket; return the grant and the role's one policy."""
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket.from_bucket_name(stack, "Existing", "team-uploads")
    key = kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:eu-west-1:111122223333:key/1234abcd") if with_key else None
    role = iam.Role(stack, "Uploader", assumed_by=iam.AccountRootPrincipal())
    grant = grant_object_upload(role, bucket=bucket, object_key="drop/package.zip", key=key)
    [policy] = [
        v
        for v in synthesize(stack).json["Resources"].values()
        if v["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
    ]
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


# --- Bad input: object key, bucket options, uploaders -------------------------------------------------------------


@pytest.mark.parametrize(
    ("object_key", "shown", "advice"),
    [
        pytest.param("", "''", "Name the object", id="empty-object-key"),
        pytest.param("/source.zip", "'/source.zip'", "Drop the leading '/'", id="object-key-with-leading-slash"),
        pytest.param("uploads/*.zip", "'uploads/*.zip'", "Wildcards are not supported", id="object-key-with-wildcard"),
        pytest.param(123, "123", "Expected a str, not int; pass e.g. 'source.zip'", id="object-key-not-a-string"),
        pytest.param("uploads/", "'uploads/'", "is a folder, not an object", id="object-key-is-a-folder"),
    ],
)
def test_fails_when_the_object_key_is_bad(object_key: Any, shown: str, advice: str) -> None:
    assert_fails("object_key", shown, advice, object_key=object_key)


def test_fails_when_object_key_is_longer_than_s3_allows() -> None:
    key = "uploads/" + "é" * 600  # 608 characters, but 1208 bytes in UTF-8: S3 counts bytes
    assert_fails("object_key", f"'{key[:40]}... (1208 bytes)'", "at most 1024 bytes", object_key=key)


@pytest.mark.parametrize("name", ["My_Uploads", "ab", "uploads-", "my..uploads", "192.168.5.4"])
def test_fails_when_bucket_name_is_not_valid_for_s3(name: str) -> None:
    assert_fails(
        "source_bucket_options.bucket_name",
        repr(name),
        "S3 bucket names have 3 to 63 characters",
        source_bucket_options=SourceBucketOptions(bucket_name=name),
    )


def test_fails_when_noncurrent_version_retention_is_negative() -> None:
    assert_fails(
        "source_bucket_options.noncurrent_version_retention_days",
        "-1",
        "positive whole number",
        source_bucket_options=SourceBucketOptions(noncurrent_version_retention_days=-1),
    )


def test_fails_when_server_access_logs_is_a_string() -> None:
    # "false" is truthy: without the check, logs would silently stay on while the user believes them off.
    assert_fails(
        "source_bucket_options.server_access_logs",
        "'false'",
        "Expected a bool, not str",
        source_bucket_options=SourceBucketOptions(server_access_logs="false"),
    )


def test_fails_when_removal_policy_is_a_string() -> None:
    assert_fails(
        "source_bucket_options.removal_policy",
        "'destroy'",
        "Expected a RemovalPolicy, not str; pass e.g. RemovalPolicy.DESTROY",
        source_bucket_options=SourceBucketOptions(removal_policy="destroy"),
    )


def test_fails_when_removal_policy_is_snapshot() -> None:
    # CloudFormation rejects DeletionPolicy Snapshot on AWS::S3::Bucket and AWS::KMS::Key (cfn-lint E3035).
    assert_fails(
        "source_bucket_options.removal_policy",
        "<RemovalPolicy.SNAPSHOT: 'SNAPSHOT'>",
        "cannot snapshot an S3 bucket or a KMS key",
        source_bucket_options=SourceBucketOptions(removal_policy=cdk.RemovalPolicy.SNAPSHOT),
    )


def test_fails_when_an_uploader_is_a_service_principal() -> None:
    assert_fails(
        "source_bucket_options.uploaders[0]",
        "<aws_cdk.aws_iam.ServicePrincipal object at ",
        "service principals cannot upload",
        source_bucket_options=SourceBucketOptions(uploaders=[iam.ServicePrincipal("lambda.amazonaws.com")]),
    )


def test_fails_when_an_uploader_is_an_arn_string() -> None:
    assert_fails(
        "source_bucket_options.uploaders[0]",
        repr(ROLE_ARN),
        "Pass an IAM role or user",
        source_bucket_options=SourceBucketOptions(uploaders=[ROLE_ARN]),
    )


def test_fails_when_uploaders_is_one_principal_not_a_list() -> None:
    assert_fails(
        "source_bucket_options.uploaders",
        "<aws_cdk.aws_iam.AccountRootPrincipal object at ",
        "Expected a list of IAM roles or users, not AccountRootPrincipal; pass e.g. [uploader_role]",
        source_bucket_options=SourceBucketOptions(uploaders=iam.AccountRootPrincipal()),
    )


def test_fails_when_admin_role_is_an_arn_string() -> None:
    assert_fails(
        "source_bucket_options.admin_role",
        repr(ROLE_ARN),
        "iam.Role.from_role_arn(self, 'Admin', arn)",
        source_bucket_options=SourceBucketOptions(admin_role=ROLE_ARN),
    )


def test_fails_when_grant_upload_gets_a_service_principal() -> None:
    pipeline = new_pipeline()
    with pytest.raises(InputError, match=r"grantee: got <aws_cdk\.aws_iam\.ServicePrincipal .*service principals"):
        pipeline.grant_upload(iam.ServicePrincipal("codebuild.amazonaws.com"))


def test_fails_when_grant_upload_gets_an_arn_string() -> None:
    pipeline = new_pipeline()
    with pytest.raises(InputError, match=r"grantee: got 'arn:aws:iam::111122223333:role/uploader'.*from_role_arn"):
        pipeline.grant_upload(ROLE_ARN)  # type: ignore[arg-type]


def test_fails_when_grant_upload_on_an_existing_bucket_gets_a_service_principal() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    pipeline = ValidatedS3Pipeline(
        stack, "Pipeline", validation=VALID, source_bucket=s3.Bucket.from_bucket_name(stack, "Existing", "uploads")
    )
    with pytest.raises(InputError, match=r"grantee: got <aws_cdk\.aws_iam\.ServicePrincipal .*service principals"):
        pipeline.grant_upload(iam.ServicePrincipal("codebuild.amazonaws.com"))


def test_fails_when_used_alone_with_a_dict_for_its_options() -> None:
    with pytest.raises(
        InputError, match=r"options: got \{'server_access_logs': False\}\. Expected SourceBucketOptions"
    ):
        SourceBucket(
            cdk.Stack(cdk.App(), "Stack"), "Source", object_key="source.zip", options={"server_access_logs": False}
        )  # type: ignore[arg-type]
