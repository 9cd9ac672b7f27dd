"""The package check's rules: the pipeline's defaults, or those of a deployed pipeline's validate stage.

A deployed ``ValidatedS3Pipeline`` states its rules in one place: the command line that runs ``check.py`` in its
validate project's buildspec (``--require``, ``--ignore``, ``--forbid``, ``--max-*``, ``--allow-nested-archives``).
``read_pipeline_rules`` finds that project among the stack's resources (``cloudformation:ListStackResources``),
reads its buildspec (``codebuild:BatchGetProjects``) and parses that line into the same ``Limits`` and required
files the local check takes, so ``s3vp package`` and ``s3vp push`` give the verdict the pipeline will give.
``read_deployed_pipeline`` also reads what the pipeline's deploy projects run, for ``s3vp package`` and ``check``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..check import DEFAULT_FORBIDDEN, DEFAULT_LIMITS, Limits
from ._aws import AwsError, aws_errors, stack_resources

__all__ = [
    "PROJECT_MARKER",
    "CheckRules",
    "DeployStage",
    "DeployedPipeline",
    "RulesError",
    "find_validation_project",
    "read_deployed_pipeline",
    "read_pipeline_rules",
    "rules_from_buildspec",
    "rules_from_check_arguments",
]

PROJECT_MARKER = "ValidationProject"
"""What the logical id of a ``ValidatedS3Pipeline``'s validate project holds (``<path>ValidationProject<hash>``)."""
_DEPLOY_PROJECT = re.compile(r"Deploy\w*StageProject")
"""What the logical id of a deploy target's project holds (``<path>Deploy<name>StageProject<hash>``)."""
_STAGE_OF_DESCRIPTION = re.compile(r"the (\S+) stage")
"""The stage a verified project's description names (``Verifies the validated artifact, then runs the X stage``)."""

_IGNORED_WITH_VALUE = frozenset({"--extract", "--report", "--expected-sha256", "--s3-checksum-sha256"})
"""Options of the check's command line that say nothing about what a package may hold."""
_IGNORED_SWITCHES = frozenset({"--json"})
_NUMBERS: dict[str, tuple[str, type]] = {
    "--" + item.name.replace("_", "-"): (item.name, int if item.type in (int, "int") else float)
    for item in dataclasses.fields(Limits)
    if item.type in (int, "int", float, "float")
}
"""``--max-entries`` and the other numeric limits, each as the ``Limits`` field it sets and that field's type."""


class RulesError(AwsError):
    """The deployed pipeline's rules cannot be read or understood; exit code 2."""


@dataclass(frozen=True)
class CheckRules:
    """What the package check is run with: required files, limits, and where they came from."""

    required: tuple[str, ...] = ()
    limits: Limits = DEFAULT_LIMITS
    source: str = "the pipeline's defaults"
    """Where the rules came from, for the line that says so."""
    added: tuple[str, ...] = field(default=())
    """The options given on the command line on top of the deployed pipeline's, as typed."""

    def extended(self, required: Sequence[str], ignored: Sequence[str]) -> CheckRules:
        """These rules with more required files and ignored paths (the command line's ``--require``/``--ignore``)."""
        if not required and not ignored:
            return self
        try:
            limits = dataclasses.replace(self.limits, ignore=(*self.limits.ignore, *ignored))
        except ValueError as exc:
            raise RulesError(str(exc)) from None
        added = (*(f"--require {p}" for p in required), *(f"--ignore {p}" for p in ignored))
        return dataclasses.replace(
            self, required=(*self.required, *required), limits=limits, added=(*self.added, *added)
        )

    def describe(self) -> str:
        """One line: where the rules came from and what they hold beyond the defaults."""
        parts = [f"requires {', '.join(self.required)}" if self.required else "no required files"]
        if self.limits.ignore:
            parts.append(f"ignores {', '.join(self.limits.ignore)}")
        extra_forbidden = [p for p in self.limits.forbidden if p not in DEFAULT_FORBIDDEN]
        if extra_forbidden:
            parts.append(f"also forbids {', '.join(extra_forbidden)}")
        if set(DEFAULT_FORBIDDEN) - set(self.limits.forbidden):
            parts.append("without the default forbidden files")
        changed = [
            f"{flag} {getattr(self.limits, name)}"
            for flag, (name, _) in _NUMBERS.items()
            if getattr(self.limits, name) != getattr(DEFAULT_LIMITS, name)
        ]
        if self.limits.allow_nested_archives:
            changed.append("--allow-nested-archives")
        if changed:
            parts.append(" ".join(changed))
        added = f"; plus {' '.join(self.added)} from the command line" if self.added else ""
        return f"Check rules from {self.source}: {'; '.join(parts)}{added}"


