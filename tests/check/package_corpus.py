"""Zip packages for the checker's tests: malicious or broken ones, each with the findings it must get, and valid ones.

Most are written with ``zipfile``; what ``zipfile`` refuses to write (overlapping entries, names that are not
UTF-8, a set encryption flag, mismatched headers, zip64 records) is written field by field by ``build_zip``, the one
raw writer (``differential_corpus`` builds its attacks with it too).
Credentials are assembled at run time so that secret scanners reading this file find nothing.
"""

from __future__ import annotations

import functools
import io
import random
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from s3_validated_pipeline.check import CHUNK_SIZE, DEFAULT_LIMITS, Limits

FAKE_ACCESS_KEY_ID = "AKIA" + "Q7ZWXN3M5KPR2TJH"
FAKE_SIGNING_KEY = "k9XwTq2vLp8RzYb4NcFh" + "6JmSd1GaUe7oWiK3rE/+"  # shaped like an AWS secret access key
PRIVATE_KEY_BLOCK = (
    "-----BEGIN " + "RSA PRIVATE KEY-----\n" + "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n"
    "-----END " + "RSA PRIVATE KEY-----\n"
)
DOCUMENTED_EXAMPLE_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
DOCUMENTED_EXAMPLE_SIGNING_KEY = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"

BOMB_BYTES = 200 * 1024 * 1024
"""The deflate bomb inflates to this many zeros (about 200 KB compressed)."""

REQUIRED_NODE_FILES = ("package.json", "package-lock.json", "tsconfig.json", "bin/*.ts", "lib/**/*.ts")

Files = Mapping[str, "bytes | str | None"]  # None: a folder entry


# --------------------------------------------------------------------------------------------------------------
# Writers


def write_zip(
    files: Files,
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    streamed: bool = False,
    date_time: tuple[int, int, int, int, int, int] | None = None,
) -> bytes:
    """A zip written by ``zipfile``. ``streamed`` writes to an unseekable stream, so entries get data descriptors.

    ``date_time`` stamps every entry, which makes the zip reproducible (by default the entries get the time now).
    """
    buffer = io.BytesIO()
    target: io.RawIOBase | io.BytesIO = _Unseekable(buffer) if streamed else buffer
    with zipfile.ZipFile(target, "w", compression=compression) as archive:
        for name, content in files.items():
            entry_name = name.rstrip("/") + "/" if content is None else name
            if date_time is None:
                archive.writestr(entry_name, b"" if content is None else content)
                continue
            info = zipfile.ZipInfo(entry_name, date_time)
            info.compress_type = compression
            info.external_attr = (0o40755 << 16) | 0x10 if content is None else 0o644 << 16
            archive.writestr(info, b"" if content is None else content)
    return buffer.getvalue()


class _Unseekable(io.RawIOBase):
    def __init__(self, sink: io.BytesIO) -> None:
        self._sink = sink

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        return self._sink.write(data)


@dataclass(frozen=True)
class RawEntry:
    """One entry for ``build_zip``. The ``local_*`` overrides make the local header disagree with the central one,
    the others make the central directory disagree with the data."""

    name: bytes
    data: bytes = b""
    method: int = zipfile.ZIP_DEFLATED
    flags: int = 0
    external_attr: int = (stat.S_IFREG | 0o644) << 16
    create_system: int = 3  # 3: made on Unix, external_attr holds the mode; 0: MS-DOS attributes only
    payload: bytes | None = None  # the bytes stored after the local header, instead of data compressed
    crc: int | None = None
    file_size: int | None = None
    compressed_size: int | None = None
    header_offset: int | None = None
    local_name: bytes | None = None
    local_method: int | None = None
    local_flags: int | None = None
    local_crc: int | None = None  # with flag bit 3 the local CRC and sizes default to 0
    local_compressed_size: int | None = None
    local_file_size: int | None = None
    extra: bytes = b""  # central extra field (after the zip64 one, if any)
    local_extra: bytes = b""
    comment: bytes = b""  # the entry's comment, in the central directory
    write_local: bool = True  # False: the local header is elsewhere (inside another entry's data)
    zip64: bool = False  # sizes and offset in a zip64 extra field of the central entry
    local_zip64: bool = False  # sizes in a zip64 extra field of the local header too
    descriptor: bytes | None = None  # after the data; None: a signed descriptor when flag bit 3 is set
    after: bytes = b""  # bytes written after the entry's data (and descriptor): a gap, a hidden header


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def _payload(entry: RawEntry) -> bytes:
    if entry.payload is not None:
        return entry.payload
    return deflate(entry.data) if entry.method == zipfile.ZIP_DEFLATED else entry.data


