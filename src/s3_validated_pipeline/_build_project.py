"""What every CodeBuild project of the pipeline shares: the pinned package checker, an encrypted log group, a
managed environment, its own role, and the acknowledgements CDK's defaults make necessary."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from aws_cdk import CfnResource, Duration, Stack, Token
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct, IConstruct

from ._buildspec import checker_variables
from ._compliance import acknowledge, acknowledge_cdk_grants, acknowledge_in_packs, skip_checkov
from ._logs import encrypted_log_group
from ._warnings import CUSTOM_BUILD_IMAGE, RETIRED_BUILD_ENVIRONMENT, LibraryWarning
from .build_environment import BuildEnvironment
from .build_network import BuildNetwork

CHECKER_FILE = Path(__file__).with_name("check.py")


@dataclass(frozen=True)
class StageResources:
    """What one stage of the pipeline runs on: ``pipeline.stages[name]`` for every stage that builds."""

    project: codebuild.PipelineProject
    """The stage's CodeBuild project."""
    role: iam.IRole
    """The project's own role: grant the stage more here."""
    log_group: logs.LogGroup
    """The KMS-encrypted log group the project's builds write to."""


class StageConstruct(Construct):
    """A construct holding one stage's CodeBuild project: its project, role and log group, read from ``resources``."""

    resources: StageResources
    """The stage's project, role and log group."""

    @property
    def project(self) -> codebuild.PipelineProject:
        """The CodeBuild project."""
        return self.resources.project

    @property
    def role(self) -> iam.IRole:
        """The project's own role: grant the stage more here."""
        return self.resources.role

    @property
    def log_group(self) -> logs.LogGroup:
        """The encrypted log group of the project's builds."""
        return self.resources.log_group


_HOST_ATTRIBUTE = "_s3vp_environment_warnings"
_GROUPS_ATTRIBUTE = "_s3vp_build_security_groups"
_Use = tuple[str, BuildEnvironment]
"""A stage's name and the environment it runs on."""


def _runtimes(environment: BuildEnvironment) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in environment.runtime_versions.items())
    return f"{environment.image} ({versions or 'its default runtimes'})"


def _stages(uses: Sequence[_Use]) -> str:
    return ", ".join(f"{stage} on {_runtimes(environment)}" for stage, environment in uses)


def _retired_message(uses: Sequence[_Use]) -> str:
    reasons = "; ".join(dict.fromkeys(str(environment.retired_because) for _, environment in uses))
    return (
        f"Retired build environment: {_stages(uses)}. {reasons}. Switch with "
        "build_environment=BuildEnvironment.UBUNTU_22_04_NODE_22 (every stage's default), or acknowledge this "
        "warning to keep the retired environment."
    )


def _custom_image_message(uses: Sequence[_Use]) -> str:
    return (
        f"Not a CodeBuild-managed image: {_stages(uses)}. CodeBuild pulls such an image with its own credentials "
        "(anonymously from Docker Hub, where pulls are rate-limited, and not at all from a private registry), no "
        "one patches it for you, and the buildspec's runtime-versions work only on managed images. Use a preset "
        "such as BuildEnvironment.UBUNTU_22_04_NODE_22, or an aws/codebuild/... image; for your own image, keep it "
        "in ECR and give it no runtime_versions, then acknowledge this warning."
    )


