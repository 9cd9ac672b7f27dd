"""The bucket developers upload packages to: versioned, KMS-encrypted, private, TLS-only, access-logged, locked down.

Also home to the one object-upload grant, used for a bucket the library creates and for an existing one alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import jsii
from aws_cdk import Aws, Duration, IStableListProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct, IValidation

from .._buckets import (
    acknowledge_no_access_logs,
    administrators_only_condition,
    new_access_log_bucket,
    private_bucket,
    send_access_logs,
)
from .._buildspec import VERDICT_TAG
from .._compliance import acknowledge_in_packs, principal_arns
from .._grants import managed_grantee
from .._keys import new_key
from .._warnings import SOURCE_ACCESS_LOGS_DISABLED, SOURCE_BUCKET_NOT_RETAINED
from ..errors import Problem, raise_if_any, unresolved, wrong_type
from .options import SourceBucketOptions, grantee_problems, object_key_problems

GUARDED_CONFIGURATION = (
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketNotification",
    "s3:PutReplicationConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketLogging",
)
"""The bucket settings only the account root, the admin role and CloudFormation may change: each could expire every
version, drop the policy's denies, silence the trigger, copy uploads elsewhere, change their encryption, re-enable
ACLs or public access, or stop the access logs. Versioning and version deletion are guarded with the objects."""

VERDICT_TAGGING = (
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
)
"""What would change a version's tags: denied, once its verdict is set, to all but the administrators, so that the
package's own commands (which run after it) cannot have their version expire early as rejected."""

OBJECT_ACTIONS = ("s3:*Object*", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
"""Every S3 action on objects: reading, writing, deleting, tagging, restoring them and their versions."""
S3_CONTEXT = "kms:EncryptionContext:aws:s3:arn"
"""The KMS encryption context S3 gives each object it encrypts: the object's ARN, or the bucket's with a Bucket Key."""

_REPLICATION_REASON = (
    "Cross-Region replication needs a second bucket in a Region the user chooses; uploads are versioned, kept "
    "when the stack is deleted and can be uploaded again, so the construct does not pick a Region for them."
)


def grant_object_upload(
    grantee: iam.IGrantable, *, bucket: s3.IBucket, object_key: str, key: kms.IKey | None, per_object: bool = False
) -> iam.Grant:
    """Let ``grantee`` (a role or user) upload ``object_key`` to ``bucket``, and only that object, with ``key``.

    Allows ``s3:PutObject`` and ``s3:AbortMultipartUpload`` on the one object, and lets the grantee use ``key`` to
    encrypt (``kms:GenerateDataKey``) and to complete multipart uploads (``kms:Decrypt``), which ``aws s3 cp`` uses
    for large files. For a role or user defined in the app, the statements go into a customer managed policy
    attached to it (``managed_grantee``); for an imported one, into its default policy, as CDK grants do. Raises
    ``InputError`` unless ``grantee`` has an IAM ARN.

    Args:
        grantee: the role or user that uploads.
        bucket: the source bucket, created or existing.
        object_key: the watched key.
        key: the bucket's KMS key; ``None`` for an existing bucket whose key is not known.
        per_object: the bucket uses no S3 Bucket Key, so KMS sees each object's ARN: the key may then be used for
            this object only. Default: False, for any object of the bucket.

    Returns:
        the S3 grant.
    """
    raise_if_any(grantee_problems("grantee", grantee))
    grantee = managed_grantee(grantee)
    grant = iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:PutObject", "s3:AbortMultipartUpload"],
        resource_arns=[bucket.arn_for_objects(object_key)],
    )
    if key is not None and per_object:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resource_arns=[key.key_arn],
            conditions={"StringEquals": {S3_CONTEXT: bucket.arn_for_objects(object_key)}},
        )
    elif key is not None:
        key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")
    return grant


