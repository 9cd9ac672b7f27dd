"""The validate stage's buildspec lines, run for real in bash against sample packages.

The lines come from the seed example's synthesized template (the lines CodeBuild will run), not from a rebuild
of them. CodeBuild is emulated: each command of a phase runs with ``bash -c`` in the package folder, in order,
and the phase stops at the first command that exits non-zero (``on-failure: ABORT``). ``npm`` is a stub on PATH
that logs its arguments and writes what ``npm ci`` / ``npm run build`` would, so nothing touches the network.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from s3_validated_pipeline import _buildspec
from s3_validated_pipeline._buildspec import MANIFEST_FILE

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "sha256sum", "find", "xargs", "sort")),
    reason="needs bash and GNU coreutils/findutils, as on the CodeBuild images",
)

SEED_REQUIRED_FILES = ("package.json", "package-lock.json", "cdk.json", "tsconfig.json", "bin/*.ts")
SEED_COMMANDS = ("npm ci", "npm run lint", "npm run build")

GOOD_PACKAGE: dict[str, str] = {
    "package.json": json.dumps({"name": "infra", "scripts": {"lint": "eslint .", "build": "tsc"}}),
    "package-lock.json": json.dumps({"name": "infra", "lockfileVersion": 3, "packages": {}}),
    "cdk.json": json.dumps({"app": "npx ts-node bin/infra.ts"}),
    "tsconfig.json": json.dumps({"compilerOptions": {"outDir": "dist", "strict": True}}),
    "bin/infra.ts": "import { App } from 'aws-cdk-lib';\nnew App();\n",
    "lib/infra-stack.ts": "export class InfraStack {}\n",
    "lib/constructs/storage/bucket.ts": "export const bucket = 1;\n",
    "test/infra.test.ts": "test('synth', () => {});\n",
    ".gitignore": "node_modules\ndist\n",
}

ODD_NAMES: dict[str, str] = {
    "docs/read me.md": "A name with a space.\n",
    "docs/café ünïcode ✓.txt": "Ünïcode name and content: ✓\n",
    "assets/deep/er/still deeper/logo data.svg": "<svg/>\n",
    ".config/.hidden rc": "dotfolder and dotfile\n",
    "empty.txt": "",
}

# Stands in for npm: logs each call (outside the package) and writes what the real commands would produce.
NPM_STUB = """#!/usr/bin/env bash
echo "$*" >> "$NPM_LOG"
case "$*" in
  --version) echo "0.0.0-stub" ;;
  ci) mkdir -p node_modules/left-pad && echo "module.exports = 1;" > node_modules/left-pad/index.js ;;
  "run lint") exit "${NPM_LINT_EXIT:-0}" ;;
  "run build") mkdir -p dist/bin && echo "console.log('built');" > dist/bin/infra.js ;;
  *) echo "npm stub: unexpected arguments: $*" >&2; exit 64 ;;
esac
"""

BASH = shutil.which("bash") or "/bin/bash"
MANIFEST_LINE = re.compile(r"(?P<digest>[0-9a-f]{64}) [ *](?P<path>\./.+)")


# --- Emulating CodeBuild ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseRun:
    """What running one phase's commands produced; ``runs`` stops at the first failing command."""

    runs: tuple[subprocess.CompletedProcess[str], ...]

    @property
    def returncode(self) -> int:
        return self.runs[-1].returncode if self.runs else 0

    @property
    def stdout(self) -> str:
        return "".join(run.stdout for run in self.runs)

    @property
    def stderr(self) -> str:
        return "".join(run.stderr for run in self.runs)


def bash(command: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [BASH, "-c", command],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        timeout=60,
    )


def run_phase(commands: Sequence[str], cwd: Path, env: Mapping[str, str]) -> PhaseRun:
    """Run ``commands`` in order, stopping at the first non-zero exit as CodeBuild does with on-failure: ABORT."""
    runs: list[subprocess.CompletedProcess[str]] = []
    for command in commands:
        runs.append(bash(command, cwd, env))
        if runs[-1].returncode != 0:
            break
    return PhaseRun(tuple(runs))