def data_descriptor(
    crc: int, compressed_size: int, file_size: int, *, signed: bool = True, zip64: bool = False
) -> bytes:
    """A data descriptor (after an entry's data when flag bit 3 is set), with or without its optional signature."""
    body = struct.pack("<L2Q" if zip64 else "<3L", crc, compressed_size, file_size)
    return (b"PK\x07\x08" if signed else b"") + body


def unicode_path_extra(name: bytes, unicode_name: str) -> bytes:
    """An Info-ZIP Unicode Path extra field (0x7075): the name to use instead of ``name``, tied to it by its CRC."""
    body = struct.pack("<BL", 1, zlib.crc32(name)) + unicode_name.encode()
    return struct.pack("<2H", 0x7075, len(body)) + body


def unicode_comment_extra(comment: bytes, unicode_comment: str) -> bytes:
    """An Info-ZIP Unicode Comment extra field (0x6375)."""
    body = struct.pack("<BL", 1, zlib.crc32(comment)) + unicode_comment.encode()
    return struct.pack("<2H", 0x6375, len(body)) + body


def _central_values(entry: RawEntry) -> tuple[int, int, int]:
    crc = zlib.crc32(entry.data) if entry.crc is None else entry.crc
    usize = len(entry.data) if entry.file_size is None else entry.file_size
    csize = len(_payload(entry)) if entry.compressed_size is None else entry.compressed_size
    return crc, csize, usize


def local_record(entry: RawEntry) -> bytes:
    """The local file header, data, data descriptor and ``after`` bytes of an entry, as ``build_zip`` writes them."""
    payload = _payload(entry)
    crc, csize, usize = _central_values(entry)
    flags = entry.flags if entry.local_flags is None else entry.local_flags
    streamed = bool(flags & 0x8)
    local_crc = (0 if streamed else crc) if entry.local_crc is None else entry.local_crc
    local_csize = (
        (0 if streamed else len(payload)) if entry.local_compressed_size is None else entry.local_compressed_size
    )
    local_usize = (0 if streamed else usize) if entry.local_file_size is None else entry.local_file_size
    name = entry.name if entry.local_name is None else entry.local_name
    method = entry.method if entry.local_method is None else entry.local_method
    extra = entry.local_extra
    if entry.local_zip64:
        extra = struct.pack("<2H2Q", 1, 16, local_usize, local_csize) + extra
        local_csize = local_usize = 0xFFFFFFFF
    header = struct.pack(
        "<4s2B4HL2L2H",
        b"PK\x03\x04",
        45 if entry.local_zip64 else 20,
        0,
        flags,
        method,
        0,
        0x21,
        local_crc,
        local_csize,
        local_usize,
        len(name),
        len(extra),
    )
    descriptor = entry.descriptor
    if descriptor is None:
        descriptor = data_descriptor(crc, csize, usize, zip64=entry.zip64) if entry.flags & 0x8 else b""
    return header + name + extra + payload + descriptor + entry.after


