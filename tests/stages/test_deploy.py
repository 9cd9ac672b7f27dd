"""The stages after validation: tests, manual approvals and deployments, as the synthesized template has them.

Three pipelines, each synthesized once: the seed example (test stage, Staging, approval, Production with an alarm),
the cross-account example (CloudFormation change sets in two other accounts), and ``variety`` below (a retried
deployment, a target named Production without approval, ``cdk deploy`` into another account, a user stage placed
after Test). Invalid combinations are rejected before anything is built, so those tests synthesize nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_sns as sns

from s3_validated_pipeline import (
    ApprovalOptions,
    BuildEnvironment,
    CloudFormationDeployment,
    DeployTarget,
    InputError,
    StageOptions,
    TestStageOptions,
    ValidatedS3Pipeline,
    ValidationOptions,
)
from s3_validated_pipeline._buildspec import verify_provenance
from s3_validated_pipeline.cli._local.assembly import Resolver
from s3_validated_pipeline.stages._change_set import CHANGE_SET_SCRIPT, EXPORTED_VARIABLES
from tests.conftest import Synthesized, assert_fails, new_pipeline, synthesize, synthesized_example

PIPELINE_ACCOUNT = "111111111111"
REGION = "eu-west-1"
ENV = cdk.Environment(account=PIPELINE_ACCOUNT, region=REGION)
VERIFY = ["python3 /tmp/s3vp/check.py verify .", verify_provenance()]
"""The last lines of every pre_build after Validate: the manifest, then the signed provenance."""
ROLLBACK = {"Result": "ROLLBACK"}
RETRY = {"Result": "RETRY", "RetryConfiguration": {"RetryMode": "FAILED_ACTIONS"}}
ACCOUNT_ID = re.compile(r"(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])")


def bootstrap_role(kind: str, account: str) -> str:
    return f"arn:aws:iam::{account}:role/cdk-hnb659fds-{kind}-role-{account}-{REGION}"


# ---------------------------------------------------------------------------------------------------------------
# Reading the template


def render(value: Any) -> Any:
    """A CloudFormation value as one string: Fn::Join joined, ``Ref x`` as ``<x>``, ``Fn::GetAtt [x, Arn]`` as
    ``<x.Arn>``, ``Ref AWS::Partition`` as ``${AWS::Partition}``. Lists and plain values are rendered item by item."""
    if isinstance(value, list):
        return [render(v) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        [(function, argument)] = value.items()
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(str(render(p)) for p in parts)
        if function == "Ref":
            return f"${{{argument}}}" if argument.startswith("AWS::") else f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
    return value


@dataclass(frozen=True)
class View:
    """Questions the tests ask of one synthesized template."""

    json: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        result: dict[str, Any] = self.json["Resources"]
        return result

    def of_type(self, kind: str, containing: str = "") -> dict[str, dict[str, Any]]:
        """Resources of ``kind`` whose logical id contains ``containing`` (part of their construct path)."""
        return {k: v for k, v in self.resources.items() if v["Type"] == kind and containing in k}

    @property
    def pipeline(self) -> dict[str, Any]:
        [pipeline] = self.of_type("AWS::CodePipeline::Pipeline").values()
        result: dict[str, Any] = pipeline["Properties"]
        return result

    @property
    def stages(self) -> dict[str, dict[str, Any]]:
        return {stage["Name"]: stage for stage in self.pipeline["Stages"]}

    def action(self, stage: str, name: str) -> dict[str, Any]:
        [action] = [a for a in self.stages[stage]["Actions"] if a["Name"] == name]
        return action

    @property
    def pipeline_role(self) -> str:
        role: str = self.pipeline["RoleArn"]["Fn::GetAtt"][0]
        return role

    @property
    def artifact_bucket(self) -> str:
        bucket: str = self.pipeline["ArtifactStore"]["Location"]["Ref"]
        return bucket

    @property
    def artifact_key(self) -> str:
        key: str = self.pipeline["ArtifactStore"]["EncryptionKey"]["Id"]["Fn::GetAtt"][0]
        return key

    def statements(self, role: str) -> Iterator[dict[str, Any]]:
        """The statements of the IAM policies attached to ``role`` (a logical id)."""
        for policy in self.of_type("AWS::IAM::Policy").values():
            if {"Ref": role} in policy["Properties"]["Roles"]:
                yield from policy["Properties"]["PolicyDocument"]["Statement"]

    def project_role(self, project: str) -> str:
        role: str = self.resources[project]["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
        return role

    def buildspec(self, project: str) -> dict[str, Any]:
        """A project's buildspec, parsed; tokens in it (such as a report group's ARN) rendered as ``<id.Arn>``."""
        spec = render(self.resources[project]["Properties"]["Source"]["BuildSpec"])
        result: dict[str, Any] = json.loads(spec)
        return result

    def bucket_policy(self, bucket: str) -> list[dict[str, Any]]:
        [policy] = [
            p for p in self.of_type("AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket}
        ]
        statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
        return statements

    def key_policy(self, key: str) -> list[dict[str, Any]]:
        statements: list[dict[str, Any]] = self.resources[key]["Properties"]["KeyPolicy"]["Statement"]
        return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowed_principals(statements: list[dict[str, Any]]) -> set[str]:
    return {
        principal for s in statements if s["Effect"] == "Allow" for principal in as_list(render(s["Principal"]["AWS"]))
    }


def assumable(view: View, role: str) -> set[str]:
    """The roles ``role`` may assume, rendered."""
    return {
        resource
        for s in view.statements(role)
        if "sts:AssumeRole" in as_list(s["Action"])
        for resource in as_list(render(s["Resource"]))
    }


# ---------------------------------------------------------------------------------------------------------------
# The pipelines


@pytest.fixture(scope="module")
def seed_view(seed: Synthesized) -> View:
    return View(seed.json)


@pytest.fixture(scope="module")
def cross() -> View:
    return View(synthesized_example("cross_account").json)


@dataclass(frozen=True)
class Variety:
    view: View
    pipeline: ValidatedS3Pipeline


@pytest.fixture(scope="module")
def variety() -> Variety:
    stack = cdk.Stack(cdk.App(), "Variety", env=ENV)
    pipeline = ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=ValidationOptions(commands=["npm ci"], build_environment=BuildEnvironment.UBUNTU_22_04_NODE_22),
        test=TestStageOptions(
            commands=["npm run features"],
            report_files=["reports/cucumber.json"],
            report_format="CUCUMBERJSON",
            retry_failed_actions=True,
        ),
        deploy=[
            DeployTarget(
                name="Integration",
                commands=["./deploy.sh integration"],
                approval=ApprovalOptions(
                    notify_emails=["ops@example.com", "lead@example.com"], review_url="https://review.example.com/"
                ),
                rollback_on_failure=False,
                retry_failed_actions=True,
            ),
            # Named like production, but without an approval: it gets none.
            DeployTarget(
                name="Production",
                account="444444444444",
                commands=["npx cdk deploy --all --require-approval never"],
            ),
        ],
    )
    pipeline.add_build_stage("Audit", options=StageOptions(commands=["npm audit"]), after="Test")
    return Variety(View(synthesize(stack).json), pipeline)


@pytest.fixture(scope="module")
def variety_view(variety: Variety) -> View:
    return variety.view


# ---------------------------------------------------------------------------------------------------------------
# Test stage


def test_report_group_is_a_test_group_exporting_kms_encrypted_reports(seed_view: View) -> None:
    [group] = seed_view.of_type("AWS::CodeBuild::ReportGroup").values()
    assert group["Properties"]["Type"] == "TEST"
    export = group["Properties"]["ExportConfig"]
    assert export["ExportConfigType"] == "S3"
    destination = export["S3Destination"]
    assert destination["Bucket"] == {"Ref": seed_view.artifact_bucket}
    assert destination["EncryptionKey"] == {"Fn::GetAtt": [seed_view.artifact_key, "Arn"]}
    assert destination["EncryptionDisabled"] is False


@pytest.mark.parametrize(
    ("scenario", "files", "file_format"),
    [("seed", ["reports/junit.xml"], "JUNITXML"), ("variety", ["reports/cucumber.json"], "CUCUMBERJSON")],
)
def test_test_buildspec_verifies_the_manifest_then_reports_to_the_group(
    request: pytest.FixtureRequest, scenario: str, files: list[str], file_format: str
) -> None:
    view: View = request.getfixturevalue(f"{scenario}_view")
    [group] = view.of_type("AWS::CodeBuild::ReportGroup")
    test = view.action("Test", "Test")
    spec = view.buildspec(test["Configuration"]["ProjectName"]["Ref"])
    fetch_checker, *verify = spec["phases"]["pre_build"]["commands"]
    assert "sha256sum --check --strict" in fetch_checker
    assert verify == VERIFY
    assert spec["phases"]["pre_build"]["on-failure"] == "ABORT"
    assert spec["reports"] == {f"<{group}.Arn>": {"files": files, "file-format": file_format}}
    assert spec["artifacts"] == {"files": files}


def test_test_stage_keeps_its_reports_as_the_test_reports_artifact(seed_view: View) -> None:
    test = seed_view.action("Test", "Test")
    assert test["ActionTypeId"]["Provider"] == "CodeBuild"
    assert test["InputArtifacts"] == [{"Name": "Attested"}]
    assert test["OutputArtifacts"] == [{"Name": "TestReports"}]


def test_test_project_may_write_to_its_report_group(seed_view: View) -> None:
    [group] = seed_view.of_type("AWS::CodeBuild::ReportGroup")
    project = seed_view.action("Test", "Test")["Configuration"]["ProjectName"]["Ref"]
    [statement] = [
        s for s in seed_view.statements(seed_view.project_role(project)) if "codebuild:CreateReport" in s["Action"]
    ]
    assert render(statement["Resource"]) == f"<{group}.Arn>"


def test_test_stage_without_report_files_has_no_group_and_no_output(warned: Synthesized) -> None:
    # GIVEN the session's pipelines whose test stages name no report files (AllRetired, RetiredLater, Custom)
    view = View(warned.json)
    tests = [
        stage
        for pipeline in view.of_type("AWS::CodePipeline::Pipeline").values()
        for stage in pipeline["Properties"]["Stages"]
        if stage["Name"] == "Test"
    ]
    assert len(tests) == 3
    # THEN no report group is made, and no Test action has an output artifact
    assert view.of_type("AWS::CodeBuild::ReportGroup") == {}
    assert [action.get("OutputArtifacts", []) for stage in tests for action in stage["Actions"]] == [[], [], []]


def test_test_stage_is_retried_only_when_asked(seed_view: View, variety_view: View) -> None:
    assert "OnFailure" not in seed_view.stages["Test"]
    assert variety_view.stages["Test"]["OnFailure"] == RETRY


# ---------------------------------------------------------------------------------------------------------------
# Deploy stages, approvals, post-deployment checks


def test_stages_run_in_order_with_the_approval_in_front_of_production(seed_view: View, cross: View) -> None:
    assert list(cross.stages)[-4:] == [
        "DeployStaging",
        "DeployProductionChangeSet",
        "ApproveProduction",
        "DeployProduction",
    ]
    assert list(seed_view.stages) == [
        "Source",
        "Validate",
        "Test",
        "DeployStaging",
        "ApproveProduction",
        "DeployProduction",
    ]


def test_deploy_stages_roll_back_on_failure(seed_view: View, cross: View, variety_view: View) -> None:
    for view in (seed_view, cross):
        for name in ("DeployStaging", "DeployProduction"):
            assert view.stages[name]["OnFailure"] == ROLLBACK
    assert variety_view.stages["DeployProduction"]["OnFailure"] == ROLLBACK


def test_a_target_without_rollback_retries_its_failed_actions(variety_view: View) -> None:
    assert variety_view.stages["DeployIntegration"]["OnFailure"] == RETRY


def test_approval_is_never_guessed_from_a_name(variety: Variety) -> None:
    names = list(variety.view.stages)
    assert "ApproveProduction" not in names
    assert [n for n in names if n.startswith("Approve")] == ["ApproveIntegration"]
    assert variety.pipeline.deploy_stages["Production"].approval is None
    assert variety.pipeline.deploy_stages["Integration"].approval is not None


def test_approval_announces_to_an_encrypted_topic_with_the_comment(seed_view: View) -> None:
    [approve] = seed_view.stages["ApproveProduction"]["Actions"]
    assert approve["ActionTypeId"] == {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"}
    [(topic_id, topic)] = seed_view.of_type("AWS::SNS::Topic", "ApprovalTopic").items()
    assert approve["Configuration"]["NotificationArn"] == {"Ref": topic_id}
    assert approve["Configuration"]["CustomData"] == (
        "Check the staging environment before production. Package version #{SourceVariables.VersionId}, SHA-256 "
        "#{Attest.PACKAGE_SHA256}."
    )
    assert "BeforeEntry" not in seed_view.stages["ApproveProduction"]  # a commands target's approval always stops
    assert "ExternalEntityLink" not in approve["Configuration"]
    operations_key = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert seed_view.resources[operations_key]["Type"] == "AWS::KMS::Key"
    assert operations_key != seed_view.artifact_key


def test_approval_links_the_review_url_and_subscribes_the_emails(variety_view: View) -> None:
    [approve] = variety_view.stages["ApproveIntegration"]["Actions"]
    assert approve["Configuration"]["ExternalEntityLink"] == "https://review.example.com/"
    assert approve["Configuration"]["CustomData"] == (
        "Review the validated package before it is deployed to Integration. Package version "
        "#{SourceVariables.VersionId}, SHA-256 #{Attest.PACKAGE_SHA256}."
    )
    [(topic_id, topic)] = variety_view.of_type("AWS::SNS::Topic", "ApprovalTopic").items()
    assert "KmsMasterKeyId" in topic["Properties"]
    subscriptions = variety_view.of_type("AWS::SNS::Subscription").values()
    assert sorted((s["Properties"]["Protocol"], s["Properties"]["Endpoint"]) for s in subscriptions) == [
        ("email", "lead@example.com"),
        ("email", "ops@example.com"),
    ]
    assert all(s["Properties"]["TopicArn"] == {"Ref": topic_id} for s in subscriptions)


def test_an_address_given_for_two_approvals_is_subscribed_once(neighbours: View) -> None:
    # GIVEN ops@example.com given for the approvals of Staging and Production  THEN it is subscribed once
    subscriptions = [s["Properties"] for s in neighbours.of_type("AWS::SNS::Subscription").values()]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]


def test_alarm_rolls_back_production_after_the_bake_time(seed_view: View) -> None:
    [alarm] = seed_view.of_type("AWS::CloudWatch::Alarm", "ProductionErrors")
    on_success = seed_view.stages["DeployProduction"]["OnSuccess"]
    assert on_success == {
        "Conditions": [
            {
                "Result": "ROLLBACK",
                "Rules": [
                    {
                        "Name": "ProductionAlarm1",
                        "RuleTypeId": {
                            "Category": "Rule",
                            "Owner": "AWS",
                            "Provider": "CloudWatchAlarm",
                            "Version": "1",
                        },
                        "Configuration": {"AlarmName": {"Ref": alarm}, "WaitTime": "30"},
                    }
                ],
            }
        ]
    }


def test_stages_without_alarms_have_no_post_deployment_check(seed_view: View, cross: View, variety_view: View) -> None:
    assert "OnSuccess" not in seed_view.stages["DeployStaging"]
    for view in (cross, variety_view):
        assert not [s for s in view.pipeline["Stages"] if "OnSuccess" in s]


def test_only_the_pipeline_role_may_describe_the_watched_alarm(seed_view: View, cross: View) -> None:
    [alarm] = seed_view.of_type("AWS::CloudWatch::Alarm", "ProductionErrors")
    described = [
        (policy_id, statement)
        for policy_id, policy in seed_view.of_type("AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("cloudwatch:") for a in as_list(statement["Action"]))
    ]
    assert [s for _, s in described] == [
        {"Action": "cloudwatch:DescribeAlarms", "Effect": "Allow", "Resource": {"Fn::GetAtt": [alarm, "Arn"]}}
    ]
    [(policy_id, _)] = described
    assert seed_view.resources[policy_id]["Properties"]["Roles"] == [{"Ref": seed_view.pipeline_role}]
    assert "cloudwatch:" not in json.dumps(cross.of_type("AWS::IAM::Policy"))


# ---------------------------------------------------------------------------------------------------------------
# Cross-account deployment (examples/cross_account)

TARGETS = {"Staging": "222222222222", "Production": "333333333333"}


def change_set_settings(action: dict[str, Any]) -> dict[str, str]:
    """A change-set action's environment variables, by name (a resource's ARN as the local resolver shows it)."""
    variables = json.loads(Resolver({}).resolve("", action["Configuration"]["EnvironmentVariables"]))
    return {v["name"]: v["value"] for v in variables if v["type"] == "PLAINTEXT"}


@pytest.mark.parametrize(("name", "account"), TARGETS.items())
def test_change_sets_are_made_and_run_as_the_target_accounts_bootstrap_roles(
    cross: View, name: str, account: str
) -> None:
    [deploy] = cross.stages[f"Deploy{name}"]["Actions"]
    [signing_key] = [k for k, key in cross.of_type("AWS::KMS::Key").items() if key["Properties"].get("KeySpec")]
    assert (deploy["Name"], deploy["ActionTypeId"]["Provider"]) == ("Deploy", "CodeBuild")
    assert deploy["InputArtifacts"] == [{"Name": "Attested"}]
    assert change_set_settings(deploy) == {
        "S3VP_STACK": "App",
        "S3VP_TEMPLATE": "cdk.out/App.template.json",
        "S3VP_DEPLOY_ROLE_ARN": bootstrap_role("deploy", account),
        "S3VP_EXECUTION_ROLE_ARN": bootstrap_role("cfn-exec", account),
        "S3VP_FILE_ROLE_ARN": bootstrap_role("file-publishing", account),
        "S3VP_STAGING_BUCKET": f"cdk-hnb659fds-assets-{account}-{REGION}",
        "S3VP_PARAMETERS": "[]",
        "S3VP_CAPABILITIES": "CAPABILITY_NAMED_IAM",
        "S3VP_EXECUTION_ID": "#{codepipeline.PipelineExecutionId}",
        "S3VP_SIGNING_KEY_ARN": f"arn:aws:local:::{signing_key}.Arn",
        "S3VP_MODE": "deploy",
    }
    # The project that verifies the artifact is the one that makes the change set from it, and may assume exactly
    # the target's deploy role (and, for a template too large to send inline, its file-publishing role).
    project = deploy["Configuration"]["ProjectName"]["Ref"]
    spec = cross.buildspec(project)
    assert spec["phases"]["pre_build"]["commands"][-2:] == VERIFY
    assert spec["phases"]["build"]["commands"] == [CHANGE_SET_SCRIPT]
    assert spec["env"]["exported-variables"] == list(EXPORTED_VARIABLES)
    assert assumable(cross, cross.project_role(project)) == {
        bootstrap_role("deploy", account),
        bootstrap_role("file-publishing", account),
    }


def test_production_is_approved_on_its_change_set_made_before_the_approval(cross: View) -> None:
    # GIVEN the cross-account example, whose Production target has an approval
    [plan] = cross.stages["DeployProductionChangeSet"]["Actions"]
    [approve] = cross.stages["ApproveProduction"]["Actions"]
    [deploy] = cross.stages["DeployProduction"]["Actions"]
    # THEN the change set is made first, by the same project that later executes it
    assert (plan["Name"], plan["Namespace"]) == ("ChangeSet", "DeployProductionChangeSet")
    assert change_set_settings(plan)["S3VP_MODE"] == "plan"
    assert change_set_settings(deploy)["S3VP_MODE"] == "deploy"
    assert plan["Configuration"]["ProjectName"] == deploy["Configuration"]["ProjectName"]
    # AND the approval's message names the package's version and digest (Attest's), and the change set and its summary
    configuration = approve["Configuration"]
    assert configuration["CustomData"] == (
        "Check the App stack in the staging account before production. Package version "
        "#{SourceVariables.VersionId}, SHA-256 #{Attest.PACKAGE_SHA256}. Change set "
        "#{DeployProductionChangeSet.CHANGE_SET_NAME} of stack App: #{DeployProductionChangeSet.CHANGE_SET_SUMMARY}"
    )
    assert configuration["ExternalEntityLink"] == "#{DeployProductionChangeSet.CHANGE_SET_LINK}"
    # AND the approval stops only when the change set broadens permissions (confirm_permissions_broadening)
    assert cross.stages["ApproveProduction"]["BeforeEntry"] == {
        "Conditions": [
            {
                "Result": "SKIP",
                "Rules": [
                    {
                        "Name": "ProductionPermissionsBroadened",
                        "RuleTypeId": {"Category": "Rule", "Owner": "AWS", "Provider": "VariableCheck", "Version": "1"},
                        "Configuration": {
                            "Variable": "#{DeployProductionChangeSet.PERMISSIONS_BROADENED}",
                            "Value": "true",
                            "Operator": "EQ",
                        },
                    }
                ],
            }
        ]
    }
    # AND a target without an approval deploys in one stage
    assert "DeployStagingChangeSet" not in cross.stages


def test_an_approval_that_always_stops_has_no_entry_condition() -> None:
    stack = cdk.Stack(cdk.App(), "Always", env=ENV)
    target = DeployTarget(
        name="Prod",
        cloudformation=CloudFormationDeployment(template_path="t.json", stack_name="App"),
        approval=ApprovalOptions(),
        confirm_permissions_broadening=False,
    )
    pipeline = ValidatedS3Pipeline(stack, "Pipeline", validation=ValidationOptions(commands=["x"]), deploy=[target])
    view = View(synthesize(stack).json)
    assert [s for s in view.stages if "Prod" in s] == ["DeployProdChangeSet", "ApproveProd", "DeployProd"]
    assert "BeforeEntry" not in view.stages["ApproveProd"]
    assert pipeline.deploy_stages["Prod"].approval is not None


def test_the_pipeline_role_assumes_no_role_of_another_account(cross: View) -> None:
    assert {arn for arn in assumable(cross, cross.pipeline_role) if not arn.startswith("<")} == set()


def test_artifacts_are_shared_with_no_other_account(cross: View) -> None:
    # The deployment reads the artifact in the pipeline's account and sends the template itself.
    for account in TARGETS.values():
        assert account not in json.dumps(cross.bucket_policy(cross.artifact_bucket))
        assert account not in json.dumps(cross.key_policy(cross.artifact_key))


def test_no_account_but_the_pipeline_and_the_targets_appears(cross: View) -> None:
    assert set(ACCOUNT_ID.findall(json.dumps(cross.json))) == {PIPELINE_ACCOUNT, *TARGETS.values()}
    # Only the pipeline (its actions' settings) and the deploy projects' roles name the targets' accounts.
    naming_targets = {
        resource_id
        for resource_id, resource in cross.resources.items()
        if set(ACCOUNT_ID.findall(json.dumps(resource))) - {PIPELINE_ACCOUNT}
    }
    [pipeline_id] = cross.of_type("AWS::CodePipeline::Pipeline")
    deploy_policies = {
        k
        for k, v in cross.of_type("AWS::IAM::Policy").items()
        if any(
            isinstance(r, dict) and "StageProjectRole" in r["Ref"] and "Deploy" in r["Ref"]
            for r in v["Properties"]["Roles"]
        )
    }
    assert len(deploy_policies) == 2
    assert naming_targets == {pipeline_id, *deploy_policies}


def test_seed_deployments_may_assume_their_own_accounts_bootstrap_roles(seed_view: View) -> None:
    # A same-account `cdk deploy` works as a cross-account one does: through the account's bootstrap roles.
    def own(kind: str) -> str:
        name = f"cdk-hnb659fds-{kind}-role-${{AWS::AccountId}}-${{AWS::Region}}"
        return f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name}"

    for stage in ("DeployStaging", "DeployProduction"):
        project = seed_view.action(stage, "Deploy")["Configuration"]["ProjectName"]["Ref"]
        assert assumable(seed_view, seed_view.project_role(project)) == {
            own(kind) for kind in ("deploy", "file-publishing", "image-publishing", "lookup")
        }, stage


def test_cross_account_example_synthesizes_one_stack_without_support_stacks() -> None:
    stack = synthesized_example("cross_account").stack
    app = stack.node.root
    assert isinstance(app, cdk.App)
    assert [s.stack_name for s in app.synth().stacks_recursively] == [stack.stack_name]


def test_commands_may_assume_their_target_accounts_four_bootstrap_roles_only(variety_view: View) -> None:
    account = "444444444444"
    production = variety_view.action("DeployProduction", "Deploy")["Configuration"]["ProjectName"]["Ref"]
    assert assumable(variety_view, variety_view.project_role(production)) == {
        bootstrap_role(kind, account) for kind in ("deploy", "file-publishing", "image-publishing", "lookup")
    }
    integration = variety_view.action("DeployIntegration", "Deploy")["Configuration"]["ProjectName"]["Ref"]
    assert assumable(variety_view, variety_view.project_role(integration)) == {
        bootstrap_role(kind, PIPELINE_ACCOUNT) for kind in ("deploy", "file-publishing", "image-publishing", "lookup")
    }
    # A deployment by commands reads the artifact in the pipeline's account: nothing is shared.
    assert account not in json.dumps(variety_view.bucket_policy(variety_view.artifact_bucket))
    assert account not in json.dumps(variety_view.key_policy(variety_view.artifact_key))


# ---------------------------------------------------------------------------------------------------------------
# Every stage after Validate verifies the manifest first; user stages


@pytest.mark.parametrize("scenario", ["seed", "cross", "variety"])
def test_every_stage_after_validate_verifies_the_manifest_first(request: pytest.FixtureRequest, scenario: str) -> None:
    view: View = request.getfixturevalue("cross" if scenario == "cross" else f"{scenario}_view")
    after_validate = view.pipeline["Stages"][2:]
    assert after_validate
    for stage in after_validate:
        if stage["Name"].startswith("Approve"):
            [approve] = stage["Actions"]
            assert approve["ActionTypeId"]["Provider"] == "Manual"
            continue
        first, *rest = stage["Actions"]
        assert first["RunOrder"] == 1, stage["Name"]
        assert first["ActionTypeId"]["Provider"] == "CodeBuild", stage["Name"]
        assert first["InputArtifacts"] == [{"Name": "Attested"}], stage["Name"]
        spec = view.buildspec(first["Configuration"]["ProjectName"]["Ref"])
        assert spec["phases"]["pre_build"]["commands"][-2:] == VERIFY, stage["Name"]
        assert all(action["RunOrder"] > 1 for action in rest), stage["Name"]


def test_a_user_stage_after_test_comes_before_the_first_deployment(variety_view: View) -> None:
    assert list(variety_view.stages) == [
        "Source",
        "Validate",
        "Test",
        "Audit",
        "ApproveIntegration",
        "DeployIntegration",
        "DeployProduction",
    ]


def test_a_user_stage_cannot_go_before_validation() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    pipeline = ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=ValidationOptions(commands=["npm ci"]),
        deploy=[DeployTarget(name="Staging", commands=["./deploy.sh"])],
    )
    with pytest.raises(
        InputError, match=r"after: got 'Source'\. Name a stage from Validate on: Validate, DeployStaging"
    ):
        pipeline.add_build_stage("Lint", options=StageOptions(commands=["npm run lint"]), after="Source")
    # Nothing was built, so the corrected call may reuse the name.
    pipeline.add_build_stage("Lint", options=StageOptions(commands=["npm run lint"]), after="Validate")
    assert [s.stage_name for s in pipeline.pipeline.stages] == ["Source", "Validate", "Lint", "DeployStaging"]


# ---------------------------------------------------------------------------------------------------------------
# Invalid combinations


def _target(**overrides: Any) -> DeployTarget:
    return DeployTarget(**{"name": "Production", "commands": ["./deploy.sh"], **overrides})


def _alarms(stack: cdk.Stack, count: int) -> list[cloudwatch.IAlarm]:
    return [
        cloudwatch.Alarm.from_alarm_arn(
            stack, f"Alarm{i}", f"arn:aws:cloudwatch:{REGION}:{PIPELINE_ACCOUNT}:alarm:a{i}"
        )
        for i in range(count)
    ]


CFN = CloudFormationDeployment(template_path="cdk.out/App.template.json", stack_name="App")

INVALID: dict[str, tuple[Any, str]] = {
    # id: (stack -> keyword arguments of ValidatedS3Pipeline, the argument the error must name)
    "rollback in PARALLEL mode": (
        lambda s: {"deploy": [_target()], "execution_mode": codepipeline.ExecutionMode.PARALLEL},
        "deploy[0].rollback_on_failure",
    ),
    "alarms in PARALLEL mode": (
        lambda s: {
            "deploy": [_target(rollback_on_failure=False, alarms=_alarms(s, 1))],
            "execution_mode": codepipeline.ExecutionMode.PARALLEL,
        },
        "deploy[0].alarms",
    ),
    "rollback and retry": (
        lambda s: {"deploy": [_target(retry_failed_actions=True)]},
        "deploy[0].retry_failed_actions",
    ),
    "cloudformation and commands": (lambda s: {"deploy": [_target(cloudformation=CFN)]}, "deploy[0].cloudformation"),
    "neither cloudformation nor commands": (lambda s: {"deploy": [_target(commands=())]}, "deploy[0].commands"),
    "duplicate target names": (lambda s: {"deploy": [_target(), _target()]}, "deploy[1].name"),
    "short account id": (lambda s: {"deploy": [_target(account="12345")]}, "deploy[0].account"),
    "account id with letters": (lambda s: {"deploy": [_target(account="12345678901a")]}, "deploy[0].account"),
    "a region that is no Region code": (lambda s: {"deploy": [_target(region="Europe")]}, "deploy[0].region"),
    "bake time of zero": (lambda s: {"deploy": [_target(bake_time=cdk.Duration.minutes(0))]}, "deploy[0].bake_time"),
    "bake time over a day": (lambda s: {"deploy": [_target(bake_time=cdk.Duration.days(2))]}, "deploy[0].bake_time"),
    "bake time of 90 seconds": (
        lambda s: {"deploy": [_target(bake_time=cdk.Duration.seconds(90))]},
        "deploy[0].bake_time",
    ),
    "more alarms than a condition holds": (
        lambda s: {"deploy": [_target(alarms=_alarms(s, 6))]},
        "deploy[0].alarms",
    ),
    "unknown report format": (
        lambda s: {"test": TestStageOptions(commands=["npm test"], report_files=["r.xml"], report_format="junit")},
        "test.report_format",
    ),
    "approval email without @": (
        lambda s: {"deploy": [_target(approval=ApprovalOptions(notify_emails=["ops"]))]},
        "deploy[0].approval.notify_emails[0]",
    ),
    "approval emails as one str": (
        lambda s: {"deploy": [_target(approval=ApprovalOptions(notify_emails="ops@example.com"))]},
        "deploy[0].approval.notify_emails",
    ),
    "review url over http": (
        lambda s: {"deploy": [_target(approval=ApprovalOptions(review_url="http://review.example.com"))]},
        "deploy[0].approval.review_url",
    ),
    "template path leaving the artifact": (
        lambda s: {
            "deploy": [
                _target(
                    commands=(), cloudformation=CloudFormationDeployment(template_path="../App.json", stack_name="App")
                )
            ]
        },
        "deploy[0].cloudformation.template_path",
    ),
    "absolute template path": (
        lambda s: {
            "deploy": [
                _target(
                    commands=(), cloudformation=CloudFormationDeployment(template_path="/App.json", stack_name="App")
                )
            ]
        },
        "deploy[0].cloudformation.template_path",
    ),
}


@pytest.mark.parametrize(("arguments", "argument"), INVALID.values(), ids=INVALID.keys())
def test_invalid_combinations_raise_naming_the_argument(arguments: Any, argument: str) -> None:
    stack = cdk.Stack(cdk.App(), "Stack", env=ENV)
    with pytest.raises(InputError) as raised:
        ValidatedS3Pipeline(stack, "Pipeline", validation=ValidationOptions(commands=["npm ci"]), **arguments(stack))
    assert [p.argument for p in raised.value.problems] == [argument]
    assert f"  - {argument}: got " in str(raised.value)


@pytest.fixture(scope="module")
def neighbours() -> View:
    """One pipeline holding the valid neighbour of each invalid combination; Staging and Production both ask
    ops@example.com for approval."""
    stack = cdk.Stack(cdk.App(), "Stack", env=ENV)
    ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=ValidationOptions(commands=["npm ci"]),
        execution_mode=codepipeline.ExecutionMode.PARALLEL,
        test=TestStageOptions(commands=["npm test"], report_files=["r.xml"], report_format="NUNIT3XML"),
        deploy=[
            _target(
                name="Staging",
                account=PIPELINE_ACCOUNT,
                region=REGION,
                rollback_on_failure=False,
                approval=ApprovalOptions(notify_emails=["ops@example.com"]),
            ),
            _target(
                rollback_on_failure=False,
                retry_failed_actions=True,
                bake_time=cdk.Duration.days(1),
                approval=ApprovalOptions(notify_emails=["ops@example.com"], review_url="https://review.example.com"),
                commands=(),
                cloudformation=CloudFormationDeployment(template_path="./cdk.out/App.template.json", stack_name="App"),
            ),
        ],
    )
    return View(synthesize(stack).json)


def test_the_valid_neighbours_of_the_invalid_combinations_are_accepted(neighbours: View) -> None:
    # GIVEN rollback off in PARALLEL mode, retry without rollback, a bake time of a day, a known report format, a
    # CloudFormation target and a target in the pipeline's own account and region  THEN the pipeline holds them
    assert neighbours.pipeline["ExecutionMode"] == "PARALLEL"
    assert {"DeployStaging", "DeployProduction"} <= set(neighbours.stages)
    assert "OnFailure" not in neighbours.stages["DeployStaging"]
    assert neighbours.stages["DeployProduction"]["OnFailure"] == RETRY
    [group] = neighbours.of_type("AWS::CodeBuild::ReportGroup").values()
    assert group["Properties"]["Type"] == "TEST"
    assert "cdk.out/App.template.json" in json.dumps(neighbours.json)


def test_fails_when_approval_emails_come_with_an_existing_topic() -> None:
    stack = cdk.Stack(cdk.App(), "EmailsWithTopic")
    topic = sns.Topic(stack, "Theirs")
    with pytest.raises(InputError, match=r"deploy\[0\]\.approval\.notify_emails: got \['ops@example\.com'\]"):
        ValidatedS3Pipeline(
            stack,
            "Pipeline",
            validation=ValidationOptions(commands=["true"]),
            deploy=[
                DeployTarget(
                    name="Production",
                    commands=["true"],
                    approval=ApprovalOptions(topic=topic, notify_emails=["ops@example.com"]),
                )
            ],
        )


def test_fails_when_a_target_only_asks_for_an_approval() -> None:
    with pytest.raises(InputError) as raised:
        new_pipeline(deploy=[DeployTarget(name="Prod", approval=ApprovalOptions())])
    [problem] = raised.value.problems
    assert problem.argument == "deploy[0].commands"
    assert "Target 'Prod' has neither commands nor cloudformation" in str(raised.value)
    assert "got 'Prod'" not in str(raised.value)


def test_fails_when_a_target_has_both_commands_and_cloudformation() -> None:
    both = DeployTarget(
        name="Prod", commands=["true"], cloudformation=CloudFormationDeployment(template_path="t.json", stack_name="A")
    )
    with pytest.raises(InputError, match=r"deploy\[0\]\.cloudformation: got CloudFormationDeployment\(\.\.\.\) "):
        new_pipeline(deploy=[both])


def test_fails_when_one_target_is_passed_instead_of_a_list() -> None:
    with pytest.raises(InputError) as raised:
        new_pipeline(deploy=DeployTarget(name="Prod", commands=["true"]))
    message = str(raised.value)
    assert "deploy: got DeployTarget(name='Prod', ...). Pass a list of targets, even for one" in message
    assert " object at 0x" not in message


@pytest.mark.parametrize(
    ("bake_time", "shown"),
    [(cdk.Duration.minutes(0), "0 minutes"), (cdk.Duration.seconds(90), "1 minute 30 seconds")],
    ids=["bake-zero", "bake-fraction"],
)
def test_fails_when_a_bake_time_is_zero_or_not_whole_minutes(bake_time: cdk.Duration, shown: str) -> None:
    target = DeployTarget(name="P", commands=["x"], bake_time=bake_time)
    assert_fails("deploy[0].bake_time", shown, "Give whole minutes from Duration.minutes(1) to 1 day", deploy=[target])


def test_fails_when_a_cross_account_target_is_in_a_stack_without_an_account() -> None:
    with pytest.raises(InputError) as raised:
        new_pipeline(deploy=[DeployTarget(name="Prod", account="222222222222", commands=["npx cdk deploy"])])
    [problem] = raised.value.problems
    assert problem.argument == "deploy[0].account"
    assert "The pipeline's stack has no explicit account" in str(raised.value)
    assert "env=cdk.Environment(account=" in str(raised.value)


def test_a_target_account_in_a_stack_with_an_account_is_accepted(variety_view: View) -> None:
    # GIVEN variety's Production target, with commands in account 444444444444, in a stack with an account
    # THEN it is built: its stage runs a CodeBuild project whose role may assume that account's deploy role
    [action] = variety_view.stages["DeployProduction"]["Actions"]
    assert action["ActionTypeId"]["Provider"] == "CodeBuild"
    project = action["Configuration"]["ProjectName"]["Ref"]
    assumable_roles = json.dumps(list(variety_view.statements(variety_view.project_role(project))))
    assert bootstrap_role("deploy", "444444444444") in assumable_roles
