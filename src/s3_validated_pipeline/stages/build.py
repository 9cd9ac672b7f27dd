"""A stage after validation: a CodeBuild project that verifies the manifest, then runs the stage's commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import CfnResource, Duration
from aws_cdk import aws_kms as kms
from constructs import Construct

from .. import _buildspec
from .._build_project import StageConstruct, StageResources, new_build_project
from .._inputs import build_timeout_problems, commands_problems, environment_problems
from .._logs import retention_problems
from ..build_environment import DEFAULT_ENVIRONMENT, BuildEnvironment
from ..build_network import BuildNetwork, network_problems
from ..errors import Problem, raise_if_any, wrong_type


@dataclass(frozen=True, kw_only=True)
class StageOptions:
    """What a stage after validation runs on the validated artifact.

    Args:
        commands: shell commands run in the artifact's root after its manifest is verified; any failure fails
            the execution.
        build_environment: the managed image and runtimes. Default: ``BuildEnvironment.UBUNTU_22_04_NODE_22``,
            whatever the validate stage runs on.
        timeout: how long one build may run. Default: 60 minutes.
        build_network: the VPC, subnets and security groups the stage runs in. Default: the pipeline's
            ``build_network``; without one, CodeBuild's own network (open outbound access).
    """

    commands: Sequence[str]
    build_environment: BuildEnvironment = DEFAULT_ENVIRONMENT
    timeout: Duration = field(default_factory=lambda: Duration.minutes(60))
    build_network: BuildNetwork | None = None

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        return [
            *commands_problems(f"{argument}.commands", self.commands),
            *environment_problems(f"{argument}.build_environment", self.build_environment),
            *build_timeout_problems(f"{argument}.timeout", self.timeout),
            *network_problems(f"{argument}.build_network", self.build_network),
        ]


class VerifiedProject(StageConstruct):
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
        exported_variables: environment variables its actions export to the pipeline. Default: none.
        artifact_buckets: the pipeline's artifact bucket(s), whose objects CDK grants the project access to; the
            grant's wildcard is acknowledged for cdk-nag. A bucket of another stack is given as its ARN's text in
            cdk-nag's findings (see ``acknowledge_cdk_grants``). Default: none.
        signing_key_region: the Region of the pipeline's signing key, for a project in another Region. Default: the
            project's own.
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
        artifact_buckets: Sequence[CfnResource | str] = (),
        exported_variables: Sequence[str] = (),
        signing_key_region: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(options, StageOptions):
            raise_if_any([wrong_type("options", options, "StageOptions", "StageOptions(commands=['npm test'])")])
        raise_if_any([*options.problems("options"), *retention_problems("log_retention_days", log_retention_days)])
        self.resources = _verified_project(
            self,
            stage=stage,
            commands=options.commands,
            environment=options.build_environment,
            timeout=options.timeout,
            network=options.build_network,
            artifact_key=artifact_key,
            log_key=log_key,
            log_retention_days=log_retention_days,
            reports=reports,
            artifact_files=artifact_files,
            artifact_buckets=artifact_buckets,
            exported_variables=exported_variables,
            signing_key_region=signing_key_region,
        )


def _verified_project(
    scope: Construct,
    *,
    stage: str,
    commands: Sequence[str],
    environment: BuildEnvironment,
    timeout: Duration,
    network: BuildNetwork | None,
    artifact_key: kms.IKey,
    log_key: kms.IKey,
    log_retention_days: int,
    reports: Mapping[str, Any] | None = None,
    artifact_files: Sequence[str] = (),
    artifact_buckets: Sequence[CfnResource | str] = (),
    exported_variables: Sequence[str] = (),
    signing_key_region: str | None = None,
) -> StageResources:
    what = f"then runs the {stage} stage" if commands else f"for the {stage} stage"
    return new_build_project(
        scope,
        stage=stage,
        description=f"Verifies the validated artifact, {what} (s3-validated-pipeline).",
        buildspec=_buildspec.verified_buildspec(
            commands=commands,
            runtime_versions=environment.runtime_versions,
            reports=reports,
            artifact_files=artifact_files,
            exported_variables=exported_variables,
            signing_key_region=signing_key_region,
        ),
        environment=environment,
        timeout=timeout,
        artifact_key=artifact_key,
        log_key=log_key,
        log_retention_days=log_retention_days,
        artifact_buckets=artifact_buckets,
        network=network,
    )
