"""Generate the parts of SECURITY.md that must not drift from the code: every acknowledgement and checkov skip.

They are read from the seed example as synthesized, below its ``ValidatedS3Pipeline`` construct. Run from the
repository root::

    python -m scripts.security_doc          # print the generated section
    python -m scripts.security_doc --write  # rewrite it in SECURITY.md

A test fails when SECURITY.md and the code disagree.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct

from scripts.synth_report import ROOT, load_example

SECURITY_MD = ROOT / "SECURITY.md"
START = "<!-- generated: acknowledgements (python -m scripts.security_doc --write) -->"
END = "<!-- end generated -->"


def acknowledgements(scope: IConstruct) -> list[tuple[str, str, str]]:
    """Return (construct path below ``scope``, finding id, reason) for every acknowledgement under ``scope``."""
    rows = []
    prefix = scope.node.path
    for construct in scope.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            for rule, reason in entry.data.items():
                finding = rule.removeprefix("Annotation::")
                path = construct.node.path.removeprefix(prefix).lstrip("/") or "(the construct)"
                rows.append((path, finding, reason))
    return sorted(rows)


def checkov_skips(scope: IConstruct, template: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Return (construct path below ``scope``, check id, comment) for every checkov skip in the template."""
    paths = {
        cdk.Stack.of(c).resolve(c.logical_id): c.node.path.removeprefix(scope.node.path).lstrip("/")
        for c in scope.node.find_all()
        if isinstance(c, cdk.CfnResource)
    }
    rows = []
    for logical_id, resource in template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            rows.append((paths.get(logical_id, logical_id), skip["id"], skip["comment"]))
    return sorted(rows)


def _table(header: tuple[str, str, str], rows: list[tuple[str, str, str]]) -> list[str]:
    lines = [f"| {' | '.join(header)} |", "| --- | --- | --- |"]
    lines += [f"| `{path}` | `{finding}` | {reason} |" for path, finding, reason in rows]
    return lines


def render(app: cdk.App) -> str:
    """Return the generated section for the seed example held by ``app``."""
    stack = next(c for c in app.node.children if isinstance(c, cdk.Stack))
    pipeline = app.node.find_child(stack.node.id).node.find_child("Pipeline")
    template = app.synth().get_stack_by_name(stack.stack_name).template
    acks = acknowledgements(pipeline)
    skips = checkov_skips(pipeline, template)
    lines = [
        START,
        "",
        f"cdk-nag acknowledgements ({len(acks)}), each on the construct whose resource the finding is about "
        "(paths below the `ValidatedS3Pipeline` construct):",
        "",
        *_table(("Construct", "Finding", "Why it is safe"), acks),
        "",
        f"checkov skips ({len(skips)}), written into the resource's CloudFormation metadata:",
        "",
        *_table(("Resource", "Check", "Why it does not apply"), skips),
        "",
        END,
    ]
    return "\n".join(lines)


def generated_section(text: str) -> str:
    """Return the generated section of SECURITY.md's text, markers included."""
    start, end = text.index(START), text.index(END) + len(END)
    return text[start:end]


def seed_app() -> cdk.App:
    app = cdk.App()
    load_example(ROOT / "examples" / "seed_pipeline").build(app)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="rewrite the generated section of SECURITY.md")
    args = parser.parse_args(argv)
    section = render(seed_app())
    if not args.write:
        print(section)
        return 0
    text = SECURITY_MD.read_text(encoding="utf-8")
    SECURITY_MD.write_text(text.replace(generated_section(text), section), encoding="utf-8")
    print(f"Updated {SECURITY_MD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
