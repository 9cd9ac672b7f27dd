"""The credential scan reads each file in chunks of ``CHUNK_SIZE`` (1 MiB): a secret after the first chunk, or split
across two, is found like one at the start, on its own line number."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import pytest

from s3_validated_pipeline.check import CHUNK_SIZE, DEFAULT_LIMITS, check_package
from tests.check.package_corpus import FAKE_ACCESS_KEY_ID, write_zip

LINE_BYTES = len(f"const v0000000 = '{'0' * 32}';\n")


def filler(first: int, count: int) -> str:
    """Lines of ``LINE_BYTES`` that differ (so the file compresses no more than code does) and hold no secret."""
    digests = (hashlib.sha256(str(n).encode()).hexdigest()[:32] for n in range(first, first + count))
    return "".join(f"const v{n:07d} = '{digest}';\n" for n, digest in enumerate(digests, start=first))


def text_with_a_key_at(offset: int) -> tuple[str, int]:
    """Filler lines, then ``FAKE_ACCESS_KEY_ID`` starting at byte ``offset`` of the file; and the key's line."""
    lines = offset // LINE_BYTES
    text = filler(0, lines) + "x" * (offset - lines * LINE_BYTES) + FAKE_ACCESS_KEY_ID + "\n" + filler(lines, 100)
    assert text.index(FAKE_ACCESS_KEY_ID) == offset
    return text, lines + 1


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
@pytest.mark.parametrize(
    "offset",
    [CHUNK_SIZE + 4096, CHUNK_SIZE - len(FAKE_ACCESS_KEY_ID) // 2, 3 * CHUNK_SIZE + 1],
    ids=["after-the-first-chunk", "across-the-first-boundary", "in-the-fourth-chunk"],
)
def test_a_secret_past_the_first_mib_of_a_file_is_found(tmp_path: Path, offset: int, compression: int) -> None:
    # GIVEN a text file over 1 MiB with an access key id past the first chunk (or split across two chunks)
    assert CHUNK_SIZE == 1024 * 1024
    assert offset < DEFAULT_LIMITS.scan_max_bytes
    text, line = text_with_a_key_at(offset)
    package = tmp_path / "package.zip"
    package.write_bytes(write_zip({"package.json": "{}", "lib/big.js": text}, compression=compression))
    # WHEN the package is checked
    report = check_package(package)
    # THEN it is rejected for that file, naming the key's line, not the key
    assert not report.accepted
    [finding] = [f for f in report.findings if f.rule == "credentials"]
    assert finding.path == "lib/big.js"
    assert f"AWS access key ID on line {line};" in finding.message
    assert FAKE_ACCESS_KEY_ID not in finding.message


def test_only_the_first_scan_max_bytes_are_scanned(tmp_path: Path) -> None:
    # GIVEN a file with a key starting right at byte 2 MiB
    text, _ = text_with_a_key_at(2 * CHUNK_SIZE)
    package = tmp_path / "package.zip"
    package.write_bytes(write_zip({"package.json": "{}", "lib/big.js": text}))

    def rules(scan_max_bytes: int) -> list[str]:
        limits = dataclasses.replace(DEFAULT_LIMITS, scan_max_bytes=scan_max_bytes)
        return [f.rule for f in check_package(package, limits=limits).findings]

    # THEN a scan of the first 2 MiB stops before it, and one byte more finds it (no whole-file fallback)
    assert "credentials" not in rules(2 * CHUNK_SIZE)
    assert "credentials" not in rules(2 * CHUNK_SIZE + len(FAKE_ACCESS_KEY_ID) - 1)
    assert "credentials" in rules(2 * CHUNK_SIZE + len(FAKE_ACCESS_KEY_ID))
