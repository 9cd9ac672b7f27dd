"""The pipeline's ``deploy=[...]`` as a whole: targets and waves in order, their names, and where they deploy."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from aws_cdk import aws_codepipeline as codepipeline

from ..build_environment import BuildEnvironment
from ..errors import Problem, Shown, unresolved, wrong_type
from ._context import StageContext
from .deploy import DeployStage, DeployTarget, add_deploy_stage
from .wave import DeployWave, add_deploy_wave

REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
"""A Region code, e.g. ``eu-west-1`` or ``us-gov-west-1``."""
_EXAMPLE = "[DeployTarget(name='Staging', commands=[...]), DeployWave(name='Production', targets=[...])]"


def targets_of(deploy: Sequence[DeployTarget | DeployWave]) -> Iterator[DeployTarget]:
    """Every target, those of waves included, in order."""
    for item in deploy:
        yield from (item.targets if isinstance(item, DeployWave) else (item,))


def add_deploy_stages(
    context: StageContext, deploy: Sequence[DeployTarget | DeployWave], default_environment: BuildEnvironment
) -> list[DeployStage]:
    """Add each target's (or wave's) approval and deployment, in order; return every target's stage."""
    built: list[DeployStage] = []
    for item in deploy:
        if isinstance(item, DeployWave):
            built += add_deploy_wave(context, item, default_environment)
        else:
            built.append(add_deploy_stage(context, item, default_environment))
    return built


def other_regions(deploy: Sequence[DeployTarget | DeployWave], pipeline_region: str) -> list[str]:
    """The Regions other than the pipeline's that targets deploy in, in the order they first appear."""
    regions = (target.region for target in targets_of(deploy))
    return list(dict.fromkeys(r for r in regions if r is not None and not unresolved(r) and r != pipeline_region))


def deploy_problems(
    deploy: Sequence[DeployTarget | DeployWave],
    execution_mode: codepipeline.ExecutionMode,
    pipeline_region: str,
    pipeline_account: str | None = None,
    *,
    on_foundation: bool = False,
    build_network: object = None,
) -> list[Problem]:
    """Problems with the list of targets and waves as a whole, and with each of them in this pipeline (whose
    ``build_network`` a target inherits)."""
    if isinstance(deploy, (DeployTarget, DeployWave)):
        kind = type(deploy).__name__
        return [
            Problem(
                "deploy",
                Shown(f"{kind}(name={deploy.name!r}, ...)"),
                f"Pass a list of targets, even for one: deploy=[{kind}(name={deploy.name!r}, ...)].",
            )
        ]
    if isinstance(deploy, str) or not isinstance(deploy, Sequence):
        return [wrong_type("deploy", deploy, "a list of DeployTarget or DeployWave", _EXAMPLE)]
    found: list[Problem] = []
    names: set[str] = set()
    for index, item in enumerate(deploy):
        argument = f"deploy[{index}]"
        if not isinstance(item, (DeployTarget, DeployWave)):
            found.append(wrong_type(argument, item, "a DeployTarget or a DeployWave", _EXAMPLE))
            continue
        found.extend(item.problems(argument))
        found.extend(_mode_problems(argument, item, execution_mode))
        found.extend(_name_problems(argument, item.name, names))
        members = [(argument, item)] if isinstance(item, DeployTarget) else _wave_members(argument, item)
        for where, target in members:
            if isinstance(item, DeployWave):
                found.extend(_name_problems(where, target.name, names))
            found.extend(_account_problems(where, target, pipeline_account))
            region_problems = _region_problems(where, target, pipeline_region, pipeline_account, on_foundation)
            found.extend(region_problems or _network_region_problems(where, target, pipeline_region, build_network))
    return found


def _wave_members(argument: str, wave: DeployWave) -> list[tuple[str, DeployTarget]]:
    targets: object = wave.targets
    if isinstance(targets, str) or not isinstance(targets, Sequence):
        return []  # the wave's own problems say so
    return [(f"{argument}.targets[{i}]", t) for i, t in enumerate(targets) if isinstance(t, DeployTarget)]


def _name_problems(argument: str, name: object, names: set[str]) -> list[Problem]:
    if not isinstance(name, str):
        return []
    if name in names:
        return [
            Problem(
                f"{argument}.name",
                name,
                "Each target and wave needs its own name (it names their stages and actions).",
            )
        ]
    names.add(name)
    return []


def _mode_problems(
    argument: str, settled: DeployTarget | DeployWave, execution_mode: codepipeline.ExecutionMode
) -> list[Problem]:
    if execution_mode != codepipeline.ExecutionMode.PARALLEL:
        return []
    found = []
    if settled.rollback_on_failure:
        found.append(
            Problem(
                f"{argument}.rollback_on_failure",
                True,
                "CodePipeline cannot roll back stages in PARALLEL execution mode: use QUEUED (the default) or "
                "set rollback_on_failure=False.",
            )
        )
    watched = settled.alarms if isinstance(settled.alarms, Sequence) else ()
    if watched:
        found.append(
            Problem(
                f"{argument}.alarms",
                f"{len(watched)} alarm(s)",
                "An alarm in ALARM rolls the stage back, which CodePipeline cannot do in PARALLEL execution mode: "
                "use QUEUED (the default) or leave alarms out.",
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


def _network_region_problems(
    argument: str, target: DeployTarget, pipeline_region: str, pipeline_network: object
) -> list[Problem]:
    """A VPC is in one Region: a target built in another cannot use the pipeline's, and the library makes the other
    Region's stack, so the target cannot name one there either."""
    region: object = target.region
    network = target.build_network if target.build_network is not None else pipeline_network
    if network is None or region is None or unresolved(region) or region == pipeline_region:
        return []
    which = "its build_network" if target.build_network is not None else "the pipeline's build_network"
    return [
        Problem(
            f"{argument}.region",
            region,
            f"This target's builds run in {region}, and {which} is a VPC of {pipeline_region}: builds in another "
            "Region cannot run in a VPC yet. Fix: deploy to this Region from a pipeline of its own there, or leave "
            "build_network out of this pipeline and target.",
        )
    ]


def _region_problems(
    argument: str, target: DeployTarget, pipeline_region: str, pipeline_account: str | None, on_foundation: bool
) -> list[Problem]:
    """Another Region needs an artifact store there, which needs the pipeline's stack to name its own environment."""
    region: object = target.region
    if region is None or unresolved(region) or region == pipeline_region:
        return []
    if not isinstance(region, str) or not REGION.fullmatch(region):
        return [Problem(f"{argument}.region", region, "Give a Region code such as 'eu-west-1', or None.")]
    if unresolved(pipeline_region) or pipeline_account is None or unresolved(pipeline_account):
        return [
            Problem(
                f"{argument}.region",
                region,
                "Deploying to another Region needs an explicit environment on the pipeline's stack: it has "
                f"{'no Region' if unresolved(pipeline_region) else 'no account'} (it is environment-agnostic), so "
                "no artifact store can be made in that Region. Fix: give the pipeline's stack "
                f"env=cdk.Environment(account='111111111111', region='us-east-1'), keeping region={region!r}; or "
                "leave region out to deploy in the pipeline's Region.",
            )
        ]
    if on_foundation:
        return [
            Problem(
                f"{argument}.region",
                region,
                f"A pipeline on a PipelineFoundation uses the foundation's one artifact store, in {pipeline_region}, "
                f"and the foundation has none in {region}. Fix: deploy to {region} from a pipeline without "
                "foundation= (it keeps its own store in each Region), or from a foundation in that Region; or leave "
                "region out.",
            )
        ]
    return []
