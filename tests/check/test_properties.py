"""Property tests of the checker: mutants of valid zips (bytes flipped, cut, inserted or deleted; header fields,
counts, offsets, names and extra fields changed; zeros and other bytes appended) are either rejected, leaving the
extraction folder empty, or accepted, and then Python's ``zipfile`` extracts exactly what the checker extracted
(same paths, same bytes).

The runs are derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import stat
import struct
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from s3_validated_pipeline.check import Report, check_package
from tests.check.differential_corpus import (
    APP_JS,
    APPLEDOUBLE,
    BSDTAR_BLOCK,
    PACKAGE_JSON,
    README,
    extract_with,
    finder_zip,
    snapshot,
    unicode_path_extra,
)
from tests.check.package_corpus import RawEntry, build_zip, write_zip

FIXED_TIME = (2024, 5, 17, 12, 30, 0)
_DIR = (stat.S_IFDIR | 0o755) << 16

SEEDS: dict[str, bytes] = {
    "zipfile-deflated": write_zip(
        {"package.json": PACKAGE_JSON, "src/": None, "src/app.js": APP_JS, "README.md": README}, date_time=FIXED_TIME
    ),
    "zipfile-stored": write_zip(
        {"package.json": PACKAGE_JSON, "bin/run.sh": b"#!/bin/sh\necho ok\n"},
        compression=zipfile.ZIP_STORED,
        date_time=FIXED_TIME,
    ),
    "zipfile-streamed": write_zip(
        {"package.json": PACKAGE_JSON, "src/app.js": APP_JS}, streamed=True, date_time=FIXED_TIME
    ),
    "raw-with-folders": build_zip(
        [
            RawEntry(b"package.json", PACKAGE_JSON),
            RawEntry(b"lib/", method=zipfile.ZIP_STORED, external_attr=_DIR),
            RawEntry(b"lib/index.js", APP_JS, method=zipfile.ZIP_STORED, external_attr=(stat.S_IFREG | 0o755) << 16),
        ]
    ),
    "finder": finder_zip(
        [(b"package.json", PACKAGE_JSON), (b"__MACOSX/", None), (b"__MACOSX/._package.json", APPLEDOUBLE)]
    ),
}


# --------------------------------------------------------------------------------------------------------------
# Where the fields are


@dataclass(frozen=True)
class Spot:
    """One field of a zip structure: where it is, how wide, and what it is."""

    at: int
    width: int
    what: str


_LOCAL_FIELDS = (
    (4, 2, "version"), (6, 2, "flags"), (8, 2, "method"), (10, 2, "time"), (14, 4, "crc"), (18, 4, "compressed size"),
    (22, 4, "size"), (26, 2, "name length"), (28, 2, "extra length"),
)  # fmt: skip
_CENTRAL_FIELDS = (
    (4, 1, "version made by"), (5, 1, "system"), (6, 2, "version needed"), (8, 2, "flags"), (10, 2, "method"),
    (16, 4, "crc"), (20, 4, "compressed size"), (24, 4, "size"), (28, 2, "name length"), (30, 2, "extra length"),
    (32, 2, "comment length"), (34, 2, "disk"), (38, 4, "external attributes"), (42, 4, "offset"),
)  # fmt: skip
_END_FIELDS = (
    (4, 2, "disk"), (6, 2, "central directory disk"), (8, 2, "entries on disk"), (10, 2, "entries"),
    (12, 4, "central directory size"), (16, 4, "central directory offset"), (20, 2, "comment length"),
)  # fmt: skip


@dataclass(frozen=True)
class Layout:
    fields: tuple[Spot, ...]
    names: tuple[Spot, ...]
    """The name bytes, local and central (width = name length)."""
    centrals: tuple[int, ...]
    locals: tuple[int, ...]
    end: int


def layout(data: bytes) -> Layout:
    """The structures of a valid zip, found from its end record."""
    end = data.rindex(b"PK\x05\x06")
    count, _, cd_offset = struct.unpack_from("<HLL", data, end + 10)
    fields = [Spot(end + at, width, f"end {what}") for at, width, what in _END_FIELDS]
    names: list[Spot] = []
    centrals: list[int] = []
    locals_: list[int] = []
    at = cd_offset
    for _ in range(count):
        name_len, extra_len, comment_len = struct.unpack_from("<3H", data, at + 28)
        (offset,) = struct.unpack_from("<L", data, at + 42)
        centrals.append(at)
        locals_.append(offset)
        fields += [Spot(at + off, width, f"central {what}") for off, width, what in _CENTRAL_FIELDS]
        fields += [Spot(offset + off, width, f"local {what}") for off, width, what in _LOCAL_FIELDS]
        names.append(Spot(at + 46, name_len, "central name"))
        (local_name_len,) = struct.unpack_from("<H", data, offset + 26)
        names.append(Spot(offset + 30, local_name_len, "local name"))
        at += 46 + name_len + extra_len + comment_len
    return Layout(tuple(fields), tuple(names), tuple(centrals), tuple(locals_), end)


LAYOUTS = {name: layout(data) for name, data in SEEDS.items()}

# --------------------------------------------------------------------------------------------------------------
# Mutations

_INTERESTING_MODES = [
    (stat.S_IFLNK | 0o777) << 16,
    (stat.S_IFDIR | 0o755) << 16,
    (stat.S_IFCHR | 0o666) << 16,
    (stat.S_IFIFO | 0o644) << 16,
    (stat.S_IFREG | 0o4755) << 16,
    (stat.S_IFREG | 0o777) << 16,
    0x10,
    0,
]
_NAME_BYTES = b"/.\\:\x00\x7f\x80\xc3\xff A~"
_EXTRA_KINDS = [0x0001, 0x7075, 0x6375, 0x5455, 0x000A, 0x7875, 0xCAFE]

Mutation = Callable[[bytearray], None]


def _set(spot: Spot, value: int) -> Mutation:
    def apply(data: bytearray) -> None:
        fmt = {1: "<B", 2: "<H", 4: "<L"}[spot.width]
        struct.pack_into(fmt, data, spot.at, value % (1 << (8 * spot.width)))

    return apply


@st.composite
def field_mutation(draw: st.DrawFn, seed: str) -> Mutation:
    plan = LAYOUTS[seed]
    spot = draw(st.sampled_from(plan.fields))
    original = int.from_bytes(SEEDS[seed][spot.at : spot.at + spot.width], "little")
    same_kind = [
        int.from_bytes(SEEDS[seed][other.at : other.at + other.width], "little")
        for other in plan.fields
        if other.what.split(" ", 1)[1] == spot.what.split(" ", 1)[1]
    ]
    candidates = st.one_of(
        st.sampled_from([0, 1, (1 << (8 * spot.width)) - 1, original ^ 0x800, original ^ 0x8, original ^ 0x1]),
        st.integers(-64, 64).map(lambda delta: original + delta),
        st.sampled_from(same_kind),  # another entry's value: an offset into another entry, a shared size
        st.sampled_from(_INTERESTING_MODES)
        if "attributes" in spot.what
        else st.integers(0, (1 << (8 * spot.width)) - 1),
    )
    return _set(spot, draw(candidates))


@st.composite
def name_mutation(draw: st.DrawFn, seed: str) -> Mutation:
    """A byte of a name changed in the central or the local header, or the same way in both (which keeps the
    headers consistent, so that the name rules, not the header comparison, judge it)."""
    names = LAYOUTS[seed].names  # central, local, central, local, ...
    pair = draw(st.integers(0, len(names) // 2 - 1))
    central, local = names[2 * pair], names[2 * pair + 1]
    offset = draw(st.integers(0, central.width - 1))
    where = draw(st.sampled_from(["both", "central", "local"]))
    value = draw(st.sampled_from(list(_NAME_BYTES)))
    spots = {"both": (central, local), "central": (central,), "local": (local,)}[where]

    def apply(data: bytearray) -> None:
        for spot in spots:
            if offset < spot.width and spot.at + offset < len(data):
                data[spot.at + offset] = value

    return apply


@st.composite
def paired_field_mutation(draw: st.DrawFn, seed: str) -> Mutation:
    """The flags, method or CRC of an entry changed the same way in its central and local header."""
    plan = LAYOUTS[seed]
    index = draw(st.integers(0, len(plan.centrals) - 1))
    what = draw(st.sampled_from(["flags", "method", "crc"]))
    central = next(
        s
        for s in plan.fields
        if s.what == f"central {what}" and plan.centrals[index] < s.at < plan.centrals[index] + 46
    )
    local = next(
        s for s in plan.fields if s.what == f"local {what}" and plan.locals[index] < s.at < plan.locals[index] + 30
    )
    original = int.from_bytes(SEEDS[seed][central.at : central.at + central.width], "little")
    if what == "flags":
        value = original ^ draw(st.sampled_from([0x1, 0x2, 0x4, 0x8, 0x20, 0x40, 0x800, 0x2000]))
    elif what == "method":
        value = draw(st.sampled_from([0, 1, 8, 9, 12, 14, 93, 99]))
    else:
        value = original ^ (1 << draw(st.integers(0, 31)))

    def apply(data: bytearray) -> None:
        _set(central, value)(data)
        _set(local, value)(data)

    return apply


@st.composite
def extra_field_insertion(draw: st.DrawFn, seed: str) -> Mutation:
    """An extra field added to a central or local record, its length fixed and (optionally) every later offset
    and size fixed too, so that the zip stays well-formed apart from the new field."""
    plan = LAYOUTS[seed]
    index = draw(st.integers(0, len(plan.centrals) - 1))
    central = draw(st.booleans())
    kind = draw(st.sampled_from(_EXTRA_KINDS))
    if kind == 0x7075:
        body = unicode_path_extra(b"package.json", draw(st.sampled_from([".env", "package.json", "a/../b"])))[4:]
    else:
        body = draw(st.binary(max_size=24))
    field = struct.pack("<2H", kind, len(body)) + body
    fix = draw(st.booleans())

    def apply(data: bytearray) -> None:
        record = plan.centrals[index] if central else plan.locals[index]
        length_at, name_len = (record + 30, record + 28) if central else (record + 28, record + 26)
        (extra_len,) = struct.unpack_from("<H", data, length_at)
        (name_length,) = struct.unpack_from("<H", data, name_len)
        insert_at = record + (46 if central else 30) + name_length + extra_len
        data[insert_at:insert_at] = field
        struct.pack_into("<H", data, length_at, extra_len + len(field))
        if not fix:
            return
        end = plan.end + len(field)
        if central:
            (cd_size,) = struct.unpack_from("<L", data, end + 12)
            struct.pack_into("<L", data, end + 12, cd_size + len(field))
            return
        for other in plan.centrals:  # every central record comes after the insertion
            offset_at = other + len(field) + 42
            (offset,) = struct.unpack_from("<L", data, offset_at)
            if offset > record:
                struct.pack_into("<L", data, offset_at, offset + len(field))
        (cd_offset,) = struct.unpack_from("<L", data, end + 16)
        struct.pack_into("<L", data, end + 16, cd_offset + len(field))

    return apply


@st.composite
def byte_mutation(draw: st.DrawFn, size: int) -> Mutation:
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    at = draw(st.integers(0, max(size - 1, 0)))
    if kind == "flip":
        bit = draw(st.integers(1, 255))

        def apply(data: bytearray) -> None:
            if at < len(data):
                data[at] ^= bit

    elif kind == "truncate":

        def apply(data: bytearray) -> None:
            del data[at:]

    elif kind == "insert":
        inserted = draw(st.one_of(st.binary(min_size=1, max_size=16), st.sampled_from([b"PK\x03\x04", b"PK\x05\x06"])))

        def apply(data: bytearray) -> None:
            data[at:at] = inserted

    else:
        length = draw(st.integers(1, 16))

        def apply(data: bytearray) -> None:
            del data[at : at + length]

    return apply


@st.composite
def mutants(draw: st.DrawFn, structural: bool) -> tuple[str, bytes]:
    seed = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[seed])
    if structural:
        # structure-aware changes first (they need the seed's layout), then at most one blind byte change
        first = draw(
            st.one_of(
                field_mutation(seed), name_mutation(seed), paired_field_mutation(seed), extra_field_insertion(seed)
            )
        )
        first(data)
        if draw(st.booleans()):
            draw(st.one_of(field_mutation(seed), name_mutation(seed)))(data)
        if draw(st.integers(0, 3)) == 0:
            draw(byte_mutation(len(data)))(data)
    else:
        for _ in range(draw(st.integers(1, 3))):
            draw(byte_mutation(len(data)))(data)
    return seed, bytes(data)


@st.composite
def padded_mutants(draw: st.DrawFn) -> tuple[str, bytes]:
    """A seed, perhaps with a blind byte change, then zeros appended (around none, and around bsdtar's block), then
    perhaps other bytes."""
    seed = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[seed])
    if draw(st.integers(0, 2)) == 0:
        draw(byte_mutation(len(data)))(data)
    zeros = draw(st.one_of(st.integers(0, 64), st.integers(BSDTAR_BLOCK - 64, BSDTAR_BLOCK + 64)))
    after = draw(st.binary(max_size=8)) + b"\x01" if draw(st.booleans()) else b""  # ends in a non-zero byte
    return seed, bytes(data + bytes(zeros) + after)


# --------------------------------------------------------------------------------------------------------------
# The property


def _ignore(_: str) -> None:
    return None


def assert_rejected_or_extracted_as_zipfile_does(
    seed: str, data: bytes, note: Callable[[str], None] = _ignore
) -> Report:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        package = root / f"{seed}.zip"
        package.write_bytes(data)
        target = root / "checker"
        report = check_package(package, extract_to=target)
        extracted = snapshot(target) if target.exists() else {}
        note("accepted" if report.accepted else "rejected: " + ", ".join(sorted({f.rule for f in report.findings})))
        if not report.accepted:
            assert extracted == {}, f"rejected ({report.summary()}) but left {sorted(extracted)}"
            assert not target.exists() or not any(target.iterdir())
            return report
        with zipfile.ZipFile(package) as archive:  # an accepted zip must be readable by zipfile
            assert archive.testzip() is None, report.summary()
        assert extracted == extract_with("zipfile", package, root / "zipfile"), report.summary()
        for path in [target, *target.rglob("*")]:
            mode = path.lstat().st_mode
            assert stat.S_ISDIR(mode) or stat.S_ISREG(mode), path
            assert stat.S_IMODE(mode) in ((0o755,) if stat.S_ISDIR(mode) else (0o644, 0o755)), (path, oct(mode))
    return report


PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def test_seeds_are_accepted_and_extracted_as_zipfile_does() -> None:
    # GIVEN the valid zips the mutants start from
    for seed, data in SEEDS.items():
        # WHEN each is checked
        # THEN it is accepted (so a rejected mutant was rejected for its mutation) and extracted like zipfile does
        with tempfile.TemporaryDirectory() as scratch:
            package = Path(scratch) / f"{seed}.zip"
            package.write_bytes(data)
            report = check_package(package, extract_to=Path(scratch) / "out")
            assert report.accepted, report.summary()
        assert_rejected_or_extracted_as_zipfile_does(seed, data)


@PROPERTY_SETTINGS
@given(mutants(structural=False))
def test_byte_level_mutants_are_rejected_or_extracted_as_zipfile_does(mutant: tuple[str, bytes]) -> None:
    # GIVEN a valid zip with bytes flipped, cut off, inserted or deleted
    # WHEN it is checked and extracted
    # THEN it is rejected with nothing extracted, or zipfile extracts exactly the same files
    assert_rejected_or_extracted_as_zipfile_does(*mutant, note=event)


@PROPERTY_SETTINGS
@given(mutants(structural=True))
def test_field_level_mutants_are_rejected_or_extracted_as_zipfile_does(mutant: tuple[str, bytes]) -> None:
    # GIVEN a valid zip with a header field, count, offset, name byte or extra field changed
    # WHEN it is checked and extracted
    # THEN it is rejected with nothing extracted, or zipfile extracts exactly the same files
    assert_rejected_or_extracted_as_zipfile_does(*mutant, note=event)


@PROPERTY_SETTINGS
@given(padded_mutants())
def test_padded_mutants_are_accepted_only_for_zero_padding_and_extracted_as_zipfile_does(
    mutant: tuple[str, bytes],
) -> None:
    # GIVEN a valid zip, perhaps with a byte changed, followed by zeros and perhaps other bytes
    seed, data = mutant
    # WHEN it is checked and extracted
    report = assert_rejected_or_extracted_as_zipfile_does(seed, data, note=event)
    # THEN it is rejected with nothing extracted, or zipfile extracts exactly the same files (above)
    # AND the zip itself followed by bytes is accepted exactly when they are at most a block of zeros
    if data.startswith(SEEDS[seed]):
        after = data[len(SEEDS[seed]) :]
        assert report.accepted == (after == bytes(len(after)) and len(after) <= BSDTAR_BLOCK), report.summary()
