"""The validate stage's buildspec, and the next stage's, run for real in bash against sample packages.

The lines come from the seed example's synthesized template (what CodeBuild will run), not from a rebuild of them;
the next stage's come from ``verified_buildspec`` because the seed has no later stage yet. CodeBuild is emulated by
the one ``s3vp run`` uses (``cli/_local/codebuild.py``): each command of a phase runs with ``bash -c`` in the source
folder, in order, and a phase stops at the first command that exits non-zero (``on-failure: ABORT``); a failed
pre_build skips the later phases; the build's log is read back phase by phase. Stand-ins go first on PATH: ``aws`` is
``s3vp run``'s (``cli/_local/aws.py``), serving the sandbox's objects from disk (each call logged by its wrapper),
``npm`` logs its arguments and writes what ``npm ci`` / ``npm run build`` would, and ``python3`` is Python 3.8 when
this machine has one, as on the ``aws/codebuild/standard:5.0`` image. The buildspec's scratch folder (``WORK_DIR``, a
fixed path in the build container) is pointed at a per-test folder, so tests neither share state nor touch the real
one. No network.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from s3_validated_pipeline import PackageCheckOptions, _buildspec
from s3_validated_pipeline._build_project import CHECKER_FILE, checker_sha256
from s3_validated_pipeline._buildspec import REPORT_PATH, VERDICT_TAG, WORK_DIR
from s3_validated_pipeline._names import WAIT_FIELD
from s3_validated_pipeline.check import MANIFEST_PATH
from s3_validated_pipeline.cli._local import aws as stand_in
from s3_validated_pipeline.cli._local.codebuild import Build
from tests.check.package_corpus import DOCUMENTED_EXAMPLE_KEY_ID, FAKE_ACCESS_KEY_ID, write_zip
from tests.conftest import python38

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "sha256sum", "python3")),
    reason="needs bash, GNU coreutils and python3, as on the CodeBuild images",
)

SEED_REQUIRED_FILES = ("package.json", "package-lock.json", "cdk.json", "tsconfig.json", "bin/*.ts")
SEED_COMMANDS = ("npm ci", "npm run lint", "npm run build")
DEPLOY_COMMAND = "echo deploying"

SOURCE_BUCKET = "seed-source-bucket"
V1 = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"  # S3 version ids are opaque: letters, digits, '+', '.', '_'
V2 = "Xp.7dKq_2LmQ0vR9zT1uW4yB6nC8eF3gH"

GOOD_PACKAGE: dict[str, str] = {
    "package.json": json.dumps({"name": "infra", "scripts": {"lint": "eslint .", "build": "tsc"}}),
    "package-lock.json": json.dumps({"name": "infra", "lockfileVersion": 3, "packages": {}}),
    "cdk.json": json.dumps({"app": "npx ts-node bin/app.ts"}),
    "tsconfig.json": json.dumps({"compilerOptions": {"outDir": "dist", "strict": True}}),
    "bin/app.ts": "import { App } from 'aws-cdk-lib';\nnew App();\n",
    "lib/stack.ts": "export class InfraStack {}\n",
    ".gitignore": "node_modules\ndist\n",
    "docs/read me.md": f"Configure a profile, e.g. aws_access_key_id = {DOCUMENTED_EXAMPLE_KEY_ID}\n",
}
NPM_OUTPUTS = ("node_modules/left-pad/index.js", "dist/bin/app.js")

# Stands in for npm: logs each call (outside the package) and writes what the real commands would produce.
NPM_STUB = """#!/usr/bin/env bash
echo "$*" >> "$NPM_LOG"
case "$*" in
  --version) echo "0.0.0-stub" ;;
  ci) mkdir -p node_modules/left-pad && echo "module.exports = 1;" > node_modules/left-pad/index.js ;;
  "run lint") exit "${NPM_LINT_EXIT:-0}" ;;
  "run build") mkdir -p dist/bin && echo "console.log('built');" > dist/bin/app.js ;;
  *) echo "npm stub: unexpected arguments: $*" >&2; exit 64 ;;
