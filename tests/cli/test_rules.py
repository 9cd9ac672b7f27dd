"""``s3vp package --stack`` and ``s3vp push --stack``: the local check runs with the deployed pipeline's rules.

The rules are read from the validate project's buildspec, found among the stack's resources; CloudFormation,
CodeBuild and CodePipeline answer from botocore Stubbers, with buildspecs the library itself generates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from botocore.stub import Stubber

from s3_validated_pipeline._buildspec import validation_buildspec
from s3_validated_pipeline.check import DEFAULT_FORBIDDEN, Limits
from s3_validated_pipeline.cli._package import build_package
from s3_validated_pipeline.cli._rules import RulesError, rules_from_buildspec, rules_from_check_arguments
from s3_validated_pipeline.validate import PackageCheckOptions
from tests.cli.conftest import REGION, FakeSession, run, use_session

STACK = "AppStack"
PROJECT = "PipelineValidationProj-AbC123"
SNAPSHOTS = sorted((Path(__file__).parents[1] / "examples" / "__snapshots__" / "test_snapshots").glob("*.json"))


def buildspec(required: list[str], options: PackageCheckOptions) -> str:
    """The validate stage's buildspec as the library generates it, serialised as CDK stores it (JSON)."""
    spec = validation_buildspec(
        commands=["npm ci", "npm test"],
        required_files=required,
        check_options=options.arguments(),
        max_package_bytes=options.max_package_bytes,
        runtime_versions={"nodejs": "18"},
    )
    return json.dumps(spec, indent=2)


DEPLOYED = buildspec(["package.json", "bin/*.ts"], PackageCheckOptions(ignore=["fixtures"]))


def project_resource(logical: str, physical: str) -> dict[str, Any]:
    return {
        "LogicalResourceId": logical,
        "PhysicalResourceId": physical,
        "ResourceType": "AWS::CodeBuild::Project",
        "LastUpdatedTimestamp": "2024-01-01T00:00:00Z",
        "ResourceStatus": "CREATE_COMPLETE",
    }


ROLE = {**project_resource("PipelineValidationProjectRoleF7466B1D", "role"), "ResourceType": "AWS::IAM::Role"}
ONE_PIPELINE = [ROLE, project_resource("PipelineValidationProjectF2917D83", PROJECT)]


Served = TypeVar("Served", bound="StubbedAws")