def central_record(entry: RawEntry, offset: int) -> bytes:
    """The central directory record of an entry whose local header is at ``offset``."""
    crc, csize, usize = _central_values(entry)
    where = offset if entry.header_offset is None else entry.header_offset
    extra = entry.extra
    if entry.zip64:
        extra = struct.pack("<2H3Q", 1, 24, usize, csize, where) + extra
        usize = csize = where = 0xFFFFFFFF
    version = 45 if entry.zip64 else 20
    fixed = struct.pack(
        "<4s4B4HL2L5H2L",
        b"PK\x01\x02",
        version,
        entry.create_system,
        version,
        0,
        entry.flags,
        entry.method,
        0,
        0x21,
        crc,
        csize,
        usize,
        len(entry.name),
        len(extra),
        len(entry.comment),
        0,
        0,
        entry.external_attr,
        where,
    )
    return fixed + entry.name + extra + entry.comment


def build_zip(
    entries: Sequence[RawEntry],
    *,
    declared_count: int | None = None,
    disk_count: int | None = None,
    zip64_end: bool = False,
    saturate_end: bool = True,
    zip64_count: int | None = None,
    locator_offset: int | None = None,
    prefix: bytes = b"",
    relative_offsets: bool = False,
    cd_size: int | None = None,
    cd_offset: int | None = None,
    comment: bytes = b"",
    comment_length: int | None = None,
    after_end: bytes = b"",
) -> bytes:
    """A zip written field by field, so that any field can lie.

    ``prefix`` comes before the first entry (a self-extractor stub, another zip); offsets count from the start of
    the file unless ``relative_offsets`` (as when a stub is prepended to a finished zip). ``declared_count`` is the
    total in the end record, ``disk_count`` the count on this disk (both the real count by default). ``zip64_end``
    adds a zip64 end record and locator; ``saturate_end`` then fills the end record with 0xFFFF / 0xFFFFFFFF, as
    when they are needed. ``comment`` is the zip's comment, ``after_end`` bytes after it.
    """
    out = bytearray(prefix)
    base = len(prefix) if relative_offsets else 0
    central = bytearray()
    for entry in entries:
        offset = len(out) - base
        if entry.write_local:
            out += local_record(entry)
        central += central_record(entry, offset)
    count = len(entries) if declared_count is None else declared_count
    on_disk = count if disk_count is None else disk_count
    real_cd_offset, real_cd_size = len(out) - base, len(central)
    cd_at = real_cd_offset if cd_offset is None else cd_offset
    cd_len = real_cd_size if cd_size is None else cd_size
    out += central
    if zip64_end:
        record_at = len(out) - base
        count64 = count if zip64_count is None else zip64_count
        out += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count64, count64, cd_len, cd_at)
        where = record_at if locator_offset is None else locator_offset
        out += struct.pack("<4sLQL", b"PK\x06\x07", 0, where, 1)
        if saturate_end:
            on_disk = count = 0xFFFF
            cd_len = cd_at = 0xFFFFFFFF
    length = len(comment) if comment_length is None else comment_length
    out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, on_disk, count, cd_len, cd_at, length)
    return bytes(out + comment + after_end)


# --------------------------------------------------------------------------------------------------------------
# Building blocks


