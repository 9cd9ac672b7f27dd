"""Run a synthesized pipeline's stages on this machine, in pipeline order, as CodePipeline and CodeBuild would.

The run folder holds everything a run writes: ``bin/aws`` (the stand-in), ``home/`` and ``tmp/`` (the builds'
``HOME`` and ``TMPDIR``), ``builds/NN-Stage-Action/`` (each build's ``src`` and its ``scratch`` folder standing in
for ``/tmp/s3vp``), ``artifacts/NAME/`` (each output artifact), ``logs/`` and ``reports/``, and the run's signing key
(``signing-key.pem``, made for this run only: the stand-in ``aws`` signs the provenance with it) and its public key
(``signing-key.pub.pem``, for ``s3vp verify``). With the CodeBuild local agent (``RunOptions.agent``, ``s3vp run
--docker``), each build runs in its project's image instead (see ``agent``): ``docker/s3vp_local/`` holds the
container's stand-in and ``builds/NN-Stage-Action/agent/`` what the agent was given.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import check as checker
from ..._buildspec import PROVENANCE_VARIABLES
from . import aws as stand_in
from .agent import SERVE_ID, Agent, AgentBuild, agent_variables, write_serve_folder
from .assembly import PSEUDO, Action, AssemblyError, Pipeline, Stage, find_asset
from .codebuild import Build, output_files, report_files, runtime_warnings

SUCCEEDED, FAILED, SKIPPED, STOPPED, APPROVED, NOT_RUN = (
    "Succeeded", "Failed", "Skipped", "Stopped", "Approved", "Didn't run"
)  # fmt: skip
_FINDING = re.compile(r"^\s+\[([a-z0-9-]+)\] (.*)$")
_VARIABLE = re.compile(r"#\{([\w-]+)\.([\w-]+)\}")
_COMMAND_FAILED = (
    "Command did not exit successfully {} exit status ",
    "Error while executing command: {}. Reason: exit status ",
)
"""How a build log reports a failed command: the agent's (and the emulation's) line, then its phase context line."""
_, _SIGNING_KEY_VARIABLE = PROVENANCE_VARIABLES
IN_VPC = "the project runs in a VPC (its VpcConfig); this run ignores it: the build has this machine's network"
"""The note of a build whose project runs in a VPC: a local run cannot give it the VPC's routes and endpoints."""


@dataclass
class ActionOutcome:
    """How one action went, and where to read more."""

    name: str
    state: str
    seconds: float = 0.0
    detail: str = ""
    """Why it was skipped or stopped, and what it would run."""
    log: str | None = None
    failed_command: str | None = None
    """The buildspec command that failed the build, as written; None when the build log names none."""
    exit_code: int | None = None
    """The failed build's exit code (of ``failed_command`` when named)."""
    findings: list[str] = field(default_factory=list)
    """The package check's (or the manifest verification's) findings, when they failed the build."""
    warnings: list[str] = field(default_factory=list)
    reports: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class StageOutcome:
    name: str
    state: str
    seconds: float = 0.0
    actions: list[ActionOutcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "seconds": round(self.seconds, 3),
            "actions": [action.__dict__ | {"seconds": round(action.seconds, 3)} for action in self.actions],
        }


@dataclass(frozen=True)
class RunOptions:
    until: str | None = None
    approve: bool = False
    allow_aws: bool = False
    timeout: float = 3600.0
    """Longest a single command may take, in seconds (with ``agent``, a whole build)."""
    agent: Agent | None = None
    """Run each build in its project's image through the CodeBuild local agent (``--docker``); None: on this machine."""


def is_deploy(stage: Stage, action: Action) -> bool:
    """A deployment: a Deploy-category action (CloudFormation, S3, ...), or any action of a stage named Deploy*."""
    return action.category == "Deploy" or stage.name.startswith("Deploy")


_COMMAND_WIDTH = 100


def short_command(command: str) -> str:
    """A buildspec command on one line: its first line, cut to ``_COMMAND_WIDTH``, and how many lines follow."""
    first, *rest = command.strip().splitlines() or [""]
    more = f" (+{len(rest)} more lines)" if rest else ""
    if len(first) + len(more) > _COMMAND_WIDTH:
        first = first[: _COMMAND_WIDTH - len(more) - 1] + "…"
    return first + more


def would_run(action: Action) -> str:
    """What a skipped action would do, in one line (each command by its first line)."""
    if action.buildspec is not None:
        commands = action.buildspec.get("phases", {}).get("build", {}).get("commands", [])
        shown = "; ".join(short_command(command) for command in commands)
        return "would run: " + (shown or "the manifest verification only")
    configuration = {k: v for k, v in action.configuration.items() if isinstance(v, str | int | bool)}
    return f"would run {action.provider} {json.dumps(configuration, sort_keys=True)}"


