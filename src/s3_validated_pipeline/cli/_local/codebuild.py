"""One CodeBuild build on this machine, from a buildspec exactly as synthesized.

Emulated (``tests/validate/test_buildspec_commands.py`` runs the synthesized buildspecs with it too): the phases run
in order (install, pre_build, build, post_build); each command runs with ``bash -c`` in ``CODEBUILD_SRC_DIR`` and a
phase stops at the first command that fails; with ``on-failure: ABORT`` (the default) a failed install or pre_build
ends the build, a failed build still runs post_build, told by ``CODEBUILD_BUILD_SUCCEEDING``. One difference with
CodeBuild: a variable exported or a ``cd`` done by one command is not seen by the next (the library's buildspecs
never rely on it).

The buildspecs' scratch folder ``WORK_DIR`` (``/tmp/s3vp``, the build container's own) is replaced, in every command,
by a folder of the build's run directory, so a run leaves nothing outside its folder.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..._buildspec import WORK_DIR

PHASES = ("install", "pre_build", "build", "post_build")
SAFE_PATH = re.compile(r"[\w/.+-]+")
"""What the scratch folder's path may hold: it replaces WORK_DIR in commands without any quoting."""
_RUNTIME_TOOLS = {"nodejs": (("node", "--version"), 1), "python": (("python3", "--version"), 2)}


@dataclass(frozen=True)
class BuildResult:
    """How one build went: the phase that failed (None when it succeeded) and how long it took."""

    failed_phase: str | None
    seconds: float
    returncode: int = 0

    @property
    def succeeded(self) -> bool:
        return self.failed_phase is None


def _version(output: str, parts: int) -> str | None:
    match = re.search(r"(\d+(?:\.\d+)*)", output)
    return ".".join(match.group(1).split(".")[:parts]) if match else None


def runtime_warnings(spec: Mapping[str, Any], path: str) -> list[str]:
    """Compare the install phase's ``runtime-versions`` with the local tools: one message per mismatch."""
    asked = spec.get("phases", {}).get("install", {}).get("runtime-versions", {})
    warnings = []
    for runtime, version in asked.items():
        tool = _RUNTIME_TOOLS.get(runtime)
        if tool is None:
            warnings.append(f"{runtime} {version} asked: not compared with a local tool")
            continue
        (command, parts) = tool
        executable = shutil.which(command[0], path=path)
        found = None
        if executable:
            result = subprocess.run([executable, *command[1:]], capture_output=True, text=True, check=False)  # noqa: S603
            found = _version(result.stdout + result.stderr, parts)
        wanted = _version(str(version), parts)
        if found is None:
            warnings.append(f"{runtime} {version} asked, none found ({command[0]} is not on PATH)")
        elif wanted is not None and not found.startswith(wanted):
            warnings.append(f"{runtime} {version} asked, {found} found")
    return warnings


class Build:
    """One build: its source folder (``CODEBUILD_SRC_DIR``), scratch folder and environment; output goes to ``log``."""

    def __init__(self, src: Path, scratch: Path, env: Mapping[str, str], log: IO[str], timeout: float) -> None:
        if not SAFE_PATH.fullmatch(str(scratch)):
            raise ValueError(f"the scratch folder {scratch} must need no shell quoting (letters, digits, /._+-)")
        self._src, self._scratch, self._env, self._log, self._timeout = src, scratch, dict(env), log, timeout

    def _command(self, command: str, env: Mapping[str, str]) -> int:
        self._log.write(f"[Container] Running command {command}\n")
        self._log.flush()
        process = subprocess.Popen(  # noqa: S603
            [shutil.which("bash") or "/bin/bash", "-c", command.replace(WORK_DIR, str(self._scratch))],
            cwd=self._src,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        # A timer kills a command that runs too long: wait(timeout=...) would poll, noticing the end of every command
        # up to 50 ms late, which adds up over a build's commands.
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            process.kill()

        timer = threading.Timer(self._timeout, stop)
        timer.start()
        try:
            code = process.wait()
        finally:
            timer.cancel()
        if expired.is_set():
            self._log.write(f"[Container] Command timed out after {self._timeout:.0f} seconds\n")
            return 124
        return code

    def _phase(self, name: str, phase: Mapping[str, Any], env: Mapping[str, str]) -> int:
        self._log.write(f"\n[Container] Entering phase {name.upper()}\n")
        code = 0
        for command in phase.get("commands", []):
            code = self._command(command, env)
            if code != 0:
                self._log.write(f"[Container] Command did not exit successfully {command} exit status {code}\n")
                break
        for command in phase.get("finally", []):
            self._command(command, env)
        self._log.write(f"[Container] Phase complete: {name.upper()} State: {'SUCCEEDED' if code == 0 else 'FAILED'}\n")
        return code

    def run(self, spec: Mapping[str, Any]) -> BuildResult:
        """Run the buildspec's phases as CodeBuild does."""
        started = time.monotonic()
        phases = spec.get("phases", {})
        env = {**self._env, **{k: str(v) for k, v in spec.get("env", {}).get("variables", {}).items()}}
        failed: str | None = None
        code = 0
        for name in ("install", "pre_build", "build"):
            if name in phases:
                result = self._phase(name, phases[name], env)
                if result != 0 and failed is None:
                    failed, code = name, result
                    if name != "build" and phases[name].get("on-failure", "ABORT") == "ABORT":
                        return BuildResult(failed, time.monotonic() - started, code)
        if "post_build" in phases:
            succeeding = {**env, "CODEBUILD_BUILD_SUCCEEDING": "0" if failed else "1"}
            result = self._phase("post_build", phases["post_build"], succeeding)
            if result != 0 and failed is None:
                failed, code = "post_build", result
        return BuildResult(failed, time.monotonic() - started, code)


def collect(base: Path, patterns: Sequence[str], target: Path) -> list[str]:
    """Copy the files of ``base`` that ``patterns`` (a buildspec's ``files``) match to ``target``, keeping paths."""
    copied: list[str] = []
    target.mkdir(parents=True, exist_ok=True)
    for pattern in patterns:
        for path in sorted(base.glob(pattern)):
            if path.is_dir() and not path.is_symlink():
                continue
            relative = path.relative_to(base)
            if relative.as_posix() in copied:
                continue
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / relative, follow_symlinks=False)
            copied.append(relative.as_posix())
    return copied


def output_files(spec: Mapping[str, Any], src: Path, target: Path) -> list[str]:
    """Save the buildspec's ``artifacts`` section (``files``, ``base-directory``) into ``target``."""
    section = spec.get("artifacts") or {}
    base = src / section.get("base-directory", ".")
    return collect(base, section.get("files", []), target)


def report_files(spec: Mapping[str, Any], src: Path, target: Path) -> dict[str, list[str]]:
    """Copy the files of each report group of the buildspec's ``reports`` section into ``target/<n>``."""
    found: dict[str, list[str]] = {}
    for index, (group, section) in enumerate((spec.get("reports") or {}).items(), start=1):
        base = src / section.get("base-directory", ".")
        found[group] = collect(base, section.get("files", []), target / str(index))
    return found