esac
"""

STAND_IN = Path(stand_in.__file__).resolve()
PINNED_MESSAGE = "The package checker does not match the SHA-256 pinned in the template; refusing to run it."


def make_zip(files: Mapping[str, str | bytes]) -> bytes:
    """A deterministic zip of ``files`` (any name, even ``../evil.sh``), as a developer's zip tool writes it."""
    return write_zip(files, date_time=(2024, 1, 2, 3, 4, 6))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def s3_checksum(data: bytes) -> str:
    """S3's ``ChecksumSHA256``: the base64 of the raw digest."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


GOOD_ZIP = make_zip(GOOD_PACKAGE)


# --- Running buildspecs as s3vp run does ------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseRun:
    """What one phase ran, read back from the build's log: ``runs`` commands (up to the first that failed), the
    phase's exit code (0, or the failed command's) and its output (stdout and stderr together, as CodeBuild logs)."""

    runs: int
    returncode: int
    output: str


@dataclass(frozen=True)
class BuildRun:
    """The phases one build ran, in order; a phase missing here never ran."""

    phases: dict[str, PhaseRun]

    def __getitem__(self, phase: str) -> PhaseRun:
        return self.phases[phase]


_PHASE = re.compile(r"^\[Container\] Entering phase (\w+)\n(.*?)^\[Container\] Phase complete: \1 State: ", re.M | re.S)
_FAILED = re.compile(r"\[Container\] Command did not exit successfully .* exit status (\d+)\n\Z", re.S)


def phases_of(log: str, spec: Mapping[str, Any]) -> BuildRun:
    """Split a build's log into its phases; each command's output follows its "Running command" line."""
    phases = {}
    for match in _PHASE.finditer(log):
        name, body = match.group(1).lower(), match.group(2)
        runs = body.split("[Container] Running command ")[1:]
        outputs = []
        for command, run in zip(spec["phases"][name].get("commands", []), runs, strict=False):
            assert run.startswith(command + "\n"), f"the log names another command than {command!r}: {run[:200]!r}"
            outputs.append(run[len(command) + 1 :])
        failed = _FAILED.search(outputs[-1]) if outputs else None
        if failed:
            outputs[-1] = outputs[-1][: failed.start()]
        phases[name] = PhaseRun(len(runs), int(failed.group(1)) if failed else 0, "".join(outputs))
    return BuildRun(phases)


@dataclass
class Sandbox:
    """One build container: stub tools, the objects "S3" serves, the scratch folder and the source folder the
    commands run in."""

    root: Path
    src: Path = field(init=False)
    """The input artifact, as CodeBuild extracts it (CODEBUILD_SRC_DIR); commands run here."""
    work: Path = field(init=False)
    """Stands in for WORK_DIR."""
    s3: Path = field(init=False)
    """Where the served objects' files are."""
    objects: list[dict[str, Any]] = field(init=False, default_factory=list)
    """What the stand-in aws serves (its configuration's ``objects``)."""
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.src, self.work, self.s3, stub_bin = (self.root / name for name in ("src", "work", "s3", "bin"))
        for folder in (self.src, self.s3, stub_bin):
            folder.mkdir(parents=True)
        self._config, self._calls = self.root / "aws-config.json", self.root / "aws-calls.jsonl"
        self._save_objects()
        log_call = f"{sys.executable} -I -c 'import json, sys; print(json.dumps(sys.argv[1:]))' \"$@\" >> {self._calls}"
        serve = f'exec "{sys.executable}" -I "{STAND_IN}" "{self._config}" "$@"'
        (stub_bin / "aws").write_text(f"#!/bin/sh\n{log_call}\n{serve}\n")
        (stub_bin / "npm").write_text(NPM_STUB)
        for tool in ("aws", "npm"):
            (stub_bin / tool).chmod(0o755)
        if python38():
            (stub_bin / "python3").symlink_to(str(python38()))
        # Only what the commands need: the test process's own environment (and any secret in it) is not passed on.
        self.env = {
            "PATH": f"{stub_bin}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "NPM_LOG": str(self.root / "npm.log"),
        }

    def _save_objects(self) -> None:
        self._config.write_text(json.dumps({"objects": self.objects, "real_aws": None}))

    def put_object(self, bucket: str, key: str, data: bytes, version_id: str | None = None, **extra: str) -> None:
        """Serve ``data`` as ``s3://bucket/key`` (its version ``version_id``; None: whatever version is asked for),
        instead of what was served there before."""
        path = self.s3 / f"{len(list(self.s3.iterdir()))}.bin"
        path.write_bytes(data)
        served = {"bucket": bucket, "key": key, "version_id": version_id}
        self.objects = [item for item in self.objects if {name: item[name] for name in served} != served]
        self.objects.append({**served, "path": str(path), **extra})
        self._save_objects()

    def delete_objects(self, bucket: str) -> None:
        self.objects = [item for item in self.objects if item["bucket"] != bucket]
        self._save_objects()

    def put_checker(self, data: bytes | None = None) -> None:
        """Serve ``data`` (default: the real check.py) where the project's variables say the checker asset is."""
        self.put_object(
            self.env["CHECKER_BUCKET"], self.env["CHECKER_KEY"], CHECKER_FILE.read_bytes() if data is None else data
        )

    def upload(self, package: bytes, version_id: str, *, checksum: str | None = None) -> None:
        """Upload ``package`` as a new version of the source object; ``checksum``: what S3 reports, if not its own."""
        extra = {} if checksum is None else {"checksum_sha256": checksum}
        self.put_object(self.env["SOURCE_BUCKET"], self.env["SOURCE_OBJECT_KEY"], package, version_id, **extra)

    def unpack(self, package: bytes) -> None:
        """Extract ``package`` into the source folder, as CodeBuild does with the pipeline's source artifact."""
        with zipfile.ZipFile(io.BytesIO(package)) as archive:
            archive.extractall(self.src)

    def run_build(self, spec: Mapping[str, Any], env: Mapping[str, str] | None = None) -> BuildRun:
        """Run a buildspec's phases as ``s3vp run`` does (as CodeBuild does): a failed pre_build skips the rest;
        post_build always follows build, told by CODEBUILD_BUILD_SUCCEEDING whether the build succeeded."""
        log = self.root / "build.log"
        with log.open("w", encoding="utf-8") as out:
            Build(self.src, self.work, self.env if env is None else env, out, timeout=60).run(spec)
        return phases_of(log.read_text(encoding="utf-8"), spec)

    def run_phase(self, name: str, spec: Mapping[str, Any], env: Mapping[str, str] | None = None) -> PhaseRun:
        """Run the phase ``name`` of ``spec`` alone."""
        return self.run_build({"phases": {name: spec["phases"][name]}}, env)[name]

    def aws_calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self._calls.read_text().splitlines()] if self._calls.exists() else []

    def get_object_calls(self) -> list[list[str]]:
        return [call for call in self.aws_calls() if call[:2] == ["s3api", "get-object"]]

    def source_calls(self) -> list[str]:
        """The s3api operations called, in order: ``head-object``, ``get-object``."""
        return [call[1] for call in self.aws_calls() if call[0] == "s3api"]

    def tags(self, version_id: str) -> dict[str, str]:
        """The tags the stand-in aws keeps for the source object's version ``version_id``."""
        stored = self.root / stand_in.TAGS_FILE
        name = f"{SOURCE_BUCKET}/{self.env['SOURCE_OBJECT_KEY']}/{version_id}"
        tag_set = json.loads(stored.read_text()).get(name, []) if stored.exists() else []
        return {tag["Key"]: tag["Value"] for tag in tag_set}

    def tag(self, version_id: str, tags: Mapping[str, str]) -> None:
        """Set the source version's tags, as someone with the right to would before its check."""
        stored = self.root / stand_in.TAGS_FILE
        name = f"{SOURCE_BUCKET}/{self.env['SOURCE_OBJECT_KEY']}/{version_id}"
        stored.write_text(json.dumps({name: [{"Key": key, "Value": value} for key, value in tags.items()]}))

    def npm_calls(self) -> list[str]:
        log = Path(self.env["NPM_LOG"])
        return log.read_text().splitlines() if log.exists() else []


def option(call: Sequence[str], name: str) -> str:
    """The value following ``name`` in one logged command line."""
    assert call.count(name) == 1, f"{name} must be given exactly once: {call}"
    return call[call.index(name) + 1]


def tree_digests(root: Path) -> dict[str, str]:
    """Relative POSIX path -> SHA-256 of every regular file under ``root`` except the manifest, by hashlib."""
    return {
        path.relative_to(root).as_posix(): sha256_hex(path.read_bytes())
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).as_posix() != MANIFEST_PATH
    }


