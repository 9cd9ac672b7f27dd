"""``s3vp run``: real local runs of a synthesized pipeline, with no AWS.

One app with shell-only commands is synthesized once for the module, through its ``cdk.json`` (as ``s3vp run``
does by default); every other run reuses that cloud assembly with ``--app <cdk.out>``. The seed example's run
reuses the session's synthesis of it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from s3_validated_pipeline.check import MANIFEST_PATH, PROVENANCE_PATH, write_manifest
from s3_validated_pipeline.cli import _app
from s3_validated_pipeline.cli._local import aws as stand_in
from s3_validated_pipeline.cli._local.assembly import Action, choose, find_pipelines
from s3_validated_pipeline.cli._local.codebuild import Build
from s3_validated_pipeline.cli._local.runner import ActionOutcome, LocalRun, RunOptions
from tests.check.package_corpus import FAKE_ACCESS_KEY_ID
from tests.cli.conftest import attested_files
from tests.cli.conftest import run as run_cli

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "sha256sum", "python3")),
    reason="needs bash, GNU coreutils and python3, as on the CodeBuild images",
)

ROOT = Path(__file__).resolve().parents[2]
SEED_SAMPLE = ROOT / "examples" / "seed_pipeline" / "sample"

APP = """
import aws_cdk as cdk
from s3_validated_pipeline import BuildEnvironment, TestStageOptions, ValidatedS3Pipeline, ValidationOptions

