"""Waves: several targets deployed at once, in one stage, after one optional approval."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codepipeline as codepipeline

from ..build_environment import BuildEnvironment
from ..errors import Problem, Shown, wrong_type
from ._context import StageContext
from .approval import ApprovalOptions, add_approval_stage
from .deploy import (
    TARGET_NAME,
    DeployStage,
    DeployTarget,
    add_settled_stage,
    deploy_action,
    package_named,
    region_of,
    settling_problems,
    warn_about_execution_role,
)

MAX_WAVE_TARGETS = 50
"""The most actions CodePipeline runs in one stage: one per target of a wave."""
_DEFAULT_BAKE_SECONDS = 30 * 60


@dataclass(frozen=True, kw_only=True)
class DeployWave:
    """Targets deployed at once: one optional approval before the wave, then every target in parallel in the one
    stage ``Deploy<name>``, each as an action named after the target (a failure names it, and fails the wave).

    The wave settles as a whole: it rolls back (or retries) and watches its alarms as one stage. So its targets
    leave ``approval``, ``alarms``, ``bake_time``, ``retry_failed_actions`` and ``rollback_on_failure`` at their
    defaults; a CloudFormation target plans and executes its change set in one build (nobody reviews it in between).

    Args:
        name: the wave's name; the stages are ``Approve<name>`` and ``Deploy<name>``.
        targets: the targets deployed together (50 at most), in any Region and account.
        approval: a manual approval before the wave. Default: none.
        rollback_on_failure: on a failed target, roll the whole stage back to the last successful execution's
            artifacts. Default: True.
        retry_failed_actions: retry the failed targets automatically instead. Not with ``rollback_on_failure``.
            Default: False.
        alarms: CloudWatch alarms (in the pipeline's account and Region) watched for ``bake_time`` after the wave;
            one in ALARM rolls the wave back. Default: none.
        bake_time: how long ``alarms`` are watched. Default: 30 minutes.
    """

    name: str
    targets: Sequence[DeployTarget]
    approval: ApprovalOptions | None = None
    rollback_on_failure: bool = True
    retry_failed_actions: bool = False
    alarms: Sequence[cloudwatch.IAlarm] = ()
    bake_time: Duration = field(default_factory=lambda: Duration.minutes(30))

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with this wave, naming it as ``argument``; its targets are checked with it."""
        found: list[Problem] = []
        if not isinstance(self.name, str) or not TARGET_NAME.fullmatch(self.name):
            found.append(Problem(f"{argument}.name", self.name, "Use letters, digits, '_' or '-', e.g. 'Production'."))
        if self.approval is not None and not isinstance(self.approval, ApprovalOptions):
            found.append(wrong_type(f"{argument}.approval", self.approval, "ApprovalOptions", "ApprovalOptions()"))
        elif self.approval is not None:
            found.extend(self.approval.problems(f"{argument}.approval"))
        found.extend(settling_problems(argument, self))
        targets: object = self.targets
        example = "[DeployTarget(name='ProdUS', commands=[...]), DeployTarget(name='ProdEU', region='eu-west-1', ...)]"
        if isinstance(targets, (str, DeployTarget)) or not isinstance(targets, Sequence):
            return [*found, wrong_type(f"{argument}.targets", targets, "a list of DeployTarget", example)]
        if not targets or len(targets) > MAX_WAVE_TARGETS:
            found.append(
                Problem(
                    f"{argument}.targets",
                    f"{len(targets)} targets",
                    f"Give 1 to {MAX_WAVE_TARGETS} targets (CodePipeline runs at most {MAX_WAVE_TARGETS} actions in "
                    "one stage); split a larger fleet into several waves.",
                )
            )
        for index, target in enumerate(targets):
            where = f"{argument}.targets[{index}]"
            if not isinstance(target, DeployTarget):
                found.append(wrong_type(where, target, "a DeployTarget", "DeployTarget(name='ProdUS', commands=[...])"))
            else:
                found.extend(_target_in_wave_problems(where, target, self.name))
        return found


def _target_in_wave_problems(argument: str, target: DeployTarget, wave: str) -> list[Problem]:
    """A target's own problems, and what it cannot set inside a wave (the wave decides it for all its targets)."""
    found = target.problems(argument)
    decided = [
        ("approval", target.approval, target.approval is not None, "approval=ApprovalOptions(...)"),
        ("alarms", Shown(f"{len(target.alarms)} alarm(s)"), bool(target.alarms), "alarms=[...]"),
        ("retry_failed_actions", True, target.retry_failed_actions is True, "retry_failed_actions=True"),
        ("rollback_on_failure", False, target.rollback_on_failure is False, "rollback_on_failure=False"),
        (
            "bake_time",
            Shown(target.bake_time.to_human_string()) if isinstance(target.bake_time, Duration) else target.bake_time,
            isinstance(target.bake_time, Duration)
            and not target.bake_time.is_unresolved()
            and target.bake_time.to_seconds(integral=False) != _DEFAULT_BAKE_SECONDS,
            "bake_time=Duration.minutes(...)",
        ),
    ]
    found.extend(
        Problem(
            f"{argument}.{name}",
            value,
            f"Target {target.name!r} is deployed in the wave {wave!r}, which settles as one stage: give the wave "
            f"{setting} (DeployWave(name={wave!r}, ..., {setting})) and leave it out of the target.",
        )
        for name, value, given, setting in decided
        if given
    )
    return found


def add_deploy_wave(
    context: StageContext, wave: DeployWave, default_environment: BuildEnvironment
) -> tuple[DeployStage, ...]:
    """Add ``Approve<wave>`` (when asked) and ``Deploy<wave>``, whose actions (one per target, named after it) all
    start together; return what each target got, in the order given."""
    approval = (
        add_approval_stage(context, wave.name, wave.approval, package_named(context))
        if wave.approval is not None
        else None
    )
    built: list[DeployStage] = []
    stage_actions: list[codepipeline.IAction] = []
    for target in wave.targets:
        warn_about_execution_role(context, target)
        environment = target.build_environment or default_environment
        project, action = deploy_action(context, target, environment, target.name)
        stage_actions.append(action)
        built.append(DeployStage(target.name, approval, project.resources, (action,), region_of(context, target)))
    add_settled_stage(context, wave, f"Deploy{wave.name}", stage_actions)
    return tuple(built)
