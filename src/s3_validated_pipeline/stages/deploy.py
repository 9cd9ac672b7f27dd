"""Deployments of the validated artifact to target environments: commands in CodeBuild, or a CloudFormation change
set; each verifies the artifact's manifest first, may wait for an approval, rolls back or retries on failure, and
may watch alarms after deploying."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aws_cdk import Aws, CfnCapabilities, Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk.region_info import RegionInfo

from .._build_project import StageResources
from .._buildspec import PACKAGE_SHA256
from .._inputs import commands_problems, environment_problems
from .._names import ATTEST
from .._warnings import BOOTSTRAP_EXECUTION_ROLE
from ..build_environment import BuildEnvironment
from ..build_network import BuildNetwork, network_problems
from ..errors import Problem, Shown, unresolved, wrong_type
from ._change_set import CHANGE_SET_SCRIPT, EXPORTED_VARIABLES
from ._context import StageContext, retry_failed_actions
from .approval import ApprovalOptions, add_approval_stage
from .build import StageOptions, VerifiedProject

if TYPE_CHECKING:
    from .wave import DeployWave

_CAPABILITIES = {
    CfnCapabilities.NONE: "",
    CfnCapabilities.ANONYMOUS_IAM: "CAPABILITY_IAM",
    CfnCapabilities.NAMED_IAM: "CAPABILITY_NAMED_IAM",
    CfnCapabilities.AUTO_EXPAND: "CAPABILITY_AUTO_EXPAND",
}
"""What CloudFormation calls each capability."""
TARGET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}")
"""What a target's (or a wave's) name may be: it is part of stage and construct names."""
MAX_ALARMS = 5
"""The most rules one CodePipeline stage condition holds: one per watched alarm."""


@dataclass(frozen=True, kw_only=True)
class CloudFormationDeployment:
    """Deploy a CloudFormation template from the validated artifact through a change set (create, then execute).

    For a CDK app with assets (Lambda code, images), deploy with
    ``DeployTarget(commands=["npx --no-install cdk deploy ..."])`` instead: a change set does not publish assets.

    Args:
        template_path: the template's path inside the validated artifact, e.g. ``"cdk.out/App.template.json"``.
        stack_name: the stack to create or update.
        parameters: parameter overrides. Default: none.
        capabilities: what the template may do, e.g. ``[CfnCapabilities.NAMED_IAM]``. Default: none.
    """

    template_path: str
    stack_name: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    capabilities: Sequence[CfnCapabilities] = ()

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found: list[Problem] = []
        path: object = self.template_path
        if not isinstance(path, str) or not path.strip() or path.startswith("/") or ".." in path.split("/"):
            found.append(
                Problem(f"{argument}.template_path", path, "Give the template's path inside the validated artifact.")
            )
        name: object = self.stack_name
        if not isinstance(name, str) or not (unresolved(name) or re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", name)):
            found.append(
                Problem(f"{argument}.stack_name", name, "Use a letter, then letters, digits or '-' (128 at most).")
            )
        if not isinstance(self.parameters, Mapping):
            found.append(wrong_type(f"{argument}.parameters", self.parameters, "a mapping", "{'Stage': 'prod'}"))
        if not all(isinstance(c, CfnCapabilities) for c in self.capabilities):
            found.append(
                wrong_type(
                    f"{argument}.capabilities", self.capabilities, "CfnCapabilities", "[CfnCapabilities.NAMED_IAM]"
                )
            )
        return found


@dataclass(frozen=True, kw_only=True)
class DeployTarget:
    """One environment the validated artifact is deployed to, in the order the targets are given.

    Give exactly one of ``cloudformation`` or ``commands``. Every deployment first verifies the artifact's
    manifest. A target in another account is reached through roles in that account: by default those of
    ``cdk bootstrap --trust <pipeline account>`` (see docs/stages.md).

    Args:
        name: the environment's name; the stage is ``Deploy<name>``.
        account: the target account. Default: the pipeline's.
        region: the target Region. Default: the pipeline's. Another Region needs an explicit ``env`` on the
            pipeline's stack: the deployment then runs in that Region, from an artifact store and keys the pipeline
            keeps there (in the stack ``<pipeline stack name>-support-<region>``, see docs/stages.md).
        cloudformation: deploy a template from the artifact through a change set.
        commands: deploy with shell commands in CodeBuild, e.g. ``["npx --no-install cdk deploy --all"]``.
        build_environment: for ``commands``. Default: ``BuildEnvironment.UBUNTU_22_04_NODE_22``, whatever the
            validate stage runs on.
        approval: require a manual approval before this environment. Never guessed from the name. Default: none.
        rollback_on_failure: on failure, roll the stage back to the last successful execution's artifacts
            (a CloudFormation change set also rolls back by itself). Default: True.
        retry_failed_actions: retry failed actions automatically instead; only where that is safe. Not with
            ``rollback_on_failure``. Default: False.
        alarms: CloudWatch alarms (in the pipeline's account and region) watched for ``bake_time`` after the
            deployment; one in ALARM rolls the stage back. Default: none.
        bake_time: how long ``alarms`` are watched. Default: 30 minutes.
        action_role_arn: CloudFormation: the role the deployment assumes in the target account to create and execute
            the change set (it must trust the pipeline's account and may pass ``deployment_role_arn``). Default: the
            CDK bootstrap deploy role there.
        deployment_role_arn: CloudFormation: the role CloudFormation runs the change set as. Default: the CDK
            bootstrap CloudFormation execution role, which ``cdk bootstrap`` gives AdministratorAccess unless
            bootstrapped with ``--cloudformation-execution-policies``: leaving it out adds the warning
            ``s3-validated-pipeline:bootstrapExecutionRole``.
        confirm_permissions_broadening: CloudFormation with an approval: stop for the approval only when the change
            set adds or changes IAM resources, resource policies or security-group rules; pass straight through
            otherwise. Default: True for a CloudFormation target with an approval (a commands target's approval
            always stops: there is no change set to read before it).
        bootstrap_qualifier: the qualifier of the target's CDK bootstrap. Default: ``"hnb659fds"``.
        build_network: the VPC, subnets and security groups the target's project (running its commands, or its
            change set) runs in. Default: the pipeline's ``build_network``; without one, CodeBuild's own network
            (open outbound access).
    """

    name: str
    account: str | None = None
    region: str | None = None
    cloudformation: CloudFormationDeployment | None = None
    commands: Sequence[str] = ()
    build_environment: BuildEnvironment | None = None
    approval: ApprovalOptions | None = None
    rollback_on_failure: bool = True
    retry_failed_actions: bool = False
    alarms: Sequence[cloudwatch.IAlarm] = ()
    bake_time: Duration = field(default_factory=lambda: Duration.minutes(30))
    action_role_arn: str | None = None
    deployment_role_arn: str | None = None
    bootstrap_qualifier: str = "hnb659fds"
    confirm_permissions_broadening: bool | None = None
    build_network: BuildNetwork | None = None

    @property
    def confirms_permissions_broadening(self) -> bool:
        """Whether the approval stops only for a change set that broadens permissions."""
        return (
            self.cloudformation is not None
            and self.approval is not None
            and (self.confirm_permissions_broadening is not False)
        )

    def _approval_problems(self, argument: str) -> list[Problem]:
        found: list[Problem] = []
        if self.approval is not None:
            if isinstance(self.approval, ApprovalOptions):
                found.extend(self.approval.problems(f"{argument}.approval"))
            else:
                found.append(wrong_type(f"{argument}.approval", self.approval, "ApprovalOptions", "ApprovalOptions()"))
        broadening: object = self.confirm_permissions_broadening
        if broadening is not None and not isinstance(broadening, bool):
            found.append(wrong_type(f"{argument}.confirm_permissions_broadening", broadening, "a bool or None", "True"))
        elif broadening and (self.cloudformation is None or self.approval is None):
            found.append(
                Problem(
                    f"{argument}.confirm_permissions_broadening",
                    True,
                    "It skips an approval when a CloudFormation change set broadens no permissions: give the target "
                    "cloudformation=... and approval=ApprovalOptions(...), or leave it out.",
                )
            )
        return found

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with this target, naming it as ``argument``."""
        found: list[Problem] = []
        if not isinstance(self.name, str) or not TARGET_NAME.fullmatch(self.name):
            found.append(Problem(f"{argument}.name", self.name, "Use letters, digits, '_' or '-', e.g. 'Production'."))
        account: object = self.account
        if account is not None and not unresolved(account) and not re.fullmatch(r"\d{12}", str(account)):
            found.append(Problem(f"{argument}.account", account, "Give a 12-digit AWS account id, or None."))
        if self.cloudformation is None and not self.commands:
            found.append(
                Problem(
                    f"{argument}.commands",
                    self.commands,
                    f"Target {self.name!r} has neither commands nor cloudformation, so it would deploy nothing (an "
                    "approval alone is not a deployment): give commands=['npx --no-install cdk deploy --all "
                    "--require-approval never'] or cloudformation=CloudFormationDeployment(template_path=..., "
                    "stack_name=...).",
                )
            )
        elif self.cloudformation is not None and self.commands:
            found.append(
                Problem(
                    f"{argument}.cloudformation",
                    Shown(f"{type(self.cloudformation).__name__}(...) together with commands"),
                    f"Target {self.name!r} deploys one way: keep either commands or cloudformation, not both.",
                )
            )
        if self.cloudformation is not None:
            if isinstance(self.cloudformation, CloudFormationDeployment):
                found.extend(self.cloudformation.problems(f"{argument}.cloudformation"))
            else:
                example = "CloudFormationDeployment(template_path=..., stack_name=...)"
                found.append(wrong_type(f"{argument}.cloudformation", self.cloudformation, "a deployment", example))
        if self.commands:
            found.extend(commands_problems(f"{argument}.commands", self.commands))
        found.extend(environment_problems(f"{argument}.build_environment", self.build_environment, optional=True))
        found.extend(network_problems(f"{argument}.build_network", self.build_network))
        found.extend(self._approval_problems(argument))
        found.extend(settling_problems(argument, self))
        return found


def settling_problems(argument: str, settled: DeployTarget | DeployWave) -> list[Problem]:
    """What is wrong with how a stage of deployments settles: rollback or retry on failure, alarms and bake time."""
    found: list[Problem] = []
    if settled.rollback_on_failure and settled.retry_failed_actions:
        found.append(
            Problem(
                f"{argument}.retry_failed_actions",
                True,
                "A stage either rolls back or retries on failure: set rollback_on_failure=False to retry.",
            )
        )
    alarms: object = settled.alarms
    if isinstance(alarms, str) or not isinstance(alarms, Sequence):
        found.append(wrong_type(f"{argument}.alarms", alarms, "a list of cloudwatch.IAlarm", "[my_alarm]"))
    elif len(alarms) > MAX_ALARMS:
        found.append(
            Problem(
                f"{argument}.alarms",
                f"{len(alarms)} alarms",
                f"A stage condition holds at most {MAX_ALARMS} rules: watch at most {MAX_ALARMS} alarms, e.g. "
                "one cloudwatch.CompositeAlarm over the others.",
            )
        )
    # The rule waits whole minutes; to_minutes() would raise on anything else, so compare seconds.
    if not isinstance(settled.bake_time, Duration) or (
        not settled.bake_time.is_unresolved()
        and not (
            60 <= settled.bake_time.to_seconds(integral=False) <= 86400
            and settled.bake_time.to_seconds(integral=False) % 60 == 0
        )
    ):
        found.append(
            Problem(
                f"{argument}.bake_time",
                _duration_shown(settled.bake_time),
                "Give whole minutes from Duration.minutes(1) to 1 day.",
            )
        )
    return found


def _duration_shown(value: object) -> object:
    return Shown(value.to_human_string()) if isinstance(value, Duration) else value


@dataclass(frozen=True)
class DeployStage:
    """What the pipeline built for one ``DeployTarget``: read-only, for wiring alarms, permissions and the like."""

    name: str
    """The target's name; the stage is ``Deploy<name>`` (``Deploy<wave name>`` for a target of a wave)."""
    approval: actions.ManualApprovalAction | None
    """The manual approval in front of the deployment, in the stage ``Approve<name>`` (of its wave, for a target of
    a wave); None without one."""
    resources: StageResources
    """The CodeBuild project that verifies the artifact (and, for ``commands``, deploys it), its role and log group."""
    actions: tuple[codepipeline.IAction, ...]
    """The target's actions, in run order (for a target of a wave, its one action in the wave's stage)."""
    region: str | None = None
    """The other Region the target's project runs in; None for the pipeline's. Such a project is in that Region's
    stack, and not in ``ValidatedS3Pipeline.stages`` (its alarms and dashboard would need metrics of that Region)."""


def add_deploy_stage(context: StageContext, target: DeployTarget, default_environment: BuildEnvironment) -> DeployStage:
    """Add a target's stages: for commands, ``Approve<name>`` (when asked) then ``Deploy<name>``; for a
    CloudFormation template, ``Deploy<name>ChangeSet``, ``Approve<name>`` and ``Deploy<name>`` when it has an
    approval (the approver reviews the change set), else ``Deploy<name>`` alone."""
    environment = target.build_environment or default_environment
    warn_about_execution_role(context, target)
    if target.cloudformation is not None and target.approval is not None:
        return _add_reviewed_change_set(context, target, target.cloudformation, environment)
    approval = (
        add_approval_stage(context, target.name, target.approval, package_named(context))
        if target.approval is not None
        else None
    )
    project, deploy = deploy_action(context, target, environment, "Deploy")
    add_settled_stage(context, target, f"Deploy{target.name}", [deploy])
    return DeployStage(target.name, approval, project.resources, (deploy,), region_of(context, target))


def deploy_action(
    context: StageContext, target: DeployTarget, environment: BuildEnvironment, action_name: str
) -> tuple[VerifiedProject, actions.CodeBuildAction]:
    """The target's project, in the target's Region, and its one action that deploys without a review: its
    ``commands``, or a change set planned and executed in one build."""
    here = context.in_region(target.region)
    if target.cloudformation is None:
        project = _deploy_project(here, target, list(target.commands), environment)
        # `cdk deploy` assumes the target's bootstrap roles, in this account as in another (`cdk bootstrap --trust`).
        _may_assume(project, here, target, ("deploy", "file-publishing", "image-publishing", "lookup"))
        return project, here.verified_action(action_name, project.resources)
    project, settings = _change_set_project(here, target, target.cloudformation, environment)
    return project, here.verified_action(action_name, project.resources, variables={**settings, "S3VP_MODE": "deploy"})


def _change_set_project(
    context: StageContext, target: DeployTarget, deployment: CloudFormationDeployment, environment: BuildEnvironment
) -> tuple[VerifiedProject, dict[str, str]]:
    """One project verifies the artifact and, from its own copy, plans and executes a change set (see
    ``_change_set``); returned with the settings its actions give it."""
    project = _deploy_project(context, target, [CHANGE_SET_SCRIPT], environment, EXPORTED_VARIABLES)
    _may_assume(project, context, target, ("deploy", "file-publishing"), deploy_role=target.action_role_arn)
    stack = Stack.of(context.scope)
    account, region = target.account or stack.account, target.region or stack.region
    return project, {
        "S3VP_STACK": deployment.stack_name,
        "S3VP_TEMPLATE": deployment.template_path,
        "S3VP_DEPLOY_ROLE_ARN": target.action_role_arn or _bootstrap_role_arn(context, target, "deploy"),
        "S3VP_EXECUTION_ROLE_ARN": target.deployment_role_arn or _bootstrap_role_arn(context, target, "cfn-exec"),
        "S3VP_FILE_ROLE_ARN": _bootstrap_role_arn(context, target, "file-publishing"),
        "S3VP_STAGING_BUCKET": f"cdk-{target.bootstrap_qualifier}-assets-{account}-{region}",
        "S3VP_PARAMETERS": json.dumps(
            [{"ParameterKey": k, "ParameterValue": v} for k, v in deployment.parameters.items()]
        ),
        "S3VP_CAPABILITIES": " ".join(_CAPABILITIES[c] for c in deployment.capabilities if _CAPABILITIES[c]),
    }


def _add_reviewed_change_set(
    context: StageContext, target: DeployTarget, deployment: CloudFormationDeployment, environment: BuildEnvironment
) -> DeployStage:
    """With an approval, the change set exists before it, and the approver reads its summary."""
    assert target.approval is not None
    here = context.in_region(target.region)
    project, settings = _change_set_project(here, target, deployment, environment)

    def change_set_action(name: str, mode: str, namespace: str | None = None) -> actions.CodeBuildAction:
        return here.verified_action(
            name, project.resources, variables={**settings, "S3VP_MODE": mode}, namespace=namespace
        )

    namespace = f"Deploy{target.name}ChangeSet"
    plan = change_set_action("ChangeSet", "plan", namespace)
    context.pipeline.add_stage(stage_name=namespace, actions=[plan])
    approval = add_approval_stage(
        context,
        target.name,
        target.approval,
        f"{package_named(context)} Change set "
        f"{plan.variable('CHANGE_SET_NAME')} of stack {deployment.stack_name}: "
        f"{plan.variable('CHANGE_SET_SUMMARY')}",
        link=plan.variable("CHANGE_SET_LINK"),
        only_when=plan.variable("PERMISSIONS_BROADENED") if target.confirms_permissions_broadening else None,
    )
    deploy = change_set_action("Deploy", "deploy")
    add_settled_stage(context, target, f"Deploy{target.name}", [deploy])
    return DeployStage(target.name, approval, project.resources, (plan, deploy), region_of(context, target))


def region_of(context: StageContext, target: DeployTarget) -> str | None:
    """The other Region the target's project runs in; None for the pipeline's."""
    return target.region if target.region in context.stores else None


def _deploy_project(
    context: StageContext,
    target: DeployTarget,
    commands: Sequence[str],
    environment: BuildEnvironment,
    exported_variables: Sequence[str] = (),
) -> VerifiedProject:
    return VerifiedProject(
        context.scope,
        f"Deploy{target.name}Stage",
        stage=f"Deploy{target.name}",
        options=StageOptions(
            commands=commands,
            build_environment=environment,
            build_network=target.build_network or context.build_network,
        ),
        artifact_key=context.artifact_key,
        log_key=context.log_key,
        log_retention_days=context.log_retention_days,
        artifact_buckets=context.artifact_buckets,
        exported_variables=exported_variables,
        signing_key_region=context.signing_key_region,
    )


def _may_assume(
    project: VerifiedProject,
    context: StageContext,
    target: DeployTarget,
    kinds: Sequence[str],
    *,
    deploy_role: str | None = None,
) -> None:
    """Let the project assume the target's bootstrap roles of ``kinds`` (the deploy role may be the target's own)."""
    arns = [
        deploy_role if kind == "deploy" and deploy_role else _bootstrap_role_arn(context, target, kind)
        for kind in kinds
    ]
    project.project.add_to_role_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=arns))


