"""Zips of a folder tree as real tools write them, extraction with real extractors, and trees to compare.

Each ``Tool`` writes a zip of a tree the way one real program does: Info-ZIP ``zip``, 7-Zip, bsdtar (libarchive,
also Windows' built-in ``tar``), Python's ``zipfile``, ``jar``, and, written byte by byte since the programs only
run on their systems, macOS Finder (Archive Utility / ``ditto -c -k --sequesterRsrc``) and Windows Explorer
("Send to > Compressed (zipped) folder"). Each ``Extractor`` extracts a zip into a folder with ``unzip``, bsdtar,
7-Zip or ``zipfile``. A tool or extractor whose program is missing says which apt package installs it.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

Tree = dict[str, "bytes | None"]
"""Relative POSIX path -> file content, or None for a folder."""

APT_PACKAGES = {"zip": "zip", "unzip": "unzip", "bsdtar": "libarchive-tools", "7zz": "7zip", "jar": "openjdk-17-jdk"}
"""The program -> the Debian package that installs it."""


def missing(program: str | None) -> str | None:
    """Why a program cannot run here (naming its apt package), or None when it can."""
    if program is None or shutil.which(program):
        return None
    return f"{program} is not installed (apt-get install {APT_PACKAGES.get(program, program)})"


def _run(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LC_ALL": "C.UTF-8"}  # unzip and bsdtar convert names by the locale
    try:
        return subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)  # noqa: S603
    except subprocess.CalledProcessError as exc:
        message = f"{' '.join(args)} exited {exc.returncode}: {exc.stderr.decode(errors='replace').strip()}"
        raise RuntimeError(message) from exc


# --------------------------------------------------------------------------------------------------------------
# Trees


def write_tree(root: Path, tree: Tree, *, executable: Sequence[str] = ()) -> Path:
    """Create ``tree`` under ``root``: files 0o644 (0o755 when listed in ``executable``), folders 0o755."""
    root.mkdir(parents=True, exist_ok=True)
    for path in sorted(tree):
        target = root / path
        content = tree[path]
        if content is None:
            target.mkdir(parents=True, exist_ok=True)
            target.chmod(0o755)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(0o755 if path in executable else 0o644)
    return root


def tree_of(directory: Path) -> Tree:
    """Every file (its bytes) and folder (None) under ``directory``, by relative POSIX path; modes are ignored."""
    found: Tree = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if path.is_symlink():
            found[relative] = b"<symlink>"
        elif path.is_dir():
            found[relative] = None
        else:
            found[relative] = path.read_bytes()
    return found


def modes_of(directory: Path) -> dict[str, int]:
    """The permission bits (``stat.S_IMODE``) of everything under ``directory``, by relative POSIX path."""
    return {p.relative_to(directory).as_posix(): stat.S_IMODE(p.lstat().st_mode) for p in directory.rglob("*")}


def _walk(tree: Path) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of every folder and file under ``tree``, folders before their contents, sorted."""
    for path in sorted(tree.rglob("*")):
        yield path.relative_to(tree).as_posix() + ("/" if path.is_dir() else ""), path


# --------------------------------------------------------------------------------------------------------------
# Tools that write zips


@dataclass(frozen=True)
class Tool:
    id: str
    program: str | None  # what must be installed; None: written by Python here
    build: Callable[[Path, Path], None]  # (tree folder, zip path to write)
    keeps_unix_modes: bool = True
    added: tuple[str, ...] = ()
    """Paths the tool adds that are not in the tree (jar's manifest, Finder's ``__MACOSX``)."""
    note: str = ""

    @property
    def skip_reason(self) -> str | None:
        return missing(self.program)


def _shell_glob(tree: Path) -> list[str]:
    """What ``*`` expands to in a shell: the top-level names, without dotfiles."""
    return sorted(p.name for p in tree.iterdir() if not p.name.startswith("."))


def _info_zip(tree: Path, out: Path) -> None:
    _run(["zip", "-q", "-r", str(out), "."], tree)


