"""The audit trail: a CloudTrail trail recording the S3 data events of the source and artifact buckets.

Its log files are validated (digest files), encrypted with a key of their own, kept in a private, access-logged
bucket and delivered to an encrypted log group too. See ``AuditOptions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from aws_cdk import Aws, CfnResource, Duration, RemovalPolicy
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .._buckets import new_access_log_bucket, private_bucket, send_access_logs
from .._compliance import acknowledge_in_packs
from .._keys import new_log_key
from .._logs import encrypted_log_group
from .options import AuditOptions

_CLOUDTRAIL = iam.ServicePrincipal("cloudtrail.amazonaws.com")


@dataclass(frozen=True, kw_only=True)
class AuditTrail:
    """What ``add_trail`` made."""

    trail: cloudtrail.Trail
    """The trail, in all Regions, recording the buckets' data events."""
    key: kms.Key
    """Encrypts the trail's log files, bucket and log group."""
    bucket: s3.Bucket
    """Where the trail's log files are kept."""
    access_log_bucket: s3.IBucket
    """Where the trail bucket's server access logs go."""
    log_group: logs.LogGroup
    """Where the trail delivers its events too."""
    logs_role: iam.Role
    """The role CloudTrail uses to write to ``log_group``."""


def add_trail(
    scope: Construct,
    audit: AuditOptions,
    *,
    source_bucket: s3.IBucket,
    artifact_bucket: s3.IBucket,
    access_log_bucket: s3.IBucket | None,
) -> AuditTrail:
    """Define a trail recording the data events of ``source_bucket`` and ``artifact_bucket`` in ``scope``.

    Args:
        audit: how long the log files are kept, and whether management events are recorded too.
        access_log_bucket: where the trail bucket's server access logs go. None: a new access log bucket.
    """
    key = _trail_key(scope)
    access_logs = access_log_bucket or new_access_log_bucket(
        scope, "TrailAccessLogs", removal_policy=RemovalPolicy.RETAIN
    )
    bucket = _trail_bucket(scope, key=key, access_log_bucket=access_logs, retention_days=audit.trail_retention_days)
    log_group = encrypted_log_group(scope, "TrailLogs", key=key, retention_days=audit.trail_retention_days)
    role, policy = _delivery_role(scope, log_group)
    management = cloudtrail.ReadWriteType.ALL if audit.trail_management_events else cloudtrail.ReadWriteType.NONE
    trail = cloudtrail.Trail(
        scope,
        "Trail",
        bucket=bucket,
        encryption_key=key,
        enable_file_validation=True,
        # All Regions, as CIS asks; with management events off it records only these buckets' data events.
        is_multi_region_trail=True,
        include_global_service_events=True,
        management_events=management,
    )
    trail.add_s3_event_selector(
        [cloudtrail.S3EventSelector(bucket=source_bucket), cloudtrail.S3EventSelector(bucket=artifact_bucket)],
        read_write_type=cloudtrail.ReadWriteType.ALL,
        include_management_events=audit.trail_management_events,
    )
    cfn_trail = cast(cloudtrail.CfnTrail, trail.node.default_child)
    cfn_trail.cloud_watch_logs_log_group_arn = log_group.log_group_arn
    cfn_trail.cloud_watch_logs_role_arn = role.role_arn
    cfn_trail.add_resource_dependency(cast(CfnResource, policy.node.default_child))
    return AuditTrail(
        trail=trail, key=key, bucket=bucket, access_log_bucket=access_logs, log_group=log_group, logs_role=role
    )


def _trail_key(scope: Construct) -> kms.Key:
    """The trail's key, whose policy lets CloudTrail use it as CloudTrail's documentation asks."""
    key = new_log_key(scope, "TrailKey", description="Encrypts the pipeline's CloudTrail log files")
    this_account = {"aws:SourceAccount": Aws.ACCOUNT_ID}
    any_trail_of_this_account = f"arn:{Aws.PARTITION}:cloudtrail:*:{Aws.ACCOUNT_ID}:trail/*"
    # Encrypt log files of this account's trails, and describe the key.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudTrailEncryptLogFiles",
            principals=[_CLOUDTRAIL],
            actions=["kms:GenerateDataKey*"],
            resources=["*"],
            conditions={
                "StringEquals": this_account,
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": any_trail_of_this_account},
            },
        )
    )
    # A file CloudTrail writes without its own encryption header gets the bucket's default, this key, through S3.
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudTrailBucketDefaultEncryption",
            principals=[_CLOUDTRAIL],
            actions=["kms:GenerateDataKey*"],
            resources=["*"],
            conditions={"StringEquals": {**this_account, "kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
        )
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudTrailDescribeKey",
            principals=[_CLOUDTRAIL],
            actions=["kms:DescribeKey"],
            resources=["*"],
            conditions={"StringEquals": this_account},
        )
    )
    return key


def _trail_bucket(scope: Construct, *, key: kms.IKey, access_log_bucket: s3.IBucket, retention_days: int) -> s3.Bucket:
    """A private bucket, encrypted with ``key``, keeping the log files ``retention_days`` days."""
    bucket = private_bucket(
        scope,
        "TrailBucket",
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        lifecycle_rules=[
            s3.LifecycleRule(
                expiration=Duration.days(retention_days),
                noncurrent_version_expiration=Duration.days(30),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
    send_access_logs(bucket, to=access_log_bucket, prefix="trail/")
    acknowledge_in_packs(
        bucket,
        "S3BucketReplicationEnabled",
        "The trail's log files are validated by CloudTrail's signed digest files and kept in this Region; "
        "a replica needs a bucket in a second Region that the user chooses.",
    )
    return bucket


def _delivery_role(scope: Construct, log_group: logs.ILogGroup) -> tuple[iam.Role, iam.ManagedPolicy]:
    """CloudTrail's delivery role, defined here rather than by the Trail construct.

    A customer managed policy naming this one log group, which the trail waits for (the role itself it references).
    """
    role = iam.Role(
        scope,
        "TrailLogsRole",
        assumed_by=_CLOUDTRAIL,
        description="Lets the pipeline's trail deliver its events to its log group",
    )
    policy = iam.ManagedPolicy(
        scope,
        "TrailLogsPolicy",
        description="Lets the pipeline's trail deliver its events to its log group",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        ],
    )
    return role, policy
