"""Check an uploaded zip package, extract exactly what was checked, and write or verify its file manifest.

The pipeline downloads this one file into CodeBuild (the ``aws/codebuild/standard:5.0`` image: Python 3.8 and
nothing else) and runs ``python3 check.py ...``; on a developer's machine it runs as
``python -m s3_validated_pipeline.check ...``. So it is self-contained: standard library only, Python 3.8
compatible, and it imports nothing from the rest of the package.

Checking a package (``check_package``) reads the zip's own structures rather than trusting ``zipfile``, and accepts
only zips that every common extractor reads the same way: one end record at the very end (followed by nothing but
the zero padding bsdtar writes), every byte of the file accounted for by an entry or the central directory, each
local header agreeing with its central entry, names that mean one path everywhere, regular files and folders only.
Then it reads every entry's data exactly once, in 1 MiB chunks: uncompressed sizes are counted by inflating the
real bytes (inflating stops as soon as a limit is passed, so a zip bomb is never fully expanded), text is scanned
for credentials, and, with ``extract_to``, each file is written from the very bytes that were judged. The validate
stage runs the package's commands on that extraction, never on another tool's reading of the zip.

Each rule is a small function, listed with its stable id in ``RULES``; a package with no findings is accepted.
Time is linear in the zip's size and entry count, and memory does not grow with path depth.

Command line (exit 0: accepted or intact; 1: rejected or changed; 2: usage error or unreadable input)::

    check.py PACKAGE.zip [--extract DIR] [--require GLOB]... [--forbid GLOB]... [--ignore GLOB]... [--json] ...
    check.py manifest DIR --source-json FILE_OR_JSON [--output FILE]
    check.py verify DIR [--manifest FILE]
    check.py change-set DESCRIBE_JSON --template FILE --change-set-template FILE --report FILE

A package whose path is literally ``manifest`` or ``verify`` must be given as ``./manifest``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import codecs
import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import struct
import sys
import threading
import time
import unicodedata
import urllib.parse
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, Callable, Optional  # noqa: UP035  # subscripted at run time, on Python 3.8

__all__ = [
    "DEFAULT_FORBIDDEN",
    "DEFAULT_LIMITS",
    "MANIFEST_PATH",
    "RULES",
    "ArchiveError",
    "CredentialScanner",
    "Finding",
    "Limits",
    "Report",
    "check_package",
    "compile_glob",
    "find_credentials",
    "glob_problem",
    "main",
    "read_archive",
    "sha256_from_s3_checksum",
    "verify_manifest",
    "write_manifest",
]

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

CHUNK_SIZE = MIB
"""Entry data is read and inflated in pieces of at most this many bytes."""

RECORDS_DIR = ".validated"
"""Where the validated artifact keeps its records: the package check's report and the manifest."""
MANIFEST_PATH = RECORDS_DIR + "/manifest.json"
"""The manifest's default place, relative to the checked folder."""
REPORT_PATH = RECORDS_DIR + "/package-check.json"
"""Where the validate stage keeps the package check's JSON report, relative to the checked folder."""

TEXT_PROBE_BYTES = 8 * KIB
"""A file with a NUL byte in its first 8 KiB (and no UTF-16 byte-order mark) is binary: not scanned."""

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

MACOS_METADATA = "__MACOSX"
"""The folder in which macOS's Finder stores resource forks; it does not count as the package's top folder."""

SUPPORTED_METHODS = {0: "stored", 8: "deflate", 12: "bzip2"}
_METHOD_NAMES = {1: "shrink", 6: "implode", 9: "deflate64", 14: "LZMA", 93: "Zstandard", 95: "XZ", 99: "AES"}

RATIO_FLOOR = MIB
"""Output below which the compression ratio is not judged: small repetitive files (logs, fixtures) compress far
beyond 100:1 yet cannot hurt, and the total-size limit bounds many of them together."""

_FLAG_ENCRYPTED = 0x1
_FLAG_DESCRIPTOR = 0x8
_FLAG_STRONG_ENCRYPTION = 0x40
_FLAG_UTF8 = 0x800
_KNOWN_FLAGS = _FLAG_ENCRYPTED | 0x6 | _FLAG_DESCRIPTOR | _FLAG_STRONG_ENCRYPTION | _FLAG_UTF8
"""General-purpose flags every common tool handles alike; others (patched data, masked headers) they do not."""
_MAX_NEEDED_VERSION = 46
"""The highest "version needed to extract" that Info-ZIP unzip 6 (4.6: zip64, bzip2) handles; it skips others."""
_DOS_DIRECTORY = 0x10
_MAX_LISTED_LINES = 10
_SUMMARY_LINES_PER_RULE = 50
_SHOWN_NAME_CHARS = 200
_U32 = 0xFFFFFFFF
_U16 = 0xFFFF


@dataclass(frozen=True)
class Finding:
    """One problem with a package or a checked folder."""

    rule: str
    """Stable id of the rule, e.g. ``path-traversal``; ``RULES`` lists them."""
    path: str
    """The entry's or file's name; empty for findings about the whole archive."""
    message: str
    """One sentence: what is wrong and, where useful, what to do."""

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "path": self.path, "message": self.message}


# --------------------------------------------------------------------------------------------------------------
# Globs: one meaning for required, forbidden and ignored paths


def glob_problem(pattern: object) -> str | None:
    """Say what is wrong with a glob (relative to the package root), or return None when it is usable."""
    if not isinstance(pattern, str):
        return f"is a {type(pattern).__name__}, not a glob string"
    text = _strip_dot_slash(pattern.strip())
    if not text.strip("/"):
        return "is empty; name a file or folder, e.g. 'package.json' or 'node_modules'"
    if text.startswith("/") or "\\" in text:
        return "must be relative to the package root with '/' separators, e.g. 'src/index.ts'"
    if ".." in text.split("/"):
        return "must not contain '..': paths must lie inside the package"
    for segment in text.strip("/").split("/"):
        if segment.count("[") != segment.count("]") or re.search(r"\[[!]?\]", segment):
            return f"has an unclosed or empty '[...]' in {segment!r}; write e.g. '*.[jt]s'"
    return None


def compile_glob(pattern: str, *, ignore_case: bool = False, subtree: bool = False) -> re.Pattern[str]:
    """Translate a glob relative to the package root into a regular expression for a whole path.

    ``**`` as a whole path segment crosses folders, including none; ``*``, ``?`` and ``[...]`` (``[!...]``
    negates) stay within one segment and match dotfiles too. A leading ``./`` and a trailing ``/`` are ignored.
    With ``subtree``, the expression also matches every path inside a matching folder. Raises ``ValueError`` for a
    pattern ``glob_problem`` rejects.
    """
    problem = glob_problem(pattern)
    if problem:
        raise ValueError(f"{pattern!r} {problem}")
    segments = _strip_dot_slash(pattern.strip()).strip("/").split("/")
    parts: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            if parts and parts[-1] == "(?:[^/]+/)*":
                continue  # '**/**' means what '**' means; collapsing it keeps matching linear
            parts.append(".*" if last else "(?:[^/]+/)*")
        else:
            parts.append(_segment_regex(segment) + ("" if last else "/"))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts) + (r"(?:/.*)?\Z" if subtree else r"\Z"), flags)


def _strip_dot_slash(text: str) -> str:
    return text[2:] if text.startswith("./") else text


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
            j = segment.index("]", i + 1 if segment[i : i + 1] == "!" else i)
            body = segment[i:j].replace("\\", "\\\\")
            i = j + 1
            out.append(f"[^/{body[1:]}]" if body.startswith("!") else f"[{body}]")
        else:
            out.append(re.escape(char))
    return "".join(out)


