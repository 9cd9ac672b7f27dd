"""What users install: only aws-cdk-lib and constructs at run time, as ranges; the compliance tools are for tests."""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_runtime_dependencies_are_only_cdk_and_constructs_as_ranges() -> None:
    dependencies = PYPROJECT["project"]["dependencies"]
    names = sorted(re.split(r"[<>=!~ ]", d, maxsplit=1)[0] for d in dependencies)
    assert names == ["aws-cdk-lib", "constructs"]
    for dependency in dependencies:
        assert "==" not in dependency, f"{dependency} is an exact pin; use a range"
        assert "<" in dependency, f"{dependency} has no upper bound below the next major version"


def test_aws_cdk_lib_floor_is_at_least_2_257() -> None:
    [cdk] = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("aws-cdk-lib")]
    floor = re.search(r">=(\d+)\.(\d+)\.(\d+)", cdk)
    assert floor is not None
    assert tuple(map(int, floor.groups())) >= (2, 257, 0)


def test_compliance_tools_are_development_dependencies_only() -> None:
    development = " ".join(PYPROJECT["dependency-groups"]["dev"])
    for tool in ("cdk-nag", "checkov", "cfn-lint"):
        assert tool in development
        assert not any(d.startswith(tool) for d in PYPROJECT["project"]["dependencies"])


def test_package_ships_its_type_marker_and_trigger_handler() -> None:
    package = ROOT / "src" / "s3_validated_pipeline"
    assert (package / "py.typed").is_file()
    assert (package / "source" / "_handler" / "index.py").is_file()
    assert PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/s3_validated_pipeline"]
