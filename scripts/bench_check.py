"""Benchmark the package checker: pathological zip shapes, and the validate stage's cost against `sha256sum`.

Not a test: it asserts nothing about time (these machines are noisy). It prints two things.

Shapes (``--shapes-only``): zips built to be expensive for a checker (deep paths, many credential matches, many
forbidden names, 200k entries, 1 GiB of output, and the attack shapes that took the old checker minutes and GiBs).
Each is judged by the checker in a fresh subprocess; its wall time and peak RSS (``ru_maxrss`` of that one child,
from ``os.wait4``, i.e. what ``getrusage(RUSAGE_CHILDREN)`` would say in a parent with only that child) are printed
with the verdict and whether it met the target (10 s, 256 MiB for any zip within the default limits). When the
checker's ``check_package`` takes ``extract_to``, it extracts into an empty folder under --scratch as the validate
stage does; user and system CPU seconds are printed too, since creating files and folders (system time) costs very
different amounts on different file systems. For scale, ``unzip -t`` (inflate and CRC every entry, write nothing)
and ``unzip -d`` (extract) run over the same zip in the same run; the ratio to the one that does the same work as
the checker is steadier across machines than the seconds.

Ratio (``--ratio-only``): a package of about --megabytes in --files files; (a) what the validate stage does:
``check_package(zip, extract_to=tree)`` then ``write_manifest(tree)`` (a checker without ``extract_to`` checks the
zip, then the manifest hashes a tree extracted beforehand), against (b) ``sha256sum`` over every extracted file.
Each runs --rounds times, alternately, with (c) ``unzip -d`` for scale; the median ratio (a) / (b) is printed.

``--checker PATH`` loads a check.py from a file (e.g. an older version:
``git show HEAD:src/s3_validated_pipeline/check.py > /tmp/old_check.py``). Run from the repository root::

    python -m scripts.bench_check [--shapes-only | --ratio-only] [--checker PATH] [--timeout 60]
        [--only SHAPE]... [--workdir DIR] [--scratch DIR] [--megabytes 500] [--files 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# The default limits of the checker (v2 contract, /work/spec/check_spec.md); the shapes are built against these
# numbers rather than against whichever check.py is loaded, so the same zips serve the old and the new checker.
MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = GIB
MAX_RATIO = 100
SCAN_MAX_BYTES = 5 * MIB
MAX_NAME_BYTES = 1024
MAX_DEPTH = 64

TARGET_SECONDS = 10.0
TARGET_MIB = 256

_ID_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_TOKEN_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_SECRET_ALPHABET = _TOKEN_ALPHABET + b"/+"


# --------------------------------------------------------------------------------------------------------------
# Loading a checker


def default_checker() -> Path:
    spec = importlib.util.find_spec("s3_validated_pipeline.check")
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin)


def load_checker(path: Path) -> ModuleType:
    """Import a check.py from a file, under a name of its own (dataclasses need it in ``sys.modules``)."""
    name = f"_bench_check_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def takes_extract_to(check: ModuleType) -> bool:
    return "extract_to" in inspect.signature(check.check_package).parameters


# --------------------------------------------------------------------------------------------------------------
# Pathological shapes


def _random_text(rng: random.Random, count: int, alphabet: bytes) -> bytes:
    """``count`` bytes drawn (nearly uniformly) from ``alphabet``."""
    table = bytes(alphabet[i % len(alphabet)] for i in range(256))
    return rng.randbytes(count).translate(table)


def _lines(rng: random.Random, size: int, make_line: Callable[[int, bytes], bytes], *, random_bytes: int) -> bytes:
    """Text of exactly ``size`` bytes: lines ``make_line(index, random_chunk)`` until it is long enough."""
    parts: list[bytes] = []
    length = index = 0
    pool = b""
    while length < size:
        if index % 4096 == 0:
            pool = _random_text(rng, random_bytes * 4096, _TOKEN_ALPHABET)
        offset = (index % 4096) * random_bytes
        line = make_line(index, pool[offset : offset + random_bytes])
        parts.append(line)
        length += len(line)
        index += 1
    return b"".join(parts)[:size]


def _akia_line(_index: int, chunk: bytes) -> bytes:
    return b"AKIA" + chunk.upper()[:16] + b"\n"


def _ghp_line(index: int, chunk: bytes) -> bytes:
    return b"token_%d = ghp_" % (index % 100) + chunk[:36] + b"\n"


def _mixed_line(index: int, chunk: bytes) -> bytes:
    kind = index % 8
    if kind == 0:
        return b"key_id = AKIA" + chunk.upper()[:16] + b"\n"
    if kind == 1:
        secret = bytes(_SECRET_ALPHABET[c % len(_SECRET_ALPHABET)] for c in chunk[:40])
        return b"aws_" + b"secret_access_key = " + secret + b"\n"
    if kind == 2:
        return b"GITHUB_TOKEN=ghp_" + chunk[:36] + b"\n"
    if kind == 3:
        return b"pat = github_" + b"pat_" + chunk[:22] + b"_" + chunk[22:81] + b"\n"
    if kind == 4:
        return b"-----BEGIN " + b"RSA PRIVATE KEY-----\n"
    if kind == 5:
        return b"slack = xoxb-" + chunk[:12] + b"-" + chunk[12:24] + b"-" + chunk[24:48] + b"\n"
    if kind == 6:
        return b"stripe = sk_" + b"live_" + chunk[:24] + b"\n"
    return b"gitlab = glpat-" + chunk[:20] + b"\n"


@dataclass(frozen=True)
class Shape:
    name: str
    about: str
    build: Callable[[zipfile.ZipFile, random.Random], None]
    limits: dict[str, Any] = field(default_factory=dict)
    """Overrides of the default limits, passed to ``Limits``."""
    within_defaults: bool = True
    """Whether the target (10 s, 256 MiB) applies: the zip is within the default limits and judged by them."""
    compression: int = zipfile.ZIP_DEFLATED


def _deep_name(prefix: str, depth: int, segment: int, leaf: str) -> str:
    """``depth - 1`` folders of ``segment`` characters under ``prefix``, then ``leaf``."""
    folders = [(f"{prefix}-{level:02d}-" + "x" * segment)[:segment] for level in range(depth - 1)]
    return "/".join([*folders, leaf])


def _build_deep_distinct(archive: zipfile.ZipFile, _rng: random.Random) -> None:
    # 10k files, each under its own chain of 63 folders: names of ~1013 bytes, 630k distinct folders.
    for index in range(MAX_ENTRIES):
        name = _deep_name(f"{index:05d}", MAX_DEPTH, 15, "f.txt")
        assert len(name.encode()) <= MAX_NAME_BYTES, len(name)
        archive.writestr(name, b"x\n")


def _build_deep_shared(archive: zipfile.ZipFile, _rng: random.Random) -> None:
    # 10k files in two chains of 63 folders (two top-level folders, so not "a single top folder").
    for index in range(MAX_ENTRIES):
        name = _deep_name("ab"[index % 2] * 4, MAX_DEPTH, 15, f"{index:05d}.txt")
        assert len(name.encode()) <= MAX_NAME_BYTES, len(name)
        archive.writestr(name, b"x\n")


def _build_attack_deep(count: int, length: int) -> Callable[[zipfile.ZipFile, random.Random], None]:
    def build(archive: zipfile.ZipFile, _rng: random.Random) -> None:
        for index in range(count):
            head = f"{index:x}/"
            body = "a/" * ((length - len(head)) // 2)
            archive.writestr((head + body + "a")[:length].rstrip("/"), b"x")

    return build


def _build_text_files(
    count: int, make_line: Callable[[int, bytes], bytes], random_bytes: int
) -> Callable[[zipfile.ZipFile, random.Random], None]:
    def build(archive: zipfile.ZipFile, rng: random.Random) -> None:
        data = _lines(rng, SCAN_MAX_BYTES, make_line, random_bytes=random_bytes)
        for index in range(count):
            archive.writestr(f"config{index % 2}/settings{index:03d}.txt", data)

    return build


def _build_named(leaf: str, count: int) -> Callable[[zipfile.ZipFile, random.Random], None]:
    def build(archive: zipfile.ZipFile, _rng: random.Random) -> None:
        for index in range(count):
            archive.writestr(f"d{index:05d}/{leaf}", b"NAME=value\n")

    return build


def _build_many_entries(count: int) -> Callable[[zipfile.ZipFile, random.Random], None]:
    def build(archive: zipfile.ZipFile, _rng: random.Random) -> None:
        for index in range(count):
            archive.writestr(f"m{index // 1000:03d}/f{index:06d}.txt", b"%d\n" % index)

    return build


def _build_inflating(archive: zipfile.ZipFile, rng: random.Random) -> None:
    # 1 GiB - 1 MiB of output in 16 MiB files: each 64 KiB block is 1 KiB random then zeros, so the ratio is ~60.
    remaining = MAX_TOTAL_BYTES - MIB
    index = 0
    zeros = bytes(63 * KIB)
    while remaining > 0:
        size = min(16 * MIB, remaining)
        data = b"".join(rng.randbytes(KIB) + zeros for _ in range(size // (64 * KIB)))
        archive.writestr(f"blob{index % 2}/data{index:03d}.bin", data)
        remaining -= size
        index += 1


SHAPES = (
    Shape("deep-64-distinct", "10k files, depth 64, ~1013-byte names, each in its own chain", _build_deep_distinct),
    Shape("deep-64-shared", "10k files, depth 64, ~1000-byte names, two chains", _build_deep_shared),
    Shape(
        "attack-deep-1",
        "1 entry, 64 KiB name, depth 32768 (old: 131 KB zip, 33 s, 2 GiB)",
        _build_attack_deep(1, 65_535),
    ),
    Shape(
        "attack-deep-4",
        "4 entries, 64 KiB names, depth 32768 (old: 524 KB zip, 132 s, 8 GiB)",
        _build_attack_deep(4, 65_535),
    ),
    Shape("attack-deep-10k", "10k entries, 4 KiB names, depth 2048", _build_attack_deep(MAX_ENTRIES, 4096)),
    Shape(
        "creds-akia", "4 files of 5 MiB, an AKIA id on every line (1M matches)", _build_text_files(4, _akia_line, 16)
    ),
    Shape("creds-ghp", "4 files of 5 MiB, a ghp_ token on every line", _build_text_files(4, _ghp_line, 36)),
    Shape("creds-mixed", "4 files of 5 MiB, 8 kinds of credential, one a line", _build_text_files(4, _mixed_line, 81)),
    Shape(
        "creds-akia-1GiB",
        "199 files of 5 MiB (1 GiB of scanned text), an AKIA id on every line",
        _build_text_files(199, _akia_line, 16),
    ),
    Shape("plain-10k", "10k files d*/conf (peer of forbidden-10k)", _build_named("conf", MAX_ENTRIES)),
    Shape("forbidden-10k", "10k files d*/.env (forbidden)", _build_named(".env", MAX_ENTRIES)),
    Shape("excepted-10k", "10k files d*/.env.example (an exception to .env.*)", _build_named(".env.example", 10_000)),
    Shape(
        "entries-200k",
        "200k small files, max_entries raised to 200k",
        _build_many_entries(200_000),
        limits={"max_entries": 200_000},
        within_defaults=False,
    ),
    Shape(
        "entries-200k-default", "the same zip with the default limits: too many entries", _build_many_entries(200_000)
    ),
    Shape("inflate-1GiB", "64 files inflating to 1 GiB - 1 MiB, ratio ~60", _build_inflating),
)


def build_shape(shape: Shape, directory: Path) -> Path:
    """Write the shape's zip (deterministic), or reuse it when a previous run left it complete."""
    package = directory / f"{shape.name}.zip"
    if package.exists():
        return package
    if shape.name == "entries-200k-default" and (directory / "entries-200k.zip").exists():
        shutil.copyfile(directory / "entries-200k.zip", package)
        return package
    partial = package.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=shape.compression, compresslevel=6) as archive:
        shape.build(archive, random.Random(shape.name))  # noqa: S311  # test data, not secrets
    partial.rename(package)
    return package