class _PathMatcher:
    """Globs matched as ``.gitignore`` does: one without '/' matches a name at any depth, one with '/' the path
    from the root; a matching folder covers everything inside it. Case is ignored.

    Names are judged once each (a cache), so checking many paths costs time linear in their length.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        self.name_patterns: list[tuple[str, re.Pattern[str]]] = []
        self.path_patterns: list[tuple[str, re.Pattern[str]]] = []
        for pattern in patterns:
            text = _strip_dot_slash(pattern.strip()).strip("/")
            if "/" in text:
                self.path_patterns.append((pattern, compile_glob(text, ignore_case=True, subtree=True)))
            else:
                self.name_patterns.append((pattern, compile_glob(text, ignore_case=True)))
        self._names: dict[str, str | None] = {}

    def __bool__(self) -> bool:
        return bool(self.name_patterns or self.path_patterns)

    def name_match(self, name: str) -> str | None:
        """The first pattern matching this one file or folder name."""
        if name not in self._names:
            self._names[name] = next((p for p, regex in self.name_patterns if regex.match(name)), None)
        return self._names[name]

    def match(self, path: str) -> tuple[str, str] | None:
        """(pattern, the matching path or folder) for the first pattern matching ``path`` or a folder above it."""
        if not self:
            return None
        start = 0
        while True:
            end = path.find("/", start)
            name = path[start:] if end < 0 else path[start:end]
            pattern = self.name_match(name)
            if pattern is not None:
                return pattern, path if end < 0 else path[:end]
            if end < 0:
                break
            start = end + 1
        for pattern, regex in self.path_patterns:
            if regex.match(path):
                return pattern, path
        return None


@dataclass(frozen=True)
class Limits:
    """What a package may hold. The defaults suit the source package of a typical application."""

    max_package_bytes: int = GIB
    """Largest zip file, in bytes: the validate stage heads the uploaded object and refuses a larger one before it
    downloads it; the check refuses it too, before reading it."""
    max_entries: int = 10_000
    """Most entries (files and folders) the zip may list."""
    max_total_bytes: int = GIB
    """Most bytes all entries may inflate to, counted from the real data, not from the headers."""
    max_compression_ratio: float = 100.0
    """Highest uncompressed / compressed ratio, for each entry and for the whole archive."""
    allow_nested_archives: bool = False
    """Whether the package may hold archives (``.zip``, ``.tar.gz``, ...) that nothing here inspects."""
    scan_max_bytes: int = 5 * MIB
    """The first this many bytes of every text file are scanned for credentials."""
    forbidden: tuple[str, ...] = DEFAULT_FORBIDDEN
    """Globs of files or folders the package must not hold; ``!`` marks an exception."""
    ignore: tuple[str, ...] = ()
    """Globs of files or folders exempt from the forbidden-file and credentials rules (e.g. ``node_modules``);
    they are still checked for structure, names, size and type."""
    max_name_bytes: int = 1024
    """Longest path, in UTF-8 bytes."""
    max_segment_bytes: int = 255
    """Longest file or folder name within a path, in UTF-8 bytes (what common file systems allow)."""
    max_depth: int = 64
    """Most segments in a path."""

    def __post_init__(self) -> None:
        for name in (
            "max_package_bytes",
            "max_entries",
            "max_total_bytes",
            "scan_max_bytes",
            "max_name_bytes",
            "max_segment_bytes",
        ):
            _require_positive(name, getattr(self, name))
        _require_positive("max_depth", self.max_depth)
        if not self.max_compression_ratio > 0:
            raise ValueError(f"Limits.max_compression_ratio must be positive, not {self.max_compression_ratio!r}")
        for name in ("forbidden", "ignore"):
            patterns = getattr(self, name)
            if isinstance(patterns, str):
                raise ValueError(f"Limits.{name} must be a sequence of patterns, not one string")
            for pattern in patterns:
                problem = glob_problem(pattern[1:] if name == "forbidden" and pattern.startswith("!") else pattern)
                if problem:
                    raise ValueError(f"Limits.{name}: {pattern!r} {problem}")


def _require_positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Limits.{name} must be a positive integer, not {value!r}")


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
    needed_version: int = 20
    """The "version needed to extract", times ten (20 means 2.0)."""
    local_header_size: int = 0
    """30 bytes plus the local name and extra field; 0 when there is no valid local header."""
    descriptor_size: int = 0
    """Bytes of the data descriptor after the data (flag bit 3), 0 when there is none."""

    @property
    def path(self) -> str:
        """The name as extracted: one leading ``./`` (as Windows' ``tar`` writes) and a folder's ``/`` removed."""
        name = self.name[2:] if self.name.startswith("./") else self.name
        return name[:-1] if name.endswith("/") else name

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @property
    def is_root(self) -> bool:
        """The ``./`` entry some tools write for the folder that was zipped: nothing to extract."""
        return self.name == "./"

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
    def file_type(self) -> int:
        """The ``stat`` file type from the Unix mode in the external attributes; 0 when none is set."""
        return stat.S_IFMT(self.external_attr >> 16)

    @property
    def is_symlink(self) -> bool:
        return self.file_type == stat.S_IFLNK

    @property
    def executable(self) -> bool:
        return bool((self.external_attr >> 16) & 0o111)

    @property
    def data_offset(self) -> int:
        return self.header_offset + self.local_header_size

    @property
    def end_offset(self) -> int:
        """Where the next entry's local header (or the central directory) must start."""
        return self.data_offset + self.compressed_size + self.descriptor_size


@dataclass(frozen=True)
class Archive:
    """What the zip's structures say, read without inflating anything."""

    size: int
    entries: tuple[Entry, ...]
    declared_entries: int
    """The count in the end records."""
    central_directory: tuple[int, int]
    """Start and end offset of the central directory in the file."""
    problems: tuple[Finding, ...] = ()
    """Structural problems that did not stop the reading; a package with any is not read further."""


class ArchiveError(Exception):
    """The file cannot be read as one unambiguous zip archive."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.finding = Finding(rule, "", message)
        """The one finding about the whole archive that stopped the reading."""


# --------------------------------------------------------------------------------------------------------------
# Reading the zip's structures: every byte accounted for, every field agreeing with every other


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
_SIG_DESCRIPTOR = b"PK\x07\x08"
_SIGNATURES = (_SIG_EOCD, _SIG_EOCD64_LOCATOR, _SIG_EOCD64, _SIG_CENTRAL, _SIG_LOCAL, _SIG_DESCRIPTOR)
_EXTRA_ZIP64 = 0x0001
_EXTRA_UNICODE_PATH = 0x7075
_EXTRA_UNICODE_COMMENT = 0x6375
_RECREATE = "re-create the zip with a standard tool, e.g. `zip -r package.zip .`"
_MAX_PADDING = 10240
"""Zero bytes accepted after the end record. bsdtar writing to standard output (``bsdtar --format zip -cf - . >
package.zip``, through a pipe or not) pads the zip with zeros to a whole block: 20 records of 512 bytes unless
``-b`` says otherwise, so less than this."""


@dataclass(frozen=True)
class _End:
    entries: int
    cd_size: int
    cd_offset: int
    records_start: int
    """Where the end records (zip64 or not) begin: the central directory must end exactly here."""
    problems: tuple[Finding, ...]


def read_archive(fh: BinaryIO, size: int, *, limits: Limits | None = None) -> Archive:
    """Read the end records, the central directory and every local header.

    Raises ``ArchiveError`` when the file is no zip, or when its end records or layout are ambiguous. At most
    ``limits.max_entries + 1`` entries are read: one more than the limit is enough to reject the package.
    """
    limits = limits or DEFAULT_LIMITS
    end = _read_end_records(fh, size)
    before = end.records_start - end.cd_size - end.cd_offset
    fh.seek(end.cd_offset)
    if before > 0 and fh.read(4) == _SIG_CENTRAL:
        raise ArchiveError(
            "entry-count-mismatch",
            f"The end record says the central directory is {end.cd_size} bytes, but it takes {before} bytes more, "
            f"so tools would disagree on the entries; {_RECREATE}.",
        )
    if before > 0:
        raise ArchiveError(
            "unaccounted-bytes",
            f"{before} bytes come before the zip's first entry (another file, or a self-extractor, is joined to "
            f"it), so tools would disagree on its contents; {_RECREATE}.",
        )
    if before < 0:
        raise ArchiveError(
            "corrupt-archive", "The central directory lies outside the file; the archive is corrupt or truncated."
        )
    cd = (end.cd_offset, end.records_start)
    if end.entries > limits.max_entries:
        return Archive(size, (), end.entries, cd, end.problems)
    entries, problems = _read_central_directory(fh, cd, limits)
    problems = [*end.problems, *problems]
    if len(entries) <= limits.max_entries and len(entries) != end.entries:
        problems.append(
            Finding(
                "entry-count-mismatch",
                "",
                f"The zip's end record declares {end.entries} entries but its central directory holds "
                f"{len(entries)}, so tools would disagree on the contents; {_RECREATE}.",
            )
        )
    if len(entries) > limits.max_entries:
        return Archive(size, tuple(entries), max(end.entries, len(entries)), cd, tuple(problems))
    located = []
    for entry in entries:
        entry, found = _with_local_header(fh, entry, size)
        located.append(entry)
        problems.extend(found)
    problems.extend(_layout_problems(located, cd[0]))
    return Archive(size, tuple(located), end.entries, cd, tuple(problems))


def _read_end_records(fh: BinaryIO, size: int) -> _End:
    tail_size = min(size, _EOCD.size + _U16 + _MAX_PADDING)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = _end_record_in(tail, fh, size)
    eocd_at = size - tail_size + at
    fields, records_start = _with_zip64_record(fh, eocd_at, _EOCD.unpack_from(tail, at)[1:7])
    disk, cd_disk, disk_entries, entries, cd_size, cd_offset = fields
    if disk != 0 or cd_disk != 0:
        raise ArchiveError("corrupt-archive", "The zip spans several disks, which is not supported; upload one file.")
    problems = []
    if disk_entries != entries:
        problems.append(
            Finding(
                "entry-count-mismatch",
                "",
                f"The zip's end record counts {disk_entries} entries on this disk but {entries} in all, so tools "
                f"would disagree on the contents; {_RECREATE}.",
            )
        )
    return _End(entries, cd_size, cd_offset, records_start, tuple(problems))


def _end_record_in(tail: bytes, fh: BinaryIO, size: int) -> int:
    """Where in ``tail`` (the file's last bytes) the one end record starts; it and its comment must end the file,
    but for zero padding (``_MAX_PADDING``)."""
    # An end record ends the file when nothing but zeros, at most _MAX_PADDING of them, follows its comment. No
    # record can hide in those zeros (every signature starts with "PK"), so a second end record that ends the file
    # starts before them, within the tail (a record and its comment take at most 22 + 65,535 bytes), and is found
    # below. With none, the readers that take the last end record and those that take the one ending the file agree.
    zeros_from = len(tail.rstrip(b"\x00"))

    def comment_end(at: int) -> int:
        comment_length: int = _EOCD.unpack_from(tail, at)[7]
        return at + _EOCD.size + comment_length

    def ends_file(at: int) -> bool:
        return max(zeros_from, len(tail) - _MAX_PADDING) <= comment_end(at) <= len(tail)

    at = tail.rfind(_SIG_EOCD)
    while at >= 0 and (at + _EOCD.size > len(tail) or comment_end(at) > len(tail)):
        at = tail.rfind(_SIG_EOCD, 0, at)
    if at < 0:
        fh.seek(0)
        if fh.read(4) == _SIG_LOCAL:
            raise ArchiveError(
                "truncated", "The zip ends before its central directory: the upload was cut short; upload it again."
            )
        if size == 0:
            raise ArchiveError("not-a-zip", "The file is empty (0 bytes), not a zip archive.")
        raise ArchiveError("not-a-zip", "The file is not a zip archive (it has no end-of-central-directory record).")
    other = tail.rfind(_SIG_EOCD, 0, at)
    while other >= 0:
        if other + _EOCD.size <= at and ends_file(other):
            raise ArchiveError(
                "end-record",
                "The zip has two end records that each reach the end of the file or its zero padding (an archive "
                f"hidden in the zip comment), so tools would read different archives; {_RECREATE}.",
            )
        other = tail.rfind(_SIG_EOCD, 0, other)
    end = comment_end(at)
    after = len(tail) - end
    if end < zeros_from:
        first = size - len(tail[end:].lstrip(b"\x00"))
        raise ArchiveError(
            "end-record",
            f"{after} bytes follow the zip's end record, the first non-zero one at offset {first}: only zero bytes "
            f"(the padding `bsdtar -cf -` writes) may follow it, so tools would disagree on where the archive ends; "
            f"{_RECREATE}.",
        )
    if after > _MAX_PADDING:
        raise ArchiveError(
            "end-record",
            f"{after} zero bytes follow the zip's end record, more than the {_MAX_PADDING} bsdtar pads a zip with "
            f"when it writes to standard output (its default block size); {_RECREATE}, or with bsdtar without `-b`.",
        )
    if end - at - _EOCD.size + after > _U16:
        raise ArchiveError(
            "end-record",
            f"The zip comment ({end - at - _EOCD.size} bytes) and the zero padding after it ({after} bytes) put the "
            f"end record more than {_EOCD.size + _U16} bytes before the end of the file, further than readers look "
            f"for it (Python's zipfile would not open the zip); {_RECREATE} and a shorter comment.",
        )
    if any(signature in tail[at + _EOCD.size : end] for signature in _SIGNATURES):
        raise ArchiveError(
            "end-record",
            "The zip comment holds a zip record signature, so tools may read a different archive from it; "
            f"{_RECREATE} and no comment.",
        )
    return at


def _with_zip64_record(fh: BinaryIO, eocd_at: int, fields: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """The end record's fields (disks, counts, directory size and offset), from the zip64 end record where the
    end record is saturated; and where the end records start. zip64 records must be present exactly when needed."""
    saturated = _U16 in fields[2:4] or _U32 in fields[4:6]
    fh.seek(max(0, eocd_at - _EOCD64_LOCATOR.size))
    locator = fh.read(_EOCD64_LOCATOR.size) if eocd_at >= _EOCD64_LOCATOR.size else b""
    if locator[:4] != _SIG_EOCD64_LOCATOR:
        if saturated:
            raise ArchiveError(
                "zip64-record",
                "The zip's end record points to zip64 records that are not there; the archive is damaged. "
                f"{_RECREATE[0].upper()}{_RECREATE[1:]}.",
            )
        return fields, eocd_at
    if not saturated:
        raise ArchiveError(
            "zip64-record",
            f"The zip has zip64 end records although its end record needs none, so tools may read either; {_RECREATE}.",
        )
    _, zip64_disk, zip64_at, disks = _EOCD64_LOCATOR.unpack(locator)
    expected_at = eocd_at - _EOCD64_LOCATOR.size - _EOCD64.size
    fh.seek(max(0, expected_at))
    record = fh.read(_EOCD64.size)
    if zip64_disk != 0 or disks > 1 or zip64_at != expected_at or record[:4] != _SIG_EOCD64:
        raise ArchiveError(
            "zip64-record",
            "The zip64 end record is not where its locator says, right before it; the archive is damaged or "
            f"crafted. {_RECREATE[0].upper()}{_RECREATE[1:]}.",
        )
    values = _EOCD64.unpack(record)
    record_size, actual = values[1], values[4:10]
    limits = (_U16, _U16, _U16, _U16, _U32, _U32)
    if record_size != _EOCD64.size - 12 or any(
        value not in (limit, value64)
        for value, value64, limit in zip(fields, actual, limits)  # noqa: B905  # no strict= on Python 3.8
    ):
        raise ArchiveError(
            "zip64-record",
            f"The zip64 end record disagrees with the end record, so tools would read different archives; {_RECREATE}.",
        )
    return tuple(actual), expected_at


def _extras(data: bytes) -> dict[int, bytes] | None:
    """The extra fields by id; None when they overrun their space or an id repeats (readers would differ)."""
    fields: dict[int, bytes] = {}
    at = 0
    while at + 4 <= len(data):
        kind, length = struct.unpack_from("<2H", data, at)
        if at + 4 + length > len(data) or kind in fields:
            return None
        fields[kind] = data[at + 4 : at + 4 + length]
        at += 4 + length
    if any(data[at:]):  # a few zero bytes of padding are harmless; anything else is not a field
        return None
    return fields


def _zip64_values(extra: bytes | None, values: Sequence[int]) -> list[int] | None:
    """Replace each saturated value (0xFFFFFFFF) by the next 8 bytes of the zip64 field, in order."""
    out = list(values)
    cursor = 0
    for i, value in enumerate(out):
        if value == _U32:
            if extra is None or cursor + 8 > len(extra):
                return None
            out[i] = struct.unpack_from("<Q", extra, cursor)[0]
            cursor += 8
    return out


def _read_central_directory(fh: BinaryIO, cd: tuple[int, int], limits: Limits) -> tuple[list[Entry], list[Finding]]:
    start, end = cd
    entries: list[Entry] = []
    problems: list[Finding] = []
    fh.seek(start)
    position = start
    while position < end and len(entries) <= limits.max_entries:
        number = len(entries) + 1
        fixed = fh.read(_CENTRAL.size)
        if len(fixed) < _CENTRAL.size or fixed[:4] != _SIG_CENTRAL:
            raise ArchiveError(
                "corrupt-archive", f"Central directory record {number} is damaged; the archive is corrupt."
            )
        fields = _CENTRAL.unpack(fixed)
        create_system, needed_version, flags, method = fields[2], fields[3], fields[5], fields[6]
        crc, csize, usize, name_size, extra_size, comment_size = fields[9:15]
        external_attr, offset = fields[17:19]
        if name_size > limits.max_name_bytes:
            raise ArchiveError(
                "name-too-long",
                f"Entry {number} has a name of {name_size} bytes, longer than the limit of {limits.max_name_bytes}; "
                "shorten the path (or raise the limit).",
            )
        raw_name = fh.read(name_size)
        extra_bytes = fh.read(extra_size)
        comment = fh.read(comment_size)
        position += _CENTRAL.size + name_size + extra_size + comment_size
        if position > end or len(comment) < comment_size:
            raise ArchiveError(
                "corrupt-archive", f"Central directory record {number} is cut short; the archive is corrupt."
            )
        extras = _extras(extra_bytes)
        values = _zip64_values(None if extras is None else extras.get(_EXTRA_ZIP64), (usize, csize, offset))
        usize, csize, offset = values or (usize, csize, offset)
        entry = Entry(
            index=len(entries),
            name=_decode_name(raw_name),
            raw_name=raw_name,
            flags=flags,
            method=method,
            crc=crc,
            compressed_size=csize,
            file_size=usize,
            header_offset=offset,
            external_attr=external_attr,
            create_system=create_system,
            needed_version=needed_version,
        )
        if extras is None or values is None:
            problems.append(
                Finding(
                    "corrupt-archive",
                    entry.name,
                    f"{_show(entry.name)} has malformed extra fields in the central directory, so tools would read "
                    f"it differently; {_RECREATE}.",
                )
            )
        else:
            problems.extend(_renaming_extras(entry, extras, comment, "central directory"))
        entries.append(entry)
    if len(entries) <= limits.max_entries and position != end:
        problems.append(
            Finding(
                "entry-count-mismatch",
                "",
                "The central directory's records do not fill the size its end record gives; the archive is corrupt.",
            )
        )
    return entries, problems


def _renaming_extras(entry: Entry, extras: Mapping[int, bytes], comment: bytes, where: str) -> list[Finding]:
    """Info-ZIP's Unicode Path and Comment fields make unzip, bsdtar and 7-Zip use another name than the header."""
    found = []
    pairs = ((_EXTRA_UNICODE_PATH, entry.raw_name, "name"), (_EXTRA_UNICODE_COMMENT, comment, "comment"))
    for kind, original, what in pairs:
        value = extras.get(kind)
        if value is not None and value[5:] != original:
            found.append(
                Finding(
                    "name-extra-field",
                    entry.name,
                    f"{_show(entry.name)} has a Unicode {what} field in its {where} that says "
                    f"{_show(_decode_name(value[5:]))}, so tools would extract it differently; {_RECREATE}.",
                )
            )
    return found


def _with_local_header(fh: BinaryIO, entry: Entry, size: int) -> tuple[Entry, list[Finding]]:
    fh.seek(entry.header_offset)
    fixed = fh.read(_LOCAL.size) if entry.header_offset + _LOCAL.size <= size else b""
    if len(fixed) < _LOCAL.size or fixed[:4] != _SIG_LOCAL:
        message = f"{_show(entry.name)} has no valid local file header at offset {entry.header_offset}; {_RECREATE}."
        return entry, [Finding("local-header", entry.name, message)]
    _, _, _, flags, method, _, _, crc, csize, usize, name_size, extra_size = _LOCAL.unpack(fixed)
    local_name = fh.read(name_size)
    extras = _extras(fh.read(extra_size))
    entry = replace(entry, local_header_size=_LOCAL.size + name_size + extra_size)
    zip64 = None if extras is None else extras.get(_EXTRA_ZIP64)
    sizes = _zip64_values(zip64, (usize, csize))
    differences = []
    if local_name != entry.raw_name:
        differences.append(f"is named {_show(_decode_name(local_name))}")
    if flags != entry.flags:
        differences.append(f"has flags {flags:#06x}, not {entry.flags:#06x}")
    if method != entry.method:
        differences.append(f"has compression method {method}, not {entry.method}")
    if extras is None or sizes is None:
        differences.append("has malformed extra fields")
    else:
        local = (crc, sizes[1], sizes[0])
        central = (entry.crc, entry.compressed_size, entry.file_size)
        # With a data descriptor (flag bit 3), a writer that streams may leave any of them 0 in the local header.
        deferred = entry.flags & _FLAG_DESCRIPTOR
        if any(value != expected and not (deferred and value == 0) for value, expected in zip(local, central)):  # noqa: B905
            differences.append(f"declares CRC {crc:#010x}, sizes {sizes[1]} and {sizes[0]}")
    found = []
    if differences:
        found.append(
            Finding(
                "local-header",
                entry.name,
                f"{_show(entry.name)} {' and '.join(differences)} in its local header, unlike its central directory "
                f"entry, so tools would read it differently; {_RECREATE}.",
            )
        )
    elif extras is not None:
        found.extend(_renaming_extras(entry, extras, b"", "local header"))
    if entry.flags & _FLAG_DESCRIPTOR and not found:
        entry, descriptor_problem = _with_descriptor(fh, entry, size, zip64 is not None)
        if descriptor_problem:
            found.append(Finding("data-descriptor", entry.name, descriptor_problem))
    return entry, found


def _with_descriptor(fh: BinaryIO, entry: Entry, size: int, zip64: bool) -> tuple[Entry, str]:
    """Find the data descriptor after the data: with or without its optional signature, 4- or 8-byte sizes."""
    at = entry.data_offset + entry.compressed_size
    fh.seek(min(at, size))
    data = fh.read(24)
    central = (entry.crc, entry.compressed_size, entry.file_size)
    for wide in (zip64, not zip64):
        layout = struct.Struct("<L2Q" if wide else "<3L")
        for signed in (True, False):
            skip = 4 if signed else 0
            if (signed and data[:4] != _SIG_DESCRIPTOR) or len(data) < skip + layout.size:
                continue
            if layout.unpack_from(data, skip) == central:
                return replace(entry, descriptor_size=skip + layout.size), ""
    return entry, (
        f"{_show(entry.name)} is followed by no data descriptor that matches its central directory entry "
        f"(CRC and sizes), so streaming tools would read it differently; {_RECREATE}."
    )


def _layout_problems(entries: Sequence[Entry], cd_start: int) -> list[Finding]:
    """Entries must tile the file from its first byte to the central directory: no gaps, no overlaps."""
    found = []
    expected = 0
    previous: Entry | None = None
    for entry in sorted((e for e in entries if e.local_header_size), key=lambda e: (e.header_offset, e.index)):
        if entry.header_offset > expected:
            where = "before it" if previous is None else f"between it and {_show(previous.name)}"
            found.append(
                Finding(
                    "unaccounted-bytes",
                    entry.name,
                    f"{entry.header_offset - expected} bytes that no entry accounts for come {where} (a hidden "
                    f"entry or a gap), so tools would disagree on the contents; {_RECREATE}.",
                )
            )
        elif entry.header_offset < expected and previous is not None:
            found.append(
                Finding(
                    "overlapping-entries",
                    entry.name,
                    f"{_show(entry.name)} overlaps the data of {_show(previous.name)}; overlapping entries are how "
                    "zip bombs multiply their size, so the package is rejected.",
                )
            )
        if entry.end_offset > expected:
            expected, previous = entry.end_offset, entry
    if previous is not None and expected > cd_start:
        found.append(
            Finding(
                "overlapping-entries",
                previous.name,
                f"{_show(previous.name)} claims data that runs into the central directory or past the end of the "
                "file; the archive is corrupt or crafted.",
            )
        )
    elif expected < cd_start:
        found.append(
            Finding(
                "unaccounted-bytes",
                "",
                f"{cd_start - expected} bytes between the last entry and the central directory belong to no entry "
                f"(a hidden entry or a gap), so tools would disagree on the contents; {_RECREATE}.",
            )
        )
    return found


def _decode_name(raw: bytes) -> str:
    # Valid UTF-8 is read as UTF-8 even without flag bit 11: many tools write UTF-8 names without setting it.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


# --------------------------------------------------------------------------------------------------------------
# Rules on each entry: what it is and what its name means. Each returns a message, or None when the entry passes.

EntryRule = Callable[[Entry, Limits], Optional[str]]  # noqa: UP045  # evaluated at run time, on Python 3.8


def _encrypted(entry: Entry, limits: Limits) -> str | None:
    if not entry.encrypted:
        return None
    return f"{_show(entry.name)} is encrypted, so it cannot be checked; upload the package without a password."


def _unsupported_compression(entry: Entry, limits: Limits) -> str | None:
    if entry.encrypted:
        return None
    if entry.method not in SUPPORTED_METHODS:  # folders too: their data must be seen to be empty
        method = _METHOD_NAMES.get(entry.method, "unknown")
        return (
            f"{_show(entry.name)} uses compression method {entry.method} ({method}), which cannot be checked; "
            "re-create the zip with deflate, the default of zip tools."
        )
    if entry.flags & ~_KNOWN_FLAGS or entry.needed_version > _MAX_NEEDED_VERSION:
        return (
            f"{_show(entry.name)} uses zip features (flags {entry.flags:#06x}, version {entry.needed_version / 10:g}) "
            f"that common tools handle differently or skip; {_RECREATE}."
        )
    return None


def _invalid_name_encoding(entry: Entry, limits: Limits) -> str | None:
    if entry.name_is_utf8:
        return None
    flagged = " although it is flagged as UTF-8" if entry.flags & _FLAG_UTF8 else ""
    return (
        f"{_show(entry.name)} has a name that is not valid UTF-8{flagged}, so each tool would extract it under a "
        "different name; rename it."
    )


_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")


def _control_character(entry: Entry, limits: Limits) -> str | None:
    if not _CONTROL_CHARACTER.search(entry.name):
        return None
    return f"{_show(entry.name)} has a control character in its name (a NUL can hide the real extension); rename it."


def _absolute_path(entry: Entry, limits: Limits) -> str | None:
    if not entry.name.startswith(("/", "\\")):
        return None
    return (
        f"{_show(entry.name)} is an absolute path, which would extract outside the target folder; store paths "
        "relative to the package root."
    )


def _drive_letter(entry: Entry, limits: Limits) -> str | None:
    if not re.match(r"[A-Za-z]:", entry.name):
        return None
    return (
        f"{_show(entry.name)} starts with a drive letter, which would extract outside the target folder on Windows; "
        "store paths relative to the package root."
    )


def _backslash(entry: Entry, limits: Limits) -> str | None:
    if "\\" not in entry.name:
        return None
    return f"{_show(entry.name)} contains a backslash, which some tools read as a folder separator; zip paths use '/'."


def _segments(entry: Entry) -> list[str]:
    return entry.path.split("/")


def _path_traversal(entry: Entry, limits: Limits) -> str | None:
    if ".." not in re.split(r"[/\\]", entry.name):
        return None
    return f"{_show(entry.name)} has a '..' component, which would extract it outside the target folder."


def _empty_segment(entry: Entry, limits: Limits) -> str | None:
    if entry.name.startswith("/") or "" not in _segments(entry):
        return None
    return (
        f"{_show(entry.name)} has an empty path segment ('//' or no name), which tools resolve differently; rename it."
    )


def _dot_segment(entry: Entry, limits: Limits) -> str | None:
    if "." not in _segments(entry):
        return None
    return (
        f"{_show(entry.name)} has a '.' segment, so it names the same file as another path; store each path once, "
        "without './' inside it."
    )


def _name_too_long(entry: Entry, limits: Limits) -> str | None:
    longest = max(len(segment.encode("utf-8", "surrogateescape")) for segment in _segments(entry))
    if longest <= limits.max_segment_bytes:
        return None
    return (
        f"{_show(entry.name)} has a name of {longest} bytes within its path, longer than the limit of "
        f"{limits.max_segment_bytes} that file systems allow; shorten it."
    )


def _path_too_deep(entry: Entry, limits: Limits) -> str | None:
    depth = entry.path.count("/") + 1
    if depth <= limits.max_depth:
        return None
    return (
        f"{_show(entry.name)} is {depth} folders deep, more than the limit of {limits.max_depth}; flatten the tree "
        "(or raise the limit)."
    )


def _symlink(entry: Entry, limits: Limits) -> str | None:
    if not entry.is_symlink:
        return None
    return f"{_show(entry.name)} is a symbolic link, which can point outside the package; store the file itself."


_SPECIAL_TYPES = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
}


def _entry_type(entry: Entry, limits: Limits) -> str | None:
    kind = entry.file_type
    if kind in _SPECIAL_TYPES:
        what = _SPECIAL_TYPES[kind]
        return f"{_show(entry.name)} is {what}, not a regular file or folder; remove it from the package."
    # A folder may carry a compressed empty stream (jar's META-INF/, Finder, bzip2 from zipfile): its data is
    # read like a file's, so anything more than nothing is caught as corrupt.
    if entry.is_dir and (kind == stat.S_IFREG or entry.file_size):
        return (
            f"{_show(entry.name)} is named as a folder but has a file's mode or data, so tools would create "
            f"different things; {_RECREATE}."
        )
    if not entry.is_dir and (kind == stat.S_IFDIR or entry.external_attr & _DOS_DIRECTORY):
        return (
            f"{_show(entry.name)} is marked as a folder but named as a file, so tools would create different things; "
            f"{_RECREATE}."
        )
    return None


ENTRY_RULES: tuple[tuple[str, EntryRule], ...] = (
    ("encrypted-entry", _encrypted),
    ("unsupported-compression", _unsupported_compression),
    ("invalid-name-encoding", _invalid_name_encoding),
    ("control-character", _control_character),
    ("path-traversal", _path_traversal),
    ("absolute-path", _absolute_path),
    ("drive-letter", _drive_letter),
    ("backslash-in-name", _backslash),
    ("empty-segment", _empty_segment),
    ("dot-segment", _dot_segment),
    ("name-too-long", _name_too_long),
    ("path-too-deep", _path_too_deep),
    ("symlink", _symlink),
    ("entry-type", _entry_type),
)
"""Rules that judge one entry alone, in the order their findings are listed."""


def check_entries(entries: Sequence[Entry], limits: Limits = DEFAULT_LIMITS) -> list[Finding]:
    """Every entry rule over every entry, grouped by rule."""
    findings = []
    for rule, judge in ENTRY_RULES:
        for entry in entries:
            if not entry.is_root:
                message = judge(entry, limits)
                if message:
                    findings.append(Finding(rule, entry.name, message))
    return findings


# --------------------------------------------------------------------------------------------------------------
# Rules on the package as a tree of paths


def check_package_size(size: int, limits: Limits = DEFAULT_LIMITS) -> list[Finding]:
    if size <= limits.max_package_bytes:
        return []
    return [
        Finding(
            "package-size",
            "",
            f"The zip is {size} bytes, more than the limit of {limits.max_package_bytes} bytes (max_package_bytes), "
            "so it is not read; leave build outputs and dependencies out of the package, or raise the limit.",
        )
    ]


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


def _collision_key(path: str) -> str:
    folded = unicodedata.normalize("NFC", path).casefold()
    return unicodedata.normalize("NFC", folded)


def check_duplicate_names(entries: Sequence[Entry]) -> list[Finding]:
    """Paths that are equal, equal but for letter case, or equal but for Unicode normalisation (NFC + casefold)."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        if not entry.is_root:
            groups.setdefault(_collision_key(entry.path), []).append(entry)
    findings = []
    for group in groups.values():
        if len(group) < 2:
            continue
        names = [entry.name for entry in group]
        paths = {entry.path for entry in group}
        if len(set(names)) == 1:
            message = f"{_show(names[0])} appears {len(names)} times; which copy an extractor keeps is undefined."
        elif len(paths) == 1:
            message = f"{_list(names)} name the same path; which one an extractor keeps is undefined."
        elif len({path.casefold() for path in paths}) == 1:
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


def check_file_parents(entries: Sequence[Entry]) -> list[Finding]:
    """A file whose path is also a folder of another entry: extractors fail, or replace one with the other.

    Sorted with '/' as the lowest character, the paths inside a folder come right after the folder's own path,
    so one sort finds every such file, whatever the paths' depth.
    """
    keyed = sorted(
        (_collision_key(entry.path).replace("/", "\0"), entry.is_dir, entry.index, entry)
        for entry in entries
        if not entry.is_root
    )
    following = [len(keyed)] * len(keyed)  # index of the next entry with another key
    for i in range(len(keyed) - 2, -1, -1):
        following[i] = i + 1 if keyed[i + 1][0] != keyed[i][0] else following[i + 1]
    findings = []
    for i, (key, is_dir, _, entry) in enumerate(keyed):
        after = following[i]
        if not is_dir and after < len(keyed) and keyed[after][0].startswith(key + "\0"):
            findings.append(
                Finding(
                    "file-is-parent",
                    entry.name,
                    f"{_show(entry.name)} is a file, but {_show(keyed[after][3].name)} needs a folder of that name; "
                    "rename one.",
                )
            )
    return findings


def check_single_top_folder(entries: Sequence[Entry]) -> list[Finding]:
    """Files that all sit in one folder: the zip was made of the folder, not of its contents (Finder's Compress)."""
    tops = set()
    for entry in entries:
        if entry.is_dir or entry.is_root:
            continue
        top, slash, _ = entry.path.partition("/")
        if top == MACOS_METADATA or not top.strip(".") or ":" in top or "\\" in top:
            continue  # resource forks, and names other rules reject
        if not slash:
            return []
        tops.add(top)
    if len(tops) != 1:
        return []
    (top,) = tops
    return [
        Finding(
            "single-top-folder",
            top + "/",
            f"Every file sits inside the folder {_show(top)}: zip the folder's contents so files sit at the root "
            f"(e.g. `cd {top} && zip -r ../package.zip .`).",
        )
    ]


def check_nested_archives(
    entries: Sequence[Entry], limits: Limits = DEFAULT_LIMITS, *, ignored: Iterable[int] = ()
) -> list[Finding]:
    """Archives inside the package, whose contents nothing inspects; ignored paths (dependencies) may hold them."""
    if limits.allow_nested_archives:
        return []
    skip = set(ignored)
    return [
        Finding(
            "nested-archive",
            entry.name,
            f"{_show(entry.name)} is an archive inside the package, whose contents are not checked; upload its files "
            "unpacked (or list the path in `ignore` if it is a dependency's data).",
        )
        for entry in entries
        if not entry.is_dir and entry.index not in skip and entry.name.lower().endswith(NESTED_ARCHIVE_SUFFIXES)
    ]


def check_required_files(entries: Sequence[Entry], required: Sequence[str]) -> list[Finding]:
    """Every pattern must match a file (never a folder) by its full path from the package root."""
    files = [entry.path for entry in entries if not entry.is_dir]
    findings = []
    for pattern in required:
        regex = compile_glob(pattern)
        if not any(regex.match(path) for path in files):
            findings.append(
                Finding("required-missing", "", f"No file matches the required pattern {_show(pattern)}; add it.")
            )
    return findings


def _ignored(entries: Sequence[Entry], ignore: Sequence[str]) -> set[int]:
    matcher = _PathMatcher(ignore)
    return {entry.index for entry in entries if matcher and matcher.match(entry.path)}


def check_forbidden_files(
    entries: Sequence[Entry], patterns: Sequence[str] = DEFAULT_FORBIDDEN, *, ignored: Iterable[int] = ()
) -> list[Finding]:
    """Files or folders that match a forbidden pattern and no exception (``!``); a folder is reported once."""
    denied = _PathMatcher(p for p in patterns if not p.startswith("!"))
    allowed = _PathMatcher(p[1:] for p in patterns if p.startswith("!"))
    skip = set(ignored)
    reported: set[str] = set()
    findings = []
    for entry in entries:
        if entry.index in skip or entry.is_root:
            continue
        match = _forbidden_match(entry.path, denied, allowed)
        if match is None:
            continue
        pattern, path = match
        shown = path + "/" if path != entry.path or entry.is_dir else path
        if shown in reported:
            continue
        reported.add(shown)
        findings.append(
            Finding(
                "forbidden-file",
                shown,
                f"{_show(shown)} matches the forbidden pattern {_show(pattern)}; remove it from the package and keep "
                "secrets in AWS Secrets Manager or Parameter Store (or list it in `ignore` if it is a test fixture).",
            )
        )
    return findings


def _forbidden_match(path: str, denied: _PathMatcher, allowed: _PathMatcher) -> tuple[str, str] | None:
    start = 0
    while True:
        end = path.find("/", start)
        name = path[start:] if end < 0 else path[start:end]
        pattern = denied.name_match(name)
        if pattern is not None:
            prefix = path if end < 0 else path[:end]
            if not allowed.match(prefix):
                return pattern, prefix
        if end < 0:
            break
        start = end + 1
    for pattern, regex in denied.path_patterns:
        if regex.match(path) and not allowed.match(path):
            return pattern, path
    return None


# --------------------------------------------------------------------------------------------------------------
# Credentials: scanned in the same pass that reads each entry's data


def _token(
    prefix: str, width: int, body: str, before: str = "A-Za-z0-9_", after: str | None = None
) -> re.Pattern[bytes]:
    """A pattern that starts with ``prefix`` (``width`` characters; starting with it lets the regex engine search
    quickly), not preceded by a character of ``before``, then ``body``, not followed by one of ``after``."""
    return re.compile(
        f"{prefix}(?<![{before}][\\s\\S]{{{width}}}){body}(?![{after or before}])".encode("ascii"),
    )


_ASSIGNED_KEY_VALUE = r"[\"']?[ \t]{0,8}(?::=|=>|[:=])[ \t]{0,8}[\"']?([a-z0-9/+=]{40})(?![a-z0-9/+=])"
_CREDENTIAL_PATTERNS: tuple[tuple[str, re.Pattern[bytes], bool, re.Pattern[bytes]], ...] = (
    # (kind, pattern, matched against the lower-cased text, the start every match has: a text without it is not
    # searched, which keeps a file full of one kind of look-alike from paying for the other kinds)
    (
        "AWS access key ID",
        _token("A(?:KIA|SIA|GPA|IDA|ROA|IPA|NPA|NVA|SCA)", 4, "[A-Z0-9]{16}", "A-Z0-9"),
        False,
        re.compile(rb"A(?:KIA|SIA|GPA|IDA|ROA|IPA|NPA|NVA|SCA)"),
    ),
    (
        "AWS secret access key",
        re.compile(("aws(?<![a-z0-9]aws)[_\\-.]?secret[_\\-.]?(?:access[_\\-.]?)?key" + _ASSIGNED_KEY_VALUE).encode()),
        True,
        re.compile(rb"aws"),
    ),
    (
        "AWS secret access key",
        re.compile(("secret(?<![a-z0-9]secret)[_\\-.]?access[_\\-.]?key" + _ASSIGNED_KEY_VALUE).encode()),
        True,
        re.compile(rb"secret"),
    ),
    # A private key block counts only with a key body after it (line breaks may be written as '\n' in code),
    # so documentation that shows the header alone is not a key.
    (
        "private key",
        re.compile(
            rb"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----"
            rb"(?:(?:[ \t\r\n\"'+,]|\\[rn])*(?:Proc-Type|DEK-Info):[^\r\n\\]*)*"
            rb"(?:[ \t\r\n\"'+,]|\\[rn])*([A-Za-z0-9+/=]{32})"
        ),
        False,
        re.compile(rb"PRIVATE KEY"),
    ),
    ("GitHub token", _token("gh[pousr]_", 4, "[A-Za-z0-9]{36}"), False, re.compile(rb"gh[pousr]_")),
    ("GitHub token", _token("github_pat_", 11, "[A-Za-z0-9_]{82}"), False, re.compile(rb"github_pat_")),
    ("npm token", _token("npm_", 4, "[A-Za-z0-9]{36}"), False, re.compile(rb"npm_")),
    (
        "Slack token",
        _token("xox[abposr]-", 5, "[0-9]{6,}-[0-9A-Za-z-]{10,}", "A-Za-z0-9_-"),
        False,
        re.compile(rb"xox[abposr]-"),
    ),
    ("Stripe live key", _token("[sr]k_live_", 8, "[0-9A-Za-z]{24,}"), False, re.compile(rb"k_live_")),
    ("Google API key", _token("AIza", 4, "[0-9A-Za-z_-]{35}", "A-Za-z0-9_-"), False, re.compile(rb"AIza")),
)


def _placeholder(value: bytes) -> bool:
    """Documented examples (AWS's end in EXAMPLE or EXAMPLEKEY) and stand-ins such as 'XXXX...' or '1234567890'."""
    lowered = value.lower()
    return b"example" in lowered or len(set(lowered)) < 10 or b"1234567890" in value or b"abcdefghij" in lowered


_SCAN_OVERLAP = 1024  # longer than any match: a match starting this far from a chunk's end is complete
_SCAN_CONTEXT = 64  # bytes kept before the next unscanned byte, for look-behinds
_MAX_CANDIDATES = 1000
"""Matches looked at per file and kind. The scan guards against accidents, not a determined uploader, and the cap
keeps a file full of look-alikes from costing more than a plain one."""


@dataclass(frozen=True)
class CredentialHit:
    kind: str
    """e.g. ``AWS access key ID``, ``private key``, ``GitHub token``."""
    lines: tuple[int, ...]
    """The first lines it is on (at most 10)."""
    more: bool = False
    """Whether it is on more lines than listed."""


class CredentialScanner:
    """Finds credentials in a text file fed in chunks of any size, including ones split across chunks.

    Only the first ``max_bytes`` are scanned, and a file stops being scanned once a chunk of it holds a credential:
    one is enough to reject it, and a file full of them then costs no more than a clean one. UTF-16 text (with a
    byte-order mark) is scanned as text; other files with a NUL byte in the first 8 KiB are binary and are not
    scanned.
    """

    def __init__(self, max_bytes: int = DEFAULT_LIMITS.scan_max_bytes) -> None:
        self._left = max_bytes
        self._head = b""
        self._probing = True
        self._binary = False
        self._decoder: Any = None
        self._window = b""
        self._scanned = 0  # offset in the window from which matches are still to be reported
        self._lines_before = 0  # newlines in the bytes dropped from the window
        self._lines: dict[str, list[int]] = {}
        self._more: set[str] = set()
        self._candidates = [0] * len(_CREDENTIAL_PATTERNS)

    def feed(self, data: bytes) -> None:
        if self._binary or self._left <= 0 or self._lines:
            return
        data = data[: self._left]
        self._left -= len(data)
        if self._probing:
            self._head += data
            if len(self._head) < TEXT_PROBE_BYTES and self._left > 0:
                return
            data = self._start()
        self._text(data, final=False)

    def finish(self) -> list[CredentialHit]:
        data = self._start() if self._probing else b""
        self._text(data, final=True)
        return [CredentialHit(kind, tuple(lines), kind in self._more) for kind, lines in self._lines.items()]

    def _start(self) -> bytes:
        data, self._head, self._probing = self._head, b"", False
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self._decoder = codecs.getincrementaldecoder("utf-16")("replace")
        elif b"\0" in data[:TEXT_PROBE_BYTES]:
            self._binary = True
        return data

    def _text(self, data: bytes, *, final: bool) -> None:
        if self._binary:
            return
        if self._decoder is not None:
            data = self._decoder.decode(data, final).encode("utf-8", "replace")
        self._scan(data, final=final)

    def _scan(self, data: bytes, *, final: bool) -> None:
        window = self._window + data
        end = len(window) if final else len(window) - _SCAN_OVERLAP
        if end <= self._scanned:
            self._window = window
            return
        folded = b""
        found: list[tuple[int, str]] = []
        for number, (kind, pattern, fold, prefilter) in enumerate(_CREDENTIAL_PATTERNS):
            if self._candidates[number] >= _MAX_CANDIDATES:
                continue
            if fold and not folded:
                folded = window.lower()
            text = folded if fold else window
            if not prefilter.search(text):
                continue
            for match in pattern.finditer(text, self._scanned):
                if match.start() >= end:
                    break
                self._candidates[number] += 1
                value = match.group(match.lastindex or 0)
                if not _placeholder(value):
                    found.append((match.start(), kind))
                if self._candidates[number] >= _MAX_CANDIDATES:
                    break
        line, counted = self._lines_before + 1, 0
        for start, kind in sorted(found):
            line += window.count(b"\n", counted, start)
            counted = start
            lines = self._lines.setdefault(kind, [])
            if lines and lines[-1] == line:
                continue
            if len(lines) < _MAX_LISTED_LINES:
                lines.append(line)
            else:
                self._more.add(kind)
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


# --------------------------------------------------------------------------------------------------------------
# Reading the data: each entry once, in chunks, counting, scanning and extracting in the same pass


class _Inflater:
    """Inflates one entry's data, never producing more than asked for at a time."""

    def __init__(self, method: int) -> None:
        self.eof = method == 0
        self.left_over = 0
        """Compressed bytes that came after the end of the compressed stream."""
        self._stored = method == 0
        self._zlib = method == 8
        self._pending = b""
        self._decompressor: Any = None
        if method == 8:
            self._decompressor = zlib.decompressobj(-15)
        elif method == 12:
            import bz2  # only zips that use bzip2 need it

            self._decompressor = bz2.BZ2Decompressor()

    def feed(self, data: bytes) -> None:
        if self.eof and not self._stored:
            self.left_over += len(data)
        else:
            self._pending += data

    def read(self, size: int) -> bytes:
        if self._stored:
            stored, self._pending = self._pending[:size], self._pending[size:]
            return stored
        if self.eof:
            return b""
        decompressor = self._decompressor
        if self._zlib:
            out: bytes = decompressor.decompress(self._pending, size)
            self._pending = decompressor.unconsumed_tail
        else:
            if not self._pending and decompressor.needs_input:
                return b""
            out = decompressor.decompress(self._pending, size)
            self._pending = b""
        if decompressor.eof:
            self.eof = True
            self.left_over += len(decompressor.unused_data) + len(self._pending)
            self._pending = b""
        return out


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
    sha256: str = ""
    """SHA-256 of the bytes produced, when the entry was extracted."""


class _Extraction:
    """Writes the checked entries under a folder: regular files and folders only, with normalised modes.

    Folders are made one level at a time, relative to their parent (``dir_fd``), so the cost does not grow with the
    square of a path's depth; the folder last written to stays open for the next entry in it.
    """

    def __init__(self, root: str) -> None:
        if os.path.lexists(root) and (not os.path.isdir(root) or os.path.islink(root) or os.listdir(root)):
            raise ValueError(f"cannot extract into {root}: it must be a missing or empty folder")
        os.makedirs(root, exist_ok=True)
        self.root = root
        self.files: dict[str, dict[str, Any]] = {}
        """Each extracted file's size, modification time and SHA-256, for the manifest to reuse."""
        self._relative = os.mkdir in os.supports_dir_fd and os.open in os.supports_dir_fd
        self._open: tuple[str, int] | None = None  # the folder last written to, and its descriptor

    def folder(self, path: str) -> int | None:
        """Make the folder ``path`` (and its parents) with mode 0755; return its descriptor where supported."""
        if not self._relative:  # Windows: by path
            full = os.path.join(self.root, path)
            os.makedirs(full, exist_ok=True)
            os.chmod(full, 0o755)  # noqa: S103  # folders anyone may enter, only the owner may write
            return None
        if self._open is not None and self._open[0] == path:
            return self._open[1]
        folder = os.open(self.root, os.O_RDONLY | _O_DIRECTORY)
        try:
            for name in path.split("/") if path else ():
                flags = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW
                try:
                    child = os.open(name, flags, dir_fd=folder)
                except FileNotFoundError:
                    os.mkdir(name, 0o755, dir_fd=folder)
                    os.chmod(name, 0o755, dir_fd=folder)  # noqa: S103  # the umask may have taken bits away
                    child = os.open(name, flags, dir_fd=folder)
                os.close(folder)
                folder = child
        except BaseException:
            os.close(folder)
            raise
        self._close_open()
        self._open = (path, folder)
        return folder

    def open(self, entry: Entry) -> BinaryIO:
        parent, _, name = entry.path.rpartition("/")
        folder = self.folder(parent)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | getattr(os, "O_BINARY", 0)
        if folder is None:
            return os.fdopen(os.open(os.path.join(self.root, entry.path), flags, 0o600), "wb")
        return os.fdopen(os.open(name, flags, 0o600, dir_fd=folder), "wb")

    def close(self, entry: Entry, fh: BinaryIO, sha256: str) -> None:
        mode = 0o755 if entry.executable else 0o644
        if hasattr(os, "fchmod"):
            os.fchmod(fh.fileno(), mode)
        else:
            os.chmod(os.path.join(self.root, entry.path), mode)
        fh.flush()
        status = os.fstat(fh.fileno())
        fh.close()
        self.files[entry.path] = {"size": status.st_size, "mtime_ns": status.st_mtime_ns, "sha256": sha256}

    def finish(self, keep: bool) -> None:
        """Give the folder itself mode 0755, or remove everything in it when the package was rejected."""
        self._close_open()
        if keep:
            os.chmod(self.root, 0o755)  # noqa: S103  # as every folder inside it
            return
        for name in os.listdir(self.root):
            path = os.path.join(self.root, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)

    def _close_open(self) -> None:
        if self._open is not None:
            os.close(self._open[1])
            self._open = None


_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def stream_entries(
    fh: BinaryIO,
    archive: Archive,
    limits: Limits = DEFAULT_LIMITS,
    *,
    unscanned: Iterable[int] = (),
    extraction: _Extraction | None = None,
) -> Iterator[EntryData]:
    """Read the data of every file entry in file order, stopping at the total-bytes limit.

    Entries in ``unscanned`` (indexes) are not scanned for credentials. With ``extraction``, every entry is also
    written out, until a problem is found.
    """
    skip_scan = set(unscanned)
    total = 0
    for entry in sorted(archive.entries, key=lambda e: e.header_offset):
        if entry.is_root:
            continue
        if entry.encrypted or entry.method not in SUPPORTED_METHODS:
            continue
        if entry.is_dir and extraction is not None:
            extraction.folder(entry.path)
        scanned = not entry.is_dir and entry.index not in skip_scan
        scanner = CredentialScanner(limits.scan_max_bytes) if scanned else None
        out = extraction.open(entry) if extraction is not None and not entry.is_dir else None
        try:
            result = _stream_entry(fh, entry, limits, limits.max_total_bytes - total, scanner, out)
        except BaseException:
            if out is not None:
                out.close()
            raise
        if out is not None and extraction is not None:
            extraction.close(entry, out, result.sha256)
        yield result
        total += result.bytes_out
        if result.stopped == "total":
            return


def _stream_entry(
    fh: BinaryIO, entry: Entry, limits: Limits, budget: int, scanner: CredentialScanner | None, out: BinaryIO | None
) -> EntryData:
    inflater = _Inflater(entry.method)
    digest = hashlib.sha256() if out is not None else None
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
            if out is not None and digest is not None:
                out.write(piece)
                digest.update(piece)
            if bytes_out > budget:
                stopped = "total"
                break
            if bytes_out > ratio_cap:
                stopped = "ratio"
                break
            continue
        if left <= 0:
            break
        data = fh.read(min(CHUNK_SIZE, left))
        if not data:
            error = "its data ends before its declared compressed size"
            break
        left -= len(data)
        bytes_in += len(data)
        inflater.feed(data)
    if not stopped and not error:
        if inflater.left_over:
            error = f"its compressed stream ends {inflater.left_over} bytes before its declared compressed size"
        elif not inflater.eof:
            error = "its compressed stream does not end where its declared compressed size says"
        elif bytes_out != entry.file_size:
            error = f"it inflates to {bytes_out} bytes but its header declares {entry.file_size}"
        elif crc != entry.crc:
            error = "its CRC-32 does not match its contents"
    credentials = tuple(scanner.finish()) if scanner is not None else ()
    sha256 = digest.hexdigest() if digest is not None else ""
    return EntryData(entry, bytes_in, bytes_out, stopped, error, credentials, sha256)


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

    Only output above ``RATIO_FLOOR`` is judged. The whole-archive ratio is reported only when no single entry is
    over the limit.
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
        for hit in result.credentials:
            shown = ", ".join(str(n) for n in hit.lines)
            word = "line" if len(hit.lines) == 1 and not hit.more else "lines"
            more = " and more" if hit.more else ""
            findings.append(
                Finding(
                    "credentials",
                    result.entry.name,
                    f"{_show(result.entry.name)} holds {_article(hit.kind)} {hit.kind} on {word} {shown}{more}; "
                    "remove it and rotate the credential (or list the path in `ignore` if it is a test fixture).",
                )
            )
    return findings


# --------------------------------------------------------------------------------------------------------------
# Checking a package


RULES: dict[str, str] = {
    "package-size": "a zip file larger than `max_package_bytes`",
    "not-a-zip": "the file is no zip archive",
    "truncated": "the zip ends before its central directory (an upload cut short)",
    "corrupt-archive": "damaged records, malformed extra fields, several disks",
    "end-record": "not exactly one end record at the very end (zero bytes after it aside: bsdtar's padding, up to "
    "10240); a zip comment that holds a record signature",
    "zip64-record": "zip64 end records that disagree with the end record, are misplaced, or are not needed",
    "entry-count-mismatch": "entry counts or the central directory's size disagree between the records",
    "unaccounted-bytes": "bytes no entry accounts for: before the first entry (a joined file), between entries, "
    "or before the central directory",
    "local-header": "a local header missing or disagreeing with its central entry (name, method, flags, CRC, sizes)",
    "data-descriptor": "a data descriptor missing or disagreeing with its central entry",
    "overlapping-entries": "entries that share bytes (overlapped zip bombs) or run into the central directory",
    "name-extra-field": "a Unicode Path or Comment extra field (0x7075, 0x6375) that renames an entry",
    "too-many-entries": "more entries than `max_entries`",
    "empty-archive": "no files at all",
    "encrypted-entry": "encrypted entries, which cannot be checked",
    "unsupported-compression": "methods other than stored, deflate and bzip2",
    "invalid-name-encoding": "names that are not valid UTF-8",
    "control-character": "control characters in names",
    "path-traversal": "a `..` segment",
    "absolute-path": "a name starting with `/`",
    "drive-letter": "a name starting with a drive letter (`C:`)",
    "backslash-in-name": "a backslash in a name",
    "empty-segment": "an empty name or path segment (`src//app.js`)",
    "dot-segment": "a `.` segment (`src/./app.js`); one leading `./` is accepted and removed",
    "name-too-long": "a path longer than `max_name_bytes` or a name longer than `max_segment_bytes`",
    "path-too-deep": "more than `max_depth` segments",
    "symlink": "symbolic links",
    "entry-type": "devices, FIFOs, sockets, and entries whose type disagrees with their name",
    "nested-archive": "archives inside the package (unless `allow_nested_archives`)",
    "duplicate-name": "paths equal, or equal but for letter case or Unicode normalisation",
    "file-is-parent": "a file that is also a folder of another entry (`a` and `a/b`)",
    "single-top-folder": "every file inside one top folder: zip the folder's contents instead",
    "required-missing": "a required pattern that matches no file",
    "forbidden-file": "a file or folder matching a forbidden pattern (`.env`, `*.pem`, ...) outside `ignore`",
    "corrupt-entry": "data that does not inflate, or mismatches its CRC, size or compressed size",
    "too-large": "more than `max_total_bytes` uncompressed",
    "compression-ratio": "an entry or the package expanding more than `max_compression_ratio`",
    "credentials": "AWS, GitHub, npm, Slack, Stripe or Google credentials, or a private key, outside `ignore`",
    "checksum-mismatch": "the package's SHA-256 differs from the one expected",
}
"""Every rule id of the package check, with what it rejects."""


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
    extracted_to: str | None = None
    """The folder holding the checker's own extraction, when one was asked for and the package was accepted."""
    extracted: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each extracted file's size, modification time (ns) and SHA-256: ``write_manifest(known=...)`` reuses them."""

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
            **({"extracted": dict(self.extracted)} if self.extracted_to is not None else {}),
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
        if self.extracted_to is not None:
            lines.append(f"  extracted to {self.extracted_to}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def check_package(
    path: str | os.PathLike[str],
    *,
    required: Sequence[str] = (),
    limits: Limits = DEFAULT_LIMITS,
    expected_sha256: str | None = None,
    extract_to: str | os.PathLike[str] | None = None,
) -> Report:
    """Check one zip package against every rule; with ``extract_to``, also extract it there in the same pass.

    ``extract_to`` must be a missing or empty folder: it receives regular files and folders only, written from
    the very bytes that were checked, with modes 0644 (0755 when executable) and 0755 for folders. When the
    package is rejected, the folder is left empty.

    Raises ``OSError`` when the file cannot be read or the extraction written, and ``ValueError`` when
    ``expected_sha256`` is not 64 hex digits, a pattern is no usable glob, or ``extract_to`` is not empty.
    """
    package = os.fspath(path)
    expected = _parse_sha256(expected_sha256) if expected_sha256 is not None else None
    for pattern in required:
        compile_glob(pattern)
    extraction = _Extraction(os.fspath(extract_to)) if extract_to is not None else None
    with open(package, "rb") as fh:
        hashing = _Sha256Thread(package)  # reads the file alongside the check, on another core
        findings: list[Finding] = []
        try:
            entries, total = _check_archive(fh, os.fstat(fh.fileno()).st_size, required, limits, findings, extraction)
        finally:
            digest, size = hashing.result()
    if expected is not None and expected != digest:
        message = (
            f"The package's SHA-256 is {digest} but {expected} was expected; it changed after upload or the "
            "expected value is wrong."
        )
        findings.insert(0, Finding("checksum-mismatch", "", message))
    accepted = not findings
    if extraction is not None:
        extraction.finish(keep=accepted)
    root = extraction.root if extraction is not None and accepted else None
    files = extraction.files if extraction is not None and accepted else {}
    return Report(package, digest, size, entries, total, tuple(findings), expected, extracted_to=root, extracted=files)


class _Sha256Thread:
    """The SHA-256 of a whole file, computed on a thread of its own: hashlib and file reads release the GIL, so it
    costs no time beside the check's inflating."""

    def __init__(self, path: str) -> None:
        self._value: tuple[str, int] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: str) -> None:
        try:
            with open(path, "rb") as fh:
                self._value = _sha256_of(fh)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> tuple[str, int]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def _check_archive(
    fh: BinaryIO,
    size: int,
    required: Sequence[str],
    limits: Limits,
    findings: list[Finding],
    extraction: _Extraction | None,
) -> tuple[int, int]:
    """Append every finding about the archive; return its entry count and the bytes read."""
    too_large = check_package_size(size, limits)
    if too_large:  # not read at all: its size alone is the verdict
        findings.extend(too_large)
        return 0, 0
    try:
        archive = read_archive(fh, size, limits=limits)
    except ArchiveError as exc:
        findings.append(exc.finding)
        return 0, 0
    count = max(archive.declared_entries, len(archive.entries))
    if count > limits.max_entries:
        findings.extend([*archive.problems, *check_entry_count(count, limits)])
        return count, 0
    entries = archive.entries
    findings.extend(archive.problems)
    if archive.problems:  # an ambiguous layout is not read further: which bytes to judge is the question
        return len(entries), 0
    ignored = _ignored(entries, limits.ignore)
    findings.extend(check_empty(entries))
    findings.extend(check_entries(entries, limits))
    findings.extend(check_duplicate_names(entries))
    findings.extend(check_file_parents(entries))
    findings.extend(check_single_top_folder(entries))
    findings.extend(check_required_files(entries, required))
    findings.extend(check_nested_archives(entries, limits, ignored=ignored))
    findings.extend(check_forbidden_files(entries, limits.forbidden, ignored=ignored))
    results = []
    writer = extraction if not findings else None
    for result in stream_entries(fh, archive, limits, unscanned=ignored, extraction=writer):
        results.append(result)
        if writer is not None and (result.error or result.stopped or result.credentials):
            writer = None  # the package is rejected: stop writing; what was written is removed at the end
    findings.extend(check_integrity(results))
    findings.extend(check_total_size(results, limits))
    findings.extend(check_compression_ratio(results, limits, archive_size=size))
    findings.extend(check_credentials(results))
    return len(entries), sum(result.bytes_out for result in results)


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
    exclude: Sequence[str] = (MANIFEST_PATH,),
    output: str | os.PathLike[str] | None = None,
    known: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Hash every file under ``directory`` (but ``exclude``, paths relative to it) and return the manifest.

    ``source`` records where the files came from (bucket, key, versionId, the zip's sha256, whether S3's checksum
    matched). When ``output`` is given, the manifest is also written there as JSON. ``known`` (a check report's
    ``extracted``) lends the digests computed while extracting, for files whose size and time are unchanged.
    """
    root = os.fspath(directory)
    records = known or {}
    files = {path: _known_or_hashed(full, records.get(path)) for path, full in _files_under(root, exclude).items()}
    manifest = {"version": 1, "algorithm": "sha256", "source": dict(source), "files": files}
    if output is not None:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        with open(output, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2)
            fh.write("\n")
    return manifest


def _known_or_hashed(path: str, record: Mapping[str, Any] | None) -> str:
    """A file's SHA-256: from the extraction's record when its size and modification time are unchanged.

    Reusing it is safe: verifying a manifest always hashes afresh, so a record gone stale (a file rewritten with its
    old size and time) can only make verification fail, never let a changed file pass.
    """
    if record is not None:
        status = os.stat(path)
        if (record.get("size"), record.get("mtime_ns")) == (status.st_size, status.st_mtime_ns):
            return str(record.get("sha256"))
    return _sha256_file(path)


def verify_manifest(
    directory: str | os.PathLike[str], manifest: Mapping[str, Any], *, exclude: Sequence[str] = (MANIFEST_PATH,)
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


def _program() -> str:
    main_module = sys.modules.get("__main__")
    spec = getattr(main_module, "__spec__", None)
    return "python -m " + spec.name if spec is not None else os.path.basename(sys.argv[0] or "check.py")


_LIMIT_OPTIONS: tuple[tuple[str, Callable[[str], Any], str], ...] = (
    ("--max-package-bytes", _positive_int, "largest zip file, in bytes"),
    ("--max-entries", _positive_int, "most entries (files and folders)"),
    ("--max-total-bytes", _positive_int, "most bytes uncompressed, counted from the data"),
    ("--max-compression-ratio", _positive_float, "highest uncompressed/compressed ratio, per entry and overall"),
    ("--scan-max-bytes", _positive_int, "bytes of each text file scanned for credentials"),
    ("--max-name-bytes", _positive_int, "longest path, in UTF-8 bytes"),
    ("--max-segment-bytes", _positive_int, "longest file or folder name, in UTF-8 bytes"),
    ("--max-depth", _positive_int, "most segments in a path"),
)
"""The command line's limit options, each named after the ``Limits`` field it sets."""


def _package_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_program(),
        description="Check a zip package before it is extracted and built; with --extract, extract exactly what was "
        "checked. Exit 0: accepted; 1: rejected; 2: usage error or unreadable input.",
        epilog="Other commands: 'manifest DIR --source-json ...', 'verify DIR' and 'change-set DESCRIBE_JSON ...' "
        "(each has --help).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    limit = DEFAULT_LIMITS
    parser.add_argument("package", help="the zip file")
    parser.add_argument("--extract", metavar="DIR", help="extract the accepted package into DIR (missing or empty)")
    parser.add_argument("--require", action="append", default=[], metavar="GLOB", help="a file that must exist")
    parser.add_argument(
        "--forbid", action="append", default=[], metavar="GLOB", help="a file that must not; '!GLOB' is an exception"
    )
    parser.add_argument("--no-default-forbidden", action="store_true", help="drop the default forbidden patterns")
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="GLOB",
        help="a path exempt from the forbidden-file and credentials rules, e.g. node_modules",
    )
    for flag, kind, help_text in _LIMIT_OPTIONS:
        name = flag[2:].replace("-", "_")
        parser.add_argument(flag, type=kind, default=getattr(limit, name), metavar="N", help=help_text)
    parser.add_argument("--allow-nested-archives", action="store_true", help="accept archives inside the package")
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
            allow_nested_archives=args.allow_nested_archives,
            forbidden=(*forbidden, *args.forbid),
            ignore=tuple(args.ignore),
            **{flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_")) for flag, _, _ in _LIMIT_OPTIONS},
        )
        report = check_package(
            args.package, required=args.require, limits=limits, expected_sha256=expected, extract_to=args.extract
        )
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
        prog=f"{_program()} manifest", description="Write the SHA-256 of every file in DIR to a JSON manifest."
    )
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument(
        "--source-json", required=True, metavar="FILE_OR_JSON", help="where the files came from: a JSON object"
    )
    parser.add_argument("--output", metavar="FILE", help=f"default: DIR/{MANIFEST_PATH}")
    parser.add_argument(
        "--known",
        metavar="REPORT",
        help="the package check's JSON report from --extract: digests of files unchanged since are reused",
    )
    args = parser.parse_args(argv)
    if not os.path.isdir(args.directory):
        raise _UsageError(f"{args.directory} is not a directory")
    source = _load_json(args.source_json)
    if not isinstance(source, dict):
        raise _UsageError("--source-json must be a JSON object")
    output = args.output or os.path.normpath(os.path.join(args.directory, MANIFEST_PATH))
    # Only the manifest itself is left out: a package's own file named manifest.json is hashed like any other.
    exclude = _relative_inside(output, args.directory)
    try:
        known = _load_json(args.known).get("extracted", {}) if args.known else {}
        manifest = write_manifest(args.directory, source=source, exclude=exclude, output=output, known=known)
    except OSError as exc:
        raise _UsageError(f"cannot write the manifest: {exc}") from None
    _emit(f"Manifest: {len(manifest['files'])} file(s) hashed into {output}")
    return 0


