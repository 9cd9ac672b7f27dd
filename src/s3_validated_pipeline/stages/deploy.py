"""Deployments of the validated artifact to target environments: commands in CodeBuild, or a CloudFormation change
set; each verifies the artifact's manifest first, may wait for an approval, rolls back or retries on failure, and
may watch alarms after deploying."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import Aws, CfnCapabilities, Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk.region_info import RegionInfo

from .._build_project import StageResources
from .._inputs import commands_problems, environment_problems
from ..build_environment import BuildEnvironment
from ..errors import Problem, unresolved, wrong_type
from ._context import StageContext, retry_failed_actions
from .approval import ApprovalOptions, add_approval_stage
from .build import StageOptions, VerifiedProject, VerifyOnlyProject

MAX_ALARMS = 5
"""The most rules one CodePipeline stage condition holds: one per watched alarm."""


@dataclass(frozen=True, kw_only=True)
class CloudFormationDeployment:
    """Deploy a CloudFormation template from the validated artifact through a change set (create, then execute).

    For a CDK app with assets (Lambda code, images), deploy with ``DeployTarget(commands=["npx cdk deploy ..."])``
    instead: a change set does not publish assets.

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
    ``cdk bootstrap --trust <pipeline account>`` (see the README).

    Args:
        name: the environment's name; the stage is ``Deploy<name>``.
        account: the target account. Default: the pipeline's.
        region: the target region. Default: the pipeline's; other regions are not supported yet.
        cloudformation: deploy a template from the artifact through a change set.
        commands: deploy with shell commands in CodeBuild, e.g. ``["npx cdk deploy --all --require-approval never"]``.
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
        action_role_arn: cross-account: the role CodePipeline assumes in the target account. Default: the CDK
            bootstrap deploy role there.
        deployment_role_arn: cross-account, CloudFormation: the role CloudFormation uses there. Default: the CDK
            bootstrap CloudFormation execution role.
        bootstrap_qualifier: the qualifier of the target's CDK bootstrap. Default: ``"hnb659fds"``.
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

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with this target, naming it as ``argument``."""
        found: list[Problem] = []
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", self.name):
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
                    "approval alone is not a deployment): give commands=['npx cdk deploy --all --require-approval "
                    "never'] or cloudformation=CloudFormationDeployment(template_path=..., stack_name=...).",
                )
            )
        elif self.cloudformation is not None and self.commands:
            found.append(
                Problem(
                    f"{argument}.cloudformation",
                    _Shown(f"{type(self.cloudformation).__name__}(...) together with commands"),
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
        if self.approval is not None:
            if isinstance(self.approval, ApprovalOptions):
                found.extend(self.approval.problems(f"{argument}.approval"))
            else:
                found.append(wrong_type(f"{argument}.approval", self.approval, "ApprovalOptions", "ApprovalOptions()"))
        if self.rollback_on_failure and self.retry_failed_actions:
            found.append(
                Problem(
                    f"{argument}.retry_failed_actions",
                    True,
                    "A stage either rolls back or retries on failure: set rollback_on_failure=False to retry.",
                )
            )
        alarms: object = self.alarms
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
        if not isinstance(self.bake_time, Duration) or (
            not self.bake_time.is_unresolved()
            and not (
                60 <= self.bake_time.to_seconds(integral=False) <= 86400
                and self.bake_time.to_seconds(integral=False) % 60 == 0
            )
        ):
            found.append(
                Problem(
                    f"{argument}.bake_time",
                    _duration_shown(self.bake_time),
                    "Give whole minutes from Duration.minutes(1) to 1 day.",
                )
            )
        return found


@dataclass(frozen=True)
class _Shown:
    """A value shown in a problem as written (``repr`` of a dataclass holding Durations is unreadable)."""

    text: str

    def __repr__(self) -> str:
        return self.text


def _duration_shown(value: object) -> object:
    return _Shown(value.to_human_string()) if isinstance(value, Duration) else value


def _target_shown(target: DeployTarget) -> _Shown:
    return _Shown(f"DeployTarget(name={target.name!r}, ...)")


@dataclass(frozen=True)
class DeployStage:
    """What the pipeline built for one ``DeployTarget``: read-only, for wiring alarms, permissions and the like."""

    name: str
    """The target's name; the stage is ``Deploy<name>``."""
    approval: actions.ManualApprovalAction | None
    """The manual approval in front of the deployment, in the stage ``Approve<name>``; None without one."""
    resources: StageResources
    """The CodeBuild project that verifies the artifact (and, for ``commands``, deploys it), its role and log group."""
    actions: tuple[codepipeline.IAction, ...]
    """The actions of the stage ``Deploy<name>``, in run order."""


