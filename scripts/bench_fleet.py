"""Benchmark: 24 pipelines on one ``PipelineFoundation`` (examples/fleet) against 24 standalone pipelines.

Not a test: it asserts nothing about time. Both fleets are synthesized in this process, in the same run, and compared
by what their templates hold, by synthesis time and by an estimated monthly fixed cost, in a markdown table with the
ratio foundation / standalone for each row, ready for the README.

- On a foundation: ``build(app)`` of ``examples/fleet/app.py`` itself (its ``TEAMS``, stacks and options).
- Standalone: one ``ValidatedS3Pipeline`` per team with its own keys, buckets and operations, and the example's options
  and uploader grant (checked: both fleets' CodeBuild projects must be the same). The pipelines a stack can hold are
  computed from 1- and 2-pipeline stacks against CloudFormation's limits; the teams are spread over the fewest stacks.
- Marginal resources: 1- and 2-pipeline variants of each (the foundation's from the example's stack classes), 2 - 1:
  cheap, and exact as the shared parts do not grow in resources with the count; cross-checked by (24 - 1) / 23.
- Synthesis time: a fresh ``cdk.App`` built and synthesized into a temporary folder; the best of --rounds (the fleets
  alternate, which goes first swaps each round), after an untimed warm-up of each, divided by 24.
- Cost: counted from the templates (resource types and what they hold), priced with the table below.

Run from the repository root (about a minute on 2 cores)::

    python -m scripts.bench_fleet [--rounds 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

import s3_validated_pipeline as s3vp
from scripts.synth_report import ROOT, Template, cdk_json_context, load_example, resources_of_type

FLEET_EXAMPLE = ROOT / "examples" / "fleet"

# --------------------------------------------------------------------------------------------------------------
# Prices: us-east-1 list prices in USD, written down on 2026-12-01 from the AWS pricing pages named (re-check them
# before quoting). Only what a fleet pays each month whether or not it runs; whatever depends on use is excluded.

KMS_KEY_MONTH = 1.00
"""https://aws.amazon.com/kms/pricing/: each customer managed key, $1/month. A rotating key adds $1/month after its
first and again after its second yearly rotation (then no more): not counted (year one)."""
ALARM_METRIC_MONTH = 0.10
"""https://aws.amazon.com/cloudwatch/pricing/: standard-resolution alarm, $0.10 per alarm metric a month (an alarm
on a math expression pays for each metric in it). The free tier's 10 alarm metrics per account are not deducted."""
DASHBOARD_MONTH = 3.00
"""https://aws.amazon.com/cloudwatch/pricing/: $3 per dashboard a month."""
FREE_DASHBOARDS = 3
FREE_DASHBOARD_METRICS = 50
"""The free tier: an account's first 3 dashboards referencing up to 50 metrics each (assumed to be this fleet's)."""
CUSTOM_METRIC_MONTH = 0.30
"""https://aws.amazon.com/cloudwatch/pricing/: $0.30 per custom metric a month (first 10,000), one per distinct
name, namespace and dimension values, billed once the metric is emitted. The free tier's 10 are not deducted."""
TRAIL_MONTH = 0.00
"""https://aws.amazon.com/cloudtrail/pricing/: no monthly fee; data events ($0.10 per 100,000) are use. Nor has
CodePipeline V2 (what the construct builds): https://aws.amazon.com/codepipeline/pricing/, action minutes are use."""

# CloudFormation's per-template limits (docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits):
# 500 resources, 200 outputs, 1 MB for a template in S3 (as CDK deploys them; taken as 10^6 bytes, the lower reading).
MAX_RESOURCES = 500
MAX_OUTPUTS = 200
MAX_TEMPLATE_BYTES = 1_000_000
LOG_RESOURCE_POLICIES = 10
"""CloudWatch Logs resource policies per account and Region (not adjustable); each execution history needs one."""

# --------------------------------------------------------------------------------------------------------------
# Building the two fleets