def add_settled_stage(
    context: StageContext, settled: DeployTarget | DeployWave, name: str, stage_actions: Sequence[codepipeline.IAction]
) -> None:
    """Add the stage ``name`` of deployments, which rolls back or retries on failure and bakes as ``settled`` says."""
    context.pipeline.add_stage(
        stage_name=name,
        actions=list(stage_actions),
        on_failure=codepipeline.FailureConditions(result=codepipeline.Result.ROLLBACK)
        if settled.rollback_on_failure
        else (retry_failed_actions() if settled.retry_failed_actions else None),
        on_success=_watch_alarms(context, settled),
    )


def warn_about_execution_role(context: StageContext, target: DeployTarget) -> None:
    if target.cloudformation is not None and target.deployment_role_arn is not None:
        return
    role = f"cdk-{target.bootstrap_qualifier}-cfn-exec-role-<account>-<region>"
    how = "cdk deploy runs the change set" if target.commands else "the change set runs"
    BOOTSTRAP_EXECUTION_ROLE.add(
        context.scope,
        f"Deploy target {target.name!r}: {how} as {role}, which `cdk bootstrap` gives AdministratorAccess unless "
        "bootstrapped with --cloudformation-execution-policies <policy ARN>. Bootstrap the target with a policy "
        "scoped to what the package deploys (docs/stages.md shows one)"
        + ("" if target.commands else ", or pass deployment_role_arn=")
        + ", then acknowledge this warning.",
    )


