"""A CloudFormation target's change-set step, run for real in bash against a fake CloudFormation.

The buildspec, the project's variables and each action's variables come from the cross_account example's
synthesized template: ``DeployProductionChangeSet`` (plan, before the approval), ``DeployProduction`` (deploy, after
it) and ``DeployStaging`` (deploy, no approval). The build runs on ``s3vp run``'s CodeBuild emulator, in the
container of ``tests/validate/test_buildspec_commands.py`` (its ``Sandbox``), with ``aws`` replaced by
``fake_cloudformation.py``: a strict fake whose world is the target account as ``cdk bootstrap --trust`` leaves it.
The build's own role may assume exactly the roles the synthesized policy lets it assume; only the deploy role may
call CloudFormation; only the file-publishing role may write the staging bucket, which the deploy role may read.

The emulator runs each command in its own ``bash -c``, so a variable the step exports is seen by no later command;
CodeBuild reads ``exported-variables`` from its shell once the build phase is over. So the tests append a probe to
the step's one command, after it, that records those variables and keeps its exit code.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from s3_validated_pipeline._build_project import CHECKER_FILE
from s3_validated_pipeline._buildspec import verify_provenance
from s3_validated_pipeline.check import MANIFEST_PATH, REPORT_PATH, write_manifest
from s3_validated_pipeline.stages._change_set import EXPORTED_VARIABLES
from tests.conftest import synthesized_example
from tests.stages import fake_cloudformation as fake
from tests.stages.test_deploy import TARGETS, View, assumable, bootstrap_role, change_set_settings
from tests.validate.test_buildspec_commands import BuildRun, Sandbox

PIPELINE_ACCOUNT = "111111111111"
REGION = "eu-west-1"
PRODUCTION = TARGETS["Production"]
STAGING = TARGETS["Staging"]
EXECUTION_ID = "3137f7cb-7cf7-43a1-9b81-2dd2f29eb3f5"
"""The pipeline execution CodePipeline would put in place of ``#{codepipeline.PipelineExecutionId}``."""
CHANGE_SET = f"s3vp-{EXECUTION_ID}"
PACKAGE_SHA256 = hashlib.sha256(b"the validated package").hexdigest()
TEMPLATE_PATH = "cdk.out/App.template.json"

FUNCTION = {
    "Type": "AWS::Lambda::Function",
    "Properties": {
        "Code": {"S3Bucket": "assets", "S3Key": "v1.zip"},
        "Handler": "index.handler",
        "Runtime": "nodejs22.x",
        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
    },
}
ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    },
}
GROUP = {
    "Type": "AWS::EC2::SecurityGroup",
    "Properties": {"GroupDescription": "web", "VpcId": "vpc-1", "SecurityGroupIngress": []},
}
KEY = {
    "Type": "AWS::KMS::Key",
    "Properties": {
        "KeyPolicy": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PRODUCTION}:root"}, "Action": "kms:*"}
            ],
        }
    },
}
APP: dict[str, Any] = {
    "Resources": {"Function": FUNCTION, "Role": ROLE, "Bucket": {"Type": "AWS::S3::Bucket"}, "Group": GROUP, "Key": KEY}
}
"""The App stack: a function and its role, a bucket, a security group and a KMS key."""


def app_with(**resources: Any) -> dict[str, Any]:
    """APP with ``resources`` added or replaced (None: removed)."""
    template = copy.deepcopy(APP)
    for logical_id, resource in resources.items():
        if resource is None:
            del template["Resources"][logical_id]
        else:
            template["Resources"][logical_id] = resource
    return template


def with_properties(resource: Mapping[str, Any], **properties: Any) -> dict[str, Any]:
    changed = copy.deepcopy(dict(resource))
    changed["Properties"].update(properties)
    return changed


def text_of(template: Mapping[str, Any]) -> str:
    return json.dumps(template, indent=1)


# --- The actions, as synthesized ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One CodeBuild action of a CloudFormation target, read from the template."""

    spec: dict[str, Any]
    project_variables: dict[str, str]
    variables: dict[str, str]
    build_role: str
    """The identity of the project's role (its container credentials)."""
    assumable: frozenset[str]
    """The roles the project's role may assume, by the synthesized policy."""

    @property
    def account(self) -> str:
        return self.variables["S3VP_DEPLOY_ROLE_ARN"].split(":")[4]