class StubbedAws:
    """CloudFormation, CodeBuild and CodePipeline clients answering from Stubbers, and what they answer."""

    def __init__(self) -> None:
        self.clients = {name: boto3.client(name, region_name=REGION) for name in ("cloudformation", "codebuild")}
        self.clients["codepipeline"] = boto3.client("codepipeline", region_name=REGION)
        self.stubs = {name: Stubber(client) for name, client in self.clients.items()}

    def resources(self, resources: list[dict[str, Any]], stack: str = STACK) -> StubbedAws:
        self.stubs["cloudformation"].add_response(
            "list_stack_resources", {"StackResourceSummaries": resources}, {"StackName": stack}
        )
        return self

    def project(self, spec: str, name: str = PROJECT) -> StubbedAws:
        source = {"type": "CODEPIPELINE", "buildspec": spec}
        response = {"projects": [{"name": name, "source": source}]}
        self.stubs["codebuild"].add_response("batch_get_projects", response, {"names": [name]})
        return self

    def error(self, service: str, operation: str, code: str, message: str = "", status: int = 403) -> StubbedAws:
        self.stubs[service].add_client_error(
            operation, service_error_code=code, service_message=message, http_status_code=status
        )
        return self

    def serve(self: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
        """Be the CLI's session until the generator is closed; then every answer must have been asked for."""
        use_session(monkeypatch, FakeSession(self.clients))
        for stub in self.stubs.values():
            stub.activate()
        yield self
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()
            stub.deactivate()


@pytest.fixture
def aws(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[StubbedAws]:
    yield from StubbedAws().serve(monkeypatch)


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A package with the deployed pipeline's required files, and a key among the test fixtures it ignores."""
    files = {"package.json": "{}\n", "bin/app.ts": "app\n", "fixtures/server.pem": "not a real key\n"}
    return make_tree(tmp_path / "app", files)


def test_package_with_stack_uses_the_deployed_ignore_and_says_where_the_rules_came_from(
    aws: StubbedAws, app: Path, tmp_path: Path
) -> None:
    # GIVEN a deployed pipeline that ignores fixtures/ and requires package.json and bin/*.ts
    aws.resources(ONE_PIPELINE).project(DEPLOYED)
    # WHEN the app, whose fixtures hold a .pem, is packaged with the stack's rules
    code, out, err = run("package", str(app), "-o", str(tmp_path / "p.zip"), "--stack", STACK)
    # THEN it is accepted, as the pipeline would accept it
    assert code == 0, out + err
    assert "ACCEPTED" in out
    assert (
        f"Check rules from the deployed pipeline (stack {STACK}, CodeBuild project {PROJECT}): requires "
        "package.json, bin/*.ts; ignores fixtures" in err
    )
    # AND without the stack, the default rules reject the .pem
    code, out, _ = run("package", str(app), "-o", str(tmp_path / "p.zip"))
    assert code == 1
    assert "[forbidden-file]" in out


def test_package_with_stack_rejects_a_zip_missing_a_required_file(aws: StubbedAws, app: Path, tmp_path: Path) -> None:
    (app / "bin" / "app.ts").unlink()
    aws.resources(ONE_PIPELINE).project(DEPLOYED)
    code, out, _ = run("package", str(app), "-o", str(tmp_path / "p.zip"), "--stack", STACK)
    assert code == 1
    assert "[required-missing]" in out
    assert "bin/*.ts" in out
    assert (tmp_path / "p.zip").exists()


def test_require_on_the_command_line_adds_to_the_deployed_rules(aws: StubbedAws, app: Path, tmp_path: Path) -> None:
    aws.resources(ONE_PIPELINE).project(DEPLOYED)
    args = ("package", str(app), "-o", str(tmp_path / "p.zip"), "--stack", STACK, "--require", "README.md", "--json")
    code, out, err = run(*args)
    findings = json.loads(out)["check"]["findings"]
    assert code == 1
    assert [finding["rule"] for finding in findings] == ["required-missing"]
    assert "README.md" in findings[0]["message"]
    assert "plus --require README.md from the command line" in err


def test_push_with_stack_refuses_a_zip_missing_a_deployed_required_file(aws: StubbedAws, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "app", {"package.json": "{}\n"})
    package = build_package(root, tmp_path / "p.zip").output
    outputs = {
        "PipelineSourceBucketName1A2B3C4D": "source",
        "PipelineObjectKeyA1B2C3D4": "source.zip",
        "PipelineSourceKeyArnDEADBEEF": "arn:aws:kms:eu-west-1:111111111111:key/k",
        "PipelinePipelineName0F0F0F0F": "app-pipeline",
    }
    stack = {
        "StackName": STACK,
        "CreationTime": "2024-01-01T00:00:00Z",
        "StackStatus": "CREATE_COMPLETE",
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
    }
    aws.stubs["cloudformation"].add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": STACK})
    aws.resources(ONE_PIPELINE).project(DEPLOYED)
    code, out, err = run("push", str(package), "--stack", STACK, "--no-watch")
    assert code == 1
    assert "[required-missing]" in out
    assert "Not uploaded" in err
    assert "Check rules from the deployed pipeline" in err


def test_with_several_pipelines_pipeline_chooses_by_the_project_its_actions_run(
    aws: StubbedAws, app: Path, tmp_path: Path
) -> None:
    two = [
        project_resource("FrontendValidationProject1A2B3C4D", "frontend-validate"),
        project_resource("BackendValidationProject5E6F7A8B", "backend-validate"),
    ]
    aws.resources(two)
    code, _, err = run("package", str(app), "-o", str(tmp_path / "p.zip"), "--stack", STACK)
    assert code == 2
    assert "more than one ValidatedS3Pipeline" in err
    assert "FrontendValidationProject1A2B3C4D, BackendValidationProject5E6F7A8B" in err
    assert "--pipeline NAME" in err
    # WHEN the pipeline is named, its Validate action's project is the one read
    aws.resources(two).project(buildspec(["backend.txt"], PackageCheckOptions()), name="backend-validate")
    action = {
        "name": "Validate",
        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
        "configuration": {"ProjectName": "backend-validate"},
    }
    declaration = {"name": "backend", "roleArn": "arn:aws:iam::111111111111:role/r", "stages": []}
    declaration["stages"] = [{"name": "Validate", "actions": [action]}]
    aws.stubs["codepipeline"].add_response("get_pipeline", {"pipeline": declaration}, {"name": "backend"})
    args = ("package", str(app), "-o", str(tmp_path / "p.zip"), "--stack", STACK, "--pipeline", "backend")
    code, out, err = run(*args)
    assert code == 1
    assert "'backend.txt'" in out
    assert "CodeBuild project backend-validate" in err


@pytest.mark.parametrize(
    ("service", "operation", "permission"),
    [
        ("cloudformation", "list_stack_resources", "cloudformation:ListStackResources"),
        ("codebuild", "batch_get_projects", "codebuild:BatchGetProjects"),
    ],
)
def test_access_denied_names_the_permission(
    aws: StubbedAws, app: Path, tmp_path: Path, service: str, operation: str, permission: str
) -> None:
    if service == "codebuild":
        aws.resources(ONE_PIPELINE)
    aws.error(service, operation, "AccessDeniedException", "not allowed")
    code, _, err = run("package", str(app), "-o", str(tmp_path / "p.zip"), "--stack", STACK)
    assert code == 2
    assert f"your identity needs {permission}" in err
    assert "leave out --stack and pass --require and --ignore yourself" in err
    assert not (tmp_path / "p.zip").exists()


def test_fails_for_a_stack_without_a_validate_project(aws: StubbedAws, app: Path, tmp_path: Path) -> None:
    aws.resources([ROLE])
    code, _, err = run("package", str(app), "-o", str(tmp_path / "p.zip"), "--stack", STACK)
    assert code == 2
    assert f"the stack '{STACK}' has no validate project of a ValidatedS3Pipeline" in err


def test_fails_for_a_stack_that_does_not_exist(aws: StubbedAws, app: Path, tmp_path: Path) -> None:
    aws.error("cloudformation", "list_stack_resources", "ValidationError", "Stack with id Nope does not exist", 400)
    code, _, err = run("package", str(app), "-o", str(tmp_path / "p.zip"), "--stack", "Nope")
    assert code == 2
    assert f"no stack named 'Nope' in {REGION}" in err


def test_fails_clearly_for_a_buildspec_that_is_not_json(aws: StubbedAws, app: Path, tmp_path: Path) -> None:
    aws.resources(ONE_PIPELINE).project("version: 0.2\nphases:\n  build:\n    commands: [make]\n")
    code, _, err = run("package", str(app), "-o", str(tmp_path / "p.zip"), "--stack", STACK)
    assert code == 2
    assert f"the buildspec of the deployed pipeline (stack {STACK}, CodeBuild project {PROJECT}) is not JSON" in err


def test_pipeline_without_stack_is_a_usage_error(app: Path, tmp_path: Path) -> None:
    code, _, err = run("package", str(app), "-o", str(tmp_path / "p.zip"), "--pipeline", "p")
    assert code == 2
    assert "pass --stack NAME too" in err


def test_every_option_of_the_check_is_read_into_the_same_limits() -> None:
    options = PackageCheckOptions(
        max_package_bytes=4096,
        max_entries=50,
        max_total_bytes=2048,
        max_compression_ratio=7,
        allow_nested_archives=True,
        forbidden_files=["*.sql", "secrets dir/*", "!seed.sql"],
        ignore=["node_modules", "it's here/**"],
        max_name_bytes=300,
        max_segment_bytes=100,
        max_depth=9,
    )
    rules = rules_from_buildspec(buildspec(["package.json", "my file.txt"], options), source="test")
    assert rules.required == ("package.json", "my file.txt")
    assert rules.limits == Limits(
        max_package_bytes=4096,
        max_entries=50,
        max_total_bytes=2048,
        max_compression_ratio=7.0,
        allow_nested_archives=True,
        forbidden=(*DEFAULT_FORBIDDEN, "*.sql", "secrets dir/*", "!seed.sql"),
        ignore=("node_modules", "it's here/**"),
        max_name_bytes=300,
        max_segment_bytes=100,
        max_depth=9,
    )
    assert "also forbids *.sql, secrets dir/*, !seed.sql" in rules.describe()
    assert "--max-entries 50" in rules.describe()


def test_an_unknown_option_of_the_check_is_an_error_not_a_different_verdict() -> None:
    with pytest.raises(RulesError, match=r"an option this s3vp does not know \(--max-widgets\)"):
        rules_from_check_arguments(["source.zip", "--extract", ".", "--max-widgets", "3"], source="test")


def _example_of(snapshot: Path) -> str:
    """``test_example_template_matches_its_snapshot[fleet][FleetTeams1]`` -> ``fleet``: one example, several stacks."""
    return snapshot.stem.split("[")[1].rstrip("]")


@pytest.mark.parametrize("example", sorted({_example_of(path) for path in SNAPSHOTS}))
def test_the_rules_of_every_synthesized_example_can_be_read(example: str) -> None:
    specs = [
        resource["Properties"]["Source"]["BuildSpec"]
        for snapshot in SNAPSHOTS
        if _example_of(snapshot) == example
        for logical, resource in json.loads(snapshot.read_text(encoding="utf-8"))["Resources"].items()
        if resource["Type"] == "AWS::CodeBuild::Project" and "ValidationProject" in logical
    ]
    assert specs
    for spec in specs:
        assert isinstance(rules_from_buildspec(spec, source="snapshot").limits, Limits)
