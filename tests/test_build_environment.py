"""BuildEnvironment: a maintained default for every stage after validation, its checks, and the warnings on a retired
or custom image (given once per pipeline, naming every stage that uses it)."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms

from s3_validated_pipeline import BuildEnvironment, StageOptions, ValidationOptions
from s3_validated_pipeline.stages.build import VerifiedProject
from tests.conftest import RETIRED, Synthesized, assert_fails, synthesized_example, warnings_of


def project(synthesized: Synthesized, prefix: str) -> dict[str, Any]:
    """The properties of the one CodeBuild project whose logical id starts with ``prefix``."""
    [properties] = [
        r["Properties"]
        for k, r in synthesized.json["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project" and k.startswith(prefix)
    ]
    return properties


def validation(**fields: Any) -> ValidationOptions:
    return ValidationOptions(**{"commands": ["npm ci"], **fields})


# --- One default for every stage after validation -------------------------------------------------------------


def test_seed_test_and_deploy_stages_run_on_a_maintained_image() -> None:
    # GIVEN the seed example, whose validate stage keeps the retired environment it asks for
    seed = synthesized_example("seed_pipeline")
    # THEN only the validate stage runs on it; Test and both deployments run on standard:7.0 with Node.js 22
    assert project(seed, "PipelineValidationProject")["Environment"]["Image"] == "aws/codebuild/standard:5.0"
    for stage in ("TestStage", "DeployStagingStage", "DeployProductionStage"):
        properties = project(seed, f"Pipeline{stage}Project")
        assert properties["Environment"]["Image"] == "aws/codebuild/standard:7.0", stage
        assert re.search(r'nodejs\\*"\s*:\s*\\*"22', json.dumps(properties["Source"]["BuildSpec"])), stage


def test_later_stages_default_to_the_maintained_environment(warned: Synthesized) -> None:
    assert project(warned, "RetiredLaterTestStageProject")["Environment"]["Image"] == "aws/codebuild/standard:7.0"


# --- Warnings -------------------------------------------------------------------------------------------------


def test_seed_warns_once_about_the_retired_environment() -> None:
    seed = synthesized_example("seed_pipeline")
    [message] = [m for _, m in seed.warnings if "retiredBuildEnvironment" in m]
    assert "Validate on aws/codebuild/standard:5.0 (nodejs 16)" in message
    assert "current npm tooling needs Node.js 18 or newer" in message
    assert "aws-cdk CLI" in message


def test_retired_environment_warns_once_per_pipeline_naming_every_stage(warned: Synthesized) -> None:
    [message] = warnings_of(warned, "AllRetired", "retiredBuildEnvironment")
    for stage in ("Validate", "Test", "DeployProd"):
        assert f"{stage} on aws/codebuild/standard:5.0 (nodejs 16)" in message
    # The stage added after the constructor is covered by the warning already given
    assert [p for p, m in warned.warnings if "retiredBuildEnvironment" in m and "AllRetired" in p] == [
        "/Warned/AllRetired"
    ]


def test_a_retired_stage_added_later_warns_once(warned: Synthesized) -> None:
    [message] = warnings_of(warned, "RetiredLater", "retiredBuildEnvironment")
    assert message.startswith("Retired build environment: Old on aws/codebuild/standard:5.0")


def test_custom_image_is_accepted_with_one_warning(warned: Synthesized) -> None:
    [message] = warnings_of(warned, "Custom", "customBuildImage")
    assert "Validate on ubuntu:22.04 (its default runtimes), Test on ubuntu:22.04" in message
    assert "CodeBuild pulls such an image with its own credentials" in message
    assert "BuildEnvironment.UBUNTU_22_04_NODE_22" in message
    assert warnings_of(warned, "Custom", "retiredBuildEnvironment") == []


def test_a_standalone_project_warns_on_itself() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    key = kms.Key(stack, "Key")
    options = StageOptions(commands=["x"], build_environment=RETIRED)
    VerifiedProject(stack, "Own", stage="Own", options=options, artifact_key=key, log_key=key)
    entries = [e for e in stack.node.find_child("Own").node.metadata if "retiredBuildEnvironment" in str(e.data)]
    assert len(entries) == 1


# --- Bad input --------------------------------------------------------------------------------------------------


def test_fails_when_the_build_image_is_blank() -> None:
    assert_fails(
        "validation.build_environment.image",
        "' '",
        "CodeBuild-managed image",
        validation=ValidationOptions(commands=["true"], build_environment=BuildEnvironment(image=" ")),
    )


def test_fails_when_compute_type_is_a_string() -> None:
    environment = BuildEnvironment(image="aws/codebuild/standard:7.0", compute_type="large")
    assert_fails(
        "validation.build_environment.compute_type",
        "'large'",
        "Expected a ComputeType, not str; pass e.g. ComputeType.LARGE",
        validation=validation(build_environment=environment),
    )


def test_fails_when_a_runtime_version_is_a_number() -> None:
    environment = BuildEnvironment(image="aws/codebuild/standard:7.0", runtime_versions={"python": 3.10})
    assert_fails(
        "validation.build_environment.runtime_versions",
        "{'python': 3.1}",
        "both strings",
        validation=validation(build_environment=environment),
    )


def test_fails_when_runtime_versions_is_not_a_mapping() -> None:
    environment = BuildEnvironment(image="aws/codebuild/standard:7.0", runtime_versions="nodejs=22")  # type: ignore[arg-type]
    assert_fails(
        "validation.build_environment.runtime_versions",
        "'nodejs=22'",
        "Expected a mapping, not str; pass e.g. {'nodejs': '22'}",
        validation=validation(build_environment=environment),
    )