@pytest.fixture(scope="module")
def cross() -> View:
    return View(synthesized_example("cross_account").json)


def without_provenance_check(spec: dict[str, Any]) -> dict[str, Any]:
    """The buildspec less its provenance check, which needs an artifact signed by Attest and KMS: the subject of
    tests/validate/test_provenance_attacks.py. Here the artifact is a validated one, its manifest still verified."""
    pre_build = spec["phases"]["pre_build"]["commands"]
    assert pre_build.count(verify_provenance()) == 1, pre_build
    commands = [command for command in pre_build if command != verify_provenance()]
    return {**spec, "phases": {**spec["phases"], "pre_build": {**spec["phases"]["pre_build"], "commands": commands}}}


def read_action(cross: View, stage: str, name: str) -> Action:
    action = cross.action(stage, name)
    project = action["Configuration"]["ProjectName"]["Ref"]
    properties = cross.resources[project]["Properties"]
    project_variables = {
        v["Name"]: v["Value"] if isinstance(v["Value"], str) else f"test-{v['Name'].lower()}"
        for v in properties["Environment"]["EnvironmentVariables"]
    }
    role = cross.project_role(project)
    return Action(
        spec=without_provenance_check(cross.buildspec(project)),
        project_variables=project_variables,
        variables=change_set_settings(action),
        build_role=f"arn:aws:iam::{PIPELINE_ACCOUNT}:role/{role}",
        assumable=frozenset(assumable(cross, role)),
    )


@pytest.fixture(scope="module")
def plan(cross: View) -> Action:
    return read_action(cross, "DeployProductionChangeSet", "ChangeSet")


@pytest.fixture(scope="module")
def deploy(cross: View) -> Action:
    return read_action(cross, "DeployProduction", "Deploy")


@pytest.fixture(scope="module")
def staging(cross: View) -> Action:
    return read_action(cross, "DeployStaging", "Deploy")


def test_the_actions_run_one_command_in_the_targets_bootstrap_roles(plan: Action, deploy: Action) -> None:
    # What the tests below run: one buildspec command after the verification, the same for plan and deploy.
    for action in (plan, deploy):
        [command] = action.spec["phases"]["build"]["commands"]
        assert command == plan.spec["phases"]["build"]["commands"][0]
        assert action.variables["S3VP_EXECUTION_ID"] == "#{codepipeline.PipelineExecutionId}"
        assert action.assumable == {bootstrap_role("deploy", PRODUCTION), bootstrap_role("file-publishing", PRODUCTION)}
    assert (plan.variables["S3VP_MODE"], deploy.variables["S3VP_MODE"]) == ("plan", "deploy")


# --- The target: its account (the fake) and a build container -----------------------------------------------------

PROBE = """
__probe_status=$?
python3 -c 'import json, os, sys; json.dump({n: os.environ.get(n) for n in sys.argv[2:]}, open(sys.argv[1], "w"))' \\
  "$S3VP_PROBE" NAMES
exit "$__probe_status"
"""


@dataclass(frozen=True)
class Run:
    build: BuildRun
    exported: dict[str, str | None] | None
    """The exported variables' values as the build phase ended; None when the probe never ran."""
    calls: list[dict[str, Any]]
    """The calls this run made to the fake, in order."""

    @property
    def output(self) -> str:
        return "".join(phase.output for phase in self.build.phases.values())

    @property
    def returncode(self) -> int:
        return self.build["build"].returncode if "build" in self.build.phases else self.build["pre_build"].returncode

    def cloudformation(self) -> list[str]:
        """The CloudFormation commands called, in order (``wait <waiter>`` for a waiter)."""
        return [
            " ".join(c["args"][1:3] if c["args"][1] == "wait" else c["args"][1:2]) for c in self.of("cloudformation")
        ]

    def of(self, service: str, command: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["args"][0] == service and (command is None or c["args"][1:2] == [command])]

    def option(self, call: Mapping[str, Any], name: str) -> str:
        args: list[str] = call["args"]
        assert args.count(name) == 1, f"{name} must be given exactly once: {args}"
        return args[args.index(name) + 1]


