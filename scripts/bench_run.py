"""Benchmark `s3vp run`: a local run of the seed example's pipeline against running the same commands directly.

Not a test: it asserts nothing about time (these machines are noisy). It prints the overhead of a local run over
running the same commands directly (the issue's target is 1.2x, synthesis excluded), against two peers: the users'
commands alone (b), and every command of the synthesized buildspecs, the library's own checks included (c).

The seed example is synthesized once into a temporary ``cdk.out`` (``python -m scripts.synth_report``, not timed;
``--app DIR`` reuses a cloud assembly) and its good sample is zipped once as ``s3vp package`` does (not timed).
Then each round times, alternately (a, b, c in odd rounds, c, b, a in even ones, after --warmup untimed rounds of
each):

(a) ``s3vp run good.zip --app cdk.out --keep DIR --json``, as a subprocess: what a developer types, so the
    interpreter's start-up and the CLI's imports count, and no state (imports, caches) carries over between rounds
    as it would in one process; ``--json`` gives each stage's seconds for the breakdown;
(b) the same user commands run directly, also as subprocesses: for each stage the local run runs (CodeBuild
    actions up to the first approval, deployments left out as the run skips them), one ``bash -e -c`` of that
    stage's ``build`` commands as synthesized, minus the library's own (those naming the scratch folder
    ``/tmp/s3vp``), in one fresh copy of the sample folder (copied before the clock starts). So for the seed
    example: ``npm ci``, ``npm run lint``, ``npm run build`` (Validate), then ``npm ci``, ``npm test -- --ci``
    (Test), read from the template so the peer stays in step with the example;
(c) every command of each of those CodeBuild actions' buildspecs, as synthesized (the library's own: fetching and
    verifying the checker, checking and extracting the package, the manifest and its verification, diagnostics),
    each in its own ``bash -e -c`` as the runner runs them, in a fresh copy of the folder the run's build starts
    from (Validate: an empty folder, its buildspec fetches the package itself; Test: the ``Validated`` artifact of
    an untimed reference run), with the environment the runner gives that build (its stand-in ``aws``,
    ``CODEBUILD_*``, the action's ``SOURCE_*`` and ``CHECKER_*``, ``/tmp/s3vp`` replaced by a scratch folder), all
    prepared before the clock starts: see ``scripts/_bench_run_peer.py``.

(a) and (b) get the same caller environment: PATH (the virtualenv's ``bin`` first, as ``make run-seed`` does,
unless --path-as-is), LANG, and a fresh HOME and TMPDIR each round; (c) gets what the run's builds get from it.
Wall seconds and CPU seconds (user + system of the child and what it waited for) are printed per round, then the
medians and the ratios: (a) / (b), the overhead over the users' commands alone (it includes the pipeline's own
checks, which CodeBuild runs too), and (a) / (c), the local run's own overhead over the pipeline's commands.

Last, --profile-rounds runs in this process with their steps timed (not in the figures above; medians, each
run followed by (b) again for comparison) show what a local run adds over (b): the source artifact unpacked by the
runner, the checker fetched from the asset by the stand-in ``aws`` and checked against its SHA-256, the package
fetched, checked and extracted, the manifest written and verified in the next stage, diagnostics, the
runtime-version check, saving artifacts and reports; then the start-up (``s3vp run --help`` in a subprocess: the
interpreter and the CLI's imports) and reading the cloud assembly. Run from the repository root::

    python -m scripts.bench_run [--rounds 5] [--warmup 1] [--profile-rounds 3] [--app CDK_OUT] [--workdir DIR]
        [--path-as-is]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s3_validated_pipeline._buildspec import WORK_DIR
from s3_validated_pipeline.cli._local import runner
from s3_validated_pipeline.cli._local.assembly import Pipeline, choose, find_pipelines
from s3_validated_pipeline.cli._local.codebuild import Build
from s3_validated_pipeline.cli._package import build_package
from scripts._bench_run_peer import PeerBuild, builds_run, buildspec_commands, environ, prepare, reference_run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "seed_pipeline"
SAMPLE = EXAMPLE / "sample" / "good"
TARGET = 1.2

USER = "user commands"
# What the library's commands in the buildspecs do, told apart by what they run; printed in this order.
LIBRARY_STEPS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("checker: download from the asset (stand-in aws), SHA-256", lambda c: "aws s3 cp" in c and "check.py" in c),
    ("package: download (stand-in aws)", lambda c: "s3api get-object" in c),
    ("attest: statement, envelope, signature (stand-in kms)", lambda c: "check.py attest" in c or "kms sign" in c),
    ("attest: package re-check", lambda c: "attest-check.json" in c),
    ("provenance verification (stand-in kms)", lambda c: "check.py provenance" in c),
    ("package check + extraction", lambda c: "--extract" in c),
    ("manifest (checker re-pinned first)", lambda c: "check.py manifest" in c),
    ("manifest verification", lambda c: "check.py verify" in c),
    ("diagnostics (post_build)", lambda c: "== Diagnostics ==" in c),
)


def label(command: str) -> str:
    """Which step a buildspec command is: a user command, or one of the library's."""
    for name, matches in LIBRARY_STEPS:
        if matches(command):
            return name
    return "other library commands" if WORK_DIR in command else USER


