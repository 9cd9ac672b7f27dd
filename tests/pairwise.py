"""Pairwise coverings of configuration options: rows in which every two levels of every two options meet.

An option (``Factor``) has levels, the first being what a user gets by leaving it out, and may apply only when
options before it say so (an approval only when there is a deployment): in a row where it does not apply, its level
is not a choice, so it covers nothing. A row is a configuration; ``valid`` says which rows a user can write
(``rollback_on_failure`` is an error in PARALLEL mode). A pair is wanted when valid rows cover it, as a fixed random
sample of them shows (``wanted_pairs``); ``uncovered`` is what a test asserts empty. ``covering`` (greedy) and
``shrink`` (local search) write a covering table; they are tools, run by hand, not by tests.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

Row = Mapping[str, Any]
Pair = tuple[tuple[str, Any], tuple[str, Any]]  # ((option, level), (option, level)), options in factor order


def _always(row: Row) -> bool:
    return True


@dataclass(frozen=True)
class Factor:
    """One option of the configuration: its levels (the first is the default) and when it applies.

    ``applies`` may read only the options listed before this one.
    """

    name: str
    levels: tuple[Any, ...]
    applies: Callable[[Row], bool] = field(default=_always, compare=False)


def effective(factors: Sequence[Factor], row: Row) -> dict[str, Any]:
    """The options of ``row`` that apply, with their levels (those that do not are left out)."""
    found: dict[str, Any] = {}
    for factor in factors:
        if factor.name in row and factor.applies(row):
            found[factor.name] = row[factor.name]
    return found


def pairs_of(factors: Sequence[Factor], row: Row) -> set[Pair]:
    """Every pair of levels that ``row`` covers: both options apply in it."""
    chosen = effective(factors, row)
    names = [f.name for f in factors if f.name in chosen]
    return {((a, chosen[a]), (b, chosen[b])) for a, b in combinations(names, 2)}


def sample(factors: Sequence[Factor], valid: Callable[[Row], bool], *, size: int, seed: int) -> list[dict[str, Any]]:
    """``size`` valid rows, each option at a level drawn at random."""
    rng = random.Random(seed)  # noqa: S311 - rows of a covering, not secrets
    rows: list[dict[str, Any]] = []
    while len(rows) < size:
        row = {f.name: rng.choice(f.levels) for f in factors}
        if valid(row):
            rows.append(row)
    return rows


SAMPLE_SIZE = 3000
"""How many random valid rows ``wanted_pairs`` reads. A pair whose two options apply together in 1 valid row in 200
is missed with a probability below 1e-6."""


def wanted_pairs(factors: Sequence[Factor], valid: Callable[[Row], bool], *, seed: int = 0) -> set[Pair]:
    """Every pair that valid rows cover, as a random sample of them shows (``SAMPLE_SIZE``)."""
    wanted: set[Pair] = set()
    for row in sample(factors, valid, size=SAMPLE_SIZE, seed=seed):
        wanted |= pairs_of(factors, row)
    return wanted


def covering(
    factors: Sequence[Factor], valid: Callable[[Row], bool], *, seed: int = 0, starts: int = 8
) -> list[dict[str, Any]]:
    """Valid rows covering every wanted pair, greedily: each round climbs from the ``starts`` sampled rows worth most
    (changing one option at a time while that is worth more) and keeps the best; then drops any row the others make
    redundant. A row is worth the pairs left it covers, each weighted by how rare valid rows holding it are, so that
    the pairs few rows can hold are taken first. A tool for writing a covering table, not a test."""
    rows = sample(factors, valid, size=SAMPLE_SIZE, seed=seed)
    covers = [pairs_of(factors, row) for row in rows]
    counts: dict[Pair, int] = {}
    for pairs in covers:
        for pair in pairs:
            counts[pair] = counts.get(pair, 0) + 1
    left = set(counts)
    chosen: list[dict[str, Any]] = []

    def worth(pairs: set[Pair]) -> float:
        return sum(1 / counts[p] for p in pairs & left)

    def climb(row: dict[str, Any]) -> tuple[dict[str, Any], float]:
        best, value = row, worth(pairs_of(factors, row))
        improved = True
        while improved:
            improved = False
            for factor in factors:
                for level in factor.levels:
                    trial = {**best, factor.name: level}
                    if valid(trial) and (trial_value := worth(pairs_of(factors, trial))) > value:
                        best, value, improved = trial, trial_value, True
        return best, value

    while left:
        ranked = sorted(range(len(rows)), key=lambda i: -worth(covers[i]))[:starts]
        best, _ = max((climb(dict(rows[i])) for i in ranked), key=lambda bv: bv[1])
        chosen.append(best)
        left -= pairs_of(factors, best)
    for row in list(reversed(chosen)):
        others = set().union(*(pairs_of(factors, r) for r in chosen if r is not row))
        if pairs_of(factors, row) <= others:
            chosen.remove(row)
    return chosen


def uncovered(factors: Sequence[Factor], valid: Callable[[Row], bool], rows: Iterable[Row]) -> set[Pair]:
    """The wanted pairs that ``rows`` miss."""
    covered: set[Pair] = set()
    for row in rows:
        covered |= pairs_of(factors, row)
    return wanted_pairs(factors, valid) - covered


def shrink(
    factors: Sequence[Factor],
    valid: Callable[[Row], bool],
    rows: Sequence[Row],
    *,
    seed: int = 0,
    steps: int = 20000,
) -> list[dict[str, Any]]:
    """Fewer rows still covering every wanted pair: drop one row, then change one option of one row at a time
    (keeping rows valid, taking any change that leaves no more pairs uncovered, and a worse one now and then) until
    nothing is uncovered; repeat while that succeeds within ``steps`` changes. A tool, like ``covering``."""
    rng = random.Random(seed)  # noqa: S311 - rows of a covering, not secrets
    wanted = wanted_pairs(factors, valid)
    best = [dict(row) for row in rows]
    while len(best) > 1:
        trial = [dict(row) for row in best]
        del trial[rng.randrange(len(trial))]
        count: dict[Pair, int] = {}
        for row in trial:
            for pair in pairs_of(factors, row):
                count[pair] = count.get(pair, 0) + 1
        missing = sum(1 for pair in wanted if not count.get(pair))
        for step in range(steps):
            if not missing:
                break
            index = rng.randrange(len(trial))
            factor = rng.choice(factors)
            changed = {**trial[index], factor.name: rng.choice(factor.levels)}
            if not valid(changed):
                continue
            old, new = pairs_of(factors, trial[index]), pairs_of(factors, changed)
            delta = sum(1 for p in old - new if count[p] == 1 and p in wanted) - sum(
                1 for p in new - old if not count.get(p) and p in wanted
            )
            temperature = 0.5 * (1 - step / steps)
            if delta <= 0 or rng.random() < pow(2.718, -delta / max(temperature, 1e-3)):
                for p in old - new:
                    count[p] -= 1
                for p in new - old:
                    count[p] = count.get(p, 0) + 1
                trial[index] = changed
                missing += delta
        if missing:
            return best
        best = trial
    return best