# --------------------------------------------------------------------------------------------------------------
# Measuring a child process


@dataclass(frozen=True)
class Measured:
    seconds: float
    user: float
    """CPU seconds in user mode (the checker's own work)."""
    system: float
    """CPU seconds in the kernel (mostly the file system, when extracting)."""
    peak_mib: float
    returncode: int
    timed_out: bool
    stdout: bytes
    stderr: bytes


def run_measured(argv: list[str], *, timeout: float, memory_cap_mib: int = 0) -> Measured:
    """Run ``argv``; wall time and the peak RSS of that child alone. Killed (SIGKILL) after ``timeout`` seconds.

    ``memory_cap_mib`` sets RLIMIT_AS in the child, so a runaway checker fails with MemoryError instead of
    taking the machine down.
    """

    def cap() -> None:
        if memory_cap_mib:
            resource.setrlimit(resource.RLIMIT_AS, (memory_cap_mib * MIB, memory_cap_mib * MIB))

    lock = threading.Lock()
    reaped = False
    killed = False
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, preexec_fn=cap)  # noqa: S603  # our own argv

        def kill() -> None:
            nonlocal killed
            with lock:
                if not reaped:  # an unreaped child's pid cannot have been reused
                    os.kill(process.pid, signal.SIGKILL)
                    killed = True

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            with lock:
                reaped = True
            timer.cancel()
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            seconds,
            usage.ru_utime,
            usage.ru_stime,
            usage.ru_maxrss / KIB,
            process.returncode,
            killed,
            out.read(),
            err.read(),
        )


