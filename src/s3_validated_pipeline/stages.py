"""Options for the stages after validation: tests, approvals and deployments to target environments."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import CfnCapabilities, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as codepipeline_actions
from aws_cdk import aws_sns as sns

from .build_environment import BuildEnvironment
from .errors import Problem, unresolved, wrong_type
from .verified_project import VerifiedProject

REPORT_FORMATS = ("JUNITXML", "CUCUMBERJSON", "NUNITXML", "NUNIT3XML", "TESTNGXML", "VISUALSTUDIOTRX")
"""The test report formats CodeBuild reads."""
MAX_ALARMS = 5
"""The most rules one CodePipeline stage condition holds: one per watched alarm."""


def _commands_problems(argument: str, commands: object) -> list[Problem]:
    if isinstance(commands, str) or not isinstance(commands, Sequence) or not commands:
        return [Problem(argument, commands, "Give a list of at least one shell command, e.g. ['npm test'].")]
    if not all(isinstance(c, str) and c.strip() for c in commands):
        return [Problem(argument, commands, "Every command must be a non-empty str.")]
    return []


def _environment_problems(argument: str, environment: object) -> list[Problem]:
    if environment is None:
        return []
    if not isinstance(environment, BuildEnvironment):
        return [
            wrong_type(argument, environment, "a BuildEnvironment or None", "BuildEnvironment.UBUNTU_22_04_NODE_22")
        ]
    return environment.problems(argument)


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
        build_environment: the managed image and runtimes. Default: the validate stage's.
        timeout: how long one test run may take. Default: 60 minutes.
        retry_failed_actions: retry the stage's failed action once automatically (for flaky tests).
            Default: False.
    """

    __test__ = False  # not a pytest test class, despite its name

    commands: Sequence[str]
    report_files: Sequence[str] = ()
    report_format: str = "JUNITXML"
    build_environment: BuildEnvironment | None = None
    timeout: Duration = field(default_factory=lambda: Duration.minutes(60))
    retry_failed_actions: bool = False

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found = _commands_problems(f"{argument}.commands", self.commands)
        files: object = self.report_files
        if isinstance(files, str) or not isinstance(files, Sequence):
            found.append(wrong_type(f"{argument}.report_files", files, "a list of str", "['reports/*.xml']"))
        elif any(not isinstance(f, str) or not f.strip() or f.startswith("/") or ".." in f.split("/") for f in files):
            found.append(
                Problem(
                    f"{argument}.report_files", files, "Use paths or globs inside the artifact, e.g. 'reports/*.xml'."
                )
            )
        if self.report_format not in REPORT_FORMATS:
            found.append(
                Problem(f"{argument}.report_format", self.report_format, f"Use one of {', '.join(REPORT_FORMATS)}.")
            )
        found.extend(_environment_problems(f"{argument}.build_environment", self.build_environment))
        if not isinstance(self.timeout, Duration):
            found.append(wrong_type(f"{argument}.timeout", self.timeout, "a Duration", "Duration.minutes(60)"))
        if not isinstance(self.retry_failed_actions, bool):
            found.append(wrong_type(f"{argument}.retry_failed_actions", self.retry_failed_actions, "a bool", "True"))
        return found


@dataclass(frozen=True, kw_only=True)
class ApprovalOptions:
    """A manual approval in front of a deployment. CodePipeline rejects an approval left open for 7 days.

    Args:
        topic: where approval requests are announced. Default: a new topic encrypted with the operations key.
        notify_emails: addresses subscribed to the created topic. Default: none.
        review_url: a link reviewers open, e.g. the staging environment. Default: none.
        comment: what reviewers should check. Default: a sentence naming the environment.
    """

    topic: sns.ITopic | None = None
    notify_emails: Sequence[str] = ()
    review_url: str | None = None
    comment: str | None = None

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found: list[Problem] = []
        emails: object = self.notify_emails
        if isinstance(emails, str) or not isinstance(emails, Sequence):
            found.append(wrong_type(f"{argument}.notify_emails", emails, "a list of str", "['ops@example.com']"))
        elif any(not isinstance(e, str) or (not unresolved(e) and "@" not in e) for e in emails):
            found.append(Problem(f"{argument}.notify_emails", emails, "Give email addresses, e.g. 'ops@example.com'."))
        if self.topic is not None and self.notify_emails:
            found.append(
                Problem(
                    f"{argument}.notify_emails",
                    self.notify_emails,
                    "Emails are subscribed to the topic the construct creates; subscribe them to your own topic, "
                    "or leave topic out.",
                )
            )
        url: object = self.review_url
        if url is not None and not unresolved(url) and not (isinstance(url, str) and url.startswith("https://")):
            found.append(Problem(f"{argument}.review_url", url, "Give an https:// URL, or None."))
        return found


