"""One home for the checks of input values that more than one option or construct takes.

Each function returns the problems it finds (an empty list when the value is good), naming the argument as the
caller passes it, so a construct collects every problem and raises once (``errors.raise_if_any``). Unresolved
tokens are skipped: they are known only at deploy time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration

from .build_environment import BuildEnvironment
from .check import glob_problem
from .errors import Problem, unresolved, wrong_type

BUILD_TIMEOUT_MINUTES = (5, 2160)
"""The build timeouts CodeBuild allows, in minutes: 5 minutes to 36 hours. Every stage's timeout is held to it."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CODEPIPELINE_NAME = re.compile(r"[A-Za-z0-9.@_-]{1,100}")
"""What CodePipeline takes as the name of a pipeline, a stage or an action."""


def commands_problems(argument: str, commands: object) -> list[Problem]:
    """A list of at least one non-empty shell command."""
    if isinstance(commands, str) or not isinstance(commands, Sequence):
        return [Problem(argument, commands, "Pass a list of commands, e.g. ['npm ci', 'npm test'].")]
    if not commands:
        return [Problem(argument, commands, "Give at least one shell command, e.g. ['npm ci', 'npm test'].")]
    found = [
        wrong_type(f"{argument}[{index}]", command, "a str (one shell command)", "'npm test'")
        for index, command in enumerate(commands)
        if not isinstance(command, str)
    ]
    if any(isinstance(c, str) and not unresolved(c) and not c.strip() for c in commands):
        found.append(Problem(argument, commands, "Remove the empty command(s): each must run something."))
    return found


def environment_problems(argument: str, environment: object, *, optional: bool = False) -> list[Problem]:
    """A ``BuildEnvironment`` (or None when ``optional``: the stage then uses a default)."""
    if environment is None and optional:
        return []
    if not isinstance(environment, BuildEnvironment):
        image = environment if isinstance(environment, str) else "aws/codebuild/standard:7.0"
        expected = "a BuildEnvironment or None" if optional else "a BuildEnvironment"
        example = f"BuildEnvironment.UBUNTU_22_04_NODE_22, or BuildEnvironment(image={image!r})"
        return [wrong_type(argument, environment, expected, example)]
    return environment.problems(argument)


def build_timeout_problems(argument: str, timeout: object) -> list[Problem]:
    """A ``Duration`` CodeBuild accepts as a build timeout."""
    if not isinstance(timeout, Duration):
        return [wrong_type(argument, timeout, "a Duration", "Duration.minutes(60)")]
    low, high = BUILD_TIMEOUT_MINUTES
    minutes = None if timeout.is_unresolved() else timeout.to_seconds(integral=False) / 60
    if minutes is not None and not (low <= minutes <= high and minutes.is_integer()):
        return [
            Problem(
                argument,
                timeout.to_human_string(),
                "CodeBuild allows whole minutes from 5 minutes to 36 hours; pass e.g. Duration.minutes(60).",
            )
        ]
    return []


def bool_problems(argument: str, value: object) -> list[Problem]:
    return [] if isinstance(value, bool) else [wrong_type(argument, value, "a bool", "True")]


def positive_whole_problems(argument: str, value: object, fix: str, *, optional: bool = False) -> list[Problem]:
    """A positive whole number (a bool is not one); None too when ``optional``. ``fix`` says what to give."""
    if unresolved(value) or (value is None and optional):
        return []
    if isinstance(value, bool) or not isinstance(value, int):
        expected = "an int or None" if optional else "an int"
        return [Problem(argument, value, f"Expected {expected}, not {type(value).__name__}. {fix}")]
    if value <= 0:
        return [Problem(argument, value, fix)]
    return []


def positive_days_problems(argument: str, days: object, *, example: int = 365, optional: bool = False) -> list[Problem]:
    """A positive whole number of days (or None when ``optional``)."""
    return positive_whole_problems(
        argument, days, f"Give a positive whole number of days, e.g. {example}.", optional=optional
    )


def email_problems(argument: str, emails: object) -> list[Problem]:
    """A list of email addresses."""
    if isinstance(emails, str) or not isinstance(emails, Sequence):
        return [wrong_type(argument, emails, "a list of str", "['ops@example.com']")]
    return [
        Problem(f"{argument}[{index}]", email, "Give an email address, e.g. 'ops@example.com'.")
        for index, email in enumerate(emails)
        if not isinstance(email, str) or (not unresolved(email) and not _EMAIL.fullmatch(email))
    ]


def artifact_paths_problems(argument: str, paths: object, example: str) -> list[Problem]:
    """Paths or globs inside an artifact: relative, '/' separated, no '..'."""
    if isinstance(paths, str) or not isinstance(paths, Sequence):
        return [wrong_type(argument, paths, "a list of str", f"[{example!r}]")]
    return [
        Problem(f"{argument}[{index}]", path, f"Use a path or glob inside the artifact, e.g. {example!r}.")
        for index, path in enumerate(paths)
        if not isinstance(path, str) or not path.strip() or path.startswith("/") or ".." in path.split("/")
    ]


def glob_list_problems(argument: str, patterns: object, example: str, *, negate: bool = False) -> list[Problem]:
    """Globs relative to the package root, as the package check reads them; ``negate`` allows a leading ``!``."""
    if isinstance(patterns, str) or not isinstance(patterns, Sequence):
        return [wrong_type(argument, patterns, "a list of str", example)]
    found = []
    for index, pattern in enumerate(patterns):
        if unresolved(pattern):
            continue
        if not isinstance(pattern, str):
            found.append(wrong_type(f"{argument}[{index}]", pattern, "a str", example.strip("[]")))
            continue
        problem = glob_problem(pattern[1:] if negate and pattern.startswith("!") else pattern)
        if problem:
            found.append(Problem(f"{argument}[{index}]", pattern, f"The glob {problem}."))
    return found


def looks_like(value: object, *attributes: str) -> bool:
    """Whether ``value`` has every attribute a jsii interface promises (``isinstance`` cannot check interfaces)."""
    return value is not None and all(hasattr(value, attribute) for attribute in attributes)


def stage_name_problems(argument: str, name: object, taken: Sequence[str] = ()) -> list[Problem]:
    """A valid, unused CodePipeline stage name."""
    if not isinstance(name, str) or not CODEPIPELINE_NAME.fullmatch(name):
        return [Problem(argument, name, "Use 1 to 100 letters, digits, '.', '@', '_' or '-', e.g. 'Test'.")]
    if name in taken:
        return [Problem(argument, name, f"The pipeline already has a stage {name!r}; pick another name.")]
    return []


def options_problems(
    argument: str, value: object, kind: type, example: str, *, optional: bool = False
) -> list[Problem]:
    """An options object of ``kind`` (or None when ``optional``), with the problems its ``problems()`` finds."""
    if value is None and optional:
        return []
    if not isinstance(value, kind):
        expected = f"{kind.__name__} or None" if optional else kind.__name__
        return [wrong_type(argument, value, expected, example)]
    found: list[Problem] = value.problems(argument)  # type: ignore[attr-defined]  # every options class has it
    return found
