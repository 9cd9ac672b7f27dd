"""Benchmark: how much longer the seed example takes to synthesize than a hand-written minimal L2 pipeline.

Not a test: it asserts nothing about time. Both apps are built and synthesized alternately in one process, after a
warm-up round of each so jsii's start-up is not counted. Run from the repository root::

    python -m scripts.bench_synth [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_s3 as s3

from scripts.synth_report import ROOT, build_stacks, load_example, resource_counts

SEED_EXAMPLE = ROOT / "examples" / "seed_pipeline"

BuildFn = Callable[[cdk.App], cdk.Stack]


def build_hand_written(app: cdk.App) -> cdk.Stack:
    """The baseline: a versioned bucket, and a V2 pipeline of one S3 source and one CodeBuild action."""
    stack = cdk.Stack(app, "HandWrittenPipeline")
    bucket = s3.Bucket(stack, "Source", versioned=True)
    project = codebuild.PipelineProject(
        stack,
        "Project",
        build_spec=codebuild.BuildSpec.from_object(
            {"version": "0.2", "phases": {"build": {"commands": ["npm ci", "npm test"]}}}
        ),
    )
    source_output = codepipeline.Artifact("Source")
    codepipeline.Pipeline(
        stack,
        "Pipeline",
        pipeline_type=codepipeline.PipelineType.V2,
        stages=[
            codepipeline.StageProps(
                stage_name="Source",
                actions=[
                    actions.S3SourceAction(
                        action_name="Source", bucket=bucket, bucket_key="source.zip", output=source_output
                    )
                ],
            ),
            codepipeline.StageProps(
                stage_name="Build",
                actions=[actions.CodeBuildAction(action_name="Build", project=project, input=source_output)],
            ),
        ],
    )
    return stack


@dataclass(frozen=True)
class Synth:
    """One timed synthesis: seconds spent constructing and synthesizing, and the template produced."""

    seconds: float
    template: Mapping[str, Any]


def timed_synth(build: BuildFn) -> Synth:
    """Build a fresh app with ``build`` in a temporary folder and synthesize it, timing both."""
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as outdir:
        start = time.perf_counter()
        app = cdk.App(outdir=outdir)
        stack = build(app)
        artifact = app.synth().get_stack_by_name(stack.stack_name)
        seconds = time.perf_counter() - start
        return Synth(seconds, artifact.template)


def counts_line(name: str, template: Mapping[str, Any]) -> str:
    counts = resource_counts(template)
    return f"{name}: {sum(counts.values())} resources in {len(counts)} types"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench_synth",
        description="Time synthesis of the seed example against a hand-written minimal L2 pipeline.",
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after the warm-up (default: 5)")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    seed = load_example(SEED_EXAMPLE)
    contenders: dict[str, BuildFn] = {
        "ours": lambda app: build_stacks(seed, app)[0],  # the seed example has one stack
        "hand-written": build_hand_written,
    }

    print("warm-up (not counted): ", end="", flush=True)
    warm = {name: timed_synth(build) for name, build in contenders.items()}
    print(", ".join(f"{name} {synth.seconds:.2f} s" for name, synth in warm.items()))
    for name, synth in warm.items():
        print(f"  {counts_line(name, synth.template)}")

    times: dict[str, list[float]] = {name: [] for name in contenders}
    for number in range(1, args.rounds + 1):
        # Alternate which goes first, so neither always runs right after the other's garbage.
        order = list(contenders.items()) if number % 2 else list(reversed(contenders.items()))
        for name, build in order:
            times[name].append(timed_synth(build).seconds)
        print(f"round {number}: " + ", ".join(f"{name} {seconds[-1]:.2f} s" for name, seconds in times.items()))

    ours, hand_written = (statistics.median(times[name]) for name in contenders)
    print(f"median synth time: ours {ours:.2f} s, hand-written {hand_written:.2f} s, ratio {ours / hand_written:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
