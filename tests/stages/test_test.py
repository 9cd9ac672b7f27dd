"""TestStageOptions: the test stage's options are checked like the validate stage's."""

from __future__ import annotations

from aws_cdk import Duration

from s3_validated_pipeline import TestStageOptions
from tests.conftest import assert_fails


def test_fails_when_the_test_timeout_is_not_whole_minutes() -> None:
    assert_fails(
        "test.timeout",
        "'5 minutes 1 milli'",
        "CodeBuild allows whole minutes",
        test=TestStageOptions(commands=["x"], timeout=Duration.millis(300_001)),
    )
