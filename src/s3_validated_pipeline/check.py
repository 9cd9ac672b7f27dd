"""Check an uploaded zip package before anything extracts or builds it, and write or verify its file manifest.

The pipeline downloads this one file into CodeBuild (the ``aws/codebuild/standard:5.0`` image: Python 3.8 and
nothing else) and runs ``python3 check.py ...``; on a developer's machine it runs as
``python -m s3_validated_pipeline.check ...``. So it is self-contained: standard library only, Python 3.8
compatible, and it imports nothing from the rest of the package.

Checking a package (``check_package``) reads the zip's own structures rather than trusting ``zipfile``: the central
directory, every entry's local header, then every entry's data, exactly once, in 1 MiB chunks. Each rule is a
small function that returns ``Finding`` objects; a package with no findings is accepted. Uncompressed sizes are
counted by inflating the real bytes, and inflating stops as soon as a limit is passed, so a zip bomb is never
fully expanded.

Command line (exit 0: accepted or intact; 1: rejected or changed; 2: usage error or unreadable input)::

    check.py PACKAGE.zip [--require PATTERN]... [--forbid PATTERN]... [--json] [--report FILE] ...
    check.py manifest DIR --source-json FILE_OR_JSON [--output FILE]
    check.py verify DIR [--manifest FILE]

A package whose path is literally ``manifest`` or ``verify`` must be given as ``./manifest``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import re
import stat
import struct
import sys
import unicodedata
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_FORBIDDEN",
    "DEFAULT_LIMITS",
    "MANIFEST_FILE",
    "NESTED_ARCHIVE_SUFFIXES",
    "RATIO_FLOOR",
    "Archive",
    "ArchiveError",
    "CredentialHit",
    "CredentialScanner",
    "Entry",
    "EntryData",
    "Finding",
    "Limits",
    "Report",
    "check_absolute_paths",
    "check_backslashes",
    "check_compression_methods",
    "check_compression_ratio",
    "check_control_characters",
    "check_credentials",
    "check_drive_letters",
    "check_duplicate_names",
    "check_empty",
    "check_encrypted",
    "check_entry_count",
    "check_forbidden_files",
    "check_integrity",
    "check_local_headers",
    "check_name_encoding",
    "check_nested_archives",
    "check_overlaps",
    "check_package",
    "check_path_traversal",
    "check_required_files",
    "check_symlinks",
    "check_total_size",
    "compile_glob",
    "find_credentials",
    "main",
    "overlapping_entries",
    "read_archive",
    "sha256_from_s3_checksum",
    "stream_entries",
    "verify_manifest",
    "write_manifest",
]

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

CHUNK_SIZE = MIB
"""Entry data is read and inflated in pieces of at most this many bytes."""

MANIFEST_FILE = "manifest.json"
"""The manifest's name at the root of the checked folder."""

TEXT_PROBE_BYTES = 8 * KIB
"""A file with a NUL byte in its first 8 KiB is binary and is not scanned for credentials."""

NESTED_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".gz", ".bz2", ".xz", ".7z", ".rar")
"""Names that mark an archive inside the package (``.jar`` and ``.whl`` are zips too, but are build outputs)."""

DEFAULT_FORBIDDEN = (
    ".env",
    ".env.*",
    "!.env.example",
    "!.env.sample",
    "!.env.template",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "**/.aws/credentials",
    ".git-credentials",
    ".netrc",
)
"""Files that hold secrets by their nature. A pattern starting with ``!`` is an exception to the others."""

SUPPORTED_METHODS = {0: "stored", 8: "deflate", 12: "bzip2"}
_METHOD_NAMES = {1: "shrink", 6: "implode", 9: "deflate64", 14: "LZMA", 93: "Zstandard", 95: "XZ", 99: "AES"}

RATIO_FLOOR = MIB
"""Output below which the compression ratio is not judged: small repetitive files (logs, fixtures) compress far
beyond 100:1 yet cannot hurt, and the total-size limit bounds many of them together."""

_S_IFLNK = 0o120000
_FLAG_ENCRYPTED = 0x1
_FLAG_STRONG_ENCRYPTION = 0x40
_FLAG_UTF8 = 0x800
_MAX_LISTED_LINES = 10
_SUMMARY_LINES_PER_RULE = 50


@dataclass(frozen=True)
class Finding:
    """One problem with a package or a checked folder."""

    rule: str
    """Stable id of the rule, e.g. ``path-traversal``."""
    path: str
    """The entry's or file's name; empty for findings about the whole archive."""
    message: str
    """One sentence: what is wrong and, where useful, what to do."""

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "path": self.path, "message": self.message}


@dataclass(frozen=True)
class Limits:
    """What a package may hold. The defaults suit the source package of a typical application."""

    max_entries: int = 10_000
    """Most entries (files and folders) the zip may list."""
    max_total_bytes: int = GIB
    """Most bytes all entries may inflate to, counted from the real data, not from the headers."""
    max_compression_ratio: float = 100.0
    """Highest uncompressed / compressed ratio, for each entry and for the whole archive."""
    allow_nested_archives: bool = False
    """Whether the package may hold archives (``.zip``, ``.tar.gz``, ...) that nothing here inspects."""
    scan_max_bytes: int = 5 * MIB
    """Text files up to this size are scanned for credentials."""
    forbidden: tuple[str, ...] = DEFAULT_FORBIDDEN
    """Globs of files the package must not hold, matched against the base name and the full path."""

    def __post_init__(self) -> None:
        for name in ("max_entries", "max_total_bytes", "scan_max_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, not {value!r}")
        if not self.max_compression_ratio > 0:
            raise ValueError(f"Limits.max_compression_ratio must be positive, not {self.max_compression_ratio!r}")
        if isinstance(self.forbidden, str):
            raise ValueError("Limits.forbidden must be a sequence of patterns, not one string")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Entry:
    """One entry of the zip's central directory, with what its local header says."""

    index: int
    """Position in the central directory."""
    name: str
    """The name as UTF-8, or as code page 437 when it is not valid UTF-8."""
    raw_name: bytes
    flags: int
    method: int
    crc: int
    compressed_size: int
    file_size: int
    """Uncompressed size as declared; the data is what counts."""
    header_offset: int
    """Where the local file header starts in the file."""
    external_attr: int
    create_system: int
    local_header_size: int = 0
    """30 bytes plus the local name and extra field; 0 when there is no valid local header."""
    local_name: bytes = b""

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @property
    def name_is_utf8(self) -> bool:
        try:
            self.raw_name.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION)) or self.method == 99

    @property
    def is_symlink(self) -> bool:
        return (self.external_attr >> 16) & 0o170000 == _S_IFLNK

    @property
    def data_offset(self) -> int:
        return self.header_offset + self.local_header_size


