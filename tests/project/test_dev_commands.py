"""The developer and CI commands: what `make test` says while it runs, what CI runs, how a release is published."""

from __future__ import annotations

import re

from tests.conftest import ROOT

MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
WORKFLOW = (ROOT / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")


def recipe(target: str) -> list[str]:
    """The recipe lines of ``target`` in the Makefile."""
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)*)", MAKEFILE, re.MULTILINE)
    assert match is not None, f"no {target} target in the Makefile"
    return [line.strip() for line in match.group(1).splitlines()]


def test_make_test_announces_each_step_before_it_runs() -> None:
    lines = recipe("test")
    announced = [i for i, line in enumerate(lines) if line.startswith("@echo")]
    commands = {i: line for i, line in enumerate(lines) if not line.startswith("@echo")}
    ruff, mypy, pytest = (min(i for i, line in commands.items() if tool in line) for tool in ("ruff", "mypy", "pytest"))
    # One announcement before each step, and what a cold mypy run costs is said
    assert len(announced) == 3
    assert announced[0] < ruff < announced[1] < mypy < announced[2] < pytest
    assert "about 15 s on a first run" in lines[announced[1]]


def test_ci_runs_every_check() -> None:
    steps = re.findall(r"^step (\S+)$", CI_RUN, re.MULTILINE)
    assert steps == ["test", "run-seed", "docs", "test-floor", "test-pythons", "release-dry-run"]
    for target in steps:
        assert recipe(target), target


def test_release_dry_run_checks_the_distributions_and_uploads_nothing() -> None:
    lines = " ".join(recipe("release-dry-run"))
    assert "twine check --strict" in lines
    assert "PUBLIB_DRYRUN=true" in lines
    assert "make test" not in lines


def test_workflow_runs_ci_on_pull_requests_and_publishes_with_publib_on_version_tags() -> None:
    assert "pull_request:" in WORKFLOW
    assert "run: bash .ci/run" in WORKFLOW
    assert "startsWith(github.ref, 'refs/tags/v')" in WORKFLOW
    assert "publib-pypi dist/python" in WORKFLOW
    # Secrets are named, never written down
    assert "${{ secrets.PYPI_API_TOKEN }}" in WORKFLOW
    assert not re.search(r"pypi-[A-Za-z0-9_-]{20,}", WORKFLOW)