def flip_byte(path: Path, index: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[index] ^= 0x01
    path.write_bytes(bytes(data))


# --- The buildspec and variables from the synthesized template ----------------------------------------------------


@pytest.fixture(scope="module")
def project(seed: Any) -> dict[str, Any]:
    """The properties of the seed template's validate-stage CodeBuild project."""
    projects = seed.template.find_resources("AWS::CodeBuild::Project")
    (resource,) = [v for k, v in projects.items() if "ValidationProject" in k]
    properties: dict[str, Any] = resource["Properties"]
    return properties


@pytest.fixture(scope="module")
def buildspec(project: dict[str, Any]) -> dict[str, Any]:
    source = project["Source"]
    assert isinstance(source["BuildSpec"], str), "the buildspec must be inline JSON, not a file or a token"
    spec: dict[str, Any] = json.loads(source["BuildSpec"])
    return spec


@pytest.fixture(scope="module")
def project_variables(project: dict[str, Any]) -> dict[str, str]:
    """The project's environment variables; a CloudFormation reference becomes a test value."""
    variables = {}
    for variable in project["Environment"]["EnvironmentVariables"]:
        assert variable["Type"] == "PLAINTEXT"
        value = variable["Value"]
        variables[variable["Name"]] = value if isinstance(value, str) else f"test-{variable['Name'].lower()}"
    return variables


def pipeline_action(seed: Any, provider: str) -> dict[str, Any]:
    """The configuration of the seed pipeline's first action run by ``provider`` (Source, then Validate)."""
    (pipeline,) = seed.template.find_resources("AWS::CodePipeline::Pipeline").values()
    actions = [action for stage in pipeline["Properties"]["Stages"] for action in stage["Actions"]]
    action = next(action for action in actions if action["ActionTypeId"]["Provider"] == provider)
    configuration: dict[str, Any] = action["Configuration"]
    return configuration


@pytest.fixture(scope="module")
def source_action(seed: Any) -> dict[str, Any]:
    """The pipeline's S3 source action's configuration."""
    return pipeline_action(seed, "S3")


@pytest.fixture(scope="module")
def verified_spec() -> dict[str, Any]:
    return _buildspec.verified_buildspec(commands=[DEPLOY_COMMAND], runtime_versions={})


def validate_sandbox(root: Path, project_variables: Mapping[str, str], source_key: str, version_id: str) -> Sandbox:
    """A validate-stage container: the project's variables, the pipeline's source variables and the real checker."""
    sandbox = Sandbox(root)
    sandbox.env.update(project_variables)
    sandbox.env.update(
        {"SOURCE_BUCKET": SOURCE_BUCKET, "SOURCE_OBJECT_KEY": source_key, "SOURCE_OBJECT_VERSION_ID": version_id}
    )
    sandbox.put_checker()
    return sandbox


@pytest.fixture
def sandbox(tmp_path: Path, project_variables: dict[str, str], source_action: dict[str, Any]) -> Sandbox:
    """A validate-stage container whose pipeline execution was started by version V1 of the source object."""
    return validate_sandbox(tmp_path / "box", project_variables, source_action["S3ObjectKey"], V1)


@dataclass(frozen=True)
class Validated:
    sandbox: Sandbox
    run: BuildRun


@pytest.fixture(scope="module")
def validated(
    tmp_path_factory: pytest.TempPathFactory,
    buildspec: dict[str, Any],
    project_variables: dict[str, str],
    source_action: dict[str, Any],
) -> Validated:
    """The template's buildspec, run once on the good package uploaded as V1; V2, a broken package, is current."""
    box = validate_sandbox(tmp_path_factory.mktemp("validated"), project_variables, source_action["S3ObjectKey"], V1)
    box.upload(GOOD_ZIP, V1)
    box.upload(make_zip({"README.md": "not the package that started this execution\n"}), V2)
    box.unpack(GOOD_ZIP)
    return Validated(box, box.run_build(buildspec))


# --- Shape -------------------------------------------------------------------------------------------------------


def test_template_buildspec_has_the_validate_stages_phases(buildspec: dict[str, Any]) -> None:
    # GIVEN the buildspec synthesized for the seed example
    phases = buildspec["phases"]
    # THEN it runs in bash, installs Node.js 16, checks then builds (both aborting), records, diagnoses
    assert buildspec["version"] == "0.2"
    assert buildspec["env"] == {"shell": "bash"}
    assert list(phases) == ["install", "pre_build", "build", "post_build"]
    assert phases["install"] == {"runtime-versions": {"nodejs": "16"}}
    check_options = PackageCheckOptions().arguments()
    assert phases["pre_build"] == {
        "on-failure": "ABORT",
        "commands": [
            _buildspec.fetch_checker(),
            _buildspec.fetch_source(PackageCheckOptions().max_package_bytes),
            _buildspec.check_package(SEED_REQUIRED_FILES, check_options),
            _buildspec.record_verdict("accepted"),
        ],
    }
    assert phases["build"] == {"on-failure": "ABORT", "commands": [*SEED_COMMANDS, _buildspec.write_manifest()]}
    assert phases["post_build"] == {"commands": [_buildspec.diagnostics()]}
    assert buildspec["artifacts"] == {"files": ["**/*"]}


def test_template_pins_the_checker_and_passes_the_source_version(
    project_variables: dict[str, str], seed: Any, source_action: dict[str, Any]
) -> None:
    # GIVEN the project's variables  THEN they locate the checker asset and pin the digest of the real check.py
    assert tuple(project_variables) == _buildspec.CHECKER_VARIABLES
    assert project_variables["CHECKER_SHA256"] == checker_sha256() == sha256_hex(CHECKER_FILE.read_bytes())
    # AND the validate action passes the source variables, the version being the execution's own
    passed = json.dumps(pipeline_action(seed, "CodeBuild")["EnvironmentVariables"])
    for name in _buildspec.SOURCE_VARIABLES:
        assert f'\\"name\\":\\"{name}\\"' in passed
    assert "#{SourceVariables.VersionId}" in passed
    assert f'\\"value\\":\\"{source_action["S3ObjectKey"]}\\"' in passed


def test_verified_buildspec_fetches_the_same_checker_then_verifies(
    buildspec: dict[str, Any], verified_spec: dict[str, Any]
) -> None:
    # GIVEN the next stage's buildspec  THEN its pre_build is the validate stage's checker lines, then the manifest's
    # and the provenance's verification
    pre_build = verified_spec["phases"]["pre_build"]
    assert pre_build["on-failure"] == "ABORT"
    assert pre_build["commands"][0] == buildspec["phases"]["pre_build"]["commands"][0]
    assert pre_build["commands"] == [
        _buildspec.fetch_checker(),
        _buildspec.verify_manifest(),
        _buildspec.verify_provenance(),
    ]
    assert verified_spec["phases"]["build"] == {"on-failure": "ABORT", "commands": [DEPLOY_COMMAND]}


# --- 1. A good package, end to end -------------------------------------------------------------------------------


def test_good_package_pre_build_verifies_the_checker_fetches_exactly_v1_and_accepts(validated: Validated) -> None:
    # GIVEN the good package uploaded as V1 (and a broken V2 since)  WHEN pre_build ran
    pre_build, box = validated.run["pre_build"], validated.sandbox
    # THEN all four lines succeeded and the checker accepted the package with V1's digest
    assert pre_build.returncode == 0, pre_build.output
    assert pre_build.runs == 4
    assert PINNED_MESSAGE not in pre_build.output
    assert f"ACCEPTED: '{box.work}/source.zip': 0 finding(s)" in pre_build.output
    assert f"sha256 {sha256_hex(GOOD_ZIP)}" in pre_build.output
    # AND the checker came from the asset location, and the package was requested by exactly V1, with checksums
    calls = box.aws_calls()
    assert calls[0] == [
        "s3",
        "cp",
        "--quiet",
        f"s3://{box.env['CHECKER_BUCKET']}/{box.env['CHECKER_KEY']}",
        f"{box.work}/check.py",
    ]
    assert box.source_calls() == ["head-object", "get-object", "get-object-tagging", "put-object-tagging"], (
        "its size is asked for before the download, and its verdict recorded after the check"
    )
    (head_object,) = [call for call in calls if call[:2] == ["s3api", "head-object"]]
    (get_object,) = box.get_object_calls()
    tagging = [call for call in calls if call[1:2] == ["put-object-tagging"]]
    for call in (head_object, get_object, *tagging):
        assert option(call, "--bucket") == SOURCE_BUCKET
        assert option(call, "--key") == box.env["SOURCE_OBJECT_KEY"]
        assert option(call, "--version-id") == V1
    assert option(get_object, "--checksum-mode") == "ENABLED"
    assert (box.work / "source.zip").read_bytes() == GOOD_ZIP
    # AND V1 is tagged accepted before any of its commands run
    assert box.tags(V1) == {VERDICT_TAG: "accepted"}


def test_good_package_build_runs_the_commands_in_order_then_writes_the_records(validated: Validated) -> None:
    # WHEN the build phase ran  THEN npm ran the seed's commands in order, and the records were written after them
    build, box = validated.run["build"], validated.sandbox
    assert build.returncode == 0, build.output
    assert build.runs == len(SEED_COMMANDS) + 1
    assert box.npm_calls() == ["ci", "run lint", "run build", "--version"], "--version: post_build's diagnostics"
    report = json.loads((box.src / REPORT_PATH).read_text())
    assert (box.src / REPORT_PATH).read_bytes() == (box.work / "package-check.json").read_bytes()
    assert report["accepted"] is True
    assert report["sha256"] == sha256_hex(GOOD_ZIP)
    assert f"hashed into {MANIFEST_PATH}" in build.output


def test_good_package_manifest_records_v1_and_every_file_but_itself(validated: Validated) -> None:
    # GIVEN the manifest the build wrote
    src = validated.sandbox.src
    manifest = json.loads((src / MANIFEST_PATH).read_text())
    # THEN it names the source zip by V1 and its SHA-256
    assert manifest["version"] == 1
    assert manifest["algorithm"] == "sha256"
    assert manifest["source"] == {
        "bucket": SOURCE_BUCKET,
        "key": validated.sandbox.env["SOURCE_OBJECT_KEY"],
        "versionId": V1,
        "sha256": sha256_hex(GOOD_ZIP),
    }
    # AND its files are exactly the tree's (package files, npm outputs, the report), with hashlib's digests
    assert manifest["files"] == tree_digests(src)
    assert set(manifest["files"]) >= {*GOOD_PACKAGE, *NPM_OUTPUTS, REPORT_PATH}
    assert MANIFEST_PATH not in manifest["files"]


def test_good_package_post_build_reports_success(validated: Validated) -> None:
    post_build = validated.run["post_build"]
    assert post_build.returncode == 0, post_build.output
    assert f"Source object: s3://{SOURCE_BUCKET}/" in post_build.output
    assert f"version {V1}" in post_build.output
    assert "Succeeded: 1" in post_build.output


# --- 2., 3. Rejected packages ------------------------------------------------------------------------------------


def test_package_missing_required_files_fails_pre_build_naming_each_one(
    sandbox: Sandbox, buildspec: dict[str, Any]
) -> None:
    # GIVEN a package with package.json but no lock file, cdk.json, tsconfig.json nor bin/*.ts (only near misses)
    package = {"package.json": "{}", "lib/stack.ts": "", "bin/app.js": "", "bin/sub/nested.ts": ""}
    sandbox.upload(make_zip(package), V1)
    sandbox.unpack(make_zip(package))
    # WHEN the template's buildspec runs
    run = sandbox.run_build(buildspec)
    # THEN pre_build fails at the check with exit 1, naming every missing pattern and no other
    pre_build = run["pre_build"]
    assert pre_build.returncode == 1
    assert pre_build.runs == 3
    missing = re.findall(r"\[required-missing\] No file matches the required pattern '(.+)'", pre_build.output)
    assert sorted(missing) == sorted(["package-lock.json", "cdk.json", "tsconfig.json", "bin/*.ts"])
    assert "REJECTED" in pre_build.output
    # AND nothing else ran: no npm, no records
    assert not {"build", "post_build"} & set(run.phases)
    assert sandbox.npm_calls() == []
    assert not (sandbox.src / ".validated").exists()


@pytest.mark.parametrize(
    ("extra", "rule", "path"),
    [
        pytest.param({"../evil.sh": "#!/bin/sh\nrm -rf ~\n"}, "path-traversal", "../evil.sh", id="path-traversal"),
        pytest.param(
            {"lib/config.ts": f"export const keyId = '{FAKE_ACCESS_KEY_ID}';\n"},
            "credentials",
            "lib/config.ts",
            id="access-key-id",
        ),
        pytest.param({".env": "TOKEN=x\n"}, "forbidden-file", ".env", id="dotenv"),
    ],
)
def test_malicious_package_is_rejected_in_pre_build_naming_the_rule(
    sandbox: Sandbox, buildspec: dict[str, Any], extra: dict[str, str], rule: str, path: str
) -> None:
    # GIVEN an otherwise good package with one malicious entry
    sandbox.upload(make_zip({**GOOD_PACKAGE, **extra}), V1)
    # WHEN the template's buildspec runs
    run = sandbox.run_build(buildspec)
    # THEN the check rejects it, naming the rule and the entry, and never echoes a secret
    pre_build = run["pre_build"]
    assert pre_build.returncode == 1, pre_build.output
    assert pre_build.runs == 3
    assert re.search(rf"^  \[{re.escape(rule)}\] .*'{re.escape(path)}'", pre_build.output, flags=re.MULTILINE)
    report = json.loads((sandbox.work / "package-check.json").read_text())
    assert [(f["rule"], f["path"]) for f in report["findings"]] == [(rule, path)]
    assert FAKE_ACCESS_KEY_ID not in pre_build.output
    # AND the build never ran, and V1 is tagged rejected, for the source bucket to expire early
    assert not {"build", "post_build"} & set(run.phases)
    assert sandbox.npm_calls() == []
    assert sandbox.tags(V1) == {VERDICT_TAG: "rejected"}


def waited_lines(output: str) -> list[dict[str, Any]]:
    """The JSON lines the check printed of how long the upload waited (what the validate project's metric filter
    reads: lines that are JSON objects with that field)."""
    found = []
    for line in output.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and WAIT_FIELD in value:
            found.append(value)
    return found


def test_the_check_reports_how_long_the_upload_waited(sandbox: Sandbox, buildspec: dict[str, Any]) -> None:
    # GIVEN the good package uploaded two hours ago, as an execution of pipeline "team-payments" runs
    sandbox.upload(GOOD_ZIP, V1)
    two_hours_ago = time.time() - 7200
    (served,) = [Path(item["path"]) for item in sandbox.objects if item["version_id"] == V1]
    os.utime(served, (two_hours_ago, two_hours_ago))
    env = {**sandbox.env, "CODEBUILD_INITIATOR": "codepipeline/team-payments"}
    # WHEN pre_build runs
    pre_build = sandbox.run_phase("pre_build", buildspec, env)
    # THEN one JSON line says how long it waited, for the pipeline that started the build, and the check goes on
    assert pre_build.returncode == 0, pre_build.output
    (waited,) = waited_lines(pre_build.output)
    assert waited["pipeline"] == "team-payments"
    assert 7200 <= waited[WAIT_FIELD] < 7200 + 600


@pytest.mark.parametrize(
    ("last_modified", "reported"),
    [
        pytest.param("2026-01-01T00:00:00+00:00", True, id="cli-v2"),
        pytest.param("Thu, 01 Jan 2026 00:00:00 GMT", True, id="http-date"),
        pytest.param("2026-01-01T00:00:00Z", True, id="zulu"),
        pytest.param("yesterday", False, id="not-a-time"),
        pytest.param("", False, id="missing"),
    ],
)
def test_the_wait_line_reads_each_time_format_and_never_fails_the_build(
    sandbox: Sandbox, last_modified: str, reported: bool
) -> None:
    # GIVEN what GetObject answered, with LastModified as the AWS CLI may print it (or not a time at all)
    answer = json.dumps({"LastModified": last_modified} if last_modified else {})
    spec = {
        "phases": {
            "pre_build": {
                "commands": [
                    f"mkdir -p {WORK_DIR} && printf '%s' {shlex.quote(answer)} > {WORK_DIR}/source-object.json",
                    _buildspec._REPORT_WAIT,
                ]
            }
        }
    }
    # WHEN the line runs  THEN it succeeds either way, reporting the wait from a time it can read
    pre_build = sandbox.run_phase("pre_build", spec)
    assert pre_build.returncode == 0, pre_build.output
    lines = waited_lines(pre_build.output)
    assert bool(lines) == reported, pre_build.output
    if reported:
        assert lines[0][WAIT_FIELD] > 24 * 3600  # 2026-01-01 is long past
    else:
        assert "Could not tell how long the upload waited" in pre_build.output


def test_the_verdict_keeps_the_versions_other_tags_and_a_retry_keeps_it(
    sandbox: Sandbox, buildspec: dict[str, Any]
) -> None:
    # GIVEN the good package as V1, already tagged by its team
    sandbox.upload(GOOD_ZIP, V1)
    sandbox.tag(V1, {"team": "payments"})
    # WHEN pre_build runs twice (CodePipeline's retry of a failed stage runs it again)
    first = sandbox.run_phase("pre_build", buildspec)
    again = sandbox.run_phase("pre_build", buildspec)
    # THEN the verdict joins the team's tag, and the retry finds it already there and writes nothing
    assert (first.returncode, again.returncode) == (0, 0), first.output + again.output
    assert sandbox.tags(V1) == {"team": "payments", VERDICT_TAG: "accepted"}
    assert sandbox.source_calls().count("put-object-tagging") == 1


@pytest.mark.parametrize("set_before", ["rejected", "pending"])
def test_fails_when_the_version_already_carries_another_verdict(
    sandbox: Sandbox, buildspec: dict[str, Any], set_before: str
) -> None:
    # GIVEN the good package as V1, tagged with another verdict before its check (by someone with the right to tag)
    sandbox.upload(GOOD_ZIP, V1)
    sandbox.unpack(GOOD_ZIP)
    sandbox.tag(V1, {VERDICT_TAG: set_before})
    # WHEN the build runs
    run = sandbox.run_build(buildspec)
    # THEN pre_build fails at the verdict, naming the one found, none of the package's commands run, and the tag is
    # left as it was for someone to look into
    pre_build = run["pre_build"]
    assert (pre_build.returncode, pre_build.runs) == (1, 4), pre_build.output
    assert f"This version already carries the verdict {set_before}, set before its check" in pre_build.output
    assert not {"build", "post_build"} & set(run.phases)
    assert sandbox.npm_calls() == []
    assert sandbox.tags(V1) == {VERDICT_TAG: set_before}


def test_a_refusal_stays_a_refusal_when_its_version_cannot_be_tagged(
    sandbox: Sandbox, buildspec: dict[str, Any]
) -> None:
    # GIVEN a package with a forbidden file, and tags that cannot be written (the stand-in's tag store is a folder)
    sandbox.upload(make_zip({**GOOD_PACKAGE, ".env": "TOKEN=x\n"}), V1)
    (sandbox.root / stand_in.TAGS_FILE).mkdir()
    # WHEN pre_build runs
    pre_build = sandbox.run_phase("pre_build", buildspec)
    # THEN it is still the checker's refusal (exit code 1, the rule named), and the failed tagging is said
    assert (pre_build.returncode, pre_build.runs) == (1, 3), pre_build.output
    assert "[forbidden-file] '.env'" in pre_build.output
    assert "Could not tag the refused version rejected" in pre_build.output


def test_commands_run_on_the_checkers_extraction_never_on_codebuilds(
    sandbox: Sandbox, buildspec: dict[str, Any]
) -> None:
    # GIVEN the good package as V1, and a source folder holding what another extractor made of the same bytes:
    # a secret, a symlink to the root, a script and a world-writable setuid copy of a package file
    sandbox.upload(GOOD_ZIP, V1)
    sandbox.unpack(GOOD_ZIP)
    (sandbox.src / ".env").write_text(f"AWS_ACCESS_KEY_ID={FAKE_ACCESS_KEY_ID}\n")
    (sandbox.src / "root").symlink_to("/")
    (sandbox.src / "bin" / "extra.sh").write_text("echo injected\n")
    (sandbox.src / "package.json").chmod(0o4777)
    # WHEN pre_build runs
    run = sandbox.run_build(buildspec)
    pre_build = run["pre_build"]
    # THEN the commands start on exactly the checker's extraction: the package's files, byte for byte, and nothing
    # CodeBuild's extraction added, with normalised modes
    assert pre_build.returncode == 0, pre_build.output
    built = {"node_modules/left-pad/index.js", "dist/bin/app.js", MANIFEST_PATH, REPORT_PATH}
    files = {
        path.relative_to(sandbox.src).as_posix(): path
        for path in sandbox.src.rglob("*")
        if path.is_file() or path.is_symlink()
    }
    assert set(files) - built == set(GOOD_PACKAGE)
    for name, content in GOOD_PACKAGE.items():
        assert files[name].read_text() == content
        assert files[name].stat().st_mode & 0o7777 == 0o644
    folders = [path for path in sandbox.src.rglob("*") if path.is_dir()]
    assert all(path.stat().st_mode & 0o7777 == 0o755 for path in folders)


def test_no_code_of_a_package_runs_before_its_check(sandbox: Sandbox, buildspec: dict[str, Any]) -> None:
    # GIVEN a rejected package holding a json.py, unpacked by CodeBuild where the buildspec's commands run: a Python
    # started there with `-c` would import it instead of the standard library's
    marker = sandbox.root / "package-code-ran"
    trojan = f"open({str(marker)!r}, 'w').write('ran')\n"
    package = make_zip({**GOOD_PACKAGE, "json.py": trojan, ".env": f"AWS_ACCESS_KEY_ID={FAKE_ACCESS_KEY_ID}\n"})
    sandbox.upload(package, V1)
    sandbox.unpack(package)
    # WHEN pre_build runs (the S3 checksum line uses Python before the check)
    run = sandbox.run_build(buildspec)
    # THEN the package is rejected and none of its code ran (Python runs isolated: -I)
    assert run["pre_build"].returncode == 1, run["pre_build"].output
    assert not marker.exists()


def test_rejected_package_leaves_the_working_folder_empty(sandbox: Sandbox, buildspec: dict[str, Any]) -> None:
    # GIVEN a package with a secret, unpacked by CodeBuild as usual
    package = make_zip({**GOOD_PACKAGE, ".env": f"AWS_ACCESS_KEY_ID={FAKE_ACCESS_KEY_ID}\n"})
    sandbox.upload(package, V1)
    sandbox.unpack(package)
    # WHEN pre_build runs
    run = sandbox.run_build(buildspec)
    # THEN it fails and nothing of the package is left where a later command could reach it
    assert run["pre_build"].returncode == 1
    assert list(sandbox.src.iterdir()) == []


def test_missing_source_version_fails_pre_build_before_the_check(sandbox: Sandbox, buildspec: dict[str, Any]) -> None:
    # GIVEN an execution started by a version that no longer exists (only V2 does)
    sandbox.upload(GOOD_ZIP, V2)
    # WHEN pre_build runs  THEN asking V1's size fails with the CLI's exit code, and neither a download, another
    # version nor the check runs
    pre_build = sandbox.run_build(buildspec)["pre_build"]
    assert pre_build.returncode == stand_in.REFUSED
    assert pre_build.runs == 2
    assert f"aws s3api head-object --bucket {SOURCE_BUCKET}" in pre_build.output
    assert f"--version-id {V1} --query ContentLength --output text" in pre_build.output
    assert sandbox.source_calls() == ["head-object"]
    assert not (sandbox.work / "source.zip").exists()
    assert not (sandbox.work / "package-check.json").exists()


# --- 3b. The size limit, before the download -----------------------------------------------------------------------


def with_package_limit(spec: Mapping[str, Any], limit: int) -> dict[str, Any]:
    """``spec`` (the template's) with the limit ``limit`` instead of the default in its download line."""
    commands = list(spec["phases"]["pre_build"]["commands"])
    default = PackageCheckOptions().max_package_bytes
    # Validate tags a refused version rejected; Attest, which sees only accepted ones, does not.
    (index, tags), *_ = [
        (commands.index(_buildspec.fetch_source(default, record_rejection=tags)), tags)
        for tags in (True, False)
        if _buildspec.fetch_source(default, record_rejection=tags) in commands
    ]
    commands[index] = _buildspec.fetch_source(limit, record_rejection=tags)
    return {**spec, "phases": {**spec["phases"], "pre_build": {**spec["phases"]["pre_build"], "commands": commands}}}


def test_fails_when_the_uploaded_object_is_over_the_size_limit_and_never_downloads_it(
    sandbox: Sandbox, buildspec: dict[str, Any]
) -> None:
    # GIVEN the good package as V1, and the validate buildspec with a limit one byte below its size
    sandbox.upload(GOOD_ZIP, V1)
    sandbox.unpack(GOOD_ZIP)
    limit = len(GOOD_ZIP) - 1
    # WHEN the build runs
    run = sandbox.run_build(with_package_limit(buildspec, limit))
    # THEN pre_build fails at the download line, naming the size, the limit and the option to change
    pre_build = run["pre_build"]
    assert (pre_build.returncode, pre_build.runs) == (1, 2), pre_build.output
    assert (
        f"REJECTED: the uploaded object is {len(GOOD_ZIP)} bytes, more than the limit of {limit} bytes "
        "(PackageCheckOptions.max_package_bytes); it was not downloaded." in pre_build.output
    )
    # AND S3 was only asked the size of V1, which it tagged rejected: no download, no check, no build
    assert sandbox.source_calls() == ["head-object", "get-object-tagging", "put-object-tagging"]
    assert sandbox.tags(V1) == {VERDICT_TAG: "rejected"}
    assert not (sandbox.work / "source.zip").exists()
    assert not (sandbox.work / "package-check.json").exists()
    assert not {"build", "post_build"} & set(run.phases)
    assert sandbox.npm_calls() == []


def test_an_uploaded_object_exactly_at_the_size_limit_is_downloaded_and_checked(
    sandbox: Sandbox, buildspec: dict[str, Any]
) -> None:
    # GIVEN the good package as V1, and the validate buildspec with a limit of exactly its size
    sandbox.upload(GOOD_ZIP, V1)
    sandbox.unpack(GOOD_ZIP)
    # WHEN pre_build runs  THEN the package is downloaded after its size was asked, checked and accepted
    pre_build = sandbox.run_build(with_package_limit(buildspec, len(GOOD_ZIP)))["pre_build"]
    assert (pre_build.returncode, pre_build.runs) == (0, 4), pre_build.output
    assert sandbox.source_calls()[:2] == ["head-object", "get-object"]
    assert "REJECTED" not in pre_build.output
    assert f"ACCEPTED: '{sandbox.work}/source.zip': 0 finding(s)" in pre_build.output


def test_fails_when_s3_reports_no_size_rather_than_downloading(sandbox: Sandbox, buildspec: dict[str, Any]) -> None:
    # GIVEN an aws that answers HeadObject with something other than a number (as `--output text` prints None)
    sandbox.upload(GOOD_ZIP, V1)
    real_aws = sandbox.root / "bin" / "aws"
    (sandbox.root / "bin" / "aws-real").write_bytes(real_aws.read_bytes())
    (sandbox.root / "bin" / "aws-real").chmod(0o755)
    real_aws.write_text(
        '#!/bin/sh\nif [ "$2" = head-object ]; then echo None; exit 0; fi\nexec "$(dirname "$0")/aws-real" "$@"\n'
    )
    # WHEN pre_build runs  THEN the size is refused (fail closed) and nothing is downloaded
    pre_build = sandbox.run_build(buildspec)["pre_build"]
    assert (pre_build.returncode, pre_build.runs) == (1, 2), pre_build.output
    assert "REJECTED: the uploaded object is None bytes" in pre_build.output
    assert sandbox.get_object_calls() == []
    assert not (sandbox.work / "source.zip").exists()


# --- 4. A tampered checker -----------------------------------------------------------------------------------------

TROJAN_LINE = b"import os as _os; open(_os.environ['TROJAN_MARKER'], 'w').close()\n"
FUTURE_IMPORT = b"from __future__ import annotations\n"


def tampered_checker(kind: str) -> bytes | None:
    real = CHECKER_FILE.read_bytes()
    if kind == "one-byte":
        index = real.index(b"Check an uploaded zip")
        changed = bytearray(real)
        changed[index] ^= 0x20  # 'C' -> 'c' in the docstring: the code is unchanged, the digest is not
        return bytes(changed)
    if kind == "trojan":  # the real checker, plus a line that leaves a marker when the file runs
        assert real.count(FUTURE_IMPORT) == 1
        return real.replace(FUTURE_IMPORT, FUTURE_IMPORT + TROJAN_LINE)
    return None  # missing: the asset is not there


@pytest.mark.parametrize("stage", ["validate", "verified"])
@pytest.mark.parametrize("kind", ["one-byte", "trojan", "missing"])
def test_tampered_checker_is_refused_before_it_runs(
    tmp_path: Path,
    sandbox: Sandbox,
    buildspec: dict[str, Any],
    verified_spec: dict[str, Any],
    kind: str,
    stage: str,
) -> None:
    # GIVEN a good package, and in "S3" a checker that is not the pinned one
    sandbox.upload(GOOD_ZIP, V1)
    sandbox.unpack(GOOD_ZIP)
    tampered = tampered_checker(kind)
    if tampered is None:
        sandbox.delete_objects(sandbox.env["CHECKER_BUCKET"])
    else:
        assert tampered != CHECKER_FILE.read_bytes()
        sandbox.put_checker(tampered)
    marker = tmp_path / "trojan-ran"
    sandbox.env["TROJAN_MARKER"] = str(marker)
    # WHEN a stage's buildspec runs
    run = sandbox.run_build(buildspec if stage == "validate" else verified_spec)
    # THEN pre_build stops at the first line with the pinned-digest message
    pre_build = run["pre_build"]
    assert pre_build.returncode == 1
    assert pre_build.runs == 1
    assert PINNED_MESSAGE in pre_build.output
    assert not {"build", "post_build"} & set(run.phases)
    # AND the checker never ran: no marker, no verdict, no report, not even the package download
    assert not marker.exists()
    assert not re.search(r"ACCEPTED|REJECTED|Manifest", pre_build.output)
    assert not (sandbox.work / "package-check.json").exists()
    assert sandbox.get_object_calls() == []


def test_trojan_checker_would_leave_its_marker_if_run(tmp_path: Path, sandbox: Sandbox) -> None:
    # GIVEN the trojan copy used above  WHEN it is run directly  THEN it leaves the marker (so its absence proves)
    trojan = tmp_path / "check.py"
    trojan.write_bytes(tampered_checker("trojan") or b"")
    marker = tmp_path / "trojan-ran"
    result = subprocess.run(  # noqa: S603
        ["python3", str(trojan), "--help"],  # noqa: S607  # the sandbox's python3, as the buildspec runs it
        env={**sandbox.env, "TROJAN_MARKER": str(marker)},
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.output
    assert marker.exists()


# --- 5. S3's checksum ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checksum", "accepted", "expected_sha256"),
    [
        pytest.param(s3_checksum(GOOD_ZIP), True, sha256_hex(GOOD_ZIP), id="matching"),
        pytest.param(s3_checksum(GOOD_ZIP + b"\0"), False, sha256_hex(GOOD_ZIP + b"\0"), id="mismatching"),
        pytest.param(s3_checksum(GOOD_ZIP) + "-3", True, None, id="multipart-composite"),
    ],
)
def test_s3_checksum_is_compared_with_the_downloaded_bytes(
    sandbox: Sandbox, buildspec: dict[str, Any], checksum: str, accepted: bool, expected_sha256: str | None
) -> None:
    # GIVEN the good package whose get-object response carries a ChecksumSHA256 (only with checksum mode enabled)
    sandbox.upload(GOOD_ZIP, V1, checksum=checksum)
    # WHEN pre_build runs
    pre_build = sandbox.run_phase("pre_build", buildspec)
    # THEN the checker compared S3's checksum: a match accepts, a mismatch rejects, a composite is only noted
    report = json.loads((sandbox.work / "package-check.json").read_text())
    assert report["expected_sha256"] == expected_sha256
    assert report["accepted"] is accepted
    if accepted:
        assert pre_build.returncode == 0, pre_build.output
    else:
        assert pre_build.returncode == 1
        assert "[checksum-mismatch]" in pre_build.output
        assert [f["rule"] for f in report["findings"]] == ["checksum-mismatch"]
    if expected_sha256 is None:
        assert "multipart composite" in pre_build.output


# --- 6. The next stage verifies the manifest ---------------------------------------------------------------------


def verified_sandbox(root: Path, validated: Validated, project_variables: Mapping[str, str]) -> Sandbox:
    """A next-stage container: the project's variables, the real checker, and a copy of the validated artifact."""
    box = Sandbox(root)
    box.env.update(project_variables)
    box.put_checker()
    shutil.copytree(validated.sandbox.src, box.src, symlinks=True, dirs_exist_ok=True)
    return box


# A later stage on the intact, attested artifact: test_provenance_attacks.py runs Validate, Attest and each later stage.


def _change(src: Path, path: str) -> None:
    flip_byte(src / path, -1)


def _add(src: Path, path: str) -> None:
    (src / path).parent.mkdir(parents=True, exist_ok=True)
    (src / path).write_text("export const backdoor = 1;\n")


def _remove(src: Path, path: str) -> None:
    (src / path).unlink()


@pytest.mark.parametrize(
    ("tamper", "path", "rule"),
    [
        pytest.param(_change, "lib/stack.ts", "file-changed", id="changed-source"),
        pytest.param(_change, "dist/bin/app.js", "file-changed", id="changed-output"),
        pytest.param(_change, REPORT_PATH, "file-changed", id="changed-report"),
        pytest.param(_add, "lib/backdoor.ts", "file-added", id="added"),
        pytest.param(_add, ".npmrc", "file-added", id="added-dotfile"),
        pytest.param(_remove, "node_modules/left-pad/index.js", "file-missing", id="removed"),
        pytest.param(_remove, "docs/read me.md", "file-missing", id="removed-name-with-space"),
    ],
)
def test_next_stage_refuses_a_tampered_artifact_naming_the_file(
    tmp_path: Path,
    validated: Validated,
    project_variables: dict[str, str],
    verified_spec: dict[str, Any],
    tamper: Any,
    path: str,
    rule: str,
) -> None:
    # GIVEN a copy of the validated artifact with one file changed by a byte, added or removed
    box = verified_sandbox(tmp_path / "box", validated, project_variables)
    tamper(box.src, path)
    # WHEN the next stage's buildspec runs
    run = box.run_build(verified_spec)
    # THEN pre_build fails at the verify line, naming that file (and only it), and the command never runs
    pre_build = run["pre_build"]
    assert pre_build.returncode == 1, pre_build.output
    assert pre_build.runs == 2
    assert "Manifest check FAILED: 1 difference(s)" in pre_build.output
    assert f"  [{rule}] '{path}' " in pre_build.output
    assert not {"build", "post_build"} & set(run.phases)
    assert "deploying" not in pre_build.output


def test_next_stage_refuses_an_artifact_without_its_manifest(
    tmp_path: Path, validated: Validated, project_variables: dict[str, str], verified_spec: dict[str, Any]
) -> None:
    # GIVEN the validated artifact without its manifest  WHEN the next stage runs  THEN it fails, running nothing
    box = verified_sandbox(tmp_path / "box", validated, project_variables)
    (box.src / MANIFEST_PATH).unlink()
    run = box.run_build(verified_spec)
    assert run["pre_build"].returncode == 2
    assert f"cannot read {MANIFEST_PATH}" in run["pre_build"].output
    assert not {"build", "post_build"} & set(run.phases)


# --- The build phase alone -----------------------------------------------------------------------------------------


def test_failing_user_command_aborts_before_the_records(sandbox: Sandbox, buildspec: dict[str, Any]) -> None:
    # GIVEN a good package whose lint fails
    sandbox.unpack(GOOD_ZIP)
    env = {**sandbox.env, "NPM_LINT_EXIT": "3"}
    # WHEN the build phase runs (on-failure: ABORT)
    build = sandbox.run_phase("build", buildspec, env)
    # THEN it fails with lint's exit code, the build never ran and no records were written
    assert build.returncode == 3
    assert sandbox.npm_calls() == ["ci", "run lint"]
    assert not (sandbox.src / ".validated").exists()
    assert not (sandbox.src / "dist").exists()


# --- 7. post_build: diagnostics ----------------------------------------------------------------------------------


def test_diagnostics_print_the_source_version_but_no_secrets(sandbox: Sandbox, buildspec: dict[str, Any]) -> None:
    # GIVEN the variables the pipeline passes, plus secrets in the environment
    env = {
        **sandbox.env,
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "AWS_SECRET_ACCESS_KEY": "shh-secret",
        "AWS_SESSION_TOKEN": "shh-session-token",
        "NPM_TOKEN": "shh-npm-token",
    }
    # WHEN the post_build phase runs
    phase = sandbox.run_phase("post_build", buildspec, env)
    output = phase.output
    # THEN it succeeds, names the source object version, OS and tools, and prints no secret (nor its name)
    assert phase.returncode == 0, phase.output
    assert f"Source object: s3://{SOURCE_BUCKET}/{env['SOURCE_OBJECT_KEY']} version {V1}" in phase.output
    assert "Succeeded: 1" in phase.output
    if Path("/etc/os-release").is_file():
        assert "OS: " in phase.output
    assert "npm: 0.0.0-stub" in phase.output
    assert re.search(r"^python3: Python 3\.", phase.output, flags=re.MULTILINE)
    assert "shh-" not in output
    assert "AWS_SECRET_ACCESS_KEY" not in output
    assert "NPM_LOG" not in output, "environment variable names leaked: the environment was dumped"


def test_diagnostics_succeed_without_source_variables_or_tools(
    tmp_path: Path, sandbox: Sandbox, buildspec: dict[str, Any]
) -> None:
    # GIVEN a bare environment: no source variables, and an empty PATH (no node, npm, python3, java, go, head)
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    env = {"PATH": str(empty_bin), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    # WHEN the post_build phase runs  THEN it still succeeds (diagnostics must never fail the build)
    phase = sandbox.run_phase("post_build", buildspec, env)
    assert phase.returncode == 0, phase.output
    assert "Source object: s3://?/? version ?" in phase.output
    assert not re.search(r"^(node|npm|python3|java|go): ", phase.output, flags=re.MULTILINE)