class Target:
    """A target account as ``cdk bootstrap --trust`` leaves it, and a build container holding the validated artifact."""

    def __init__(self, root: Path, action: Action, template: str) -> None:
        self.action = action
        self.root = root
        self.box = Sandbox(root / "box")
        self.state_path = root / "cloudformation.json"
        state = fake.new_state(build_role=action.build_role, region=REGION)
        state["may_assume"] = {role: [action.build_role] for role in action.assumable}
        state["cloudformation"] = [self.deploy_role]
        checker_bucket, checker_key = (
            action.project_variables["CHECKER_BUCKET"],
            action.project_variables["CHECKER_KEY"],
        )
        state["buckets"] = {
            checker_bucket: {"read": [action.build_role]},
            action.variables["S3VP_STAGING_BUCKET"]: {"read": [self.deploy_role], "write": [self.file_role]},
        }
        state["objects"][f"s3://{checker_bucket}/{checker_key}"] = str(CHECKER_FILE)
        fake.save(self.state_path, state)
        aws = root / "box" / "bin" / "aws"
        aws.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{Path(fake.__file__).resolve()}" "{self.state_path}" "$@"\n'
        )
        self.write_artifact(template)

    @property
    def deploy_role(self) -> str:
        return self.action.variables["S3VP_DEPLOY_ROLE_ARN"]

    @property
    def file_role(self) -> str:
        return self.action.variables["S3VP_FILE_ROLE_ARN"]

    @property
    def state(self) -> dict[str, Any]:
        return fake.load(self.state_path)

    def edit(self, change: Any) -> None:
        """Change the account's state with ``change(state)``: what someone else did in it."""
        state = self.state
        change(state)
        fake.save(self.state_path, state)

    def deployed(self, template: Mapping[str, Any]) -> None:
        """The App stack exists, deployed from ``template`` by an earlier execution."""
        self.edit(lambda state: fake.add_stack(state, "App", text_of(template), account=self.action.account))

    def write_artifact(self, template: str) -> None:
        """The validated artifact: the template, the package check's report and the manifest over both."""
        src = self.box.src
        (src / TEMPLATE_PATH).parent.mkdir(parents=True, exist_ok=True)
        (src / TEMPLATE_PATH).write_text(template, encoding="utf-8", newline="")
        (src / REPORT_PATH).parent.mkdir(parents=True, exist_ok=True)
        (src / REPORT_PATH).write_text(json.dumps({"accepted": True, "sha256": PACKAGE_SHA256}))
        write_manifest(src, source={"sha256": PACKAGE_SHA256}, output=src / MANIFEST_PATH)

    def run(self, action: Action | None = None, *, execution_id: str = EXECUTION_ID, **variables: str) -> Run:
        """Run ``action``'s buildspec (default: this target's) for one pipeline execution; ``variables`` override
        the action's."""
        action = action or self.action
        before = len(fake.calls(self.state_path))
        probe = self.root / "exported.json"
        probe.unlink(missing_ok=True)
        spec = copy.deepcopy(action.spec)
        [command] = spec["phases"]["build"]["commands"]
        spec["phases"]["build"]["commands"] = [command + PROBE.replace("NAMES", " ".join(EXPORTED_VARIABLES))]
        pipeline_variables = {
            k: v.replace("#{codepipeline.PipelineExecutionId}", execution_id) for k, v in action.variables.items()
        }
        env = {
            **self.box.env,
            **action.project_variables,
            **pipeline_variables,
            **variables,
            # What CodeBuild provides: the region, the project role's credentials, a build number.
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            fake.BUILD_KEY: "/v2/credentials/build",
            "CODEBUILD_BUILD_NUMBER": "7",
            "S3VP_PROBE": str(probe),
        }
        build = self.box.run_build(spec, env)
        exported = json.loads(probe.read_text()) if probe.exists() else None
        return Run(build, exported, fake.calls(self.state_path)[before:])


@pytest.fixture
def production(tmp_path: Path, plan: Action) -> Target:
    """The production account, where App does not exist yet; the artifact holds APP."""
    return Target(tmp_path, plan, text_of(APP))


