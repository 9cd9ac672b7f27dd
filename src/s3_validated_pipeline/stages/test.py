"""The test stage: runs tests on the validated artifact; a failure blocks every deployment; reports are kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline

from .._inputs import (
    artifact_paths_problems,
    bool_problems,
    build_timeout_problems,
    commands_problems,
    environment_problems,
)
from ..build_environment import BuildEnvironment
from ..build_network import BuildNetwork, network_problems
from ..errors import Problem
from ._context import StageContext, retry_failed_actions
from .build import StageOptions, VerifiedProject

REPORT_FORMATS = ("JUNITXML", "CUCUMBERJSON", "NUNITXML", "NUNIT3XML", "TESTNGXML", "VISUALSTUDIOTRX")
"""The test report formats CodeBuild reads."""


@dataclass(frozen=True, kw_only=True)
class TestStageOptions:
    """Run tests on the validated artifact after verifying its manifest. Passing options turns the stage on.

    A failing command fails the execution before any deployment. Reports go to a CodeBuild report group (its
    exports KMS-encrypted in the artifact bucket) and are kept, with the stage's output, as the ``TestReports``
    artifact.

    Args:
        commands: shell commands run in the artifact's root, in order.
        report_files: test report files or globs relative to the artifact's root, e.g. ``["reports/*.xml"]``.
            Default: none (no report group).
        report_format: the reports' format, one of ``REPORT_FORMATS``. Default: ``"JUNITXML"``.
        build_environment: the managed image and runtimes. Default: ``BuildEnvironment.UBUNTU_22_04_NODE_22``,
            whatever the validate stage runs on.
        timeout: how long one test run may take. Default: 60 minutes.
        retry_failed_actions: retry the stage's failed action once automatically (for flaky tests).
            Default: False.
        build_network: the VPC, subnets and security groups the tests run in. Default: the pipeline's
            ``build_network``; without one, CodeBuild's own network (open outbound access).
    """

    __test__ = False  # not a pytest test class, despite its name

    commands: Sequence[str]
    report_files: Sequence[str] = ()
    report_format: str = "JUNITXML"
    build_environment: BuildEnvironment | None = None
    timeout: Duration = field(default_factory=lambda: Duration.minutes(60))
    retry_failed_actions: bool = False
    build_network: BuildNetwork | None = None

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found = [
            *commands_problems(f"{argument}.commands", self.commands),
            *artifact_paths_problems(f"{argument}.report_files", self.report_files, "reports/*.xml"),
            *environment_problems(f"{argument}.build_environment", self.build_environment, optional=True),
            *build_timeout_problems(f"{argument}.timeout", self.timeout),
            *bool_problems(f"{argument}.retry_failed_actions", self.retry_failed_actions),
            *network_problems(f"{argument}.build_network", self.build_network),
        ]
        if self.report_format not in REPORT_FORMATS:
            found.append(
                Problem(f"{argument}.report_format", self.report_format, f"Use one of {', '.join(REPORT_FORMATS)}.")
            )
        return found


@dataclass(frozen=True)
class TestStage:
    """What ``add_test_stage`` built."""

    __test__ = False

    project: VerifiedProject
    report_group: codebuild.ReportGroup | None


def add_test_stage(context: StageContext, test: TestStageOptions, default_environment: BuildEnvironment) -> TestStage:
    """Add the stage ``Test`` to the pipeline: verify the manifest, run the tests, keep their reports."""
    scope = context.scope
    reports: dict[str, Any] = {}
    report_group = None
    if test.report_files:
        report_group = codebuild.ReportGroup(
            scope,
            "TestReports",
            type=codebuild.ReportGroupType.TEST,
            export_bucket=context.artifact_bucket,  # exports encrypted with the artifact key
            zip_export=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        reports[report_group.report_group_arn] = {"files": list(test.report_files), "file-format": test.report_format}
    project = VerifiedProject(
        scope,
        "TestStage",
        stage="Test",
        options=StageOptions(
            commands=test.commands,
            build_environment=test.build_environment or default_environment,
            timeout=test.timeout,
            build_network=test.build_network or context.build_network,
        ),
        artifact_key=context.artifact_key,
        log_key=context.log_key,
        log_retention_days=context.log_retention_days,
        reports=reports,
        artifact_files=test.report_files,
        artifact_buckets=context.artifact_buckets,
    )
    outputs = []
    if report_group is not None:
        report_group.grant_write(project.project)
        outputs.append(codepipeline.Artifact("TestReports"))
    context.pipeline.add_stage(
        stage_name="Test",
        actions=[context.verified_action("Test", project.resources, outputs=outputs)],
        on_failure=retry_failed_actions() if test.retry_failed_actions else None,
    )
    return TestStage(project, report_group)
