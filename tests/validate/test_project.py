"""ValidationProject, the validate stage's CodeBuild project, used on its own."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms

from s3_validated_pipeline import InputError
from s3_validated_pipeline.validate.project import ValidationProject


def test_fails_when_used_alone_with_a_dict_for_its_options() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    key = kms.Key(stack, "Key")
    with pytest.raises(InputError, match=r"options: got \{'commands': \['true'\]\}\. Expected ValidationOptions"):
        ValidationProject(stack, "Validation", options={"commands": ["true"]}, artifact_key=key, log_key=key)  # type: ignore[arg-type]