def add_deploy_stage(context: StageContext, target: DeployTarget, default_environment: BuildEnvironment) -> DeployStage:
    """Add ``Approve<name>`` (when asked) and ``Deploy<name>``: verify the manifest, then deploy."""
    approval = add_approval_stage(context, target.name, target.approval) if target.approval is not None else None
    stack = Stack.of(context.scope)
    cross_account = target.account is not None and target.account != stack.account
    environment = target.build_environment or default_environment
    project: VerifiedProject | VerifyOnlyProject
    if target.commands:
        project = VerifiedProject(
            context.scope,
            f"Deploy{target.name}Stage",
            stage=f"Deploy{target.name}",
            options=StageOptions(commands=list(target.commands), build_environment=environment),
            artifact_key=context.artifact_key,
            log_key=context.log_key,
            log_retention_days=context.log_retention_days,
            artifact_buckets=context.artifact_buckets,
        )
        if cross_account:
            # `cdk deploy` assumes the target's bootstrap roles, which trust this account after `cdk bootstrap --trust`.
            kinds = ("deploy", "file-publishing", "image-publishing", "lookup")
            project.project.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["sts:AssumeRole"], resources=[_bootstrap_role_arn(context, target, k) for k in kinds]
                )
            )
    else:
        project = VerifyOnlyProject(
            context.scope,
            f"Deploy{target.name}Stage",
            stage=f"Deploy{target.name}",
            environment=environment,
            artifact_key=context.artifact_key,
            log_key=context.log_key,
            log_retention_days=context.log_retention_days,
            artifact_buckets=context.artifact_buckets,
        )
    # Verification runs first in every deployment; for commands it is the same project that deploys.
    stage_actions: list[codepipeline.IAction] = [
        actions.CodeBuildAction(
            action_name="Deploy" if target.commands else "Verify",
            project=project.project,
            input=context.validated_artifact,
            run_order=1,
        )
    ]
    if target.cloudformation is not None:
        stage_actions += _change_set_actions(context, target, target.cloudformation, cross_account)
    context.pipeline.add_stage(
        stage_name=f"Deploy{target.name}",
        actions=stage_actions,
        on_failure=codepipeline.FailureConditions(result=codepipeline.Result.ROLLBACK)
        if target.rollback_on_failure
        else (retry_failed_actions() if target.retry_failed_actions else None),
        on_success=_watch_alarms(context, target),
    )
    return DeployStage(name=target.name, approval=approval, resources=project.resources, actions=tuple(stage_actions))


def _change_set_actions(
    context: StageContext, target: DeployTarget, deployment: CloudFormationDeployment, cross_account: bool
) -> list[codepipeline.IAction]:
    """Create, then execute, a change set of the template in the validated artifact."""
    action_role = deployment_role = None
    if cross_account:
        action_role = iam.Role.from_role_arn(
            context.scope,
            f"Deploy{target.name}ActionRole",
            target.action_role_arn or _bootstrap_role_arn(context, target, "deploy"),
            mutable=False,
        )
        deployment_role = iam.Role.from_role_arn(
            context.scope,
            f"Deploy{target.name}DeploymentRole",
            target.deployment_role_arn or _bootstrap_role_arn(context, target, "cfn-exec"),
            mutable=False,
        )
        _share_artifacts_with(context, action_role.role_arn)
    change_set = f"{deployment.stack_name}-validated"
    return [
        actions.CloudFormationCreateReplaceChangeSetAction(
            action_name="CreateChangeSet",
            stack_name=deployment.stack_name,
            change_set_name=change_set,
            template_path=context.validated_artifact.at_path(deployment.template_path),
            parameter_overrides=dict(deployment.parameters),
            cfn_capabilities=list(deployment.capabilities),
            admin_permissions=False,
            account=target.account,
            role=action_role,
            deployment_role=deployment_role,
            run_order=2,
        ),
        actions.CloudFormationExecuteChangeSetAction(
            action_name="ExecuteChangeSet",
            stack_name=deployment.stack_name,
            change_set_name=change_set,
            account=target.account,
            role=action_role,
            run_order=3,
        ),
    ]


