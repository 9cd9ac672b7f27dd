"""Synthesize an example app without an AWS account and print a short report on what it defines.

Run from the repository root::

    python -m scripts.synth_report examples/seed_pipeline [--outdir cdk.out/seed_pipeline]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import sys
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk

ROOT = Path(__file__).resolve().parent.parent
"""The repository root; the default assembly folder and the printed paths are relative to it."""

Template = Mapping[str, Any]

_ACK_SUFFIX = re.compile(r"\s*\[ack: (?P<id>[^\]]+)\]\s*$")


class ReportError(Exception):
    """A problem with the command line or the example, reported as one line and exit status 2."""


@dataclass(frozen=True)
class StackWarning:
    """One warning CDK reported for the stack."""

    path: str
    """The construct path the warning was added to."""
    ack_id: str | None
    """The id to pass to ``Annotations.acknowledge_warning``; None for warnings added without one."""
    text: str
    """The message's first line, without its ``[ack: ...]`` suffix."""


# --- Loading and synthesizing ------------------------------------------------------------------------------------


def load_example(folder: Path) -> ModuleType:
    """Import ``<folder>/app.py`` without running its ``__main__`` block."""
    app_file = folder / "app.py"
    if not app_file.is_file():
        raise ReportError(f"{display_path(folder)} has no app.py: pass an example folder, e.g. examples/seed_pipeline")
    name = f"example_{folder.name}"
    spec = importlib.util.spec_from_file_location(name, app_file)
    if spec is None or spec.loader is None:
        raise ReportError(f"cannot import {app_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as `import` would, so dataclasses and pickling inside the app work
    spec.loader.exec_module(module)
    if not callable(getattr(module, "build", None)):
        raise ReportError(f"{app_file} defines no build(app) function")
    return module


def build_stacks(module: ModuleType, app: cdk.App) -> list[cdk.Stack]:
    """Call the example's ``build(app)`` and check it returned its stack, or its stacks (examples/fleet)."""
    built = module.build(app)
    stacks = built if isinstance(built, list) else [built]
    if not stacks or not all(isinstance(stack, cdk.Stack) for stack in stacks):
        raise ReportError(
            f"build() in {module.__file__} returned {type(built).__name__}, not a cdk.Stack or a list of them"
        )
    return stacks


def cdk_json_context(folder: Path) -> dict[str, Any]:
    """Return the ``context`` of ``<folder>/cdk.json``, which `cdk synth` in that folder would apply."""
    cdk_json = folder / "cdk.json"
    if not cdk_json.is_file():
        return {}
    context = json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {})
    return dict(context) if isinstance(context, dict) else {}


def prepare_outdir(outdir: Path) -> None:
    """Create ``outdir`` empty. Only a previous cloud assembly is cleared, never an unrelated folder."""
    if outdir.exists():
        if not outdir.is_dir():
            raise ReportError(f"--outdir {outdir} is a file")
        if any(outdir.iterdir()) and not (outdir / "manifest.json").is_file():
            raise ReportError(f"--outdir {outdir} is not empty and holds no cloud assembly; refusing to clear it")
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)


def stack_warnings(artifact: cdk.cx_api.CloudFormationStackArtifact) -> list[StackWarning]:
    """Return the WARNING-level messages of a synthesized stack."""
    found = []
    for message in artifact.messages:
        if message.level != cdk.cx_api.SynthesisMessageLevel.WARNING:
            continue
        lines = str(message.entry.data).strip().splitlines() or [""]
        ack = _ACK_SUFFIX.search(lines[0])
        text = _ACK_SUFFIX.sub("", lines[0])
        found.append(StackWarning(path=message.id, ack_id=ack.group("id") if ack else None, text=text))
    return found


# --- Reading the template ----------------------------------------------------------------------------------------


def resources_of_type(template: Template, resource_type: str) -> list[Mapping[str, Any]]:
    """Return the ``Properties`` of every resource of ``resource_type``, in template order."""
    resources: Mapping[str, Mapping[str, Any]] = template.get("Resources", {})
    return [r.get("Properties", {}) for r in resources.values() if r.get("Type") == resource_type]


def pipeline_outline(template: Template) -> list[str]:
    """Describe each CodePipeline: type and execution mode, then its stages and their actions in order."""
    lines: list[str] = []
    for pipeline in resources_of_type(template, "AWS::CodePipeline::Pipeline"):
        pipeline_type = pipeline.get("PipelineType", "V1")
        mode = pipeline.get("ExecutionMode", "SUPERSEDED")
        lines.append(f"Pipeline ({pipeline_type}, execution mode {mode})")
        for number, stage in enumerate(pipeline.get("Stages", []), start=1):
            lines.append(f"  {number}. {stage.get('Name')}")
            for action in stage.get("Actions", []):
                type_id = action.get("ActionTypeId", {})
                kind = f"{type_id.get('Category')}/{type_id.get('Provider')}"
                lines.append(f"       {action.get('Name', '?'):<12} {kind}  (run order {action.get('RunOrder', 1)})")
    return lines or ["No AWS::CodePipeline::Pipeline in the template."]


