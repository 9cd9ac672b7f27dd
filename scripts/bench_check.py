"""Benchmark: the package check plus the manifest, against `sha256sum` over the same extracted bytes.

Not a test: it asserts nothing about time. It generates a package of about --megabytes in --files files, then in
one run times (a) `check_package` on the zip plus `write_manifest` over the extracted tree, which is what the
validate stage adds, and (b) `sha256sum` over every extracted file, hashing the bytes once. Each is run --rounds
times, alternately; the median ratio (a) / (b) is printed. Run from the repository root::

    python -m scripts.bench_check [--megabytes 500] [--files 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from s3_validated_pipeline import check


def make_package(directory: Path, *, megabytes: int, files: int) -> Path:
    """Write a zip of ``files`` files totalling ``megabytes`` MB, half text-like, half incompressible."""
    size = megabytes * 1_000_000 // files
    rng = random.Random(1)  # noqa: S311  # test data, not secrets
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(4000)]
    package = directory / "package.zip"
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for index in range(files):
            text = b" ".join(rng.choice(words) for _ in range(size // 5))[:size]
            data = rng.randbytes(size) if index % 2 else text
            archive.writestr(f"src/module{index // 500:03d}/file{index:05d}.{'bin' if index % 2 else 'txt'}", data)
    return package


def timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--megabytes", type=int, default=500)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        started = time.perf_counter()
        package = make_package(work, megabytes=args.megabytes, files=args.files)
        tree = work / "tree"
        with zipfile.ZipFile(package) as archive:
            archive.extractall(tree)  # our own generated package
        extracted = sum(f.stat().st_size for f in tree.rglob("*") if f.is_file())
        print(
            f"package: {package.stat().st_size / 1e6:.0f} MB zipped, {extracted / 1e6:.0f} MB in {args.files} files "
            f"(generated in {time.perf_counter() - started:.1f} s)"
        )
        limits = check.Limits(max_entries=args.files + 1000, max_total_bytes=2 * extracted)
        source = {"bucket": "bench", "key": "package.zip", "versionId": "1"}

        def ours() -> None:
            report = check.check_package(package, limits=limits)
            assert report.accepted, report.summary()
            check.write_manifest(tree, source=source, output=os.path.join(temporary, "manifest.json"))

        def sha256sum() -> None:
            subprocess.run(  # noqa: S602  # a fixed pipeline, no input from outside
                "find . -type f -print0 | xargs -0 sha256sum > /dev/null",  # noqa: S607
                shell=True,
                cwd=tree,
                check=True,
            )

        ours_times, baseline_times = [], []
        for round_ in range(1, args.rounds + 1):
            ours_times.append(timed(ours))
            baseline_times.append(timed(sha256sum))
            print(f"round {round_}: check + manifest {ours_times[-1]:.2f} s, sha256sum {baseline_times[-1]:.2f} s")
        ours_median, baseline_median = statistics.median(ours_times), statistics.median(baseline_times)
        print(
            f"median: check + manifest {ours_median:.2f} s, sha256sum {baseline_median:.2f} s, "
            f"ratio {ours_median / baseline_median:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
