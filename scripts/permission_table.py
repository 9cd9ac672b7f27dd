"""Generate the table of docs/permissions.md from the permission plan (``tests/permissions/plan.py``): for each
principal, how to find it in a template, what it may do and must not, on what, why, and the AWS page it comes from.

Run from the repository root::

    python -m scripts.permission_table          # print the generated section
    python -m scripts.permission_table --write  # rewrite it in docs/permissions.md

A test (tests/permissions/test_table.py) fails when the page and the plan disagree.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.permissions import plan

PAGE = Path(__file__).resolve().parent.parent / "docs" / "permissions.md"
START = "<!-- generated: permission table (python -m scripts.permission_table --write) -->"
END = "<!-- end generated -->"


def _row(entry: plan.Entry) -> str:
    may = "may" if entry.needed else "must not"
    if entry.gap:
        may += f" (known gap: {entry.gap})"
    actions = "<br>".join(f"`{action}`" for action in entry.actions)
    resource = entry.resource + (f" (when {entry.when})" if entry.when else "")
    cells = (may, actions, resource, entry.why, f"[{entry.doc.title}]({entry.doc.url})")
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def render() -> str:
    """The generated section: one part per principal of the plan, in the plan's order."""
    lines = [START]
    for principal in plan.PRINCIPALS:
        entries = [entry for entry in plan.ENTRIES if entry.principal is principal]
        examples = ", ".join(f"`{name}`" for name in sorted(plan.PRESENT) if principal.id in plan.PRESENT[name])
        lines += [
            "",
            f"### {principal.title}",
            "",
            f"Found as {principal.how}. In the examples: {examples}.",
            "",
            "| | Actions | Resource | Why | Source |",
            "| --- | --- | --- | --- | --- |",
            *(_row(entry) for entry in sorted(entries, key=lambda e: not e.needed)),
        ]
    lines += ["", END]
    return "\n".join(lines)


def replaced(page: str) -> str:
    """``page`` with its generated section replaced by ``render()``'s."""
    before, found, rest = page.partition(START)
    _, ended, after = rest.partition(END)
    if not (found and ended):
        raise SystemExit(f"{PAGE} lacks the markers {START!r} and {END!r}")
    return before + render() + after


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the section in docs/permissions.md")
    arguments = parser.parse_args(argv)
    if arguments.write:
        PAGE.write_text(replaced(PAGE.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        sys.stdout.write(render() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
