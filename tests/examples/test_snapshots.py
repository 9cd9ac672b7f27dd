"""One JSON snapshot per example stack. Asset hashes are replaced, so only a real change to a template shows here.

An example with one stack has one snapshot, named after the example (``...[minimal].json``); an example with several
has one per stack, named after the example and the stack (``...[fleet][FleetTeams1].json``).

Update deliberately with `pytest --snapshot-update` and read the diff like code.
"""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from s3_validated_pipeline import ValidatedS3Pipeline, ValidationOptions
from tests.conftest import EXAMPLE_NAMES, load_example, synthesize, synthesized_example, synthesized_example_stacks

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def normalised(template: dict[str, Any]) -> Any:
    return json.loads(ASSET_HASH.sub("<asset-hash>", json.dumps(template)))


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


def test_examples_are_found() -> None:
    assert EXAMPLE_NAMES == ["cross_account", "fleet", "minimal", "multi_region", "seed_pipeline", "vpc_builds"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_template_matches_its_snapshot(name: str, snapshot_json: SnapshotAssertion) -> None:
    stacks = synthesized_example_stacks(name)
    if len(stacks) == 1:
        assert normalised(stacks[0].json) == snapshot_json
        return
    for synthesized in sorted(stacks, key=lambda s: s.stack.stack_name):
        assert normalised(synthesized.json) == snapshot_json(name=synthesized.stack.stack_name)


@pytest.mark.xdist_group("example-fleet")  # with the session's synthesis of examples/fleet
def test_fleet_example_stacks_are_found() -> None:
    """The foundation and the three team stacks: each has a snapshot of its own."""
    names = [s.stack.stack_name for s in synthesized_example_stacks("fleet")]
    assert names == ["FleetFoundation", "FleetTeams1", "FleetTeams2", "FleetTeams3"]
    with pytest.raises(ValueError, match=r"examples/fleet has 4 stacks"):
        synthesized_example("fleet")


def test_normalising_replaces_every_asset_hash() -> None:
    template = synthesized_example("seed_pipeline").json
    assert ASSET_HASH.search(json.dumps(template)), "the trigger function's code is an asset with a hash"
    assert not ASSET_HASH.search(json.dumps(normalised(template)))


def test_synthesis_is_deterministic() -> None:
    """A second, independent synthesis gives the same normalised template, so snapshots are stable across runs."""
    again = synthesize(load_example("seed_pipeline").build(cdk.App())).json
    assert normalised(again) == normalised(synthesized_example("seed_pipeline").json)


def test_changing_the_validation_commands_leaves_the_pipeline_resource_untouched() -> None:
    """Commands live in the CodeBuild projects (Validate's, which runs them, and Attest's, which records them in the
    provenance), so changing them never updates (and never disturbs) the pipeline."""

    def template(commands: list[str]) -> dict[str, Any]:
        stack = cdk.Stack(cdk.App(), "Stack")
        ValidatedS3Pipeline(stack, "Pipeline", validation=ValidationOptions(commands=commands))
        return normalised(synthesize(stack).json)["Resources"]

    before, after = template(["npm ci"]), template(["npm ci", "npm run lint"])
    changed = sorted(k for k in before if before[k] != after[k])
    assert [before[k]["Type"] for k in changed] == ["AWS::CodeBuild::Project", "AWS::CodeBuild::Project"]
    assert [re.sub(r"[0-9A-F]{8}$", "", k) for k in changed] == ["PipelineAttestProject", "PipelineValidationProject"]
