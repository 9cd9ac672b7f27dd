"""The one error type of this library, and the collector that raises it once with every problem found."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: the argument's path, the value received and what to do."""

    argument: str
    value: object
    fix: str

    def __str__(self) -> str:
        return f"{self.argument}: got {self.value!r}. {self.fix}"


class InputError(ValueError):
    """Raised while a construct is built when its input cannot give a working, secure pipeline.

    Every problem found is reported at once, so a user fixes them in one round.
    """

    code = "S3VP_INVALID_INPUT"

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"[{self.code}] {len(self.problems)} problem(s) with the input:\n{lines}")


def raise_if_any(problems: Iterable[Problem]) -> None:
    """Raise one InputError listing every problem, if there is any."""
    found = tuple(problems)
    if found:
        raise InputError(found)
