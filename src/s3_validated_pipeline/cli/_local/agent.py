"""One CodeBuild build through AWS's CodeBuild local agent (``s3vp run --docker``), in the image its project names.

The agent (``public.ecr.aws/codebuild/local-builds``) is driven by its ``codebuild_build.sh`` script, from
github.com/aws/aws-codebuild-docker-images (``local_builds/``), which must be on PATH. For each build:

- the buildspec is the synthesized one, written as JSON (which is YAML) to ``builds/NN/agent/buildspec.yml`` (``-b``);
- the environment file (``-e``) holds the action's variables as the local emulation substitutes them (``SOURCE_*``,
  ``CHECKER_*``, ``S3VP_EXECUTION_ID``, ...), the ``CODEBUILD_*`` values CodeBuild would set that the agent does not
  set itself or may not (``CODEBUILD_INITIATOR``, ``CODEBUILD_BUILD_ARN``, ``CODEBUILD_START_TIME``: the agent may set
  its own, e.g. the initiator from the script's ``INITIATOR=$USER``; Attest and every later build of one run then
  see the same, so the provenance still verifies), ``BASH_ENV`` (below) and ``AWS_EC2_METADATA_DISABLED=true``;
- the source (``-s``, mounted with ``-m``) is the run's ``src`` folder, so the build's outputs land in it and are
  collected exactly as the local emulation collects them; other input artifacts are secondary sources;
- the stand-in ``aws`` is the secondary source ``s3vp_local`` (``docker/s3vp_local`` in the run folder): the stand-in
  script (run by the image's ``python3``), its configuration with paths relative to it, and copies of the checker,
  the package and the run's signing key. The buildspecs run in bash (``env.shell: bash``), and bash sources
  ``$BASH_ENV`` (after expanding it) before any command: ``s3vp-env.sh`` puts that folder's ``bin`` first on PATH;
- ``-c`` is never passed, so no AWS configuration or credentials reach the container.

The script always runs ``docker run -it``, which needs a terminal on stdin: it gets a pseudo-terminal of its own.
The agent reports a failed phase in its log, not always in its exit code, so the log decides.
"""

from __future__ import annotations

import json
import os
import platform
import pty
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import aws as stand_in
from .codebuild import BuildResult

AGENT_SCRIPT = "codebuild_build.sh"
AGENT_IMAGE = "public.ecr.aws/codebuild/local-builds:latest"
"""The script's default agent image (x86_64); on ARM the agent is the ``aarch64`` tag, passed with ``-l``."""
SCRIPT_URL = "https://raw.githubusercontent.com/aws/aws-codebuild-docker-images/master/local_builds/codebuild_build.sh"
IMAGES_REPOSITORY = "https://github.com/aws/aws-codebuild-docker-images"
SERVE_ID = "s3vp_local"
"""The secondary source holding the stand-in ``aws`` (letters, digits and ``_`` only, as the agent requires)."""
ENV_SCRIPT = "s3vp-env.sh"
_IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,127}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_COMPOSE_PREFIX = re.compile(r"^[a-z][\w-]*?[-_]\d+\s+\| ?")
"""docker compose's ``agent_1  | `` (or ``agent-1  | ``) before each line of the agent's output."""
_PHASE = re.compile(r"\[Container\] .*?Phase complete: (\w+) (?:State: (\w+)|Success: (\w+))")
_COMMAND_FAILED = re.compile(r"\[Container\] .*?Command did not exit successfully .* exit status (\d+)")
_MANAGED = {
    "aws/codebuild/standard": "ubuntu/standard",
    "aws/codebuild/amazonlinux2-x86_64-standard": "al2/x86_64/standard",
    "aws/codebuild/amazonlinux2-aarch64-standard": "al2/aarch64/standard",
    "aws/codebuild/amazonlinux-x86_64-standard": "al/x86_64/standard",
    "aws/codebuild/amazonlinux-aarch64-standard": "al/aarch64/standard",
}
_WRAPPER = """#!/bin/sh
# The stand-in aws of `s3vp run --docker`: serves the checker and the package, refuses any other call.
here=$(cd "$(dirname "$0")/.." && pwd)
exec python3 -I "$here/aws.py" "$here/aws-config.json" "$@"
"""
_ENV_SCRIPT = f"""# Sourced by every bash of the build (BASH_ENV): the stand-in aws first on PATH. Prints nothing.
if [ -n "${{CODEBUILD_SRC_DIR_{SERVE_ID}-}}" ]; then
  __s3vp_bin="$CODEBUILD_SRC_DIR_{SERVE_ID}/bin"
  [ -x "$__s3vp_bin/aws" ] || chmod +x "$__s3vp_bin/aws" 2>/dev/null
  case ":$PATH:" in *":$__s3vp_bin:"*) ;; *) PATH="$__s3vp_bin:$PATH"; export PATH ;; esac
  unset __s3vp_bin
fi
"""


