"""A CodeBuild project for any stage after validation: it verifies the manifest before it runs anything."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from . import _buildspec
from ._build_project import new_build_project
from ._logs import retention_problems
from .build_environment import BuildEnvironment
from .errors import Problem, raise_if_any, wrong_type


@dataclass(frozen=True, kw_only=True)
class StageOptions:
    """What a stage after validation runs on the validated artifact.

    Args:
        commands: shell commands run in the artifact's root after its manifest is verified; any failure fails
            the execution.
        build_environment: the managed image and runtimes. Default: ``BuildEnvironment.UBUNTU_22_04_NODE_22``.
        timeout: how long one build may run. Default: 60 minutes.
    """

    commands: Sequence[str]
    build_environment: BuildEnvironment = BuildEnvironment.UBUNTU_22_04_NODE_22
    timeout: Duration = field(default_factory=lambda: Duration.minutes(60))

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found: list[Problem] = []
        commands: object = self.commands
        if isinstance(commands, str) or not isinstance(commands, Sequence) or not commands:
            found.append(Problem(f"{argument}.commands", commands, "Give a list of at least one command."))
        elif not all(isinstance(c, str) and c.strip() for c in commands):
            found.append(Problem(f"{argument}.commands", commands, "Every command must be a non-empty str."))
        if isinstance(self.build_environment, BuildEnvironment):
            found.extend(self.build_environment.problems(f"{argument}.build_environment"))
        else:
            example = "BuildEnvironment.UBUNTU_22_04_NODE_22"
            found.append(
                wrong_type(f"{argument}.build_environment", self.build_environment, "BuildEnvironment", example)
            )
        if not isinstance(self.timeout, Duration):
            found.append(wrong_type(f"{argument}.timeout", self.timeout, "a Duration", "Duration.minutes(60)"))
        return found


class VerifiedProject(Construct):
    """Define a CodeBuild project that verifies the validated artifact's manifest, then runs ``options.commands``.

    Verification downloads the package checker, checks its pinned SHA-256, and fails naming every file that was
    changed, added or removed since the validate stage wrote the manifest. Use it for any stage after validation.

    Args:
        stage: the stage's name, for descriptions and warnings.
        options: what to run. See ``StageOptions``.
        artifact_key: the key of the pipeline's artifact store.
        log_key: the key for the build log group; it must let CloudWatch Logs use it.
        log_retention_days: how long the build logs are kept. Default: 365.
        reports: the buildspec's ``reports`` section, for test stages. Default: none.
        artifact_files: files the stage keeps as its output artifact. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stage: str,
        options: StageOptions,
        artifact_key: kms.IKey,
        log_key: kms.IKey,
        log_retention_days: int = 365,
        reports: Mapping[str, Any] | None = None,
        artifact_files: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(options, StageOptions):
            raise_if_any([wrong_type("options", options, "StageOptions", "StageOptions(commands=['npm test'])")])
        raise_if_any([*options.problems("options"), *retention_problems("log_retention_days", log_retention_days)])
        self.project, self.log_group = new_build_project(
            self,
            stage=stage,
            description=f"Verifies the validated artifact, then runs the {stage} stage (s3-validated-pipeline).",
            buildspec=_buildspec.verified_buildspec(
                commands=options.commands,
                runtime_versions=options.build_environment.runtime_versions,
                reports=reports,
                artifact_files=artifact_files,
            ),
            environment=options.build_environment,
            timeout=options.timeout,
            artifact_key=artifact_key,
            log_key=log_key,
            log_retention_days=log_retention_days,
        )
        self.role: iam.IRole = self.project.role  # type: ignore[assignment]  # always set: the project made it