app = cdk.App()
stack = cdk.Stack(app, "RunTest")
ValidatedS3Pipeline(
    stack,
    "Pipeline",
    validation=ValidationOptions(required_files=["build.sh", "test.sh"], commands=["sh build.sh"]),
    test=TestStageOptions(
        commands=["sh test.sh"],
        report_files=["reports/*.xml"],
        build_environment=BuildEnvironment.AMAZON_LINUX_2023_NODE_22,  # an image of its own, for --docker's tests
    ),
)
app.synth()
"""
BUILD_OK = "mkdir -p out && echo built > out/result.txt\n"
TEST_OK = 'mkdir -p reports && echo "<testsuites/>" > reports/junit.xml && test "$(cat out/result.txt)" = built\n'


def package(root: Path, name: str, files: Mapping[str, str]) -> Path:
    path = root / f"{name}.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    path.write_bytes(buffer.getvalue())
    return path


@dataclass(frozen=True)
class Workspace:
    root: Path
    cdk_out: Path
    first: Result
    """The module's first run: the good package, synthesizing through cdk.json."""

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        return CliRunner().invoke(_app.cli, ["run", *args], env=dict(env or {}), catch_exceptions=False)

    def run_package(self, name: str, files: Mapping[str, str], *extra: str) -> tuple[Result, Path]:
        keep = self.root / f"run-{name}"
        zip_path = package(self.root, name, files)
        return self.run(str(zip_path), "--app", str(self.cdk_out), "--keep", str(keep), *extra), keep


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("run")
    (root / "app.py").write_text(APP)
    (root / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py"}))
    good = package(root, "good", {"build.sh": BUILD_OK, "test.sh": TEST_OK})
    previous = Path.cwd()
    os.chdir(root)
    try:
        first = CliRunner().invoke(_app.cli, ["run", str(good), "--keep", str(root / "first")], catch_exceptions=False)
    finally:
        os.chdir(previous)
    return Workspace(root, root / "first" / "cdk.out", first)


def test_good_package_passes_validate_and_test(workspace: Workspace) -> None:
    # GIVEN an app in cdk.json building a ValidatedS3Pipeline  WHEN a good zip runs (synthesized through cdk.json)
    result = workspace.first
    # THEN it exits 0, and Validate and Test succeeded on this machine
    assert result.exit_code == 0, result.output
    assert "✓ Validate" in result.output
    assert "✓ Test" in result.output
    run = workspace.root / "first"
    assert (run / "artifacts" / "Validated" / ".validated" / "manifest.json").is_file()
    assert (run / "artifacts" / "Validated" / "out" / "result.txt").read_text() == "built\n"
    # AND the validate stage's two actions ran in order, Attest on Validate's output, then Test
    logs = sorted(path.name for path in (run / "logs").glob("0*.log"))
    assert logs == ["01-Validate-Validate.log", "02-Validate-Attest.log", "03-Test-Test.log"]
    attested = run / "artifacts" / "Attested"
    assert (attested / "out" / "result.txt").read_text() == "built\n"
    assert (attested / PROVENANCE_PATH).is_file()
    # AND the Test stage verified the manifest and the signed provenance, and its report was collected
    test_log = (run / "logs" / "03-Test-Test.log").read_text()
    assert "Manifest verified" in test_log
    assert "Provenance matches: execution local-" in test_log
    assert "aws kms verify" in test_log
    assert "Phase complete: PRE_BUILD State: SUCCEEDED" in test_log
    assert "Running command sh test.sh" in test_log
    assert list((run / "reports").rglob("junit.xml"))
    # AND the summary says how to check the provenance, with the run's public key
    verify = f"s3vp verify {attested} --public-key {run / 'signing-key.pub.pem'}"
    assert f"Check its signed provenance: {verify}\n" in result.output


def test_attest_records_the_runs_execution_pipeline_builder_and_files(workspace: Workspace) -> None:
    # GIVEN a good run, as --json reports it
    started = time.time()
    result, keep = workspace.run_package("provenance", {"build.sh": BUILD_OK, "test.sh": TEST_OK}, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    attested = keep / "artifacts" / "Attested"
    assert document["provenance"] == str(attested)
    assert document["public_key"] == str(keep / "signing-key.pub.pem")
    # WHEN its envelope is read
    envelope = json.loads((attested / PROVENANCE_PATH).read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    predicate = statement["predicate"]
    # THEN the statement is the run's: its made-up execution id (#{codepipeline.PipelineExecutionId}), the pipeline
    # CODEBUILD_INITIATOR names, the package's made-up version, and the Attest project as builder (CODEBUILD_BUILD_ARN)
    assert document["execution_id"].startswith("local-")
    assert predicate["runDetails"]["metadata"]["invocationId"] == document["execution_id"]
    assert predicate["buildDefinition"]["internalParameters"]["pipeline"] == document["pipeline_name"]
    assert document["pipeline_name"].startswith("local-pipeline")
    assert predicate["buildDefinition"]["externalParameters"]["versionId"] == document["version_id"]
    attest = _action(workspace.cdk_out, "Validate", "Attest")
    builder = f"arn:aws:codebuild:local:000000000000:project/local-{str(attest.project).lower()}"
    assert predicate["runDetails"]["builder"]["id"] == builder
    # AND it started during this run (CODEBUILD_START_TIME, in milliseconds), as RFC 3339
    started_on = predicate["runDetails"]["metadata"]["startedOn"]
    moment = datetime.strptime(started_on, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    assert started - 1 <= moment <= time.time()
    # AND its subjects are exactly the artifact's files, with their SHA-256
    subjects = {subject["name"]: subject["digest"]["sha256"] for subject in statement["subject"]}
    assert subjects == attested_files(attested)
    assert "out/result.txt" in subjects
    # AND the run's public key verifies it
    code, out, _ = run_cli("verify", str(attested), "--public-key", document["public_key"])
    assert code == 0, out


def test_json_output_names_every_stage(workspace: Workspace) -> None:
    result, _ = workspace.run_package("json", {"build.sh": BUILD_OK, "test.sh": TEST_OK}, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    states = {stage["name"]: stage["state"] for stage in document["stages"]}
    assert states == {"Source": "Succeeded", "Validate": "Succeeded", "Test": "Succeeded"}
    assert document["result"] == "succeeded"
    assert document["version_id"].startswith("local.")


def test_env_file_with_a_key_id_is_rejected_naming_the_rule(workspace: Workspace) -> None:
    # GIVEN a package with a .env holding an AWS-shaped access key id
    files = {"build.sh": BUILD_OK, "test.sh": TEST_OK, ".env": f"AWS_ACCESS_KEY_ID={FAKE_ACCESS_KEY_ID}\n"}
    result, _ = workspace.run_package("dotenv", files)
    # THEN the run fails at Validate, naming the rules, and Test never ran
    assert result.exit_code == 1, result.output
    assert "✗ Validate" in result.output
    assert "[forbidden-file] '.env'" in result.output
    assert "[credentials] '.env'" in result.output
    assert re.search(r"^ +Test +Didn't run$", result.output, re.MULTILINE), result.output
    # AND the summary names the check's command: its first line cut to 100 characters, and how many lines follow
    check = _command(workspace.cdk_out, "Validate", "pre_build", "check.py /tmp/s3vp/source.zip")
    first = check.splitlines()[0]
    assert len(first) > 100
    more = f" (+{len(check.splitlines()) - 1} more lines)"
    shown = first[: 100 - len(more) - 1] + "…" + more
    assert f"      failed command: {shown}\n" in result.output
    assert f"Failed: Validate. The command {shown} exited with code 1.\n" in result.output


def _action(cdk_out: Path, stage: str, name: str) -> Action:
    """The action ``name`` of ``stage``, as synthesized."""
    actions = next(s for s in choose(find_pipelines(cdk_out), None).stages if s.name == stage).actions
    (action,) = [action for action in actions if action.name == name]
    return action


def _command(cdk_out: Path, stage: str, phase: str, part: str) -> str:
    """The command of ``stage``'s action of the same name, in ``phase``, holding ``part``, as synthesized."""
    action = _action(cdk_out, stage, stage)
    assert action.buildspec is not None
    (command,) = [c for c in action.buildspec["phases"][phase]["commands"] if part in c]
    return str(command)


def test_failing_build_command_stops_before_test(workspace: Workspace) -> None:
    result, keep = workspace.run_package("build-fails", {"build.sh": "echo broken >&2; exit 3\n", "test.sh": TEST_OK})
    assert result.exit_code == 1, result.output
    # THEN the stage and the summary name the buildspec command that failed, with its exit code
    assert "the build phase failed (exit code 3)\n      failed command: sh build.sh\n" in result.output
    assert "Failed: Validate. The command sh build.sh exited with code 3.\n" in result.output
    assert not list((keep / "logs").glob("*-Test-*.log")), "the Test stage ran"
    assert not (keep / "artifacts" / "Validated").exists()


def test_failing_tests_fail_the_run(workspace: Workspace) -> None:
    failing = 'mkdir -p reports && echo "<testsuites/>" > reports/junit.xml && exit 1\n'
    result, keep = workspace.run_package("tests-fail", {"build.sh": BUILD_OK, "test.sh": failing}, "--json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.output)
    assert document["failed_stage"] == "Test"
    (test,) = [stage for stage in document["stages"] if stage["name"] == "Test"]
    assert test["actions"][0]["detail"] == "the build phase failed (exit code 1)"
    assert (test["actions"][0]["failed_command"], test["actions"][0]["exit_code"]) == ("sh test.sh", 1)
    (validate,) = [stage for stage in document["stages"] if stage["name"] == "Validate"]
    assert (validate["actions"][0]["failed_command"], validate["actions"][0]["exit_code"]) == (None, None)
    assert list((keep / "reports").rglob("junit.xml")), "the failing run's report was not collected"


def test_stand_in_refuses_any_other_aws_call(workspace: Workspace) -> None:
    # GIVEN a build command calling AWS  WHEN it runs  THEN the stand-in refuses it, failing the build
    build = BUILD_OK + "aws s3 ls s3://somebody-elses-bucket\n"
    result, keep = workspace.run_package("calls-aws", {"build.sh": build, "test.sh": TEST_OK})
    assert result.exit_code == 1, result.output
    log = next((keep / "logs").glob("*-Validate-*.log")).read_text()
    assert "a local run never calls AWS (aws s3 ls s3://somebody-elses-bucket)" in log


@pytest.mark.parametrize(
    "call",
    [
        ["sts", "get-caller-identity"],
        ["s3", "cp", "s3://other-bucket/check.py", "x"],
        ["s3api", "get-object", "--bucket", "b", "--key", "source.zip", "--version-id", "other", "out.zip"],
        ["s3api", "put-object", "--bucket", "b", "--key", "source.zip"],
        ["s3api", "head-object", "--bucket", "b", "--key", "source.zip", "--version-id", "other"],
        ["s3api", "head-object", "--bucket", "b", "--key", "source.zip", "--version-id", "v1", "--output", "text"],
        ["s3api", "head-object", "--bucket", "b", "--key", "source.zip", "--version-id", "v1", "--range", "bytes=0-1"],
    ],
)
def test_stand_in_serves_only_its_objects(tmp_path: Path, call: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    served = tmp_path / "served.zip"
    served.write_bytes(b"PK")
    config = tmp_path / "config.json"
    objects = [{"bucket": "b", "key": "source.zip", "version_id": "v1", "path": str(served)}]
    config.write_text(json.dumps({"objects": objects, "real_aws": None}))
    assert stand_in.main([str(config), *call]) == stand_in.REFUSED
    assert f"a local run never calls AWS (aws {' '.join(call)})" in capsys.readouterr().err
    get = ["s3api", "get-object", "--bucket", "b", "--key", "source.zip", "--version-id", "v1", str(tmp_path / "o")]
    assert stand_in.main([str(config), *get]) == 0
    assert (tmp_path / "o").read_bytes() == b"PK"
    head = ["s3api", "head-object", "--bucket", "b", "--key", "source.zip", "--version-id", "v1"]
    capsys.readouterr()
    assert stand_in.main([str(config), *head]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["ContentLength"], answer["VersionId"]) == (2, "v1")
    assert stand_in.main([str(config), *head, "--query", "ContentLength", "--output", "text"]) == 0
    assert capsys.readouterr().out == "2\n"


def test_file_changed_between_stages_is_caught_naming_the_file(workspace: Workspace, tmp_path: Path) -> None:
    # GIVEN the attested artifact changed in the artifact store after the validate stage, as someone with write
    # access to the artifact bucket could: no command of the pipeline can do it, so the run's Python hook stands in
    def tamper(stage: str, artifacts: Mapping[str, Path]) -> None:
        if stage == "Validate":
            (artifacts["Attested"] / "out" / "result.txt").write_text("tampered\n")

    good = package(tmp_path, "good", {"build.sh": BUILD_OK, "test.sh": TEST_OK})
    pipeline = choose(find_pipelines(workspace.cdk_out), None)
    run = LocalRun(pipeline, good, tmp_path / "run", RunOptions(), after_stage=tamper)
    outcomes = {outcome.name: outcome for outcome in run.run()}
    # THEN the Test stage fails in its manifest verification, naming the file, and runs no test
    assert outcomes["Validate"].state == "Succeeded"
    test = outcomes["Test"].actions[0]
    assert test.state == "Failed"
    assert test.detail == "the pre_build phase failed (exit code 1)"
    assert test.failed_command == _command(workspace.cdk_out, "Test", "pre_build", "check.py verify")
    assert any(line.startswith("[file-changed] 'out/result.txt'") for line in test.findings), test.findings
    assert not (tmp_path / "run" / "builds" / "03-Test-Test" / "src" / "reports").exists()


def _run_tampered(workspace: Workspace, folder: Path, tamper: Callable[[Path], None]) -> ActionOutcome:
    """A good run whose attested artifact ``tamper`` changes after the validate stage: how its Test action went."""
    good = package(folder, "good", {"build.sh": BUILD_OK, "test.sh": TEST_OK})
    pipeline = choose(find_pipelines(workspace.cdk_out), None)

    def after(stage: str, artifacts: Mapping[str, Path]) -> None:
        if stage == "Validate":
            tamper(artifacts["Attested"])

    outcomes = {
        outcome.name: outcome
        for outcome in LocalRun(pipeline, good, folder / "run", RunOptions(), after_stage=after).run()
    }
    assert outcomes["Validate"].state == "Succeeded"
    (test,) = outcomes["Test"].actions
    return test


def test_files_and_manifest_rewritten_are_refused_by_the_provenance(workspace: Workspace, tmp_path: Path) -> None:
    # GIVEN a file of the attested artifact changed and its manifest rewritten to agree, the envelope kept
    def rewrite(artifact: Path) -> None:
        (artifact / "out" / "result.txt").write_text("tampered\n")
        manifest = json.loads((artifact / MANIFEST_PATH).read_text())
        rewritten = write_manifest(artifact, source=manifest["source"], exclude=(MANIFEST_PATH, PROVENANCE_PATH))
        (artifact / MANIFEST_PATH).write_text(json.dumps(rewritten))

    test = _run_tampered(workspace, tmp_path, rewrite)
    # THEN the manifest passes, and Test fails at the provenance, naming both files, before asking KMS or testing
    assert test.state == "Failed"
    assert test.failed_command == _command(workspace.cdk_out, "Test", "pre_build", "check.py provenance")
    assert "[provenance] 'out/result.txt' was changed since it was attested" in test.findings
    assert "[provenance] '.validated/manifest.json' was changed since it was attested" in test.findings
    log = Path(str(test.log)).read_text()
    assert "Manifest verified" in log
    assert "Running command sh test.sh" not in log


def test_another_runs_artifact_is_refused_by_the_provenance(workspace: Workspace, tmp_path: Path) -> None:
    # GIVEN the attested artifact replaced by the module's first run's, signed in that run (another execution)
    first = workspace.root / "first" / "artifacts" / "Attested"

    def replace(artifact: Path) -> None:
        shutil.rmtree(artifact)
        shutil.copytree(first, artifact)

    test = _run_tampered(workspace, tmp_path, replace)
    # THEN Test refuses it: the provenance is of another execution
    assert test.state == "Failed"
    assert any(
        finding.startswith("[provenance] the provenance is of execution 'local-") and "not of this one" in finding
        for finding in test.findings
    ), test.findings


def test_a_run_leaves_nothing_outside_its_folder(workspace: Workspace, tmp_path: Path) -> None:
    # GIVEN an empty HOME and TMPDIR for s3vp, and the buildspecs' /tmp/s3vp absent (or as it was)
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    scratch = Path("/tmp/s3vp")  # noqa: S108  # the buildspecs' own scratch folder, which a run must not touch
    before = scratch.stat().st_mtime_ns if scratch.exists() else None
    zip_path = package(tmp_path, "good", {"build.sh": BUILD_OK, "test.sh": TEST_OK})
    listing = sorted(p.name for p in tmp_path.iterdir())
    # WHEN a run goes through
    keep = tmp_path / "keep"
    result = workspace.run(
        str(zip_path), "--app", str(workspace.cdk_out), "--keep", str(keep), env={"HOME": str(home), "TMPDIR": str(tmp)}
    )
    assert result.exit_code == 0, result.output
    # THEN only its --keep folder appeared; HOME, TMPDIR and /tmp/s3vp are untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*listing, "keep"])
    assert list(home.iterdir()) == []
    assert list(tmp.iterdir()) == []
    assert (scratch.stat().st_mtime_ns if scratch.exists() else None) == before
    assert list((keep / "builds").glob("*/scratch/check.py")), "the scratch folder was not redirected into the run"


def test_usage_errors_exit_2(workspace: Workspace, tmp_path: Path) -> None:
    good = package(tmp_path, "good", {"build.sh": BUILD_OK, "test.sh": TEST_OK})
    cdk_out = str(workspace.cdk_out)
    assert workspace.run(str(good), "--app", cdk_out, "--until", "Nope", "--keep", str(tmp_path / "a")).exit_code == 2
    assert workspace.run(str(good), "--app", cdk_out, "--pipeline", "Other/Path").exit_code == 2
    assert workspace.run(str(good), "--app", str(tmp_path)).exit_code == 2  # not a cloud assembly
    assert workspace.run(str(tmp_path / "missing.zip"), "--app", cdk_out).exit_code == 2


def test_until_stops_after_the_named_stage(workspace: Workspace) -> None:
    result, keep = workspace.run_package("until", {"build.sh": BUILD_OK, "test.sh": TEST_OK}, "--until", "Validate")
    assert result.exit_code == 0, result.output
    assert not list((keep / "logs").glob("*-Test-*.log"))


@pytest.fixture(scope="module")
def seed_assembly(seed: Any) -> Path:
    """The seed example's cloud assembly, from the session's synthesis of it (no second synthesis)."""
    return Path(seed.stack.node.root.synth().directory)


@pytest.mark.skipif(not shutil.which("npm") or not shutil.which("node"), reason="the seed sample needs Node.js and npm")
def test_seed_example_runs_its_good_and_rejected_samples(seed_assembly: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(
        _app.cli,
        ["run", str(SEED_SAMPLE / "good"), "--app", str(seed_assembly), "--keep", str(tmp_path / "good")],
        catch_exceptions=False,
    )
    assert good.exit_code == 0, good.output
    for line in (
        "✓ Validate",
        "✓ Test",
        "- DeployStaging",
        "would run: npx --no-install cdk deploy",
        "■ ApproveProduction",
    ):
        assert line in good.output
    assert "nodejs 16 asked" in good.output  # the seed asks for Ubuntu 20.04 with Node.js 16
    assert list((tmp_path / "good" / "reports").rglob("junit.xml"))
    # AND its Attested artifact's signed provenance is accepted by s3vp verify, until one byte of one file changes
    attested = tmp_path / "good" / "artifacts" / "Attested"
    verify = ["verify", str(attested), "--public-key", str(tmp_path / "good" / "signing-key.pub.pem")]
    accepted = runner.invoke(_app.cli, verify)
    assert accepted.exit_code == 0, accepted.output
    changed = next(p for p in sorted(attested.rglob("*.js")) if p.is_file() and "node_modules" not in p.parts)
    changed.write_bytes(changed.read_bytes() + b"\n")
    refused = runner.invoke(_app.cli, verify)
    assert refused.exit_code == 1, refused.output
    assert f"[provenance] '{changed.relative_to(attested).as_posix()}' was changed since it was attested" in (
        refused.output
    )
    rejected = tmp_path / "rejected.zip"
    make = [sys.executable, str(SEED_SAMPLE / "rejected" / "make_zip.py"), str(rejected)]
    assert subprocess.run(make, check=False).returncode == 0  # noqa: S603
    bad = runner.invoke(
        _app.cli,
        ["run", str(rejected), "--app", str(seed_assembly), "--keep", str(tmp_path / "bad")],
        catch_exceptions=False,
    )
    assert bad.exit_code == 1, bad.output
    assert "[forbidden-file] '.env'" in bad.output


def test_a_command_running_longer_than_the_timeout_is_stopped(tmp_path: Path) -> None:
    # GIVEN a build whose command outlives the timeout  WHEN it runs  THEN it is killed, exit 124, and the log says so
    log_path = tmp_path / "build.log"
    (tmp_path / "src").mkdir()
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        result = Build(tmp_path / "src", tmp_path / "scratch", {"PATH": os.defpath}, log, 0.5).run(
            {"phases": {"build": {"commands": ["sleep 30"]}}}
        )
    assert time.monotonic() - started < 10
    assert (result.failed_phase, result.returncode) == ("build", 124)
    assert "[Container] Command timed out after 0 seconds" in log_path.read_text(encoding="utf-8")


def test_a_command_is_not_stopped_before_the_timeout(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with (tmp_path / "build.log").open("w", encoding="utf-8") as log:
        result = Build(tmp_path / "src", tmp_path / "scratch", {"PATH": os.defpath}, log, 30).run(
            {"phases": {"build": {"commands": ["sleep 0.2", "exit 3"]}}}
        )
    assert (result.failed_phase, result.returncode) == ("build", 3)
    assert "timed out" not in (tmp_path / "build.log").read_text(encoding="utf-8")