@jsii.implements(IStableListProducer)
class _Admitted:
    """Fixed ARNs and a key's uploaders, read when the template is written."""

    def __init__(self, fixed: list[str], uploaders: _Arns) -> None:
        self._fixed, self._uploaders = fixed, uploaders

    def produce(self) -> list[str] | None:
        return [*self._fixed, *self._uploaders.arns]


@jsii.implements(IStableListProducer)
class _Arns:
    """The principals allowed to upload; read when the template is written, so later grants count."""

    def __init__(self, *arns: str) -> None:
        self.arns = list(arns)

    def produce(self) -> list[str] | None:
        return self.arns


class SourceBucket(Construct):
    """Define the upload bucket, its customer managed key (rotated) and its access log bucket.

    The bucket is versioned, so every upload is a version the pipeline can name; sends S3's own EventBridge
    events, which are durable and need no CloudTrail trail; blocks all public access; disables ACLs; and expires
    replaced versions. Its policy denies: requests without TLS; uploads to any key but ``object_key``; uploads by
    anyone not granted with ``grant_upload`` (the account's root user excepted); uploads naming another
    encryption than the bucket's KMS key; and deleting object versions or changing versioning to anyone but the
    root user, ``admin_role`` and CloudFormation.

    A bucket made without ``object_key`` is shared: each pipeline that watches it names its own key with ``watch``
    (a ``PipelineFoundation`` does this), each key has its own uploaders, and uploads to any key not watched are
    denied. A key watched with ``owners`` is also closed to reading and writing by every principal but those, its
    uploaders, the root user and ``admin_role``. A shared bucket does not use an S3 Bucket Key, so that each object
    is encrypted under its own ARN as KMS encryption context and a grant of the key can be limited to one key
    (``kms:EncryptionContext:aws:s3:arn``); each upload and read then calls KMS once. Its policy grows by one or two
    statements per key (S3 allows 20 KB of bucket policy: about 26 keys with owners and one uploader each).

    Args:
        object_key: the one key developers upload to. Default: none, a shared bucket.
        options: settings for the bucket. Default: ``SourceBucketOptions()``.
        access_log_bucket: where server access logs go. Default: a new private log bucket, when logs are on.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        object_key: str | None = None,
        options: SourceBucketOptions | None = None,
        access_log_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, id)
        options = options or SourceBucketOptions()
        if not isinstance(options, SourceBucketOptions):
            raise_if_any([wrong_type("options", options, "SourceBucketOptions", "SourceBucketOptions()")])
        key_problems = object_key_problems("object_key", object_key) if object_key is not None else []
        raise_if_any([*key_problems, *options.problems("options")])
        if not options.server_access_logs:
            SOURCE_ACCESS_LOGS_DISABLED.add(
                self,
                "Server access logging of the source bucket is off, so who uploaded or read a package is not "
                "recorded. Set SourceBucketOptions(server_access_logs=True), or acknowledge this warning.",
            )
        if options.removal_policy != RemovalPolicy.RETAIN:
            SOURCE_BUCKET_NOT_RETAINED.add(
                self,
                f"The source bucket and its key use removal policy {options.removal_policy}: deleting the stack "
                "can delete uploads. Use RemovalPolicy.RETAIN, or acknowledge this warning.",
            )
        self.object_key: str | None = object_key
        """The one key developers upload to; the bucket policy denies uploads to any other. None: a shared bucket,
        whose keys are ``watched_keys``."""

        self.key: kms.Key = new_key(self, "Key", description="Encrypts packages uploaded to the source bucket")
        """The customer managed key (rotated) that encrypts every upload; uploads naming another key are denied."""
        self.key.apply_removal_policy(options.removal_policy)
        self.access_log_bucket: s3.IBucket | None = None
        """Where the bucket's server access logs go; ``None`` when they are off."""
        if options.server_access_logs:
            self.access_log_bucket = access_log_bucket or new_access_log_bucket(
                self, "AccessLogs", removal_policy=options.removal_policy
            )
        self.bucket: s3.Bucket = private_bucket(
            self,
            "Bucket",
            bucket_name=options.bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            # A Bucket Key makes the bucket's ARN every object's encryption context; a shared bucket's grants need
            # the object's, to limit each key's readers to its own object.
            bucket_key_enabled=object_key is not None,
            lifecycle_rules=_lifecycle_rules(options),
            **_object_lock(options.object_lock_days),
            removal_policy=options.removal_policy,
        )
        """The versioned upload bucket, which sends S3's "Object Created" events to EventBridge."""
        if self.access_log_bucket is not None:
            send_access_logs(self.bucket, to=self.access_log_bucket, prefix="source/")
        else:
            acknowledge_no_access_logs(self.bucket, warning=SOURCE_ACCESS_LOGS_DISABLED.id)
        # The L2's event_bridge_enabled deploys a custom-resource Lambda; CloudFormation sets it natively.
        cast(
            s3.CfnBucket, self.bucket.node.default_child
        ).notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        acknowledge_in_packs(self.bucket, "S3BucketReplicationEnabled", _REPLICATION_REASON)

        self._root = f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:root"
        self._uploaders: dict[str, _Arns] = {}
        if object_key is not None:
            self._uploaders[object_key] = _Arns(self._root)
        self.administrators: list[str] = [self._root, *([options.admin_role.role_arn] if options.admin_role else [])]
        """The root user's ARN and ``admin_role``'s: who, with CloudFormation, may change the bucket's settings."""
        self._owners = _Arns()  # every key's owners and the admin role, none of whom uploads
        self._lock_down()
        if object_key is None:
            self.node.add_validation(_WatchesSomeKey(self))
        for uploader in options.uploaders:
            self.grant_upload(uploader)

    @property
    def watched_keys(self) -> list[str]:
        """Every key watched, in the order they were added."""
        return list(self._uploaders)

    def watch(self, object_key: str, *, owners: Sequence[str] = ()) -> None:
        """Accept uploads to ``object_key`` too, from the uploaders later granted on it; shared buckets only.

        With ``owners`` (ARN patterns, e.g. ``arn:aws:iam::111122223333:role/s3vp/payments/*``), the policy also
        denies every action on the object to every principal but those, the key's uploaders, the root user and
        ``admin_role``, whatever their own policies allow; the owners and ``admin_role`` still may not upload.

        Raises ``InputError`` for a key that is not a plain string (the policy lists it), is already watched, or on
        a bucket made for one ``object_key``.
        """
        found = object_key_problems("object_key", object_key)
        if not found and unresolved(object_key):
            found = [Problem("object_key", object_key, "Give the key as a plain string, e.g. 'teams/a/source.zip'.")]
        if not found and self.object_key is not None:
            found = [
                Problem(
                    "object_key",
                    object_key,
                    f"This bucket was made for one key ({self.object_key!r}); make a SourceBucket without "
                    "object_key to share it between pipelines.",
                )
            ]
        if not found and object_key in self._uploaders:
            found = [Problem("object_key", object_key, "Another pipeline already watches this key: give each its own.")]
        raise_if_any(found)
        self._uploaders[object_key] = _Arns(self._root)
        number = len(self._uploaders)
        if not owners:
            self.bucket.add_to_resource_policy(self._deny_uploads_by_others(object_key, number))
            return
        # One statement per key (S3 allows 20 KB of policy): every object action but by the owners, uploaders and
        # administrators; the owners and the admin role are kept from uploading by one statement for all keys.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"DenyOthersOnKey{number}",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(OBJECT_ACTIONS),
                resources=[self.bucket.arn_for_objects(object_key)],
                conditions={"ArnNotLike": {"aws:PrincipalArn": self.admitted(object_key, *owners)}},
            )
        )
        if not self._owners.arns:
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="DenyUploadsByOwners",
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[self.bucket.arn_for_objects("*")],
                    conditions={"ArnLike": {"aws:PrincipalArn": Lazy.list(self._owners)}},
                )
            )
            self._owners.arns.extend(self.administrators[1:])
        self._owners.arns.extend(owners)

    def admitted(self, object_key: str, *also: str) -> list[str]:
        """The ARNs (and patterns) ``also``, the root user, ``admin_role`` and every uploader of ``object_key``, as
        a list token read when the template is written, so that uploaders granted later count."""
        return Lazy.list(_Admitted([*also, *self.administrators[1:]], self._uploaders[object_key]))

    def grant_upload(self, grantee: iam.IGrantable, object_key: str | None = None) -> iam.Grant:
        """Let ``grantee`` (a role or user) upload a watched object, and only it, with the bucket's key.

        The bucket policy denies uploads to every other principal, so this is the only way to allow one.

        Args:
            grantee: the role or user that uploads.
            object_key: the key it may upload to, one of ``watched_keys``. Default: the bucket's ``object_key``.
        """
        key = self.object_key if object_key is None else object_key
        if key is None or key not in self._uploaders:
            raise_if_any(
                [Problem("object_key", key, f"Name a watched key: {', '.join(map(repr, self._uploaders)) or 'none'}.")]
            )
        assert key is not None
        raise_if_any(_same_stack_problems(grantee, self))
        grant = grant_object_upload(
            grantee, bucket=self.bucket, object_key=key, key=self.key, per_object=self.object_key is None
        )
        self._uploaders[key].arns.extend(principal_arns(grantee))
        return grant

    def _deny_uploads_by_others(self, object_key: str, number: int) -> iam.PolicyStatement:
        """Deny uploads to ``object_key`` by anyone not granted on it; the first key's statement keeps its sid."""
        return iam.PolicyStatement(
            sid="DenyUploadsByOthers" if number == 1 else f"DenyUploadsByOthers{number}",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[self.bucket.arn_for_objects(object_key)],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": Lazy.list(self._uploaders[object_key])}},
        )

    def _lock_down(self) -> None:
        anyone = [iam.AnyPrincipal()]
        watched: list[str]
        if self.object_key is not None:
            watched = [self.bucket.arn_for_objects(self.object_key)]
            # The encryption rules name the one key, as they always have; a shared bucket's cover every object.
            encrypted = watched
        else:
            watched = Lazy.list(_WatchedArns(self))
            encrypted = [self.bucket.arn_for_objects("*")]

        def deny_uploads(sid: str, conditions: dict[str, Any]) -> iam.PolicyStatement:
            return iam.PolicyStatement(
                sid=sid,
                effect=iam.Effect.DENY,
                principals=anyone,
                actions=["s3:PutObject"],
                resources=encrypted,
                conditions=conditions,
            )

        administrators_only = administrators_only_condition(self.administrators)
        sse, key_id = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id"
        statements = [
            iam.PolicyStatement(
                sid="DenyUploadsToOtherKeys",
                effect=iam.Effect.DENY,
                principals=anyone,
                actions=["s3:PutObject"],
                not_resources=watched,
            ),
            *([self._deny_uploads_by_others(self.object_key, 1)] if self.object_key is not None else []),
            deny_uploads("DenyOtherEncryption", {"StringNotEquals": {sse: "aws:kms"}, "Null": {sse: "false"}}),
            deny_uploads("DenyOtherKey", {"StringNotEquals": {key_id: self.key.key_arn}, "Null": {key_id: "false"}}),
            deny_uploads(
                "DenyCustomerProvidedKeys", {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}
            ),
            iam.PolicyStatement(
                sid="DenyVersionTampering",
                effect=iam.Effect.DENY,
                principals=anyone,
                actions=["s3:DeleteObjectVersion", "s3:PutBucketVersioning", "s3:BypassGovernanceRetention"],
                resources=[self.bucket.bucket_arn, self.bucket.arn_for_objects("*")],
                conditions=administrators_only,
            ),
            iam.PolicyStatement(
                sid="DenyVerdictChanges",
                effect=iam.Effect.DENY,
                principals=anyone,
                actions=list(VERDICT_TAGGING),
                resources=[self.bucket.arn_for_objects("*")],
                conditions={**administrators_only, "Null": {f"s3:ExistingObjectTag/{VERDICT_TAG}": "false"}},
            ),
            # S3 evaluates no existing tags on uploads: a verdict cannot come with the upload, whoever uploads.
            iam.PolicyStatement(
                sid="DenyVerdictsOnUpload",
                effect=iam.Effect.DENY,
                principals=anyone,
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects("*")],
                conditions={"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": [VERDICT_TAG]}},
            ),
            iam.PolicyStatement(
                sid="DenyConfigurationChanges",
                effect=iam.Effect.DENY,
                principals=anyone,
                actions=list(GUARDED_CONFIGURATION),
                resources=[self.bucket.bucket_arn],
                conditions=administrators_only,
            ),
        ]
        for statement in statements:
            self.bucket.add_to_resource_policy(statement)


