"""The layout's rules, checked: modules and functions stay small, and every warning the library gives is documented.

The package checker (``check.py``) is one standalone file by design (it is pinned as an asset), so only its
functions are held to the size rule.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from s3_validated_pipeline._warnings import WARNINGS

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "s3_validated_pipeline"
SOURCES = sorted(PACKAGE.rglob("*.py"))
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_modules_and_functions_stay_small(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    if path.name != "check.py":
        assert len(source.splitlines()) <= MAX_MODULE_LINES
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"  # type: ignore[operator]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES  # type: ignore[operator]
    ]
    assert long == []


def test_every_warning_is_in_the_readme_and_given_through_the_registry() -> None:
    # GIVEN the README's table of warnings and the registry
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Warnings", 1)[1].split("\n### ", 1)[0]
    documented = dict(re.findall(r"^\| `(s3-validated-pipeline:[A-Za-z]+)` \| (.+) \|$", section, re.MULTILINE))
    # THEN the table lists exactly the registry's warnings, each with the registry's "when"
    assert documented == {warning.id: warning.when for warning in WARNINGS}
    # AND no module spells a warning id itself: each is given through the registry
    spelled = [
        path.relative_to(PACKAGE).as_posix()
        for path in SOURCES
        if path.name != "_warnings.py" and '"s3-validated-pipeline:' in path.read_text(encoding="utf-8")
    ]
    assert spelled == []
