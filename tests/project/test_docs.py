"""The README is a landing page PyPI can show; the reference pages in docs/ are complete, linked and true.

The README is the package's long description on PyPI, which shows no relative link or image (there is no public
repository to resolve them against), so it names the docs files as text. Synthesized examples of the pages are tested
in tests/examples/test_docs_apps.py; the tables kept in step with the code, beside the code they describe
(tests/project/test_layout.py: warnings; tests/check/test_rules.py: package-check rules).
"""

from __future__ import annotations

import importlib
import re
import shutil
from pathlib import Path

import aws_cdk as cdk
import pytest
from scripts import build_docs, check_docstrings

from s3_validated_pipeline import InputError, ValidatedS3Pipeline, ValidationOptions
from tests.conftest import EXAMPLES, ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_BYTES = 25_000
_MARKDOWN_TARGET = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)")
_REFERENCE_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.MULTILINE)
_HTML_TARGET = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def link_targets(markdown: str) -> list[str]:
    """Every link and image target of a Markdown text: inline, reference definitions, and HTML ``src``/``href``."""
    return [
        *_MARKDOWN_TARGET.findall(markdown),
        *_REFERENCE_DEFINITION.findall(markdown),
        *_HTML_TARGET.findall(markdown),
    ]


def not_for_pypi(markdown: str) -> list[str]:
    """The targets PyPI cannot resolve: anything but an ``https://`` address or an ``#anchor``."""
    return [target for target in link_targets(markdown) if not target.startswith(("https://", "#"))]


# --- The README -------------------------------------------------------------------------------------------------


def test_the_readme_is_a_page_pypi_shows_at_once() -> None:
    size = len(README.read_bytes())
    assert size <= MAX_README_BYTES, f"README.md is {size:,} bytes; move reference material to docs/"


def test_the_readme_has_no_relative_links_or_images() -> None:
    assert not_for_pypi(README.read_text(encoding="utf-8")) == []


def test_the_link_check_finds_every_kind_of_relative_target() -> None:
    # GIVEN a text with each kind of link PyPI cannot resolve, beside ones it can
    text = "\n".join(
        [
            "[options](docs/options.md) and ![diagram](docs/how-it-works.svg)",
            '<img src="docs/x.png"> <a href="CONTRIBUTING.md">guide</a>',
            "[ref]: SECURITY.md",
            "[site](https://example.com/a) [here](#install)",
        ]
    )
    # THEN the relative ones are reported, and only they
    assert not_for_pypi(text) == [
        "docs/options.md",
        "docs/how-it-works.svg",
        "SECURITY.md",
        "docs/x.png",
        "CONTRIBUTING.md",
    ]


def test_the_readme_names_every_reference_page_and_only_pages_that_exist() -> None:
    # GIVEN the docs files the README names as text, and the pages in docs/ (the index is for the HTML build)
    named = set(re.findall(r"`(docs/[a-z0-9-]+\.md)`", README.read_text(encoding="utf-8")))
    pages = {f"docs/{path.name}" for path in DOCS.glob("*.md") if path.stem != "index"}
    # THEN they are the same
    assert named == pages


def test_the_readme_has_a_placeholder_or_a_time_for_make_test() -> None:
    # The measured `make test` time is stated once, in the README's "Try it" section
    assert re.search(r"^`make test` takes about (\.\.\.|\d+ seconds) on 2 cores", README.read_text(), re.MULTILINE)


# --- The reference pages ----------------------------------------------------------------------------------------


def documented_text() -> str:
    """What users can read: the README, the reference pages and the examples' code."""
    sources = [README, *DOCS.glob("*.md"), *EXAMPLES.rglob("*.py")]
    return "\n".join(path.read_text(encoding="utf-8") for path in sources)


@pytest.mark.parametrize("package", check_docstrings.PACKAGES)
def test_every_public_name_is_explained_in_the_readme_docs_or_examples(package: str) -> None:
    # GIVEN the names a user writes (the package) and receives (its sub-packages)
    names = importlib.import_module(package).__all__
    text = documented_text()
    # THEN each appears, as a word, in what users read
    assert [name for name in names if not re.search(rf"\b{name}\b", text)] == []


def test_the_pages_link_only_to_pages_headings_files_and_api_pages_that_exist(tmp_path: Path) -> None:
    # GIVEN the pages rendered as make docs renders them, beside the files they show and a stand-in for each API page
    pages = build_docs.read_pages(DOCS)
    build_docs.write_pages(pages, tmp_path)
    for other in DOCS.iterdir():
        if other.is_file() and other.suffix not in (".md", ".html"):
            shutil.copy(other, tmp_path / other.name)
    for module in build_docs.MODULES:
        (tmp_path / "api" / f"{module.replace('.', '/')}.html").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "api" / f"{module.replace('.', '/')}.html").write_text("<html></html>", encoding="utf-8")
    # THEN every relative link and image of every page resolves
    assert build_docs.broken_links(pages, tmp_path) == []
    assert {page.name for page in pages} == {path.stem for path in DOCS.glob("*.md")}
    # AND the index links to every page
    assert build_docs.unlisted(pages) == []


def test_the_docs_build_reports_a_missing_page_file_anchor_and_index_entry(tmp_path: Path) -> None:
    # GIVEN a page linking to a page that exists, one that does not, a heading that does not exist, and a file
    (tmp_path / "a.md").write_text(
        "# A\n\n## Known\n\n[ok](b.md#b) [gone](c.md) [typo](b.md#nope) [self](#known) [no](#unknown) ![i](x.svg)\n",
        encoding="utf-8",
    )
    (tmp_path / "b.md").write_text("# B\n", encoding="utf-8")
    (tmp_path / "index.md").write_text("# Index\n\n[B](b.md)\n", encoding="utf-8")
    pages = build_docs.read_pages(tmp_path)
    build_docs.write_pages(pages, tmp_path)
    # THEN the links to pages point at their HTML, and every broken one is named
    [a] = [page for page in pages if page.name == "a"]
    assert 'href="b.html#b"' in a.html
    # AND a page the index does not link to is named
    assert build_docs.unlisted(pages) == ["docs/a.md"]
    assert build_docs.broken_links(pages, tmp_path) == [
        "docs/a.md: c.html: no such file",
        "docs/a.md: b.html#nope: no heading or anchor 'nope' there",
        "docs/a.md: #unknown: no heading or anchor 'unknown' there",
        "docs/a.md: x.svg: no such file",
    ]


def test_the_documented_input_error_is_the_one_raised() -> None:
    # GIVEN the example error of docs/warnings-and-errors.md
    page = (DOCS / "warnings-and-errors.md").read_text(encoding="utf-8")
    [shown] = re.findall(r"```text\n(.*?)```", page.split("\n## Errors\n", 1)[1], re.DOTALL)
    # WHEN a pipeline is given the two inputs it names
    with pytest.raises(InputError) as raised:
        ValidatedS3Pipeline(
            cdk.Stack(cdk.App(), "Docs"),
            "Pipeline",
            validation=ValidationOptions(commands=[]),
            object_key="/source.zip",
        )
    # THEN the page shows exactly the message raised
    assert str(raised.value) == shown.rstrip("\n")
