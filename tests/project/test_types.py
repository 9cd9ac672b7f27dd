"""mypy reads only the aws-cdk-lib modules src/ imports: a module left off its list would be typed as Any, unchecked."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")


def aws_cdk_modules_imported(source: Path) -> set[str]:
    modules: set[str] = set()
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names if alias.name.split(".")[0] == "aws_cdk")
            elif isinstance(node, ast.ImportFrom) and node.module == "aws_cdk":
                # `from aws_cdk import aws_s3` imports a module; `from aws_cdk import Duration` a name of aws_cdk
                modules.update(f"aws_cdk.{alias.name}" if alias.name.islower() else "aws_cdk" for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aws_cdk."):
                modules.add(node.module)
    return modules


def mypy_follows() -> set[str]:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    followed = [override for override in settings["overrides"] if override.get("follow_imports") == "normal"]
    assert len(followed) == 1, followed
    return set(followed[0]["module"])


def covered(module: str, patterns: set[str]) -> bool:
    return module in patterns or any(
        pattern.endswith(".*") and (module + ".").startswith(pattern[:-1]) for pattern in patterns
    )


def test_mypy_reads_every_aws_cdk_module_src_imports() -> None:
    imported = aws_cdk_modules_imported(ROOT / "src")

    assert {"aws_cdk", "aws_cdk.aws_s3", "aws_cdk.aws_codepipeline"} <= imported  # the scan finds imports at all
    assert sorted(module for module in imported if not covered(module, mypy_follows())) == []


def test_mypy_reads_no_aws_cdk_module_src_does_not_import() -> None:
    # A stale entry costs mypy time on a cold cache; the interfaces hold the reference types src/'s calls take
    imported = aws_cdk_modules_imported(ROOT / "src")

    assert sorted(mypy_follows() - imported - {"aws_cdk.interfaces.*"}) == []


def test_the_scan_reads_every_import_form(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "import aws_cdk.aws_sqs\n"
        "from aws_cdk import Duration, aws_s3 as s3\n"
        "from aws_cdk.region_info import RegionInfo\n"
        "from constructs import Construct\n",
        encoding="utf-8",
    )

    assert aws_cdk_modules_imported(tmp_path) == {"aws_cdk", "aws_cdk.aws_sqs", "aws_cdk.aws_s3", "aws_cdk.region_info"}
