"""CloudFormation's per-stack limits fail synthesis, with a message saying what to do, for every stack holding a
construct of this library: more than 500 resources, or a template over 1 MB. Other stacks are left to aws-cdk-lib.

Cheap L1s (``CfnWaitConditionHandle``, no properties; padded with metadata to grow the template) stand in for the
resources of pipelines; two tests synthesize real pipelines. Each test synthesizes an app of its own.
"""

from __future__ import annotations

import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sns as sns
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from s3_validated_pipeline import ValidatedS3Pipeline, ValidationOptions
from s3_validated_pipeline._scale_limits import (
    MAX_RESOURCES,
    MAX_TEMPLATE_BYTES,
    TEMPLATE_TOO_LARGE,
    TOO_MANY_RESOURCES,
    check_scale_limits,
)
from tests.conftest import Synthesized

FIX = "Move some of them to another stack, or let them share one PipelineFoundation."
SIZE_RULE = f"Rule s3-validated-pipeline::{TEMPLATE_TOO_LARGE}"
# Three of these make a template of about 1.2 MB.
HEAVY = 400_000


class Holder(Construct):
    """A construct of this library, as the check sees it: it calls check_scale_limits from its __init__."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        check_scale_limits(self)


def new_app(tmp_path: Path) -> cdk.App:
    # In memory, a failed policy validation raises with the whole report (otherwise it is printed to stderr).
    return cdk.App(outdir=str(tmp_path / "cdk.out"), context={"@aws-cdk/core:appMode": "inmemory"})


def add_resources(scope: Construct, count: int, *, padding: int = 0, prefix: str = "Handle") -> None:
    """Add ``count`` resources to ``scope``, each carrying ``padding`` bytes of metadata."""
    for index in range(count):
        handle = cdk.CfnWaitConditionHandle(scope, f"{prefix}{index}")
        if padding:
            handle.add_metadata("Padding", "x" * padding)


def synth_error(app: cdk.App) -> str:
    with pytest.raises(RuntimeError) as raised:
        app.synth()
    return str(raised.value)


def template_bytes(app: cdk.App, stack: cdk.Stack) -> int:
    return (Path(app.outdir) / stack.template_file).stat().st_size


# ---------------------------------------------------------------------------------------------------------------
# Resources


def test_fails_when_a_stack_has_more_than_500_resources(tmp_path: Path) -> None:
    # GIVEN two constructs of this library in a stack of 501 resources
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Crowded", stack_name="crowded-prod")
    Holder(stack, "PipelineA")
    Holder(stack, "PipelineB")
    add_resources(stack, MAX_RESOURCES + 1)

    # WHEN the app is synthesized THEN it fails, naming the stack, the count, the limit, the constructs and the fix
    message = synth_error(app)
    assert (
        f"[Crowded] [{TOO_MANY_RESOURCES}] Stack 'Crowded' (stack name 'crowded-prod') has 501 resources; "
        "CloudFormation accepts at most 500 per stack and would reject it at deploy time. "
        f"It holds 2 Holder: Crowded/PipelineA, Crowded/PipelineB. {FIX}"
    ) in message


def test_passes_with_exactly_500_resources(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Full")
    Holder(stack, "Pipeline")
    add_resources(stack, MAX_RESOURCES)

    template = app.synth().get_stack_by_name("Full").template
    assert len(template["Resources"]) == MAX_RESOURCES


@pytest.mark.parametrize("count", [500, 501])
def test_the_resource_limit_is_cloudformations_500(tmp_path: Path, count: int) -> None:
    # GIVEN a construct of this library in a stack of `count` resources, written out rather than read from
    # MAX_RESOURCES, so that the limit itself is pinned: CloudFormation's quota is 500 resources per stack
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Edge")
    Holder(stack, "Pipeline")
    add_resources(stack, count)
    # WHEN the app is synthesized  THEN 500 pass, and 501 fail saying so
    if count == 500:
        assert len(app.synth().get_stack_by_name("Edge").template["Resources"]) == 500
    else:
        message = synth_error(app)
        assert f"[Edge] [{TOO_MANY_RESOURCES}] Stack 'Edge' has 501 resources; CloudFormation accepts at most 500 " in (
            message
        )


@pytest.mark.parametrize(("own", "fails"), [(MAX_RESOURCES - 1, False), (MAX_RESOURCES, True)])
def test_counts_a_nested_stack_as_one_resource_of_its_parent(tmp_path: Path, own: int, fails: bool) -> None:
    # GIVEN a checked parent with `own` resources and a nested stack of 50 (its AWS::CloudFormation::Stack is one more)
    app = new_app(tmp_path)
    parent = cdk.Stack(app, "Parent")
    Holder(parent, "Pipeline")
    add_resources(parent, own)
    add_resources(cdk.NestedStack(parent, "Inner"), 50)

    if fails:
        assert f"Stack 'Parent' has {MAX_RESOURCES + 1} resources" in synth_error(app)
    else:
        assert len(app.synth().get_stack_by_name("Parent").template["Resources"]) == MAX_RESOURCES


def test_checks_a_nested_stack_on_its_own_resources(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    parent = cdk.Stack(app, "Parent")
    add_resources(parent, 10)
    inner = cdk.NestedStack(parent, "Inner")
    Holder(inner, "Pipeline")
    add_resources(inner, MAX_RESOURCES + 1)

    message = synth_error(app)
    assert "[Parent/Inner] " in message
    assert "Stack 'Parent/Inner' has 501 resources" in message
    assert "Stack 'Parent' has" not in message


# ---------------------------------------------------------------------------------------------------------------
# Template size


def test_fails_when_a_template_exceeds_1_mb(tmp_path: Path) -> None:
    # GIVEN a stack of this library whose template is about 1.2 MB
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Heavy")
    Holder(stack, "Pipeline")
    add_resources(stack, 3, padding=HEAVY)

    # WHEN the app is synthesized THEN it fails, naming the stack, the template's exact size, the limit and the fix
    message = synth_error(app)
    size = template_bytes(app, stack)
    assert size > MAX_TEMPLATE_BYTES
    assert (
        f"FATAL Stack 'Heavy' has a template of {size:,} bytes (Heavy.template.json); CloudFormation accepts at "
        "most 1,000,000 bytes (1 MB) and would reject it at deploy time. It holds 1 Holder: Heavy/Pipeline "
        "(s3-validated-pipeline)\n"
    ) in message
    assert f"Suggested fix: {FIX}" in message
    assert SIZE_RULE in message


def test_passes_with_a_template_of_exactly_1_mb(tmp_path: Path) -> None:
    def heavy_app(name: str, last: int) -> tuple[cdk.App, cdk.Stack]:
        app = new_app(tmp_path / name)
        stack = cdk.Stack(app, "Heavy")
        Holder(stack, "Pipeline")
        add_resources(stack, 3, padding=300_000)
        add_resources(stack, 1, padding=last, prefix="Last")
        return app, stack

    # GIVEN a template measured once, then grown by what it lacks (a byte of padding is a byte of template)
    measured, stack = heavy_app("measure", 1)
    measured.synth()
    app, stack = heavy_app("exact", 1 + MAX_TEMPLATE_BYTES - template_bytes(measured, stack))

    app.synth()
    assert template_bytes(app, stack) == MAX_TEMPLATE_BYTES


def test_acknowledging_does_not_hide_a_template_over_1_mb(tmp_path: Path) -> None:
    # CloudFormation rejects the template whatever is acknowledged, so the violation is fatal: not acknowledgeable.
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Heavy")
    Holder(stack, "Pipeline")
    add_resources(stack, 3, padding=HEAVY)
    for rule in (f"s3-validated-pipeline::{TEMPLATE_TOO_LARGE}", TEMPLATE_TOO_LARGE):
        cdk.Validations.of(stack).acknowledge(cdk.Acknowledgment(id=rule, reason="Trying to deploy it anyway."))

    assert SIZE_RULE in synth_error(app)


# ---------------------------------------------------------------------------------------------------------------
# Which stacks are checked, and how often


def test_leaves_a_stack_without_a_call_to_aws_cdk_lib(tmp_path: Path) -> None:
    # GIVEN a checked stack and, beside it, a stack of no construct of this library with a 1.2 MB template
    app = new_app(tmp_path)
    Holder(cdk.Stack(app, "Checked"), "Pipeline")
    unchecked = cdk.Stack(app, "Unchecked")
    add_resources(unchecked, 3, padding=HEAVY)

    # THEN synthesis passes: aws-cdk-lib only warns about the size
    messages = app.synth().get_stack_by_name("Unchecked").messages
    assert template_bytes(app, unchecked) > MAX_TEMPLATE_BYTES
    assert any("Template size exceeds limit" in str(message.entry.data) for message in messages)


def test_leaves_too_many_resources_without_a_call_to_aws_cdk_lib(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    add_resources(cdk.Stack(app, "Unchecked"), MAX_RESOURCES + 1)

    message = synth_error(app)
    assert "TooManyResourcesInStack" in message  # aws-cdk-lib's own check, without our advice
    assert TOO_MANY_RESOURCES not in message


def test_calling_twice_registers_one_check(tmp_path: Path) -> None:
    # GIVEN one construct calling check_scale_limits twice and another calling it once, in one stack
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Crowded")
    first = Holder(stack, "PipelineA")
    check_scale_limits(first)
    Holder(stack, "PipelineB")
    add_resources(stack, MAX_RESOURCES + 1)

    # THEN the stack holds one check, reported once, naming each construct once
    checks = [child for child in stack.node.children if type(child).__name__ == "_ScaleLimits"]
    assert len(checks) == 1
    message = synth_error(app)
    assert message.count(TOO_MANY_RESOURCES) == 1
    assert "It holds 2 Holder: Crowded/PipelineA, Crowded/PipelineB." in message


def test_reports_each_oversized_stack_once_beside_cdk_nag(tmp_path: Path) -> None:
    # GIVEN cdk-nag registered as a validation plugin, and two oversized stacks (one in a nested stage)
    app = new_app(tmp_path)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    one = cdk.Stack(app, "One")
    Holder(one, "PipelineA")
    Holder(one, "PipelineB")
    add_resources(one, 3, padding=HEAVY)
    sns.Topic(one, "Topic")  # a cdk-nag finding: publishers are not required to use TLS
    two = cdk.Stack(cdk.Stage(app, "Prod"), "Two")
    Holder(two, "Pipeline")
    add_resources(two, 3, padding=HEAVY)

    # THEN each stack is reported once, and cdk-nag still reports its finding
    message = synth_error(app)
    assert message.count(SIZE_RULE) == 2
    assert len(re.findall(r"Stack 'One' has a template of [\d,]+ bytes", message)) == 1
    assert len(re.findall(r"Stack 'Prod/Two' \(stack name 'Prod-Two'\) has a template of", message)) == 1
    assert "AwsSolutions-SNS3" in message


# ---------------------------------------------------------------------------------------------------------------
# Real pipelines (seconds each)


def test_fails_when_a_stack_holds_too_many_pipelines(tmp_path: Path) -> None:
    # GIVEN twelve pipelines of the default settings (45 resources each) in one stack
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Platform")
    for index in range(12):
        pipeline = ValidatedS3Pipeline(stack, f"Team{index}", validation=ValidationOptions(commands=["make"]))
        check_scale_limits(pipeline)  # a no-op once the pipeline calls it itself

    message = synth_error(app)
    assert re.search(
        rf"\[Platform\] \[{TOO_MANY_RESOURCES}\] Stack 'Platform' has \d{{3}} resources; CloudFormation accepts at "
        r"most 500 per stack and would reject it at deploy time\. It holds 12 ValidatedS3Pipeline: Platform/Team0, "
        r"Platform/Team1, Platform/Team2 and 9 more\. " + re.escape(FIX),
        message,
    )


def test_the_seed_example_passes(seed: Synthesized) -> None:
    # The pipeline registers the check on its stack itself; the session's synthesis of the example ran it and passed.
    stack = seed.stack
    assert stack.node.try_find_child("S3ValidatedPipelineScaleLimits") is not None
    app = stack.node.root
    assert isinstance(app, cdk.App)
    artifact = app.synth().get_stack_by_name(stack.stack_name)  # the session's assembly, not a second synthesis
    assert len(artifact.template["Resources"]) < MAX_RESOURCES
    assert Path(artifact.template_full_path).stat().st_size < MAX_TEMPLATE_BYTES