class AgentError(Exception):
    """``--docker`` cannot run here (no docker, no agent script, an image missing); the message says what to do."""


def build_hint(image: str) -> str:
    """How to have ``image`` locally: the aws-codebuild-docker-images folder that builds a managed image."""
    name, _, tag = image.partition(":")
    folder = _MANAGED.get(name)
    if folder is None or not tag:
        return f"pull or build {image} so that `docker image inspect {image}` finds it"
    return (
        f"git clone {IMAGES_REPOSITORY} && cd aws-codebuild-docker-images/{folder}/{tag} "
        f"&& docker build -t {image} .  (CodeBuild's managed images are not on a public registry)"
    )


def _inspect(docker: str, image: str) -> str | None:
    """None when ``image`` is on this machine, else why not (docker's own words)."""
    try:
        result = subprocess.run(  # noqa: S603
            [docker, "image", "inspect", image],
            capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "docker did not answer within 60 seconds"
    if result.returncode == 0:
        return None
    return (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]


@dataclass(frozen=True)
class Agent:
    """The local agent's script and image, checked to be on this machine."""

    script: str
    agent_image: str = AGENT_IMAGE


def preflight(images: Iterable[str]) -> Agent:
    """The agent, once ``docker``, ``codebuild_build.sh`` and every image (the builds' and the agent's) are here."""
    docker = shutil.which("docker")
    if docker is None:
        raise AgentError("--docker needs Docker: the docker command is not on PATH")
    script = shutil.which(AGENT_SCRIPT)
    if script is None:
        raise AgentError(
            f"--docker needs the CodeBuild local agent's script {AGENT_SCRIPT} on PATH: "
            f"curl -O {SCRIPT_URL} && chmod +x {AGENT_SCRIPT}, then put its folder on PATH"
        )
    arm = platform.machine().lower() in ("arm64", "aarch64")
    agent_image = AGENT_IMAGE.replace(":latest", ":aarch64") if arm else AGENT_IMAGE
    problems: list[str] = []
    for image in dict.fromkeys(images):
        if not image:
            problems.append("a CodeBuild project of the pipeline names no image")
            continue
        why = _inspect(docker, image)
        if why is not None:
            problems.append(f"the build image {image} is not on this machine ({why}): {build_hint(image)}")
    why = _inspect(docker, agent_image)
    if why is not None:
        problems.append(
            f"the local agent image {agent_image} is not on this machine ({why}): docker pull {agent_image}"
        )
    if problems:
        raise AgentError("--docker cannot run: " + "; ".join(problems))
    return Agent(script, agent_image)


def write_serve_folder(objects: Sequence[Mapping[str, Any]], keys: Sequence[Mapping[str, str]], target: Path) -> Path:
    """The stand-in ``aws`` for the container: its script, its configuration and copies of the objects it serves and
    of the keys it signs with (``keys``: as in its configuration)."""
    (target / "bin").mkdir(parents=True)
    (target / "objects").mkdir()
    served: list[dict[str, Any]] = []
    for item in objects:
        if any((item["bucket"], item["key"]) == (other["bucket"], other["key"]) for other in served):
            continue  # the checker, named by every stage's project
        relative = f"objects/{len(served) + 1}-{Path(item['path']).name}"
        shutil.copyfile(item["path"], target / relative)
        served.append({**item, "path": relative})
    copies: dict[str, str] = {}
    for item in keys:  # one key file, named by each key id of the pipeline
        if item["private_key"] not in copies:
            copies[item["private_key"]] = f"objects/key-{len(copies) + 1}.pem"
            shutil.copyfile(item["private_key"], target / copies[item["private_key"]])
    config = {
        "objects": served,
        "keys": [{**item, "private_key": copies[item["private_key"]]} for item in keys],
        "real_aws": None,
        "hint": "with s3vp run --docker, no call reaches AWS.",
    }
    (target / "aws-config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    shutil.copyfile(Path(stand_in.__file__).resolve(), target / "aws.py")
    (target / "bin" / "aws").write_text(_WRAPPER, encoding="utf-8")
    (target / "bin" / "aws").chmod(0o755)
    (target / ENV_SCRIPT).write_text(_ENV_SCRIPT, encoding="utf-8")
    return target


def agent_variables(variables: Mapping[str, str]) -> dict[str, str]:
    """The environment file's variables: the action's, then what makes the container a local run's."""
    return {
        **variables,
        "CODEBUILD_BUILD_NUMBER": "1",
        "CODEBUILD_CI": "true",
        "BASH_ENV": f"$CODEBUILD_SRC_DIR_{SERVE_ID}/{ENV_SCRIPT}",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def env_file_text(env: Mapping[str, str]) -> str:
    """``NAME=VALUE`` lines, as the agent reads them (no quoting, one line each)."""
    lines = []
    for name, value in env.items():
        if not _NAME.fullmatch(name) or "\n" in value or "\r" in value:
            raise AgentError(
                f"the variable {name}={value!r} cannot be passed to the local agent (one line, NAME=VALUE)"
            )
        lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def agent_lines(text: str) -> list[str]:
    """The agent's output as lines, without terminal colours and docker compose's ``agent_1  | `` prefixes."""
    return [_COMPOSE_PREFIX.sub("", _ANSI.sub("", line)) for line in text.splitlines()]


def outcome(lines: Sequence[str], returncode: int) -> tuple[str | None, int]:
    """The first failed phase (lower case, None when the build succeeded) and its exit code, from the agent's log."""
    code, phases = 0, 0
    for line in lines:
        failed = _COMMAND_FAILED.search(line)
        if failed:
            code = int(failed.group(1))
        phase = _PHASE.search(line)
        if phase is None:
            continue
        phases += 1
        if (phase.group(2) or "").upper() == "FAILED" or (phase.group(3) or "").lower() == "false":
            return phase.group(1).lower(), code or 1
    if returncode != 0 or phases == 0:  # the agent failed before, or without, running the buildspec
        return "agent", returncode or 1
    return None, 0


class AgentBuild:
    """One build through the local agent: the image, the source folders, the variables; output goes to ``log``."""

    def __init__(
        self,
        agent: Agent,
        image: str,
        root: Path,
        src: Path,
        secondary: Mapping[str, Path],
        env: Mapping[str, str],
        log: IO[str],
    ) -> None:
        """``root``: the build's folder; ``src``: the primary source; ``secondary``: folders by source identifier."""
        for identifier in secondary:
            if not _IDENTIFIER.fullmatch(identifier):
                raise AgentError(
                    f"the input artifact {identifier} cannot be a source of the local agent: its name must hold "
                    "only letters, digits and _"
                )
        self._agent, self._image, self._root, self._src, self._secondary = agent, image, root, src, dict(secondary)
        self._env, self._log = dict(env), log

    def argv(self, buildspec: Path, env_file: Path, artifacts: Path) -> list[str]:
        """``codebuild_build.sh``'s arguments: never ``-c`` (the host's AWS configuration and credentials)."""
        argv = [self._agent.script, "-i", self._image, "-a", str(artifacts), "-s", str(self._src)]
        for identifier, folder in self._secondary.items():
            argv += ["-s", f"{identifier}:{folder}"]
        argv += ["-b", str(buildspec), "-e", str(env_file), "-m"]
        if self._agent.agent_image != AGENT_IMAGE:
            argv += ["-l", self._agent.agent_image]
        return argv

    def _execute(self, argv: Sequence[str], output: Path, timeout: float) -> int:
        """Run the script with a pseudo-terminal as stdin (its ``docker run -it`` needs one) and no AWS_* variables."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        leader, follower = pty.openpty()
        try:
            with output.open("wb") as out:
                process = subprocess.Popen(  # noqa: S603
                    list(argv), cwd=self._root, env=env, stdin=follower, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
                try:
                    return process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._log.write(f"[Local] The local agent timed out after {timeout:.0f} seconds\n")
                    return 124
                finally:
                    if process.poll() is None:  # timed out or interrupted: end the script and its docker client
                        os.killpg(process.pid, signal.SIGTERM)
                        process.wait()
        finally:
            os.close(follower)
            os.close(leader)

    def run(self, spec: Mapping[str, Any], timeout: float) -> BuildResult:
        """Run the buildspec through the agent for at most ``timeout`` seconds; its output, cleaned, goes to the log."""
        started = time.monotonic()
        folder = self._root / "agent"
        (folder / "artifacts").mkdir(parents=True)
        buildspec, env_file = folder / "buildspec.yml", folder / "build.env"
        buildspec.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        env_file.write_text(env_file_text(self._env), encoding="utf-8")
        argv = self.argv(buildspec, env_file, folder / "artifacts")
        self._log.write(f"[Local] Running the CodeBuild local agent: {shlex.join(argv)}\n")
        self._log.flush()
        returncode = self._execute(argv, folder / "output.log", timeout)
        lines = agent_lines((folder / "output.log").read_text(encoding="utf-8", errors="replace"))
        self._log.write("\n".join(lines) + "\n")
        failed_phase, code = outcome(lines, returncode)
        if failed_phase == "agent":
            self._log.write(f"[Local] The local agent ran no buildspec phase to completion (exit code {returncode})\n")
        return BuildResult(failed_phase, time.monotonic() - started, code)
