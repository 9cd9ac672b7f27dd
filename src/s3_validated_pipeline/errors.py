"""The one error type of this library, and the collector that raises it once with every problem found."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from aws_cdk import Token


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: the argument's path, the value received and what to do."""

    argument: str
    value: object
    fix: str

    def __str__(self) -> str:
        return f"{self.argument}: got {self.value!r}. {self.fix}"


@dataclass(frozen=True)
class Shown:
    """A value shown in a problem as written (the ``repr`` of an options object holding Durations is unreadable)."""

    text: str

    def __repr__(self) -> str:
        return self.text


class InputError(ValueError):
    """Raised while a construct is built when its input cannot give a working, secure pipeline.

    Every problem found is reported at once, so a user fixes them in one round.
    """

    code = "S3VP_INVALID_INPUT"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        """Every problem found, in the order the arguments were checked."""
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"[{self.code}] {len(self.problems)} problem(s) with the input:\n{lines}")


def unresolved(value: object) -> bool:
    """Whether ``value`` is an unresolved token, checked later by CloudFormation rather than here.

    Only strings and numbers are asked: jsii cannot take an arbitrary Python object, such as a Path, and crashes.
    """
    return isinstance(value, (str, int, float)) and Token.is_unresolved(value)


def wrong_type(argument: str, value: object, expected: str, example: str) -> Problem:
    """The problem for a value of the wrong type: ``expected`` names what to pass, ``example`` shows one."""
    return Problem(argument, value, f"Expected {expected}, not {type(value).__name__}; pass e.g. {example}.")


def wrong_enum(argument: str, value: object, enum: type[Enum], default: Enum) -> Problem:
    """The problem for a value that is not a member of ``enum``; a member's name passed as a str is suggested back."""
    named = isinstance(value, str) and value.upper() in enum.__members__
    member = value.upper() if named and isinstance(value, str) else default.name
    article = "an" if enum.__name__[0] in "AEIOU" else "a"
    return wrong_type(argument, value, f"{article} {enum.__name__}", f"{enum.__name__}.{member}")


def raise_if_any(problems: Iterable[Problem]) -> None:
    """Raise one InputError listing every problem, if there is any."""
    found = tuple(problems)
    if found:
        raise InputError(found)
