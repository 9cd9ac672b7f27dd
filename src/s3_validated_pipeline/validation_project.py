"""The validate stage's CodeBuild project: the package check, the user's commands, diagnostics and a manifest."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from . import _buildspec
from ._build_project import new_build_project
from ._logs import retention_problems
from .build_environment import BuildEnvironment
from .check import DEFAULT_LIMITS, glob_problem
from .errors import Problem, raise_if_any, unresolved, wrong_type


@dataclass(frozen=True, kw_only=True)
class PackageCheckOptions:
    """Limits and rules of the package check, which reads the uploaded zip itself before anything runs.

    Every rule is always on; these settings tune the ones with a threshold, and say which paths the forbidden-file
    and credentials rules skip. See the README's "Package check".

    Args:
        max_entries: the most entries (files and folders) a package may hold. Default: 10,000.
        max_total_bytes: the most bytes all entries may hold uncompressed, counted as they are read. Default: 1 GiB.
        max_compression_ratio: the highest uncompressed / compressed ratio, per entry and overall. Default: 100.
        allow_nested_archives: accept archives (.zip, .tar, .gz, ...) inside the package. Default: False.
        forbidden_files: more names or globs to reject, besides the defaults (.env, private keys, *.pem, ...);
            ``!glob`` makes an exception. Default: none.
        ignore: globs of paths exempt from the forbidden-file and credentials rules, such as dependencies with test
            fixtures: ``["node_modules"]``. A glob without ``/`` matches a name at any depth, as in ``.gitignore``;
            a matching folder covers everything inside it. Ignored paths are still checked for structure, names,
            size and type. Default: none.
        max_name_bytes: the longest path, in UTF-8 bytes. Default: 1,024.
        max_segment_bytes: the longest file or folder name within a path, in UTF-8 bytes. Default: 255.
        max_depth: the most folders in a path. Default: 64.
    """

    max_entries: int = DEFAULT_LIMITS.max_entries
    max_total_bytes: int = DEFAULT_LIMITS.max_total_bytes
    max_compression_ratio: int = int(DEFAULT_LIMITS.max_compression_ratio)
    allow_nested_archives: bool = DEFAULT_LIMITS.allow_nested_archives
    forbidden_files: Sequence[str] = ()
    ignore: Sequence[str] = ()
    max_name_bytes: int = DEFAULT_LIMITS.max_name_bytes
    max_segment_bytes: int = DEFAULT_LIMITS.max_segment_bytes
    max_depth: int = DEFAULT_LIMITS.max_depth

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found: list[Problem] = []
        for name in (
            "max_entries",
            "max_total_bytes",
            "max_compression_ratio",
            "max_name_bytes",
            "max_segment_bytes",
            "max_depth",
        ):
            value: object = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                found.append(Problem(f"{argument}.{name}", value, "Give a positive whole number."))
        if not isinstance(self.allow_nested_archives, bool):
            found.append(wrong_type(f"{argument}.allow_nested_archives", self.allow_nested_archives, "a bool", "True"))
        found.extend(_glob_list_problems(f"{argument}.forbidden_files", self.forbidden_files, "['*.sql']", negate=True))
        found.extend(_glob_list_problems(f"{argument}.ignore", self.ignore, "['node_modules']"))
        return found

    def arguments(self) -> list[str]:
        """Return these settings as the checker's command-line options."""
        arguments = [
            f"--max-entries {self.max_entries}",
            f"--max-total-bytes {self.max_total_bytes}",
            f"--max-compression-ratio {self.max_compression_ratio}",
        ]
        if self.allow_nested_archives:
            arguments.append("--allow-nested-archives")
        arguments += [f"--forbid {shlex.quote(pattern)}" for pattern in self.forbidden_files]
        arguments += [f"--ignore {shlex.quote(pattern)}" for pattern in self.ignore]
        for flag, value, default in (
            ("--max-name-bytes", self.max_name_bytes, DEFAULT_LIMITS.max_name_bytes),
            ("--max-segment-bytes", self.max_segment_bytes, DEFAULT_LIMITS.max_segment_bytes),
            ("--max-depth", self.max_depth, DEFAULT_LIMITS.max_depth),
        ):
            if value != default:  # only what differs, so existing pipelines' buildspecs stay as they are
                arguments.append(f"{flag} {value}")
        return arguments


