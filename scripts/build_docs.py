"""Build the HTML documentation: the reference pages ``docs/*.md`` and, beside them, the API reference in ``docs/api/``.

``make docs`` runs it as ``python -W error -m scripts.build_docs``, so any warning (from pdoc: a name in ``__all__``
that does not resolve, a docstring it cannot parse; or from an import) fails the build. It first runs
``scripts.check_docstrings``: every public name must have a docstring of its own.

- The API reference, by pdoc: the package's ``__all__``, the sub-packages whose types a pipeline gives back
  (``source``, ``stages``, ``operations``, ``foundation``) and the package checker's command line.
- Every ``docs/*.md`` page as ``docs/<page>.html``, rendered with pdoc's own Markdown renderer (markdown2, as pdoc
  renders docstrings) in pdoc's page frame. Links to another page (``stages.md#rollback``) point at its HTML.

Then every relative link and image of the pages must resolve: to a page, a heading of it (its id), a file, or an API
page and its anchors; and the index must link to every page (the navigation lists them in its order). A broken link or
a page left out fails the build, naming it.
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pdoc
import pdoc.render
from pdoc.render_helpers import to_html

import s3_validated_pipeline

from . import check_docstrings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
API = DOCS / "api"
MODULES = (*check_docstrings.PACKAGES, "s3_validated_pipeline.check")
"""The package, the sub-packages whose types a pipeline gives back, and the package checker's command line."""

_PAGE_LINK = re.compile(r'(href=")([A-Za-z0-9_-]+)\.md(#[^"]*)?"')
_REFERENCES = re.compile(r'(?:href|src)="([^"]*)"')
_IDS = re.compile(r'\sid="([^"]+)"')
_PAGE = """{% extends "frame.html.jinja2" %}
{% block title %}{{ title }}{% endblock %}
{% block nav %}
    <h2><a href="index.html">Reference</a></h2>
    <ul>{% for page, name in pages %}<li><a href="{{ page }}.html">{{ name }}</a></li>{% endfor %}</ul>
    <h2><a href="api/s3_validated_pipeline.html">API</a></h2>
    <ul>{% for module in modules %}
        <li><a href="api/{{ module.replace('.', '/') }}.html">{{ module }}</a></li>
    {% endfor %}</ul>
{% endblock %}
{% block content %}
    <main class="pdoc"><section>{{ body | safe }}</section></main>
{% endblock %}
"""


@dataclass(frozen=True)
class Page:
    """One Markdown page of ``docs/`` and its HTML."""

    name: str  # the file's stem: "stages" for docs/stages.md
    title: str  # its first heading
    html: str  # the rendered body


def resolve_lazy_names() -> None:
    """Bind every name of ``__all__`` in the package's namespace.

    The package imports its names on first use (a module ``__getattr__``, so that the stdlib-only package checker
    starts without aws-cdk-lib). pdoc only looks in the module's ``__dict__``, so it would report each name as not
    resolving; binding them here, in this process only, lets it document each name where the package exports it.
    """
    package = s3_validated_pipeline
    for name in package.__all__:
        setattr(package, name, getattr(package, name))


def render_markdown(markdown: str) -> str:
    """A page's body as HTML, with links to other pages (``x.md``) pointing at their HTML (``x.html``)."""
    return _PAGE_LINK.sub(lambda m: f'{m.group(1)}{m.group(2)}.html{m.group(3) or ""}"', str(to_html(markdown)))


def read_pages(docs: Path = DOCS) -> list[Page]:
    """Every ``*.md`` page of ``docs``, the index first, then by name."""
    pages = []
    for path in sorted(docs.glob("*.md"), key=lambda p: (p.stem != "index", p.stem)):
        markdown = path.read_text(encoding="utf-8")
        heading = re.search(r"^# (.+)$", markdown, re.MULTILINE)
        title = heading.group(1).strip() if heading else path.stem
        pages.append(Page(path.stem, title.replace("`", ""), render_markdown(markdown)))
    return pages


def write_pages(pages: list[Page], docs: Path = DOCS) -> None:
    """Write each page as ``docs/<name>.html`` in pdoc's frame, with a navigation to every page and API module."""
    template = pdoc.render.env.from_string(_PAGE)
    contents = [(page.name, page.title) for page in in_index_order(pages)]
    for page in pages:
        html = template.render(
            title=f"{page.title} - s3-validated-pipeline",
            body=page.html,
            pages=contents,
            modules=MODULES,
            mermaid="mermaid" in page.html,
        )
        (docs / f"{page.name}.html").write_text(html, encoding="utf-8")


def in_index_order(pages: list[Page]) -> list[Page]:
    """The pages the index links to, in its order (the navigation's)."""
    [index] = [page for page in pages if page.name == "index"]
    linked = list(dict.fromkeys(re.findall(r'href="([A-Za-z0-9_-]+)\.html[#"]', index.html)))
    by_name = {page.name: page for page in pages}
    return [by_name[name] for name in linked if name in by_name and name != "index"]


def unlisted(pages: list[Page]) -> list[str]:
    """The pages the index does not link to: a reader of the HTML would never find them."""
    listed = {page.name for page in in_index_order(pages)}
    return [f"docs/{page.name}.md" for page in pages if page.name not in listed | {"index"}]


def broken_links(pages: list[Page], docs: Path = DOCS) -> list[str]:
    """Every relative link or image of ``pages`` whose file, page or anchor does not exist under ``docs``."""
    broken = []
    for page in pages:
        for reference in _REFERENCES.findall(page.html):
            if re.match(r"^[a-z][a-z0-9+.-]*:", reference) or reference.startswith("//"):
                continue  # https:, mailto:, data: ... are not ours to check
            target, _, anchor = reference.partition("#")
            path = docs / target if target else docs / f"{page.name}.html"
            if not path.is_file():
                broken.append(f"docs/{page.name}.md: {reference}: no such file")
            elif anchor and anchor not in _ids(path, pages, docs):
                broken.append(f"docs/{page.name}.md: {reference}: no heading or anchor {anchor!r} there")
    return broken


def _ids(path: Path, pages: list[Page], docs: Path) -> set[str]:
    own = {docs / f"{page.name}.html": page.html for page in pages}
    html = own.get(path) or path.read_text(encoding="utf-8")
    return set(_IDS.findall(html))


def main() -> int:
    if check_docstrings.main() != 0:
        return 1
    resolve_lazy_names()
    shutil.rmtree(API, ignore_errors=True)
    for built in DOCS.glob("*.html"):
        built.unlink()
    pdoc.render.configure(docformat="restructuredtext", footer_text=f"s3-validated-pipeline {_version()}")
    pdoc.pdoc(*MODULES, output_directory=API)
    pages = read_pages()
    write_pages(pages)
    broken = broken_links(pages)
    for problem in broken:
        print(f"build_docs: broken link in {problem}", file=sys.stderr)
    for page in unlisted(pages):
        print(f"build_docs: docs/index.md does not link to {page}", file=sys.stderr)
    if broken or unlisted(pages):
        return 1
    api_pages = sum(1 for _ in API.rglob("*.html"))
    print(f"build_docs: {len(pages)} reference pages in docs/ (open docs/index.html), {api_pages} in docs/api/")
    return 0


def _version() -> str:
    return str(getattr(s3_validated_pipeline, "__version__", ""))


if __name__ == "__main__":
    sys.exit(main())
