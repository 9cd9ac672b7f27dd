"""``s3vp package --stack`` and ``s3vp check --stack`` warn when the deployed pipeline's deploy stages run a CDK CLI
the package does not pin (issue 20, item 3).

The deploy projects are read as the validate project is (test_rules.py): CloudFormation lists the stack's projects and
CodeBuild returns their buildspecs, both from botocore Stubbers (moto's CloudFormation cannot hold a CodeBuild
project). Buildspecs are the library's own: the seed example's synthesized template, or ``verified_buildspec``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3_validated_pipeline._buildspec import verified_buildspec
from s3_validated_pipeline.cli._cdk_cli import CdkCall, cdk_calls, cdk_cli_warnings
from s3_validated_pipeline.cli._package import build_package
from s3_validated_pipeline.cli._rules import DeployStage
from s3_validated_pipeline.validate import PackageCheckOptions
from tests.cli.conftest import FakeSession, run, use_session
from tests.cli.test_rules import SNAPSHOTS, STACK, StubbedAws, buildspec, make_tree, project_resource

SEED_SNAPSHOT = next(path for path in SNAPSHOTS if "[seed_pipeline]" in path.name)
SEED_SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "seed_pipeline" / "sample" / "good"
VALIDATE = buildspec(["package.json"], PackageCheckOptions())
PINNED = {"name": "app", "devDependencies": {"aws-cdk": "2.1149.0"}}
UNPINNED = {"name": "app", "scripts": {"build": "tsc"}}


class DeployedAws(StubbedAws):
    """The Stubbers of test_rules.py, answering for several projects at once."""

    def projects(self, *projects: dict[str, Any]) -> DeployedAws:
        """One ``BatchGetProjects`` asking for ``projects`` (in this order), and its answer."""
        names = [project["name"] for project in projects]
        self.stubs["codebuild"].add_response("batch_get_projects", {"projects": list(projects)}, {"names": names})
        return self

    def pipeline(self, name: str, projects: list[str]) -> DeployedAws:
        actions = [
            {
                "name": f"Action{index}",
                "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
                "configuration": {"ProjectName": project},
            }
            for index, project in enumerate(projects)
        ]
        declaration = {"name": name, "roleArn": "arn:aws:iam::111111111111:role/r", "stages": []}
        declaration["stages"] = [{"name": "All", "actions": actions}]
        self.stubs["codepipeline"].add_response("get_pipeline", {"pipeline": declaration}, {"name": name})
        return self


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[DeployedAws]:
    yield from DeployedAws().serve(monkeypatch)


def project(name: str, spec: str, description: str = "") -> dict[str, Any]:
    return {"name": name, "description": description, "source": {"type": "CODEPIPELINE", "buildspec": spec}}


def deploy_project(name: str, stage: str, commands: list[str]) -> dict[str, Any]:
    """A deploy target's project as the library writes it: its stage in the description, commands in the build."""
    spec = json.dumps(verified_buildspec(commands=commands, runtime_versions={"nodejs": "22"}), indent=2)
    return project(name, spec, f"Verifies the validated artifact, then runs the {stage} stage (s3-validated-pipeline).")


def one_pipeline(aws: DeployedAws, deploy_commands: list[str]) -> DeployedAws:
    """A stack with one pipeline: its validate project and one target, Staging, deploying with ``deploy_commands``."""
    aws.resources(
        [
            project_resource("PipelineValidationProjectF2917D83", "validate"),
            project_resource("PipelineDeployStagingStageProjectFFC44A1C", "deploy-staging"),
        ]
    )
    aws.projects(project("validate", VALIDATE))
    return aws.projects(deploy_project("deploy-staging", "DeployStaging", deploy_commands))


def seed_pipeline(aws: DeployedAws) -> DeployedAws:
    """The seed example's deployed stack: its CodeBuild projects as synthesized (logical ids, descriptions,
    buildspecs), each named after its logical id."""
    resources = json.loads(SEED_SNAPSHOT.read_text(encoding="utf-8"))["Resources"]
    projects = {logical: r["Properties"] for logical, r in resources.items() if r["Type"] == "AWS::CodeBuild::Project"}
    aws.resources([project_resource(logical, logical.lower()) for logical in projects])
    found = {name: project(name.lower(), p["Source"]["BuildSpec"], p["Description"]) for name, p in projects.items()}
    # The validate project, then the deploy projects in the stack's order: what s3vp asks for.
    aws.projects(*(found[logical] for logical in projects if "ValidationProject" in logical))
    return aws.projects(*(found[logical] for logical in projects if "Deploy" in logical))


