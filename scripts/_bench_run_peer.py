"""Peer (c) of ``scripts.bench_run``: every command of the synthesized buildspecs, run directly.

For each CodeBuild action a default ``s3vp run`` builds (up to the first approval, deployments skipped), every
command of its buildspec's phases (install, pre_build, build, post_build, each phase's ``finally`` after its
commands; as synthesized, the library's own commands included) runs in its own ``bash -e -c``, in that order. One
bash per command because that is how the runner runs them (``codebuild.Build._command``): both sides start the
same processes, so (a) / (c) is the runner's own machinery alone. (One bash per phase, as CodeBuild's single shell
session, would save a few bash start-ups, about 1 ms each, and carry ``cd`` and variables the runner does not.)
The phases' on-failure rules are not emulated: every command must succeed, or the bench stops.

Each build starts, as the run's build does, from a fresh copy of its input artifact as an untimed reference run in
this process left it (the Test stage: the Validate stage's ``Validated`` folder), or from an EMPTY folder when the
input is the package zip (the Validate stage's buildspec downloads, checks and extracts the package itself; the
runner's unpacking of the source artifact, which that buildspec deletes first, counts as the run's own overhead).
All of it is prepared before the clock starts. The environment is the runner's own, by ``runner.LocalRun``:
PATH with the stand-in ``aws`` it writes (serving the checker asset and the package as the run's version id),
HOME, TMPDIR, LANG, ``CODEBUILD_*``, the action's variables (``SOURCE_*``, ``CHECKER_*``, with the Source action's
``#{SourceVariables.VersionId}`` substituted), the buildspec's ``env.variables``; ``WORK_DIR`` (``/tmp/s3vp``) is
replaced in every command by the build's own scratch folder, as ``codebuild.Build`` does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from s3_validated_pipeline._buildspec import WORK_DIR
from s3_validated_pipeline.cli._local import runner
from s3_validated_pipeline.cli._local.assembly import Action, Pipeline, Stage
from s3_validated_pipeline.cli._local.codebuild import PHASES, SAFE_PATH


@dataclass(frozen=True)
class PeerBuild:
    """One build of (c), ready to time: its folder, environment and commands (``WORK_DIR`` already replaced)."""

    stage: str
    src: Path
    env: dict[str, str]
    commands: tuple[str, ...]


@contextmanager
def environ(env: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` is exactly ``env`` inside, as for the ``s3vp run`` subprocess of (a); restored after."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def builds_run(pipeline: Pipeline) -> list[tuple[Stage, Action]]:
    """The CodeBuild actions a default ``s3vp run`` builds: up to the first approval, deployments skipped."""
    found: list[tuple[Stage, Action]] = []
    for stage in pipeline.stages:
        if any(action.category == "Approval" for action in stage.actions):
            break
        found += [
            (stage, action)
            for action in stage.actions
            if action.provider == "CodeBuild" and not runner.is_deploy(stage, action) and action.buildspec is not None
        ]
    return found


def buildspec_commands(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """Every command of the buildspec's phases, in the order the runner runs them when all succeed."""
    phases = spec.get("phases", {})
    return tuple(
        command for name in PHASES for key in ("commands", "finally") for command in phases.get(name, {}).get(key, [])
    )


def reference_run(pipeline: Pipeline, package: Path, folder: Path, caller: Mapping[str, str]) -> runner.LocalRun:
    """One local run in this process (not timed): each (c) build's folder is copied from its artifacts."""
    with environ(caller):
        run = runner.LocalRun(pipeline, package, folder, runner.RunOptions())
        outcomes = run.run()
    failed = [outcome.name for outcome in outcomes if outcome.state == runner.FAILED]
    if failed:
        raise SystemExit(f"the reference run failed at {failed[0]}: see {folder / 'logs'}")
    return run


def prepare(
    pipeline: Pipeline, package: Path, reference: runner.LocalRun, folder: Path, caller: Mapping[str, str]
) -> list[PeerBuild]:
    """Each (c) build's fresh folder, environment and commands, under ``folder``: what the clock does not count.

    ``caller`` is the environment ``s3vp run`` gets in (a); ``runner.LocalRun`` writes the stand-in ``aws`` (and
    ``home``, ``tmp``) under ``folder`` and gives each build its environment, as in a run.
    """
    with environ(caller):
        local = runner.LocalRun(pipeline, package, folder, runner.RunOptions())
        # The reference run's execution and signing key: a later build verifies that the provenance it copies is of
        # its own execution and signed by the key its stand-in aws verifies with.
        local.execution_id = reference.execution_id
        local._namespaces["codepipeline"]["PipelineExecutionId"] = reference.execution_id
        shutil.copyfile(reference.signing_key, local.signing_key)
        shutil.copyfile(reference.public_key, local.public_key)
        for stage in pipeline.stages:
            for action in stage.actions:
                if action.category == "Source":
                    local._source(action)  # its namespace: the package's version id, for SOURCE_OBJECT_VERSION_ID
        builds: list[PeerBuild] = []
        for index, (stage, action) in enumerate(builds_run(pipeline), start=1):
            assert action.buildspec is not None
            src, scratch = folder / "builds" / f"{index:02d}" / "src", folder / "builds" / f"{index:02d}" / "scratch"
            if not SAFE_PATH.fullmatch(str(scratch)) or len(action.inputs) > 1:
                raise SystemExit(f"{stage.name}: (c) needs one input artifact and a plain scratch path ({scratch})")
            artifact = reference.artifacts.get(action.inputs[0]) if action.inputs else None
            if action.inputs and artifact is None:
                raise SystemExit(f"{stage.name}: the reference run produced no {action.inputs[0]}")
            if artifact is not None and artifact.is_dir():
                shutil.copytree(artifact, src, symlinks=True)
            else:  # no input, or the package zip: the buildspec fetches and extracts the package itself
                src.mkdir(parents=True)
            warnings: list[str] = []
            env = local._build_env(action, src, warnings)
            if warnings:
                raise SystemExit(f"{stage.name}: {'; '.join(warnings)}")
            env.update({k: str(v) for k, v in action.buildspec.get("env", {}).get("variables", {}).items()})
            commands = tuple(c.replace(WORK_DIR, str(scratch)) for c in buildspec_commands(action.buildspec))
            builds.append(PeerBuild(stage.name, src, env, commands))
    return builds