def _main_verify(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{_program()} verify", description="Check that DIR holds exactly the files of its manifest, unchanged."
    )
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--manifest", metavar="FILE", help=f"default: DIR/{MANIFEST_PATH}")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.directory):
        raise _UsageError(f"{args.directory} is not a directory")
    path = args.manifest or os.path.normpath(os.path.join(args.directory, MANIFEST_PATH))
    manifest = _load_json(path)
    if not isinstance(manifest, dict):
        raise _UsageError(f"{path} is not a manifest")
    try:
        # The signed provenance joins the files after the manifest was written; its own signature covers it.
        exclude = [*_relative_inside(path, args.directory), PROVENANCE_PATH]
        findings = verify_manifest(args.directory, manifest, exclude=exclude)
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


# --------------------------------------------------------------------------------------------------------------
# A CloudFormation change set, for the deployment that made it from the template it verified


# What can widen who may do what: IAM resources, resource policies (a type or property naming a policy), permissions,
# security groups and their rules (SecurityGroupIngress/Egress are properties of these types only), and nested stacks
# (whose own changes the change set does not list). A removal counts too: removing a policy can remove a Deny.
_PERMISSION_TYPES = ("AWS::IAM::", "AWS::EC2::SecurityGroup", "AWS::CloudFormation::Stack")
_PERMISSION_TYPE_ENDINGS = ("Policy", "Permission")
_POLICY_PROPERTY = "Polic"  # Policy, Policies, PolicyDocument, KeyPolicy, RepositoryPolicyText, ManagedPolicyArns...
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_SUMMARY_CHARS = 150  # an approval's message holds 500 characters, with the comment, version and digest
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def summarize_change_set(description: dict[str, Any], resources: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a change set does, from ``aws cloudformation describe-change-set``: counts by action, replacements, and
    the changes that can broaden permissions (IAM resources, resource policies, security-group rules).

    ``resources``: the ``Resources`` of the template the change set holds, when it is JSON. An added resource's
    properties are read there, since the change set lists only a modified one's.
    """
    counts = {"Add": 0, "Modify": 0, "Remove": 0}
    replaced = 0
    broadening: list[str] = []
    for change in description.get("Changes", []):
        resource = change.get("ResourceChange") or {}
        action = resource.get("Action", "")
        counts[action] = counts.get(action, 0) + 1
        replaced += resource.get("Replacement") in ("True", "Conditional")
        kind = resource.get("ResourceType", "")
        properties = [str((detail.get("Target") or {}).get("Name") or "") for detail in resource.get("Details", [])]
        added = (resources or {}).get(str(resource.get("LogicalResourceId"))) if action == "Add" else None
        if isinstance(added, dict) and isinstance(added.get("Properties"), dict):
            properties.extend(str(name) for name in added["Properties"])
        if (
            kind.startswith(_PERMISSION_TYPES)
            or kind.endswith(_PERMISSION_TYPE_ENDINGS)
            or any(_POLICY_PROPERTY in name for name in properties)
        ):
            broadening.append("{} {} ({})".format(action, resource.get("LogicalResourceId", "?"), kind))
    text = "{} to add, {} to modify ({} replaced), {} to remove".format(
        counts["Add"], counts["Modify"], replaced, counts["Remove"]
    )
    if broadening:
        text += "; permissions: " + ", ".join(broadening)
    else:
        text += "; no IAM, resource-policy or security-group change"
    if len(text) > _SUMMARY_CHARS:
        text = text[: _SUMMARY_CHARS - 3] + "..."
    return {"summary": text, "broadening": bool(broadening), "counts": counts, "replaced": replaced}


def _change_set_link(description: dict[str, Any]) -> str:
    change_set = str(description.get("ChangeSetId", ""))
    parts = change_set.split(":")
    if len(parts) < 4:
        return ""
    return "https://console.aws.amazon.com/cloudformation/home?region={}#/stacks/changesets/changes?{}".format(
        parts[3], urllib.parse.urlencode({"stackId": description.get("StackId", ""), "changeSetId": change_set})
    )


def _read_template(path: str) -> tuple[str, Any]:
    """A template's text, as sent (carriage returns included), and its JSON document (None when it is YAML)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _UsageError(f"cannot read the template {path}: {exc}") from None
    try:
        return text, json.loads(text)
    except ValueError:
        return text, None


def _same_template(text: str, document: Any, body: Any) -> bool:
    """Whether ``body``, get-template's ``TemplateBody``, is the template ``text`` (``document``, parsed): the AWS CLI
    gives a JSON template parsed, any other as its text."""
    return body == text if isinstance(body, str) else document is not None and body == document


def _main_change_set(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{_program()} change-set",
        description="Check that a change set holds the verified template, and print its summary as shell exports "
        "(exit 0); exit 1 when it holds another template.",
    )
    parser.add_argument("description", metavar="DESCRIBE_JSON", help="aws cloudformation describe-change-set output")
    parser.add_argument("--template", required=True, help="the verified template the change set was made from")
    parser.add_argument("--change-set-template", required=True, help="aws cloudformation get-template output")
    parser.add_argument(
        "--report", required=True, help=f"the package check's report in the validated artifact ({REPORT_PATH})"
    )
    args = parser.parse_args(argv)
    description, report = _load_json(args.description), _load_json(args.report)
    if not isinstance(description, dict):
        raise _UsageError(f"{args.description} is not describe-change-set's answer (a JSON object)")
    sha256 = report.get("sha256") if isinstance(report, dict) else None
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise _UsageError(f"{args.report} holds no package SHA-256 ('sha256'), got {sha256!r}")
    status, reason = description.get("Status"), str(description.get("StatusReason") or "")
    exports = {"PACKAGE_SHA256": sha256, "CHANGE_SET_LINK": ""}
    if status == "FAILED" and any(words in reason for words in _NO_CHANGES):
        exports.update(
            CHANGE_SET_NAME="none",
            CHANGE_SET_SUMMARY="no changes: the stack already matches the package",
            PERMISSIONS_BROADENED="false",
        )
    elif status != "CREATE_COMPLETE":
        raise _UsageError(f"the change set is {status}: {reason or 'no reason given'}")
    else:
        held = _load_json(args.change_set_template)
        body = held.get("TemplateBody") if isinstance(held, dict) else None
        if body is None:
            raise _UsageError(
                f"{args.change_set_template} holds no TemplateBody: get-template could not read the change set's "
                "template (its error is above)"
            )
        text, document = _read_template(args.template)
        if not _same_template(text, document, body):
            # stdout is the exports' file: the reason goes to the log.
            print(
                "Change set check FAILED: the change set does not hold the template this build verified "
                f"({args.template}); nothing is deployed.",
                file=sys.stderr,
            )
            return 1
        resources = document.get("Resources") if isinstance(document, dict) else None
        summary = summarize_change_set(description, resources if isinstance(resources, dict) else None)
        exports.update(
            CHANGE_SET_NAME=str(description.get("ChangeSetName", "")),
            CHANGE_SET_SUMMARY=summary["summary"],
            CHANGE_SET_LINK=_change_set_link(description),
            PERMISSIONS_BROADENED="true" if summary["broadening"] else "false",
        )
    _emit("\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(exports.items())))
    return 0


# --------------------------------------------------------------------------------------------------------------
# Provenance: an in-toto Statement v1 with a SLSA Provenance v1 predicate, in a DSSE envelope signed by KMS


PROVENANCE_PATH = RECORDS_DIR + "/provenance.dsse.json"
"""Where the Attest action puts the signed provenance in the artifact it passes on."""
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding, the bytes a signature covers: ``DSSEv1 SP len SP type SP len SP body``."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def provenance_statement(
    directory: str,
    *,
    source: Mapping[str, Any],
    parameters: Mapping[str, Any],
    checker_sha256: str,
    checker_uri: str,
    pipeline: str,
    builder_id: str,
    build_type: str,
    invocation_id: str,
    started_on: str,
    finished_on: str,
) -> dict[str, Any]:
    """The statement the Attest action signs: every file under ``directory`` (the artifact as it was received) is
    a subject; the source object version and the pinned checker are what it was made from."""
    files = _files_under(directory, (PROVENANCE_PATH,))
    subjects = [{"name": name, "digest": {"sha256": _sha256_file(full)}} for name, full in sorted(files.items())]
    source_uri = "s3://{}/{}?versionId={}".format(source["bucket"], source["key"], source["versionId"])
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": build_type,
                "externalParameters": {
                    "bucket": source["bucket"],
                    "key": source["key"],
                    "versionId": source["versionId"],
                    "sha256": source["sha256"],
                    **dict(parameters),
                },
                "internalParameters": {"pipeline": pipeline},
                "resolvedDependencies": [
                    {"uri": source_uri, "digest": {"sha256": source["sha256"]}},
                    {"uri": checker_uri, "digest": {"sha256": checker_sha256}},
                ],
            },
            "runDetails": {
                "builder": {"id": builder_id},
                "metadata": {"invocationId": invocation_id, "startedOn": started_on, "finishedOn": finished_on},
            },
        },
    }