def package_named(context: StageContext) -> str:
    """The approval's words for the package: its object version and the SHA-256 Attest found, resolved by
    CodePipeline."""
    return f"Package version {context.source_version}, SHA-256 #{{{ATTEST}.{PACKAGE_SHA256}}}."


def _watch_alarms(context: StageContext, target: DeployTarget | DeployWave) -> codepipeline.Conditions | None:
    """Roll the stage back when one of the alarms goes off within the bake time after deploying."""
    if not target.alarms:
        return None
    context.pipeline.role.add_to_principal_policy(
        iam.PolicyStatement(actions=["cloudwatch:DescribeAlarms"], resources=[a.alarm_arn for a in target.alarms])
    )
    minutes = str(int(target.bake_time.to_minutes()))
    rules = [
        codepipeline.Rule(
            name=f"{target.name}Alarm{index}",
            provider="CloudWatchAlarm",
            version="1",
            configuration={"AlarmName": alarm.alarm_name, "WaitTime": minutes},
        )
        for index, alarm in enumerate(target.alarms, start=1)
    ]
    return codepipeline.Conditions(
        conditions=[codepipeline.Condition(result=codepipeline.Result.ROLLBACK, rules=rules)]
    )


def _bootstrap_role_arn(context: StageContext, target: DeployTarget, kind: str) -> str:
    """The ARN of a role `cdk bootstrap` creates in the target account.

    In a known Region the partition is written out: an ARN joined from the AWS::Partition reference is an
    Fn::Join that cfn-lint (E3703) rejects as a CloudFormation action's RoleArn.
    """
    stack = Stack.of(context.scope)
    account = target.account or stack.account
    region = target.region or stack.region
    name = f"cdk-{target.bootstrap_qualifier}-{kind}-role-{account}-{region}"
    partition = None if Token.is_unresolved(region) else RegionInfo.get(region).partition
    return f"arn:{partition or Aws.PARTITION}:iam::{account}:role/{name}"
