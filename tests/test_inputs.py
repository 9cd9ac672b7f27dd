"""Bad input fails while the construct is built, naming the argument, showing the value and saying what to do.

Weakened secure defaults are accepted but warned about, with stable ids a user can acknowledge.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_s3 as s3

from s3_validated_pipeline import (
    BuildEnvironment,
    InputError,
    SourceBucketOptions,
    ValidatedS3Pipeline,
    ValidationOptions,
)
from tests.conftest import synthesize

GOOD = ValidationOptions(commands=["npm ci"])


def build(**overrides: Any) -> ValidatedS3Pipeline:
    stack = cdk.Stack(cdk.App(), "Stack")
    return ValidatedS3Pipeline(stack, "Pipeline", **{"validation": GOOD, **overrides})


def problems_of(**overrides: Any) -> InputError:
    with pytest.raises(InputError) as raised:
        build(**overrides)
    return raised.value


@pytest.mark.parametrize(
    ("overrides", "argument", "shown", "advice"),
    [
        pytest.param(
            {"validation": ValidationOptions(commands=[])},
            "validation.commands",
            "got []",
            "at least one shell command",
            id="empty-command-list",
        ),
        pytest.param(
            {"validation": ValidationOptions(commands="npm ci")},
            "validation.commands",
            "got 'npm ci'",
            "list of commands",
            id="commands-as-one-string",
        ),
        pytest.param(
            {"validation": ValidationOptions(commands=["npm ci", "  "])},
            "validation.commands",
            "got ['npm ci', '  ']",
            "Remove the empty command",
            id="blank-command",
        ),
        pytest.param({"object_key": ""}, "object_key", "got ''", "Name the object", id="empty-object-key"),
        pytest.param(
            {"object_key": "/source.zip"},
            "object_key",
            "got '/source.zip'",
            "Drop the leading '/'",
            id="object-key-with-leading-slash",
        ),
        pytest.param(
            {"object_key": "uploads/*.zip"},
            "object_key",
            "got 'uploads/*.zip'",
            "Wildcards are not supported",
            id="object-key-with-wildcard",
        ),
        pytest.param(
            {"validation": ValidationOptions(commands=["true"], required_files=["/etc/passwd"])},
            "validation.required_files[0]",
            "got '/etc/passwd'",
            "relative to the package root",
            id="absolute-required-file",
        ),
        pytest.param(
            {"validation": ValidationOptions(commands=["true"], required_files=["package.json", "../secrets.txt"])},
            "validation.required_files[1]",
            "got '../secrets.txt'",
            "must lie inside the package",
            id="required-file-escaping-the-root",
        ),
        pytest.param(
            {"validation": ValidationOptions(commands=["true"], required_files=["src/a/../../../x"])},
            "validation.required_files[0]",
            "got 'src/a/../../../x'",
            "must lie inside the package",
            id="required-file-escaping-the-root-midway",
        ),
        pytest.param(
            {"validation": ValidationOptions(commands=["true"], required_files=["src\\index.ts"])},
            "validation.required_files[0]",
            "got 'src\\\\index.ts'",
            "'/' separators",
            id="required-file-with-backslash",
        ),
        pytest.param(
            {"validation": ValidationOptions(commands=["true"], required_files=[""])},
            "validation.required_files[0]",
            "got ''",
            "name a file",
            id="empty-required-file",
        ),
        pytest.param(
            {"log_retention_days": 0},
            "log_retention_days",
            "got 0",
            "positive whole number",
            id="zero-retention",
        ),
        pytest.param(
            {"log_retention_days": -30},
            "log_retention_days",
            "got -30",
            "positive whole number",
            id="negative-retention",
        ),
        pytest.param(
            {"log_retention_days": 42},
            "log_retention_days",
            "got 42",
            "Pick the nearest",
            id="retention-cloudwatch-does-not-offer",
        ),
        pytest.param(
            {"artifact_retention_days": 0},
            "artifact_retention_days",
            "got 0",
            "positive whole number",
            id="zero-artifact-retention",
        ),
        pytest.param(
            {"source_bucket_options": SourceBucketOptions(noncurrent_version_retention_days=-1)},
            "source_bucket_options.noncurrent_version_retention_days",
            "got -1",
            "positive whole number",
            id="negative-noncurrent-version-retention",
        ),
        pytest.param(
            {"validation": ValidationOptions(commands=["true"], build_environment=BuildEnvironment(image=" "))},
            "validation.build_environment.image",
            "got ' '",
            "CodeBuild-managed image",
            id="blank-build-image",
        ),
        pytest.param(
            {"validation": ValidationOptions(commands=["true"], timeout=cdk.Duration.minutes(1))},
            "validation.timeout",
            "got '1 minute'",
            "5 minutes to 36 hours",
            id="timeout-below-codebuild-minimum",
        ),
        pytest.param(
            {"validation": {"commands": ["npm ci"]}},
            "validation",
            "got {'commands': ['npm ci']}",
            "pass e.g. ValidationOptions(commands=",
            id="validation-as-dict",
        ),
    ],
)
def test_fails_when_input_is_bad(overrides: dict[str, Any], argument: str, shown: str, advice: str) -> None:
    error = problems_of(**overrides)
    [problem] = error.problems
    assert problem.argument == argument
    message = str(error)
    assert f"{argument}: {shown}" in message
    assert advice in message
    assert error.code == "S3VP_INVALID_INPUT"
    assert isinstance(error, ValueError)


def test_fails_when_an_existing_bucket_is_combined_with_settings_for_a_created_one() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    existing = s3.Bucket.from_bucket_name(stack, "Existing", "my-uploads")
    with pytest.raises(InputError, match=r"source_bucket_options: got SourceBucketOptions\(.*pass one or the other"):
        ValidatedS3Pipeline(
            stack,
            "Pipeline",
            validation=GOOD,
            source_bucket=existing,
            source_bucket_options=SourceBucketOptions(server_access_logs=False),
        )


def test_fails_once_listing_every_problem() -> None:
    error = problems_of(
        validation=ValidationOptions(commands=[], required_files=["/abs", "../up"]),
        object_key="*",
        log_retention_days=0,
    )
    assert [p.argument for p in error.problems] == [
        "validation.commands",
        "validation.required_files[0]",
        "validation.required_files[1]",
        "object_key",
        "log_retention_days",
    ]
    assert "5 problem(s)" in str(error)


def test_unresolved_tokens_are_not_checked() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    key = cdk.CfnParameter(stack, "Key").value_as_string
    days = cdk.CfnParameter(stack, "Days", type="Number").value_as_number
    pipeline = ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=ValidationOptions(commands=["true"], required_files=[key]),
        object_key=key,
        log_retention_days=days,  # type: ignore[arg-type]  # a number token, resolved at deploy time
    )
    assert pipeline.object_key == key


# --- Warnings on weakened defaults ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weakened() -> dict[str, list[str]]:
    """One synthesis holding a pipeline for each weakened default, and one acknowledging its warnings."""
    stack = cdk.Stack(cdk.App(), "Weakened")
    maintained = ValidationOptions(commands=["true"], build_environment=BuildEnvironment.UBUNTU_22_04_NODE_22)
    ValidatedS3Pipeline(
        stack, "Superseded", validation=maintained, execution_mode=codepipeline.ExecutionMode.SUPERSEDED
    )
    ValidatedS3Pipeline(
        stack, "Existing", validation=maintained, source_bucket=s3.Bucket.from_bucket_name(stack, "B", "uploads")
    )
    ValidatedS3Pipeline(
        stack,
        "NoLogs",
        validation=maintained,
        source_bucket_options=SourceBucketOptions(server_access_logs=False, removal_policy=cdk.RemovalPolicy.DESTROY),
    )
    acknowledged = ValidatedS3Pipeline(
        stack, "Acknowledged", validation=GOOD, execution_mode=codepipeline.ExecutionMode.SUPERSEDED
    )
    for warning_id in (
        "s3-validated-pipeline:supersededExecutionMode",
        "s3-validated-pipeline:retiredBuildEnvironment",
        "s3-validated-pipeline:noUploader",
    ):
        cdk.Annotations.of(acknowledged).acknowledge_warning(warning_id, "kept on purpose in this test")
    by_path: dict[str, list[str]] = {}
    for path, message in synthesize(stack).warnings:
        by_path.setdefault(path.split("/")[2], []).append(message)
    return by_path


@pytest.mark.parametrize(
    ("pipeline", "warning_id", "advice"),
    [
        ("Superseded", "supersededExecutionMode", "Use ExecutionMode.QUEUED"),
        ("Existing", "existingSourceBucket", "make sure it is versioned"),
        ("NoLogs", "sourceAccessLogsDisabled", "server_access_logs=True"),
        ("NoLogs", "sourceBucketNotRetained", "Use RemovalPolicy.RETAIN"),
    ],
)
def test_weakened_default_warns_with_a_stable_id(
    weakened: dict[str, list[str]], pipeline: str, warning_id: str, advice: str
) -> None:
    [message] = [m for m in weakened[pipeline] if f"s3-validated-pipeline:{warning_id}" in m]
    assert advice in message


def test_secure_defaults_add_no_warning(weakened: dict[str, list[str]]) -> None:
    # Only the weakened settings above warn: a pipeline with a maintained environment warns about nothing else.
    assert all("retiredBuildEnvironment" not in m for p in ("Superseded", "Existing", "NoLogs") for m in weakened[p])


def test_acknowledged_warnings_are_not_reported(weakened: dict[str, list[str]]) -> None:
    assert "Acknowledged" not in weakened