class EnvironmentWarnings:
    """Gives the build-environment warnings (retired environment, custom image) once per pipeline, naming every
    stage concerned, however many stages share the environment.

    A pipeline ``hold``s its warnings while its constructor adds stages and ``release``s them at its end; a stage
    added later warns only if the pipeline has not warned about the same thing yet. A project outside a pipeline
    warns on its own construct.
    """

    _CHECKS: tuple[tuple[LibraryWarning, Callable[[BuildEnvironment], bool], Callable[[Sequence[_Use]], str]], ...] = (
        (RETIRED_BUILD_ENVIRONMENT, lambda environment: bool(environment.retired_because), _retired_message),
        (CUSTOM_BUILD_IMAGE, lambda environment: not environment.managed, _custom_image_message),
    )

    def __init__(self, host: IConstruct | None) -> None:
        self._host = host
        self._uses: list[_Use] = []
        self._held = host is not None
        self._given: set[str] = set()

    @classmethod
    def hold(cls, host: IConstruct) -> EnvironmentWarnings:
        """Collect the warnings of the stages defined below ``host`` until ``release``."""
        warnings = cls(host)
        setattr(host, _HOST_ATTRIBUTE, warnings)  # found again by ``of`` through the construct tree
        return warnings

    @classmethod
    def of(cls, scope: IConstruct) -> EnvironmentWarnings:
        """The warnings of the pipeline holding ``scope``; a fresh, unheld one when no pipeline holds it."""
        found = getattr(pipeline_holding(scope), _HOST_ATTRIBUTE, None)
        return found if isinstance(found, EnvironmentWarnings) else cls(None)

    def record(self, scope: IConstruct, stage: str, environment: BuildEnvironment) -> None:
        """Note that ``stage`` (defined in ``scope``) runs on ``environment``; warn now unless held."""
        self._uses.append((stage, environment))
        if not self._held:
            self._warn(self._host or scope)

    def release(self) -> None:
        """Give the warnings collected so far, one per kind; stages added later warn only about something new."""
        self._held = False
        if self._host is not None:
            self._warn(self._host)

    def _warn(self, on: IConstruct) -> None:
        for warning, applies, message in self._CHECKS:
            uses = [use for use in self._uses if applies(use[1])]
            if uses and warning.id not in self._given:
                self._given.add(warning.id)
                warning.add(on, message(uses))
        if self._host is None:
            self._uses.clear()
            self._given.clear()


def pipeline_holding(scope: IConstruct) -> IConstruct | None:
    """The pipeline ``scope`` is in: the nearest construct holding ``EnvironmentWarnings``; None outside one."""
    for ancestor in reversed(scope.node.scopes):
        if isinstance(getattr(ancestor, _HOST_ATTRIBUTE, None), EnvironmentWarnings):
            return ancestor
    return None


def action_variables(values: Mapping[str, str]) -> dict[str, codebuild.BuildEnvironmentVariable]:
    """A CodeBuild action's environment variables (plain text: never a secret) from their values."""
    return {name: codebuild.BuildEnvironmentVariable(value=value) for name, value in values.items()}


def checker_sha256() -> str:
    """The digest the template pins; builds refuse a checker that does not match it."""
    return hashlib.sha256(CHECKER_FILE.read_bytes()).hexdigest()


def new_build_project(
    scope: Construct,
    *,
    stage: str,
    description: str,
    buildspec: dict[str, Any],
    environment: BuildEnvironment,
    timeout: Duration,
    artifact_key: kms.IKey,
    log_key: kms.IKey,
    log_retention_days: int,
    artifact_buckets: Sequence[CfnResource | str] = (),
    variables: Mapping[str, str] | None = None,
    network: BuildNetwork | None = None,
) -> StageResources:
    """Define the project ``Project`` and its log group ``Logs`` in ``scope``, with the checker it may run (and
    ``variables`` in its environment), in ``network`` when one is given (see ``network_settings``).

    CDK's grants to the project on the pipeline's artifacts (``artifact_buckets``) are acknowledged here, so a
    project made on its own is as clean under cdk-nag as one made by the pipeline.
    """
    EnvironmentWarnings.of(scope).record(scope, stage, environment)
    checker = s3_assets.Asset(scope, "Checker", path=str(CHECKER_FILE))
    log_group = encrypted_log_group(scope, "Logs", key=log_key, retention_days=log_retention_days)
    project = codebuild.PipelineProject(
        scope,
        "Project",
        description=description,
        build_spec=codebuild.BuildSpec.from_object(buildspec),
        environment=codebuild.BuildEnvironment(
            build_image=codebuild.LinuxBuildImage.from_code_build_image_id(environment.image),
            compute_type=environment.compute_type,
            privileged=False,
        ),
        environment_variables={
            name: codebuild.BuildEnvironmentVariable(value=value)
            for name, value in {
                **checker_variables(checker.s3_bucket_name, checker.s3_object_key, checker_sha256()),
                **(variables or {}),
            }.items()
        },
        encryption_key=artifact_key,
        logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
        timeout=timeout,
        grant_report_group_permissions=False,
        **network_settings(scope, network),
    )
    # The checker object only, not the whole assets bucket.
    project.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[checker.bucket.arn_for_objects(checker.s3_object_key)])
    )
    stack = Stack.of(scope)
    project_id = stack.get_logical_id(cast(CfnResource, project.node.default_child))
    # cdk-nag prints the stack's Region and account when they are known, their pseudo parameters when not.
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    acknowledge(
        project,
        f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:{region}:{account}:log-group:"
        f"/aws/codebuild/<{project_id}>:*]",
        "CDK always lets a project write to its default log group (/aws/codebuild/ and the project name), "
        "whose streams have generated names; builds log to the dedicated encrypted log group instead.",
    )
    acknowledge_in_packs(
        project,
        "CodeBuildProjectSourceRepoUrl",
        "The project's source is the pipeline's encrypted artifact (type CODEPIPELINE), not a GitHub or "
        "Bitbucket repository, so there is no repository URL or OAuth connection to check.",
        packs=("HIPAA.Security", "PCI.DSS.321"),
    )
    acknowledge_cdk_grants(project, objects_of=artifact_buckets)
    if network is not None:
        _acknowledge_network_grants(project)
    return StageResources(project, cast(iam.IRole, project.role), log_group)


