"""Buckets the construct keeps for itself: access logs and pipeline artifacts."""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

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