def _info_zip_streamed(tree: Path, out: Path) -> None:
    """``zip -r - . | ...``: stdout is a pipe, so zip cannot seek back and writes data descriptors."""
    out.write_bytes(_run(["zip", "-q", "-r", "-", "."], tree).stdout)


def _info_zip_streamed_stored(tree: Path, out: Path) -> None:
    """``zip -0 -r - . | ...``: stored entries with flag bit 3: local sizes real, local CRC 0, a data descriptor."""
    out.write_bytes(_run(["zip", "-q", "-0", "-r", "-", "."], tree).stdout)


def _info_zip_stdout_to_file(tree: Path, out: Path) -> None:
    """``zip -r - . > x.zip``: stdout is the file itself (seekable)."""
    with out.open("wb") as sink:
        subprocess.run(["zip", "-q", "-r", "-", "."], cwd=tree, stdout=sink, check=True)  # noqa: S607


def _info_zip_descriptors(tree: Path, out: Path) -> None:
    """``zip -fd``: force data descriptors (an Info-ZIP 3.0 option missing from ``zip -h2``)."""
    _run(["zip", "-q", "-r", "-fd", str(out), "."], tree)


def _info_zip_zip64(tree: Path, out: Path) -> None:
    """``zip -fz``: force zip64 extra fields even for small entries."""
    _run(["zip", "-q", "-r", "-fz", str(out), "."], tree)


def _info_zip_bzip2(tree: Path, out: Path) -> None:
    _run(["zip", "-q", "-r", "-Z", "bzip2", str(out), "."], tree)


def _seven_zip(tree: Path, out: Path) -> None:
    _run(["7zz", "a", "-tzip", "-bd", "-bso0", str(out), "."], tree)


def _seven_zip_bzip2(tree: Path, out: Path) -> None:
    _run(["7zz", "a", "-tzip", "-mm=BZip2", "-bd", "-bso0", str(out), "."], tree)


def _bsdtar_dot(tree: Path, out: Path) -> None:
    """``bsdtar -a -cf x.zip .``: every name starts with "./" and the first entry is "./" itself (as Windows tar)."""
    _run(["bsdtar", "-a", "-cf", str(out), "."], tree)


def _bsdtar_glob(tree: Path, out: Path) -> None:
    """``bsdtar --format zip -cf x.zip * .??*``: top-level names (a bare ``*`` would leave dotfiles out)."""
    names = _shell_glob(tree) + sorted(p.name for p in tree.iterdir() if p.name.startswith("."))
    _run(["bsdtar", "--format", "zip", "-cf", str(out), *names], tree)


def _bsdtar_stdout(tree: Path, out: Path) -> None:
    """``bsdtar --format zip -cf - . > x.zip``: libarchive pads what it writes to standard output (a pipe here, but
    a file behind ``>`` too) with zeros to a whole 10240-byte block, after the end record."""
    out.write_bytes(_run(["bsdtar", "--format", "zip", "-cf", "-", "."], tree).stdout)


def _python_zipfile(tree: Path, out: Path, *, streamed: bool = False, method: int = zipfile.ZIP_DEFLATED) -> None:
    """``zipfile.ZipFile.write`` of every folder and file; ``streamed``: to an unseekable stream (data descriptors)."""
    with out.open("wb") as sink:
        target = _Unseekable(sink) if streamed else sink
        with zipfile.ZipFile(target, "w", method) as archive:  # type: ignore[call-overload]
            for name, path in _walk(tree):
                archive.write(path, name)


def _python_zipfile_streamed(tree: Path, out: Path) -> None:
    _python_zipfile(tree, out, streamed=True)


def _python_zipfile_streamed_stored(tree: Path, out: Path) -> None:
    """Stored entries with flag bit 3, CRC and both sizes 0 in the local header: only the descriptor and the
    central directory say how long the data is."""
    _python_zipfile(tree, out, streamed=True, method=zipfile.ZIP_STORED)


