"""Buckets the construct keeps for itself: access logs and pipeline artifacts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

import jsii
from aws_cdk import Aws, CfnResource, Duration, IStableListProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IValidation

from ._compliance import acknowledge, acknowledge_in_packs, skip_checkov


def private_bucket(scope: Construct, id: str, **settings: Any) -> s3.Bucket:
    """Define a versioned bucket with all public access blocked, ACLs disabled and TLS 1.2+ required."""
    return s3.Bucket(
        scope,
        id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned=True,
        **settings,
    )


def new_access_log_bucket(scope: Construct, id: str, *, removal_policy: RemovalPolicy) -> s3.Bucket:
    """Define a private bucket that receives S3 server access logs and keeps them a year."""
    # S3 delivers access logs only to buckets encrypted with S3-managed keys.
    bucket = private_bucket(
        scope,
        id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        lifecycle_rules=[
            s3.LifecycleRule(expiration=Duration.days(365), noncurrent_version_expiration=Duration.days(30))
        ],
        removal_policy=removal_policy,
    )
    sse_s3 = "S3 server access logging delivers only to buckets encrypted with S3-managed keys (SSE-S3), not SSE-KMS."
    replication = (
        "Access logs are an audit copy kept for a year in this Region; replicating them needs a bucket in a second "
        "Region that the user chooses."
    )
    acknowledge_in_packs(bucket, "S3DefaultEncryptionKMS", sse_s3)
    acknowledge_in_packs(bucket, "S3BucketReplicationEnabled", replication)
    skip_checkov(
        bucket,
        "CKV_AWS_18",
        "This is the access log bucket: logging its own requests into itself would log every log delivery.",
    )
    acknowledge(
        bucket,
        "AwsSolutions-S1",
        "This is the access log bucket: logging its own requests into itself would log every log delivery.",
    )
    return bucket


def acknowledge_no_access_logs(bucket: s3.Bucket, *, warning: str) -> None:
    """The findings of a bucket whose access logs the user turned off, as the warning ``warning`` told them."""
    reason = (
        "Server access logging is off because the app asked for it (SourceBucketOptions(server_access_logs=False)); "
        f"the warning {warning} says so until the app acknowledges it."
    )
    acknowledge(bucket, "AwsSolutions-S1", reason)
    acknowledge_in_packs(bucket, "S3BucketLoggingEnabled", reason)
    skip_checkov(bucket, "CKV_AWS_18", reason)


ARTIFACT_NONCURRENT_DAYS = 30
"""How long a replaced artifact version is kept: longer than an execution can wait at an approval (7 days) and be
rolled back, so that the evidence of a replacement outlives the execution it touched."""


def new_artifact_bucket(
    scope: Construct,
    id: str,
    *,
    key: kms.IKey,
    access_log_bucket: s3.IBucket,
    retention_days: int,
    bucket_name: str | None = None,
) -> s3.Bucket:
    """Define the pipeline's artifact store: KMS-encrypted with ``key``, private, TLS-only, access-logged."""
    bucket = private_bucket(
        scope,
        id,
        bucket_name=bucket_name,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        lifecycle_rules=[
            s3.LifecycleRule(
                expiration=Duration.days(retention_days),
                noncurrent_version_expiration=Duration.days(ARTIFACT_NONCURRENT_DAYS),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
    send_access_logs(bucket, to=access_log_bucket, prefix="artifacts/")
    acknowledge_in_packs(
        bucket,
        "S3BucketReplicationEnabled",
        "Artifacts are derived from versioned uploads and are rebuilt by running the pipeline again; a copy "
        "in a second Region would add cost without making any data recoverable that is not already.",
    )
    return bucket


def administrators_only_condition(administrators: Sequence[str]) -> dict[str, Any]:
    """The condition of a deny that spares ``administrators`` (ARNs: the root user, an admin role) and CloudFormation,
    which applies a bucket's own settings on stack updates."""
    return {
        "ArnNotEquals": {"aws:PrincipalArn": list(administrators)},
        "ForAllValues:StringNotEquals": {"aws:CalledVia": ["cloudformation.amazonaws.com"]},
    }


def deny_writes_by_others(
    bucket: s3.Bucket, *, writers: Sequence[str], administrators: Sequence[str] | None = None
) -> None:
    """Deny writing or deleting any object of ``bucket`` to every principal but ``writers`` (ARNs or ARN patterns,
    or a list token of them), ``administrators`` (default: the account's root user) and CloudFormation, whatever
    their own policies allow: a user with ``s3:*`` cannot replace or delete an artifact."""
    if administrators is None:
        administrators = [f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:root"]
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyWritesByOthers",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject*", "s3:DeleteObject*"],
            resources=[bucket.arn_for_objects("*")],
            conditions={"ArnNotLike": {"aws:PrincipalArn": writers}, **administrators_only_condition(administrators)},
        )
    )


def roles_below(scope: Construct) -> list[str]:
    """The ARN of every role defined below ``scope``, as a list token read when the template is written (so that
    roles of stages added later count)."""
    return Lazy.list(_RolesBelow(scope))


@jsii.implements(IStableListProducer)
class _RolesBelow:
    def __init__(self, scope: Construct) -> None:
        self._scope = scope

    def produce(self) -> list[str] | None:
        return [node.role_arn for node in self._scope.node.find_all() if isinstance(node, iam.Role)]


BUCKET_POLICY_BYTES = 20_480
"""The largest bucket policy S3 accepts: 20 KB."""

# The longest value each reference of a bucket policy can take once deployed, so that the estimate errs above.
_LONGEST_PSEUDO = {"AWS::Partition": 10, "AWS::AccountId": 12, "AWS::Region": 14, "AWS::URLSuffix": 16}
_LONGEST_NAME = 64  # a bucket's name (63), a role's (64)
_LONGEST_ARN = {"AWS::S3::Bucket": 83, "AWS::KMS::Key": 96}  # arn:aws-us-gov:s3:::<63>; ...:kms:<region>:<id>:key/<36>
_ANY_ARN = 200  # a role's with its path, anything else


def check_policy_size(bucket: s3.Bucket, *, fix: str) -> None:
    """Fail synthesis when ``bucket``'s policy, once deployed, could be larger than S3 accepts; the message says how
    large and ``fix``. Each reference is counted at the longest value it can take, so the estimate errs above."""
    bucket.node.add_validation(_PolicySize(bucket, fix))


@jsii.implements(IValidation)
class _PolicySize:
    def __init__(self, bucket: s3.Bucket, fix: str) -> None:
        self._bucket, self._fix = bucket, fix

    def validate(self) -> list[str]:
        policy = self._bucket.policy
        if policy is None:
            return []
        stack = Stack.of(self._bucket)
        types = {
            stack.get_logical_id(node): node.cfn_resource_type
            for node in stack.node.find_all()
            if isinstance(node, CfnResource)
        }
        document = stack.resolve(policy.document)
        size = len(json.dumps(_longest(document, types), separators=(",", ":")))
        if size <= BUCKET_POLICY_BYTES:
            return []
        return [
            f"The policy of {self._bucket.node.path} could be {size:,} bytes once deployed, more than the "
            f"{BUCKET_POLICY_BYTES:,} S3 accepts ({len(document['Statement'])} statements). {self._fix}"
        ]


def _longest(value: Any, types: dict[str, str]) -> Any:
    """``value`` with each CloudFormation reference replaced by a stand-in as long as the longest value it can take."""
    if isinstance(value, list):
        return [_longest(item, types) for item in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Ref"]:
        return "x" * _LONGEST_PSEUDO.get(value["Ref"], _LONGEST_NAME)
    if list(value) == ["Fn::GetAtt"]:
        logical_id, attribute = value["Fn::GetAtt"]
        return "x" * (_LONGEST_ARN.get(types.get(logical_id, ""), _ANY_ARN) if attribute == "Arn" else _ANY_ARN)
    if list(value) == ["Fn::Join"]:
        separator, parts = value["Fn::Join"]
        return separator.join(str(_longest(part, types)) for part in parts)
    if len(value) == 1 and next(iter(value)).startswith("Fn::"):
        return "x" * _ANY_ARN
    return {key: _longest(item, types) for key, item in value.items()}


def send_access_logs(bucket: s3.Bucket, *, to: s3.IBucket, prefix: str) -> None:
    """Deliver ``bucket``'s server access logs to ``to`` under ``prefix``, allowed by a bucket policy.

    The L2's ``server_access_logs_bucket`` grants delivery with an ACL unless the app sets a feature flag, and
    ACLs are disabled on our buckets; a policy scoped to this source bucket works in every app.
    """
    cast(s3.CfnBucket, bucket.node.default_child).logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
        destination_bucket_name=to.bucket_name, log_file_prefix=prefix
    )
    to.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
            actions=["s3:PutObject"],
            resources=[to.arn_for_objects(f"{prefix}*")],
            conditions={
                "ArnLike": {"aws:SourceArn": bucket.bucket_arn},
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            },
        )
    )
