"""The checker against real tools: zips written by real archivers are accepted, and what it extracts is what they hold
and what real extractors (unzip, bsdtar, 7-Zip) write from the same bytes.

A package the checker accepts is deployed from the checker's OWN extraction (``extract_to``); these tests make sure
that extraction is faithful (contents, folders, normalised modes) and that no real extractor would have seen a
different tree in the same zip: a disagreement is a parser differential an attacker could use to hide files.
Struct-level facts of each tool's zips: ``/work/spec/tool_facts.md``; ``zip_tools.describe`` prints them on failure.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from s3_validated_pipeline.check import DEFAULT_LIMITS, Limits, Report, check_package
from tests.check.package_corpus import VALID
from tests.check.zip_tools import (
    EXTRACTORS_BY_ID,
    TOOLS,
    TOOLS_BY_ID,
    Extractor,
    Tool,
    Tree,
    describe,
    extract,
    modes_of,
    tree_of,
)
from tests.check.zip_tools import write_tree as write_sample_tree

SAMPLE: Tree = {
    "README.md": b"# Sample service\n\nRun `./run.sh`.\n",
    ".gitignore": b"node_modules/\ncdk.out/\n",
    "run.sh": b"#!/bin/sh\nset -eu\necho hello\n",
    "src": None,
    "src/app.js": b"console.log('app');\n" * 20,
    "src/lib": None,
    "src/lib/util": None,
    "src/lib/util/deep.txt": b"deep\n",
    "empty": None,
    "docs": None,
    "docs/café.md": "# Café ☕\n".encode(),
}
"""Files at the root (so no single-top-folder), nested and empty folders, a dotfile, a script, a non-ASCII name."""
EXECUTABLE = ("run.sh",)
V = TypeVar("V")

COMPARED_EXTRACTORS = tuple(EXTRACTORS_BY_ID[name] for name in ("unzip", "bsdtar", "7zz"))
"""Python's zipfile is left out: it reads names without the UTF-8 flag (0x800) as CP437, while the checker, unzip,
bsdtar and 7-Zip read valid UTF-8 as UTF-8, so it extracts Info-ZIP's and Finder's ``docs/café.md`` as
``docs/caf├⌐.md``. None of the three compared extractors treats ``__MACOSX/`` specially on Linux (libarchive's
``mac-ext`` is off by default outside macOS): all write it as ordinary folders and files, as the checker does."""

UNZIP_OEM_NAMES = ("tool:jar", "tool:explorer")
UNZIP_OEM_REASON = (
    "Debian's UnZip 6.0 converts the names of zips made on MS-DOS (made-by system 0: jar, Explorer) from the OEM code "
    "page even when flag 0x800 says UTF-8, and writes docs/café.md as docs/caf+\\xae.md: an extractor bug, kept as a "
    "strict xfail so that a change on either side is noticed"
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample_tree(tmp_path_factory.mktemp("sample") / "tree", SAMPLE, executable=EXECUTABLE)


def zipped_by(tool: Tool, tree: Path, into: Path) -> Path:
    if tool.skip_reason:
        pytest.skip(tool.skip_reason)
    package = into / f"{tool.id}.zip"
    tool.build(tree, package)
    return package


def why(report: Report, package: Path) -> str:
    findings = "\n".join(f"  {f.rule} {f.path!r}: {f.message}" for f in report.findings) or "  (no findings)"
    return f"findings:\n{findings}\nstructure of {package.name}:\n{describe(package.read_bytes())}"


def nfc(tree: dict[str, V]) -> dict[str, V]:
    """Paths in NFC: Finder writes NFD names (as macOS hands them over) of the sample's NFC names."""
    return {unicodedata.normalize("NFC", path): value for path, value in tree.items()}


def split_added(tree: Tree, tool: Tool) -> tuple[Tree, Tree]:
    """(the paths the tool added itself, the rest)."""
    added = {p: c for p, c in tree.items() if any(p == a or p.startswith(a + "/") for a in tool.added)}
    return added, {p: c for p, c in tree.items() if p not in added}


def expected_modes(tool: Tool) -> dict[str, int]:
    def mode(path: str, content: bytes | None) -> int:
        if content is None:
            return 0o755
        return 0o755 if path in EXECUTABLE and tool.keeps_unix_modes else 0o644

    return {path: mode(path, content) for path, content in SAMPLE.items()}