class _Unseekable:
    """A write-only stream without ``seek``/``tell``: ``zipfile`` then writes data descriptors."""

    def __init__(self, sink: object) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        return self._sink.write(data)  # type: ignore[attr-defined, no-any-return]

    def flush(self) -> None:
        self._sink.flush()  # type: ignore[attr-defined]


def _jar(tree: Path, out: Path) -> None:
    _run(["jar", "cf", str(out), "-C", str(tree), "."], tree)


# ---- macOS Finder "Compress" (Archive Utility; the same layout as ``ditto -c -k --sequesterRsrc``), by hand

_DOS_TIME, _DOS_DATE = 0x6000, 0x5A21  # 2025-01-01 12:00:00


def _apple_double(name: str) -> bytes:
    """An AppleDouble ``._name`` file as Finder writes it: header, Finder info (with an empty xattr block), a
    resource fork entry of length 0. Content only has to be plausible; extractors treat it as a regular file."""
    finder_info = bytes(32)
    entries = [(9, finder_info), (2, b"")]  # 9: Finder info, 2: resource fork
    header = struct.pack(">LL16sH", 0x00051607, 0x00020000, b"Mac OS X        ", len(entries))
    offset = len(header) + 12 * len(entries)
    table, body = b"", b""
    for entry_id, data in entries:
        table += struct.pack(">3L", entry_id, offset + len(body), len(data))
        body += data
    return header + table + body + b"This resource fork intentionally left blank   ".ljust(286, b"\0")


@dataclass(frozen=True)
class _Member:
    name: bytes
    data: bytes
    mode: int  # full st_mode (S_IFDIR / S_IFREG | perms), or 0 for no Unix mode
    dos_attr: int = 0


def _finder_members(tree: Path) -> list[_Member]:
    """Folder contents as Finder sends them (names NFD, as APFS/HFS+ hand them over), then ``__MACOSX`` twins."""
    members: list[_Member] = []
    sequestered: list[_Member] = []
    made: set[str] = set()
    for name, path in _walk(tree):
        nfd = unicodedata.normalize("NFD", name)
        mode = path.stat().st_mode
        if path.is_dir():
            members.append(_Member(nfd.encode(), b"", stat.S_IFDIR | 0o755))
            continue
        members.append(_Member(nfd.encode(), path.read_bytes(), stat.S_IFREG | stat.S_IMODE(mode)))
        if stat.S_IMODE(mode) & 0o111:  # say the script carries a quarantine xattr: Finder sequesters it
            folder, _, base = nfd.rpartition("/")
            parts = ["__MACOSX", *filter(None, folder.split("/"))]
            for depth in range(1, len(parts) + 1):
                twin_dir = "/".join(parts[:depth]) + "/"
                if twin_dir not in made:
                    made.add(twin_dir)
                    sequestered.append(_Member(twin_dir.encode(), b"", stat.S_IFDIR | 0o755))
            sequestered.append(
                _Member(("/".join(parts) + "/._" + base).encode(), _apple_double(base), stat.S_IFREG | 0o644)
            )
    return members + sequestered


def _finder(tree: Path, out: Path) -> None:
    """Finder zips: made by Unix 2.1 (0x0315), needs 2.0; EVERY entry, folders too, deflated with flag bit 3, CRC
    and sizes 0 in the local header and a signed 16-byte data descriptor (a folder's data is the 2-byte empty
    deflate stream); no UTF-8 flag although names are UTF-8 (NFD); the old Info-ZIP Unix extra field 0x5855
    (local: atime, mtime, uid, gid = 12 bytes; central: atime, mtime = 8 bytes); external attributes the Unix mode
    only; no gaps. As dissected in yauzl issue #69 and Keka issue #423 (zipinfo of Archive Utility zips)."""
    now = int(time.time())
    out_bytes = bytearray()
    central = bytearray()
    members = _finder_members(tree)
    for member in members:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = compressor.compress(member.data) + compressor.flush()
        crc, size = zlib.crc32(member.data), len(member.data)
        local_extra = struct.pack("<HHLLHH", 0x5855, 12, now, now, 501, 20)
        central_extra = struct.pack("<HHLL", 0x5855, 8, now, now)
        offset = len(out_bytes)
        out_bytes += struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", 20, 0x0008, 8, _DOS_TIME, _DOS_DATE, 0, 0, 0,
            len(member.name), len(local_extra)
        )  # fmt: skip
        out_bytes += member.name + local_extra + payload
        out_bytes += struct.pack("<4sLLL", b"PK\x07\x08", crc, len(payload), size)
        central += struct.pack(
            "<4s6H3L5HLL", b"PK\x01\x02", 0x0315, 20, 0x0008, 8, _DOS_TIME, _DOS_DATE, crc, len(payload), size,
            len(member.name), len(central_extra), 0, 0, 0, member.mode << 16, offset
        )  # fmt: skip
        central += member.name + central_extra
    count = len(members)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), len(out_bytes), 0)
    out.write_bytes(bytes(out_bytes + central + end))


