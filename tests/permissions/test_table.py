"""docs/permissions.md's table is the permission plan's: generated from it (``scripts/permission_table.py``), so the
two cannot drift."""

from __future__ import annotations

import pytest
from scripts import permission_table

from tests.permissions import plan


def test_the_pages_table_is_the_one_the_plan_generates() -> None:
    page = permission_table.PAGE.read_text(encoding="utf-8")
    # THEN the page holds the generated section exactly once, and it is what the plan gives today
    assert page.count(permission_table.START) == page.count(permission_table.END) == 1
    assert permission_table.replaced(page) == page, "run: python -m scripts.permission_table --write"


def test_the_table_names_every_principal_entry_and_source() -> None:
    table = permission_table.render()
    for principal in plan.PRINCIPALS:
        assert f"### {principal.title}\n" in table
    for entry in plan.ENTRIES:
        assert entry.why in table
        assert f"]({entry.doc.url})" in table
    # One row per entry, under the header of its principal.
    rows = [line for line in table.splitlines() if line.startswith(("| may", "| must not"))]
    assert len(rows) == len(plan.ENTRIES)


def test_fails_when_the_page_lacks_the_markers() -> None:
    with pytest.raises(SystemExit, match="lacks the markers"):
        permission_table.replaced("# Permissions\n\nNo table here.\n")
