"""Render the "How it works" diagram of ``docs/architecture.md`` to ``docs/how-it-works.svg`` (``make diagram``).

Not every viewer renders Mermaid, so the page shows this SVG under the Mermaid block. It is rendered with mermaid-cli
(``mmdc``, from npm through ``npx``, pinned below) in a headless Chromium: puppeteer's own browser download is
skipped (``PUPPETEER_SKIP_DOWNLOAD=1``) and the system's Chromium is used (Debian: ``apt-get install chromium``;
or set ``PUPPETEER_EXECUTABLE_PATH``), with ``--no-sandbox`` so it runs as root in a container.

After rendering, the SHA-256 of the Mermaid source is written into the SVG's root element as
``data-source-sha256``. ``tests/project/test_diagram.py`` compares it with the page's current block, so CI
notices a stale picture without a browser. Run from the repository root::

    python3 -m scripts.render_diagram          # re-render docs/how-it-works.svg
    python3 -m scripts.render_diagram --check  # exit 1 if the SVG does not match the page (no browser needed)

Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"
SVG = ROOT / "docs" / "how-it-works.svg"
SECTION = "## How it works"
MERMAID_CLI = "@mermaid-js/mermaid-cli@11.9.0"  # 12.x needs Node.js >= 22.13; 11.x runs on Node.js 18.19 and 20
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Labels as SVG text rather than HTML in <foreignObject>: the picture then renders in any SVG viewer, not only in
# browsers. Fixed ids and a fixed seed for the shapes' path jitter: the same source gives the same bytes, so a
# re-render shows no diff. A white background (below) keeps it legible on dark pages.
MERMAID_CONFIG = {
    "theme": "default",
    "htmlLabels": False,
    "flowchart": {"htmlLabels": False},
    "deterministicIds": True,
    "handDrawnSeed": 1,
}
SHA_ATTRIBUTE = re.compile(r'\sdata-source-sha256="([0-9a-f]{64})"')
FENCE = re.compile(r"^```mermaid[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def mermaid_source(page: str) -> str:
    """The first ``mermaid`` block of the page's "How it works" section, as written (without the fences)."""
    start = page.find(f"\n{SECTION}\n")
    if start < 0:
        raise SystemExit(f"render_diagram: {PAGE.name} has no {SECTION!r} section")
    end = page.find("\n## ", start + 1)
    match = FENCE.search(page, start, end if end >= 0 else len(page))
    if match is None:
        raise SystemExit(f"render_diagram: {PAGE.name}'s {SECTION!r} section has no ```mermaid block")
    return match.group(1)


def source_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def recorded_sha256(svg: str) -> str | None:
    """The ``data-source-sha256`` of the SVG's root element, or None."""
    root = re.search(r"<svg\b[^>]*>", svg)
    match = SHA_ATTRIBUTE.search(root.group(0)) if root else None
    return match.group(1) if match else None


def stamp(svg: str, sha256: str) -> str:
    """Set ``data-source-sha256`` on the SVG's root element (replacing any earlier one)."""
    root = re.search(r"<svg\b[^>]*>", svg)
    if root is None:
        raise SystemExit("render_diagram: mermaid-cli's output has no <svg> element")
    tag = SHA_ATTRIBUTE.sub("", root.group(0))
    tag = re.sub(r"<svg\b", f'<svg data-source-sha256="{sha256}"', tag, count=1)
    return svg[: root.start()] + tag + svg[root.end() :]


def browser() -> str:
    configured = os.environ.get("PUPPETEER_EXECUTABLE_PATH")
    if configured:
        return configured
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit(
        "render_diagram: no Chromium found (tried PUPPETEER_EXECUTABLE_PATH, then "
        f"{', '.join(BROWSERS)} on PATH). On Debian or Ubuntu: apt-get install chromium"
    )


def render(source: str) -> str:
    """Run mermaid-cli on ``source`` and return the SVG it writes."""
    npx = shutil.which("npx")
    if npx is None:
        raise SystemExit("render_diagram: npx not found; install Node.js (18.19+ or 20+)")
    with tempfile.TemporaryDirectory(prefix="render-diagram-") as folder:
        work = Path(folder)
        (work / "diagram.mmd").write_text(source, encoding="utf-8")
        (work / "mermaid.json").write_text(json.dumps(MERMAID_CONFIG), encoding="utf-8")
        puppeteer = {"executablePath": browser(), "args": ["--no-sandbox", "--disable-gpu"]}
        (work / "puppeteer.json").write_text(json.dumps(puppeteer), encoding="utf-8")
        command = [
            npx, "--yes", "--package", MERMAID_CLI, "mmdc", "--quiet",
            "--puppeteerConfigFile", str(work / "puppeteer.json"), "--configFile", str(work / "mermaid.json"),
            "--backgroundColor", "white", "--svgId", "how-it-works",
            "--input", str(work / "diagram.mmd"), "--output", str(work / "diagram.svg"),
        ]  # fmt: skip
        print(f"render_diagram: {MERMAID_CLI} with {puppeteer['executablePath']} (the first run installs it, ~20 s)")
        environment = {**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}
        subprocess.run(command, check=True, env=environment)  # noqa: S603  # fixed arguments, no shell
        return (work / "diagram.svg").read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the SVG matches the page")
    arguments = parser.parse_args(argv)
    source = mermaid_source(PAGE.read_text(encoding="utf-8"))
    expected = source_sha256(source)
    if arguments.check:
        found = recorded_sha256(SVG.read_text(encoding="utf-8")) if SVG.is_file() else None
        if found != expected:
            print(f"{SVG.relative_to(ROOT)} is stale (or missing): run make diagram", file=sys.stderr)
            return 1
        print(f"{SVG.relative_to(ROOT)} matches {PAGE.relative_to(ROOT)}'s {SECTION!r} diagram")
        return 0
    SVG.parent.mkdir(parents=True, exist_ok=True)
    svg = stamp(render(source), expected)
    SVG.write_text(svg if svg.endswith("\n") else svg + "\n", encoding="utf-8")
    print(f"render_diagram: wrote {SVG.relative_to(ROOT)} ({len(svg):,} bytes, source SHA-256 {expected[:12]}…)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