def _split(token: str) -> tuple[str, str | None]:
    flag, equals, value = token.partition("=")
    return (flag, value) if equals else (token, None)


def rules_from_check_arguments(arguments: Sequence[str], *, source: str) -> CheckRules:
    """Parse the arguments after ``check.py`` in the validate stage's buildspec into ``CheckRules``.

    Positional arguments (the zip) and shell expansions (``${s3_checksum:+...}``, which only the build can know) are
    skipped, as are the options that do not change the verdict (``--extract``, ``--report``, the checksums).
    Raises ``RulesError`` for an option this version of s3vp does not know: its verdict could then differ.
    """
    required: list[str] = []
    lists: dict[str, list[str]] = {"--ignore": [], "--forbid": []}
    numbers: dict[str, int | float] = {}
    switches = {"--allow-nested-archives": False, "--no-default-forbidden": False}
    tokens = iter(arguments)
    for token in tokens:
        if not token.startswith("-") or "$" in token:
            continue
        flag, value = _split(token)
        if flag in switches:
            switches[flag] = True
            continue
        if flag in _IGNORED_SWITCHES:
            continue
        if flag not in _IGNORED_WITH_VALUE and flag not in _NUMBERS and flag not in lists and flag != "--require":
            raise RulesError(
                f"the check command of {source} has an option this s3vp does not know ({flag}): upgrade "
                "s3-validated-pipeline[cli] so the local check matches the pipeline's"
            )
        if value is None:
            value = next(tokens, None)
            if value is None:
                raise RulesError(f"the check command of {source} ends without a value for {flag}")
        if flag == "--require":
            required.append(value)
        elif flag in lists:
            lists[flag].append(value)
        elif flag in _NUMBERS:
            name, kind = _NUMBERS[flag]
            try:
                numbers[name] = kind(value)
            except ValueError:
                raise RulesError(f"the check command of {source} gives {flag} {value!r}, not a number") from None
    forbidden = () if switches["--no-default-forbidden"] else DEFAULT_FORBIDDEN
    try:
        limits = Limits(
            allow_nested_archives=switches["--allow-nested-archives"],
            forbidden=(*forbidden, *lists["--forbid"]),
            ignore=tuple(lists["--ignore"]),
            **numbers,  # type: ignore[arg-type]
        )
    except ValueError as exc:
        raise RulesError(f"the check command of {source} has settings s3vp cannot use: {exc}") from None
    return CheckRules(required=tuple(required), limits=limits, source=source)


def _check_arguments(commands: Iterable[object]) -> list[str] | None:
    """The arguments after ``check.py`` on the line that checks and extracts ``source.zip``, or None."""
    for command in commands:
        for line in str(command).splitlines():
            if "check.py" not in line or "--extract" not in line:
                continue
            try:
                tokens = shlex.split(line)
            except ValueError:
                continue
            for index, token in enumerate(tokens):
                if token.endswith("check.py") and "--extract" in tokens[index + 1 :]:
                    return tokens[index + 1 :]
    return None


