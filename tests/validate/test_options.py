"""ValidationOptions: each wrong command, required file, build environment or timeout fails while the pipeline is
built, naming the argument's full path, showing the value received and saying what to pass instead."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration

from s3_validated_pipeline import PackageCheckOptions, ValidationOptions
from tests.conftest import assert_fails


def validation(**fields: Any) -> ValidationOptions:
    return ValidationOptions(**{"commands": ["npm ci"], **fields})


@pytest.mark.parametrize(
    ("options", "argument", "shown", "advice"),
    [
        pytest.param(
            ValidationOptions(commands=[]), "validation.commands", "[]", "at least one shell command",
            id="empty-command-list",
        ),
        pytest.param(
            ValidationOptions(commands="npm ci"), "validation.commands", "'npm ci'", "list of commands",
            id="commands-as-one-string",
        ),
        pytest.param(
            ValidationOptions(commands=["npm ci", "  "]), "validation.commands", "['npm ci', '  ']",
            "Remove the empty command", id="blank-command",
        ),
        pytest.param(
            validation(required_files=["/etc/passwd"]), "validation.required_files[0]", "'/etc/passwd'",
            "relative to the package root", id="absolute-required-file",
        ),
        pytest.param(
            validation(required_files=["package.json", "../secrets.txt"]), "validation.required_files[1]",
            "'../secrets.txt'", "must lie inside the package", id="required-file-escaping-the-root",
        ),
        pytest.param(
            validation(required_files=["src/a/../../../x"]), "validation.required_files[0]", "'src/a/../../../x'",
            "must lie inside the package", id="required-file-escaping-the-root-midway",
        ),
        pytest.param(
            validation(required_files=["src\\index.ts"]), "validation.required_files[0]", "'src\\\\index.ts'",
            "'/' separators", id="required-file-with-backslash",
        ),
        pytest.param(
            validation(required_files=[""]), "validation.required_files[0]", "''", "name a file",
            id="empty-required-file",
        ),
        pytest.param(
            validation(timeout=cdk.Duration.minutes(1)), "validation.timeout", "'1 minute'", "5 minutes to 36 hours",
            id="timeout-below-codebuild-minimum",
        ),
        pytest.param(
            {"commands": ["npm ci"]}, "validation", "{'commands': ['npm ci']}",
            "pass e.g. ValidationOptions(commands=", id="validation-as-dict",
        ),
    ],
)  # fmt: skip
def test_fails_when_validation_options_are_bad(options: Any, argument: str, shown: str, advice: str) -> None:
    assert_fails(argument, shown, advice, validation=options)


@pytest.mark.parametrize(
    ("value", "shown", "advice"),
    [(0, "0", "positive whole number"), (-1, "-1", "positive whole number"), ("1GB", "'1GB'", "Expected an int")],
)
def test_fails_when_max_package_bytes_is_not_a_positive_whole_number(value: Any, shown: str, advice: str) -> None:
    options = validation(package_check=PackageCheckOptions(max_package_bytes=value))
    assert_fails("validation.package_check.max_package_bytes", shown, advice, validation=options)


def test_max_package_bytes_reaches_the_checker_only_when_it_is_not_the_default() -> None:
    # GIVEN the default package check, and one with a 10 MiB package limit
    # THEN the checker's command line names the limit only in the second, so existing buildspecs stay as they were
    assert not any("--max-package-bytes" in argument for argument in PackageCheckOptions().arguments())
    assert "--max-package-bytes 10485760" in PackageCheckOptions(max_package_bytes=10 * 1024 * 1024).arguments()


def test_fails_when_validation_is_none() -> None:
    assert_fails("validation", "None", "pass e.g. ValidationOptions(commands=[", validation=None)


def test_fails_when_a_command_is_not_a_string() -> None:
    assert_fails(
        "validation.commands[1]",
        "42",
        "Expected a str (one shell command), not int",
        validation=validation(commands=["npm ci", 42]),
    )


def test_fails_when_required_files_is_one_string() -> None:
    assert_fails(
        "validation.required_files",
        "'package.json'",
        "Expected a list of str",
        validation=validation(required_files="package.json"),
    )


def test_fails_when_a_required_file_is_not_a_string() -> None:
    assert_fails(
        "validation.required_files[1]",
        "PurePosixPath('src/index.ts')",
        "Expected a str, not PurePosixPath",
        validation=validation(required_files=["package.json", PurePosixPath("src/index.ts")]),
    )


def test_fails_when_build_environment_is_an_image_name() -> None:
    assert_fails(
        "validation.build_environment",
        "'aws/codebuild/standard:7.0'",
        "Expected a BuildEnvironment, not str; pass e.g. BuildEnvironment.UBUNTU_22_04_NODE_22, "
        "or BuildEnvironment(image='aws/codebuild/standard:7.0')",
        validation=validation(build_environment="aws/codebuild/standard:7.0"),
    )


def test_fails_when_timeout_is_a_number() -> None:
    assert_fails(
        "validation.timeout",
        "60",
        "Expected a Duration, not int; pass e.g. Duration.minutes(60)",
        validation=validation(timeout=60),
    )


@pytest.mark.parametrize(
    ("timeout", "shown"),
    [(Duration.minutes(0), "'0 minutes'"), (Duration.seconds(330), "'5 minutes 30 seconds'")],
    ids=["timeout-zero", "timeout-fraction"],
)
def test_fails_when_the_timeout_is_zero_or_not_whole_minutes(timeout: Duration, shown: str) -> None:
    assert_fails("validation.timeout", shown, "CodeBuild allows whole minutes", validation=validation(timeout=timeout))


def test_negative_durations_never_reach_the_construct() -> None:
    # aws-cdk-lib refuses a negative amount when the Duration is made, before any construct sees it
    with pytest.raises(RuntimeError, match="Duration amounts cannot be negative"):
        Duration.minutes(-5)
