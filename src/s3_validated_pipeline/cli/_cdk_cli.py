"""Whether a deployed pipeline's deploy stages run the CDK CLI the package pins.

A deploy stage runs in the validated artifact, whose ``node_modules`` the validate stage's ``npm ci`` installed from
the package's lockfile: ``npx --no-install cdk deploy`` runs the ``aws-cdk`` the package pins. Without ``aws-cdk`` in
its package.json, ``npx cdk`` downloads whatever version is newest when the stage runs, ``npx --no-install cdk``
fails, and a bare ``cdk`` runs whatever the build image has. ``cdk_cli_warnings`` says so for each deploy stage.

Only calls of ``cdk`` itself are recognised: ``cdk`` (or a path ending in ``/cdk``) as a command's program, and
``npx [options] cdk`` or ``npx [options] aws-cdk``. Scripts that call it (``npm run cdk``, ``yarn cdk``,
``npm exec``) and a version spelled in the command (``npx aws-cdk@2.1149.0``, the pipeline's own pin) are not.
"""

from __future__ import annotations

import json
import re
import shlex
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._rules import DeployStage

__all__ = ["CdkCall", "CliWarning", "cdk_calls", "cdk_cli_warnings", "read_package_json"]

PIN_CLI = "`npm install --save-dev aws-cdk` (and commit package-lock.json), then deploy with `npx --no-install cdk`"
"""The fix, in every warning that the package does not pin the CLI."""

_CONTROL = frozenset({"&&", "||", ";", ";;", "|", "|&", "&", "(", ")"})
_PREFIXES = frozenset({"!", "{", "if", "then", "else", "elif", "do", "while", "until", "time", "exec", "env"})
"""Words in front of a command's program: shell keywords and the wrappers that run the rest as a command."""
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_NPX_NO_INSTALL = frozenset({"--no-install", "--no"})
"""``--no-install`` (npm 6; npm 7 and later read it as ``--no``): run only what is installed, never download."""
_NPX_WITH_VALUE = frozenset({"-p", "--package", "-c", "--call", "--registry", "--cache", "--userconfig"})
_CDK_PACKAGES = frozenset({"cdk", "aws-cdk"})
_MAX_PACKAGE_JSON = 1024 * 1024
"""A package.json larger than this is not read (a package is checked, not trusted)."""


@dataclass(frozen=True)
class CdkCall:
    """One call of the CDK CLI in a deploy command."""

    command: str
    """The command line it is on, as written."""
    npx: bool
    """Run through ``npx``."""
    no_install: bool = False
    """``npx --no-install`` (or ``--no``): npx fails rather than download a CLI the package does not have."""

    @property
    def may_download(self) -> bool:
        """``npx cdk`` without ``--no-install``: npx downloads the newest ``aws-cdk`` when the package has none."""
        return self.npx and not self.no_install


@dataclass(frozen=True)
class CliWarning:
    """Something about the deployed pipeline that does not change the check's verdict, but that the user should fix."""

    code: str
    """Stable: ``cdk-cli-not-pinned``, ``npx-may-download-cdk`` or ``deploy-stages-unread``."""
    stage: str | None
    """The deploy stage it is about; None when it is about them all."""
    message: str
    """One line naming the stage, what will happen, and the fix."""


def _words(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: the shell would fail too; words and operators are still worth reading
        return re.findall(r"[;&|()]+|[^\s;&|()]+", line)


def _simple_commands(command: str) -> Iterator[list[str]]:
    """Each simple command of a buildspec command, as words, without the words in front of its program."""
    for line in command.replace("\\\n", " ").splitlines():
        words: list[str] = []
        for word in [*_words(line), ";"]:
            if word not in _CONTROL:
                if words or not (word in _PREFIXES or _ASSIGNMENT.match(word)):
                    words.append(word)
            elif words:
                yield words
                words = []


def _npx_call(arguments: Sequence[str], line: str) -> CdkCall | None:
    no_install = False
    words = iter(arguments)
    for word in words:
        if word == "--":
            word = next(words, "")
        elif word.startswith("-"):
            no_install = no_install or word in _NPX_NO_INSTALL
            if word in _NPX_WITH_VALUE:
                next(words, None)
            continue
        return CdkCall(command=line, npx=True, no_install=no_install) if word in _CDK_PACKAGES else None
    return None


def cdk_calls(command: str) -> list[CdkCall]:
    """The calls of the CDK CLI in one buildspec command (which may hold several lines and ``&&``-joined commands)."""
    calls = []
    for words in _simple_commands(command):
        program = words[0]
        line = " ".join(words)
        if program == "npx":
            call = _npx_call(words[1:], line)
            if call is not None:
                calls.append(call)
        elif program.rsplit("/", 1)[-1] == "cdk":
            calls.append(CdkCall(command=line, npx=False))
    return calls


def read_package_json(package: Path) -> bytes | None:
    """The bytes of ``package.json`` at the root of the zip ``package``; None when there is none or it is unreadable."""
    try:
        with zipfile.ZipFile(package) as archive, archive.open("package.json") as member:
            data = member.read(_MAX_PACKAGE_JSON + 1)
    except (KeyError, OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError):
        return None
    return data if len(data) <= _MAX_PACKAGE_JSON else None


def _pins_cli(package_json: bytes | None) -> str | None:
    """None when package.json declares ``aws-cdk``; else what it lacks, for the warning."""
    if package_json is None:
        return "the package has no package.json at its root"
    try:
        manifest = json.loads(package_json)
    except ValueError:
        return "the package's package.json is not JSON"
    for section in ("dependencies", "devDependencies"):
        declared = manifest.get(section) if isinstance(manifest, dict) else None
        if isinstance(declared, dict) and "aws-cdk" in declared:
            return None
    return "the package's package.json has no aws-cdk in dependencies or devDependencies"


def _outcome(call: CdkCall) -> str:
    if call.may_download:
        return "npx will download whatever aws-cdk is newest when the stage runs"
    if call.npx:
        return "npx will find no cdk to run, and the deployment will fail"
    return "the stage will run whatever cdk its build image has, if any"


def cdk_cli_warnings(stages: Sequence[DeployStage], package_json: bytes | None) -> list[CliWarning]:
    """For each deploy stage that runs the CDK CLI: a warning when the package does not pin ``aws-cdk``, and one when
    the stage runs ``npx cdk`` without ``--no-install``."""
    lacking = _pins_cli(package_json)
    warnings = []
    for stage in stages:
        calls = [call for command in stage.commands for call in cdk_calls(command)]
        if calls and lacking:
            message = (
                f"{stage.name} deploys with the CDK CLI (`{calls[0].command}`), but {lacking}: "
                f"{_outcome(calls[0])}. Pin the CLI: {PIN_CLI}."
            )
            warnings.append(CliWarning(code="cdk-cli-not-pinned", stage=stage.name, message=message))
        downloading = next((call for call in calls if call.may_download), None)
        if downloading is not None:
            message = (
                f"{stage.name} runs `{downloading.command}` without --no-install: if the package has no aws-cdk, "
                "npx downloads whatever version is newest at deploy time instead of failing. The pipeline's deploy "
                "commands should use `npx --no-install cdk`."
            )
            warnings.append(CliWarning(code="npx-may-download-cdk", stage=stage.name, message=message))
    return warnings