def _object_lock(days: int | None) -> dict[str, Any]:
    """The bucket's Object Lock settings: governance mode for ``days``, or none."""
    if days is None:
        return {}
    return {
        "object_lock_enabled": True,
        "object_lock_default_retention": s3.ObjectLockRetention.governance(Duration.days(days)),
    }


def _lifecycle_rules(options: SourceBucketOptions) -> list[s3.LifecycleRule]:
    """Replaced uploads expire after ``noncurrent_version_retention_days``; refused ones, tagged so by the validate
    stage, after ``rejected_retention_days`` (S3 honours the shorter of two expirations): a large one costs."""
    return [
        s3.LifecycleRule(
            noncurrent_version_expiration=Duration.days(options.noncurrent_version_retention_days),
            abort_incomplete_multipart_upload_after=Duration.days(7),
        ),
        s3.LifecycleRule(
            id="ExpireRejectedUploads",
            tag_filters={VERDICT_TAG: "rejected"},
            expiration=Duration.days(options.rejected_retention_days),
            noncurrent_version_expiration=Duration.days(options.rejected_retention_days),
        ),
    ]


def _same_stack_problems(grantee: iam.IGrantable, source: SourceBucket) -> list[Problem]:
    """The bucket policy names each uploader: one defined in another stack would make the bucket's stack depend on
    it, while that stack (with the pipeline and its grants) already depends on the bucket's."""
    if not isinstance(grantee, (iam.Role, iam.User)) or Stack.of(grantee) is Stack.of(source):
        return []
    return [
        Problem(
            "grantee",
            grantee.node.path,
            f"Defined in stack {Stack.of(grantee).stack_name}, not in {Stack.of(source).stack_name} with the source "
            "bucket, whose policy names every uploader. Import it instead (iam.Role.from_role_name(self, 'Uploader', "
            "'developers')), or define it in the bucket's stack.",
        )
    ]


@jsii.implements(IStableListProducer)
class _WatchedArns:
    """The ARNs of a shared bucket's watched keys, read when the template is written."""

    def __init__(self, source: SourceBucket) -> None:
        self._source = source

    def produce(self) -> list[str] | None:
        return [self._source.bucket.arn_for_objects(key) for key in self._source.watched_keys]


@jsii.implements(IValidation)
class _WatchesSomeKey:
    """A shared bucket must watch at least one key: with none, its policy could not say which uploads to accept."""

    def __init__(self, source: SourceBucket) -> None:
        self._source = source

    def validate(self) -> list[str]:
        if self._source.watched_keys:
            return []
        return [
            f"The shared source bucket {self._source.node.path} watches no key: build a ValidatedS3Pipeline on it "
            "(or call watch('teams/a/source.zip')), or remove it."
        ]