# The child: load the checker from a file, judge the zip (extracting when the checker can), render the report as
# the CLI would, and print the verdict as JSON.
CHILD = r"""
import importlib.util, inspect, json, sys
path, package, extract, overrides = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
spec = importlib.util.spec_from_file_location("check", path)
check = importlib.util.module_from_spec(spec)
sys.modules["check"] = check
spec.loader.exec_module(check)
limits = check.Limits(**{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
extracting = extract and "extract_to" in inspect.signature(check.check_package).parameters
kwargs = {"extract_to": extract} if extracting else {}
report = check.check_package(package, limits=limits, **kwargs)
with open("/dev/null", "w") as sink:
    json.dump(report.to_dict(), sink)
    sink.write(report.summary())
rules = {}
for finding in report.findings:
    rules[finding.rule] = rules.get(finding.rule, 0) + 1
json.dump({"accepted": report.accepted, "rules": rules, "entries": report.entries, "extracted": bool(kwargs)},
          sys.stdout)
"""


@dataclass(frozen=True)
class Row:
    shape: Shape
    zip_bytes: int
    entries: int
    verdict: str
    extracted: bool
    measured: Measured
    test: Measured
    """``unzip -t``: inflate and CRC every entry, write nothing."""
    unzip: Measured
    """``unzip -d``: extract into an empty folder (fails fast on names the file system refuses)."""

    @property
    def meets(self) -> str:
        if self.measured.timed_out or self.measured.returncode:
            return "NO"
        fast, small = self.measured.seconds <= TARGET_SECONDS, self.measured.peak_mib <= TARGET_MIB
        text = "yes" if fast and small else "NO (" + ", ".join(["time"] * (not fast) + ["memory"] * (not small)) + ")"
        return text if self.shape.within_defaults else f"({text}; limits raised)"


