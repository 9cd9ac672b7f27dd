"""Shared fixtures. Synthesis through jsii takes seconds, so each example is synthesized once per session.

An example's ``build(app)`` returns its one stack, or a list of stacks when it has several (``examples/fleet``).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPack,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)

from s3_validated_pipeline import (
    BuildEnvironment,
    DeployTarget,
    InputError,
    SourceBucketOptions,
    StageOptions,
    TestStageOptions,
    ValidatedS3Pipeline,
    ValidationOptions,
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


@cache
def python38() -> str | None:
    """A Python 3.8 interpreter (the oldest build image's python3), if this machine has one (pyenv's, for instance)."""
    home = os.path.expanduser("~")
    candidates = [shutil.which("python3.8"), *sorted(glob.glob(f"{home}/.pyenv/versions/3.8*/bin/python3.8"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run(  # noqa: S603 - a local interpreter, asked its version
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 8))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.stdout.strip() == "True":
            return candidate
    return None


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>/app.py`` without running its ``__main__`` block."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_example(name: str, app: cdk.App) -> tuple[cdk.Stack, ...]:
    """Add ``examples/<name>``'s stacks to ``app``: its ``build(app)`` returns one stack or a list of them."""
    built = load_example(name).build(app)
    return (built,) if isinstance(built, cdk.Stack) else tuple(built)


def _collect(stack: cdk.Stack, artifact: cdk.cx_api.CloudFormationStackArtifact) -> Synthesized:
    warnings = tuple(
        (message.id, str(message.entry.data))
        for message in artifact.messages
        if message.level == cdk.cx_api.SynthesisMessageLevel.WARNING
    )
    return Synthesized(stack, Template.from_json(artifact.template), artifact.template, warnings)


def synthesize(stack: cdk.Stack) -> Synthesized:
    """Synthesize the app holding ``stack`` and collect what it produced."""
    app = stack.node.root
    assert isinstance(app, cdk.App)
    return _collect(stack, app.synth().get_stack_by_name(stack.stack_name))


def synthesize_stacks(stacks: Sequence[cdk.Stack]) -> tuple[Synthesized, ...]:
    """Synthesize the app holding ``stacks`` once and collect each of them; they must be every stack it has."""
    app = stacks[0].node.root
    assert isinstance(app, cdk.App)
    assert all(stack.node.root is app for stack in stacks), "the stacks belong to different apps"
    assembly = app.synth()
    synthesized = sorted(artifact.stack_name for artifact in assembly.stacks_recursively)
    assert synthesized == sorted(stack.stack_name for stack in stacks), (
        f"the app synthesizes {synthesized}, but {[s.stack_name for s in stacks]} were given: say which are checked"
    )
    return tuple(_collect(stack, assembly.get_stack_by_name(stack.stack_name)) for stack in stacks)


@cache
def synthesized_example_stacks(name: str) -> tuple[Synthesized, ...]:
    """Every stack of ``examples/<name>``, in the order its ``build`` returns them, synthesized once per session."""
    return synthesize_stacks(build_example(name, cdk.App()))


def synthesized_example(name: str) -> Synthesized:
    """The one stack of ``examples/<name>``; an example with several has ``synthesized_example_stacks``."""
    stacks = synthesized_example_stacks(name)
    if len(stacks) != 1:
        names = [s.stack.stack_name for s in stacks]
        raise ValueError(f"examples/{name} has {len(stacks)} stacks {names}; use synthesized_example_stacks({name!r})")
    return stacks[0]


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist registers the mark only when it is loaded (not with -p no:xdist); --strict-markers needs it known
    config.addinivalue_line("markers", "xdist_group(name): run with the other tests of the group on one worker")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the tests for ``--dist loadgroup`` (``make test``), so that each synthesis is made on one worker.

    A test parametrized by an example (``example`` or ``name``) runs with that example's other tests; any other test
    runs with its file, which builds its module-scoped apps once. A file reading an example's session synthesis
    joins its group with ``pytestmark = pytest.mark.xdist_group("example-<name>")``.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        params = item.callspec.params if isinstance(item, pytest.Function) and hasattr(item, "callspec") else {}
        examples = [getattr(params[key], "name", params[key]) for key in ("example", "name") if key in params]
        [example] = [name for name in examples if name in EXAMPLE_NAMES] or [None]
        item.add_marker(pytest.mark.xdist_group(f"example-{example}" if example else item.nodeid.split("::")[0]))