def change_set_of(target: Target, name: str = CHANGE_SET) -> dict[str, Any]:
    change_set: dict[str, Any] = target.state["stacks"]["App"]["change_sets"][name]
    return change_set


def assert_ran_as_the_deploy_role(run: Run, target: Target) -> None:
    """Every CloudFormation call was made with credentials the deploy role was issued, never the build's own."""
    [assumed] = [c for c in run.of("sts", "assume-role") if run.option(c, "--role-arn") == target.deploy_role]
    assert assumed["caller"] == target.action.build_role
    assert run.of("cloudformation")
    for call in run.of("cloudformation"):
        assert call["caller"] == target.deploy_role, call
        assert str(call["key"]).startswith("ASIA"), call


# --- Plan, then deploy ---------------------------------------------------------------------------------------------


def test_plan_on_a_new_stack_creates_a_create_change_set_as_the_deploy_role(production: Target) -> None:
    # GIVEN the production account without the App stack  WHEN the plan action runs
    run = production.run()
    # THEN the artifact was verified, and the step succeeded
    assert run.build["pre_build"].returncode == 0, run.output
    assert "Manifest verified: 2 files intact" in run.output
    assert run.returncode == 0, run.output
    # AND it made the change set s3vp-<execution id>, of type CREATE, from the verified file, as the deploy role
    assert run.cloudformation() == [
        "describe-change-set",
        "describe-stacks",
        "create-change-set",
        "wait change-set-create-complete",
        "describe-change-set",
        "get-template",
    ]
    assert_ran_as_the_deploy_role(run, production)
    [create] = run.of("cloudformation", "create-change-set")
    assert run.option(create, "--change-set-name") == CHANGE_SET
    assert run.option(create, "--change-set-type") == "CREATE"
    assert run.option(create, "--template-body") == f"file://{TEMPLATE_PATH}"
    assert run.option(create, "--role-arn") == bootstrap_role("cfn-exec", PRODUCTION)
    assert run.option(create, "--description") == f"s3-validated-pipeline execution {EXECUTION_ID}"
    change_set = change_set_of(production)
    assert change_set["template"] == text_of(APP)
    # AND the synthesized parameters ([]) and capabilities (CAPABILITY_NAMED_IAM) reached it
    assert (change_set["Parameters"], change_set["Capabilities"]) == ([], ["CAPABILITY_NAMED_IAM"])
    # AND nothing was executed: the stack waits for review
    assert run.of("cloudformation", "execute-change-set") == []
    assert production.state["stacks"]["App"]["StackStatus"] == "REVIEW_IN_PROGRESS"
    # AND the five variables are exported, with a summary of the change set
    assert run.exported is not None
    assert set(run.exported) == set(EXPORTED_VARIABLES)
    assert run.exported["CHANGE_SET_NAME"] == CHANGE_SET
    assert run.exported["CHANGE_SET_SUMMARY"] == (
        "5 to add, 0 to modify (0 replaced), 0 to remove; permissions: Add Group (AWS::EC2::SecurityGroup), "
        "Add Key (AWS::KMS::Key), Add Role (AWS::IAM::Role)"
    )
    assert run.exported["PERMISSIONS_BROADENED"] == "true"
    assert run.exported["PACKAGE_SHA256"] == PACKAGE_SHA256
    link = urllib.parse.urlsplit(run.exported["CHANGE_SET_LINK"] or "")
    assert (link.netloc, link.query) == ("console.aws.amazon.com", f"region={REGION}")
    page, _, query = link.fragment.partition("?")
    assert page == "/stacks/changesets/changes"
    assert urllib.parse.parse_qs(query) == {
        "stackId": [production.state["stacks"]["App"]["StackId"]],
        "changeSetId": [change_set["ChangeSetId"]],
    }
    # AND the log shows what the approver will read
    assert f"export CHANGE_SET_NAME={CHANGE_SET}" in run.output