def node_project(**changes: bytes | str | None) -> dict[str, bytes | str | None]:
    """A real Node.js (TypeScript CDK app) layout, as ``zip -r`` stores it, with folder entries."""
    files: dict[str, bytes | str | None] = {
        "package.json": '{\n  "name": "orders-service",\n  "version": "1.4.0",\n  "bin": {"app": "bin/app.js"},\n'
        '  "scripts": {"build": "tsc", "test": "jest", "lint": "eslint ."},\n'
        '  "devDependencies": {"typescript": "~5.6.0", "jest": "^29.7.0"},\n'
        '  "dependencies": {"aws-cdk-lib": "^2.160.0", "constructs": "^10.0.0"}\n}\n',
        "package-lock.json": '{\n  "name": "orders-service",\n  "lockfileVersion": 3,\n  "requires": true,\n'
        '  "packages": {"": {"name": "orders-service", "version": "1.4.0"}}\n}\n',
        "tsconfig.json": '{\n  "compilerOptions": {"target": "ES2022", "module": "commonjs", "strict": true,\n'
        '    "outDir": "dist", "rootDir": "."},\n  "exclude": ["node_modules", "cdk.out"]\n}\n',
        "cdk.json": '{\n  "app": "npx ts-node --prefer-ts-exts bin/app.ts"\n}\n',
        ".gitignore": "node_modules/\ndist/\ncdk.out/\n.env\n*.js\n!jest.config.js\n",
        ".npmignore": "*.ts\n!*.d.ts\n",
        ".env.example": "AWS_REGION=eu-west-1\nAWS_PROFILE=\nORDERS_TABLE=orders-dev\n",
        "README.md": "# Orders service\n\nRun `npm ci && npm run build`, then `npx cdk deploy`.\n",
        "jest.config.js": "module.exports = { testEnvironment: 'node', roots: ['<rootDir>/test'] };\n",
        "bin/": None,
        "bin/app.ts": "#!/usr/bin/env node\nimport * as cdk from 'aws-cdk-lib';\nimport { OrdersStack } from "
        "'../lib/orders-stack';\n\nconst app = new cdk.App();\nnew OrdersStack(app, 'Orders');\n",
        "lib/": None,
        "lib/orders-stack.ts": "import * as cdk from 'aws-cdk-lib';\nimport { Construct } from 'constructs';\n\n"
        "export class OrdersStack extends cdk.Stack {\n  constructor(scope: Construct, id: string) {\n"
        "    super(scope, id);\n  }\n}\n",
        "lib/constructs/": None,
        "lib/constructs/orders-table.ts": "export const TABLE_NAME = process.env.ORDERS_TABLE ?? 'orders';\n",
        "test/": None,
        "test/orders-stack.test.ts": "import { OrdersStack } from '../lib/orders-stack';\n\ntest('synth', () => {\n"
        "  expect(OrdersStack).toBeDefined();\n});\n",
    }
    files.update(changes)
    return files


def without(files: Files, *names: str) -> dict[str, bytes | str | None]:
    return {name: content for name, content in files.items() if name not in names}


def _pseudo_random(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)  # noqa: S311 - test data, not a secret


@functools.lru_cache(maxsize=1)
def deflate_bomb() -> bytes:
    """One entry of 200 MiB of zeros, deflated (about 200 KB)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("zeros.bin", "w") as entry:
        zeros = bytes(CHUNK_SIZE)
        for _ in range(BOMB_BYTES // CHUNK_SIZE):
            entry.write(zeros)
    return buffer.getvalue()


def _ratio_sample() -> tuple[bytes, float]:
    """Text-like data whose deflate ratio is about 9:1, and its exact ratio as ``build_zip`` compresses it.

    Over 1 MiB, since smaller output is not judged by the ratio rule (``RATIO_FLOOR``).
    """
    data = b"".join(_pseudo_random(100, i) + bytes(800) for i in range(1400))
    return data, len(data) / len(deflate(data))


RATIO_DATA, RATIO = _ratio_sample()


def _overlapped_pair() -> bytes:
    """Entry b's local header and data lie inside entry a's (stored) data: both are valid, and they overlap."""
    inner = RawEntry(b"b.txt", data=b"inner text " * 50)
    outer = RawEntry(b"a.txt", data=local_record(inner), method=zipfile.ZIP_STORED)
    inner_at = 30 + len(outer.name)
    return build_zip([outer, RawEntry(b"b.txt", data=inner.data, write_local=False, header_offset=inner_at)])


def _shared_kernel_bomb() -> bytes:
    """Fifield-style: ten central directory entries all point at one 10 MiB kernel."""
    kernel = RawEntry(b"0", data=bytes(10 * 1024 * 1024))
    others = [RawEntry(str(i).encode(), data=kernel.data, write_local=False, header_offset=0) for i in range(1, 10)]
    return build_zip([kernel, *others])


def _secret_across_chunks() -> bytes:
    """A text file whose access key ID starts 5 bytes before the 1 MiB boundary the data is read in."""
    head = ("// generated fixture\n" * (CHUNK_SIZE // 21 + 1)).encode()[: CHUNK_SIZE - 6] + b" "
    content = head + FAKE_ACCESS_KEY_ID.encode() + b"\nexport {};\n"
    return build_zip([RawEntry(b"package.json", data=b"{}"), RawEntry(b"src/fixture.ts", content, method=0)])


def _flip_last_data_byte(zip_bytes: bytes, marker: bytes) -> bytes:
    at = zip_bytes.index(marker) + len(marker) - 1
    return zip_bytes[:at] + bytes([zip_bytes[at] ^ 0xFF]) + zip_bytes[at + 1 :]


# --------------------------------------------------------------------------------------------------------------
# The corpus


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], bytes]
    expected: Mapping[str, str] = field(default_factory=dict)
    """Rule id -> a phrase one of its findings' messages holds. Exactly these rules fire; none for valid cases."""
    limits: Limits = DEFAULT_LIMITS
    required: tuple[str, ...] = ()
    expected_sha256: str | None = None