def _state(actions: list[ActionOutcome]) -> str:
    states = [action.state for action in actions]
    for state in (FAILED, STOPPED, SUCCEEDED, APPROVED):
        if state in states:
            return state
    return states[0] if states else SKIPPED


def _safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text)


def builds_to_run(pipeline: Pipeline, until: str | None) -> list[Action]:
    """The CodeBuild actions a run without ``--allow-aws`` would build, up to ``until``."""
    actions: list[Action] = []
    for stage in pipeline.stages:
        actions += [
            action
            for action in stage.actions
            if action.provider == "CodeBuild" and action.category not in ("Source", "Approval")
            and not is_deploy(stage, action)
        ]  # fmt: skip
        if stage.name == until:
            break
    return actions


class LocalRun:
    """One local execution of ``pipeline`` on the package zip ``package``, writing only under ``folder``."""

    pipeline: Pipeline
    """The pipeline run."""
    package: Path
    """The package zip, served as the source object's version ``version_id``."""
    folder: Path
    """The run folder: everything the run writes is in it."""
    options: RunOptions
    """How far to go, and what to allow."""
    version_id: str
    """The made-up S3 version id of the package in this run."""
    execution_id: str
    """The made-up execution id of this run (``#{codepipeline.PipelineExecutionId}``)."""
    signing_key: Path
    """The run's own signing key (PEM), which the stand-in ``aws`` signs with for every key the pipeline names."""
    public_key: Path
    """Its public key (PEM), to check the provenance with ``s3vp verify --public-key``."""
    artifacts: dict[str, Path]
    """Each artifact produced so far, by name: the package zip for the source, a folder for a build's output."""

    def __init__(
        self,
        pipeline: Pipeline,
        package: Path,
        folder: Path,
        options: RunOptions,
        *,
        on_stage: Callable[[str, StageOutcome | None], None] = lambda name, outcome: None,
        after_stage: Callable[[str, Mapping[str, Path]], None] | None = None,
    ) -> None:
        self.pipeline, self.package, self.folder, self.options = pipeline, package, folder, options
        self._on_stage, self._after_stage = on_stage, after_stage
        self.version_id = "local." + secrets.token_hex(12)
        self.execution_id = f"local-{uuid.uuid4()}"
        self.artifacts: dict[str, Path] = {}
        self._namespaces: dict[str, dict[str, str]] = {"codepipeline": {"PipelineExecutionId": self.execution_id}}
        self._count = 0
        for name in ("bin", "home", "tmp", "builds", "artifacts", "logs", "reports"):
            (folder / name).mkdir(parents=True, exist_ok=True)
        self.signing_key, self.public_key = folder / "signing-key.pem", folder / "signing-key.pub.pem"
        private, public = stand_in.new_key_pair()
        self.signing_key.touch(mode=0o600)
        self.signing_key.write_text(private, encoding="ascii")
        self.public_key.write_text(public, encoding="ascii")
        self._write_stand_in()
        if options.agent is not None:
            write_serve_folder(self._objects(), self._keys(), folder / "docker" / SERVE_ID)

    # --- the stand-in aws -----------------------------------------------------------------------------------------

    def _objects(self) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        for stage in self.pipeline.stages:
            for action in stage.actions:
                variables = action.variables
                if {"CHECKER_BUCKET", "CHECKER_KEY"} <= set(variables):
                    path = find_asset(self.pipeline, variables["CHECKER_KEY"])
                    objects.append(
                        {"bucket": variables["CHECKER_BUCKET"], "key": variables["CHECKER_KEY"], "path": str(path)}
                    )
                if action.category == "Source" and action.provider == "S3":
                    bucket, key = action.configuration.get("S3Bucket"), action.configuration.get("S3ObjectKey")
                    objects.append(
                        {"bucket": bucket, "key": key, "version_id": self.version_id, "path": str(self.package)}
                    )
        return objects

    def _keys(self) -> list[dict[str, str]]:
        """The run's key, served as each signing key the pipeline's actions name (the one key of the pipeline)."""
        actions = [action for stage in self.pipeline.stages for action in stage.actions]
        named = sorted({a.variables[_SIGNING_KEY_VARIABLE] for a in actions if _SIGNING_KEY_VARIABLE in a.variables})
        return [{"key_id": key_id, "private_key": str(self.signing_key)} for key_id in named]

    def _write_stand_in(self) -> None:
        real = None
        if self.options.allow_aws:
            ours = str(self.folder / "bin")
            path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != ours)
            real = shutil.which("aws", path=path)
        config = self.folder / "bin" / "aws-config.json"
        settings = {"objects": self._objects(), "keys": self._keys(), "real_aws": real}
        config.write_text(json.dumps(settings, indent=2), encoding="utf-8")
        wrapper = self.folder / "bin" / "aws"
        command = shlex.join([sys.executable, "-I", str(Path(stand_in.__file__).resolve()), str(config)])
        wrapper.write_text(f'#!/bin/sh\nexec {command} "$@"\n', encoding="utf-8")
        wrapper.chmod(0o755)

    # --- environment ----------------------------------------------------------------------------------------------

    def _base_env(self) -> dict[str, str]:
        env = {
            "PATH": f"{self.folder / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "HOME": str(self.folder / "home"),
            "TMPDIR": str(self.folder / "tmp"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
        }
        if self.options.allow_aws:
            env.update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})
            home = Path.home() / ".aws"
            env.setdefault("AWS_CONFIG_FILE", str(home / "config"))
            env.setdefault("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        return env

    def _substitute(self, value: str, warnings: list[str]) -> str:
        def replace(match: re.Match[str]) -> str:
            found = self._namespaces.get(match.group(1), {}).get(match.group(2))
            if found is None:
                warnings.append(f"pipeline variable {match.group(0)} is unknown in a local run; passed as written")
                return match.group(0)
            return found

        return _VARIABLE.sub(replace, value)

    def _build_identity(self, action: Action) -> dict[str, str]:
        """What CodeBuild tells a build about itself and who started it: the provenance records it."""
        build_id = f"local-{(action.project or action.name).lower()}:{uuid.uuid4()}"
        region, account = PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
        return {
            "CODEBUILD_BUILD_ID": build_id,
            "CODEBUILD_BUILD_ARN": f"arn:aws:codebuild:{region}:{account}:build/{build_id}",
            "CODEBUILD_START_TIME": str(int(time.time() * 1000)),
            "CODEBUILD_INITIATOR": f"codepipeline/{self.pipeline.name}",
        }

    def _build_env(self, action: Action, src: Path, warnings: list[str]) -> dict[str, str]:
        env = self._base_env()
        env.update({name: self._substitute(value, warnings) for name, value in action.variables.items()})
        env.update(
            {
                **self._build_identity(action),
                "CODEBUILD_SRC_DIR": str(src),
                "CODEBUILD_BUILD_NUMBER": "1",
                "CODEBUILD_BUILD_IMAGE": f"this machine (the template asks for {action.image})",
                "CODEBUILD_CI": "true",
                "CODEBUILD_BUILD_SUCCEEDING": "1",
            }
        )
        return env

    # --- artifacts ------------------------------------------------------------------------------------------------

    def _materialize(self, name: str, target: Path, log: Any) -> None:
        artifact = self.artifacts.get(name)
        if artifact is None:
            raise AssemblyError(f"input artifact {name} was not produced by an earlier stage")
        if artifact.is_dir():
            shutil.copytree(artifact, target, symlinks=True)
            return
        # CodeBuild unpacks the source zip with its own extractor; here the checker does, only when it accepts it.
        report = checker.check_package(artifact, extract_to=target)
        target.mkdir(parents=True, exist_ok=True)
        if not report.accepted:
            log.write(f"[Local] The source artifact {name} is not unpacked: the package check rejects it.\n")

    # --- actions --------------------------------------------------------------------------------------------------

    def _source(self, action: Action) -> ActionOutcome:
        for name in action.outputs:
            self.artifacts[name] = self.package
        digest = hashlib.md5(self.package.read_bytes(), usedforsecurity=False).hexdigest()
        if action.namespace:
            self._namespaces[action.namespace] = {"VersionId": self.version_id, "ETag": digest}
        detail = f"{self.package.name}, as version {self.version_id} of s3://{action.configuration.get('S3Bucket')}/"
        return ActionOutcome(action.name, SUCCEEDED, detail=detail + str(action.configuration.get("S3ObjectKey")))

    def _build(self, stage: Stage, action: Action) -> ActionOutcome:
        assert action.buildspec is not None
        self._count += 1
        label = f"{self._count:02d}-{_safe_name(stage.name)}-{_safe_name(action.name)}"
        root = self.folder / "builds" / label
        src, scratch, log_path = root / "src", root / "scratch", self.folder / "logs" / f"{label}.log"
        outcome = ActionOutcome(action.name, FAILED, log=str(log_path))
        agent = self.options.agent
        if action.in_vpc:
            outcome.warnings.append(IN_VPC)
        if agent is None:
            env = self._build_env(action, src, outcome.warnings)
            outcome.warnings.extend(runtime_warnings(action.buildspec, env["PATH"]))
        else:
            variables = {k: self._substitute(v, outcome.warnings) for k, v in action.variables.items()}
            identity = self._build_identity(action)
            del identity["CODEBUILD_BUILD_ID"]  # the agent sets its own
            env = agent_variables({**variables, **identity})
        secondary = {SERVE_ID: self.folder / "docker" / SERVE_ID}
        with log_path.open("w", encoding="utf-8") as log:
            primary = action.configuration.get("PrimarySource") or (action.inputs[0] if action.inputs else None)
            if primary:
                self._materialize(primary, src, log)
            else:
                src.mkdir(parents=True)
            for name in action.inputs:
                if name != primary:
                    self._materialize(name, root / f"src_{name}", log)
                    secondary[name] = root / f"src_{name}"
                    if agent is None:  # the agent sets CODEBUILD_SRC_DIR_<name> for each secondary source itself
                        env[f"CODEBUILD_SRC_DIR_{name}"] = str(root / f"src_{name}")
            for warning in outcome.warnings:
                log.write(f"[Local] Warning: {warning}\n")
            if agent is None:
                result = Build(src, scratch, env, log, self.options.timeout).run(action.buildspec)
            else:
                build = AgentBuild(agent, action.image or "", root, src, secondary, env, log)
                result = build.run(action.buildspec, self.options.timeout)
        outcome.seconds = result.seconds
        outcome.reports = report_files(action.buildspec, src, self.folder / "reports" / label)
        if not result.succeeded:
            outcome.exit_code = result.returncode
            outcome.detail = f"the {result.failed_phase} phase failed (exit code {result.returncode})"
            text = log_path.read_text(encoding="utf-8", errors="replace")
            phase = action.buildspec.get("phases", {}).get(result.failed_phase, {})
            outcome.failed_command = failed_command(text, phase.get("commands", []))
            if outcome.failed_command is None and result.failed_phase != "agent":
                outcome.detail += "; its log names no failing command"
            outcome.findings = _findings(log_path)
            return outcome
        for name in action.outputs:
            self.artifacts[name] = self.folder / "artifacts" / name
            output_files(action.buildspec, src, self.artifacts[name])
        outcome.state = SUCCEEDED
        return outcome

    def _action(self, stage: Stage, action: Action, explicit_until: bool) -> ActionOutcome:
        if action.category == "Source":
            return self._source(action)
        if action.category == "Approval":
            if self.options.approve:
                return ActionOutcome(action.name, APPROVED, detail="approved by --approve")
            return ActionOutcome(action.name, STOPPED, detail="a manual approval: pass --approve to go on")
        if action.region is not None:
            # Its project is in another Region's stack, on that Region's copy of the artifact: never run here.
            what = "deployment" if is_deploy(stage, action) else "not run locally"
            return ActionOutcome(action.name, SKIPPED, detail=f"{what} in {action.region}, {would_run(action)}")
        if is_deploy(stage, action):
            if self.options.allow_aws and explicit_until and action.buildspec is not None:
                return self._build(stage, action)
            return ActionOutcome(action.name, SKIPPED, detail=f"deployment, {would_run(action)}")
        if action.provider == "CodeBuild":
            return self._build(stage, action)
        return ActionOutcome(action.name, SKIPPED, detail=f"not run locally: {would_run(action)}")

    def run(self) -> list[StageOutcome]:
        """Run every stage in order until one fails or stops, or past ``until``; the rest did not run."""
        outcomes: list[StageOutcome] = []
        names = [stage.name for stage in self.pipeline.stages]
        last = names.index(self.options.until) if self.options.until else len(names) - 1
        ended = False
        for index, stage in enumerate(self.pipeline.stages):
            if ended or index > last:
                outcomes.append(StageOutcome(stage.name, NOT_RUN))
                continue
            self._on_stage(stage.name, None)
            started = time.monotonic()
            outcome = StageOutcome(stage.name, SUCCEEDED)
            for action in stage.actions:
                outcome.actions.append(self._action(stage, action, self.options.until is not None))
                if outcome.actions[-1].state in (FAILED, STOPPED):
                    break
            outcome.state, outcome.seconds = _state(outcome.actions), time.monotonic() - started
            outcomes.append(outcome)
            self._on_stage(stage.name, outcome)
            ended = outcome.state in (FAILED, STOPPED)
            if self._after_stage is not None and not ended:
                self._after_stage(stage.name, dict(self.artifacts))
        return outcomes


def failed_command(log: str, commands: Sequence[str]) -> str | None:
    """The first of ``commands`` that ``log`` reports failing, as CodeBuild (and the local emulation) words it."""
    found: list[tuple[int, str]] = []
    for command in commands:
        places = [log.find(text.format(command)) for text in _COMMAND_FAILED]
        found += [(place, command) for place in places if place >= 0]
    return min(found)[1] if found else None


def _findings(log: Path) -> list[str]:
    """The ``  [rule] message`` lines of the checker (package check or manifest verification) in a build log."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return [f"[{m.group(1)}] {m.group(2)}" for m in map(_FINDING.match, lines) if m is not None]