@dataclass(frozen=True, kw_only=True)
class CloudFormationDeployment:
    """Deploy a CloudFormation template from the validated artifact through a change set (create, then execute).

    For a CDK app with assets (Lambda code, images), deploy with ``DeployTarget(commands=["npx cdk deploy ..."])``
    instead: a change set does not publish assets.

    Args:
        template_path: the template's path inside the validated artifact, e.g. ``"cdk.out/App.template.json"``.
        stack_name: the stack to create or update.
        parameters: parameter overrides. Default: none.
        capabilities: what the template may do, e.g. ``[CfnCapabilities.NAMED_IAM]``. Default: none.
    """

    template_path: str
    stack_name: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    capabilities: Sequence[CfnCapabilities] = ()

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found: list[Problem] = []
        path: object = self.template_path
        if not isinstance(path, str) or not path.strip() or path.startswith("/") or ".." in path.split("/"):
            found.append(
                Problem(f"{argument}.template_path", path, "Give the template's path inside the validated artifact.")
            )
        name: object = self.stack_name
        if not isinstance(name, str) or not (unresolved(name) or re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", name)):
            found.append(
                Problem(f"{argument}.stack_name", name, "Use a letter, then letters, digits or '-' (128 at most).")
            )
        if not isinstance(self.parameters, Mapping):
            found.append(wrong_type(f"{argument}.parameters", self.parameters, "a mapping", "{'Stage': 'prod'}"))
        if not all(isinstance(c, CfnCapabilities) for c in self.capabilities):
            found.append(
                wrong_type(
                    f"{argument}.capabilities", self.capabilities, "CfnCapabilities", "[CfnCapabilities.NAMED_IAM]"
                )
            )
        return found


@dataclass(frozen=True, kw_only=True)
class DeployTarget:
    """One environment the validated artifact is deployed to, in the order the targets are given.

    Give exactly one of ``cloudformation`` or ``commands``. Every deployment first verifies the artifact's
    manifest. A target in another account is reached through roles in that account: by default those of
    ``cdk bootstrap --trust <pipeline account>`` (see the README).

    Args:
        name: the environment's name; the stage is ``Deploy<name>``.
        account: the target account. Default: the pipeline's.
        region: the target region. Default: the pipeline's; other regions are not supported yet.
        cloudformation: deploy a template from the artifact through a change set.
        commands: deploy with shell commands in CodeBuild, e.g. ``["npx cdk deploy --all --require-approval never"]``.
        build_environment: for ``commands``. Default: the validate stage's.
        approval: require a manual approval before this environment. Never guessed from the name. Default: none.
        rollback_on_failure: on failure, roll the stage back to the last successful execution's artifacts
            (a CloudFormation change set also rolls back by itself). Default: True.
        retry_failed_actions: retry failed actions automatically instead; only where that is safe. Not with
            ``rollback_on_failure``. Default: False.
        alarms: CloudWatch alarms (in the pipeline's account and region) watched for ``bake_time`` after the
            deployment; one in ALARM rolls the stage back. Default: none.
        bake_time: how long ``alarms`` are watched. Default: 30 minutes.
        action_role_arn: cross-account: the role CodePipeline assumes in the target account. Default: the CDK
            bootstrap deploy role there.
        deployment_role_arn: cross-account, CloudFormation: the role CloudFormation uses there. Default: the CDK
            bootstrap CloudFormation execution role.
        bootstrap_qualifier: the qualifier of the target's CDK bootstrap. Default: ``"hnb659fds"``.
    """

    name: str
    account: str | None = None
    region: str | None = None
    cloudformation: CloudFormationDeployment | None = None
    commands: Sequence[str] = ()
    build_environment: BuildEnvironment | None = None
    approval: ApprovalOptions | None = None
    rollback_on_failure: bool = True
    retry_failed_actions: bool = False
    alarms: Sequence[cloudwatch.IAlarm] = ()
    bake_time: Duration = field(default_factory=lambda: Duration.minutes(30))
    action_role_arn: str | None = None
    deployment_role_arn: str | None = None
    bootstrap_qualifier: str = "hnb659fds"

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with this target, naming it as ``argument``."""
        found: list[Problem] = []
        if not isinstance(self.name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", self.name):
            found.append(Problem(f"{argument}.name", self.name, "Use letters, digits, '_' or '-', e.g. 'Production'."))
        account: object = self.account
        if account is not None and not unresolved(account) and not re.fullmatch(r"\d{12}", str(account)):
            found.append(Problem(f"{argument}.account", account, "Give a 12-digit AWS account id, or None."))
        if (self.cloudformation is None) == (not self.commands):
            found.append(
                Problem(
                    argument,
                    self.name,
                    "Give exactly one of cloudformation=CloudFormationDeployment(...) or commands=[...].",
                )
            )
        if self.cloudformation is not None:
            if isinstance(self.cloudformation, CloudFormationDeployment):
                found.extend(self.cloudformation.problems(f"{argument}.cloudformation"))
            else:
                example = "CloudFormationDeployment(template_path=..., stack_name=...)"
                found.append(wrong_type(f"{argument}.cloudformation", self.cloudformation, "a deployment", example))
        if self.commands:
            found.extend(_commands_problems(f"{argument}.commands", self.commands))
        found.extend(_environment_problems(f"{argument}.build_environment", self.build_environment))
        if self.approval is not None:
            if isinstance(self.approval, ApprovalOptions):
                found.extend(self.approval.problems(f"{argument}.approval"))
            else:
                found.append(wrong_type(f"{argument}.approval", self.approval, "ApprovalOptions", "ApprovalOptions()"))
        if self.rollback_on_failure and self.retry_failed_actions:
            found.append(
                Problem(
                    f"{argument}.retry_failed_actions",
                    True,
                    "A stage either rolls back or retries on failure: set rollback_on_failure=False to retry.",
                )
            )
        alarms: object = self.alarms
        if isinstance(alarms, str) or not isinstance(alarms, Sequence):
            found.append(wrong_type(f"{argument}.alarms", alarms, "a list of cloudwatch.IAlarm", "[my_alarm]"))
        elif len(alarms) > MAX_ALARMS:
            found.append(
                Problem(
                    f"{argument}.alarms",
                    f"{len(alarms)} alarms",
                    f"A stage condition holds at most {MAX_ALARMS} rules: watch at most {MAX_ALARMS} alarms, e.g. "
                    "one cloudwatch.CompositeAlarm over the others.",
                )
            )
        # The rule waits whole minutes; to_minutes() would raise on anything else, so compare seconds.
        if not isinstance(self.bake_time, Duration) or (
            not self.bake_time.is_unresolved()
            and not (
                60 <= self.bake_time.to_seconds(integral=False) <= 86400
                and self.bake_time.to_seconds(integral=False) % 60 == 0
            )
        ):
            found.append(
                Problem(
                    f"{argument}.bake_time", self.bake_time, "Give whole minutes from Duration.minutes(1) to 1 day."
                )
            )
        return found


@dataclass(frozen=True)
class DeployStage:
    """What the pipeline built for one ``DeployTarget``: read-only, for wiring alarms, permissions and the like."""

    name: str
    approval: codepipeline_actions.ManualApprovalAction | None
    """The manual approval in front of the deployment, in the stage ``Approve<name>``; None without one."""
    project: VerifiedProject
    """The CodeBuild project that verifies the artifact (and, for ``commands``, deploys it), with its role."""
    actions: tuple[codepipeline.IAction, ...]
    """The actions of the stage ``Deploy<name>``, in run order."""