@dataclass(frozen=True)
class StageCommands:
    """One stage the local run runs, and its users' commands (the build phase, without the library's)."""

    stage: str
    commands: tuple[str, ...]


def stages_run(pipeline: Pipeline) -> list[StageCommands]:
    """The CodeBuild stages a default ``s3vp run`` runs: up to the first approval, deployments skipped."""
    commands: dict[str, list[str]] = {}
    for stage, action in builds_run(pipeline):
        assert action.buildspec is not None
        build = action.buildspec.get("phases", {}).get("build", {}).get("commands", [])
        commands.setdefault(stage.name, []).extend(command for command in build if label(command) == USER)
    found = [StageCommands(name, tuple(user)) for name, user in commands.items() if user]
    if not found:
        raise SystemExit(f"{pipeline.path}: no CodeBuild stage with user commands before the first approval")
    return found


# --------------------------------------------------------------------------------------------------------------
# Timing


@dataclass
class Timed:
    seconds: float
    cpu: float
    stages: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: the run's own figures (a), or each stage's commands (b, c)."""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(command: list[str], *, cwd: Path, env: Mapping[str, str], log: Path) -> tuple[float, float, str]:
    """Run ``command``; its wall and CPU seconds and its stdout (stderr goes to ``log``). Exits when it fails."""
    cpu = _children_cpu()
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as errors:
        result = subprocess.run(  # noqa: S603  # our own commands, or the example's as synthesized
            command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
            text=True, check=False,
        )  # fmt: skip
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
    if result.returncode != 0:
        tail = "\n".join((result.stdout + log.read_text(encoding="utf-8")).splitlines()[-30:])
        raise SystemExit(f"exit {result.returncode}: {' '.join(command)[:300]}\n{tail}")
    return seconds, cpu, result.stdout


def build_env(path: str, folder: Path) -> dict[str, str]:
    """What the run's builds get too (besides CodeBuild's variables): PATH, LANG, a fresh HOME and TMPDIR."""
    for name in ("home", "tmp"):
        (folder / name).mkdir(parents=True)
    return {
        "PATH": path,
        "HOME": str(folder / "home"),
        "TMPDIR": str(folder / "tmp"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }


def time_local_run(s3vp: Path, package: Path, cdk_out: Path, folder: Path, path: str) -> Timed:
    """(a): ``s3vp run`` in a subprocess, checked to have run every stage it should."""
    folder.mkdir(parents=True)
    env = build_env(path, folder / "caller")
    command = [str(s3vp), "run", str(package), "--app", str(cdk_out), "--keep", str(folder / "run"), "--json"]
    seconds, cpu, stdout = run_child(command, cwd=folder, env=env, log=folder / "stderr.log")
    document = json.loads(stdout)
    if document["failed_stage"]:
        raise SystemExit(f"s3vp run failed at {document['failed_stage']}: see {folder / 'run' / 'logs'}")
    stages = {s["name"]: float(s["seconds"]) for s in document["stages"] if s["state"] == runner.SUCCEEDED}
    return Timed(seconds, cpu, stages)


def time_direct(stages: list[StageCommands], folder: Path, path: str) -> Timed:
    """(b): each stage's user commands in one ``bash -e -c``, in a fresh copy of the sample folder."""
    src = folder / "src"
    shutil.copytree(SAMPLE, src, symlinks=True)
    env = build_env(path, folder)
    bash = shutil.which("bash") or "/bin/bash"
    total = Timed(0.0, 0.0)
    for stage in stages:
        log = folder / f"{stage.stage}.log"
        seconds, cpu, _ = run_child([bash, "-e", "-c", "\n".join(stage.commands)], cwd=src, env=env, log=log)
        total.seconds, total.cpu, total.stages[stage.stage] = total.seconds + seconds, total.cpu + cpu, seconds
    return total