def build_outline(template: Template) -> list[str]:
    """Describe each CodeBuild project: its image and its buildspec's install runtime-versions."""
    lines: list[str] = []
    for project in resources_of_type(template, "AWS::CodeBuild::Project"):
        image = project.get("Environment", {}).get("Image", "?")
        runtimes = format_runtimes(runtime_versions(project.get("Source", {})))
        lines.append(f"CodeBuild  {project.get('Description', '')}")
        lines.append(f"  {image}, runtimes {runtimes}")
    return lines or ["No AWS::CodeBuild::Project in the template."]


def runtime_versions(source: Mapping[str, Any]) -> dict[str, str] | None:
    """Return the buildspec's ``phases.install.runtime-versions``; None if the buildspec is not inline JSON."""
    buildspec = source.get("BuildSpec")
    if isinstance(buildspec, dict) and "Fn::Join" in buildspec:  # references in it, e.g. a report group's ARN
        buildspec = "".join(part if isinstance(part, str) else "REF" for part in buildspec["Fn::Join"][1])
    if not isinstance(buildspec, str):
        return None
    try:
        parsed = json.loads(buildspec)
    except json.JSONDecodeError:  # a YAML buildspec or a file name
        return None
    versions = parsed.get("phases", {}).get("install", {}).get("runtime-versions", {})
    return {str(k): str(v) for k, v in versions.items()}


def format_runtimes(versions: Mapping[str, str] | None) -> str:
    if versions is None:
        return "(buildspec is not inline JSON)"
    return ", ".join(f"{runtime} {version}" for runtime, version in versions.items()) or "(image defaults)"


def resource_counts(template: Template) -> dict[str, int]:
    """Count the template's resources by type, sorted by type."""
    resources: Mapping[str, Mapping[str, Any]] = template.get("Resources", {})
    counts = Counter(str(r.get("Type")) for r in resources.values())
    return dict(sorted(counts.items()))


def counts_outline(counts: Mapping[str, int]) -> list[str]:
    total = sum(counts.values())
    width = len(str(total))
    return [
        f"Resources ({len(counts)} types)",
        *(f"  {n:>{width}}  {resource_type}" for resource_type, n in counts.items()),
        f"  {total:>{width}}  total",
    ]


def warnings_outline(warnings: Sequence[StackWarning]) -> list[str]:
    if not warnings:
        return ["Warnings: none"]
    lines = [
        f"Warnings ({len(warnings)}): acknowledgeable in the app with "
        "cdk.Annotations.of(scope).acknowledge_warning(id, reason)"
    ]
    for warning in warnings:
        lines.append(f"  {warning.ack_id or '(no ack id: not acknowledgeable)'}  at {warning.path}")
        lines.extend(textwrap.wrap(warning.text, width=110, initial_indent="    ", subsequent_indent="    "))
    return lines


def display_path(path: Path) -> str:
    """Return ``path`` relative to the repository root when it lies inside it."""
    return os.path.relpath(path, ROOT) if path.is_relative_to(ROOT) else str(path)


# --- Command line ------------------------------------------------------------------------------------------------


def report(folder: Path, outdir: Path) -> list[str]:
    """Synthesize the example in ``folder`` into ``outdir`` and return the report's lines."""
    module = load_example(folder)
    prepare_outdir(outdir)
    # Nothing else is printed until synthesis ends: say what is happening, on stderr so the report stays clean.
    print(f"Synthesizing {display_path(folder)} (about 15 s)...", file=sys.stderr, flush=True)
    app = cdk.App(outdir=str(outdir), context=cdk_json_context(folder))
    stacks = build_stacks(module, app)
    assembly = app.synth()
    lines: list[str] = []
    for stack in stacks:
        artifact = assembly.get_stack_by_name(stack.stack_name)
        template: Template = artifact.template
        lines += [
            *([""] if lines else []),
            f"Example   {folder.name}  (stack {stack.stack_name})",
            f"Template  {display_path(Path(artifact.template_full_path))}",
            "",
            *pipeline_outline(template),
            "",
            *build_outline(template),
            "",
            *counts_outline(resource_counts(template)),
            "",
            *warnings_outline(stack_warnings(artifact)),
        ]
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.synth_report",
        description="Synthesize an example app (no AWS account needed) and report its pipeline and resources.",
    )
    parser.add_argument("example", type=Path, help="an example folder holding app.py, e.g. examples/seed_pipeline")
    parser.add_argument(
        "--outdir",
        type=Path,
        help="the cloud assembly folder, cleared first. Default: cdk.out/<example name> under the repository root",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    folder: Path = args.example.resolve()
    outdir: Path = (args.outdir or ROOT / "cdk.out" / folder.name).resolve()
    try:
        lines = report(folder, outdir)
    except ReportError as error:
        print(f"synth_report: {error}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