def rules_from_buildspec(buildspec: str, *, source: str) -> CheckRules:
    """The rules of the check command in a validate project's buildspec (JSON, as CDK writes it).

    Raises ``RulesError`` when the buildspec is not JSON or holds no such command.
    """
    try:
        spec = json.loads(buildspec)
    except ValueError:
        raise RulesError(
            f"the buildspec of {source} is not JSON (CDK writes it as JSON; was the project changed by hand?), so "
            "s3vp cannot read its rules: leave out --stack and pass --require and --ignore yourself"
        ) from None
    pre_build = spec.get("phases", {}).get("pre_build", {}) if isinstance(spec, dict) else {}
    commands = pre_build.get("commands", []) if isinstance(pre_build, dict) else []
    arguments = _check_arguments(commands if isinstance(commands, list) else [commands])
    if arguments is None:
        raise RulesError(
            f"the buildspec of {source} runs no package check (no `check.py ... source.zip --extract` command in "
            "phases.pre_build): is it the validate project of a ValidatedS3Pipeline?"
        )
    return rules_from_check_arguments(arguments, source=source)


@dataclass(frozen=True)
class DeployStage:
    """A deploy stage of a deployed pipeline and the commands of its buildspec's build phase."""

    name: str
    """The stage's name, e.g. ``DeployStaging`` (from the project's description; its logical id if that has none)."""
    commands: tuple[str, ...]


@dataclass(frozen=True)
class DeployedPipeline:
    """What ``s3vp`` reads of a deployed pipeline: its check rules and what its deploy stages run."""

    rules: CheckRules
    deploy_stages: tuple[DeployStage, ...] = ()
    unread: str = ""
    """Why the deploy stages could not be read (an AWS error), or empty."""

    def extended(self, required: Sequence[str], ignored: Sequence[str]) -> DeployedPipeline:
        """This pipeline with more required files and ignored paths in its rules (see ``CheckRules.extended``)."""
        return dataclasses.replace(self, rules=self.rules.extended(required, ignored))


def _stack_projects(session: Any, stack: str, remedy: str) -> list[tuple[str, str]]:
    """The stack's CodeBuild projects, as (logical id, project name), in the stack's order."""
    found = stack_resources(session, stack, "AWS::CodeBuild::Project", "", remedy=remedy)
    return [(item.get("LogicalResourceId", ""), item.get("PhysicalResourceId", "")) for item in found]


def _pipeline_projects(session: Any, pipeline: str, remedy: str) -> set[str]:
    """The CodeBuild projects the pipeline's actions run (``codepipeline:GetPipeline``)."""
    with aws_errors(action="codepipeline:GetPipeline", resource=f"the pipeline {pipeline!r}", remedy=remedy):
        declaration = session.client("codepipeline").get_pipeline(name=pipeline)["pipeline"]
    return {
        str(action.get("configuration", {}).get("ProjectName"))
        for stage in declaration.get("stages", [])
        for action in stage.get("actions", [])
        if action.get("configuration", {}).get("ProjectName")
    }


def _choose_projects(session: Any, stack: str, pipeline: str | None, remedy: str) -> tuple[str, list[tuple[str, str]]]:
    """The name of the validate project of the stack's ``ValidatedS3Pipeline``, and its deploy projects."""
    projects = _stack_projects(session, stack, remedy)
    validation = [item for item in projects if PROJECT_MARKER in item[0]]
    deploys = [item for item in projects if _DEPLOY_PROJECT.search(item[0])]
    if not validation:
        raise RulesError(
            f"the stack {stack!r} has no validate project of a ValidatedS3Pipeline (no AWS::CodeBuild::Project "
            f"whose logical id holds {PROJECT_MARKER!r}): is it the stack that holds the pipeline?"
        )
    if len(validation) > 1 and pipeline:
        run_by_pipeline = _pipeline_projects(session, pipeline, remedy)
        validation = [item for item in validation if item[1] in run_by_pipeline]
        deploys = [item for item in deploys if item[1] in run_by_pipeline]
        if not validation:
            raise RulesError(f"none of the stack {stack!r}'s validate projects is run by the pipeline {pipeline!r}")
    if len(validation) > 1:
        names = ", ".join(logical for logical, _ in validation)
        raise RulesError(
            f"the stack {stack!r} holds more than one ValidatedS3Pipeline (validate projects {names}): pass "
            "--pipeline NAME to choose one"
        )
    return validation[0][1], deploys


