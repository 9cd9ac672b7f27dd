"""Deploy targets in other Regions and waves of targets deployed at once (issue 22).

The multi_region example is the issue's "Done when" app: its pipeline in us-east-1 deploys to Staging, then, after
one approval, to ProdUS (commands) and ProdEU (eu-west-1, a CloudFormation change set) in one stage.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_ec2 as ec2

from s3_validated_pipeline import (
    ApprovalOptions,
    BuildNetwork,
    CloudFormationDeployment,
    DeployTarget,
    DeployWave,
    InputError,
    PipelineFoundation,
    ValidatedS3Pipeline,
    ValidationOptions,
)
from s3_validated_pipeline._buildspec import verify_provenance
from tests.conftest import synthesized_example_stacks
from tests.stages.test_deploy import View

EU = "eu-west-1"
US = "us-east-1"
ENV = cdk.Environment(account="111111111111", region=US)
VALID = ValidationOptions(commands=["npm ci"])
CFN = CloudFormationDeployment(template_path="cdk.out/App.template.json", stack_name="App")


@pytest.fixture(scope="module")
def home() -> View:
    return View(synthesized_example_stacks("multi_region")[0].json)


@pytest.fixture(scope="module")
def eu() -> View:
    return View(synthesized_example_stacks("multi_region")[1].json)


def _resource(view: View, kind: str) -> dict[str, Any]:
    [found] = view.of_type(kind).values()
    result: dict[str, Any] = found["Properties"]
    return result


def test_the_done_when_app_has_a_store_in_eu_west_1_and_deploys_both_targets_together(home: View, eu: View) -> None:
    # GIVEN the multi_region example (pipeline in us-east-1, Staging, then the wave Production: ProdUS, ProdEU)
    stores = {store["Region"]: store["ArtifactStore"] for store in home.pipeline["ArtifactStores"]}
    # THEN the pipeline has an artifact store in each Region; the one in eu-west-1 is the support stack's bucket,
    # encrypted with that stack's key (by its alias)
    assert set(stores) == {US, EU}
    assert "ArtifactStore" not in home.pipeline
    [artifacts] = eu.of_type("AWS::S3::Bucket", "Artifacts").values()
    assert stores[EU]["Location"] == artifacts["Properties"]["BucketName"]
    alias = _resource(eu, "AWS::KMS::Alias")["AliasName"]
    assert json.dumps(stores[EU]["EncryptionKey"]["Id"]).endswith(f':kms:{EU}:111111111111:{alias}"]]}}')
    # AND the wave's approval comes first, then one stage in which both targets start together (same run order)
    names = list(home.stages)
    assert names[names.index("ApproveProduction") + 1] == "DeployProduction"
    wave = home.stages["DeployProduction"]["Actions"]
    assert [(a["Name"], a.get("Region"), a["RunOrder"]) for a in wave] == [("ProdUS", None, 1), ("ProdEU", EU, 1)]
    # AND the EU action runs the project of the eu-west-1 stack, by the name that stack gives it
    project = _resource(eu, "AWS::CodeBuild::Project")
    assert home.action("DeployProduction", "ProdEU")["Configuration"]["ProjectName"] == project["Name"]
    # AND the wave rolls back as a whole on a failure
    assert home.stages["DeployProduction"]["OnFailure"] == {"Result": "ROLLBACK"}


def test_the_eu_action_verifies_its_own_copy_against_the_signing_key_in_the_pipelines_region(
    home: View, eu: View
) -> None:
    # GIVEN the project ProdEU runs, in eu-west-1
    project = _resource(eu, "AWS::CodeBuild::Project")
    buildspec = project["Source"]["BuildSpec"]
    verify = json.loads(buildspec)["phases"]["pre_build"]["commands"]
    # THEN it verifies the manifest and the provenance of the artifact it received, asking KMS in us-east-1 (where
    # the signing key is), before its change set
    assert verify_provenance(US) in verify
    assert buildspec.index("check.py verify .") < buildspec.index("S3VP_MODE")
    # AND its role may verify with exactly the pipeline's signing key, through a policy the pipeline's stack attaches
    [signing_key] = home.of_type("AWS::KMS::Key", "SigningKey")
    role_name = _resource(eu, "AWS::IAM::Role")["RoleName"]
    [policy] = [
        p["Properties"] for p in home.of_type("AWS::IAM::Policy").values() if p["Properties"]["Roles"] == [role_name]
    ]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Action": ["kms:Verify", "kms:GetPublicKey"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [signing_key, "Arn"]},
        }
    ]


def test_the_pipeline_role_uses_the_eu_key_only_by_its_alias(home: View, eu: View) -> None:
    alias = _resource(eu, "AWS::KMS::Alias")["AliasName"]
    statements = [
        s
        for p in home.of_type("AWS::IAM::Policy", "PipelineRole").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    [eu_key] = [s for s in statements if "kms:eu-west-1" in json.dumps(s["Resource"])]
    assert eu_key["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}}
    assert not [s for s in statements if s["Resource"] == "*"]


def _pipeline(stack: cdk.Stack, deploy: list[Any], **others: Any) -> ValidatedS3Pipeline:
    return ValidatedS3Pipeline(stack, "Pipeline", validation=VALID, deploy=deploy, **others)


def _problems(stack: cdk.Stack, deploy: list[Any], **others: Any) -> list[tuple[str, str]]:
    with pytest.raises(InputError) as raised:
        _pipeline(stack, deploy, **others)
    return [(p.argument, str(p)) for p in raised.value.problems]


def test_fails_when_an_environment_agnostic_stack_deploys_to_a_region() -> None:
    # GIVEN a stack without env  WHEN a target names a Region
    [(argument, message)] = _problems(
        cdk.Stack(cdk.App(), "Agnostic"), [DeployTarget(name="ProdEU", region=EU, commands=["true"])]
    )
    # THEN the error names the argument, says cross-Region needs an explicit env, and how to give one
    assert argument == "deploy[0].region"
    assert "needs an explicit environment on the pipeline's stack" in message
    assert "env=cdk.Environment(account='111111111111', region='us-east-1')" in message


def test_fails_when_a_pipeline_on_a_foundation_deploys_to_another_region() -> None:
    app = cdk.App()
    shared = cdk.Stack(app, "Shared", env=ENV)
    foundation = PipelineFoundation(shared, "Foundation", name_prefix="team")
    [(argument, message)] = _problems(
        shared, [DeployTarget(name="ProdEU", region=EU, commands=["true"])], foundation=foundation
    )
    assert argument == "deploy[0].region"
    assert "without foundation=" in message


@pytest.mark.parametrize("on", ["pipeline", "target"])
def test_fails_when_a_target_in_another_region_would_build_in_a_vpc(on: str) -> None:
    # GIVEN a pipeline in us-east-1 with a VPC for its builds, on the pipeline or on the EU target
    stack = cdk.Stack(cdk.App(), "Home", env=ENV)
    network = BuildNetwork(
        vpc=ec2.Vpc.from_vpc_attributes(
            stack, "Vpc", vpc_id="vpc-1", availability_zones=["us-east-1a"], isolated_subnet_ids=["subnet-1"]
        )
    )
    target = DeployTarget(
        name="ProdEU", region=EU, commands=["true"], build_network=network if on == "target" else None
    )
    # WHEN it is built  THEN the error names the target's region and says a VPC cannot follow it there
    [(argument, message)] = _problems(stack, [target], build_network=network if on == "pipeline" else None)
    assert argument == "deploy[0].region"
    assert f"is a VPC of {US}: builds in another Region cannot run in a VPC yet" in message
    assert ("the pipeline's build_network" in message) == (on == "pipeline")


def test_a_target_in_the_pipelines_own_region_needs_no_other_store() -> None:
    # GIVEN a pipeline in us-east-1 and a target whose region is us-east-1
    stack = cdk.Stack(cdk.App(), "Home", env=ENV)
    pipeline = _pipeline(stack, [DeployTarget(name="Prod", region=US, commands=["true"])])
    # THEN it is accepted, with no store elsewhere and its project among the pipeline's stages
    assert pipeline.region_stores == {}
    assert pipeline.deploy_stages["Prod"].region is None
    assert "DeployProd" in pipeline.stages


WAVE_INVALID: dict[str, tuple[list[Any], dict[str, Any], str]] = {
    # id: (deploy, other arguments, the arguments the error names, space-separated)
    "an empty wave": ([DeployWave(name="Prod", targets=[])], {}, "deploy[0].targets"),
    "a wave's target with its own approval": (
        [DeployWave(name="Prod", targets=[DeployTarget(name="A", commands=["x"], approval=ApprovalOptions())])],
        {},
        "deploy[0].targets[0].approval",
    ),
    "a wave's target that retries": (
        [
            DeployWave(
                name="Prod",
                targets=[DeployTarget(name="A", commands=["x"], rollback_on_failure=False, retry_failed_actions=True)],
            )
        ],
        {},
        "deploy[0].targets[0].retry_failed_actions deploy[0].targets[0].rollback_on_failure",
    ),
    "a wave's target named like another target": (
        [
            DeployTarget(name="A", commands=["x"]),
            DeployWave(name="Prod", targets=[DeployTarget(name="A", commands=["x"])]),
        ],
        {},
        "deploy[1].targets[0].name",
    ),
    "a wave named like a target": (
        [
            DeployTarget(name="Prod", commands=["x"]),
            DeployWave(name="Prod", targets=[DeployTarget(name="A", commands=["x"])]),
        ],
        {},
        "deploy[1].name",
    ),
    "a wave's targets as one target": (
        [DeployWave(name="Prod", targets=DeployTarget(name="A", commands=["x"]))],  # type: ignore[arg-type]
        {},
        "deploy[0].targets",
    ),
    "a wave that rolls back in PARALLEL mode": (
        [DeployWave(name="Prod", targets=[DeployTarget(name="A", commands=["x"])])],
        {"execution_mode": codepipeline.ExecutionMode.PARALLEL},
        "deploy[0].rollback_on_failure",
    ),
    "a wave's name with a space": (
        [DeployWave(name="Prod EU", targets=[DeployTarget(name="A", commands=["x"])])],
        {},
        "deploy[0].name",
    ),
}


@pytest.mark.parametrize(("deploy", "others", "argument"), WAVE_INVALID.values(), ids=WAVE_INVALID.keys())
def test_fails_when_a_wave_is_invalid(deploy: list[Any], others: dict[str, Any], argument: str) -> None:
    problems = _problems(cdk.Stack(cdk.App(), "Stack", env=ENV), deploy, **others)
    assert [a for a, _ in problems] == argument.split()
    assert f"{problems[0][0]}: got " in problems[0][1]


def test_fails_when_a_wave_is_passed_alone() -> None:
    [(argument, message)] = _problems(
        cdk.Stack(cdk.App(), "Stack", env=ENV),
        DeployWave(name="Prod", targets=[DeployTarget(name="A", commands=["x"])]),  # type: ignore[arg-type]
    )
    assert argument == "deploy"
    assert "deploy=[DeployWave(name='Prod', ...)]" in message


def test_a_wave_settles_as_one_stage_and_names_each_target() -> None:
    # GIVEN a wave of two targets in the pipeline's Region, with its own alarms and no rollback but retries
    stack = cdk.Stack(cdk.App(), "Waves", env=ENV)
    alarm = cloudwatch.Alarm.from_alarm_arn(stack, "Alarm", f"arn:aws:cloudwatch:{US}:111111111111:alarm:errors")
    pipeline = _pipeline(
        stack,
        [
            DeployWave(
                name="Prod",
                targets=[DeployTarget(name="One", commands=["./one.sh"]), DeployTarget(name="Two", cloudformation=CFN)],
                rollback_on_failure=False,
                retry_failed_actions=True,
                alarms=[alarm],
                bake_time=cdk.Duration.minutes(10),
            )
        ],
    )
    view = View(cdk.assertions.Template.from_stack(stack).to_json())
    # THEN there is no approval stage, and one stage whose actions are named after the targets, all at run order 1
    assert "ApproveProd" not in view.stages
    stage = view.stages["DeployProd"]
    assert [(a["Name"], a["RunOrder"]) for a in stage["Actions"]] == [("One", 1), ("Two", 1)]
    # AND the wave retries its failed actions and watches its alarms for its bake time
    assert stage["OnFailure"] == {"Result": "RETRY", "RetryConfiguration": {"RetryMode": "FAILED_ACTIONS"}}
    [rule] = stage["OnSuccess"]["Conditions"][0]["Rules"]
    assert (rule["Name"], rule["Configuration"]["WaitTime"]) == ("ProdAlarm1", "10")
    # AND each target has its own project, reported by target name
    assert set(pipeline.deploy_stages) == {"One", "Two"}
    assert {"DeployOne", "DeployTwo"} <= set(pipeline.stages)
    # AND the CloudFormation target plans and executes its change set in one build (nobody reviews in between)
    two = view.action("DeployProd", "Two")["Configuration"]["EnvironmentVariables"]
    assert '"name":"S3VP_MODE","type":"PLAINTEXT","value":"deploy"' in json.dumps(two).replace('\\"', '"')


def test_the_scale_limit_check_covers_the_support_stack() -> None:
    # GIVEN the multi_region example's stack in eu-west-1
    support = synthesized_example_stacks("multi_region")[1].stack
    # THEN it holds the scale-limit check, which names the pipeline's store there among what to move
    check = support.node.find_child("S3ValidatedPipelineScaleLimits")
    assert check.scale.holders == {"RegionStore": ["MultiRegionPipeline-support-eu-west-1/Pipeline"]}  # type: ignore[attr-defined]


def test_a_reviewed_target_in_another_region_and_account_runs_its_change_set_there() -> None:
    # GIVEN a target in another account and Region, with an approval in front of its change set
    app = cdk.App()
    stack = cdk.Stack(app, "Reviewed", env=ENV)
    target = DeployTarget(
        name="ProdEU",
        account="222222222222",
        region=EU,
        cloudformation=CFN,
        approval=ApprovalOptions(),
        deployment_role_arn="arn:aws:iam::222222222222:role/deployer",
    )
    pipeline = _pipeline(stack, [target])
    [support] = [s for s in app.node.children if isinstance(s, cdk.Stack) and s is not stack]
    home, there = (View(cdk.assertions.Template.from_stack(s).to_json()) for s in (stack, support))
    # THEN the change set is planned and executed in eu-west-1, by the one project of that Region's stack
    project = _resource(there, "AWS::CodeBuild::Project")["Name"]
    for stage, name in (("DeployProdEUChangeSet", "ChangeSet"), ("DeployProdEU", "Deploy")):
        action = home.action(stage, name)
        assert (action.get("Region"), action["Configuration"]["ProjectName"]) == (EU, project)
    assert list(home.stages).index("ApproveProdEU") == list(home.stages).index("DeployProdEUChangeSet") + 1
    # AND its role may assume the target account's bootstrap roles of that Region, and no others
    statements = [
        s
        for p in there.of_type("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "sts:AssumeRole"
    ]
    assert statements == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Resource": [
                "arn:aws:iam::222222222222:role/cdk-hnb659fds-deploy-role-222222222222-eu-west-1",
                "arn:aws:iam::222222222222:role/cdk-hnb659fds-file-publishing-role-222222222222-eu-west-1",
            ],
        }
    ]
    # AND the pipeline reports the target's Region; its project is not among the stages watched in us-east-1
    assert pipeline.deploy_stages["ProdEU"].region == EU
    assert "DeployProdEU" not in pipeline.stages