def dsse_envelope(payload: bytes, signature: bytes, key_id: str) -> dict[str, Any]:
    """A DSSE envelope of ``payload`` with one signature (both base64 encoded, as DSSE's JSON form has them)."""
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode("ascii"),
        "signatures": [{"keyid": key_id, "sig": base64.b64encode(signature).decode("ascii")}],
    }


def provenance_findings(
    directory: str, envelope: Any, *, pipeline: str, invocation_id: str
) -> tuple[list[Finding], dict[str, Any] | None]:
    """What keeps ``directory`` from being the artifact the envelope's statement vouches for in this execution of
    this pipeline (an empty list: nothing), and the statement. The signature itself is checked apart, by KMS or
    with the public key, over ``pae(PAYLOAD_TYPE, payload)``."""
    findings: list[Finding] = []

    def refuse(message: str) -> tuple[list[Finding], None]:
        return [Finding("provenance", PROVENANCE_PATH, message)], None

    if not isinstance(envelope, dict) or envelope.get("payloadType") != PAYLOAD_TYPE:
        return refuse(f"{PROVENANCE_PATH} is not a DSSE envelope of an in-toto statement")
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or len(signatures) != 1 or not isinstance(signatures[0], dict):
        return refuse("the envelope must hold exactly one signature")
    payload, signature = envelope.get("payload"), signatures[0].get("sig")
    try:
        if not isinstance(payload, str) or not isinstance(signature, str):
            raise ValueError("not text")
        statement = json.loads(base64.b64decode(payload, validate=True))
        base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        return refuse("the envelope's payload or signature is not valid base64 JSON")
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        return refuse(f"the statement's _type is not {STATEMENT_TYPE}")
    if statement.get("predicateType") != PREDICATE_TYPE:
        return refuse(f"the statement's predicateType is not {PREDICATE_TYPE}")
    predicate = _object(statement, "predicate")
    signed_invocation = _object(_object(predicate, "runDetails"), "metadata").get("invocationId")
    if signed_invocation != invocation_id:
        findings.append(
            Finding(
                "provenance",
                PROVENANCE_PATH,
                f"the provenance is of execution {signed_invocation!r}, not of this one ({invocation_id!r}): the "
                "artifact was replaced by another execution's",
            )
        )
    signed_pipeline = _object(_object(predicate, "buildDefinition"), "internalParameters").get("pipeline")
    if signed_pipeline != pipeline:
        findings.append(
            Finding(
                "provenance", PROVENANCE_PATH, f"the provenance is of pipeline {signed_pipeline!r}, not of {pipeline!r}"
            )
        )
    subjects = {}
    listed = statement.get("subject")
    for subject in listed if isinstance(listed, list) else []:
        if isinstance(subject, dict) and isinstance(subject.get("digest"), dict):
            subjects[str(subject.get("name"))] = str(subject["digest"].get("sha256"))
    present = _files_under(directory, (PROVENANCE_PATH,))
    for name in sorted(set(subjects) - set(present)):
        findings.append(Finding("provenance", name, f"{_show(name)} is in the provenance but missing"))
    for name in sorted(set(present) - set(subjects)):
        findings.append(Finding("provenance", name, f"{_show(name)} was added: the provenance does not name it"))
    for name in sorted(set(subjects) & set(present)):
        if _sha256_file(present[name]) != subjects[name]:
            findings.append(Finding("provenance", name, f"{_show(name)} was changed since it was attested"))
    return findings, statement