@pytest.fixture(scope="session")
def seed() -> Synthesized:
    """The seed example (test, staging, approval, production), synthesized once."""
    return synthesized_example("seed_pipeline")


# --- Pipelines built for one argument's sake ----------------------------------------------------------------------

VALID = ValidationOptions(commands=["npm ci"], build_environment=BuildEnvironment.UBUNTU_22_04_NODE_22)
"""Validation options that pass every check and warn of nothing, for tests about another argument."""
RETIRED = BuildEnvironment.UBUNTU_20_04_NODE_16


def new_pipeline(**overrides: Any) -> ValidatedS3Pipeline:
    """A pipeline ``Pipeline`` in a new app's stack ``Stack``, with valid arguments but for ``overrides``."""
    return ValidatedS3Pipeline(cdk.Stack(cdk.App(), "Stack"), "Pipeline", **{"validation": VALID, **overrides})


def assert_fails(argument: str, shown: str, advice: str, **overrides: Any) -> None:
    """Build a pipeline with ``overrides``: it must fail with one problem, about ``argument``, showing the value
    (``got <shown>``) and saying ``advice``, as an ``InputError`` (a ``ValueError`` with a stable code)."""
    with pytest.raises(InputError) as raised:
        new_pipeline(**overrides)
    error = raised.value
    [problem] = error.problems
    assert problem.argument == argument
    message = str(error)
    assert f"  - {argument}: got {shown}" in message
    assert advice in message
    assert error.code == "S3VP_INVALID_INPUT"
    assert isinstance(error, ValueError)


def warnings_of(synthesized: Synthesized, pipeline: str, warning: str) -> list[str]:
    """The messages of ``warning`` (an id without its prefix) given on the top-level construct ``pipeline``."""
    # A stack's own warnings (its template's size, for one) have a shorter path: they are no pipeline's
    return [m for path, m in synthesized.warnings if path.split("/")[2:3] == [pipeline] and f":{warning}]" in m]


@pytest.fixture(scope="session")
def warned() -> Synthesized:
    """One synthesis holding a pipeline for each case of the build-environment, object-key and uploader warnings
    and of the stack outputs."""
    stack = cdk.Stack(cdk.App(), "Warned")
    everything_retired = ValidatedS3Pipeline(
        stack,
        "AllRetired",
        validation=ValidationOptions(commands=["true"], build_environment=RETIRED),
        test=TestStageOptions(commands=["true"], build_environment=RETIRED),
        deploy=[DeployTarget(name="Prod", commands=["true"], build_environment=RETIRED)],
    )
    everything_retired.add_build_stage("Extra", options=StageOptions(commands=["true"], build_environment=RETIRED))
    everything_retired.grant_upload(iam.Role(stack, "Uploader", assumed_by=iam.AccountRootPrincipal()))
    later = ValidatedS3Pipeline(stack, "RetiredLater", validation=VALID, test=TestStageOptions(commands=["true"]))
    later.add_build_stage("Old", options=StageOptions(commands=["true"], build_environment=RETIRED))
    ValidatedS3Pipeline(
        stack,
        "Custom",
        validation=ValidationOptions(commands=["true"], build_environment=BuildEnvironment(image="ubuntu:22.04")),
        test=TestStageOptions(commands=["true"], build_environment=BuildEnvironment(image="ubuntu:22.04")),
    )
    ValidatedS3Pipeline(stack, "NotZip", validation=VALID, object_key="uploads/package.tar.gz")
    zip_key = ValidatedS3Pipeline(stack, "Zip", validation=VALID, object_key="uploads/PACKAGE.ZIP", outputs=False)
    cdk.Annotations.of(zip_key).acknowledge_warning("s3-validated-pipeline:noUploader", "granted elsewhere")
    granted_later = ValidatedS3Pipeline(stack, "GrantedLater", validation=VALID)
    granted_later.grant_upload(iam.User(stack, "Developer"))
    ValidatedS3Pipeline(
        stack,
        "Uploaders",
        validation=VALID,
        source_bucket_options=SourceBucketOptions(uploaders=[iam.Role.from_role_name(stack, "Devs", "developers")]),
    )
    ValidatedS3Pipeline(
        stack, "Existing", validation=VALID, source_bucket=s3.Bucket.from_bucket_name(stack, "B", "uploads-b")
    )
    return synthesize(stack)