def app(tmp_path: Path, manifest: dict[str, Any] | None) -> Path:
    """A package folder with ``manifest`` as its package.json (none when None)."""
    files = {"README.md": "app\n"} if manifest is None else {"package.json": json.dumps(manifest) + "\n"}
    return make_tree(tmp_path / "app", files)


def package(folder: Path, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    return run("package", str(folder), "-o", str(tmp_path / "p.zip"), *args)


# --- the seed example, as synthesized ------------------------------------------------------------------------------


def test_the_seed_sample_pins_the_cli_its_pipeline_deploys_with(aws: DeployedAws, tmp_path: Path) -> None:
    # GIVEN the seed example's deployed pipeline, whose two deploy stages run `npx --no-install cdk deploy`
    seed_pipeline(aws)
    # WHEN its good sample, with aws-cdk in devDependencies, is packaged with the stack
    code, out, err = package(SEED_SAMPLE, tmp_path, "--stack", STACK, "--json")
    # THEN it is accepted, with no warning
    assert code == 0, out + err
    assert json.loads(out)["warnings"] == []
    assert "Warning" not in err


def test_a_package_without_aws_cdk_is_warned_about_each_stage_that_deploys_with_cdk(
    aws: DeployedAws, tmp_path: Path
) -> None:
    # GIVEN the seed sample without aws-cdk in its package.json
    sample = shutil.copytree(SEED_SAMPLE, tmp_path / "sample", ignore=shutil.ignore_patterns("node_modules"))
    manifest = json.loads((sample / "package.json").read_text(encoding="utf-8"))
    del manifest["devDependencies"]
    (sample / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
    # WHEN it is packaged with the seed example's deployed stack
    seed_pipeline(aws)
    code, out, err = package(sample, tmp_path, "--stack", STACK)
    # THEN it is still accepted (exit 0), and each deploy stage is named, with what will happen and the fix
    assert code == 0, out + err
    assert "ACCEPTED" in out
    for stage in ("DeployStaging", "DeployProduction"):
        assert (
            f"Warning: {stage} deploys with the CDK CLI (`npx --no-install cdk deploy --all --require-approval "
            "never`), but the package's package.json has no aws-cdk in dependencies or devDependencies: npx will "
            "find no cdk to run, and the deployment will fail. Pin the CLI: `npm install --save-dev aws-cdk` (and "
            "commit package-lock.json), then deploy with `npx --no-install cdk`." in err
        )
    assert "without --no-install" not in err


# --- what is warned ------------------------------------------------------------------------------------------------


def test_npx_cdk_without_no_install_is_warned_even_when_the_package_pins_the_cli(
    aws: DeployedAws, tmp_path: Path
) -> None:
    # GIVEN a stage deploying with `npx cdk` (no --no-install), and a package that pins aws-cdk
    one_pipeline(aws, ["npm ci", "npx cdk deploy --all"])
    # WHEN it is packaged with the stack
    code, out, err = package(app(tmp_path, PINNED), tmp_path, "--stack", STACK, "--json")
    # THEN one warning: the pipeline's command would download a CLI if the package ever lacked one
    assert code == 0, out + err
    warnings = json.loads(out)["warnings"]
    assert [(w["code"], w["stage"]) for w in warnings] == [("npx-may-download-cdk", "DeployStaging")]
    assert "DeployStaging runs `npx cdk deploy --all` without --no-install" in warnings[0]["message"]
    assert "`npx --no-install cdk`" in warnings[0]["message"]


def test_npx_cdk_and_no_aws_cdk_says_npx_downloads_the_newest_cli(aws: DeployedAws, tmp_path: Path) -> None:
    one_pipeline(aws, ["npx cdk deploy --all"])
    code, out, _ = package(app(tmp_path, UNPINNED), tmp_path, "--stack", STACK, "--json")
    warnings = json.loads(out)["warnings"]
    assert code == 0
    assert [w["code"] for w in warnings] == ["cdk-cli-not-pinned", "npx-may-download-cdk"]
    assert "npx will download whatever aws-cdk is newest when the stage runs" in warnings[0]["message"]


def test_deploy_commands_without_cdk_are_not_warned_about(aws: DeployedAws, tmp_path: Path) -> None:
    # GIVEN a stage deploying with a script of its own (`npm run cdk` is not recognised: see _cdk_cli)
    one_pipeline(aws, ["./deploy.sh staging", "npm run cdk -- deploy"])
    # WHEN a package without aws-cdk is packaged with the stack  THEN nothing is warned
    code, out, err = package(app(tmp_path, UNPINNED), tmp_path, "--stack", STACK, "--json")
    assert code == 0, out + err
    assert json.loads(out)["warnings"] == []
    assert "Warning" not in err


def test_a_package_without_package_json_is_warned_that_it_has_none(aws: DeployedAws, tmp_path: Path) -> None:
    one_pipeline(aws, ["cdk deploy --all"])
    code, out, _ = package(app(tmp_path, None), tmp_path, "--stack", STACK, "--json")
    assert code == 1  # the deployed rules require package.json
    (warning,) = json.loads(out)["warnings"]
    assert warning["code"] == "cdk-cli-not-pinned"
    assert (
        "but the package has no package.json at its root: the stage will run whatever cdk its build image"
        in (warning["message"])
    )


# --- exit codes, --json, check and --pipeline ----------------------------------------------------------------------


def test_a_warning_does_not_change_the_exit_code_of_a_rejected_package(aws: DeployedAws, tmp_path: Path) -> None:
    # GIVEN a package the pipeline rejects (a private key), without aws-cdk, for a stage deploying with cdk
    one_pipeline(aws, ["npx --no-install cdk deploy --all"])
    folder = app(tmp_path, UNPINNED)
    (folder / "server.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    # WHEN it is packaged with the stack  THEN it is rejected (exit 1) and still warned about
    code, out, _ = package(folder, tmp_path, "--stack", STACK, "--json")
    document = json.loads(out)
    assert code == 1
    assert document["check"]["accepted"] is False
    assert [w["code"] for w in document["warnings"]] == ["cdk-cli-not-pinned"]


def test_check_with_stack_reads_the_deployed_rules_and_warns_as_package_does(aws: DeployedAws, tmp_path: Path) -> None:
    # GIVEN a zip without aws-cdk and a stage deploying with `npx cdk`
    zipped = build_package(app(tmp_path, UNPINNED), tmp_path / "p.zip").output
    one_pipeline(aws, ["npx cdk deploy --all"])
    # WHEN it is checked with the stack
    code, out, err = run("check", str(zipped), "--stack", STACK, "--json")
    # THEN the check ran with the deployed rules, its exit code is the verdict's, and --json carries the warnings
    document = json.loads(out)
    assert code == 0, out + err
    assert document["accepted"] is True
    assert "Check rules from the deployed pipeline (stack AppStack, CodeBuild project validate)" in err
    assert [w["code"] for w in document["warnings"]] == ["cdk-cli-not-pinned", "npx-may-download-cdk"]
    # AND the human output says the same on standard error, after the verdict
    one_pipeline(aws, ["npx cdk deploy --all"])
    code, out, err = run("check", str(zipped), "--stack", STACK)
    assert code == 0
    assert "ACCEPTED" in out
    assert err.count("Warning: DeployStaging") == 2


def test_deploy_stages_that_cannot_be_read_are_a_warning_not_a_failure(aws: DeployedAws, tmp_path: Path) -> None:
    # GIVEN an identity that may read the validate project but not the deploy projects
    aws.resources(
        [
            project_resource("PipelineValidationProjectF2917D83", "validate"),
            project_resource("PipelineDeployStagingStageProjectFFC44A1C", "deploy-staging"),
        ]
    )
    aws.projects(project("validate", VALIDATE))
    aws.error("codebuild", "batch_get_projects", "AccessDeniedException", "not allowed")
    # WHEN a package is packaged with the stack
    code, out, err = package(app(tmp_path, PINNED), tmp_path, "--stack", STACK, "--json")
    # THEN the check's verdict is the exit code, and the warning names the permission and the projects
    assert code == 0, out + err
    (warning,) = json.loads(out)["warnings"]
    assert (warning["code"], warning["stage"]) == ("deploy-stages-unread", None)
    assert (
        "access denied to the CodeBuild project 'deploy-staging': your identity needs codebuild:BatchGetProjects"
        in (warning["message"])
    )


def test_without_stack_nothing_is_read_and_nothing_is_warned(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a session that fails the test on any AWS client, and a package without aws-cdk
    use_session(monkeypatch, FakeSession())
    folder = app(tmp_path, UNPINNED)
    # WHEN it is packaged and checked without --stack  THEN both succeed, with an empty warnings list
    code, out, err = package(folder, tmp_path, "--json")
    assert (code, json.loads(out)["warnings"]) == (0, []), err
    code, out, err = run("check", str(tmp_path / "p.zip"), "--json")
    assert (code, json.loads(out)["warnings"]) == (0, []), err


def test_with_several_pipelines_only_the_chosen_pipelines_deploy_stages_are_read(
    aws: DeployedAws, tmp_path: Path
) -> None:
    # GIVEN a stack with two pipelines: frontend deploys with `npx cdk`, backend with a script
    aws.resources(
        [
            project_resource("FrontendValidationProject1A2B3C4D", "frontend-validate"),
            project_resource("FrontendDeployWebStageProject0A1B2C3D", "frontend-deploy"),
            project_resource("BackendValidationProject5E6F7A8B", "backend-validate"),
            project_resource("BackendDeployApiStageProject4E5F6A7B", "backend-deploy"),
        ]
    )
    aws.pipeline("backend", ["backend-validate", "backend-deploy"])
    # THEN only the backend's projects are asked for (the Stubber checks the names)
    aws.projects(project("backend-validate", VALIDATE))
    aws.projects(deploy_project("backend-deploy", "DeployApi", ["./deploy.sh"]))
    # WHEN a package without aws-cdk is packaged for the backend  THEN nothing is warned
    code, out, err = package(app(tmp_path, UNPINNED), tmp_path, "--stack", STACK, "--pipeline", "backend", "--json")
    assert code == 0, out + err
    assert json.loads(out)["warnings"] == []


# --- the rule, on its own ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "calls"),
    [
        (
            "npx --no-install cdk deploy --all",
            [CdkCall("npx --no-install cdk deploy --all", npx=True, no_install=True)],
        ),
        ("npx --no cdk deploy", [CdkCall("npx --no cdk deploy", npx=True, no_install=True)]),
        ("npx cdk deploy", [CdkCall("npx cdk deploy", npx=True)]),
        ("npx -y -p aws-cdk cdk deploy", [CdkCall("npx -y -p aws-cdk cdk deploy", npx=True)]),
        ("npx aws-cdk deploy", [CdkCall("npx aws-cdk deploy", npx=True)]),
        ("cdk deploy --all", [CdkCall("cdk deploy --all", npx=False)]),
        ("./node_modules/.bin/cdk deploy", [CdkCall("./node_modules/.bin/cdk deploy", npx=False)]),
        ("npm ci && CI=true npx cdk deploy", [CdkCall("npx cdk deploy", npx=True)]),
        ("npm ci\nif [ -n x ]; then\n  npx cdk deploy\nfi", [CdkCall("npx cdk deploy", npx=True)]),
        ("npx cdk \\\n  deploy --all", [CdkCall("npx cdk deploy --all", npx=True)]),
        ("npm run cdk -- deploy", []),
        ("yarn cdk deploy", []),
        ("npx aws-cdk@2.1149.0 deploy", []),
        ("echo cdk deploy", []),
        ("npx tsc && node cdk.js", []),
    ],
)
def test_the_calls_of_the_cdk_cli_in_a_command(command: str, calls: list[CdkCall]) -> None:
    assert cdk_calls(command) == calls


@pytest.mark.parametrize("section", ["dependencies", "devDependencies"])
def test_aws_cdk_in_either_section_pins_the_cli(section: str) -> None:
    stages = [DeployStage(name="DeployStaging", commands=("npx --no-install cdk deploy",))]
    assert cdk_cli_warnings(stages, json.dumps({section: {"aws-cdk": "2.1149.0"}}).encode()) == []
    assert [w.code for w in cdk_cli_warnings(stages, json.dumps({section: {"aws-cdk-lib": "2"}}).encode())] == [
        "cdk-cli-not-pinned"
    ]


def test_a_package_json_that_is_not_json_is_named_as_such() -> None:
    stages = [DeployStage(name="DeployStaging", commands=("cdk deploy",))]
    (warning,) = cdk_cli_warnings(stages, b"{not json")
    assert "but the package's package.json is not JSON" in warning.message