def _zip(files: Files, *, compression: int = zipfile.ZIP_DEFLATED, streamed: bool = False) -> Callable[[], bytes]:
    return lambda: write_zip(files, compression=compression, streamed=streamed)


def _raw(
    *entries: RawEntry, declared_count: int | None = None, zip64_end: bool = False, saturate_end: bool = True
) -> Callable[[], bytes]:
    return lambda: build_zip(entries, declared_count=declared_count, zip64_end=zip64_end, saturate_end=saturate_end)


def _several_disks() -> bytes:
    """A zip whose end record says it is the second disk of a split archive."""
    data = bytearray(write_zip(node_project()))
    data[-22 + 4 : -22 + 6] = struct.pack("<H", 1)  # number of this disk
    return bytes(data)


_SYMLINK = (stat.S_IFLNK | 0o777) << 16
_NFC = unicodedata.normalize("NFC", "café.txt")
_NFD = unicodedata.normalize("NFD", "café.txt")

SIZED_PACKAGE = write_zip(node_project(), compression=zipfile.ZIP_STORED)
"""A package whose zip file's size is the size limit of the two cases below (stored: its size is the same each time)."""

MALICIOUS: tuple[Case, ...] = (
    Case(
        "package-one-byte-over-the-size-limit",
        lambda: SIZED_PACKAGE,
        {"package-size": f"is {len(SIZED_PACKAGE)} bytes, more than the limit of {len(SIZED_PACKAGE) - 1} bytes"},
        limits=Limits(max_package_bytes=len(SIZED_PACKAGE) - 1),
    ),
    Case("not-a-zip", lambda: b"<html>403 Forbidden</html>\n", {"not-a-zip": "not a zip archive"}),
    Case("zero-bytes", lambda: b"", {"not-a-zip": "empty (0 bytes)"}),
    Case("several-disks", _several_disks, {"corrupt-archive": "spans several disks"}),
    Case(
        "truncated",
        lambda: write_zip(node_project())[:700],
        {"truncated": "cut short"},
    ),
    Case(
        "crc-mismatch",
        lambda: _flip_last_data_byte(
            write_zip({"package.json": "{}", "run.sh": "echo hello\n"}, compression=zipfile.ZIP_STORED), b"echo hello"
        ),
        {"corrupt-entry": "CRC-32"},
    ),
    Case(
        "corrupt-deflate-stream",
        _raw(RawEntry(b"index.js", data=b"console.log(1)\n", payload=b"\xff\xfe\xfd garbage that is not deflate")),
        {"corrupt-entry": "compressed data is corrupt"},
    ),
    Case(
        "size-lies",
        _raw(RawEntry(b"index.js", data=b"console.log(1)\n" * 40, file_size=10)),
        {"corrupt-entry": "header declares 10"},
    ),
    Case("no-entries", _zip({}), {"empty-archive": "no entries"}),
    Case("only-folders", _zip({"src/": None, "src/lib/": None}), {"empty-archive": "only folders"}),
    Case(
        "too-many-entries",
        _zip({f"f{i}.txt": str(i) for i in range(21)}),
        {"too-many-entries": "21 entries, more than the limit of 20"},
        limits=Limits(max_entries=20),
    ),
    Case(
        "declared-entries-above-limit",
        _raw(RawEntry(b"a.txt", data=b"a"), declared_count=10_001),
        {"too-many-entries": "10001 entries"},
    ),
    Case(
        "too-large",
        _zip({"data.bin": _pseudo_random(2000, 1)}, compression=zipfile.ZIP_STORED),
        {"too-large": "more than 1000 bytes"},
        limits=Limits(max_total_bytes=1000),
    ),
    Case(
        "total-one-byte-over",
        _zip({"a.txt": b"a" * 600, "b.txt": b"b" * 401}, compression=zipfile.ZIP_STORED),
        {"too-large": "more than 1000 bytes"},
        limits=Limits(max_total_bytes=1000),
    ),
    Case("deflate-bomb", deflate_bomb, {"compression-ratio": "expands more than 100:1"}),
    Case(
        "ratio-just-over",
        _raw(RawEntry(b"fixture.dat", data=RATIO_DATA)),
        {"compression-ratio": "expands more than"},
        limits=Limits(max_compression_ratio=RATIO * 0.999),
    ),
    Case("path-traversal", _zip({"../../etc/cron.d/evil": "* * * * * root sh\n"}), {"path-traversal": "'..'"}),
    Case(
        "windows-traversal",
        _raw(RawEntry(b"..\\..\\startup\\evil.bat", data=b"echo pwned\r\n")),
        {"path-traversal": "'..'", "backslash-in-name": "backslash"},
    ),
    Case(
        "absolute-path",
        _raw(RawEntry(b"/etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n")),
        {"absolute-path": "absolute path"},
    ),
    Case("drive-letter", _raw(RawEntry(b"C:/Windows/evil.dll", data=b"MZ")), {"drive-letter": "drive letter"}),
    Case("backslash", _raw(RawEntry(b"src\\index.ts", data=b"export {};\n")), {"backslash-in-name": "'/'"}),
    Case(
        "symlink",
        _raw(RawEntry(b"config", data=b"/etc/passwd", external_attr=_SYMLINK, method=0)),
        {"symlink": "symbolic link"},
    ),
    Case(
        "duplicate-exact",
        _raw(RawEntry(b"package.json", data=b"{}"), RawEntry(b"package.json", data=b'{"scripts":{}}')),
        {"duplicate-name": "appears 2 times"},
    ),
    Case(
        "duplicate-case",
        _zip({"README.md": "# a\n", "readme.md": "# b\n"}),
        {"duplicate-name": "letter case"},
    ),
    Case(
        "duplicate-unicode",
        _zip({_NFC: "nfc\n", _NFD: "nfd\n"}),
        {"duplicate-name": "Unicode normalisation"},
    ),
    Case(
        "duplicate-file-and-folder",
        _zip({"lib": "a file\n", "lib/": None}),
        {"duplicate-name": "name the same path"},
    ),
    Case("encrypted", _raw(RawEntry(b"secret.txt", data=b"hidden", flags=0x1)), {"encrypted-entry": "encrypted"}),
    Case(
        "name-not-utf8",
        _raw(RawEntry(b"caf\xe9.txt", data=b"latin-1 name")),
        {"invalid-name-encoding": "not valid UTF-8, so"},
    ),
    Case(
        "name-flagged-utf8-but-not",
        _raw(RawEntry(b"caf\xe9.txt", data=b"bad name", flags=0x800)),
        {"invalid-name-encoding": "flagged as UTF-8"},
    ),
    Case("control-character", _raw(RawEntry(b"run.sh\x00.txt", data=b"echo\n")), {"control-character": "NUL"}),
    Case(
        "local-name-differs",
        _raw(RawEntry(b"README.md", data=b"#!/bin/sh\n", local_name=b"install.sh")),
        {"local-header": "'install.sh' in its local header"},
    ),
    Case("overlapping-entries", _overlapped_pair, {"overlapping-entries": "'b.txt' overlaps the data of 'a.txt'"}),
    Case(
        "overlap-bomb-shared-kernel",
        _shared_kernel_bomb,
        {"overlapping-entries": "overlaps the data of '0'", "local-header": "in its local header"},
    ),
    Case(
        "data-past-the-end",
        _raw(RawEntry(b"a.txt", data=b"abc", compressed_size=10_000)),
        {"overlapping-entries": "runs into the central directory", "local-header": "in its local header"},
    ),
    Case(
        "entry-count-mismatch",
        _raw(RawEntry(b"a.txt", data=b"a"), RawEntry(b"b.txt", data=b"b"), declared_count=1),
        {"entry-count-mismatch": "declares 1 entries but its central directory holds 2"},
    ),
    Case(
        "unsupported-compression",
        _zip({"data.json": "{}" * 100}, compression=zipfile.ZIP_LZMA),
        {"unsupported-compression": "method 14 (LZMA)"},
    ),
    Case(
        "nested-archive",
        _zip({"package.json": "{}", "vendor/tools.tar.gz": b"\x1f\x8b", "layer.zip": b"PK\x05\x06" + bytes(18)}),
        {"nested-archive": "archive inside the package"},
    ),
    Case(
        "required-missing",
        _zip(without(node_project(), "package-lock.json", "bin/app.ts", "bin/")),
        {"required-missing": "'package-lock.json'"},
        required=REQUIRED_NODE_FILES,
    ),
    Case("forbidden-dotenv", _zip(node_project(**{".env": "DB_PASSWORD=x\n"})), {"forbidden-file": "'.env'"}),
    Case(
        "forbidden-dotenv-variant",
        _zip(node_project(**{"config/.env.production": "API_URL=x\n"})),
        {"forbidden-file": "'config/.env.production' matches the forbidden pattern '.env.*'"},
    ),
    Case(
        "forbidden-keys",
        _zip({"deploy/id_rsa": "x", "certs/server.key": "x", "home/.aws/credentials": "x", "package.json": "{}"}),
        {"forbidden-file": "'home/.aws/credentials'"},
    ),
    Case(
        "forbidden-custom-folder",
        _zip(node_project(**{"node_modules/left-pad/index.js": "module.exports = 1;\n"})),
        {"forbidden-file": "'node_modules/' matches the forbidden pattern 'node_modules'"},
        limits=Limits(forbidden=(*DEFAULT_LIMITS.forbidden, "node_modules")),
    ),
    Case(
        "aws-access-key-id",
        _zip(
            node_project(
                **{"lib/config.ts": f"export const region = 'eu-west-1';\n\nconst k = '{FAKE_ACCESS_KEY_ID}';\n"}
            )
        ),
        {"credentials": "'lib/config.ts' holds an AWS access key ID on line 3"},
    ),
    Case(
        "aws-secret-access-key",
        _zip({"config/aws.ini": f"[default]\naws_secret_access_key = {FAKE_SIGNING_KEY}\n", "package.json": "{}"}),
        {"credentials": "AWS secret access key on line 2"},
    ),
    Case(
        "private-key",
        _zip({"package.json": "{}", "scripts/deploy.sh": "#!/bin/sh\ncat > key <<EOF\n" + PRIVATE_KEY_BLOCK + "EOF\n"}),
        {"credentials": "a private key on line 3"},
    ),
    Case("secret-across-chunk-boundary", _secret_across_chunks, {"credentials": "AWS access key ID on line"}),
    Case(
        "traversal-symlink-and-secret",
        _raw(
            RawEntry(b"../evil.sh", data=b"#!/bin/sh\n"),
            RawEntry(b"link", data=b"/root/.ssh", external_attr=_SYMLINK),
            RawEntry(b"config.json", data=f'{{"key": "{FAKE_ACCESS_KEY_ID}"}}'.encode()),
        ),
        {"path-traversal": "'../evil.sh'", "symlink": "'link'", "credentials": "'config.json'"},
    ),
    Case(
        "zip64-records-not-needed",
        _raw(RawEntry(b"package.json", data=b"{}\n", zip64=True), zip64_end=True, saturate_end=False),
        {"zip64-record": "zip64 end records although its end record needs none"},
    ),
    Case(
        "checksum-mismatch",
        _zip(node_project()),
        {"checksum-mismatch": "was expected"},
        expected_sha256="0" * 64,
    ),
)