def time_pipeline(builds: list[PeerBuild], folder: Path) -> Timed:
    """(c): every command of each build's buildspec in its own ``bash -e -c``, in the build's prepared folder."""
    bash = shutil.which("bash") or "/bin/bash"
    total = Timed(0.0, 0.0)
    for index, build in enumerate(builds):
        for number, command in enumerate(build.commands):
            log = folder / f"{index:02d}-{number:02d}.log"
            seconds, cpu, _ = run_child([bash, "-e", "-c", command], cwd=build.src, env=build.env, log=log)
            total.seconds, total.cpu = total.seconds + seconds, total.cpu + cpu
            total.stages[build.stage] = total.stages.get(build.stage, 0.0) + seconds
    return total


# --------------------------------------------------------------------------------------------------------------
# One run with its steps timed


@contextmanager
def patched(owner: Any, name: str, wrap: Callable[[Any], Any]) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, wrap(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def profile_run(pipeline: Pipeline, package: Path, folder: Path, path: str) -> tuple[float, dict[str, float]]:
    """Run the pipeline in this process with each step timed: the run's seconds, and seconds by step."""
    steps: dict[str, float] = defaultdict(float)

    def timing(step: Callable[[Any], str]) -> Callable[[Any], Any]:
        def wrap(function: Any) -> Any:
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    steps[step(args)] += time.perf_counter() - started

            return timed

        return wrap

    with (
        environ(build_env(path, folder / "caller")),
        patched(Build, "_command", timing(lambda args: label(args[1]))),
        patched(runner.LocalRun, "_materialize", timing(lambda args: "source unpacked / artifact copied in")),
        patched(runner, "runtime_warnings", timing(lambda args: "runtime-versions check (node --version)")),
        patched(runner, "output_files", timing(lambda args: "artifacts saved")),
        patched(runner, "report_files", timing(lambda args: "reports collected")),
    ):
        started = time.perf_counter()
        run = runner.LocalRun(pipeline, package, folder / "run", runner.RunOptions())
        outcomes = run.run()
        seconds = time.perf_counter() - started
    failed = [outcome.name for outcome in outcomes if outcome.state == runner.FAILED]
    if failed:
        raise SystemExit(f"the profiled run failed at {failed[0]}: see {folder / 'run' / 'logs'}")
    return seconds, dict(steps)


# --------------------------------------------------------------------------------------------------------------


def synthesize(outdir: Path) -> float:
    """The seed example's cloud assembly in ``outdir``, by ``scripts.synth_report`` in a subprocess; its seconds."""
    started = time.perf_counter()
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run(  # noqa: S603  # our own script
        [sys.executable, "-m", "scripts.synth_report", str(EXAMPLE), "--outdir", str(outdir)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(
            f"synthesis failed (exit {result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return time.perf_counter() - started


def _display(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


@dataclass(frozen=True)
class Bench:
    """What every round times, prepared once (not timed)."""

    s3vp: Path
    cdk_out: Path
    pipeline: Pipeline
    stages: list[StageCommands]
    package: Path
    reference: runner.LocalRun
    """The untimed reference run: (c) copies its builds' folders from its artifacts."""
    path: str

    def time(self, which: str, folder: Path) -> Timed:
        """Time peer ``which`` (a, b or c) once, writing under ``folder``."""
        if which == "a":
            return time_local_run(self.s3vp, self.package, self.cdk_out, folder, self.path)
        if which == "b":
            return time_direct(self.stages, folder, self.path)
        caller = build_env(self.path, folder / "caller")
        return time_pipeline(prepare(self.pipeline, self.package, self.reference, folder / "run", caller), folder)


def setup(args: argparse.Namespace, work: Path) -> Bench:
    """The cloud assembly, the package and the reference run, each printed; then what (a), (b) and (c) run."""
    s3vp = Path(sys.executable).parent / "s3vp"
    if not s3vp.is_file():
        raise SystemExit(f"no s3vp beside {sys.executable}: run with the project's virtualenv (.venv/bin/python)")
    path = os.environ.get("PATH", os.defpath)
    if not args.path_as_is:
        path = os.pathsep.join([str(Path(sys.executable).parent), path])
    if args.app:
        cdk_out = args.app.resolve()
        print(f"cloud assembly: {cdk_out} (given, not synthesized)")
    else:
        cdk_out = work / "cdk.out"
        seconds = synthesize(cdk_out)
        print(f"cloud assembly: {_display(EXAMPLE)} synthesized into {cdk_out} in {seconds:.1f} s (not timed)")
    pipeline = choose(find_pipelines(cdk_out), None)
    packaged = build_package(SAMPLE, work / "good.zip")
    package = packaged.output.resolve()
    print(
        f"package: {_display(SAMPLE)} zipped once (not timed): {len(packaged.files)} files, "
        f"{packaged.bytes_in} bytes, {package.stat().st_size} bytes zipped"
    )
    started = time.perf_counter()
    reference = reference_run(pipeline, package, work / "reference", build_env(path, work / "reference-caller"))
    print(f"reference run: s3vp run's runner in this process, {time.perf_counter() - started:.2f} s (not timed)")
    bench = Bench(s3vp, cdk_out, pipeline, stages_run(pipeline), package, reference, path)
    print(f"(a) {s3vp.name} run {package.name} --app {cdk_out.name} --keep DIR --json, a subprocess")
    print(f"(b) {_display(SAMPLE)} copied fresh, then one `bash -e -c` per stage of its commands in the template:")
    for user in bench.stages:
        print(f"      {user.stage}: {'; '.join(user.commands)}")
    print(
        "(c) every command of each build's buildspec as synthesized, one `bash -e -c` each (as the runner runs "
        "them), with the runner's environment (stand-in aws, CODEBUILD_*, the action's variables, a scratch "
        "folder for /tmp/s3vp), in a fresh folder prepared before the clock:"
    )
    for stage, action in builds_run(pipeline):
        assert action.buildspec is not None
        labels = [label(command) for command in buildspec_commands(action.buildspec)]
        copied = [name for name in action.inputs if reference.artifacts[name].is_dir()]
        start = f"a copy of the reference run's {', '.join(copied)}" if copied else "an empty folder"
        print(f"      {stage.name}: {len(labels)} commands, {labels.count(USER)} of them the user's; from {start}")
    first = path.split(os.pathsep)[0]
    print(
        f"(a), (b): PATH starting {first}{'' if args.path_as_is else ' (as make run-seed)'}; fresh HOME and TMPDIR; "
        "(c): the runner's build environment made from the same"
    )
    return bench


def _timed_text(timed: Timed, names: list[str]) -> str:
    stages = ", ".join(f"{name} {timed.stages.get(name, 0.0):.2f}" for name in names)
    return f"{timed.seconds:.2f} s (cpu {timed.cpu:.2f}; {stages})"


def run(args: argparse.Namespace, work: Path) -> None:
    bench = setup(args, work)
    names = list(dict.fromkeys(stage.name for stage, _ in builds_run(bench.pipeline)))
    timings: dict[str, list[Timed]] = {which: [] for which in "abc"}
    for index in range(args.warmup):
        for which in "abc":
            bench.time(which, work / f"warmup-{index}" / which)
    if args.warmup:
        print(f"warm-up: {args.warmup} round(s) of each, not counted")
    for round_ in range(1, args.rounds + 1):
        folder = work / f"round-{round_}"
        order = "abc" if round_ % 2 else "cba"
        for which in order:
            timings[which].append(bench.time(which, folder / which))
        a, b, c = (timings[which][-1] for which in "abc")
        print(
            f"round {round_} ({', '.join(order)}): (a) s3vp run {_timed_text(a, names)}; (b) {_timed_text(b, names)}; "
            f"(c) {_timed_text(c, names)}; (a)/(b) {a.seconds / b.seconds:.2f}x, (a)/(c) {a.seconds / c.seconds:.2f}x"
        )
        if not args.workdir:
            shutil.rmtree(folder)
    overhead = summarize(timings, names)
    breakdown(args, bench, work, overhead)


def summarize(timings: Mapping[str, list[Timed]], names: list[str]) -> float:
    """Print the medians and the ratios (a) / (b) and (a) / (c); return the medians' (a) - (b) in seconds."""
    wall = {which: statistics.median(t.seconds for t in timed) for which, timed in timings.items()}
    cpu = {which: statistics.median(t.cpu for t in timed) for which, timed in timings.items()}
    print(
        f"median: (a) s3vp run {wall['a']:.2f} s (cpu {cpu['a']:.2f}), (b) the user's commands directly "
        f"{wall['b']:.2f} s (cpu {cpu['b']:.2f}), (c) the pipeline's commands directly {wall['c']:.2f} s "
        f"(cpu {cpu['c']:.2f})"
    )
    meanings = {
        "b": "overhead over the user's commands alone (it includes the pipeline's own checks, which CodeBuild "
        "runs too)",
        "c": "the local run's own overhead over the pipeline's commands run directly",
    }
    for peer, meaning in meanings.items():
        ratio = wall["a"] / wall[peer]
        print(
            f"  (a)/({peer}) {ratio:.2f}x (target <= {TARGET}x: {'met' if ratio <= TARGET else 'missed'}), "
            f"{wall['a'] - wall[peer]:+.2f} s, cpu {cpu['a'] / cpu[peer]:.2f}x: {meaning}"
        )
    for name in names:
        a, b, c = (statistics.median(t.stages.get(name, 0.0) for t in timings[which]) for which in "abc")
        print(
            f"  {name}: the run's stage {a:.2f} s; directly, its user commands {b:.2f} s, "
            f"every command of its buildspec {c:.2f} s"
        )
    return wall["a"] - wall["b"]


def breakdown(args: argparse.Namespace, bench: Bench, work: Path, overhead: float) -> None:
    """What a local run adds: medians of --profile-rounds runs in this process, each step timed, each run followed
    by (b) again so the user commands can be compared with the same commands run directly at about the same time."""
    rounds = args.profile_rounds
    if rounds < 1:
        return
    totals: list[float] = []
    steps: dict[str, list[float]] = defaultdict(list)
    startups: list[float] = []
    readings: list[float] = []
    directs: list[float] = []
    for index in range(rounds):
        folder = work / f"profile-{index}"
        seconds, timed = profile_run(bench.pipeline, bench.package, folder, bench.path)
        totals.append(seconds)
        for name, value in timed.items():
            steps[name].append(value)
        env = build_env(bench.path, folder / "help")
        command = [str(bench.s3vp), "run", "--help"]
        startups.append(run_child(command, cwd=folder, env=env, log=folder / "help.log")[0])
        started = time.perf_counter()
        find_pipelines(bench.cdk_out)
        readings.append(time.perf_counter() - started)
        directs.append(bench.time("b", folder / "direct").seconds)
    medians = {name: statistics.median(values) for name, values in steps.items()}
    total = statistics.median(totals)
    print(
        f"\nwhat a local run adds: {rounds} run(s) in this process with each step timed, medians "
        f"(not in the figures above; the run {total:.2f} s)"
    )
    order = [USER, *(name for name, _ in LIBRARY_STEPS)]
    order += sorted(name for name in medians if name not in order)
    rows = [(name, medians[name]) for name in order if name in medians]
    rows.insert(1, ("  (the same commands directly, (b), between these runs)", statistics.median(directs)))
    rows.append(("the rest of the run (stand-in, env, logs)", total - sum(medians.values())))
    rows.append(("start-up: `s3vp run --help` in a subprocess", statistics.median(startups)))
    rows.append(("reading the cloud assembly", statistics.median(readings)))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value:6.2f} s")
    added = sum(value for name, value in rows[2:])
    print(
        f"  added, summed: {added:.2f} s, against the medians' (a) - (b) {overhead:.2f} s "
        "(the difference: the summary, exit, noise)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds of each first (default: 1)")
    parser.add_argument(
        "--profile-rounds", type=int, default=3, help="runs in this process for the breakdown (0: none)"
    )
    parser.add_argument("--app", type=Path, metavar="CDK_OUT", help="a cloud assembly of the seed example to reuse")
    parser.add_argument("--workdir", type=Path, help="keep every round's folders here (default: a temporary folder)")
    parser.add_argument(
        "--path-as-is", action="store_true", help="do not put the virtualenv's bin first on PATH (python3, s3vp)"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.warmup < 0:
        parser.error("--rounds must be at least 1 and --warmup at least 0")
    with tempfile.TemporaryDirectory(prefix="bench-run-") as temporary:
        work = (args.workdir or Path(temporary)).resolve()
        if args.workdir and work.exists() and any(work.iterdir()):
            parser.error(f"--workdir {args.workdir}: name a new or empty folder")
        work.mkdir(parents=True, exist_ok=True)
        run(args, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
