"""BuildNetwork: every CodeBuild project of a pipeline (or of one stage) in a VPC, with the pipeline's own security
group unless the user names theirs; bad networks are refused before anything is built.

examples/vpc_builds is one of the examples, so the compliance gate (tests/examples/test_compliance.py: cdk-nag's five
packs, checkov, cfn-lint) and the permission plan run on it; this module checks what its template says, and what the
other ways of passing a network give (one more synthesis, of ``scenarios``).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms

from s3_validated_pipeline import (
    BuildNetwork,
    DeployTarget,
    PipelineFoundation,
    StageOptions,
    TestStageOptions,
    ValidatedS3Pipeline,
    ValidationOptions,
)
from s3_validated_pipeline._scale_limits import _resource_count
from s3_validated_pipeline.validate.project import ValidationProject
from tests.conftest import (
    EXAMPLE_NAMES,
    assert_fails,
    load_example,
    new_pipeline,
    synthesize,
    synthesized_example,
)

pytestmark = pytest.mark.xdist_group("example-vpc_builds")

PROJECT = "AWS::CodeBuild::Project"
GROUP = "AWS::EC2::SecurityGroup"
HTTPS_OUT = [{"CidrIp": "0.0.0.0/0", "Description": "HTTPS to AWS endpoints and the package mirror", "FromPort": 443,
              "IpProtocol": "tcp", "ToPort": 443}]  # fmt: skip


def of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {logical_id: r for logical_id, r in template["Resources"].items() if r["Type"] == type_}


def group_ref(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "GroupId"]}


def projects_of(template: dict[str, Any], pipeline: str) -> dict[str, dict[str, Any]]:
    """The CodeBuild projects of the pipeline construct ``pipeline``, by logical id."""
    return {i: r for i, r in of_type(template, PROJECT).items() if i.startswith(pipeline)}


def test_the_compliance_gate_and_the_permission_plan_run_on_the_vpc_example() -> None:
    # GIVEN the examples every gate is parametrized by  THEN the VPC example is one of them
    assert "vpc_builds" in EXAMPLE_NAMES


# --- examples/vpc_builds ---------------------------------------------------------------------------------------


APP = load_example("vpc_builds")


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    return synthesized_example("vpc_builds").json


def test_every_project_of_the_example_runs_in_the_vpc_s_isolated_subnets(example: dict[str, Any]) -> None:
    # GIVEN the example's pipeline, given BuildNetwork(vpc=...) with isolated subnets only, and a test stage given
    # a security group of its own
    [(group_id, _)] = of_type(example, GROUP).items()
    projects = of_type(example, PROJECT)
    assert len(projects) == 3  # Validate, Attest, Test
    # THEN each project has a VpcConfig in that VPC and those subnets
    for logical_id, project in projects.items():
        config = project["Properties"]["VpcConfig"]
        assert config["VpcId"] == APP.VPC_ID, logical_id
        assert config["Subnets"] == APP.ISOLATED_SUBNET_IDS, logical_id
        # AND the test stage's project has the group it was given; the others the pipeline's own
        expected = [APP.TEST_DATABASE_CLIENTS] if "TestStage" in logical_id else [group_ref(group_id)]
        assert config["SecurityGroupIds"] == expected, logical_id


def test_the_pipeline_s_own_security_group_allows_no_inbound_and_https_out_only(example: dict[str, Any]) -> None:
    # GIVEN the one security group the pipeline created
    [(group_id, group)] = of_type(example, GROUP).items()
    assert group_id.startswith("PipelineBuildSecurityGroup")
    # THEN it has no inbound rule, inline or as a resource of its own, and one outbound rule: TCP 443
    assert "SecurityGroupIngress" not in group["Properties"]
    assert not of_type(example, "AWS::EC2::SecurityGroupIngress")
    assert not of_type(example, "AWS::EC2::SecurityGroupEgress")
    assert group["Properties"]["SecurityGroupEgress"] == HTTPS_OUT
    assert group["Properties"]["VpcId"] == APP.VPC_ID


def test_each_role_may_attach_network_interfaces_in_its_project_s_subnets_only(example: dict[str, Any]) -> None:
    # GIVEN every policy of the template  WHEN the statements granting ec2:CreateNetworkInterfacePermission are read
    statements = [
        s
        for policy in of_type(example, "AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "ec2:CreateNetworkInterfacePermission"
    ]
    # THEN there is one per project, each held to its subnets and to CodeBuild (the permission plan evaluates them)
    assert len(statements) == 3
    for statement in statements:
        condition = statement["Condition"]["StringEquals"]
        assert condition["ec2:AuthorizedService"] == "codebuild.amazonaws.com"
        assert len(condition["ec2:Subnet"]) == 2


# --- Other ways of passing a network: one synthesis ----------------------------------------------------------------


@pytest.fixture(scope="module")
def scenarios() -> tuple[cdk.Stack, dict[str, Any]]:
    """Pipelines in one stack with a new VPC (private subnets with egress, and isolated ones): ``Everywhere`` (a
    pipeline-wide network, every kind of stage, a target of its own network, a stage added later), ``ValidateOnly``
    (a network for the validate stage only), and ``OnFoundation``."""
    stack = cdk.Stack(cdk.App(), "Scenarios")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=1,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
    )
    isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    everywhere = ValidatedS3Pipeline(
        stack,
        "Everywhere",
        validation=ValidationOptions(commands=["true"]),
        test=TestStageOptions(commands=["true"]),
        deploy=[
            DeployTarget(name="Staging", commands=["true"]),
            DeployTarget(name="Production", commands=["true"], build_network=BuildNetwork(vpc=vpc, subnets=isolated)),
        ],
        build_network=BuildNetwork(vpc=vpc),
    )
    everywhere.add_build_stage("Extra", options=StageOptions(commands=["true"]))
    ValidatedS3Pipeline(
        stack,
        "ValidateOnly",
        validation=ValidationOptions(commands=["true"], build_network=BuildNetwork(vpc=vpc, subnets=isolated)),
        test=TestStageOptions(commands=["true"]),
    )
    foundation = PipelineFoundation(stack, "Foundation", name_prefix="teams")
    ValidatedS3Pipeline(
        stack,
        "OnFoundation",
        foundation=foundation,
        validation=ValidationOptions(commands=["true"]),
        build_network=BuildNetwork(vpc=vpc),
    )
    return stack, synthesize(stack).json


def subnet_refs(template: dict[str, Any], name: str) -> list[dict[str, str]]:
    """References to the new VPC's subnets of the group ``name`` (``Private``, ``Isolated``)."""
    return [{"Ref": i} for i, r in of_type(template, "AWS::EC2::Subnet").items() if i.startswith(f"Vpc{name}Subnet")]