def network_settings(scope: Construct, network: BuildNetwork | None) -> dict[str, Any]:
    """A project's VPC, subnets and security groups (none without ``network``, so its template stays as it was).

    Without security groups of the user's, the project gets the pipeline's own (``default_security_group``).
    """
    if network is None:
        return {}
    groups = network.security_groups
    return {
        "vpc": network.vpc,
        "subnet_selection": network.subnet_selection(),
        "security_groups": list(groups) if groups is not None else [default_security_group(scope, network.vpc)],
    }


def default_security_group(scope: Construct, vpc: ec2.IVpc) -> ec2.SecurityGroup:
    """The security group of the builds in ``vpc`` of the pipeline holding ``scope`` (of ``scope`` outside one): no
    inbound rule, outbound HTTPS only, which is all the pipeline's builds need to reach AWS through VPC endpoints and
    a package mirror. ``BuildSecurityGroup`` for the first VPC, ``BuildSecurityGroup2`` for a second, and so on."""
    host = pipeline_holding(scope) or scope
    made: dict[str, ec2.SecurityGroup] = getattr(host, _GROUPS_ATTRIBUTE, {})
    setattr(host, _GROUPS_ATTRIBUTE, made)
    key = vpc.node.path
    if key not in made:
        suffix = str(len(made) + 1) if made else ""
        group = ec2.SecurityGroup(
            cast(Construct, host),
            f"BuildSecurityGroup{suffix}",
            vpc=vpc,
            description="Builds of s3-validated-pipeline: no inbound, outbound HTTPS only",
            allow_all_outbound=False,
        )
        group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS endpoints and the package mirror")
        made[key] = group
    return made[key]


def _acknowledge_network_grants(project: codebuild.PipelineProject) -> None:
    """CDK's grants for a project in a VPC, which are those AWS documents for CodeBuild ("Allow CodeBuild access to AWS
    services required to create a VPC network interface")."""
    reason = (
        "The EC2 actions AWS documents for CodeBuild in a VPC (creating, describing and deleting each build's "
        "network interface), granted on * as documented: the Describe actions take no resource, and the interface "
        "does not exist when its creation is authorized. Its attachment is scoped to the project's subnets."
    )
    policy = cast(iam.Policy, project.node.find_child("PolicyDocument"))  # where CDK puts these actions
    acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", reason)
    skip_checkov(policy, "CKV_AWS_111", reason)
    # CDK writes this ARN with the Region and account pseudo parameters, even in a stack with an explicit env.
    acknowledge(
        project,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*]",
        "CodeBuild attaches each build's network interface, whose id is only known then; the statement is held "
        "by its conditions to the project's subnets and to the CodeBuild service (ec2:Subnet, "
        "ec2:AuthorizedService).",
    )