def find_validation_project(session: Any, stack: str, *, pipeline: str | None = None, remedy: str = "") -> str:
    """The name of the validate project of the stack's ``ValidatedS3Pipeline``.

    With several pipelines in the stack, ``pipeline`` (a pipeline's name) chooses the one whose actions run it.
    Raises ``AwsError`` when the stack has none, or several and no way to choose.
    """
    return _choose_projects(session, stack, pipeline, remedy)[0]


def _build_commands(buildspec: object) -> tuple[str, ...]:
    """The commands of a buildspec's build phase; none when it is not JSON (the rules' reading says so)."""
    try:
        spec = json.loads(str(buildspec))
    except ValueError:
        return ()
    build = spec.get("phases", {}).get("build", {}) if isinstance(spec, dict) else {}
    commands = build.get("commands", []) if isinstance(build, dict) else []
    return tuple(str(command) for command in (commands if isinstance(commands, list) else [commands]))


def _batch_get_projects(session: Any, names: Sequence[str], remedy: str) -> dict[str, Any]:
    """The CodeBuild projects ``names`` that exist, by name."""
    listed = ", ".join(map(repr, names))
    resource = f"the CodeBuild project{'s' if len(names) > 1 else ''} {listed}"
    with aws_errors(action="codebuild:BatchGetProjects", resource=resource, remedy=remedy):
        response = session.client("codebuild").batch_get_projects(names=list(names))
    return {project.get("name"): project for project in response.get("projects", [])}


def _read_rules(session: Any, stack: str, name: str, remedy: str) -> CheckRules:
    """The check rules in the buildspec of the validate project ``name``."""
    source = f"the deployed pipeline (stack {stack}, CodeBuild project {name})"
    resource = f"the CodeBuild project {name!r}"
    project = _batch_get_projects(session, [name], remedy).get(name)
    if project is None:
        raise RulesError(f"the stack {stack!r} lists {resource}, but CodeBuild does not know it (check --region)")
    buildspec = project.get("source", {}).get("buildspec")
    if not buildspec:
        raise RulesError(f"{resource} has no buildspec of its own: is it the validate project of a pipeline?")
    return rules_from_buildspec(str(buildspec), source=source)


def _read_deploy_stages(session: Any, deploys: Sequence[tuple[str, str]]) -> tuple[DeployStage, ...]:
    """What the deploy projects ``deploys`` (logical id, name) run; a project listed but gone is left out."""
    found = _batch_get_projects(session, [physical for _, physical in deploys], "")
    stages = []
    for logical, physical in deploys:
        if physical in found:
            named = _STAGE_OF_DESCRIPTION.search(str(found[physical].get("description", "")))
            commands = _build_commands(found[physical].get("source", {}).get("buildspec", ""))
            stages.append(DeployStage(name=named.group(1) if named else logical, commands=commands))
    return tuple(stages)


def read_deployed_pipeline(
    session: Any, stack: str, *, pipeline: str | None = None, remedy: str = ""
) -> DeployedPipeline:
    """The check rules of the stack's deployed validate stage, and what its deploy stages run (a second
    ``codebuild:BatchGetProjects``); ``remedy`` ends the access-denied messages about the rules.

    Deploy stages that cannot be read do not stop the check: ``DeployedPipeline.unread`` says why.
    """
    name, deploys = _choose_projects(session, stack, pipeline, remedy)
    rules = _read_rules(session, stack, name, remedy)
    try:
        return DeployedPipeline(rules, _read_deploy_stages(session, deploys) if deploys else ())
    except AwsError as exc:
        return DeployedPipeline(rules, unread=str(exc))


def read_pipeline_rules(session: Any, stack: str, *, pipeline: str | None = None, remedy: str = "") -> CheckRules:
    """The check rules of the stack's deployed validate stage; ``remedy`` ends the access-denied messages."""
    return _read_rules(
        session, stack, find_validation_project(session, stack, pipeline=pipeline, remedy=remedy), remedy
    )