@dataclass(frozen=True)
class Sandbox:
    """A package folder, a folder for stub tools and the environment CodeBuild would give the commands."""

    package: Path
    npm_log: Path
    env: dict[str, str]

    def npm_calls(self) -> list[str]:
        return self.npm_log.read_text().splitlines() if self.npm_log.exists() else []


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    stub_bin = tmp_path / "stub-bin"
    stub_bin.mkdir()
    npm = stub_bin / "npm"
    npm.write_text(NPM_STUB)
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    package = tmp_path / "package"
    package.mkdir()
    npm_log = tmp_path / "npm.log"
    # Only what the commands need: the test process's own environment (and any secret in it) is not passed on.
    env = {
        "PATH": f"{stub_bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "NPM_LOG": str(npm_log),
    }
    return Sandbox(package, npm_log, env)


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


def tree_digests(root: Path) -> dict[str, str]:
    """``./relative/path`` -> SHA-256 of every regular file under ``root`` except the manifest, by hashlib."""
    return {
        f"./{path.relative_to(root).as_posix()}": hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file() and not path.is_symlink() and path.relative_to(root).as_posix() != MANIFEST_FILE
    }


def read_manifest(root: Path) -> list[tuple[str, str]]:
    """The manifest's (path, digest) entries, in file order; every line must be in ``sha256sum`` format."""
    text = (root / MANIFEST_FILE).read_bytes().decode("utf-8")
    assert text.endswith("\n"), "the manifest must end with a newline"
    entries = []
    for line in text[:-1].split("\n"):
        match = MANIFEST_LINE.fullmatch(line)
        assert match, f"not a sha256sum line: {line!r}"
        entries.append((match["path"], match["digest"]))
    return entries