VALID: tuple[Case, ...] = (
    Case(
        "package-at-the-size-limit",
        lambda: SIZED_PACKAGE,
        required=REQUIRED_NODE_FILES,
        limits=Limits(max_package_bytes=len(SIZED_PACKAGE)),
    ),
    Case("node-project", _zip(node_project()), required=REQUIRED_NODE_FILES),
    Case("node-project-stored", _zip(node_project(), compression=zipfile.ZIP_STORED), required=REQUIRED_NODE_FILES),
    Case("node-project-bzip2", _zip(node_project(), compression=zipfile.ZIP_BZIP2), required=REQUIRED_NODE_FILES),
    Case("data-descriptors", _zip(node_project(), streamed=True), required=REQUIRED_NODE_FILES),
    Case(
        "nested-folders-and-empty-folders",
        _zip(
            {
                "README.md": "# deep\n",
                "a/": None,
                "a/b/": None,
                "a/b/c/": None,
                "a/b/c/d/e/f.txt": "deep\n",
                "empty/": None,
                "x/y/": None,
            }
        ),
        required=("a/**/f.txt", "**/f.txt", "README.md"),  # required patterns match files only (v2)
    ),
    Case(
        "unicode-names",
        _zip({_NFC: "café\n", "日本語/説明.md": "# 説明\n", "emoji-🚀.txt": "go\n", "Ωmega/ß.txt": "ß\n"}),
    ),
    Case(
        "exactly-max-entries",
        _zip({f"f{i:02}.txt": str(i) for i in range(20)}),
        limits=Limits(max_entries=20),
    ),
    Case(
        "exactly-max-total-bytes",
        _zip({"a.txt": b"a" * 600, "b.txt": b"b" * 400}, compression=zipfile.ZIP_STORED),
        limits=Limits(max_total_bytes=1000),
    ),
    Case(
        "ratio-just-under",
        _raw(RawEntry(b"fixture.dat", data=RATIO_DATA)),
        limits=Limits(max_compression_ratio=RATIO * 1.001),
    ),
    Case(
        "documented-examples-and-placeholders",
        _zip(
            {
                "README.md": f"Example: aws_access_key_id = {DOCUMENTED_EXAMPLE_KEY_ID}\n"
                f"aws_secret_access_key = {DOCUMENTED_EXAMPLE_SIGNING_KEY}\n",
                "deploy.sh": "export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}\n"
                "aws_secret_access_key: XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n",
                "id_rsa.pub": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host\n",
                ".env.sample": "TOKEN=\n",
                ".env.template": "TOKEN=\n",
            }
        ),
    ),
    Case(
        "binary-file-is-not-scanned",
        _zip({"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00" + FAKE_ACCESS_KEY_ID.encode()}),
    ),
    Case(
        "text-over-scan-limit-is-not-scanned",
        _zip({"big.txt": "x" * 1000 + FAKE_ACCESS_KEY_ID}),
        limits=Limits(scan_max_bytes=1000),
    ),
    Case("zip64-records", _raw(RawEntry(b"package.json", data=b"{}\n", zip64=True), zip64_end=True)),
    Case("jar-and-wheel-are-not-nested-archives", _zip({"lib/app.jar": b"PK", "dist/app-1.0-py3-none-any.whl": b"PK"})),
    Case(
        "nested-archives-allowed",
        _zip({"vendor/tools.tar.gz": b"\x1f\x8b", "layer.zip": b"PK"}),
        limits=Limits(allow_nested_archives=True),
    ),
)
