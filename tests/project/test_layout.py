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

ROOT = Path(__file__).parents[2]
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


def test_every_warning_is_documented_and_given_through_the_registry() -> None:
    # GIVEN the table of warnings in docs/warnings-and-errors.md and the registry
    page = (ROOT / "docs" / "warnings-and-errors.md").read_text(encoding="utf-8")
    section = page.split("\n## Warnings\n", 1)[1].split("\n## ", 1)[0]
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


def _class_level_docs() -> dict[str, set[str]]:
    """Per class of the package: the names annotated in its body with a docstring after them."""
    found: dict[str, set[str]] = {}
    for path in SOURCES:
        for cls in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(cls, ast.ClassDef):
                found.setdefault(cls.name, set()).update(
                    statement.target.id
                    for statement, following in zip(cls.body, cls.body[1:], strict=False)
                    if isinstance(statement, ast.AnnAssign)
                    and isinstance(statement.target, ast.Name)
                    and isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)
                )
    return found


_CLASS_LEVEL_DOCS = _class_level_docs()


def _undocumented_attributes(path: Path) -> list[str]:
    """Public ``self.<name>`` attributes of a public class with no docstring after any of their assignments (or
    after a class-level annotation of the same name)."""
    undocumented: list[str] = []
    for cls in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(cls, ast.ClassDef) or cls.name.startswith("_"):
            continue
        missing: list[str] = []
        documented = set(_CLASS_LEVEL_DOCS.get(cls.name, set()))
        for base in cls.bases:
            documented |= _CLASS_LEVEL_DOCS.get(base.id if isinstance(base, ast.Name) else "", set())
        for method in (node for node in cls.body if isinstance(node, ast.FunctionDef)):
            body = list(ast.walk(method))
            blocks = [node.body for node in body if hasattr(node, "body") and isinstance(node.body, list)]
            for block in blocks:
                for statement, following in zip(block, [*block[1:], None], strict=True):
                    targets = (
                        statement.targets
                        if isinstance(statement, ast.Assign)
                        else [statement.target]
                        if isinstance(statement, ast.AnnAssign)
                        else []
                    )
                    for target in targets:
                        names = target.elts if isinstance(target, ast.Tuple) else [target]
                        for name in names:
                            if not (
                                isinstance(name, ast.Attribute)
                                and isinstance(name.value, ast.Name)
                                and name.value.id == "self"
                                and not name.attr.startswith("_")
                            ):
                                continue
                            has_doc = (
                                isinstance(following, ast.Expr)
                                and isinstance(following.value, ast.Constant)
                                and isinstance(following.value.value, str)
                            )
                            if has_doc:
                                documented.add(name.attr)
                            else:
                                missing.append(name.attr)
        undocumented.extend(f"{cls.name}.{name}" for name in missing if name not in documented)
    return sorted(set(undocumented))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_every_public_attribute_has_a_docstring(path: Path) -> None:
    assert _undocumented_attributes(path) == []
