"""The Attest action and the provenance checks in the synthesized templates (issue 19, "Done when"): one signing key,
Attest after Validate and apart from the package's code, and every later CodeBuild stage verifying before it acts."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from s3_validated_pipeline import PackageCheckOptions, _buildspec
from s3_validated_pipeline.build_environment import DEFAULT_ENVIRONMENT
from s3_validated_pipeline.validate.attest import build_type
from tests.conftest import EXAMPLE_NAMES, Synthesized, synthesized_example_stacks
from tests.iam_eval import Resolver
from tests.validate.test_buildspec_commands import SEED_COMMANDS, SEED_REQUIRED_FILES

EXECUTION_ID = "#{codepipeline.PipelineExecutionId}"


def stages_of(synthesized: Synthesized) -> dict[str, list[dict[str, Any]]]:
    """The actions of each stage of the stack's one pipeline, by stage name."""
    (pipeline,) = synthesized.template.find_resources("AWS::CodePipeline::Pipeline").values()
    return {stage["Name"]: stage["Actions"] for stage in pipeline["Properties"]["Stages"]}


def project_of(synthesized: Synthesized, action: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = synthesized.json["Resources"][action["Configuration"]["ProjectName"]["Ref"]][
        "Properties"
    ]
    return properties


def example_of(synthesized: Synthesized) -> str:
    """The name of the example one of whose stacks ``synthesized`` is."""
    (name,) = [n for n in EXAMPLE_NAMES if synthesized in synthesized_example_stacks(n)]
    return name


def home_of(synthesized: Synthesized, action: dict[str, Any]) -> tuple[Synthesized, dict[str, Any]]:
    """The stack that holds the action's project, and the project's properties: the pipeline's own, or, for an action
    in another Region (named there by its physical name), that Region's support stack."""
    name = action["Configuration"]["ProjectName"]
    if not isinstance(name, str):
        return synthesized, project_of(synthesized, action)
    (found,) = [
        (stack, resource["Properties"])
        for stack in synthesized_example_stacks(example_of(synthesized))
        for resource in stack.json["Resources"].values()
        if resource["Type"] == "AWS::CodeBuild::Project" and resource["Properties"].get("Name") == name
    ]
    return found


@cache
def resolver(name: str) -> Resolver:
    """The IAM evaluator's resolver over every stack of ``examples/<name>`` (a fleet's pipelines import)."""
    return Resolver({s.stack.stack_name: s.json for s in synthesized_example_stacks(name)})


def _resolve(synthesized: Synthesized, value: Any) -> Any:
    return resolver(example_of(synthesized)).resolve(synthesized.stack.stack_name, value)


def buildspec_of(synthesized: Synthesized, action: dict[str, Any]) -> dict[str, Any]:
    home, project = home_of(synthesized, action)
    spec = _resolve(home, project["Source"]["BuildSpec"])
    parsed: dict[str, Any] = json.loads(spec)
    return parsed


def passed_variables(synthesized: Synthesized, action: dict[str, Any]) -> dict[str, str]:
    """The environment variables the action passes its build, by name, references resolved (a key's is its ARN)."""
    raw = action["Configuration"].get("EnvironmentVariables")
    passed = json.loads(_resolve(synthesized, raw)) if raw else []
    assert all(item["type"] == "PLAINTEXT" for item in passed)
    return {item["name"]: item["value"] for item in passed}


def key_arn(synthesized: Synthesized, logical_id: str) -> str:
    arn: str = _resolve(synthesized, {"Fn::GetAtt": [logical_id, "Arn"]})
    return arn


def signing_keys(synthesized: Synthesized) -> dict[str, Any]:
    """The stack's asymmetric signing keys, by logical id."""
    return dict(synthesized.template.find_resources("AWS::KMS::Key", {"Properties": {"KeyUsage": "SIGN_VERIFY"}}))


# --- The seed ---------------------------------------------------------------------------------------------------


def test_attest_exports_the_sha256_its_own_check_found_for_the_approvals(seed: Synthesized, tmp_path: Path) -> None:
    # GIVEN the seed's Attest action and its buildspec
    (attest,) = [a for a in stages_of(seed)["Validate"] if a["Name"] == "Attest"]
    spec = buildspec_of(seed, attest)
    # THEN the action exports its variables under the namespace the approvals name, and the buildspec exports one
    assert attest["Namespace"] == "Attest"
    assert spec["env"]["exported-variables"] == ["PACKAGE_SHA256"]
    # AND the build's last command sets it from Attest's own check report (not Validate's, which package code wrote)
    last = spec["phases"]["build"]["commands"][-1]
    assert "attest-check.json" in last
    digest = "ab" * 32
    work = tmp_path / "s3vp"
    work.mkdir()
    (work / "attest-check.json").write_text(json.dumps({"sha256": digest, "findings": []}))
    command = last.replace(_buildspec.WORK_DIR, str(work)) + '\nprintf "%s" "$PACKAGE_SHA256"'
    ran = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)  # noqa: S603, S607
    assert ran.stdout == digest


def test_seed_has_exactly_one_signing_key_on_p256_kept_on_delete(seed: Synthesized) -> None:
    # GIVEN the seed template  THEN it has one asymmetric SIGN_VERIFY key, P-256, kept when the stack is deleted
    (key,) = signing_keys(seed).values()
    assert key["Properties"]["KeySpec"] == "ECC_NIST_P256"
    assert "EnableKeyRotation" not in key["Properties"]
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    symmetric = [
        k for k in seed.template.find_resources("AWS::KMS::Key").values() if k not in signing_keys(seed).values()
    ]
    assert all(k["Properties"].get("KeyUsage", "ENCRYPT_DECRYPT") == "ENCRYPT_DECRYPT" for k in symmetric)