def _zip_entries(package: Path) -> int:
    with zipfile.ZipFile(package) as archive:
        return len(archive.infolist())


def judge_shape(shape: Shape, package: Path, checker: Path, scratch: Path, *, timeout: float, cap_mib: int) -> Row:
    extract = scratch / f"extract-{shape.name}"
    _remove(extract)
    argv = [sys.executable, "-c", CHILD, str(checker), str(package), str(extract), json.dumps(shape.limits)]
    measured = run_measured(argv, timeout=timeout, memory_cap_mib=cap_mib)
    _remove(extract)
    extracted = False
    if measured.timed_out:
        verdict = f"killed after {timeout:.0f} s"
    elif measured.returncode:
        last = (measured.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        if last.startswith("MemoryError") and cap_mib:
            last = f"MemoryError at the {cap_mib} MiB cap"
        verdict = f"crashed (exit {measured.returncode}): {last[:100]}"
    else:
        result = json.loads(measured.stdout)
        rules = ", ".join(f"{rule} x{count}" if count > 1 else rule for rule, count in result["rules"].items())
        extracted = result["extracted"]
        verdict = ("accepted" if result["accepted"] else f"rejected: {rules}") + (
            "" if extracted else " (no extraction)"
        )
    test = run_measured(["unzip", "-tqq", str(package)], timeout=timeout)
    unzipped = scratch / f"unzip-{shape.name}"
    _remove(unzipped)
    unzipped.mkdir()
    unzip = run_measured(["unzip", "-qq", str(package), "-d", str(unzipped)], timeout=timeout)
    _remove(unzipped)
    return Row(shape, package.stat().st_size, _zip_entries(package), verdict, extracted, measured, test, unzip)


def _remove(path: Path) -> None:
    if path.exists():
        # rm copes with trees deeper than shutil.rmtree's recursion limit.
        subprocess.run(["rm", "-rf", "--", str(path)], check=True)  # noqa: S603, S607


def _seconds(measured: Measured, timeout: float) -> str:
    return f"> {timeout:.0f}" if measured.timed_out else f"{measured.seconds:.2f}"


HEADER = (
    f"{'shape':<21} {'zip MB':>7} {'entries':>7} {'seconds':>7} {'user':>6} {'sys':>6} {'MiB':>5} "
    f"{'unzip-t':>7} {'unzip-d':>7} {'x peer':>7}  {'<=10 s, <=256 MiB':<24} verdict (rule ids)"
)


def format_row(row: Row, timeout: float) -> str:
    # The peer is what does the same work in C: extracting (unzip -d) when the checker extracts, else unzip -t.
    peer = row.unzip if row.extracted else row.test
    ratio = "" if row.measured.timed_out or peer.timed_out else f"{row.measured.seconds / max(peer.seconds, 1e-2):.1f}x"
    measured = row.measured
    return (
        f"{row.shape.name:<21} {row.zip_bytes / 1e6:>7.2f} {row.entries:>7} {_seconds(measured, timeout):>7} "
        f"{measured.user:>6.2f} {measured.system:>6.2f} {measured.peak_mib:>5.0f} {_seconds(row.test, timeout):>7} "
        f"{_seconds(row.unzip, timeout):>7} {ratio:>7}  {row.meets:<24} {row.verdict}"
    )


def iter_shapes(names: list[str]) -> Iterator[Shape]:
    known = {shape.name: shape for shape in SHAPES}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown shape(s): {', '.join(unknown)}; known: {', '.join(known)}")
    yield from (known[name] for name in names) if names else SHAPES


def run_shapes(args: argparse.Namespace, checker: Path, work: Path, scratch: Path) -> None:
    print(f"shapes: checker {checker}, timeout {args.timeout:.0f} s, memory cap {args.memory_cap_mib} MiB")
    print(
        "  seconds: the child process's wall time (start-up, import, check, extraction if supported, report); "
        "user/sys: its CPU seconds; MiB: its peak RSS"
    )
    print(
        f"  unzip-t: `unzip -t` (inflate + CRC); unzip-d: `unzip -d` (extract) into {scratch}; x peer: seconds / "
        "unzip-d when the checker extracts, else / unzip-t"
    )
    shapes = list(iter_shapes(args.only))
    started = time.perf_counter()
    packages = {shape.name: build_shape(shape, work) for shape in shapes}
    print(f"  {len(shapes)} zips ready in {time.perf_counter() - started:.1f} s ({work})")
    for shape in shapes:
        print(f"  {shape.name}: {shape.about}")
    print(HEADER, flush=True)
    rows = []
    for shape in shapes:
        row = judge_shape(
            shape, packages[shape.name], checker, scratch, timeout=args.timeout, cap_mib=args.memory_cap_mib
        )
        rows.append(row)
        print(format_row(row, args.timeout), flush=True)
    by_name = {row.shape.name: row for row in rows}
    plain, forbidden = by_name.get("plain-10k"), by_name.get("forbidden-10k")
    if plain and forbidden and not (plain.measured.timed_out or forbidden.measured.timed_out):
        print(f"forbidden-10k / plain-10k: {forbidden.measured.seconds / plain.measured.seconds:.2f}x time")
    missed = [row.shape.name for row in rows if row.shape.within_defaults and row.meets != "yes"]
    print(f"judged with the default limits and over target: {', '.join(missed) or 'none'}")


# --------------------------------------------------------------------------------------------------------------
# Ratio against sha256sum


def make_package(directory: Path, *, megabytes: int, files: int) -> Path:
    """Write a zip of ``files`` files totalling ``megabytes`` MB, half text-like, half incompressible.

    One file sits at the root and the rest in folders ``moduleNNN/``, so it is not one top-level folder.
    """
    size = megabytes * 1_000_000 // files
    rng = random.Random(1)  # noqa: S311  # test data, not secrets
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(4000)]
    package = directory / f"package-{megabytes}MB-{files}.zip"
    if package.exists():  # --workdir: made by an earlier run
        return package
    partial = package.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index in range(files):
            text = b" ".join(rng.choice(words) for _ in range(size // 5))[:size]
            data = rng.randbytes(size) if index % 2 else text
            folder = f"module{index // 500:03d}/" if index else ""
            archive.writestr(f"{folder}file{index:05d}.{'bin' if index % 2 else 'txt'}", data)
    partial.rename(package)
    return package


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run_ratio(args: argparse.Namespace, checker_path: Path, work: Path, scratch: Path) -> None:
    check = load_checker(checker_path)
    extracting = takes_extract_to(check)
    started = time.perf_counter()
    package = make_package(work, megabytes=args.megabytes, files=args.files)
    tree = work / "tree"
    _remove(tree)
    with zipfile.ZipFile(package) as archive:
        archive.extractall(tree)  # our own generated package
    extracted = sum(f.stat().st_size for f in tree.rglob("*") if f.is_file())
    print(
        f"ratio: checker {checker_path}\n"
        f"package: {package.stat().st_size / 1e6:.0f} MB zipped, {extracted / 1e6:.0f} MB in {args.files} files "
        f"(generated in {time.perf_counter() - started:.1f} s)"
    )
    print(
        "ours: "
        + (
            "check_package(extract_to=fresh tree) + write_manifest(that tree)"
            if extracting
            else "check_package (no extract_to in this checker) + write_manifest(tree extracted beforehand)"
        )
    )
    limits = check.Limits(max_entries=args.files + 1000, max_total_bytes=2 * extracted)
    source = {"bucket": "bench", "key": "package.zip", "versionId": "1"}
    manifest = work / "manifest.json"
    fresh = scratch / "fresh"
    unzipped = scratch / "unzipped"

    split: list[float] = []  # seconds in check_package of the last round

    def ours() -> None:
        started = time.perf_counter()
        extract: dict[str, Path] = {"extract_to": fresh} if extracting else {}
        report = check.check_package(package, limits=limits, **extract)
        split[:] = [time.perf_counter() - started]
        assert report.accepted, report.summary()
        # As the validate stage does (`manifest --known`): digests computed while extracting are reused.
        known = getattr(report, "extracted", None) or None
        reuse = {"known": known} if known is not None else {}
        check.write_manifest(fresh if extracting else tree, source=source, output=manifest, **reuse)

    def sha256sum() -> None:
        subprocess.run(  # noqa: S602  # a fixed pipeline, no input from outside
            "find . -type f -print0 | xargs -0 sha256sum > /dev/null",  # noqa: S607
            shell=True,
            cwd=tree,
            check=True,
        )

    def unzip() -> None:
        unzipped.mkdir()
        subprocess.run(["unzip", "-qq", str(package), "-d", str(unzipped)], check=True)  # noqa: S603, S607

    ours_times, baseline_times, unzip_times = [], [], []
    for round_ in range(1, args.rounds + 1):
        _remove(fresh)
        _remove(unzipped)
        ours_times.append(timed(ours))
        baseline_times.append(timed(sha256sum))
        unzip_times.append(timed(unzip))
        print(
            f"round {round_}: check + manifest {ours_times[-1]:.2f} s (check {split[0]:.2f} s), "
            f"sha256sum {baseline_times[-1]:.2f} s, "
            f"unzip -d {unzip_times[-1]:.2f} s"
        )
    _remove(fresh)
    _remove(unzipped)
    ours_median, baseline_median = statistics.median(ours_times), statistics.median(baseline_times)
    unzip_median = statistics.median(unzip_times)
    print(
        f"median: check + manifest {ours_median:.2f} s, sha256sum {baseline_median:.2f} s, "
        f"ratio {ours_median / baseline_median:.2f}x (target <= 2.0x)"
    )
    print(
        f"for scale: unzip -d into {scratch} {unzip_median:.2f} s; check + manifest / (unzip -d + sha256sum) "
        f"{ours_median / (unzip_median + baseline_median):.2f}x"
    )


# --------------------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--shapes-only", action="store_true", help="only the pathological shapes")
    which.add_argument("--ratio-only", action="store_true", help="only the ratio against sha256sum")
    parser.add_argument("--checker", type=Path, help="a check.py to load (default: the package's own)")
    parser.add_argument("--megabytes", type=int, default=500)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a shape's check is killed")
    parser.add_argument("--memory-cap-mib", type=int, default=8192, help="RLIMIT_AS of each check; 0: none")
    parser.add_argument("--only", action="append", default=[], metavar="SHAPE", help="run only this shape")
    parser.add_argument("--workdir", type=Path, help="keep the generated zips here and reuse them on later runs")
    parser.add_argument(
        "--scratch", type=Path, help="where extractions go (default: the work folder; e.g. /dev/shm to leave out disk)"
    )
    args = parser.parse_args(argv)
    checker = (args.checker or default_checker()).resolve()

    with tempfile.TemporaryDirectory() as temporary:
        work = args.workdir.resolve() if args.workdir else Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=args.scratch) as scratch_dir:
            scratch = Path(scratch_dir)
            if not args.ratio_only:
                run_shapes(args, checker, work, scratch)
            if not args.shapes_only:
                if not args.ratio_only:
                    print()
                run_ratio(args, checker, work, scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
