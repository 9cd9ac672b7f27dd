"""The "How it works" diagram of docs/architecture.md as an SVG: not every viewer renders Mermaid, so
``docs/how-it-works.svg``, rendered by ``make diagram`` (scripts/render_diagram.py, mermaid-cli in a headless Chromium),
is shown under the Mermaid block. The SVG records the SHA-256 of the Mermaid source it was rendered from, so a stale
picture is caught here without a browser."""

from __future__ import annotations

import re

from scripts.render_diagram import (
    PAGE,
    SECTION,
    SVG,
    mermaid_source,
    recorded_sha256,
    source_sha256,
    stamp,
)

from tests.conftest import ROOT


def test_svg_is_rendered_from_the_pages_current_diagram() -> None:
    # GIVEN the page's "How it works" Mermaid block and the SVG kept in the repository
    source = mermaid_source(PAGE.read_text(encoding="utf-8"))
    assert SVG.is_file(), f"{SVG.relative_to(ROOT)} is missing: run make diagram"
    # THEN the SVG was rendered from exactly that source
    assert recorded_sha256(SVG.read_text(encoding="utf-8")) == source_sha256(source), (
        f"{SVG.relative_to(ROOT)} was rendered from another version of {PAGE.name}'s {SECTION!r} diagram: "
        "run make diagram"
    )


def test_page_shows_the_svg_under_the_mermaid_block() -> None:
    # GIVEN the "How it works" section
    page = PAGE.read_text(encoding="utf-8")
    section = page[page.index(f"\n{SECTION}\n") :]
    section = section[: section.index("\n## ", 1)]
    # THEN an image of the SVG, beside the page, follows the Mermaid block before the section's text goes on
    after_block = section[section.index("```mermaid") :].split("\n```\n", 1)[1]
    first_paragraphs = after_block.strip().split("\n\n", 2)[:2]
    assert any(re.fullmatch(r"!\[[^\]]+\]\(how-it-works\.svg\)", p) for p in first_paragraphs), first_paragraphs


def test_svg_renders_outside_browsers() -> None:
    # Labels are SVG text, not HTML in <foreignObject>, which only browsers draw
    svg = SVG.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg")
    assert "<foreignObject" not in svg


def test_stamp_records_the_source_hash_once() -> None:
    # GIVEN an SVG already stamped  WHEN it is stamped again  THEN it holds only the new hash, on the root element
    svg = '<svg id="x" xmlns="http://www.w3.org/2000/svg"><g/></svg>'
    old, new = source_sha256("a"), source_sha256("b")
    restamped = stamp(stamp(svg, old), new)
    assert recorded_sha256(restamped) == new
    assert restamped.count("data-source-sha256") == 1
    assert recorded_sha256(svg) is None