def test_deploy_after_plan_executes_exactly_that_change_set_and_waits_for_it(
    production: Target, deploy: Action
) -> None:
    # GIVEN the plan's change set, approved
    assert production.run().returncode == 0
    planned = change_set_of(production)
    # WHEN the deploy action of the same execution runs
    run = production.run(deploy)
    # THEN it executes that change set (made nothing new) and waits for the stack's creation
    assert run.returncode == 0, run.output
    assert run.cloudformation() == [
        "describe-change-set",
        "describe-change-set",
        "get-template",
        "describe-stacks",
        "execute-change-set",
        "wait stack-create-complete",
    ]
    assert_ran_as_the_deploy_role(run, production)
    [execute] = run.of("cloudformation", "execute-change-set")
    assert run.option(execute, "--change-set-name") == CHANGE_SET
    stack = production.state["stacks"]["App"]
    assert (stack["StackStatus"], stack["executed"]) == ("CREATE_COMPLETE", CHANGE_SET)
    assert stack["Template"] == planned["template"] == text_of(APP)
    assert stack["executed_as"] == bootstrap_role("cfn-exec", PRODUCTION)
    assert run.exported is not None
    assert run.exported["CHANGE_SET_NAME"] == CHANGE_SET


def test_fails_when_the_change_set_holds_another_template_than_the_verified_one(
    production: Target, deploy: Action
) -> None:
    # GIVEN the plan's change set, replaced after the approval by one holding another template
    assert production.run().returncode == 0
    backdoor = app_with(Backdoor={"Type": "AWS::IAM::User", "Properties": {"UserName": "backdoor"}})
    production.edit(lambda state: state["stacks"]["App"]["change_sets"][CHANGE_SET].update(template=text_of(backdoor)))
    # WHEN the deploy action runs
    run = production.run(deploy)
    # THEN it fails, naming the mismatch, and executes nothing
    assert run.returncode == 1, run.output
    assert (
        "Change set check FAILED: the change set does not hold the template this build verified "
        f"({TEMPLATE_PATH}); nothing is deployed." in run.output
    )
    assert run.of("cloudformation", "execute-change-set") == []
    assert production.state["stacks"]["App"]["StackStatus"] == "REVIEW_IN_PROGRESS"
    assert run.exported == dict.fromkeys(EXPORTED_VARIABLES), "nothing is exported from a failed step"


@pytest.mark.parametrize("case", ["target-without-approval", "rollback"])
def test_deploy_without_a_change_set_creates_one_from_its_own_copy_then_executes(
    tmp_path: Path, deploy: Action, staging: Action, case: str
) -> None:
    # GIVEN App deployed by an earlier execution, and a new template in the artifact: either the Staging target
    # (no approval, so no plan) or Production's deploy action in a rollback (a new execution, never planned)
    action = staging if case == "target-without-approval" else deploy
    updated = app_with(
        Bucket={"Type": "AWS::S3::Bucket", "Properties": {"VersioningConfiguration": {"Status": "Enabled"}}}
    )
    target = Target(tmp_path, action, text_of(updated))
    target.deployed(APP)
    # WHEN the deploy action runs
    run = target.run()
    # THEN it creates an UPDATE change set from its own verified copy, then executes it and waits for the update
    assert run.returncode == 0, run.output
    assert run.cloudformation() == [
        "describe-change-set",
        "describe-stacks",
        "create-change-set",
        "wait change-set-create-complete",
        "describe-change-set",
        "get-template",
        "describe-stacks",
        "execute-change-set",
        "wait stack-update-complete",
    ]
    assert_ran_as_the_deploy_role(run, target)
    [create] = run.of("cloudformation", "create-change-set")
    assert run.option(create, "--change-set-type") == "UPDATE"
    assert run.option(create, "--role-arn") == bootstrap_role("cfn-exec", action.account)
    stack = target.state["stacks"]["App"]
    assert (stack["StackStatus"], stack["executed"], stack["Template"]) == (
        "UPDATE_COMPLETE",
        CHANGE_SET,
        text_of(updated),
    )
    assert run.exported is not None
    assert run.exported["CHANGE_SET_SUMMARY"] == (
        "0 to add, 1 to modify (0 replaced), 0 to remove; no IAM, resource-policy or security-group change"
    )


