"""Shared fixtures. Synthesis through jsii takes seconds, so each example is synthesized once per session."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPack,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PACKS: dict[str, type[NagPack]] = {
    "AwsSolutions": AwsSolutionsChecks,
    "NIST.800.53.R5": NIST80053R5Checks,
    "HIPAA.Security": HIPAASecurityChecks,
    "PCI.DSS.321": PCIDSS321Checks,
    "Serverless": ServerlessChecks,
}
"""The cdk-nag packs of the compliance gate."""
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "app.py").is_file())


@dataclass(frozen=True)
class Synthesized:
    """One synthesized stack: its template, as JSON and as an assertions.Template, and its messages."""

    stack: cdk.Stack
    template: Template
    json: dict[str, Any]
    warnings: tuple[tuple[str, str], ...]  # (path, message)


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>/app.py`` without running its ``__main__`` block."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthesize(stack: cdk.Stack) -> Synthesized:
    """Synthesize the app holding ``stack`` and collect what it produced."""
    app = stack.node.root
    assert isinstance(app, cdk.App)
    artifact = app.synth().get_stack_by_name(stack.stack_name)
    warnings = tuple(
        (message.id, str(message.entry.data))
        for message in artifact.messages
        if message.level == cdk.cx_api.SynthesisMessageLevel.WARNING
    )
    return Synthesized(stack, Template.from_json(artifact.template), artifact.template, warnings)


@cache
def synthesized_example(name: str) -> Synthesized:
    return synthesize(load_example(name).build(cdk.App()))


@pytest.fixture(scope="session")
def seed() -> Synthesized:
    """The seed example (the design document's system), synthesized once."""
    return synthesized_example("seed_pipeline")
