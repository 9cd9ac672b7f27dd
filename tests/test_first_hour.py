"""A new user's first hour (issue 12): a maintained default for every stage after validation, stack outputs, a
warning when nobody may upload, clearer errors, and a zip recipe whose package passes the check."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from s3_validated_pipeline import (
    ApprovalOptions,
    BuildEnvironment,
    CloudFormationDeployment,
    DeployTarget,
    InputError,
    SourceBucketOptions,
    StageOptions,
    TestStageOptions,
    ValidatedS3Pipeline,
    ValidationOptions,
)
from s3_validated_pipeline.check import check_package
from s3_validated_pipeline.stages.build import VerifiedProject
from tests.conftest import ROOT, Synthesized, synthesize, synthesized_example

RETIRED = BuildEnvironment.UBUNTU_20_04_NODE_16
MAINTAINED = BuildEnvironment.UBUNTU_22_04_NODE_22
GOOD = ValidationOptions(commands=["npm ci"], build_environment=MAINTAINED)
OUTPUT_IDS = ("SourceBucketName", "ObjectKey", "SourceKeyArn", "PipelineName", "DeadLetterQueueUrl", "UploadCommand")


def project(synthesized: Synthesized, prefix: str) -> dict[str, Any]:
    """The properties of the one CodeBuild project whose logical id starts with ``prefix``."""
    [properties] = [
        r["Properties"]
        for k, r in synthesized.json["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project" and k.startswith(prefix)
    ]
    return properties


def messages(synthesized: Synthesized, pipeline: str, warning: str) -> list[str]:
    return [m for path, m in synthesized.warnings if path.split("/")[2] == pipeline and f":{warning}]" in m]


# --- One default for every stage after validation -------------------------------------------------------------


def test_seed_test_and_deploy_stages_run_on_a_maintained_image() -> None:
    # GIVEN the seed example, whose validate stage asks for a retired environment
    seed = synthesized_example("seed_pipeline")
    # THEN only the validate stage runs on it; Test and both deployments run on standard:7.0 with Node.js 22
    assert project(seed, "PipelineValidationProject")["Environment"]["Image"] == "aws/codebuild/standard:5.0"
    for stage in ("TestStage", "DeployStagingStage", "DeployProductionStage"):
        properties = project(seed, f"Pipeline{stage}Project")
        assert properties["Environment"]["Image"] == "aws/codebuild/standard:7.0", stage
        assert re.search(r'nodejs\\*"\s*:\s*\\*"22', json.dumps(properties["Source"]["BuildSpec"])), stage


def test_seed_warns_once_about_the_retired_environment() -> None:
    seed = synthesized_example("seed_pipeline")
    [message] = [m for _, m in seed.warnings if "retiredBuildEnvironment" in m]
    assert "Validate on aws/codebuild/standard:5.0 (nodejs 16)" in message
    assert "current npm tooling needs Node.js 18 or newer" in message
    assert "aws-cdk CLI" in message


@pytest.fixture(scope="module")
def warned() -> Synthesized:
    """One synthesis holding a pipeline for each case of the new warnings and outputs."""
    stack = cdk.Stack(cdk.App(), "Warned")
    everything_retired = ValidatedS3Pipeline(
        stack,
        "AllRetired",
        validation=ValidationOptions(commands=["true"], build_environment=RETIRED),
        test=TestStageOptions(commands=["true"], build_environment=RETIRED),
        deploy=[DeployTarget(name="Prod", commands=["true"], build_environment=RETIRED)],
    )
    everything_retired.add_build_stage("Extra", options=StageOptions(commands=["true"], build_environment=RETIRED))
    everything_retired.grant_upload(iam.Role(stack, "Uploader", assumed_by=iam.AccountRootPrincipal()))
    later = ValidatedS3Pipeline(stack, "RetiredLater", validation=GOOD, test=TestStageOptions(commands=["true"]))
    later.add_build_stage("Old", options=StageOptions(commands=["true"], build_environment=RETIRED))
    ValidatedS3Pipeline(
        stack,
        "Custom",
        validation=ValidationOptions(commands=["true"], build_environment=BuildEnvironment(image="ubuntu:22.04")),
        test=TestStageOptions(commands=["true"], build_environment=BuildEnvironment(image="ubuntu:22.04")),
    )
    ValidatedS3Pipeline(stack, "NotZip", validation=GOOD, object_key="uploads/package.tar.gz")
    ValidatedS3Pipeline(stack, "Zip", validation=GOOD, object_key="uploads/PACKAGE.ZIP", outputs=False)
    granted_later = ValidatedS3Pipeline(stack, "GrantedLater", validation=GOOD)
    granted_later.grant_upload(iam.User(stack, "Developer"))
    ValidatedS3Pipeline(
        stack,
        "Uploaders",
        validation=GOOD,
        source_bucket_options=SourceBucketOptions(uploaders=[iam.Role.from_role_name(stack, "Devs", "developers")]),
    )
    ValidatedS3Pipeline(
        stack, "Existing", validation=GOOD, source_bucket=s3.Bucket.from_bucket_name(stack, "B", "uploads-b")
    )
    acknowledged = ValidatedS3Pipeline(stack, "Acknowledged", validation=GOOD)
    cdk.Annotations.of(acknowledged).acknowledge_warning("s3-validated-pipeline:noUploader", "granted elsewhere")
    return synthesize(stack)


def test_retired_environment_warns_once_per_pipeline_naming_every_stage(warned: Synthesized) -> None:
    [message] = messages(warned, "AllRetired", "retiredBuildEnvironment")
    for stage in ("Validate", "Test", "DeployProd"):
        assert f"{stage} on aws/codebuild/standard:5.0 (nodejs 16)" in message
    # The stage added after the constructor is covered by the warning already given
    assert [p for p, m in warned.warnings if "retiredBuildEnvironment" in m and "AllRetired" in p] == [
        "/Warned/AllRetired"
    ]


def test_a_retired_stage_added_later_warns_once(warned: Synthesized) -> None:
    [message] = messages(warned, "RetiredLater", "retiredBuildEnvironment")
    assert message.startswith("Retired build environment: Old on aws/codebuild/standard:5.0")


def test_later_stages_default_to_the_maintained_environment(warned: Synthesized) -> None:
    assert project(warned, "RetiredLaterTestStageProject")["Environment"]["Image"] == "aws/codebuild/standard:7.0"


def test_custom_image_is_accepted_with_one_warning(warned: Synthesized) -> None:
    [message] = messages(warned, "Custom", "customBuildImage")
    assert "Validate on ubuntu:22.04 (its default runtimes), Test on ubuntu:22.04" in message
    assert "CodeBuild pulls such an image with its own credentials" in message
    assert "BuildEnvironment.UBUNTU_22_04_NODE_22" in message
    assert messages(warned, "Custom", "retiredBuildEnvironment") == []


def test_object_key_not_ending_in_zip_warns(warned: Synthesized) -> None:
    [message] = messages(warned, "NotZip", "objectKeyNotZip")
    assert "'uploads/package.tar.gz' does not end in '.zip'" in message
    assert messages(warned, "Zip", "objectKeyNotZip") == []


# --- Outputs and uploaders ----------------------------------------------------------------------------------


def outputs_of(synthesized: Synthesized, pipeline: str) -> dict[str, Any]:
    """The pipeline's outputs, by output id (the logical id without the pipeline's prefix and hash)."""
    found = {}
    for logical_id, output in synthesized.json.get("Outputs", {}).items():
        match = re.fullmatch(rf"{pipeline}([A-Za-z]+)[0-9A-F]{{8}}", logical_id)
        if match:
            found[match.group(1)] = output["Value"]
    return found


def test_every_pipeline_has_its_own_outputs(warned: Synthesized) -> None:
    assert sorted(outputs_of(warned, "NotZip")) == sorted(OUTPUT_IDS)
    assert sorted(outputs_of(warned, "GrantedLater")) == sorted(OUTPUT_IDS)
    assert outputs_of(warned, "NotZip")["ObjectKey"] == "uploads/package.tar.gz"


def test_outputs_can_be_turned_off(warned: Synthesized) -> None:
    assert outputs_of(warned, "Zip") == {}


def test_imported_bucket_without_a_key_has_no_key_output(warned: Synthesized) -> None:
    outputs = outputs_of(warned, "Existing")
    assert "SourceKeyArn" not in outputs
    assert outputs["UploadCommand"] == "aws s3 cp package.zip s3://uploads-b/source.zip --checksum-algorithm SHA256"


def test_minimal_example_outputs_the_bucket_the_pipeline_and_the_upload_command() -> None:
    minimal = synthesized_example("minimal")
    outputs = outputs_of(minimal, "Pipeline")
    assert sorted(outputs) == sorted(OUTPUT_IDS)
    [bucket] = [k for k, r in minimal.json["Resources"].items() if r["Type"] == "AWS::S3::Bucket" and "Source" in k]
    [pipeline] = [k for k, r in minimal.json["Resources"].items() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    [key] = [k for k in minimal.json["Resources"] if k.startswith("PipelineSourceKey")]
    assert outputs["SourceBucketName"] == {"Ref": bucket}
    assert outputs["PipelineName"] == {"Ref": pipeline}
    assert outputs["ObjectKey"] == "source.zip"
    [queue] = [
        k
        for k, r in minimal.json["Resources"].items()
        if k.startswith("PipelineTriggerDeadLetterQueue") and r["Type"] == "AWS::SQS::Queue"
    ]
    assert outputs["DeadLetterQueueUrl"] == {"Ref": queue}
    assert outputs["UploadCommand"] == {
        "Fn::Join": [
            "",
            [
                "aws s3 cp package.zip s3://",
                {"Ref": bucket},
                "/source.zip --sse aws:kms --sse-kms-key-id ",
                {"Fn::GetAtt": [key, "Arn"]},
                " --checksum-algorithm SHA256",
            ],
        ]
    }
    assert not [m for _, m in minimal.warnings if "noUploader" in m]


def test_no_uploader_warns_at_synthesis(warned: Synthesized) -> None:
    [message] = messages(warned, "NotZip", "noUploader")
    assert "Call pipeline.grant_upload(role)" in message
    assert "SourceBucketOptions(uploaders=[role])" in message


@pytest.mark.parametrize("pipeline", ["AllRetired", "GrantedLater", "Uploaders", "Existing", "Acknowledged"])
def test_no_uploader_is_quiet_once_someone_may_upload(warned: Synthesized, pipeline: str) -> None:
    # grant_upload after the constructor counts: the check runs at synthesis
    assert messages(warned, pipeline, "noUploader") == []


# --- Errors ---------------------------------------------------------------------------------------------------


def build(**overrides: Any) -> ValidatedS3Pipeline:
    return ValidatedS3Pipeline(cdk.Stack(cdk.App(), "Stack"), "Pipeline", **{"validation": GOOD, **overrides})


def test_fails_when_a_target_only_asks_for_an_approval() -> None:
    with pytest.raises(InputError) as raised:
        build(deploy=[DeployTarget(name="Prod", approval=ApprovalOptions())])
    [problem] = raised.value.problems
    assert problem.argument == "deploy[0].commands"
    assert "Target 'Prod' has neither commands nor cloudformation" in str(raised.value)
    assert "got 'Prod'" not in str(raised.value)


def test_fails_when_a_target_has_both_commands_and_cloudformation() -> None:
    both = DeployTarget(
        name="Prod", commands=["true"], cloudformation=CloudFormationDeployment(template_path="t.json", stack_name="A")
    )
    with pytest.raises(InputError, match=r"deploy\[0\]\.cloudformation: got CloudFormationDeployment\(\.\.\.\) "):
        build(deploy=[both])


def test_fails_when_one_target_is_passed_instead_of_a_list() -> None:
    with pytest.raises(InputError) as raised:
        build(deploy=DeployTarget(name="Prod", commands=["true"]))
    message = str(raised.value)
    assert "deploy: got DeployTarget(name='Prod', ...). Pass a list of targets, even for one" in message
    assert " object at 0x" not in message


def deploy_baking(bake_time: Duration) -> dict[str, Any]:
    return {"deploy": [DeployTarget(name="P", commands=["x"], bake_time=bake_time)]}


@pytest.mark.parametrize(
    ("overrides", "argument", "shown"),
    [
        (deploy_baking(Duration.minutes(0)), "deploy[0].bake_time", "0 minutes"),
        (deploy_baking(Duration.seconds(90)), "deploy[0].bake_time", "1 minute 30 seconds"),
        ({"validation": ValidationOptions(commands=["x"], timeout=Duration.minutes(0))}, "validation.timeout",
         "'0 minutes'"),
        ({"validation": ValidationOptions(commands=["x"], timeout=Duration.seconds(330))}, "validation.timeout",
         "'5 minutes 30 seconds'"),
        ({"test": TestStageOptions(commands=["x"], timeout=Duration.millis(300_001))}, "test.timeout",
         "'5 minutes 1 milli'"),
    ],
    ids=["bake-zero", "bake-fraction", "timeout-zero", "timeout-fraction", "test-timeout-millis"],
)  # fmt: skip
def test_fails_when_a_duration_is_zero_or_not_whole_minutes(
    overrides: dict[str, Any], argument: str, shown: str
) -> None:
    with pytest.raises(InputError) as raised:
        build(**overrides)
    assert [p.argument for p in raised.value.problems] == [argument]
    assert f"{argument}: got {shown}. " in str(raised.value)


def test_fails_when_a_stage_timeout_is_not_whole_minutes() -> None:
    pipeline = build()
    with pytest.raises(
        InputError, match=r"options\.timeout: got '1 minute 30 seconds'\. CodeBuild allows whole minutes"
    ):
        pipeline.add_build_stage("Scan", options=StageOptions(commands=["x"], timeout=Duration.seconds(90)))


def test_negative_durations_never_reach_the_construct() -> None:
    # aws-cdk-lib refuses a negative amount when the Duration is made, before any construct sees it
    with pytest.raises(RuntimeError, match="Duration amounts cannot be negative"):
        Duration.minutes(-5)


def test_fails_when_a_cross_account_target_is_in_a_stack_without_an_account() -> None:
    with pytest.raises(InputError) as raised:
        build(deploy=[DeployTarget(name="Prod", account="222222222222", commands=["npx cdk deploy"])])
    [problem] = raised.value.problems
    assert problem.argument == "deploy[0].account"
    assert "The pipeline's stack has no explicit account" in str(raised.value)
    assert "env=cdk.Environment(account=" in str(raised.value)


def test_a_target_account_in_a_stack_with_an_account_is_accepted() -> None:
    stack = cdk.Stack(cdk.App(), "Stack", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    pipeline = ValidatedS3Pipeline(
        stack, "Pipeline", validation=GOOD, deploy=[DeployTarget(name="Prod", account="222222222222", commands=["x"])]
    )
    assert "Prod" in pipeline.deploy_stages


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        ({}, ["versioning (versioned=True)", "S3's events sent to EventBridge (event_bridge_enabled=True)"]),
        ({"versioned": True}, ["S3's events sent to EventBridge (event_bridge_enabled=True)"]),
        ({"event_bridge_enabled": True}, ["versioning (versioned=True)"]),
    ],
    ids=["neither", "no-eventbridge", "no-versioning"],
)
def test_fails_when_a_bucket_of_this_app_cannot_be_watched(settings: dict[str, Any], missing: list[str]) -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket(stack, "Uploads", **settings)
    with pytest.raises(InputError) as raised:
        ValidatedS3Pipeline(stack, "Pipeline", validation=GOOD, source_bucket=bucket)
    [problem] = raised.value.problems
    assert problem.argument == "source_bucket"
    message = str(raised.value)
    assert "source_bucket: got 'Stack/Uploads'. The bucket lacks " in message
    for what in missing:
        assert what in message
    assert ("versioning" in message) == any("versioning" in m for m in missing)


def test_a_versioned_bucket_sending_events_to_eventbridge_is_accepted() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    bucket = s3.Bucket(stack, "Uploads", versioned=True, event_bridge_enabled=True)
    pipeline = ValidatedS3Pipeline(stack, "Pipeline", validation=GOOD, source_bucket=bucket)
    assert pipeline.source_bucket is bucket


def test_a_standalone_project_warns_on_itself() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    key = kms.Key(stack, "Key")
    options = StageOptions(commands=["x"], build_environment=RETIRED)
    VerifiedProject(stack, "Own", stage="Own", options=options, artifact_key=key, log_key=key)
    entries = [e for e in stack.node.find_child("Own").node.metadata if "retiredBuildEnvironment" in str(e.data)]
    assert len(entries) == 1


# --- The README's zip recipe ----------------------------------------------------------------------------------


def zip_recipe() -> str:
    """The README's zip command: the shell block of "Upload a package" that runs `zip`, up to the package check."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Upload a package", 1)[1].split("\n## ", 1)[0]
    blocks = [part.split("```", 1)[0] for part in section.split("```sh\n")[1:]]
    [block] = [candidate for candidate in blocks if "zip -r" in candidate]
    recipe = block.split("python -m s3_validated_pipeline.check", 1)[0]
    return recipe.replace("\\\n", " ").strip()


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs Info-ZIP's zip")
def test_the_readmes_zip_recipe_leaves_out_junk_and_passes_the_check(tmp_path: Path) -> None:
    # GIVEN a package with dependencies, Git's folder, environment files and OS clutter
    package = tmp_path / "my-package"
    files = {
        "package.json": "{}",
        "src/index.ts": "export {};",
        "src/lib/.env.example": "TOKEN=",
        ".env.example": "TOKEN=",
        ".env": "TOKEN=secret",
        ".env.local": "TOKEN=secret",
        "src/.env": "TOKEN=secret",
        "node_modules/left-pad/index.js": "module.exports = 1;",
        "packages/a/node_modules/b/index.js": "module.exports = 2;",
        ".git/HEAD": "ref: refs/heads/main",
        ".DS_Store": "junk",
        "src/.DS_Store": "junk",
        "__MACOSX/._index.ts": "junk",
        "Thumbs.db": "junk",
        "docs/Thumbs.db": "junk",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text, encoding="utf-8")
    # WHEN the README's recipe zips it
    bash = shutil.which("bash") or "/bin/bash"
    subprocess.run([bash, "-euo", "pipefail", "-c", zip_recipe()], cwd=tmp_path, check=True, capture_output=True)  # noqa: S603  # the README's own command
    # THEN the zip holds the package's own files, .env.example included, and nothing else
    with zipfile.ZipFile(tmp_path / "package.zip") as archive:
        listing = archive.namelist()
    assert sorted(name for name in listing if not name.endswith("/")) == [
        ".env.example",
        "package.json",
        "src/index.ts",
    ]
    # AND the package check accepts it
    report = check_package(tmp_path / "package.zip", required=["package.json"])
    assert report.accepted, [str(finding) for finding in report.findings]