def test_a_pipeline_wide_network_reaches_every_stage_and_defaults_to_private_subnets(
    scenarios: tuple[cdk.Stack, dict[str, Any]],
) -> None:
    _, template = scenarios
    # GIVEN a pipeline given BuildNetwork(vpc=...) in a VPC with public, private and isolated subnets
    projects = projects_of(template, "Everywhere")
    stages = ("Validation", "Attest", "TestStage", "DeployStagingStage", "DeployProductionStage", "ExtraStage")
    assert sorted(projects) == sorted(next(i for i in projects if i.startswith(f"Everywhere{s}")) for s in stages)
    # THEN every project runs in it, the stage added later too, with the pipeline's one security group
    [group] = [i for i in of_type(template, GROUP) if i.startswith("EverywhereBuildSecurityGroup")]
    for logical_id, project in projects.items():
        config = project["Properties"]["VpcConfig"]
        assert config["SecurityGroupIds"] == [group_ref(group)], logical_id
        # AND in its private subnets with egress, unless the stage names its own subnets (Production: isolated)
        wanted = "Isolated" if "DeployProduction" in logical_id else "Private"
        assert config["Subnets"] == subnet_refs(template, wanted), logical_id


def test_a_stage_s_network_applies_to_that_stage_only(scenarios: tuple[cdk.Stack, dict[str, Any]]) -> None:
    _, template = scenarios
    # GIVEN a pipeline whose validate stage only is given a network
    projects = projects_of(template, "ValidateOnly")
    in_vpc = sorted(i.removeprefix("ValidateOnly")[:6] for i, r in projects.items() if "VpcConfig" in r["Properties"])
    # THEN Validate and its Attest action run in the VPC, the test stage as before
    assert in_vpc == ["Attest", "Valida"]
    assert len(projects) == 3


