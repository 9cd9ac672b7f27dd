"""The API reference's inputs: every public name has a docstring, and the version comes from the installed metadata."""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from types import ModuleType

import pytest
from scripts import check_docstrings

import s3_validated_pipeline
from tests.conftest import ROOT


@pytest.mark.parametrize("package", check_docstrings.PACKAGES)
def test_every_public_name_has_a_docstring_of_its_own(package: str) -> None:
    # The package and the sub-packages whose types users receive: the API reference documents each
    assert check_docstrings.undocumented(importlib.import_module(package)) == []


def test_the_check_flags_missing_inherited_and_generated_docstrings() -> None:
    # GIVEN a package exporting a documented function, an undocumented function, a dataclass whose only docstring is
    # the signature @dataclass writes, an enum without one and a subclass that would only inherit its base's
    @dataclasses.dataclass
    class Options:
        size: int = 1

    class Mode(enum.Enum):
        A = "a"

    class Base:
        """Documented."""

    class Child(Base):
        pass

    def documented() -> None:
        """Does one thing."""

    def bare() -> None:
        pass

    package = ModuleType("fake")
    package.__all__ = ["Options", "Mode", "Child", "documented", "bare"]  # type: ignore[attr-defined]
    for name, obj in [("Options", Options), ("Mode", Mode), ("Child", Child), ("documented", documented)]:
        setattr(package, name, obj)
    package.bare = bare  # type: ignore[attr-defined]
    # THEN every one of them but the documented function is reported
    assert check_docstrings.undocumented(package) == ["Child", "Mode", "Options", "bare"]


def test_version_is_the_installed_distributions() -> None:
    assert s3_validated_pipeline.__version__ == version("s3-validated-pipeline")
    assert s3_validated_pipeline.__version__ != "0+unknown"


def test_version_is_read_without_importing_aws_cdk_lib() -> None:
    # The package checker starts without aws-cdk-lib; reading the version must not load it either.
    code = "import sys, s3_validated_pipeline as p; print(p.__version__, 'aws_cdk' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    assert result.stdout.split() == [version("s3-validated-pipeline"), "False"]


def test_the_type_checkers_names_are_the_lazy_imports_names() -> None:
    # GIVEN the package's one name table (_MODULES) and the imports type checkers read under TYPE_CHECKING
    tree = ast.parse(Path(s3_validated_pipeline.__file__).read_text(encoding="utf-8"))
    [block] = [node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"]
    typed = {
        alias.name: str(node.module) for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    # THEN they name the same things from the same modules, and __all__ is that table
    assert typed == s3_validated_pipeline._MODULES
    assert s3_validated_pipeline.__all__ == sorted(typed)


def test_the_top_level_holds_what_users_write_and_nothing_more() -> None:
    # 25 names at most (issue 18): the constructs, their options, the error; what users receive is documented in the
    # sub-package that defines it
    assert len(s3_validated_pipeline.__all__) <= 25
    for name in s3_validated_pipeline.__all__:
        assert getattr(s3_validated_pipeline, name).__module__.startswith("s3_validated_pipeline.")