def _object(value: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """``value[name]`` when it is a JSON object, else an empty one: a statement of another shape matches nothing."""
    found = value.get(name)
    return found if isinstance(found, dict) else {}


def _write_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)


def _main_attest(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{_program()} attest",
        description="Write the provenance statement of DIR and the SHA-256 of its DSSE encoding, to be signed.",
    )
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--report", required=True, help="this action's own package check report (JSON)")
    parser.add_argument("--source-json", required=True, help="bucket, key and versionId of the source object")
    parser.add_argument("--parameters-json", default="{}", help="the validation's commands and build image")
    parser.add_argument("--checker-uri", required=True)
    parser.add_argument("--checker-sha256", required=True)
    parser.add_argument("--pipeline", required=True)
    parser.add_argument("--builder-id", required=True)
    parser.add_argument("--build-type", required=True)
    parser.add_argument("--invocation-id", required=True)
    parser.add_argument("--started-on", required=True, help="RFC 3339, or milliseconds since the epoch")
    parser.add_argument("--payload-out", required=True, help="the statement, as signed")
    parser.add_argument("--digest-out", required=True, help="SHA-256 of the DSSE encoding, for kms sign")
    args = parser.parse_args(argv)
    report = _load_json(args.report)
    if not report.get("accepted"):
        raise _UsageError("the package check rejected the source object: nothing is attested")
    source = dict(_load_json(args.source_json), sha256=report.get("sha256"))
    statement = provenance_statement(
        args.directory,
        source=source,
        parameters=_load_json(args.parameters_json),
        checker_sha256=args.checker_sha256,
        checker_uri=args.checker_uri,
        pipeline=args.pipeline,
        builder_id=args.builder_id,
        build_type=args.build_type,
        invocation_id=args.invocation_id,
        started_on=_timestamp(args.started_on),
        finished_on=_now(),
    )
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
    _write_bytes(args.payload_out, payload)
    _write_bytes(args.digest_out, hashlib.sha256(pae(PAYLOAD_TYPE, payload)).digest())
    _emit(f"Provenance: {len(statement['subject'])} file(s) of execution {args.invocation_id} to be signed")
    return 0