@dataclass(frozen=True)
class Archive:
    """What the zip's structures say, read without inflating anything."""

    size: int
    entries: tuple[Entry, ...]
    declared_entries: int
    """The count in the end-of-central-directory record."""
    central_directory: tuple[int, int]
    """Start and end offset of the central directory in the file."""
    problems: tuple[Finding, ...] = ()
    """Structural problems that did not stop the reading."""


class ArchiveError(Exception):
    """The file cannot be read as a zip archive at all."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.finding = Finding(rule, "", message)


@dataclass(frozen=True)
class CredentialHit:
    kind: str
    """``AWS access key ID``, ``AWS secret access key`` or ``private key``."""
    line: int


@dataclass(frozen=True)
class EntryData:
    """What reading one entry's data found."""

    entry: Entry
    bytes_in: int
    """Compressed bytes read."""
    bytes_out: int
    """Uncompressed bytes produced (reading stops early past a limit)."""
    stopped: str = ""
    """``ratio`` or ``total`` when reading stopped at that limit; empty when read to the end."""
    error: str = ""
    """Why the data is corrupt; empty when it is not."""
    credentials: tuple[CredentialHit, ...] = ()


@dataclass(frozen=True)
class Report:
    """The outcome of checking one package."""

    package: str
    sha256: str
    """SHA-256 of the whole zip file, hex."""
    size: int
    """Size of the zip file in bytes."""
    entries: int
    total_bytes: int
    """Uncompressed bytes read (inflating stops early past a limit)."""
    findings: tuple[Finding, ...]
    expected_sha256: str | None = None
    notes: tuple[str, ...] = ()
    """Information for the log that does not reject the package."""

    @property
    def accepted(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "accepted": self.accepted,
            "sha256": self.sha256,
            "expected_sha256": self.expected_sha256,
            "size": self.size,
            "entries": self.entries,
            "total_bytes": self.total_bytes,
            "findings": [finding.to_dict() for finding in self.findings],
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        """The text for the build log: a headline, then one line per finding and note."""
        verdict = "ACCEPTED" if self.accepted else "REJECTED"
        lines = [
            f"{verdict}: {_show(self.package)}: {len(self.findings)} finding(s); {self.entries} entries, "
            f"{self.total_bytes} bytes uncompressed, {self.size} bytes zipped, sha256 {self.sha256}"
        ]
        shown: dict[str, int] = {}
        for finding in self.findings:
            shown[finding.rule] = shown.get(finding.rule, 0) + 1
            if shown[finding.rule] <= _SUMMARY_LINES_PER_RULE:
                lines.append(f"  [{finding.rule}] {finding.message}")
        for rule, count in shown.items():
            if count > _SUMMARY_LINES_PER_RULE:
                lines.append(f"  [{rule}] ... and {count - _SUMMARY_LINES_PER_RULE} more (see the JSON report)")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------
# Reading the zip's structures


_EOCD = struct.Struct("<4s4H2LH")
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_SIG_EOCD = b"PK\x05\x06"
_SIG_EOCD64_LOCATOR = b"PK\x06\x07"
_SIG_EOCD64 = b"PK\x06\x06"
_SIG_CENTRAL = b"PK\x01\x02"
_SIG_LOCAL = b"PK\x03\x04"


def read_archive(fh: BinaryIO, size: int, *, max_entries: int = DEFAULT_LIMITS.max_entries) -> Archive:
    """Read the central directory and every local header; raise ``ArchiveError`` when the file is no usable zip.

    At most ``max_entries + 1`` entries are read: one more than the limit is enough to reject the package.
    """
    eocd_at, eocd = _find_end_record(fh, size)
    _, disk, cd_disk, disk_entries, declared, cd_size, cd_offset, _ = eocd
    cd_end = eocd_at
    if eocd_at >= _EOCD64_LOCATOR.size:
        fh.seek(eocd_at - _EOCD64_LOCATOR.size)
        locator = fh.read(_EOCD64_LOCATOR.size)
        if locator[:4] == _SIG_EOCD64_LOCATOR:
            cd_end = eocd_at - _EOCD64_LOCATOR.size - _EOCD64.size
            if cd_end < 0:
                raise ArchiveError("corrupt-archive", "The zip64 end record is missing; the archive is damaged.")
            fh.seek(cd_end)
            record = fh.read(_EOCD64.size)
            if len(record) < _EOCD64.size or record[:4] != _SIG_EOCD64:
                raise ArchiveError("corrupt-archive", "The zip64 end record is damaged; the archive is corrupt.")
            _, _, _, _, disk, cd_disk, disk_entries, declared, cd_size, cd_offset = _EOCD64.unpack(record)
    if disk != 0 or cd_disk != 0 or disk_entries != declared:
        raise ArchiveError("corrupt-archive", "The zip spans several disks, which is not supported; upload one file.")
    concat = cd_end - cd_size - cd_offset  # bytes before the archive, as in a self-extracting zip
    if concat < 0:
        raise ArchiveError(
            "corrupt-archive", "The central directory lies outside the file; the archive is corrupt or truncated."
        )
    cd_start = cd_offset + concat
    if declared > max_entries:
        return Archive(size, (), declared, (cd_start, cd_end))

    problems: list[Finding] = []
    entries: list[Entry] = []
    fh.seek(cd_start)
    position = cd_start
    while position < cd_end and len(entries) <= max_entries:
        fixed = fh.read(_CENTRAL.size)
        if len(fixed) < _CENTRAL.size or fixed[:4] != _SIG_CENTRAL:
            raise ArchiveError(
                "corrupt-archive", f"Central directory record {len(entries) + 1} is damaged; the archive is corrupt."
            )
        fields = _CENTRAL.unpack(fixed)
        create_system, flags, method = fields[2], fields[5], fields[6]
        crc, csize, usize, name_len, extra_len, comment_len = fields[9:15]
        external_attr, offset = fields[17:19]
        raw_name = fh.read(name_len)
        extra = fh.read(extra_len)
        fh.seek(comment_len, os.SEEK_CUR)
        position += _CENTRAL.size + name_len + extra_len + comment_len
        if position > cd_end or len(raw_name) < name_len or len(extra) < extra_len:
            raise ArchiveError(
                "corrupt-archive", f"Central directory record {len(entries) + 1} is cut short; the archive is corrupt."
            )
        usize, csize, offset = _zip64_sizes(extra, usize, csize, offset)
        entries.append(
            Entry(
                index=len(entries),
                name=_decode_name(raw_name),
                raw_name=raw_name,
                flags=flags,
                method=method,
                crc=crc,
                compressed_size=csize,
                file_size=usize,
                header_offset=offset + concat,
                external_attr=external_attr,
                create_system=create_system,
            )
        )
    if len(entries) <= max_entries and len(entries) != declared:
        problems.append(
            Finding(
                "corrupt-archive",
                "",
                f"The zip's end record declares {declared} entries but its central directory holds {len(entries)}; "
                "tools would disagree on the contents.",
            )
        )
    entries = [_with_local_header(fh, entry, size) for entry in entries]
    return Archive(size, tuple(entries), declared, (cd_start, cd_end), tuple(problems))


def _find_end_record(fh: BinaryIO, size: int) -> tuple[int, tuple[Any, ...]]:
    tail_size = min(size, _EOCD.size + 0xFFFF)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    found: tuple[int, tuple[Any, ...]] | None = None
    at = tail.rfind(_SIG_EOCD)
    while at >= 0:
        if at + _EOCD.size <= len(tail):
            record = _EOCD.unpack_from(tail, at)
            end = at + _EOCD.size + record[7]
            if end == len(tail):
                return size - tail_size + at, record
            if end < len(tail) and found is None:
                found = (size - tail_size + at, record)
        at = tail.rfind(_SIG_EOCD, 0, at)
    if found is not None:
        return found
    fh.seek(0)
    head = fh.read(4)
    if head == _SIG_LOCAL:
        raise ArchiveError(
            "truncated", "The zip ends before its central directory: the upload was cut short; upload it again."
        )
    if size == 0:
        raise ArchiveError("not-a-zip", "The file is empty (0 bytes), not a zip archive.")
    raise ArchiveError("not-a-zip", "The file is not a zip archive (it has no end-of-central-directory record).")


def _zip64_sizes(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<2H", extra, at)
        body = extra[at + 4 : at + 4 + length]
        if kind == 0x0001:
            values = [usize, csize, offset]
            cursor = 0
            for i, value in enumerate(values):
                if value == 0xFFFFFFFF:
                    if cursor + 8 > len(body):
                        raise ArchiveError(
                            "corrupt-archive", "A zip64 extra field is too short; the archive is corrupt."
                        )
                    values[i] = struct.unpack_from("<Q", body, cursor)[0]
                    cursor += 8
            return values[0], values[1], values[2]
        at += 4 + length
    return usize, csize, offset


def _with_local_header(fh: BinaryIO, entry: Entry, limit: int) -> Entry:
    if entry.header_offset + _LOCAL.size > limit:
        return entry
    fh.seek(entry.header_offset)
    fixed = fh.read(_LOCAL.size)
    if len(fixed) < _LOCAL.size or fixed[:4] != _SIG_LOCAL:
        return entry
    name_len, extra_len = _LOCAL.unpack(fixed)[-2:]
    return replace(entry, local_header_size=_LOCAL.size + name_len + extra_len, local_name=fh.read(name_len))


def _decode_name(raw: bytes) -> str:
    # Valid UTF-8 is read as UTF-8 even without flag bit 11: many tools write UTF-8 names without setting it.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


# --------------------------------------------------------------------------------------------------------------
# Rules on the archive's structure and names


def check_entry_count(count: int, limits: Limits) -> list[Finding]:
    if count <= limits.max_entries:
        return []
    return [
        Finding(
            "too-many-entries",
            "",
            f"The zip lists {count} entries, more than the limit of {limits.max_entries}; "
            "remove what the build does not need (e.g. node_modules) or raise the limit.",
        )
    ]


def check_empty(entries: Sequence[Entry]) -> list[Finding]:
    if any(not entry.is_dir for entry in entries):
        return []
    what = "only folders" if entries else "no entries"
    return [Finding("empty-archive", "", f"The zip holds {what}, so there is nothing to build; upload the package.")]


def check_local_headers(entries: Sequence[Entry]) -> list[Finding]:
    """Each entry needs a local header, under the same name: tools that read one or the other must agree."""
    findings = []
    for entry in entries:
        if entry.local_header_size == 0:
            findings.append(
                Finding(
                    "local-header",
                    entry.name,
                    f"{_show(entry.name)} has no valid local file header at offset {entry.header_offset}; "
                    "the archive is corrupt.",
                )
            )
        elif entry.local_name != entry.raw_name:
            findings.append(
                Finding(
                    "local-header",
                    entry.name,
                    f"{_show(entry.name)} is named {_show(_decode_name(entry.local_name))} in its local header; "
                    "tools would extract it under different names.",
                )
            )
    return findings


def overlapping_entries(archive: Archive) -> list[tuple[Entry, Entry | None]]:
    """Pairs (entry, the earlier entry it overlaps, or None for the central directory)."""
    ranges = sorted(
        (entry.header_offset, entry.data_offset + entry.compressed_size, entry.index, entry)
        for entry in archive.entries
        if entry.local_header_size
    )
    pairs: list[tuple[Entry, Entry | None]] = []
    reach = -1
    owner: Entry | None = None
    cd_start, cd_end = archive.central_directory
    for start, end, _, entry in ranges:
        if owner is not None and start < reach:
            pairs.append((entry, owner))
        elif (start < cd_end and end > cd_start) or end > archive.size:
            pairs.append((entry, None))
        if end > reach:
            reach, owner = end, entry
    return pairs


def check_overlaps(archive: Archive) -> list[Finding]:
    """Entries must not share bytes (that is how overlapped zip bombs multiply one compressed kernel)."""
    findings = []
    for entry, other in overlapping_entries(archive):
        if other is None:
            message = (
                f"{_show(entry.name)} claims data that runs into the central directory or past the end of the file; "
                "the archive is corrupt or crafted."
            )
        else:
            message = (
                f"{_show(entry.name)} overlaps the data of {_show(other.name)}; overlapping entries are how zip "
                "bombs multiply their size, so the package is rejected."
            )
        findings.append(Finding("overlapping-entries", entry.name, message))
    return findings


def check_encrypted(entries: Sequence[Entry]) -> list[Finding]:
    return [
        Finding(
            "encrypted-entry",
            entry.name,
            f"{_show(entry.name)} is encrypted, so it cannot be checked; upload the package without a password.",
        )
        for entry in entries
        if entry.encrypted
    ]


def check_compression_methods(entries: Sequence[Entry]) -> list[Finding]:
    findings = []
    for entry in entries:
        if entry.is_dir or entry.encrypted or entry.method in SUPPORTED_METHODS:
            continue
        method = _METHOD_NAMES.get(entry.method, "unknown")
        findings.append(
            Finding(
                "unsupported-compression",
                entry.name,
                f"{_show(entry.name)} uses compression method {entry.method} ({method}), which cannot be checked; "
                "re-create the zip with deflate, the default of zip tools.",
            )
        )
    return findings


def check_name_encoding(entries: Sequence[Entry]) -> list[Finding]:
    findings = []
    for entry in entries:
        if entry.name_is_utf8:
            continue
        flagged = " although it is flagged as UTF-8" if entry.flags & _FLAG_UTF8 else ""
        findings.append(
            Finding(
                "invalid-name-encoding",
                entry.name,
                f"{_show(entry.name)} has a name that is not valid UTF-8{flagged}, so each tool would extract it "
                "under a different name; rename it.",
            )
        )
    return findings


def check_control_characters(entries: Sequence[Entry]) -> list[Finding]:
    return [
        Finding(
            "control-character",
            entry.name,
            f"{_show(entry.name)} has a control character in its name (a NUL can hide the real extension); rename it.",
        )
        for entry in entries
        if any(ord(char) < 32 or ord(char) == 127 for char in entry.name)
    ]


def check_path_traversal(entries: Sequence[Entry]) -> list[Finding]:
    return [
        Finding(
            "path-traversal",
            entry.name,
            f"{_show(entry.name)} has a '..' component, which would extract it outside the target folder.",
        )
        for entry in entries
        if ".." in re.split(r"[/\\]", entry.name)
    ]


def check_absolute_paths(entries: Sequence[Entry]) -> list[Finding]:
    return [
        Finding(
            "absolute-path",
            entry.name,
            f"{_show(entry.name)} is an absolute path, which would extract outside the target folder; "
            "store paths relative to the package root.",
        )
        for entry in entries
        if entry.name.startswith(("/", "\\"))
    ]


def check_drive_letters(entries: Sequence[Entry]) -> list[Finding]:
    return [
        Finding(
            "drive-letter",
            entry.name,
            f"{_show(entry.name)} starts with a drive letter, which would extract outside the target folder "
            "on Windows; store paths relative to the package root.",
        )
        for entry in entries
        if re.match(r"[A-Za-z]:", entry.name)
    ]


def check_backslashes(entries: Sequence[Entry]) -> list[Finding]:
    return [
        Finding(
            "backslash-in-name",
            entry.name,
            f"{_show(entry.name)} contains a backslash, which some tools read as a folder separator; "
            "zip paths use '/'.",
        )
        for entry in entries
        if "\\" in entry.name
    ]


def check_symlinks(entries: Sequence[Entry]) -> list[Finding]:
    return [
        Finding(
            "symlink",
            entry.name,
            f"{_show(entry.name)} is a symbolic link, which can point outside the package; store the file itself.",
        )
        for entry in entries
        if entry.is_symlink
    ]


def check_duplicate_names(entries: Sequence[Entry]) -> list[Finding]:
    """Names that are equal, equal but for letter case, or equal but for Unicode normalisation (NFC + casefold)."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(_collision_key(entry.name), []).append(entry)
    findings = []
    for group in groups.values():
        if len(group) < 2:
            continue
        names = [entry.name for entry in group]
        stripped = {name.rstrip("/") for name in names}
        if len(set(names)) == 1:
            message = f"{_show(names[0])} appears {len(names)} times; which copy an extractor keeps is undefined."
        elif len(stripped) == 1:
            message = f"{_list(names)} name the same path; which one an extractor keeps is undefined."
        elif len({name.casefold() for name in stripped}) == 1:
            message = (
                f"{_list(names)} differ only in letter case and overwrite each other on case-insensitive file "
                "systems (macOS, Windows); rename one."
            )
        else:
            message = (
                f"{', '.join(ascii(name) for name in names)} differ only in Unicode normalisation and overwrite each "
                "other on file systems that normalise names (macOS); rename one."
            )
        findings.append(Finding("duplicate-name", group[0].name, message))
    return findings


def _collision_key(name: str) -> str:
    folded = unicodedata.normalize("NFC", name.rstrip("/")).casefold()
    return unicodedata.normalize("NFC", folded)


def check_nested_archives(entries: Sequence[Entry], limits: Limits = DEFAULT_LIMITS) -> list[Finding]:
    if limits.allow_nested_archives:
        return []
    return [
        Finding(
            "nested-archive",
            entry.name,
            f"{_show(entry.name)} is an archive inside the package, whose contents are not checked; "
            "upload its files unpacked.",
        )
        for entry in entries
        if not entry.is_dir and entry.name.lower().endswith(NESTED_ARCHIVE_SUFFIXES)
    ]


def compile_glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """Translate a glob relative to the package root into a regular expression for a whole path.

    ``**`` as a whole path segment crosses folders, including none; ``*``, ``?`` and ``[...]`` (``[!...]``
    negates) stay within one segment and match dotfiles too. A trailing ``/`` is ignored.
    """
    text = pattern.strip()
    while text.startswith("./"):
        text = text[2:]
    segments = text.strip("/").split("/")
    parts = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]+/)*")
        else:
            parts.append(_segment_regex(segment) + ("" if last else "/"))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts) + r"\Z", flags)


def _segment_regex(segment: str) -> str:
    out = []
    i = 0
    while i < len(segment):
        char = segment[i]
        i += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            j = i
            if j < len(segment) and segment[j] == "!":
                j += 1
            if j < len(segment) and segment[j] == "]":
                j += 1
            while j < len(segment) and segment[j] != "]":
                j += 1
            if j >= len(segment):
                out.append(re.escape(char))
                continue
            body = segment[i:j].replace("\\", "\\\\")
            i = j + 1
            negate = body.startswith("!")
            body = body[1:] if negate else body
            out.append(f"[^/{body}]" if negate else f"[{body}]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def _package_paths(entries: Sequence[Entry]) -> list[str]:
    """Every path extraction would create: files, and folders whether listed or implied, parents first."""
    paths: dict[str, None] = {}
    for entry in entries:
        parts = [part for part in entry.name.split("/") if part]
        for depth in range(1, len(parts) + 1):
            suffix = "/" if depth < len(parts) or entry.is_dir else ""
            paths.setdefault("/".join(parts[:depth]) + suffix, None)
    return list(paths)


def check_required_files(entries: Sequence[Entry], required: Sequence[str]) -> list[Finding]:
    """Every pattern must match a file or folder, by its full path from the package root."""
    paths = [path.rstrip("/") for path in _package_paths(entries)]
    findings = []
    for pattern in required:
        regex = compile_glob(pattern)
        if not any(regex.match(path) for path in paths):
            findings.append(
                Finding("required-missing", "", f"No file matches the required pattern {_show(pattern)}; add it.")
            )
    return findings


def check_forbidden_files(entries: Sequence[Entry], patterns: Sequence[str] = DEFAULT_FORBIDDEN) -> list[Finding]:
    """Files or folders whose base name or full path matches a forbidden pattern (ignoring case) and no exception.

    A forbidden folder is reported once, not with each file inside.
    """
    allowed = [compile_glob(p[1:], ignore_case=True) for p in patterns if p.startswith("!")]
    denied = [(p, compile_glob(p, ignore_case=True)) for p in patterns if not p.startswith("!")]
    findings = []
    reported: list[str] = []
    for path in _package_paths(entries):
        bare = path.rstrip("/")
        if any(bare.startswith(folder) for folder in reported):
            continue
        base = bare.rsplit("/", 1)[-1]
        if any(regex.match(base) or regex.match(bare) for regex in allowed):
            continue
        for pattern, regex in denied:
            if regex.match(base) or regex.match(bare):
                findings.append(
                    Finding(
                        "forbidden-file",
                        path,
                        f"{_show(path)} matches the forbidden pattern {_show(pattern)}; remove it from the package "
                        "and keep secrets in AWS Secrets Manager or Parameter Store.",
                    )
                )
                reported.append(bare + "/")
                break
    return findings


# --------------------------------------------------------------------------------------------------------------
# Reading the data: each entry once, in chunks, counting bytes and scanning text in the same pass


_ACCESS_KEY_ID = re.compile(rb"(?<![A-Z0-9])(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASCA)[A-Z0-9]{16}(?![A-Z0-9])")
_SECRET_ACCESS_KEY = re.compile(
    rb"(?i)(?<![a-z0-9])(?:aws)?[_\-.]?secret[_\-.]?access[_\-.]?key[\"']?[ \t]{0,8}(?::=|=>|[:=])[ \t]{0,8}[\"']?"
    rb"([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
_PRIVATE_KEY = re.compile(rb"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----")
# AWS's documented example credentials, split so that secret scanners reading this file do not flag it.
_EXAMPLE_VALUES = {b"AKIAIOSFODNN7EXAMPLE", b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
# Each pattern with literals one of which any match contains, and whether to look for them case-folded. Testing
# for a literal is a fast substring search; the regular expressions only run on text that has one.
_CREDENTIAL_PATTERNS = (
    (
        "AWS access key ID",
        _ACCESS_KEY_ID,
        (b"AKIA", b"ASIA", b"AGPA", b"AIDA", b"AROA", b"AIPA", b"ANPA", b"ANVA", b"ASCA"),
        False,
    ),
    ("AWS secret access key", _SECRET_ACCESS_KEY, (b"secret",), True),
    ("private key", _PRIVATE_KEY, (b"PRIVATE KEY",), False),
)
_SCAN_OVERLAP = 1024  # longer than any match: a match starting this far from a chunk's end is complete
_SCAN_CONTEXT = 64  # bytes kept before the next unscanned byte, for look-behinds


class CredentialScanner:
    """Finds credentials in a text file fed in chunks of any size, including ones split across chunks.

    Binary files (a NUL byte in the first 8 KiB) are not scanned; nor is anything past ``max_bytes``.
    """

    def __init__(self, max_bytes: int = DEFAULT_LIMITS.scan_max_bytes) -> None:
        self._max_bytes = max_bytes
        self._seen = 0
        self._head = b""
        self._probing = True
        self._binary = False
        self._window = b""
        self._scanned = 0  # offset in the window from which matches are still to be reported
        self._lines_before = 0  # newlines in the bytes dropped from the window
        self._hits: dict[tuple[str, int], None] = {}

    def feed(self, data: bytes) -> None:
        if self._binary or self._seen >= self._max_bytes:
            return
        data = data[: self._max_bytes - self._seen]
        self._seen += len(data)
        if self._probing:
            self._head += data
            if len(self._head) < TEXT_PROBE_BYTES and self._seen < self._max_bytes:
                return
            data, self._head, self._probing = self._head, b"", False
            if b"\0" in data[:TEXT_PROBE_BYTES]:
                self._binary = True
                return
        self._scan(data, final=False)

    def finish(self) -> list[CredentialHit]:
        if self._probing:
            data, self._head, self._probing = self._head, b"", False
            self._binary = b"\0" in data[:TEXT_PROBE_BYTES]
        else:
            data = b""
        if not self._binary:
            self._scan(data, final=True)
        return [CredentialHit(kind, line) for kind, line in self._hits]

    def _scan(self, data: bytes, *, final: bool) -> None:
        window = self._window + data
        end = len(window) if final else len(window) - _SCAN_OVERLAP
        if end <= self._scanned:
            self._window = window
            return
        folded = b""
        for kind, pattern, literals, fold in _CREDENTIAL_PATTERNS:
            if fold and not folded:
                folded = window.lower()
            haystack = folded if fold else window
            if not any(literal in haystack for literal in literals):
                continue
            for match in pattern.finditer(window, self._scanned):
                if match.start() >= end:
                    break
                value = match.group(match.lastindex or 0)
                if value in _EXAMPLE_VALUES or len(set(value)) < 10:  # documented examples and 'XXXX...' stand-ins
                    continue
                line = self._lines_before + window.count(b"\n", 0, match.start()) + 1
                self._hits.setdefault((kind, line), None)
        keep = max(0, end - _SCAN_CONTEXT)
        self._lines_before += window.count(b"\n", 0, keep)
        self._window = window[keep:]
        self._scanned = end - keep


def find_credentials(chunks: Iterable[bytes], *, max_bytes: int = DEFAULT_LIMITS.scan_max_bytes) -> list[CredentialHit]:
    """Scan one file's content, given in chunks, for credentials."""
    scanner = CredentialScanner(max_bytes)
    for chunk in chunks:
        scanner.feed(chunk)
    return scanner.finish()


class _Inflater:
    """Inflates one entry's data, never producing more than asked for at a time."""

    def __init__(self, method: int, compressed_size: int) -> None:
        self.method = method
        self.eof = False
        self._unfed = compressed_size
        self._pending = b""
        self._zlib: Any = None
        self._bz2: Any = None
        if method == 8:
            self._zlib = zlib.decompressobj(-15)
        elif method == 12:
            import bz2  # only zips that use bzip2 need it

            self._bz2 = bz2.BZ2Decompressor()
        self.eof = method == 0 and compressed_size == 0

    def feed(self, data: bytes) -> None:
        self._unfed -= len(data)
        self._pending += data

    def read(self, size: int) -> bytes:
        if self.eof:
            return b""
        if self._zlib is not None:
            out: bytes = self._zlib.decompress(self._pending, size)
            self._pending = self._zlib.unconsumed_tail
            self.eof = self._zlib.eof
        elif self._bz2 is not None:
            if not self._pending and self._bz2.needs_input:
                return b""
            out = self._bz2.decompress(self._pending, size)
            self._pending = b""
            self.eof = self._bz2.eof
        else:
            out, self._pending = self._pending[:size], self._pending[size:]
            self.eof = not self._pending and self._unfed <= 0
        return out


def stream_entries(
    fh: BinaryIO, archive: Archive, limits: Limits = DEFAULT_LIMITS, *, skip: Iterable[int] = ()
) -> list[EntryData]:
    """Read the data of every file entry but those in ``skip`` (indexes), stopping at the total-bytes limit."""
    skipped = set(skip)
    results = []
    total = 0
    for entry in archive.entries:
        if entry.is_dir or entry.index in skipped or not entry.local_header_size or entry.encrypted:
            continue
        if entry.method not in SUPPORTED_METHODS:
            continue
        result = _stream_entry(fh, entry, limits, limits.max_total_bytes - total)
        results.append(result)
        total += result.bytes_out
        if result.stopped == "total":
            break
    return results


def _stream_entry(fh: BinaryIO, entry: Entry, limits: Limits, budget: int) -> EntryData:
    inflater = _Inflater(entry.method, entry.compressed_size)
    scanner = CredentialScanner(limits.scan_max_bytes) if entry.file_size <= limits.scan_max_bytes else None
    ratio_cap = max(limits.max_compression_ratio * max(entry.compressed_size, 1), RATIO_FLOOR)
    fh.seek(entry.data_offset)
    left = entry.compressed_size
    bytes_in = bytes_out = crc = 0
    stopped = error = ""
    while True:
        try:
            piece = inflater.read(CHUNK_SIZE)
        except (zlib.error, OSError, EOFError, ValueError) as exc:
            error = f"its compressed data is corrupt ({exc})"
            break
        if piece:
            bytes_out += len(piece)
            crc = zlib.crc32(piece, crc)
            if scanner is not None:
                scanner.feed(piece)
            if bytes_out > budget:
                stopped = "total"
                break
            if bytes_out > ratio_cap:
                stopped = "ratio"
                break
            continue
        if inflater.eof or left <= 0:
            break
        data = fh.read(min(CHUNK_SIZE, left))
        if not data:
            error = "its data ends before its declared compressed size"
            break
        left -= len(data)
        bytes_in += len(data)
        inflater.feed(data)
    if not stopped and not error:
        if bytes_out != entry.file_size:
            error = f"it inflates to {bytes_out} bytes but its header declares {entry.file_size}"
        elif crc != entry.crc:
            error = "its CRC-32 does not match its contents"
    credentials = tuple(scanner.finish()) if scanner is not None else ()
    return EntryData(entry, bytes_in, bytes_out, stopped, error, credentials)


# --------------------------------------------------------------------------------------------------------------
# Rules on the data


def check_integrity(results: Sequence[EntryData]) -> list[Finding]:
    return [
        Finding(
            "corrupt-entry",
            result.entry.name,
            f"{_show(result.entry.name)} is corrupt: {result.error}; re-create the zip and upload it again.",
        )
        for result in results
        if result.error
    ]


def check_total_size(results: Sequence[EntryData], limits: Limits = DEFAULT_LIMITS) -> list[Finding]:
    total = sum(result.bytes_out for result in results)
    if total <= limits.max_total_bytes and not any(result.stopped == "total" for result in results):
        return []
    return [
        Finding(
            "too-large",
            "",
            f"The package inflates to more than {_human(limits.max_total_bytes)} (the limit); reading stopped after "
            f"{total} bytes, so it may be a zip bomb.",
        )
    ]


def check_compression_ratio(
    results: Sequence[EntryData], limits: Limits = DEFAULT_LIMITS, *, archive_size: int | None = None
) -> list[Finding]:
    """Per entry, and for the whole archive (all bytes read / ``archive_size``, by default the compressed sizes' sum).

    Only output above ``RATIO_FLOOR`` is judged.

    The whole-archive ratio is reported only when no single entry is over the limit: it then means that entries
    share compressed bytes, as in an overlapped zip bomb.
    """
    limit = limits.max_compression_ratio
    findings = []
    for result in results:
        compressed = max(result.entry.compressed_size, 1)
        if result.stopped == "ratio" or result.bytes_out > max(limit * compressed, RATIO_FLOOR):
            findings.append(
                Finding(
                    "compression-ratio",
                    result.entry.name,
                    f"{_show(result.entry.name)} expands more than {limit:g}:1 ({result.entry.compressed_size} bytes "
                    f"to at least {result.bytes_out}), a sign of a zip bomb; inflating stopped there.",
                )
            )
    compressed_total = sum(result.entry.compressed_size for result in results) if archive_size is None else archive_size
    out_total = sum(result.bytes_out for result in results)
    if not findings and compressed_total and out_total > max(limit * compressed_total, RATIO_FLOOR):
        findings.append(
            Finding(
                "compression-ratio",
                "",
                f"The package expands {out_total / compressed_total:.0f}:1 overall, more than {limit:g}:1, "
                "a sign of a zip bomb.",
            )
        )
    return findings


def check_credentials(results: Sequence[EntryData]) -> list[Finding]:
    """One finding per file and kind of credential, naming the lines but never the secret."""
    findings = []
    for result in results:
        lines: dict[str, list[int]] = {}
        for hit in result.credentials:
            lines.setdefault(hit.kind, []).append(hit.line)
        for kind, numbers in lines.items():
            numbers = sorted(numbers)
            shown = ", ".join(str(n) for n in numbers[:_MAX_LISTED_LINES])
            more = f" and {len(numbers) - _MAX_LISTED_LINES} more" if len(numbers) > _MAX_LISTED_LINES else ""
            word = "line" if len(numbers) == 1 else "lines"
            findings.append(
                Finding(
                    "credentials",
                    result.entry.name,
                    f"{_show(result.entry.name)} holds {_article(kind)} {kind} on {word} {shown}{more}; remove it and "
                    "rotate the credential.",
                )
            )
    return findings


# --------------------------------------------------------------------------------------------------------------
# Checking a package


def check_package(
    path: str | os.PathLike[str],
    *,
    required: Sequence[str] = (),
    limits: Limits = DEFAULT_LIMITS,
    expected_sha256: str | None = None,
) -> Report:
    """Check one zip package against every rule. Raises ``OSError`` when the file cannot be read.

    ``expected_sha256`` (hex) is compared with the file's SHA-256; a ``ValueError`` means it is not 64 hex digits.
    """
    package = os.fspath(path)
    expected = _parse_sha256(expected_sha256) if expected_sha256 is not None else None
    with open(package, "rb") as fh:
        digest, size = _sha256_of(fh)
        findings: list[Finding] = []
        if expected is not None and expected != digest:
            findings.append(
                Finding(
                    "checksum-mismatch",
                    "",
                    f"The package's SHA-256 is {digest} but {expected} was expected; it changed after upload or the "
                    "expected value is wrong.",
                )
            )

        def report(entries: int, total_bytes: int = 0) -> Report:
            return Report(package, digest, size, entries, total_bytes, tuple(findings), expected)

        try:
            archive = read_archive(fh, size, max_entries=limits.max_entries)
        except ArchiveError as exc:
            findings.append(exc.finding)
            return report(0)
        findings.extend(archive.problems)
        count = max(archive.declared_entries, len(archive.entries))
        if count > limits.max_entries:
            findings.extend(check_entry_count(count, limits))
            return report(count)
        entries = archive.entries
        findings.extend(check_empty(entries))
        findings.extend(check_local_headers(entries))
        findings.extend(check_overlaps(archive))
        findings.extend(check_encrypted(entries))
        findings.extend(check_compression_methods(entries))
        findings.extend(check_name_encoding(entries))
        findings.extend(check_control_characters(entries))
        findings.extend(check_path_traversal(entries))
        findings.extend(check_absolute_paths(entries))
        findings.extend(check_drive_letters(entries))
        findings.extend(check_backslashes(entries))
        findings.extend(check_symlinks(entries))
        findings.extend(check_duplicate_names(entries))
        findings.extend(check_nested_archives(entries, limits))
        findings.extend(check_required_files(entries, required))
        findings.extend(check_forbidden_files(entries, limits.forbidden))
        overlapped = {entry.index for pair in overlapping_entries(archive) for entry in pair if entry is not None}
        results = stream_entries(fh, archive, limits, skip=overlapped)
        findings.extend(check_integrity(results))
        findings.extend(check_total_size(results, limits))
        findings.extend(check_compression_ratio(results, limits, archive_size=size))
        findings.extend(check_credentials(results))
        return report(len(entries), sum(result.bytes_out for result in results))


def sha256_from_s3_checksum(b64: str) -> str | None:
    """Turn S3's ``ChecksumSHA256`` (base64 of the digest) into hex.

    Returns None for a multipart upload's composite checksum (``...-<parts>``), which is not the object's digest.
    Raises ``ValueError`` when the value is not a base64 SHA-256 digest.
    """
    value = b64.strip()
    if re.search(r"-\d+\Z", value):
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{value!r} is not base64") from exc
    if len(raw) != 32:
        raise ValueError(f"{value!r} is not a base64 SHA-256 digest (it decodes to {len(raw)} bytes, not 32)")
    return raw.hex()


def _parse_sha256(value: str) -> str:
    digest = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"{value!r} is not a SHA-256 digest in hex (64 hex digits)")
    return digest


def _sha256_of(fh: BinaryIO) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in iter(lambda: fh.read(CHUNK_SIZE), b""):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


# --------------------------------------------------------------------------------------------------------------
# Manifest


def _files_under(directory: str, exclude: Iterable[str]) -> dict[str, str]:
    """Relative POSIX path -> absolute path of every regular file (or symlink to one), sorted by path.

    Folders that are symlinks are not descended.
    """
    excluded = set(exclude)
    found = {}
    for root, folders, files in os.walk(directory, onerror=_raise):
        folders.sort()
        for name in files:
            full = os.path.join(root, name)
            try:
                mode = os.stat(full).st_mode
            except OSError:  # a dangling symlink
                continue
            if not stat.S_ISREG(mode):
                continue
            relative = os.path.relpath(full, directory).replace(os.sep, "/")
            if relative not in excluded:
                found[relative] = full
    return dict(sorted(found.items()))


def _raise(error: OSError) -> None:
    raise error  # an unreadable folder must fail the manifest, not drop out of it


def _sha256_file(path: str) -> str:
    with open(path, "rb") as fh:
        return _sha256_of(fh)[0]


def write_manifest(
    directory: str | os.PathLike[str],
    *,
    source: Mapping[str, Any],
    exclude: Sequence[str] = (MANIFEST_FILE,),
    output: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Hash every file under ``directory`` (but ``exclude``, paths relative to it) and return the manifest.

    ``source`` records where the files came from (bucket, key, versionId, the zip's sha256, whether S3's checksum
    matched). When ``output`` is given, the manifest is also written there as JSON.
    """
    root = os.fspath(directory)
    files = {relative: _sha256_file(full) for relative, full in _files_under(root, exclude).items()}
    manifest = {"version": 1, "algorithm": "sha256", "source": dict(source), "files": files}
    if output is not None:
        with open(output, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2)
            fh.write("\n")
    return manifest


def verify_manifest(
    directory: str | os.PathLike[str], manifest: Mapping[str, Any], *, exclude: Sequence[str] = (MANIFEST_FILE,)
) -> list[Finding]:
    """Compare ``directory`` with a manifest; an empty list means every file is intact and nothing was added.

    Raises ``ValueError`` when ``manifest`` is not a version-1 SHA-256 manifest.
    """
    files = manifest.get("files")
    if manifest.get("version") != 1 or manifest.get("algorithm") != "sha256" or not isinstance(files, dict):
        raise ValueError("not a version 1 sha256 manifest (expected 'version', 'algorithm' and 'files')")
    current = _files_under(os.fspath(directory), exclude)
    findings = []
    for path in sorted(set(files) | set(current)):
        if path not in current:
            findings.append(Finding("file-missing", path, f"{_show(path)} is in the manifest but missing."))
        elif path not in files:
            findings.append(Finding("file-added", path, f"{_show(path)} was added after the manifest was written."))
        elif _sha256_file(current[path]) != str(files[path]).lower():
            findings.append(Finding("file-changed", path, f"{_show(path)} changed after the manifest was written."))
    return findings


# --------------------------------------------------------------------------------------------------------------
# Command line


class _UsageError(Exception):
    pass


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _package_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="check.py",
        description="Check a zip package before it is extracted and built. "
        "Exit 0: accepted; 1: rejected; 2: usage error or unreadable input.",
        epilog="Other commands: 'check.py manifest DIR --source-json ...' and 'check.py verify DIR' (see --help).",
    )
    parser.add_argument("package", help="the zip file")
    parser.add_argument("--require", action="append", default=[], metavar="PATTERN", help="a file that must exist")
    parser.add_argument("--forbid", action="append", default=[], metavar="PATTERN", help="a file that must not")
    parser.add_argument("--no-default-forbidden", action="store_true", help="drop the default forbidden patterns")
    parser.add_argument("--max-entries", type=_positive_int, default=DEFAULT_LIMITS.max_entries, metavar="N")
    parser.add_argument("--max-total-bytes", type=_positive_int, default=DEFAULT_LIMITS.max_total_bytes, metavar="N")
    parser.add_argument(
        "--max-compression-ratio", type=_positive_float, default=DEFAULT_LIMITS.max_compression_ratio, metavar="N"
    )
    parser.add_argument("--scan-max-bytes", type=_positive_int, default=DEFAULT_LIMITS.scan_max_bytes, metavar="N")
    parser.add_argument("--allow-nested-archives", action="store_true")
    checksum = parser.add_mutually_exclusive_group()
    checksum.add_argument("--expected-sha256", metavar="HEX", help="the SHA-256 the package must have")
    checksum.add_argument("--s3-checksum-sha256", metavar="B64", help="S3's ChecksumSHA256 of the object")
    parser.add_argument("--report", metavar="FILE", help="also write the JSON report to FILE")
    parser.add_argument("--json", action="store_true", help="print the JSON report instead of the summary")
    return parser


def _main_check(argv: Sequence[str]) -> int:
    args = _package_parser().parse_args(argv)
    notes = []
    expected: str | None = args.expected_sha256
    if args.s3_checksum_sha256 is not None:
        try:
            expected = sha256_from_s3_checksum(args.s3_checksum_sha256)
        except ValueError as exc:
            raise _UsageError(f"--s3-checksum-sha256: {exc}") from None
        if expected is None:
            notes.append(
                "S3's checksum is a multipart composite, not the object's SHA-256, so it could not be compared."
            )
    forbidden = () if args.no_default_forbidden else DEFAULT_FORBIDDEN
    try:
        limits = Limits(
            max_entries=args.max_entries,
            max_total_bytes=args.max_total_bytes,
            max_compression_ratio=args.max_compression_ratio,
            allow_nested_archives=args.allow_nested_archives,
            scan_max_bytes=args.scan_max_bytes,
            forbidden=(*forbidden, *args.forbid),
        )
        report = check_package(args.package, required=args.require, limits=limits, expected_sha256=expected)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    except OSError as exc:
        raise _UsageError(f"cannot read {args.package}: {exc.strerror or exc}") from None
    if notes:
        report = replace(report, notes=tuple(notes))
    document = json.dumps(report.to_dict(), indent=2)
    _emit(document if args.json else report.summary())
    if args.report:
        try:
            with open(args.report, "w", encoding="utf-8") as fh:
                fh.write(document + "\n")
        except OSError as exc:
            raise _UsageError(f"cannot write {args.report}: {exc.strerror or exc}") from None
    return 0 if report.accepted else 1


def _main_manifest(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="check.py manifest", description="Write the SHA-256 of every file in DIR to a JSON manifest."
    )
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument(
        "--source-json", required=True, metavar="FILE_OR_JSON", help="where the files came from: a JSON object"
    )
    parser.add_argument("--output", metavar="FILE", help=f"default: DIR/{MANIFEST_FILE}")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.directory):
        raise _UsageError(f"{args.directory} is not a directory")
    source = _load_json(args.source_json)
    if not isinstance(source, dict):
        raise _UsageError("--source-json must be a JSON object")
    output = args.output or os.path.join(args.directory, MANIFEST_FILE)
    # Only the manifest itself is left out: a package's own file named manifest.json is hashed like any other.
    exclude = _relative_inside(output, args.directory)
    try:
        manifest = write_manifest(args.directory, source=source, exclude=exclude, output=output)
    except OSError as exc:
        raise _UsageError(f"cannot write the manifest: {exc}") from None
    _emit(f"Manifest: {len(manifest['files'])} file(s) hashed into {output}")
    return 0


def _main_verify(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="check.py verify", description="Check that DIR holds exactly the files of its manifest, unchanged."
    )
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--manifest", metavar="FILE", help=f"default: DIR/{MANIFEST_FILE}")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.directory):
        raise _UsageError(f"{args.directory} is not a directory")
    path = args.manifest or os.path.join(args.directory, MANIFEST_FILE)
    manifest = _load_json(path)
    if not isinstance(manifest, dict):
        raise _UsageError(f"{path} is not a manifest")
    try:
        findings = verify_manifest(args.directory, manifest, exclude=_relative_inside(path, args.directory))
    except ValueError as exc:
        raise _UsageError(f"{path} is {exc}") from None
    except OSError as exc:
        raise _UsageError(f"cannot read {exc.filename or args.directory}: {exc.strerror or exc}") from None
    if not findings:
        _emit(f"Manifest verified: {len(manifest['files'])} files intact")
        return 0
    lines = [f"Manifest check FAILED: {len(findings)} difference(s) from {path}"]
    lines.extend(f"  [{finding.rule}] {finding.message}" for finding in findings)
    _emit("\n".join(lines))
    return 1


def _relative_inside(path: str, directory: str) -> list[str]:
    try:
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(directory))
    except ValueError:  # another drive, on Windows
        return []
    return [] if relative.startswith(os.pardir) else [relative.replace(os.sep, "/")]


def _load_json(value: str) -> Any:
    """A JSON document given inline (starting with '{') or as a file name."""
    try:
        if value.lstrip().startswith("{"):
            return json.loads(value)
        with open(value, encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        raise _UsageError(f"cannot read {value}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise _UsageError(f"invalid JSON in {value[:80]}: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 accepted/intact, 1 rejected/changed, 2 usage error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = {"manifest": _main_manifest, "verify": _main_verify}.get(args[0] if args else "", _main_check)
    try:
        return command(args[1:] if command is not _main_check else args)
    except _UsageError as exc:
        print(f"check.py: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)


# --------------------------------------------------------------------------------------------------------------
# Formatting


def _show(text: str) -> str:
    """Quote a name for a one-line message, escaping characters that are not printable."""
    escaped = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)
    return f"'{escaped}'"


def _list(names: Sequence[str]) -> str:
    return ", ".join(_show(name) for name in names)


def _article(kind: str) -> str:
    return "an" if kind[0] in "AEIOU" else "a"


def _human(size: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def _emit(text: str) -> None:
    try:
        print(text)
    except UnicodeEncodeError:  # a log whose encoding cannot show a name
        print(text.encode("ascii", "backslashreplace").decode("ascii"))


if __name__ == "__main__":
    sys.exit(main())
