"""Managed CodeBuild environments the pipeline's stages run in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from aws_cdk import aws_codebuild as codebuild

from .errors import Problem, unresolved, wrong_enum, wrong_type

MANAGED_IMAGE_PREFIX = "aws/codebuild/"
"""How the ids of CodeBuild-managed images start."""


@dataclass(frozen=True, kw_only=True)
class BuildEnvironment:
    """A managed CodeBuild image and the runtimes its buildspec installs.

    Pick a preset (``BuildEnvironment.UBUNTU_22_04_NODE_22``) or describe your own managed image.

    Args:
        image: a CodeBuild-managed image id, e.g. ``"aws/codebuild/standard:7.0"``. Any other image (such as
            ``"ubuntu:22.04"``) is accepted with the warning ``s3-validated-pipeline:customBuildImage``.
        runtime_versions: the buildspec's ``install.runtime-versions``, e.g. ``{"nodejs": "22"}``.
            Default: none, so the image's default runtimes are used.
        compute_type: the build's size. Default: ``ComputeType.SMALL`` (2 vCPU, 3 GB).
        retired_because: set on environments CodeBuild or the runtime's authors no longer maintain; using one
            adds the acknowledgeable warning ``s3-validated-pipeline:retiredBuildEnvironment``.
    """

    image: str
    runtime_versions: Mapping[str, str] = field(default_factory=dict)
    compute_type: codebuild.ComputeType = codebuild.ComputeType.SMALL
    retired_because: str | None = None

    UBUNTU_20_04_NODE_16: ClassVar[BuildEnvironment]
    """``aws/codebuild/standard:5.0`` (Ubuntu 20.04) with Node.js 16. Retired: using it adds a warning."""
    UBUNTU_22_04_NODE_22: ClassVar[BuildEnvironment]
    """``aws/codebuild/standard:7.0`` with Node.js 22, the current LTS that image offers. The default of every
    stage."""
    AMAZON_LINUX_2023_NODE_22: ClassVar[BuildEnvironment]
    """``aws/codebuild/amazonlinux-x86_64-standard:5.0`` with Node.js 22."""

    def __post_init__(self) -> None:
        # A read-only copy: the environment is shared by presets and must not change under a caller.
        if isinstance(self.runtime_versions, Mapping):
            object.__setattr__(self, "runtime_versions", MappingProxyType(dict(self.runtime_versions)))

    @property
    def managed(self) -> bool:
        """Whether the image is one CodeBuild manages (``aws/codebuild/...``); an unresolved token counts as one."""
        return unresolved(self.image) or self.image.startswith(MANAGED_IMAGE_PREFIX)

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with this environment, naming it as ``argument``."""
        found: list[Problem] = []
        image: object = self.image
        if not isinstance(image, str):
            found.append(wrong_type(f"{argument}.image", image, "a str", "'aws/codebuild/standard:7.0'"))
        elif not unresolved(image) and not image.strip():
            found.append(
                Problem(
                    f"{argument}.image",
                    image,
                    "Name a CodeBuild-managed image, e.g. 'aws/codebuild/standard:7.0', or use a preset "
                    "such as BuildEnvironment.UBUNTU_22_04_NODE_22.",
                )
            )
        runtimes: object = self.runtime_versions
        if not isinstance(runtimes, Mapping):
            found.append(wrong_type(f"{argument}.runtime_versions", runtimes, "a mapping", "{'nodejs': '22'}"))
            runtimes = {}
        for runtime, version in runtimes.items():
            if not all(isinstance(part, str) and part.strip() for part in (runtime, version)):
                found.append(
                    Problem(
                        f"{argument}.runtime_versions",
                        dict(self.runtime_versions),
                        "Every entry maps a runtime name to a version, both strings (as a number, 3.10 would be "
                        "3.1), e.g. {'nodejs': '22'}.",
                    )
                )
                break
        compute_type: object = self.compute_type
        if not isinstance(compute_type, codebuild.ComputeType):
            medium = codebuild.ComputeType.MEDIUM
            found.append(wrong_enum(f"{argument}.compute_type", compute_type, codebuild.ComputeType, medium))
        return found


BuildEnvironment.UBUNTU_20_04_NODE_16 = BuildEnvironment(
    image="aws/codebuild/standard:5.0",
    runtime_versions={"nodejs": "16"},
    retired_because=(
        "aws/codebuild/standard:5.0 (Ubuntu 20.04) is no longer maintained by CodeBuild and Node.js 16 "
        "reached end of life in September 2023, so builds get no security fixes; and current npm tooling needs "
        "Node.js 18 or newer (the aws-cdk CLI, for one, fails to start on Node.js 16)"
    ),
)
BuildEnvironment.UBUNTU_22_04_NODE_22 = BuildEnvironment(
    image="aws/codebuild/standard:7.0", runtime_versions={"nodejs": "22"}
)
BuildEnvironment.AMAZON_LINUX_2023_NODE_22 = BuildEnvironment(
    image="aws/codebuild/amazonlinux-x86_64-standard:5.0", runtime_versions={"nodejs": "22"}
)

DEFAULT_ENVIRONMENT = BuildEnvironment.UBUNTU_22_04_NODE_22
"""The environment of every stage (validate, test, deploy, ``StageOptions``) that names none of its own: a maintained
image whose Node.js runs current npm tooling. A stage's choice never changes another stage's."""