# --------------------------------------------------------------------------------------------------------------
# (a) every real tool's zip is accepted, and the checker extracts exactly the tree that was zipped


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool.id)
def test_real_tools_zip_is_accepted_and_extracted_as_zipped(tool: Tool, sample: Path, tmp_path: Path) -> None:
    # GIVEN the sample tree zipped by a real tool
    package = zipped_by(tool, sample, tmp_path)

    # WHEN the checker judges it and extracts what it judged
    out = tmp_path / "checked"
    report = check_package(package, extract_to=out)

    # THEN it is accepted
    assert report.accepted, why(report, package)
    # AND the extraction holds the sample's files, byte for byte, and its folders (the empty one too)
    extracted = nfc(tree_of(out))
    added, rest = split_added(extracted, tool)
    assert rest == SAMPLE, why(report, package)
    # AND what the tool adds itself (jar's manifest, Finder's __MACOSX twins) is there too
    assert set(tool.added) <= set(added), sorted(added)
    # AND modes are normalised: folders 0o755, files 0o644, or 0o755 when executable and the tool kept the mode
    modes = nfc(modes_of(out))
    assert {p: m for p, m in modes.items() if p in SAMPLE} == expected_modes(tool)
    assert {p: m for p, m in modes.items() if p in added} == {
        p: 0o755 if c is None else 0o644 for p, c in added.items()
    }


def test_jar_and_finder_additions_are_extracted_as_written(sample: Path, tmp_path: Path) -> None:
    # GIVEN the sample zipped by jar (a manifest) and Finder-style (an AppleDouble twin of the script)
    packages = [(tool, zipped_by(tool, sample, tmp_path)) for tool in (TOOLS_BY_ID["jar"], TOOLS_BY_ID["finder"])]

    # WHEN the checker extracts each
    trees: dict[str, Tree] = {}
    for tool, package in packages:
        report = check_package(package, extract_to=tmp_path / tool.id)
        assert report.accepted, why(report, package)
        trees[tool.id] = split_added(nfc(tree_of(tmp_path / tool.id)), tool)[0]

    # THEN jar's manifest and Finder's __MACOSX twin are there, as files in their folders
    assert set(trees["jar"]) == {"META-INF", "META-INF/MANIFEST.MF"}
    assert (trees["jar"]["META-INF/MANIFEST.MF"] or b"").startswith(b"Manifest-Version: 1.0")
    assert set(trees["finder"]) == {"__MACOSX", "__MACOSX/._run.sh"}
    assert (trees["finder"]["__MACOSX/._run.sh"] or b"").startswith(b"\x00\x05\x16\x07")  # AppleDouble magic


# --------------------------------------------------------------------------------------------------------------
# (b) for every accepted zip, real extractors write the same tree as the checker


@dataclass(frozen=True)
class Accepted:
    id: str
    write: Callable[[Path, Path], None]  # (sample tree, zip to write)
    limits: Limits = DEFAULT_LIMITS
    required: tuple[str, ...] = ()
    tool: Tool | None = None


def _corpus_writer(build: Callable[[], bytes]) -> Callable[[Path, Path], None]:
    def write(_tree: Path, out: Path) -> None:
        out.write_bytes(build())

    return write


CORPUS: tuple[Accepted, ...] = (
    *(Accepted(f"tool:{tool.id}", tool.build, tool=tool) for tool in TOOLS),
    *(Accepted(f"valid:{case.id}", _corpus_writer(case.build), case.limits, case.required) for case in VALID),
)


def _agreement_cases() -> Iterator[object]:
    for item in CORPUS:
        for extractor in COMPARED_EXTRACTORS:
            marks = []
            if extractor.id == "unzip" and item.id in UNZIP_OEM_NAMES:
                marks.append(pytest.mark.xfail(raises=AssertionError, strict=True, reason=UNZIP_OEM_REASON))
            yield pytest.param(item, extractor, id=f"{item.id}-{extractor.id}", marks=marks)


@pytest.mark.parametrize(("item", "extractor"), list(_agreement_cases()))
def test_real_extractors_write_the_tree_the_checker_extracted(
    item: Accepted, extractor: Extractor, sample: Path, tmp_path: Path
) -> None:
    # GIVEN a zip the checker accepts
    if extractor.skip_reason:
        pytest.skip(extractor.skip_reason)
    package = zipped_by(item.tool, sample, tmp_path) if item.tool else tmp_path / f"{item.id.split(':')[1]}.zip"
    if item.tool is None:
        item.write(sample, package)
    report = check_package(package, required=item.required, limits=item.limits, extract_to=tmp_path / "checked")
    assert report.accepted, why(report, package)

    # WHEN a real extractor extracts the same bytes
    theirs = extract(extractor, package, tmp_path / extractor.id)

    # THEN it writes the same paths with the same contents as the checker did
    ours = tree_of(tmp_path / "checked")
    assert theirs == ours, f"{extractor.id} differs from the checker\n{why(report, package)}"
