"""The validate stage's CodeBuild project: required files, the user's commands, diagnostics and a manifest."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from aws_cdk import Annotations, CfnResource, Duration, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from . import _buildspec
from ._compliance import acknowledge
from ._logs import encrypted_log_group, retention_problems
from .build_environment import BuildEnvironment
from .errors import Problem, raise_if_any, unresolved, wrong_type

RETIRED_ENVIRONMENT_WARNING = "s3-validated-pipeline:retiredBuildEnvironment"


@dataclass(frozen=True, kw_only=True)
class ValidationOptions:
    """What the validate stage runs on every uploaded package.

    Args:
        commands: shell commands run in the package's root, in order; any failure fails the execution.
        required_files: paths or globs (``**`` crosses folders) relative to the zip's root, each of which must
            match a file before the commands run. A failure lists every one missing. Default: none.
        build_environment: the managed image and runtimes. Default: ``BuildEnvironment.UBUNTU_20_04_NODE_16``,
            the design document's environment, which is retired and so adds a warning; prefer
            ``BuildEnvironment.UBUNTU_22_04_NODE_22``.
        timeout: how long one build may run before CodeBuild stops it. Default: 60 minutes.
    """

    commands: Sequence[str]
    required_files: Sequence[str] = ()
    build_environment: BuildEnvironment = BuildEnvironment.UBUNTU_20_04_NODE_16
    timeout: Duration = field(default_factory=lambda: Duration.minutes(60))

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found: list[Problem] = []
        if isinstance(self.commands, str) or not isinstance(self.commands, Sequence):
            found.append(Problem(f"{argument}.commands", self.commands, "Pass a list of commands, e.g. ['npm ci']."))
        elif not self.commands:
            found.append(
                Problem(
                    f"{argument}.commands",
                    self.commands,
                    "Give at least one shell command that validates the package, e.g. ['npm ci', 'npm test'].",
                )
            )
        else:
            found.extend(
                wrong_type(f"{argument}.commands[{index}]", command, "a str (one shell command)", "'npm test'")
                for index, command in enumerate(self.commands)
                if not isinstance(command, str)
            )
            if any(isinstance(c, str) and not unresolved(c) and not c.strip() for c in self.commands):
                found.append(
                    Problem(
                        f"{argument}.commands",
                        self.commands,
                        "Remove the empty command(s): each must run something.",
                    )
                )
        if isinstance(self.required_files, str) or not isinstance(self.required_files, Sequence):
            found.append(
                Problem(
                    f"{argument}.required_files",
                    self.required_files,
                    "Pass a list of paths, e.g. ['package.json'].",
                )
            )
        else:
            found.extend(_required_file_problems(f"{argument}.required_files", self.required_files))
        environment: object = self.build_environment
        if isinstance(environment, BuildEnvironment):
            found.extend(environment.problems(f"{argument}.build_environment"))
        else:
            image = environment if isinstance(environment, str) else "aws/codebuild/standard:7.0"
            found.append(
                wrong_type(
                    f"{argument}.build_environment",
                    environment,
                    "a BuildEnvironment",
                    f"BuildEnvironment.UBUNTU_22_04_NODE_22, or BuildEnvironment(image={image!r})",
                )
            )
        if not isinstance(self.timeout, Duration):
            found.append(wrong_type(f"{argument}.timeout", self.timeout, "a Duration", "Duration.minutes(60)"))
        elif not self.timeout.is_unresolved() and not 5 <= self.timeout.to_minutes() <= 2160:
            found.append(
                Problem(
                    f"{argument}.timeout",
                    self.timeout.to_human_string(),
                    "CodeBuild allows 5 minutes to 36 hours; pass e.g. Duration.minutes(60).",
                )
            )
        return found


def _required_file_problems(argument: str, patterns: Sequence[str]) -> list[Problem]:
    found = []
    for index, pattern in enumerate(patterns):
        if unresolved(pattern):
            continue
        where = f"{argument}[{index}]"
        if not isinstance(pattern, str):
            found.append(wrong_type(where, pattern, "a str", "'package.json'"))
        elif not pattern.strip():
            found.append(Problem(where, pattern, "Name a file relative to the zip's root, e.g. 'package.json'."))
        elif pattern.startswith("/") or "\\" in pattern:
            found.append(
                Problem(
                    where,
                    pattern,
                    "Use a path relative to the zip's root with '/' separators, e.g. 'src/index.ts'.",
                )
            )
        elif ".." in pattern.split("/") or posixpath.normpath(pattern).startswith(".."):
            found.append(Problem(where, pattern, "Remove '..': required files must lie inside the package."))
    return found


class ValidationProject(Construct):
    """Define the CodeBuild project that validates an uploaded package and packages it with a SHA-256 manifest.

    Its buildspec, in order: installs the environment's runtimes; fails listing every missing required file;
    runs the commands; writes ``MANIFEST.sha256`` (every output file's SHA-256); and prints diagnostics (OS,
    tool versions, the source object version) even when validation failed. Logs go to a KMS-encrypted log group.

    Args:
        options: what to run. See ``ValidationOptions``.
        artifact_key: the key of the pipeline's artifact store; the project encrypts its output with it.
        log_key: the key for the build log group; it must let CloudWatch Logs use it.
        log_retention_days: how long the build logs are kept. Default: 365.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: ValidationOptions,
        artifact_key: kms.IKey,
        log_key: kms.IKey,
        log_retention_days: int = 365,
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(options, ValidationOptions):
            raise_if_any(
                [wrong_type("options", options, "ValidationOptions", "ValidationOptions(commands=['npm ci'])")]
            )
        raise_if_any([*options.problems("options"), *retention_problems("log_retention_days", log_retention_days)])
        environment = options.build_environment
        if environment.retired_because:
            Annotations.of(self).add_warning_v2(
                RETIRED_ENVIRONMENT_WARNING,
                f"The validate stage runs on {environment.image} with {dict(environment.runtime_versions)}: "
                f"{environment.retired_because}. Switch with "
                "ValidationOptions(build_environment=BuildEnvironment.UBUNTU_22_04_NODE_22, ...), "
                "or acknowledge this warning to keep the design document's environment.",
            )

        self.log_group: logs.LogGroup = encrypted_log_group(
            self, "Logs", key=log_key, retention_days=log_retention_days
        )
        self.project: codebuild.PipelineProject = codebuild.PipelineProject(
            self,
            "Project",
            description="Checks, validates and packages one uploaded package (s3-validated-pipeline).",
            build_spec=codebuild.BuildSpec.from_object(
                _buildspec.validation_buildspec(
                    commands=options.commands,
                    required_files=options.required_files,
                    runtime_versions=environment.runtime_versions,
                )
            ),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.from_code_build_image_id(environment.image),
                compute_type=environment.compute_type,
                privileged=False,
            ),
            encryption_key=artifact_key,
            logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.log_group)),
            timeout=options.timeout,
            grant_report_group_permissions=False,
        )
        self.role: iam.IRole = self.project.role  # type: ignore[assignment]  # always set: the project made it
        project_id = Stack.of(self).get_logical_id(cast(CfnResource, self.project.node.default_child))
        acknowledge(
            self.project,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
            f"/aws/codebuild/<{project_id}>:*]",
            "CDK always lets a project write to its default log group (/aws/codebuild/ and the project name), "
            "whose streams have generated names; builds log to the dedicated encrypted log group instead.",
        )
        for pack in ("HIPAA.Security", "PCI.DSS.321"):
            acknowledge(
                self.project,
                f"{pack}-CodeBuildProjectSourceRepoUrl",
                "The project's source is the pipeline's encrypted artifact (type CODEPIPELINE), not a GitHub or "
                "Bitbucket repository, so there is no repository URL or OAuth connection to check.",
            )
