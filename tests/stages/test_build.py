"""Stages after validation: each verifies the validated artifact's manifest before it runs anything."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks, NIST80053R5Checks

from s3_validated_pipeline import BuildEnvironment, InputError, StageOptions, ValidatedS3Pipeline, ValidationOptions
from tests.conftest import Synthesized, new_pipeline, synthesize
from tests.stages.test_deploy import VERIFY

MAINTAINED = BuildEnvironment.UBUNTU_22_04_NODE_22


@pytest.fixture(scope="module")
def staged() -> tuple[Synthesized, list[str]]:
    stack = cdk.Stack(cdk.App(), "Stack")
    pipeline = ValidatedS3Pipeline(
        stack, "Pipeline", validation=ValidationOptions(commands=["npm ci"], build_environment=MAINTAINED)
    )
    pipeline.add_build_stage("Test", options=StageOptions(commands=["npm test"]))
    pipeline.add_build_stage("Publish", options=StageOptions(commands=["npm pack"]))
    synthesized = synthesize(stack)
    app = stack.node.root
    findings = [
        f"{violation.rule_name} at {[r.construct_path for r in violation.violating_resources]}"
        for pack in (AwsSolutionsChecks, NIST80053R5Checks)
        for violation in pack(app).validate_scope(app).violations
    ]
    return synthesized, findings


def stages(synthesized: Synthesized) -> list[dict[str, Any]]:
    [pipeline] = [r for r in synthesized.json["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    result: list[dict[str, Any]] = pipeline["Properties"]["Stages"]
    return result


def test_stages_run_in_the_order_added_after_validation(staged: tuple[Synthesized, list[str]]) -> None:
    synthesized, _ = staged
    assert [s["Name"] for s in stages(synthesized)] == ["Source", "Validate", "Test", "Publish"]


def test_each_stage_works_on_the_validated_artifact(staged: tuple[Synthesized, list[str]]) -> None:
    synthesized, _ = staged
    for stage in stages(synthesized)[2:]:
        [action] = stage["Actions"]
        assert action["ActionTypeId"]["Provider"] == "CodeBuild"
        assert action["InputArtifacts"] == [{"Name": "Attested"}]


def test_each_stage_verifies_the_manifest_before_its_commands(staged: tuple[Synthesized, list[str]]) -> None:
    synthesized, _ = staged
    projects = [r for r in synthesized.json["Resources"].values() if r["Type"] == "AWS::CodeBuild::Project"]
    specs = {json.loads(p["Properties"]["Source"]["BuildSpec"])["phases"]["build"]["commands"][0]: p for p in projects}
    for command in ("npm test", "npm pack"):
        spec = json.loads(specs[command]["Properties"]["Source"]["BuildSpec"])
        fetch_checker, *verify = spec["phases"]["pre_build"]["commands"]
        assert "sha256sum --check --strict" in fetch_checker
        assert verify == VERIFY
        assert spec["phases"]["pre_build"]["on-failure"] == "ABORT"
        assert spec["phases"]["install"]["runtime-versions"] == {"nodejs": "22"}


def test_added_stages_stay_compliant(staged: tuple[Synthesized, list[str]]) -> None:
    _, findings = staged
    assert findings == []


def test_fails_when_a_stage_name_is_taken_or_invalid() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    pipeline = ValidatedS3Pipeline(stack, "Pipeline", validation=ValidationOptions(commands=["true"]))
    with pytest.raises(InputError, match=r"stage_name: got 'Validate'\. The pipeline already has a stage 'Validate'"):
        pipeline.add_build_stage("Validate", options=StageOptions(commands=["true"]))
    with pytest.raises(InputError, match=r"stage_name: got 'Run tests'\. Use 1 to 100 letters"):
        pipeline.add_build_stage("Run tests", options=StageOptions(commands=["true"]))


def test_fails_when_stage_options_are_bad() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    pipeline = ValidatedS3Pipeline(stack, "Pipeline", validation=ValidationOptions(commands=["true"]))
    with pytest.raises(InputError, match=r"options\.commands: got \[\]\. Give at least one shell command"):
        pipeline.add_build_stage("Test", options=StageOptions(commands=[]))
    with pytest.raises(InputError, match=r"options: got \{'commands': \['npm test'\]\}\. Expected StageOptions"):
        pipeline.add_build_stage("Test", options={"commands": ["npm test"]})  # type: ignore[arg-type]


def test_fails_when_a_stage_timeout_is_not_whole_minutes() -> None:
    pipeline = new_pipeline()
    with pytest.raises(
        InputError, match=r"options\.timeout: got '1 minute 30 seconds'\. CodeBuild allows whole minutes"
    ):
        pipeline.add_build_stage("Scan", options=StageOptions(commands=["x"], timeout=cdk.Duration.seconds(90)))
