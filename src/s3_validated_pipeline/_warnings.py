"""Every warning the library gives, in one registry: a weakened secure default, or input that is legal but likely
wrong. Each has a stable id a user can acknowledge (``Annotations.of(scope).acknowledge_warning(id, reason)``); the
table in docs/warnings-and-errors.md is checked against this registry by a test.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Annotations
from constructs import IConstruct

PREFIX = "s3-validated-pipeline:"


@dataclass(frozen=True)
class LibraryWarning:
    """One kind of warning: its stable id and when it is given."""

    id: str
    """The id to acknowledge, e.g. ``s3-validated-pipeline:retiredBuildEnvironment``."""
    when: str
    """What input causes it, as the table in docs/warnings-and-errors.md says."""

    def add(self, scope: IConstruct, message: str) -> None:
        """Give this warning on ``scope``: ``message`` says what it means and what to do."""
        Annotations.of(scope).add_warning_v2(self.id, message)


RETIRED_BUILD_ENVIRONMENT = LibraryWarning(
    f"{PREFIX}retiredBuildEnvironment",
    "A stage's build environment is no longer maintained (`BuildEnvironment.UBUNTU_20_04_NODE_16`); once per pipeline.",
)
CUSTOM_BUILD_IMAGE = LibraryWarning(
    f"{PREFIX}customBuildImage",
    "A `BuildEnvironment(image=...)` that is not CodeBuild-managed (`aws/codebuild/...`); once per pipeline.",
)
OBJECT_KEY_NOT_ZIP = LibraryWarning(f"{PREFIX}objectKeyNotZip", "`object_key` does not end in `.zip`.")
NO_UPLOADER = LibraryWarning(
    f"{PREFIX}noUploader",
    "The pipeline created its source bucket and, at synthesis, nobody was granted uploads (`grant_upload`, "
    "`SourceBucketOptions(uploaders=...)`).",
)
SUPERSEDED_EXECUTION_MODE = LibraryWarning(f"{PREFIX}supersededExecutionMode", "`execution_mode=SUPERSEDED`.")
EXISTING_SOURCE_BUCKET = LibraryWarning(
    f"{PREFIX}existingSourceBucket", "`source_bucket` is given; its settings cannot be checked."
)
SOURCE_ACCESS_LOGS_DISABLED = LibraryWarning(
    f"{PREFIX}sourceAccessLogsDisabled", "`SourceBucketOptions(server_access_logs=False)`."
)
SOURCE_BUCKET_NOT_RETAINED = LibraryWarning(
    f"{PREFIX}sourceBucketNotRetained", "`SourceBucketOptions(removal_policy=...)` other than `RETAIN`."
)
TRIGGER_CONCURRENCY_UNRESERVED = LibraryWarning(
    f"{PREFIX}triggerConcurrencyUnreserved", "`trigger_reserved_concurrency=None`."
)
ALARMS_WITHOUT_ACTIONS = LibraryWarning(
    f"{PREFIX}alarmsWithoutActions", "`OperationsOptions(notifications=None)` with alarms on: alarms notify nobody."
)
CHAT_CHANNEL_NOT_SUBSCRIBED = LibraryWarning(
    f"{PREFIX}chatChannelNotSubscribed",
    "`NotificationOptions(slack_channel=...)` with a channel the construct cannot subscribe to its chat topic.",
)
OPERATIONS_KEY_POLICY_UNCHANGED = LibraryWarning(
    f"{PREFIX}operationsKeyPolicyUnchanged",
    "Operations use an imported key whose policy the construct cannot extend for EventBridge, CloudWatch and SNS.",
)

BOOTSTRAP_EXECUTION_ROLE = LibraryWarning(
    f"{PREFIX}bootstrapExecutionRole",
    "A deploy target's CloudFormation runs as the CDK bootstrap's execution role (AdministratorAccess unless "
    "bootstrapped with `--cloudformation-execution-policies`): every `commands` target, and a `cloudformation` "
    "target without `deployment_role_arn`.",
)

WARNINGS: tuple[LibraryWarning, ...] = (
    RETIRED_BUILD_ENVIRONMENT,
    CUSTOM_BUILD_IMAGE,
    SUPERSEDED_EXECUTION_MODE,
    OBJECT_KEY_NOT_ZIP,
    EXISTING_SOURCE_BUCKET,
    NO_UPLOADER,
    SOURCE_ACCESS_LOGS_DISABLED,
    SOURCE_BUCKET_NOT_RETAINED,
    TRIGGER_CONCURRENCY_UNRESERVED,
    ALARMS_WITHOUT_ACTIONS,
    CHAT_CHANNEL_NOT_SUBSCRIBED,
    OPERATIONS_KEY_POLICY_UNCHANGED,
    BOOTSTRAP_EXECUTION_ROLE,
)
"""Every warning, in the order of the table in docs/warnings-and-errors.md."""