def _main_envelope(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"{_program()} envelope", description="Write the signed DSSE envelope.")
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--payload", required=True)
    parser.add_argument("--signature-b64", required=True, help="a file holding the base64 signature kms sign gave")
    parser.add_argument("--key-id", required=True)
    args = parser.parse_args(argv)
    with open(args.payload, "rb") as fh:
        payload = fh.read()
    with open(args.signature_b64, encoding="ascii") as fh:
        signature = base64.b64decode(fh.read().strip(), validate=True)
    output = os.path.join(args.directory, PROVENANCE_PATH)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, "w", encoding="utf-8") as fh:
        json.dump(dsse_envelope(payload, signature, args.key_id), fh, indent=2)
        fh.write("\n")
    _emit(f"Provenance signed by {args.key_id}: {output}")
    return 0


def _main_provenance(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=f"{_program()} provenance",
        description="Check DIR against its signed provenance; write what kms verify checks the signature over.",
    )
    parser.add_argument("directory", metavar="DIR")
    parser.add_argument("--pipeline", required=True)
    parser.add_argument("--invocation-id", required=True)
    parser.add_argument("--digest-out", required=True, help="SHA-256 of the DSSE encoding, for kms verify")
    parser.add_argument("--signature-out", required=True, help="the raw signature, for kms verify")
    args = parser.parse_args(argv)
    path = os.path.join(args.directory, PROVENANCE_PATH)
    try:
        with open(path, encoding="utf-8") as fh:
            envelope = json.load(fh)
    except (OSError, ValueError) as exc:
        _emit(f"Provenance check FAILED: cannot read {PROVENANCE_PATH}: {exc}")
        return 1
    findings, _ = provenance_findings(
        args.directory, envelope, pipeline=args.pipeline, invocation_id=args.invocation_id
    )
    if findings:
        lines = [f"Provenance check FAILED: {len(findings)} problem(s); nothing here runs"]
        lines.extend(f"  [{finding.rule}] {finding.message}" for finding in findings)
        _emit("\n".join(lines))
        return 1
    payload = base64.b64decode(envelope["payload"])
    _write_bytes(args.digest_out, hashlib.sha256(pae(PAYLOAD_TYPE, payload)).digest())
    _write_bytes(args.signature_out, base64.b64decode(envelope["signatures"][0]["sig"]))
    _emit(f"Provenance matches: execution {args.invocation_id}; the signature is checked next")
    return 0


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _timestamp(value: str) -> str:
    """RFC 3339 from CodeBuild's CODEBUILD_START_TIME (milliseconds since the epoch); other text as it is."""
    if value.isdigit():
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(value) / 1000))
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 accepted/intact, 1 rejected/changed, 2 usage error)."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = {
        "manifest": _main_manifest,
        "verify": _main_verify,
        "change-set": _main_change_set,
        "attest": _main_attest,
        "envelope": _main_envelope,
        "provenance": _main_provenance,
    }.get(args[0] if args else "", _main_check)
    try:
        return command(args[1:] if command is not _main_check else args)
    except _UsageError as exc:
        print(f"{_program()}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say, and no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)


# --------------------------------------------------------------------------------------------------------------
# Formatting


def _show(text: str) -> str:
    """Quote a name for a one-line message, escaping characters that are not printable."""
    shown = text if len(text) <= _SHOWN_NAME_CHARS else text[:_SHOWN_NAME_CHARS] + "..."
    escaped = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in shown)
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