# ---- Windows Explorer "Send to > Compressed (zipped) folder" (zipfldr.dll), by hand


def _explorer(tree: Path, out: Path) -> None:
    """Explorer zips: made by MS-DOS 2.0 (0x0014), needs 2.0, deflate with sizes in the local header (no data
    descriptor), the UTF-8 flag (0x800) only on names that are not ASCII, no extra fields, no Unix mode: external
    attributes are MS-DOS only (0x20 archive for files, 0x10 directory for folders). Folders are entries
    ("name/", stored, empty)."""
    out_bytes = bytearray()
    central = bytearray()
    count = 0
    for name, path in _walk(tree):
        raw = name.encode()
        flags = 0 if raw.isascii() else 0x0800
        if path.is_dir():
            data, method, attr = b"", 0, 0x10
        else:
            data, method, attr = path.read_bytes(), 8, 0x20
        if method == 8:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = compressor.compress(data) + compressor.flush()
        else:
            payload = data
        crc = zlib.crc32(data)
        offset = len(out_bytes)
        out_bytes += struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", 20, flags, method, _DOS_TIME, _DOS_DATE, crc, len(payload), len(data),
            len(raw), 0
        )  # fmt: skip
        out_bytes += raw + payload
        central += struct.pack(
            "<4s6H3L5HLL", b"PK\x01\x02", 0x0014, 20, flags, method, _DOS_TIME, _DOS_DATE, crc, len(payload),
            len(data), len(raw), 0, 0, 0, 0, attr, offset
        )  # fmt: skip
        central += raw
        count += 1
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(central), len(out_bytes), 0)
    out.write_bytes(bytes(out_bytes + central + end))


TOOLS: tuple[Tool, ...] = (
    Tool("info-zip", "zip", _info_zip),
    Tool("info-zip-streamed", "zip", _info_zip_streamed, note="zip -r - . into a pipe"),
    Tool("info-zip-streamed-stored", "zip", _info_zip_streamed_stored, note="zip -0 -r - . into a pipe"),
    Tool("info-zip-stdout-file", "zip", _info_zip_stdout_to_file, note="zip -r - . > x.zip"),
    Tool("info-zip-fd", "zip", _info_zip_descriptors),
    Tool("info-zip-fz", "zip", _info_zip_zip64),
    Tool("info-zip-bzip2", "zip", _info_zip_bzip2),
    Tool("7zip", "7zz", _seven_zip),
    Tool("7zip-bzip2", "7zz", _seven_zip_bzip2),
    Tool("bsdtar-dot", "bsdtar", _bsdtar_dot, note='"./" before every name, like Windows tar.exe'),
    Tool("bsdtar-format-zip", "bsdtar", _bsdtar_glob),
    Tool("bsdtar-stdout", "bsdtar", _bsdtar_stdout, note="bsdtar --format zip -cf - . into a pipe: zero padding"),
    Tool("python-zipfile", None, _python_zipfile),
    Tool("python-zipfile-streamed", None, _python_zipfile_streamed),
    Tool("python-zipfile-streamed-stored", None, _python_zipfile_streamed_stored),
    Tool("jar", "jar", _jar, keeps_unix_modes=False, added=("META-INF", "META-INF/MANIFEST.MF")),
    Tool("finder", None, _finder, added=("__MACOSX",), note="hand-built; names NFD"),
    Tool("explorer", None, _explorer, keeps_unix_modes=False, note="hand-built"),
)
TOOLS_BY_ID = {tool.id: tool for tool in TOOLS}