@pytest.mark.parametrize("mode", ["plan", "deploy"])
def test_a_change_set_without_changes_deploys_nothing(
    production: Target, plan: Action, deploy: Action, mode: str
) -> None:
    # GIVEN App already deployed from the very template in the artifact
    production.deployed(APP)
    # WHEN the action runs
    run = production.run(plan if mode == "plan" else deploy)
    # THEN it succeeds, says there is nothing to deploy, and executes nothing
    assert run.returncode == 0, run.output
    assert change_set_of(production)["Status"] == "FAILED"
    assert run.exported == {
        "CHANGE_SET_NAME": "none",
        "CHANGE_SET_SUMMARY": "no changes: the stack already matches the package",
        "CHANGE_SET_LINK": "",
        "PERMISSIONS_BROADENED": "false",
        "PACKAGE_SHA256": PACKAGE_SHA256,
    }
    assert run.of("cloudformation", "execute-change-set") == []
    assert production.state["stacks"]["App"]["StackStatus"] == "UPDATE_COMPLETE"


def test_a_retried_plan_makes_its_change_set_again_from_its_own_copy(production: Target) -> None:
    # GIVEN the plan's change set, replaced by one holding another template
    assert production.run().returncode == 0
    production.edit(
        lambda state: state["stacks"]["App"]["change_sets"][CHANGE_SET].update(template=text_of(app_with(Key=None)))
    )
    # WHEN the plan action is retried in the same execution
    run = production.run()
    # THEN it deleted that change set and made it again from the verified file
    assert run.returncode == 0, run.output
    assert run.cloudformation()[:3] == ["describe-change-set", "delete-change-set", "describe-stacks"]
    assert change_set_of(production)["template"] == text_of(APP)


@pytest.mark.parametrize("mode", ["plan", "deploy"])
def test_fails_when_cloudformation_refuses_the_change_set(
    tmp_path: Path, plan: Action, deploy: Action, mode: str
) -> None:
    # GIVEN a template with a parameter the action gives no value for
    template = {**APP, "Parameters": {"Stage": {"Type": "String"}}}
    target = Target(tmp_path, plan if mode == "plan" else deploy, text_of(template))
    # WHEN the action runs  THEN it stops at CloudFormation's refusal, which the log shows, exporting nothing
    run = target.run()
    assert run.returncode == fake.SERVICE_ERROR, run.output
    assert "An error occurred (ValidationError) when calling the CreateChangeSet operation: Parameters: [Stage]" in (
        run.output
    )
    assert run.cloudformation()[-1] == "create-change-set"
    assert run.exported == dict.fromkeys(EXPORTED_VARIABLES)


def test_fails_when_the_stack_update_rolls_back(tmp_path: Path, staging: Action) -> None:
    # GIVEN a deployment that CloudFormation will roll back
    target = Target(tmp_path, staging, text_of(app_with(Bucket=None)))
    target.deployed(APP)
    target.edit(lambda state: state.update(execution_result="ROLLBACK"))
    # WHEN the deploy action runs  THEN the waiter's failure fails the step
    run = target.run()
    assert run.returncode == fake.WAITER_ERROR, run.output
    assert "UPDATE_ROLLBACK_COMPLETE" in run.output
    assert run.exported == dict.fromkeys(EXPORTED_VARIABLES)


# --- Which changes broaden permissions ----------------------------------------------------------------------------

STATEMENT = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}