def test_a_pipeline_on_a_foundation_may_run_its_builds_in_a_vpc(scenarios: tuple[cdk.Stack, dict[str, Any]]) -> None:
    _, template = scenarios
    # GIVEN a pipeline on a foundation, given a network  THEN its projects run in it, with its own security group
    projects = projects_of(template, "OnFoundation")
    [group] = [i for i in of_type(template, GROUP) if i.startswith("OnFoundationBuildSecurityGroup")]
    assert projects
    for project in projects.values():
        assert project["Properties"]["VpcConfig"]["SecurityGroupIds"] == [group_ref(group)]


def test_one_security_group_per_pipeline(scenarios: tuple[cdk.Stack, dict[str, Any]]) -> None:
    _, template = scenarios
    # THEN each pipeline given a network without security groups created exactly one group, whatever its stages
    groups = sorted(i for i in of_type(template, GROUP) if "BuildSecurityGroup" in i)
    assert [g[:12] for g in groups] == ["EverywhereBu", "OnFoundation", "ValidateOnly"]


def test_the_scale_limit_counts_the_network_s_resources(scenarios: tuple[cdk.Stack, dict[str, Any]]) -> None:
    # GIVEN a stack with a VPC, security groups and the projects' network policies
    stack, template = scenarios
    # THEN the resource count the scale-limit check makes is the template's
    assert _resource_count(stack) == len(template["Resources"])


# --- Bad input -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vpc() -> ec2.IVpc:
    """An existing VPC with public and isolated subnets (no NAT)."""
    stack = cdk.Stack(cdk.App(), "Network")
    return ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["eu-west-1a", "eu-west-1b"],
        public_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        isolated_subnet_ids=["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
    )


PUBLIC_ADVICE = "CodeBuild gives a build no public IP address"


def test_fails_when_the_subnets_are_public(vpc: ec2.IVpc) -> None:
    public = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
    assert_fails(
        "build_network.subnets",
        "SubnetSelection(subnet_type=SubnetType.PUBLIC)",
        PUBLIC_ADVICE,
        build_network=BuildNetwork(vpc=vpc, subnets=public),
    )


def test_fails_when_the_subnets_given_one_by_one_are_public(vpc: ec2.IVpc) -> None:
    assert_fails(
        "build_network.subnets",
        "SubnetSelection(subnets=[2 subnet(s)])",
        "These are public subnets",
        build_network=BuildNetwork(vpc=vpc, subnets=ec2.SubnetSelection(subnets=vpc.public_subnets)),
    )


def test_fails_when_a_stage_s_subnets_are_public(vpc: ec2.IVpc) -> None:
    public = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)
    assert_fails(
        "test.build_network.subnets",
        "SubnetSelection(subnet_type=SubnetType.PUBLIC)",
        PUBLIC_ADVICE,
        test=TestStageOptions(commands=["true"], build_network=BuildNetwork(vpc=vpc, subnets=public)),
    )


def test_fails_when_the_vpc_has_no_subnets_of_the_kind_asked(vpc: ec2.IVpc) -> None:
    private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
    assert_fails(
        "validation.build_network.subnets",
        "SubnetSelection(subnet_type=SubnetType.PRIVATE_WITH_EGRESS)",
        "cannot give these subnets",
        validation=ValidationOptions(commands=["true"], build_network=BuildNetwork(vpc=vpc, subnets=private)),
    )


