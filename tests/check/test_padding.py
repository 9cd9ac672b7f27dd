"""Zero padding after the end record: bsdtar writing a zip to standard output (``bsdtar --format zip -cf - . >
package.zip``) pads it with zeros to a whole 10240-byte block. The checker accepts those zeros and nothing else after
the end record, and every reader extracts a padded zip as the checker does. The synthetic cases around the rule (a
byte after the padding, too many zeros, an archive hidden in the comment) are in ``differential_corpus``.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from s3_validated_pipeline.check import check_package
from tests.check.differential_corpus import (
    APP_JS,
    BASE,
    BSDTAR_BLOCK,
    PACKAGE_JSON,
    README,
    base_entries,
    bsdtar_padded,
    every_reader,
    extract_with,
    snapshot,
)
from tests.check.package_corpus import build_zip
from tests.check.zip_tools import TOOLS_BY_ID, Tree, tree_of, write_tree

TREE: Tree = {"package.json": PACKAGE_JSON, "README.md": README, "src": None, "src/app.js": APP_JS}
FILES = {path: ("file", content) for path, content in TREE.items() if content is not None}


@pytest.fixture(scope="module")
def bsdtar_stdout_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """TREE as ``bsdtar --format zip -cf - .`` writes it into a pipe."""
    tool = TOOLS_BY_ID["bsdtar-stdout"]
    if tool.skip_reason:
        pytest.skip(tool.skip_reason)
    root = tmp_path_factory.mktemp("padding")
    package = root / "package.zip"
    tool.build(write_tree(root / "tree", TREE), package)
    return package.read_bytes()


def archive_end(data: bytes) -> int:
    """Where the end record's comment ends: the padding starts here."""
    at = data.rindex(b"PK\x05\x06")
    (comment_length,) = struct.unpack_from("<H", data, at + 20)
    return at + 22 + comment_length


def write(directory: Path, data: bytes) -> Path:
    package = directory / "package.zip"
    package.write_bytes(data)
    return package


def test_bsdtar_pads_a_zip_it_writes_to_standard_output_with_zeros(bsdtar_stdout_zip: bytes) -> None:
    # GIVEN the zip bsdtar wrote into a pipe
    # WHEN its bytes after the end record are read
    padding = bsdtar_stdout_zip[archive_end(bsdtar_stdout_zip) :]
    # THEN they are zeros up to a whole block: the tests below exercise padding, not a plain zip
    assert padding
    assert padding == bytes(len(padding))
    assert len(bsdtar_stdout_zip) % BSDTAR_BLOCK == 0


def test_a_zip_bsdtar_wrote_to_standard_output_is_accepted_and_extracted_as_zipped(
    bsdtar_stdout_zip: bytes, tmp_path: Path
) -> None:
    # GIVEN the zero-padded zip bsdtar wrote into a pipe
    package = write(tmp_path, bsdtar_stdout_zip)
    # WHEN it is checked and extracted
    report = check_package(package, extract_to=tmp_path / "out")
    # THEN it is accepted, and the extraction is the tree that was zipped
    assert report.accepted, report.summary()
    assert tree_of(tmp_path / "out") == TREE


def test_fails_when_a_non_zero_byte_follows_the_padding(bsdtar_stdout_zip: bytes, tmp_path: Path) -> None:
    # GIVEN the same bytes bsdtar wrote, plus one non-zero byte at the end
    package = write(tmp_path, bsdtar_stdout_zip + b"\x01")
    # WHEN it is checked
    report = check_package(package, extract_to=tmp_path / "out")
    # THEN the end-record rule rejects it, naming the byte's offset and what may follow the end record
    assert [finding.rule for finding in report.findings] == ["end-record"]
    message = report.findings[0].message
    assert f"the first non-zero one at offset {len(bsdtar_stdout_zip)}" in message
    assert "only zero bytes" in message
    assert "zip -r package.zip ." in message
    # AND nothing is extracted
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_fails_when_a_non_zero_byte_follows_the_end_record_directly(bsdtar_stdout_zip: bytes, tmp_path: Path) -> None:
    # GIVEN bsdtar's zip whose first byte after the end record is not zero, the rest of the padding as written
    end = archive_end(bsdtar_stdout_zip)
    package = write(tmp_path, bsdtar_stdout_zip[:end] + b"\xff" + bsdtar_stdout_zip[end + 1 :])
    # WHEN it is checked
    findings = check_package(package).findings
    # THEN the end-record rule rejects it at that byte
    assert [(finding.rule, f"offset {end}:" in finding.message) for finding in findings] == [("end-record", True)]


PADDED = {
    "bsdtar-stdout": None,  # the real bsdtar zip (the fixture)
    "comment-ending-in-zeros-then-padding": bsdtar_padded(build_zip(base_entries(), comment=b"built by ci\x00\x00")),
}


@pytest.mark.parametrize("name", PADDED)
@pytest.mark.parametrize("reader", every_reader())
def test_every_reader_extracts_a_zero_padded_zip_as_the_checker_does(
    name: str, reader: str, bsdtar_stdout_zip: bytes, tmp_path: Path
) -> None:
    # GIVEN a zero-padded zip: bsdtar's own, or one whose comment ends in zeros before the padding
    data = PADDED[name] or bsdtar_stdout_zip
    package = write(tmp_path, data)
    # WHEN the checker extracts it, and a real reader extracts the same bytes
    report = check_package(package, extract_to=tmp_path / "checked")
    assert report.accepted, report.summary()
    ours = snapshot(tmp_path / "checked")
    theirs = extract_with(reader, package, tmp_path / reader)
    # THEN both wrote the project's files, with the same names and the same bytes
    assert ours == (FILES if PADDED[name] is None else BASE)
    assert theirs == ours