@pytest.mark.parametrize(
    ("template", "broadened", "named"),
    [
        pytest.param(app_with(Audit=ROLE), True, "Add Audit (AWS::IAM::Role)", id="added-role"),
        pytest.param(
            app_with(Role=with_properties(ROLE, ManagedPolicyArns=["arn:aws:iam::aws:policy/AdministratorAccess"])),
            True,
            "Modify Role (AWS::IAM::Role)",
            id="modified-role",
        ),
        pytest.param(
            app_with(
                Policy={
                    "Type": "AWS::S3::BucketPolicy",
                    "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": {"Statement": [STATEMENT]}},
                }
            ),
            True,
            "Add Policy (AWS::S3::BucketPolicy)",
            id="bucket-policy",
        ),
        pytest.param(
            app_with(
                Ingress={
                    "Type": "AWS::EC2::SecurityGroupIngress",
                    "Properties": {"GroupId": {"Ref": "Group"}, "IpProtocol": "tcp", "CidrIp": "0.0.0.0/0"},
                }
            ),
            True,
            "Add Ingress (AWS::EC2::SecurityGroupIngress)",
            id="security-group-ingress",
        ),
        pytest.param(
            app_with(Group=with_properties(GROUP, SecurityGroupIngress=[{"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}])),
            True,
            "Modify Group (AWS::EC2::SecurityGroup)",
            id="security-group-rule",
        ),
        pytest.param(
            app_with(Key=with_properties(KEY, KeyPolicy={"Statement": [STATEMENT]})),
            True,
            "Modify Key (AWS::KMS::Key)",
            id="modified-policy-property",
        ),
        pytest.param(
            app_with(
                Repository={
                    "Type": "AWS::ECR::Repository",
                    "Properties": {"RepositoryPolicyText": {"Statement": [STATEMENT]}},
                }
            ),
            True,
            "Add Repository (AWS::ECR::Repository)",
            id="added-resource-with-a-policy-property",
        ),
        pytest.param(
            app_with(Function=with_properties(FUNCTION, Code={"S3Bucket": "assets", "S3Key": "v2.zip"})),
            False,
            "0 to add, 1 to modify (0 replaced), 0 to remove; no IAM, resource-policy or security-group change",
            id="lambda-code",
        ),
    ],
)
def test_permissions_broadened_says_whether_the_change_set_can_widen_access(
    tmp_path: Path, plan: Action, template: dict[str, Any], broadened: bool, named: str
) -> None:
    # GIVEN App deployed from APP, and an artifact with one change to it
    target = Target(tmp_path, plan, text_of(template))
    target.deployed(APP)
    # WHEN the plan action runs
    run = target.run()
    # THEN PERMISSIONS_BROADENED says whether the change can widen access, and the summary names it
    assert run.returncode == 0, run.output
    assert run.exported is not None
    assert run.exported["PERMISSIONS_BROADENED"] == ("true" if broadened else "false")
    assert named in (run.exported["CHANGE_SET_SUMMARY"] or "")


def test_a_removed_policy_counts_as_broadening(tmp_path: Path, plan: Action) -> None:
    # GIVEN App deployed with a bucket policy that denies, and an artifact without it
    deny = {**STATEMENT, "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    policy = {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": "b", "PolicyDocument": {"Statement": [deny]}}}
    target = Target(tmp_path, plan, text_of(APP))
    target.deployed(app_with(Policy=policy))
    # WHEN the plan action runs  THEN the removal is named as a permission change: it can lift a Deny
    run = target.run()
    assert run.returncode == 0, run.output
    assert run.exported is not None
    assert run.exported["PERMISSIONS_BROADENED"] == "true"
    assert "Remove Policy (AWS::S3::BucketPolicy)" in (run.exported["CHANGE_SET_SUMMARY"] or "")


# --- The roles -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plan", "deploy"])
def test_fails_when_the_deploy_role_cannot_be_assumed(
    production: Target, plan: Action, deploy: Action, mode: str
) -> None:
    # GIVEN a target account never bootstrapped with --trust for the pipeline's: its roles refuse the build's role
    production.edit(lambda state: state.update(may_assume={}))
    # WHEN the action runs
    run = production.run(plan if mode == "plan" else deploy)
    # THEN it fails with AWS's refusal and says how to bootstrap, calling CloudFormation not at all
    assert run.returncode == 1, run.output
    assert "An error occurred (AccessDenied) when calling the AssumeRole operation" in run.output
    assert f"Cannot assume {bootstrap_role('deploy', PRODUCTION)}. Bootstrap the target once with 'cdk bootstrap" in (
        run.output
    )
    assert "'--trust <pipeline account>' when it is another account" in run.output
    assert run.of("cloudformation") == []
    assert run.exported == dict.fromkeys(EXPORTED_VARIABLES)


def padded(template: Mapping[str, Any], size: int) -> str:
    """``template``'s text, made exactly ``size`` bytes long by its Metadata."""
    text = text_of({**template, "Metadata": {"Padding": ""}})
    text = text_of({**template, "Metadata": {"Padding": "x" * (size - len(text.encode()))}})
    assert len(text.encode()) == size
    return text


def test_a_template_up_to_51200_bytes_is_sent_inline(tmp_path: Path, plan: Action) -> None:
    target = Target(tmp_path, plan, padded(APP, 51_200))
    run = target.run()
    assert run.returncode == 0, run.output
    [create] = run.of("cloudformation", "create-change-set")
    assert run.option(create, "--template-body") == f"file://{TEMPLATE_PATH}"
    assert [c for c in run.of("s3", "cp") if c["args"][-1].startswith("s3://")] == [], "nothing uploaded"


def test_a_larger_template_is_staged_by_the_file_publishing_role_and_sent_by_url(tmp_path: Path, plan: Action) -> None:
    # GIVEN an artifact whose template is one byte over what CloudFormation takes inline
    template = padded(APP, 51_201)
    target = Target(tmp_path, plan, template)
    # WHEN the plan action runs
    run = target.run()
    # THEN the template was uploaded to the staging bucket as the file-publishing role, which the build's own role
    # assumed (the deploy role may not)
    assert run.returncode == 0, run.output
    key = f"s3vp/{hashlib.sha256(template.encode()).hexdigest()}.json"
    bucket = f"cdk-hnb659fds-assets-{PRODUCTION}-{REGION}"
    [upload] = [c for c in run.of("s3", "cp") if c["args"][-1].startswith("s3://")]
    assert upload["args"] == ["s3", "cp", "--quiet", TEMPLATE_PATH, f"s3://{bucket}/{key}"]
    assert upload["caller"] == target.file_role
    [assumed] = [c for c in run.of("sts", "assume-role") if run.option(c, "--role-arn") == target.file_role]
    assert assumed["caller"] == target.action.build_role
    # AND the change set was made from its URL, as the deploy role, and holds the verified template
    [create] = run.of("cloudformation", "create-change-set")
    assert "--template-body" not in create["args"]
    assert run.option(create, "--template-url") == f"https://{bucket}.s3.{REGION}.amazonaws.com/{key}"
    assert_ran_as_the_deploy_role(run, target)
    assert change_set_of(target)["template"] == template
    assert run.exported is not None
    assert run.exported["CHANGE_SET_NAME"] == CHANGE_SET


def test_parameters_and_capabilities_from_the_actions_variables_reach_the_change_set(
    tmp_path: Path, plan: Action
) -> None:
    # GIVEN a template with parameters, and an action passing values that a shell could misread
    parameters = [
        {"ParameterKey": "Stage", "ParameterValue": "production"},
        {"ParameterKey": "Motto", "ParameterValue": 'it\'s "$HOME" & `id`; * \\n'},
    ]
    template = {**APP, "Parameters": {"Stage": {"Type": "String"}, "Motto": {"Type": "String"}}}
    target = Target(tmp_path, plan, text_of(template))
    # WHEN the plan action runs with them
    run = target.run(
        S3VP_PARAMETERS=json.dumps(parameters), S3VP_CAPABILITIES="CAPABILITY_NAMED_IAM CAPABILITY_AUTO_EXPAND"
    )
    # THEN the change set has exactly those parameters and capabilities
    assert run.returncode == 0, run.output
    [create] = run.of("cloudformation", "create-change-set")
    assert create["args"][create["args"].index("--capabilities") + 1 :][:2] == [
        "CAPABILITY_NAMED_IAM",
        "CAPABILITY_AUTO_EXPAND",
    ]
    change_set = change_set_of(target)
    assert change_set["Parameters"] == parameters
    assert change_set["Capabilities"] == ["CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


def test_fails_when_the_template_is_not_in_the_artifact(production: Target) -> None:
    # GIVEN an artifact, intact, without the template the target names
    (production.box.src / TEMPLATE_PATH).unlink()
    write_manifest(production.box.src, source={"sha256": PACKAGE_SHA256}, output=production.box.src / MANIFEST_PATH)
    # WHEN the plan runs  THEN it says which template is missing and where it is configured, calling nothing
    run = production.run()
    assert run.returncode == 1, run.output
    assert f"The template {TEMPLATE_PATH} is not in the validated artifact" in run.output
    assert run.of("sts") == run.of("cloudformation") == []
