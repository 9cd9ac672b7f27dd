"""What the validate stage runs on every upload, and the limits of its package check."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_cdk import Duration

from .._inputs import (
    bool_problems,
    build_timeout_problems,
    commands_problems,
    environment_problems,
    glob_list_problems,
    positive_whole_problems,
)
from ..build_environment import DEFAULT_ENVIRONMENT, BuildEnvironment
from ..build_network import BuildNetwork, network_problems
from ..check import DEFAULT_LIMITS
from ..errors import Problem, wrong_type

VALIDATE_TIMEOUT_MINUTES = 20
"""The validate stage's default timeout. A package's install scripts and build decide how long Validate runs, and in
``QUEUED`` mode each later upload waits behind it: 20 minutes is several times what installing, linting and building
a typical application takes, and a third of CodeBuild's own default (60), which let one hung package hold the queue
for an hour."""


@dataclass(frozen=True, kw_only=True)
class PackageCheckOptions:
    """Limits and rules of the package check, which reads the uploaded zip itself before anything runs.

    Every rule is always on; these settings tune the ones with a threshold, and say which paths the forbidden-file
    and credentials rules skip. See docs/package-check.md.

    Args:
        max_package_bytes: the largest zip file, in bytes. The validate stage and Attest read the uploaded version's
            size from S3 (HeadObject) and refuse a larger one before downloading it; the check refuses it too.
            Default: 1 GiB.
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

    max_package_bytes: int = DEFAULT_LIMITS.max_package_bytes
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
            "max_package_bytes",
            "max_entries",
            "max_total_bytes",
            "max_compression_ratio",
            "max_name_bytes",
            "max_segment_bytes",
            "max_depth",
        ):
            found.extend(
                positive_whole_problems(f"{argument}.{name}", getattr(self, name), "Give a positive whole number.")
            )
        found.extend(bool_problems(f"{argument}.allow_nested_archives", self.allow_nested_archives))
        found.extend(glob_list_problems(f"{argument}.forbidden_files", self.forbidden_files, "['*.sql']", negate=True))
        found.extend(glob_list_problems(f"{argument}.ignore", self.ignore, "['node_modules']"))
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
            ("--max-package-bytes", self.max_package_bytes, DEFAULT_LIMITS.max_package_bytes),
            ("--max-name-bytes", self.max_name_bytes, DEFAULT_LIMITS.max_name_bytes),
            ("--max-segment-bytes", self.max_segment_bytes, DEFAULT_LIMITS.max_segment_bytes),
            ("--max-depth", self.max_depth, DEFAULT_LIMITS.max_depth),
        ):
            if value != default:  # only what differs, so existing pipelines' buildspecs stay as they are
                arguments.append(f"{flag} {value}")
        return arguments


@dataclass(frozen=True, kw_only=True)
class ValidationOptions:
    """What the validate stage runs on every uploaded package.

    Args:
        commands: shell commands run in the package's root, in order; any failure fails the execution.
        required_files: paths or globs (``**`` crosses folders) relative to the zip's root, each of which must
            match a file before the commands run. A failure lists every one missing. Default: none.
        build_environment: the managed image and runtimes. Default: ``BuildEnvironment.UBUNTU_22_04_NODE_22``.
        timeout: how long one build may run before CodeBuild stops it. Default: 20 minutes: the package's own
            code decides how long Validate runs, and in ``QUEUED`` mode every later upload waits behind it.
        package_check: limits of the package check. Default: ``PackageCheckOptions()``.
        build_network: the VPC, subnets and security groups the validate stage (and its Attest action) runs in.
            Default: the pipeline's ``build_network``; without one, CodeBuild's own network (open outbound access).
    """

    commands: Sequence[str]
    required_files: Sequence[str] = ()
    build_environment: BuildEnvironment = DEFAULT_ENVIRONMENT
    timeout: Duration = field(default_factory=lambda: Duration.minutes(VALIDATE_TIMEOUT_MINUTES))
    package_check: PackageCheckOptions = field(default_factory=PackageCheckOptions)
    build_network: BuildNetwork | None = None

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found = [
            *commands_problems(f"{argument}.commands", self.commands),
            *glob_list_problems(f"{argument}.required_files", self.required_files, "['package.json']"),
            *environment_problems(f"{argument}.build_environment", self.build_environment),
            *build_timeout_problems(f"{argument}.timeout", self.timeout),
            *network_problems(f"{argument}.build_network", self.build_network),
        ]
        if isinstance(self.package_check, PackageCheckOptions):
            found.extend(self.package_check.problems(f"{argument}.package_check"))
        else:
            example = "PackageCheckOptions(max_entries=20_000)"
            found.append(wrong_type(f"{argument}.package_check", self.package_check, "PackageCheckOptions", example))
        return found