def _watch_alarms(context: StageContext, target: DeployTarget) -> codepipeline.Conditions | None:
    """Roll the stage back when one of the target's alarms goes off within its bake time after deploying."""
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


def _share_artifacts_with(context: StageContext, role_arn: str) -> None:
    """Let a role in a target account read artifacts: the artifact bucket's and key's policies name it."""
    principal = iam.ArnPrincipal(role_arn)
    bucket = context.artifact_bucket
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[principal],
            actions=["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketLocation", "s3:ListBucket"],
            resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
        )
    )
    context.artifact_key.add_to_resource_policy(
        iam.PolicyStatement(principals=[principal], actions=["kms:Decrypt", "kms:DescribeKey"], resources=["*"])
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


def deploy_targets_problems(
    deploy: Sequence[DeployTarget],
    execution_mode: codepipeline.ExecutionMode,
    pipeline_region: str,
    pipeline_account: str | None = None,
) -> list[Problem]:
    """Problems with the list of targets as a whole, and with each target in this pipeline."""
    if isinstance(deploy, DeployTarget):
        return [
            Problem(
                "deploy",
                _target_shown(deploy),
                f"Pass a list of targets, even for one: deploy=[DeployTarget(name={deploy.name!r}, ...)].",
            )
        ]
    if isinstance(deploy, str) or not isinstance(deploy, Sequence):
        return [
            wrong_type("deploy", deploy, "a list of DeployTarget", "[DeployTarget(name='Staging', commands=[...])]")
        ]
    found: list[Problem] = []
    names: set[str] = set()
    for index, target in enumerate(deploy):
        argument = f"deploy[{index}]"
        if not isinstance(target, DeployTarget):
            found.append(wrong_type(argument, target, "a DeployTarget", "DeployTarget(name='Staging', commands=[...])"))
            continue
        found.extend(target.problems(argument))
        if target.name in names:
            found.append(Problem(f"{argument}.name", target.name, "Each target needs its own name."))
        names.add(target.name)
        if target.rollback_on_failure and execution_mode == codepipeline.ExecutionMode.PARALLEL:
            found.append(
                Problem(
                    f"{argument}.rollback_on_failure",
                    True,
                    "CodePipeline cannot roll back stages in PARALLEL execution mode: use QUEUED (the default) or "
                    "set rollback_on_failure=False.",
                )
            )
        watched = target.alarms if isinstance(target.alarms, Sequence) else ()
        if watched and execution_mode == codepipeline.ExecutionMode.PARALLEL:
            found.append(
                Problem(
                    f"{argument}.alarms",
                    f"{len(watched)} alarm(s)",
                    "An alarm in ALARM rolls the stage back, which CodePipeline cannot do in PARALLEL execution mode: "
                    "use QUEUED (the default) or leave alarms out.",
                )
            )
        found.extend(_account_problems(argument, target, pipeline_account))
        if target.region is not None and not unresolved(target.region) and target.region != pipeline_region:
            found.append(
                Problem(
                    f"{argument}.region",
                    target.region,
                    "Deploying to another Region than the pipeline's is not supported yet: deploy from a pipeline "
                    "in that Region, or leave region out. (An environment-agnostic stack has no Region to compare.)",
                )
            )
    return found


def _account_problems(argument: str, target: DeployTarget, pipeline_account: str | None) -> list[Problem]:
    """A target given an account needs the pipeline's own account to be known, to tell whether it is another one."""
    account: object = target.account
    if account is None or unresolved(account) or pipeline_account is None or not unresolved(pipeline_account):
        return []
    return [
        Problem(
            f"{argument}.account",
            account,
            "The pipeline's stack has no explicit account, so a target in another account cannot be reached "
            "(its bootstrap roles and the artifact store's policies name both accounts): give the stack "
            "env=cdk.Environment(account='111111111111', region='eu-west-1'), or leave account out to deploy to "
            "the pipeline's own account.",
        )
    ]