def sha256sum_check(root: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return bash(f"sha256sum --check --strict {MANIFEST_FILE}", root, env)


# --- The buildspec from the synthesized template -------------------------------------------------------------------


@pytest.fixture(scope="module")
def buildspec(seed: Any) -> dict[str, Any]:
    projects = seed.template.find_resources("AWS::CodeBuild::Project")
    assert len(projects) == 1, f"expected one CodeBuild project, found {sorted(projects)}"
    (project,) = projects.values()
    source = project["Properties"]["Source"]
    assert isinstance(source["BuildSpec"], str), "the buildspec must be inline JSON, not a file or a token"
    spec: dict[str, Any] = json.loads(source["BuildSpec"])
    return spec


@pytest.fixture(scope="module")
def pre_build(buildspec: dict[str, Any]) -> list[str]:
    return list(buildspec["phases"]["pre_build"]["commands"])


@pytest.fixture(scope="module")
def build(buildspec: dict[str, Any]) -> list[str]:
    return list(buildspec["phases"]["build"]["commands"])


@pytest.fixture(scope="module")
def post_build(buildspec: dict[str, Any]) -> list[str]:
    return list(buildspec["phases"]["post_build"]["commands"])


def manifest_line(build: Sequence[str]) -> str:
    (line,) = [command for command in build if MANIFEST_FILE in command]
    return line


def test_buildspec_runs_in_bash_with_aborting_pre_build_and_build_phases(buildspec: dict[str, Any]) -> None:
    # GIVEN the buildspec synthesized for the seed example
    # THEN it is version 0.2, runs its lines in bash (they use shopt/compgen) and aborts on a failing check or build
    assert buildspec["version"] == "0.2"
    assert buildspec["env"]["shell"] == "bash"
    phases = buildspec["phases"]
    assert {"pre_build", "build", "post_build"} <= set(phases)
    assert phases["pre_build"]["on-failure"] == "ABORT"
    assert phases["build"]["on-failure"] == "ABORT"
    for name in ("pre_build", "build", "post_build"):
        commands = phases[name]["commands"]
        assert commands, f"{name} has no commands"
        assert all(isinstance(command, str) and command.strip() for command in commands)


def test_build_phase_runs_the_users_commands_in_order_then_the_manifest(build: list[str]) -> None:
    # GIVEN the seed's commands  THEN the build phase is exactly those, in order, with the manifest line last
    assert build[: len(SEED_COMMANDS)] == list(SEED_COMMANDS)
    assert len(build) == len(SEED_COMMANDS) + 1
    assert build[-1] == manifest_line(build)


def test_pre_build_checks_the_required_files_before_anything_else(pre_build: list[str]) -> None:
    # THEN the first pre_build line is the required-files check, naming each of the seed's patterns
    check = pre_build[0]
    assert check.startswith("shopt -s globstar dotglob\n")
    for pattern in SEED_REQUIRED_FILES:
        assert pattern in check


# --- pre_build: the required-files check ---------------------------------------------------------------------------


def test_good_package_passes_the_required_files_check(sandbox: Sandbox, pre_build: list[str]) -> None:
    # GIVEN a Node.js package holding every required file
    write_tree(sandbox.package, GOOD_PACKAGE)
    # WHEN the template's pre_build phase runs
    phase = run_phase(pre_build, sandbox.package, sandbox.env)
    # THEN every command ran and succeeded, and nothing was reported missing
    assert phase.returncode == 0, phase.stderr
    assert len(phase.runs) == len(pre_build)
    assert f"Package holds all {len(SEED_REQUIRED_FILES)} required file(s)." in phase.stdout
    assert "Validating the package" in phase.stdout
    assert "missing" not in phase.stderr


@pytest.mark.parametrize("absent", ["package.json", "package-lock.json", "cdk.json", "tsconfig.json", "bin/infra.ts"])
def test_package_missing_one_file_fails_with_exit_1_and_names_it(
    sandbox: Sandbox, pre_build: list[str], absent: str
) -> None:
    # GIVEN a package lacking one required file
    write_tree(sandbox.package, {name: text for name, text in GOOD_PACKAGE.items() if name != absent})
    expected = "bin/*.ts" if absent == "bin/infra.ts" else absent
    # WHEN the pre_build phase runs
    phase = run_phase(pre_build, sandbox.package, sandbox.env)
    # THEN the check exits 1, names the missing pattern (and only it) on stderr, and the phase stops there
    assert phase.returncode == 1
    assert len(phase.runs) == 1, "CodeBuild aborts pre_build at the failing check"
    assert f"Required file missing from the package: {expected}\n" in phase.stderr
    assert phase.stderr.count("Required file missing") == 1
    assert "Package rejected: 1 required file(s) missing." in phase.stderr
    assert "Validating the package" not in phase.stdout


def test_package_missing_several_files_names_every_one(sandbox: Sandbox, pre_build: list[str]) -> None:
    # GIVEN a package lacking three required files; bin/ exists but holds no .ts file
    absent = {"package-lock.json", "tsconfig.json", "bin/infra.ts"}
    write_tree(sandbox.package, {name: text for name, text in GOOD_PACKAGE.items() if name not in absent})
    write_tree(sandbox.package, {"bin/infra.js": "compiled, not source\n", "bin/sub/nested.ts": "one level too deep\n"})
    # WHEN the pre_build phase runs
    phase = run_phase(pre_build, sandbox.package, sandbox.env)
    # THEN it exits 1 and lists every missing pattern, not just the first
    assert phase.returncode == 1
    reported = re.findall(r"^Required file missing from the package: (.+)$", phase.stderr, flags=re.MULTILINE)
    assert sorted(reported) == sorted(["package-lock.json", "tsconfig.json", "bin/*.ts"])
    assert "Package rejected: 3 required file(s) missing." in phase.stderr


def test_empty_package_names_all_required_files(sandbox: Sandbox, pre_build: list[str]) -> None:
    # GIVEN an empty package  WHEN the check runs  THEN all five patterns are reported
    phase = run_phase(pre_build, sandbox.package, sandbox.env)
    assert phase.returncode == 1
    for pattern in SEED_REQUIRED_FILES:
        assert f"Required file missing from the package: {pattern}\n" in phase.stderr
    assert f"Package rejected: {len(SEED_REQUIRED_FILES)} required file(s) missing." in phase.stderr


@pytest.mark.parametrize(
    ("pattern", "files"),
    [
        pytest.param("src/**/*.ts", {"src/a/b/c/deep.ts": ""}, id="globstar-crosses-folders"),
        pytest.param("src/**/*.ts", {"src/top.ts": ""}, id="globstar-matches-zero-folders"),
        pytest.param("docs/user guide.md", {"docs/user guide.md": ""}, id="literal-with-space"),
        pytest.param("docs/*guide.md", {"docs/user guide.md": ""}, id="glob-with-space-in-match"),
        pytest.param(".env", {".env": ""}, id="literal-dotfile"),
        pytest.param("config/.*rc", {"config/.eslintrc": ""}, id="explicit-dot-glob"),
        pytest.param("config/*", {"config/.env": ""}, id="dotglob-star-matches-dotfile"),
        pytest.param("**/*.yml", {".github/workflows/ci.yml": ""}, id="dotglob-globstar-enters-dotfolder"),
        pytest.param("données/*.csv", {"données/été.csv": ""}, id="unicode"),
    ],
)
def test_required_files_check_matches(sandbox: Sandbox, pattern: str, files: dict[str, str]) -> None:
    # GIVEN a package whose only file matches the pattern (the check's comment promises globstar and dotglob)
    write_tree(sandbox.package, {**files, "unrelated.txt": ""})
    # WHEN the check for that pattern runs
    result = bash(_buildspec.required_files_check([pattern]), sandbox.package, sandbox.env)
    # THEN it passes
    assert result.returncode == 0, result.stderr
    assert "Package holds all 1 required file(s)." in result.stdout


@pytest.mark.parametrize(
    ("pattern", "files"),
    [
        pytest.param("src/**/*.ts", {"src/a/b/deep.js": "", "other/x.ts": ""}, id="globstar-no-match"),
        pytest.param("docs/user guide.md", {"docs/user": "", "guide.md": ""}, id="space-is-not-a-separator"),
        pytest.param("bin/*.ts", {"bin/sub/app.ts": ""}, id="star-stays-in-its-folder"),
        pytest.param("*.md", {"README.markdown": ""}, id="no-match"),
    ],
)
def test_required_files_check_rejects(sandbox: Sandbox, pattern: str, files: dict[str, str]) -> None:
    # GIVEN a package with near misses only
    write_tree(sandbox.package, files)
    # WHEN the check for that pattern runs
    result = bash(_buildspec.required_files_check([pattern]), sandbox.package, sandbox.env)
    # THEN it fails with exit 1 and quotes the whole pattern, unsplit
    assert result.returncode == 1
    assert f"Required file missing from the package: {pattern}\n" in result.stderr


def test_required_files_check_does_not_execute_patterns(sandbox: Sandbox) -> None:
    # GIVEN patterns holding shell syntax
    patterns = ["$(touch pwned)", "`touch pwned2`", "x; touch pwned3", "'quoted'"]
    # WHEN the check runs
    result = bash(_buildspec.required_files_check(patterns), sandbox.package, sandbox.env)
    # THEN each is only a (missing) pattern: reported verbatim, nothing executed
    assert result.returncode == 1
    for pattern in patterns:
        assert f"Required file missing from the package: {pattern}\n" in result.stderr
    assert list(sandbox.package.iterdir()) == []


# --- build: the user's commands, then the manifest -----------------------------------------------------------------


@pytest.fixture
def built(sandbox: Sandbox, build: list[str]) -> Sandbox:
    """A good package with odd file names, after the template's build phase ran."""
    write_tree(sandbox.package, {**GOOD_PACKAGE, **ODD_NAMES})
    phase = run_phase(build, sandbox.package, sandbox.env)
    assert phase.returncode == 0, phase.stderr
    assert len(phase.runs) == len(build)
    return sandbox


def test_manifest_is_written_after_the_users_commands(built: Sandbox) -> None:
    # GIVEN the build phase ran  THEN npm ran the seed's commands in order, and their output is in the manifest
    assert built.npm_calls() == ["ci", "run lint", "run build"]
    listed = {path for path, _ in read_manifest(built.package)}
    assert "./node_modules/left-pad/index.js" in listed
    assert "./dist/bin/infra.js" in listed


def test_manifest_passes_sha256sum_check_on_the_tree(built: Sandbox) -> None:
    # WHEN the artifact is verified the documented way  THEN every entry checks out
    result = sha256sum_check(built.package, built.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout
    assert result.stdout.count(": OK\n") == len(tree_digests(built.package))


def test_manifest_lists_every_file_once_with_its_digest_excluding_itself(built: Sandbox) -> None:
    # GIVEN the manifest and hashlib's view of the tree (including dotfiles, spaces, unicode, empty files)
    entries = read_manifest(built.package)
    paths = [path for path, _ in entries]
    # THEN each file appears exactly once with the same digest, and the manifest (or its temp file) is not listed
    assert len(paths) == len(set(paths)), "a file is listed twice"
    assert dict(entries) == tree_digests(built.package)
    assert not [path for path in paths if path.startswith(f"./{MANIFEST_FILE}")]
    for name in ODD_NAMES:
        assert f"./{name}" in paths


def test_manifest_is_sorted_by_path_bytes(built: Sandbox) -> None:
    paths = [path.encode() for path, _ in read_manifest(built.package)]
    assert len(paths) > 10
    assert paths == sorted(paths)


def test_manifest_run_reports_the_count(sandbox: Sandbox, build: list[str]) -> None:
    # GIVEN three files  WHEN the manifest line runs  THEN its log line counts them
    write_tree(sandbox.package, {"a.txt": "a", "b/c.txt": "c", ".d": "d"})
    result = bash(manifest_line(build), sandbox.package, sandbox.env)
    assert result.returncode == 0, result.stderr
    assert f"Manifest: 3 file(s) hashed into {MANIFEST_FILE}" in result.stdout


def test_rerunning_the_manifest_does_not_hash_the_previous_manifest(built: Sandbox, build: list[str]) -> None:
    # GIVEN a tree that already holds a manifest  WHEN the line runs again  THEN the result is unchanged
    before = (built.package / MANIFEST_FILE).read_bytes()
    result = bash(manifest_line(build), built.package, built.env)
    assert result.returncode == 0, result.stderr
    assert (built.package / MANIFEST_FILE).read_bytes() == before


def test_manifest_never_lists_its_own_temp_file(tmp_path: Path, sandbox: Sandbox, build: list[str]) -> None:
    # GIVEN a `find` that is slow to start, as on a busy build host (the temp file's redirection, set up by the
    # shell for the pipeline's last stage, is then in place before find reads the folder)
    real_find = shutil.which("find")
    assert real_find
    slow_bin = tmp_path / "slow-find-bin"
    slow_bin.mkdir()
    (slow_bin / "find").write_text(f'#!/usr/bin/env bash\nsleep 0.3\nexec "{real_find}" "$@"\n')
    (slow_bin / "find").chmod(0o755)
    env = {**sandbox.env, "PATH": f"{slow_bin}{os.pathsep}{sandbox.env['PATH']}"}
    write_tree(sandbox.package, GOOD_PACKAGE)
    # WHEN the manifest line runs
    result = bash(manifest_line(build), sandbox.package, env)
    # THEN the manifest lists only the package's files, so it still verifies
    assert result.returncode == 0, result.stderr
    listed = [path for path, _ in read_manifest(sandbox.package)]
    assert f"./{MANIFEST_FILE}.tmp" not in listed, "the manifest lists its own temp file, which is then moved away"
    assert sha256sum_check(sandbox.package, env).returncode == 0


def test_changing_one_byte_is_detected(built: Sandbox) -> None:
    # GIVEN one byte of a built file changed after the manifest was written
    target = built.package / "lib/infra-stack.ts"
    data = bytearray(target.read_bytes())
    data[0] ^= 0x01
    target.write_bytes(bytes(data))
    # WHEN the manifest is checked  THEN that file, and only it, fails
    result = sha256sum_check(built.package, built.env)
    assert result.returncode == 1
    assert "./lib/infra-stack.ts: FAILED\n" in result.stdout
    assert result.stdout.count("FAILED") == 1


def test_removing_a_file_is_detected(built: Sandbox) -> None:
    # GIVEN a file with an odd name removed after the manifest was written
    (built.package / "docs/café ünïcode ✓.txt").unlink()
    # WHEN the manifest is checked  THEN it fails, naming the file
    result = sha256sum_check(built.package, built.env)
    assert result.returncode == 1
    assert "./docs/café ünïcode ✓.txt: FAILED open or read" in result.stdout


def test_adding_a_file_is_detected_only_by_comparing_the_file_list(built: Sandbox) -> None:
    # GIVEN a file added after the manifest was written
    write_tree(built.package, {"lib/backdoor.ts": "export const x = 1;\n"})
    # WHEN the manifest is checked with sha256sum alone
    result = sha256sum_check(built.package, built.env)
    # THEN sha256sum does not notice: it only verifies the files the manifest lists
    assert result.returncode == 0, result.stdout + result.stderr
    # BUT comparing the manifest's file list with the tree finds exactly the added file
    listed = {path for path, _ in read_manifest(built.package)}
    assert set(tree_digests(built.package)) - listed == {"./lib/backdoor.ts"}


def test_failing_user_command_aborts_before_the_manifest(sandbox: Sandbox, build: list[str]) -> None:
    # GIVEN a package whose lint fails
    write_tree(sandbox.package, GOOD_PACKAGE)
    env = {**sandbox.env, "NPM_LINT_EXIT": "3"}
    # WHEN the build phase runs (on-failure: ABORT)
    phase = run_phase(build, sandbox.package, env)
    # THEN it fails with lint's exit code, the build never ran and no manifest was written
    assert phase.returncode == 3
    assert sandbox.npm_calls() == ["ci", "run lint"]
    assert not (sandbox.package / MANIFEST_FILE).exists()
    assert not (sandbox.package / "dist").exists()


# --- post_build: diagnostics ---------------------------------------------------------------------------------------


def test_diagnostics_print_the_source_version_but_no_secrets(sandbox: Sandbox, post_build: list[str]) -> None:
    # GIVEN the variables the pipeline passes, plus secrets in the environment
    version_id = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    env = {
        **sandbox.env,
        "SOURCE_BUCKET": "seed-source-bucket",
        "SOURCE_OBJECT_KEY": "source.zip",
        "SOURCE_OBJECT_VERSION_ID": version_id,
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "AWS_SECRET_ACCESS_KEY": "shh-secret",
        "AWS_SESSION_TOKEN": "shh-session-token",
        "NPM_TOKEN": "shh-npm-token",
    }
    # WHEN the post_build phase runs
    phase = run_phase(post_build, sandbox.package, env)
    output = phase.stdout + phase.stderr
    # THEN it succeeds, names the source object version, OS and tools, and prints no secret (nor its name)
    assert phase.returncode == 0, phase.stderr
    assert f"Source object: s3://seed-source-bucket/source.zip version {version_id}" in phase.stdout
    assert "Validation succeeded: 1" in phase.stdout
    if Path("/etc/os-release").is_file():
        assert "OS: " in phase.stdout
    assert "npm: 0.0.0-stub" in phase.stdout
    assert "shh-" not in output
    assert "AWS_SECRET_ACCESS_KEY" not in output
    assert "NPM_LOG" not in output, "environment variable names leaked: the environment was dumped"


def test_diagnostics_succeed_without_source_variables_or_tools(
    tmp_path: Path, sandbox: Sandbox, post_build: list[str]
) -> None:
    # GIVEN a bare environment: no source variables, and an empty PATH (no node, npm, python3, java, go, head)
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    env = {**sandbox.env, "PATH": str(empty_bin)}
    # WHEN the post_build phase runs  THEN it still succeeds (diagnostics must never fail the build)
    phase = run_phase(post_build, sandbox.package, env)
    assert phase.returncode == 0, phase.stderr
    assert "Source object: s3://?/? version ?" in phase.stdout
    assert not re.search(r"^(node|npm|python3|java|go): ", phase.stdout, flags=re.MULTILINE)