def test_fails_when_the_vpc_has_only_public_subnets() -> None:
    public_only = ec2.Vpc.from_vpc_attributes(
        cdk.Stack(cdk.App(), "Network"),
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["eu-west-1a"],
        public_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1"],
    )
    assert_fails(
        "build_network.subnets",
        "None",
        "has no private or isolated subnets to default to",
        build_network=BuildNetwork(vpc=public_only),
    )


def test_fails_when_security_groups_is_empty(vpc: ec2.IVpc) -> None:
    assert_fails(
        "build_network.security_groups",
        "[]",
        "CodeBuild takes one to 5 security groups: pass None for the pipeline's own",
        build_network=BuildNetwork(vpc=vpc, security_groups=[]),
    )


def test_fails_when_security_groups_are_more_than_codebuild_takes(vpc: ec2.IVpc) -> None:
    scope = cdk.Stack(cdk.App(), "Groups")
    groups = [ec2.SecurityGroup.from_security_group_id(scope, f"G{n}", f"sg-0{n:016x}") for n in range(6)]
    with pytest.raises(ValueError, match=r"build_network\.security_groups: got \[.*CodeBuild takes one to 5"):
        new_pipeline(build_network=BuildNetwork(vpc=vpc, security_groups=groups))


@pytest.mark.parametrize(
    ("argument", "shown", "advice", "network"),
    [
        ("build_network.vpc", "'vpc-0a1'", "Expected an ec2.IVpc, not str", {"vpc": "vpc-0a1"}),
        ("build_network.subnets", "'private'", "Expected an ec2.SubnetSelection or None", {"subnets": "private"}),
        ("build_network.security_groups", "'sg-1'", "list of ec2.ISecurityGroup or None", {"security_groups": "sg-1"}),
        ("build_network.security_groups[0]", "'sg-1'", "Expected an ec2.ISecurityGroup", {"security_groups": ["sg-1"]}),
    ],
)  # fmt: skip
def test_fails_when_a_network_argument_has_the_wrong_type(
    vpc: ec2.IVpc, argument: str, shown: str, advice: str, network: dict[str, Any]
) -> None:
    assert_fails(argument, shown, advice, build_network=BuildNetwork(**{"vpc": vpc, **network}))


def test_fails_when_build_network_is_not_a_build_network() -> None:
    assert_fails(
        "build_network", "'vpc-0123456789abcdef0'", "Expected BuildNetwork or None, not str",
        build_network="vpc-0123456789abcdef0",
    )  # fmt: skip


def test_fails_when_a_stage_added_later_has_a_bad_network(vpc: ec2.IVpc) -> None:
    pipeline = new_pipeline()
    options = StageOptions(commands=["true"], build_network=BuildNetwork(vpc=vpc, security_groups=[]))
    with pytest.raises(ValueError, match=r"options\.build_network\.security_groups: got \[\]"):
        pipeline.add_build_stage("Extra", options=options)
    # AND nothing was added: the name is still free
    assert "Extra" not in pipeline.stages


def test_a_project_outside_a_pipeline_gets_a_security_group_of_its_own(vpc: ec2.IVpc) -> None:
    # GIVEN a validate project used on its own, in a VPC, and no pipeline holding it
    stack = cdk.Stack(cdk.App(), "Alone")
    key = kms.Key(stack, "Key")
    options = ValidationOptions(commands=["true"], build_network=BuildNetwork(vpc=vpc))
    project = ValidationProject(stack, "Validation", options=options, artifact_key=key, log_key=key)
    # THEN the security group is the project construct's, in that VPC (no synthesis needed to see it)
    group = project.node.try_find_child("BuildSecurityGroup")
    assert isinstance(group, ec2.SecurityGroup)
    assert project.project.connections.security_groups == [group]