def add_standalone(stack: cdk.Stack, team: str) -> None:
    """One pipeline with everything of its own, configured as examples/fleet configures each team's."""
    pipeline = s3vp.ValidatedS3Pipeline(
        stack,
        team,
        pipeline_name=f"fleet-{team}",  # the name the foundation gives it
        object_key=f"teams/{team}/source.zip",
        validation=s3vp.ValidationOptions(
            commands=["npm ci", "npm run build"], build_environment=s3vp.BuildEnvironment.UBUNTU_22_04_NODE_22
        ),
        test=s3vp.TestStageOptions(commands=["npm ci", "npm test"]),
        operations=s3vp.OperationsOptions(notifications=s3vp.NotificationOptions(emails=["platform@example.com"])),
    )
    pipeline.grant_upload(iam.Role.from_role_name(stack, f"{team}Uploader", f"{team}-developers"))


def spread(teams: Sequence[str], stacks: int) -> list[list[str]]:
    """``teams`` in ``stacks`` consecutive batches whose sizes differ by at most one."""
    bounds = [round(index * len(teams) / stacks) for index in range(stacks + 1)]
    return [list(teams[start:end]) for start, end in itertools.pairwise(bounds)]


def standalone_builder(teams: Sequence[str], stacks: int) -> Callable[[cdk.App], list[cdk.Stack]]:
    def build(app: cdk.App) -> list[cdk.Stack]:
        built = [cdk.Stack(app, f"Standalone{number}") for number in range(1, stacks + 1)]
        for stack, batch in zip(built, spread(teams, stacks), strict=True):
            for team in batch:
                add_standalone(stack, team)
        return built

    return build


def foundation_builder(fleet: Any, teams: Sequence[str]) -> Callable[[cdk.App], list[cdk.Stack]]:
    """The example's ``build`` for all its teams; for fewer, its own stack classes laid out as ``build`` does."""
    if list(teams) == list(fleet.TEAMS):
        return fleet.build  # type: ignore[no-any-return]

    def build(app: cdk.App) -> list[cdk.Stack]:
        shared = fleet.FoundationStack(app, "FleetFoundation")
        return [shared, fleet.TeamsStack(app, "FleetTeams1", foundation=shared.foundation, teams=list(teams))]

    return build


# --------------------------------------------------------------------------------------------------------------
# Synthesizing


@dataclass(frozen=True)
class Assembly:
    """One synthesized app: its seconds (construction and synthesis), and each stack's template and file size."""

    seconds: float
    templates: dict[str, Template]
    sizes: dict[str, int]

    def resources_of_type(self, resource_type: str) -> list[Mapping[str, Any]]:
        """The ``Properties`` of every resource of ``resource_type``, stack after stack."""
        return [r for t in self.templates.values() for r in resources_of_type(t, resource_type)]

    def count(self, resource_type: str) -> int:
        return len(self.resources_of_type(resource_type))

    def resources(self, stack: str | None = None) -> int:
        names = [stack] if stack else list(self.templates)
        return sum(len(self.templates[name].get("Resources", {})) for name in names)

    @property
    def bytes(self) -> int:
        return sum(self.sizes.values())


def synthesize(build: Callable[[cdk.App], list[cdk.Stack]], context: Mapping[str, Any]) -> Assembly:
    """Build a fresh app with ``build`` and synthesize it into a temporary folder, timing both."""
    with tempfile.TemporaryDirectory(prefix="bench_fleet_") as outdir:
        started = time.perf_counter()
        app = cdk.App(outdir=outdir, context=dict(context))
        stacks = build(app)
        assembly = app.synth()
        seconds = time.perf_counter() - started
        templates, sizes = {}, {}
        for stack in stacks:
            artifact = assembly.get_stack_by_name(stack.stack_name)
            templates[stack.stack_name] = artifact.template
            sizes[stack.stack_name] = Path(artifact.template_full_path).stat().st_size
    return Assembly(seconds, templates, sizes)


Capacity = dict[str, tuple[int, int, int]]
"""For each CloudFormation limit: what a standalone pipeline takes, what its stack takes, how many pipelines fit."""