def _glob_list_problems(argument: str, patterns: object, example: str, *, negate: bool = False) -> list[Problem]:
    """Problems with a list of globs relative to the package root; ``negate`` allows a leading ``!``."""
    if isinstance(patterns, str) or not isinstance(patterns, Sequence):
        return [wrong_type(argument, patterns, "a list of str", example)]
    found = []
    for index, pattern in enumerate(patterns):
        if unresolved(pattern):
            continue
        if not isinstance(pattern, str):
            found.append(wrong_type(f"{argument}[{index}]", pattern, "a str", example.strip("[]")))
            continue
        text = pattern[1:] if negate and pattern.startswith("!") else pattern
        problem = glob_problem(text)
        if problem:
            found.append(Problem(f"{argument}[{index}]", pattern, f"The glob {problem}."))
    return found


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
        package_check: limits of the package check. Default: ``PackageCheckOptions()``.
    """

    commands: Sequence[str]
    required_files: Sequence[str] = ()
    build_environment: BuildEnvironment = BuildEnvironment.UBUNTU_20_04_NODE_16
    timeout: Duration = field(default_factory=lambda: Duration.minutes(60))
    package_check: PackageCheckOptions = field(default_factory=PackageCheckOptions)

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
            found.extend(_glob_list_problems(f"{argument}.required_files", self.required_files, "['package.json']"))
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
        if isinstance(self.package_check, PackageCheckOptions):
            found.extend(self.package_check.problems(f"{argument}.package_check"))
        else:
            example = "PackageCheckOptions(max_entries=20_000)"
            found.append(wrong_type(f"{argument}.package_check", self.package_check, "PackageCheckOptions", example))
        return found


class ValidationProject(Construct):
    """Define the CodeBuild project that checks, validates and records one uploaded package.

    Its buildspec, in order: installs the environment's runtimes; downloads the package checker and verifies the
    SHA-256 the template pins; downloads exactly the uploaded object version and checks it (structure, limits,
    required and forbidden files, credentials), failing before any command runs; runs the commands; writes
    ``.validated/package-check.json`` and ``.validated/manifest.json`` (the SHA-256 of every output file and of
    the source zip); and prints diagnostics (OS, tool versions, the object version) even when validation failed.
    Logs go to a KMS-encrypted log group.

    The pipeline's validate action sets ``SOURCE_BUCKET``, ``SOURCE_OBJECT_KEY`` and ``SOURCE_OBJECT_VERSION_ID``;
    call ``grant_source_read`` so the project may download that object.

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
            example = "ValidationOptions(commands=['npm ci'])"
            raise_if_any([wrong_type("options", options, "ValidationOptions", example)])
        raise_if_any([*options.problems("options"), *retention_problems("log_retention_days", log_retention_days)])
        environment = options.build_environment
        self.project, self.log_group = new_build_project(
            self,
            stage="validate",
            description="Checks, validates and records one uploaded package (s3-validated-pipeline).",
            buildspec=_buildspec.validation_buildspec(
                commands=options.commands,
                required_files=options.required_files,
                check_options=options.package_check.arguments(),
                runtime_versions=environment.runtime_versions,
            ),
            environment=environment,
            timeout=options.timeout,
            artifact_key=artifact_key,
            log_key=log_key,
            log_retention_days=log_retention_days,
        )
        self.role: iam.IRole = self.project.role  # type: ignore[assignment]  # always set: the project made it

    def grant_source_read(self, bucket: s3.IBucket, object_key: str) -> None:
        """Let the project download any version of ``object_key`` (decrypting it with the bucket's key)."""
        self.project.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[bucket.arn_for_objects(object_key)]
            )
        )
        if bucket.encryption_key is not None:
            bucket.encryption_key.grant(self.role, "kms:Decrypt")