# --------------------------------------------------------------------------------------------------------------
# Extractors


@dataclass(frozen=True)
class Extractor:
    id: str
    program: str | None
    extract: Callable[[Path, Path], None]  # (zip path, empty folder to extract into)

    @property
    def skip_reason(self) -> str | None:
        return missing(self.program)


def _unzip(archive: Path, into: Path) -> None:
    _run(["unzip", "-qq", "-o", str(archive), "-d", str(into)], into)


def _bsdtar_extract(archive: Path, into: Path) -> None:
    _run(["bsdtar", "-xf", str(archive), "-C", str(into)], into)


def _7zz_extract(archive: Path, into: Path) -> None:
    _run(["7zz", "x", "-y", "-bd", "-bso0", f"-o{into}", str(archive)], into)


def _zipfile_extract(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(into)


EXTRACTORS: tuple[Extractor, ...] = (
    Extractor("unzip", "unzip", _unzip),
    Extractor("bsdtar", "bsdtar", _bsdtar_extract),
    Extractor("7zz", "7zz", _7zz_extract),
    Extractor("zipfile", None, _zipfile_extract),
)
EXTRACTORS_BY_ID = {extractor.id: extractor for extractor in EXTRACTORS}


def extract(extractor: Extractor, archive: Path, into: Path) -> Tree:
    into.mkdir(parents=True, exist_ok=True)
    extractor.extract(archive, into)
    return tree_of(into)


# --------------------------------------------------------------------------------------------------------------
# Structure, for reports: what each header of a zip says


def _extras(extra: bytes) -> list[tuple[int, bytes]]:
    fields, at = [], 0
    while at + 4 <= len(extra):
        field_id, size = struct.unpack_from("<2H", extra, at)
        fields.append((field_id, extra[at + 4 : at + 4 + size]))
        at += 4 + size
    return fields


def _extra_summary(extra: bytes) -> str:
    return ",".join(f"{field_id:#06x}/{len(data)}" for field_id, data in _extras(extra)) or "-"


def describe(data: bytes) -> str:
    """The end records and every entry's central and local header fields, the data descriptors, and any bytes that
    no entry covers: one line each, for test failure messages and the tool facts. Best effort on broken zips."""
    lines: list[str] = []
    try:
        _describe(data, lines)
    except (struct.error, IndexError) as exc:
        lines.append(f"(stopped: {exc})")
    return "\n".join(lines)


def _describe(data: bytes, lines: list[str]) -> None:
    end_at = data.rfind(b"PK\x05\x06")
    if end_at < 0:
        lines.append("no end-of-central-directory record")
        return
    _, disk, cd_disk, here, total, cd_size, cd_offset, comment_len = struct.unpack_from("<4s4H2LH", data, end_at)
    lines.append(
        f"EOCD@{end_at}: disks {disk}/{cd_disk} entries {here}/{total} cd {cd_size}@{cd_offset} comment {comment_len} "
        f"trailing {len(data) - end_at - 22 - comment_len}"
    )
    locator_at = end_at - 20
    if locator_at >= 0 and data[locator_at : locator_at + 4] == b"PK\x06\x07":
        _, _, record_at, disks = struct.unpack_from("<4sLQL", data, locator_at)
        _, rsize, made, need, _, _, n_here, n_total, cd_size, cd_offset = struct.unpack_from(
            "<4sQ2H2L4Q", data, record_at
        )
        lines.append(
            f"ZIP64 EOCD@{record_at} (locator@{locator_at}, disks {disks}): record size {rsize} made {made} "
            f"needs {need} entries {n_here}/{n_total} cd {cd_size}@{cd_offset}"
        )
    at, covered = cd_offset, []
    for _ in range(total):
        (
            _, made_by, needed, flags, method, _, _, crc, csize, usize, name_len, extra_len, comment_len2, _, _,
            external, offset,
        ) = struct.unpack_from("<4s6H3L5H2L", data, at)  # fmt: skip
        name = data[at + 46 : at + 46 + name_len]
        extra = data[at + 46 + name_len : at + 46 + name_len + extra_len]
        at += 46 + name_len + extra_len + comment_len2
        shown = "/".join("SAT" if v == 0xFFFFFFFF else str(v) for v in (csize, usize))
        shown_at = "SAT" if offset == 0xFFFFFFFF else str(offset)
        for field_id, field in _extras(extra):
            if field_id == 0x0001:  # zip64: only the saturated values are present, in this order
                values = list(struct.unpack(f"<{len(field) // 8}Q", field[: len(field) // 8 * 8]))
                if usize == 0xFFFFFFFF and values:
                    usize = values.pop(0)
                if csize == 0xFFFFFFFF and values:
                    csize = values.pop(0)
                if offset == 0xFFFFFFFF and values:
                    offset = values.pop(0)
        mode, dos = external >> 16, external & 0xFFFF
        lines.append(
            f"C {name.decode(errors='replace')!r}: made {made_by >> 8}/{made_by & 0xFF} needs {needed} "
            f"flags {flags:#06x} method {method} crc {crc:08x} sizes {shown} extra {_extra_summary(extra)} "
            f"mode {mode:o} dos {dos:#x} @{shown_at}"
        )
        (_, l_need, l_flags, l_method, _, _, l_crc, l_csize, l_usize, l_name_len, l_extra_len) = struct.unpack_from(
            "<4s5H3L2H", data, offset
        )
        l_name = data[offset + 30 : offset + 30 + l_name_len]
        l_extra = data[offset + 30 + l_name_len : offset + 30 + l_name_len + l_extra_len]
        data_at = offset + 30 + l_name_len + l_extra_len
        end = data_at + csize
        descriptor = "-"
        if flags & 0x08:
            zip64_local = any(field_id == 0x0001 for field_id, _ in _extras(l_extra))
            signed = data[end : end + 4] == b"PK\x07\x08"
            size = (4 if signed else 0) + 4 + (16 if zip64_local else 8)
            fields = data[end + (4 if signed else 0) : end + size]
            dd_crc, dd_csize, dd_usize = struct.unpack("<L2Q" if zip64_local else "<3L", fields)
            descriptor = f"{'signed' if signed else 'unsigned'} {size}B crc {dd_crc:08x} sizes {dd_csize}/{dd_usize}"
            end += size
        covered.append((offset, end))
        same = "=" if l_name == name else f"name {l_name!r}"
        l_shown = "/".join("SAT" if v == 0xFFFFFFFF else str(v) for v in (l_csize, l_usize))
        lines.append(
            f"  L needs {l_need} flags {l_flags:#06x}{'' if l_flags == flags else ' (DIFFERS)'} method {l_method} "
            f"crc {l_crc:08x} sizes {l_shown} extra {_extra_summary(l_extra)} name {same} dd {descriptor}"
        )
        for field_id, field in _extras(l_extra) + [(0x10001, f) for i, f in _extras(extra) if i == 0x0001]:
            if field_id in (0x0001, 0x10001):
                where = "local" if field_id == 0x0001 else "central"
                zip64_values = struct.unpack(f"<{len(field) // 8}Q", field[: len(field) // 8 * 8])
                lines.append(f"  zip64 {where} extra: {list(zip64_values)}")
    position, gaps = 0, []
    for start, stop in sorted(covered):
        if start > position:
            gaps.append(f"{start - position}B@{position}")
        position = max(position, stop)
    if cd_offset > position:
        gaps.append(f"{cd_offset - position}B@{position} before the central directory")
    lines.append(f"gaps: {', '.join(gaps) or 'none'}")