def capacity(one: Assembly, two: Assembly) -> Capacity:
    """How many standalone pipelines fit in one stack, by each limit, from the 1- and 2-pipeline stacks."""
    (stack1,), (stack2,) = one.templates, two.templates
    measures = {
        f"{MAX_RESOURCES} resources": (one.resources(), two.resources(), MAX_RESOURCES),
        f"{MAX_OUTPUTS} outputs": (len(one.templates[stack1].get("Outputs", {})),
                                   len(two.templates[stack2].get("Outputs", {})), MAX_OUTPUTS),
        f"{MAX_TEMPLATE_BYTES:,} bytes": (one.sizes[stack1], two.sizes[stack2], MAX_TEMPLATE_BYTES),
    }  # fmt: skip
    by_limit = {}
    for name, (first, second, limit) in measures.items():
        per_pipeline, base = second - first, 2 * first - second
        by_limit[name] = (per_pipeline, base, (limit - base) // per_pipeline if per_pipeline > 0 else 10**9)
    return by_limit


# --------------------------------------------------------------------------------------------------------------
# Counting what costs money, from the templates


def _join_text(value: Any) -> str | None:
    """A string, or an ``Fn::Join`` on "" with each non-string part (a token) replaced by ``TOKEN``; else None."""
    if isinstance(value, str):
        return value
    parts = value.get("Fn::Join") if isinstance(value, dict) else None
    if not isinstance(parts, list) or len(parts) != 2 or parts[0] != "" or not isinstance(parts[1], list):
        return None
    return "".join(part if isinstance(part, str) else "TOKEN" for part in parts[1])


def alarm_metrics(alarm: Mapping[str, Any]) -> int:
    """An alarm on one metric pays for one; an alarm on an expression, for each metric the expression reads."""
    if "Metrics" not in alarm:
        return 1
    return sum(1 for query in alarm["Metrics"] if "MetricStat" in query)


def dashboard_metrics(dashboard: Mapping[str, Any]) -> int:
    """The metrics a dashboard's widgets graph (math expressions and alarm widgets not counted)."""
    body = _join_text(dashboard.get("DashboardBody"))
    if body is None:
        raise SystemExit(f"cannot read a dashboard body: {str(dashboard.get('DashboardBody'))[:200]}")
    count = 0
    for widget in json.loads(body).get("widgets", []):
        for line in widget.get("properties", {}).get("metrics", []):
            if any(isinstance(part, str) for part in line):  # not [{"expression": ...}] alone
                count += 1
    return count


def dashboards(assembly: Assembly) -> list[int]:
    """The metrics graphed by each dashboard of the app."""
    found = assembly.resources_of_type("AWS::CloudWatch::Dashboard")
    return [dashboard_metrics(dashboard) for dashboard in found]


def free_dashboards(metric_counts: Sequence[int]) -> int:
    """How many of these dashboards the free tier covers (assuming they are the account's only ones)."""
    return min(FREE_DASHBOARDS, sum(1 for count in metric_counts if count <= FREE_DASHBOARD_METRICS))


def _pipelines_logging_to(template: Template, group_id: str, names: Sequence[str]) -> int:
    """How many pipelines the rule that writes to log group ``group_id`` (in ``template``) matches."""
    reference = json.dumps({"Ref": group_id})
    for rule in resources_of_type(template, "AWS::Events::Rule"):
        if not any(reference in json.dumps(target.get("Arn")) for target in rule.get("Targets", [])):
            continue
        count = 0
        for entry in rule.get("EventPattern", {}).get("resources", []):
            prefix = _join_text(entry["prefix"]) if isinstance(entry, dict) and "prefix" in entry else None
            if prefix is None:
                count += 1  # one pipeline's ARN
            else:
                start = prefix.rsplit(":", 1)[-1]
                count += sum(1 for name in names if name.startswith(start))
        return count
    raise SystemExit(f"no rule writes to the log group {group_id}: cannot tell which pipelines it records")


def _dimension_values(dimension: Mapping[str, str], template: Template, metric_filter: Mapping[str, Any],
                      names: Sequence[str]) -> int:  # fmt: skip
    """How many values a metric filter's dimension takes: the pipelines its log group records, the states its
    pattern matches, or one for a constant."""
    source = dimension["Value"]
    if not source.startswith("$."):
        return 1
    if source == "$.detail.pipeline":
        return _pipelines_logging_to(template, metric_filter["LogGroupName"]["Ref"], names)
    if source == "$.detail.state":
        return len(set(re.findall(r'\$\.detail\.state = "(\w+)"', metric_filter.get("FilterPattern", ""))))
    raise SystemExit(f"cannot count the values of dimension {dimension['Key']} = {source}")


def custom_metrics(templates: Mapping[str, Template]) -> int:
    """Distinct metrics the metric filters can emit: per transformation, the product of its dimensions' values."""
    names = [p.get("Name", "") for t in templates.values() for p in resources_of_type(t, "AWS::CodePipeline::Pipeline")]
    if not all(isinstance(name, str) and name for name in names):
        raise SystemExit("a pipeline has no literal Name: its metrics cannot be counted")
    return sum(
        math.prod(
            _dimension_values(dimension, template, found, names) for dimension in transformation.get("Dimensions", [])
        )
        for template in templates.values()
        for found in resources_of_type(template, "AWS::Logs::MetricFilter")
        for transformation in found.get("MetricTransformations", [])
    )


@dataclass(frozen=True)
class CostItem:
    what: str
    count: int
    unit: float

    @property
    def monthly(self) -> float:
        return self.count * self.unit


def cost_items(assembly: Assembly) -> list[CostItem]:
    """The fixed monthly cost of an app, item by item, counted from its templates."""
    alarms = assembly.resources_of_type("AWS::CloudWatch::Alarm")
    graphs = dashboards(assembly)
    items = [
        CostItem("KMS customer managed keys", assembly.count("AWS::KMS::Key"), KMS_KEY_MONTH),
        CostItem("CloudWatch alarm metrics", sum(alarm_metrics(alarm) for alarm in alarms), ALARM_METRIC_MONTH),
        CostItem("CloudWatch dashboards beyond the free tier", len(graphs) - free_dashboards(graphs), DASHBOARD_MONTH),
        CostItem("custom metrics from the history's metric filters", custom_metrics(assembly.templates),
                 CUSTOM_METRIC_MONTH),
    ]  # fmt: skip
    if trails := assembly.count("AWS::CloudTrail::Trail"):
        items.append(CostItem("CloudTrail trails", trails, TRAIL_MONTH))
    return items


def monthly(assembly: Assembly) -> float:
    """The fixed monthly cost of an app, in USD."""
    return sum(item.monthly for item in cost_items(assembly))


# --------------------------------------------------------------------------------------------------------------
# Checking and reporting


def check_same_pipelines(standalone: Assembly, foundation: Assembly) -> None:
    """Exit unless both fleets have the same CodeBuild projects (buildspec, image, compute type: what the pipelines'
    options decide), so the standalone copy cannot drift from the example unnoticed."""

    def projects(assembly: Assembly) -> Counter[str]:
        return Counter(
            json.dumps([p["Source"].get("BuildSpec"), p["Environment"].get("Image"), p["Environment"]["ComputeType"]])
            for p in assembly.resources_of_type("AWS::CodeBuild::Project")
        )

    if projects(standalone) != projects(foundation):
        raise SystemExit(
            "the standalone pipelines' CodeBuild projects differ from examples/fleet's: update add_standalone() to "
            "configure each pipeline as examples/fleet/app.py does"
        )


@dataclass(frozen=True)
class Fleet:
    """One way of building the fleet, measured: all its pipelines, 1 and 2 of them, and its best synthesis time."""

    name: str
    full: Assembly
    one: Assembly
    two: Assembly
    best_seconds: float

    @property
    def marginal(self) -> int:
        return self.two.resources() - self.one.resources()


def table(standalone: Fleet, foundation: Fleet, count: int, rounds: int) -> list[str]:
    """The markdown table: one row per measure, each fleet's figure and the ratio foundation / standalone."""

    def both(measure: Callable[[Fleet], float]) -> tuple[float, float]:
        return measure(standalone), measure(foundation)

    rows: list[tuple[str, tuple[float, float], str]] = [
        ("stacks", both(lambda f: len(f.full.templates)), "{:.0f}"),
        ("resources, total", both(lambda f: f.full.resources()), "{:,.0f}"),
        (f"resources per pipeline (total / {count})", both(lambda f: f.full.resources() / count), "{:.1f}"),
        ("resources added by one more pipeline (2 - 1)", both(lambda f: f.marginal), "{:.0f}"),
        ("KMS keys", both(lambda f: f.full.count("AWS::KMS::Key")), "{:.0f}"),
        ("template bytes, total", both(lambda f: f.full.bytes), "{:,.0f}"),
        ("template bytes per pipeline", both(lambda f: f.full.bytes / count), "{:,.0f}"),
        (f"synthesis seconds per pipeline (best of {rounds})", both(lambda f: f.best_seconds / count), "{:.3f}"),
        ("fixed cost per pipeline, USD a month (estimate)", both(lambda f: monthly(f.full) / count), "{:.2f}"),
    ]
    lines = [
        f"| {count} pipelines | {standalone.name} | {foundation.name} | {foundation.name} / {standalone.name} |",
        "|---|---:|---:|---:|",
    ]
    for label, (ours, theirs), form in rows:
        ratio = f"{theirs / ours:.2f}x" if ours else "-"
        lines.append(f"| {label} | {form.format(ours)} | {form.format(theirs)} | {ratio} |")
    return lines


def cost_table(standalone: Fleet, foundation: Fleet, count: int) -> list[str]:
    """What the fixed cost is made of: for each item its unit price, and each fleet's count and monthly USD."""
    items = {fleet.name: {item.what: item for item in cost_items(fleet.full)} for fleet in (standalone, foundation)}
    lines = [
        f"| fixed cost of the {count} pipelines, a month | USD each | {standalone.name} | {foundation.name} |",
        "|---|---:|---:|---:|",
    ]
    for what in dict.fromkeys(what for found in items.values() for what in found):
        found = [items[fleet.name].get(what) for fleet in (standalone, foundation)]
        unit = next(item.unit for item in found if item is not None)
        cells = [f"{item.count} = {item.monthly:.2f}" if item else "0" for item in found]
        lines.append(f"| {what} | {unit:.2f} | {cells[0]} | {cells[1]} |")
    lines.append(f"| total | | {monthly(standalone.full):.2f} | {monthly(foundation.full):.2f} |")
    return lines


def limits(full: Assembly, name: str) -> str:
    """The largest stack, by resources and by bytes, against CloudFormation's limits."""
    most = max(full.templates, key=full.resources)
    biggest = max(full.sizes, key=full.sizes.__getitem__)
    return (
        f"- {name}: largest stack {most} with {full.resources(most)} of {MAX_RESOURCES} resources "
        f"({full.resources(most) / MAX_RESOURCES:.0%}); largest template {biggest} with {full.sizes[biggest]:,} of "
        f"{MAX_TEMPLATE_BYTES:,} bytes ({full.sizes[biggest] / MAX_TEMPLATE_BYTES:.0%})."
    )


def fleet_notes(fleet: Fleet, count: int) -> list[str]:
    """How the fleet's marginal figures were checked, its dashboards, keys and quotas that bind."""
    check = (fleet.full.resources() - fleet.one.resources()) / (count - 1)
    graphs = dashboards(fleet.full)
    rotating = sum(1 for key in fleet.full.resources_of_type("AWS::KMS::Key") if key.get("EnableKeyRotation"))
    lines = [
        f"- {fleet.name}: one more pipeline adds {fleet.marginal} resources and "
        f"{fleet.two.bytes - fleet.one.bytes:,} template bytes (2 - 1; ({count} - 1) / {count - 1} gives {check:.1f} "
        f"resources). {len(graphs)} dashboard(s) graphing {', '.join(map(str, sorted(set(graphs)))) or 'no'} "
        f"metrics each, {free_dashboards(graphs)} of them free. {rotating} of its KMS keys rotate yearly (after "
        "the first and second rotation, +$1 a month each: not counted)."
    ]
    policies = fleet.full.count("AWS::Logs::ResourcePolicy")
    if policies > LOG_RESOURCE_POLICIES:
        lines.append(
            f"  Its {policies} CloudWatch Logs resource policies exceed the quota of {LOG_RESOURCE_POLICIES} per "
            "account and Region (not adjustable): as built, it cannot be deployed to one account and Region."
        )
    return lines


def notes(standalone: Fleet, foundation: Fleet, count: int, room: Capacity) -> list[str]:
    per_stack = "; ".join(
        f"{name}: {per:,} per pipeline + {base:,} per stack, so {fits} fit" for name, (per, base, fits) in room.items()
    )
    return [
        "Limits (CloudFormation, per template):",
        limits(standalone.full, standalone.name),
        limits(foundation.full, foundation.name),
        "",
        "How the figures were made:",
        f"- standalone stacks, from the 1- and 2-pipeline stacks: {per_stack}; so {len(standalone.full.templates)} "
        f"stacks for the {count} pipelines, spread evenly.",
        *fleet_notes(standalone, count),
        *fleet_notes(foundation, count),
        "- Fixed cost: us-east-1 list prices (see the top of scripts/bench_fleet.py); the free tier's 10 alarm metrics "
        "and 10 custom metrics not deducted. Custom metrics: each history metric filter's Executions by PipelineName "
        "(the pipelines its rule records) and State (the outcome states in its pattern), billed once emitted. "
        "Excluded, as they depend on use: requests, builds, action minutes, logs, storage, messages, events.",
    ]


def run(rounds: int) -> None:
    example = load_example(FLEET_EXAMPLE)
    teams: list[str] = list(example.TEAMS)
    count = len(teams)
    context = cdk_json_context(FLEET_EXAMPLE)
    started = time.perf_counter()

    print("1- and 2-pipeline variants of each (not timed) ...", flush=True)
    small = {
        "standalone": {n: synthesize(standalone_builder(teams[:n], 1), context) for n in (1, 2)},
        "on a foundation": {n: synthesize(foundation_builder(example, teams[:n]), context) for n in (1, 2)},
    }
    room = capacity(small["standalone"][1], small["standalone"][2])
    most = min(fit for *_, fit in room.values())
    print(f"standalone: at most {most} pipelines fit a stack, so {math.ceil(count / most)} stacks", flush=True)
    builds = {
        "standalone": standalone_builder(teams, math.ceil(count / most)),
        "on a foundation": foundation_builder(example, teams),
    }
    warm = {name: synthesize(build, context).seconds for name, build in builds.items()}
    print("warm-up (not counted): " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in warm.items()))

    times: dict[str, list[float]] = {name: [] for name in builds}
    full: dict[str, Assembly] = {}
    for number in range(1, rounds + 1):
        # Alternate which goes first, so neither always runs right after the other's garbage.
        for name, build in list(builds.items())[:: 1 if number % 2 else -1]:
            full[name] = synthesize(build, context)
            times[name].append(full[name].seconds)
        print(f"round {number}: " + ", ".join(f"{name} {t[-1]:.2f} s" for name, t in times.items()), flush=True)
    check_same_pipelines(full["standalone"], full["on a foundation"])
    standalone, foundation = (
        Fleet(name, full[name], small[name][1], small[name][2], min(times[name])) for name in builds
    )
    print(f"(the bench took {time.perf_counter() - started:.0f} s)\n")
    report = [*table(standalone, foundation, count, rounds), "", *cost_table(standalone, foundation, count), ""]
    print("\n".join([*report, *notes(standalone, foundation, count, room)]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench_fleet",
        description="Compare 24 standalone pipelines with the 24 of examples/fleet on one PipelineFoundation.",
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed syntheses of each fleet (default: 3)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    run(args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