def test_seed_attest_runs_second_in_validate_from_validated_to_attested(seed: Synthesized) -> None:
    # GIVEN the seed pipeline's Validate stage
    validate = stages_of(seed)["Validate"]
    # THEN Validate runs first, then Attest, which takes Validated and outputs Attested
    assert [(a["Name"], a["RunOrder"]) for a in validate] == [("Validate", 1), ("Attest", 2)]
    first, attest = validate
    assert [o["Name"] for o in first["OutputArtifacts"]] == ["Validated"]
    assert [i["Name"] for i in attest["InputArtifacts"]] == ["Validated"]
    assert [o["Name"] for o in attest["OutputArtifacts"]] == ["Attested"]
    assert attest["ActionTypeId"]["Provider"] == "CodeBuild"
    # AND in its own project, with its own role, not Validate's
    assert attest["Configuration"]["ProjectName"] != first["Configuration"]["ProjectName"]
    assert project_of(seed, attest)["ServiceRole"] != project_of(seed, first)["ServiceRole"]
    assert attest["RoleArn"] != first["RoleArn"]
    # AND it learns the source object version, its execution and the signing key
    (key_id,) = signing_keys(seed)
    variables = passed_variables(seed, attest)
    assert variables["SOURCE_OBJECT_VERSION_ID"] == "#{SourceVariables.VersionId}"
    assert variables["S3VP_EXECUTION_ID"] == EXECUTION_ID
    assert variables["S3VP_SIGNING_KEY_ARN"] == key_arn(seed, key_id)


def test_seed_attest_buildspec_runs_the_pinned_checker_and_none_of_the_users_commands(seed: Synthesized) -> None:
    # GIVEN the seed's Attest action
    first, attest = stages_of(seed)["Validate"]
    spec = buildspec_of(seed, attest)
    # THEN its buildspec is the library's Attest buildspec for the seed's check, nothing else
    assert spec == _buildspec.attest_buildspec(
        required_files=SEED_REQUIRED_FILES,
        check_options=PackageCheckOptions().arguments(),
        max_package_bytes=PackageCheckOptions().max_package_bytes,
    )
    # AND no line of it is a validation command of the user's (those run in Validate), nor installs a runtime
    commands = [line for phase in spec["phases"].values() for line in phase.get("commands", [])]
    validation = buildspec_of(seed, first)["phases"]["build"]["commands"]
    assert validation[: len(SEED_COMMANDS)] == list(SEED_COMMANDS)
    assert not [line for line in commands for user in SEED_COMMANDS if user in line]
    assert "install" not in spec["phases"]
    # AND the user's commands and image reach it as data only, to be recorded in the statement
    project = project_of(seed, attest)
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    recorded = json.loads(variables["S3VP_VALIDATION"])
    assert recorded["commands"] == list(SEED_COMMANDS)
    assert recorded["image"] == "aws/codebuild/standard:5.0"
    assert variables["S3VP_BUILD_TYPE"] == build_type()
    # AND it runs on the library's own image, not on the user's
    assert project["Environment"]["Image"] == DEFAULT_ENVIRONMENT.image != recorded["image"]


# --- Every example: every CodeBuild stage after Validate verifies ------------------------------------------------


def key_of(synthesized: Synthesized, actions: list[dict[str, Any]]) -> str:
    """The signing key (logical id) that a pipeline's Attest action (among ``actions``) signs with."""
    (attest,) = [a for a in actions if a["Name"] == "Attest"]
    signing = passed_variables(synthesized, attest)["S3VP_SIGNING_KEY_ARN"]
    (key,) = [k for k in signing_keys(synthesized) if key_arn(synthesized, k) == signing]
    return key


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_codebuild_stage_after_validate_verifies_the_provenance_first(name: str) -> None:
    checked, keys = 0, []
    for synthesized in synthesized_example_stacks(name):
        for logical, pipeline in synthesized.template.find_resources("AWS::CodePipeline::Pipeline").items():
            stages = pipeline["Properties"]["Stages"]
            names = [stage["Name"] for stage in stages]
            key = key_of(synthesized, [a for stage in stages for a in stage["Actions"]])
            keys.append(key)
            for stage in stages[names.index("Validate") + 1 :]:
                for action in stage["Actions"]:
                    if action["ActionTypeId"]["Provider"] != "CodeBuild":
                        continue
                    label = f"{logical} {stage['Name']}/{action['Name']}"
                    # THEN it takes the attested artifact, learns its execution and its own pipeline's key ...
                    assert [i["Name"] for i in action["InputArtifacts"]] == ["Attested"], label
                    variables = passed_variables(synthesized, action)
                    assert variables["S3VP_EXECUTION_ID"] == EXECUTION_ID, label
                    assert variables["S3VP_SIGNING_KEY_ARN"] == key_arn(synthesized, key), label
                    # ... and its pre_build fetches the pinned checker, then verifies the manifest and the provenance
                    pre_build = buildspec_of(synthesized, action)["phases"]["pre_build"]
                    assert pre_build == {
                        "on-failure": "ABORT",
                        "commands": [
                            _buildspec.fetch_checker(),
                            _buildspec.verify_manifest(),
                            # asking KMS in the pipeline's Region, where the key is, from a build in another one
                            _buildspec.verify_provenance(synthesized.stack.region if "Region" in action else None),
                        ],
                    }, label
                    checked += 1
    # AND each pipeline has its own key; every example but the minimal one has stages after Validate
    assert len(keys) == len(set(keys)) >= 1
    assert checked or name == "minimal", "no stage after Validate: this example checks nothing here"
