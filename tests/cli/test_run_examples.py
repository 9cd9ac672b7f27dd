"""``s3vp run`` on every example's synthesized pipeline, with sample packages built here (issue 14).

Each example is synthesized once for the session (``synthesized_example_stacks``) and its cloud assembly is passed
to ``s3vp run --app <cdk.out>``. The sample packages hold only what the example's commands need, with no dependency
from a registry: ``npm ci`` installs from a lockfile listing the root package alone (or a local ``file:`` tool), the
scripts are ``node -e`` one-liners, and each package's ``.npmrc`` says ``offline=true``, so npm fails rather than
reaching a registry. For every example:

- a good package passes every CodeBuild stage up to the first approval or deployment (exit 0), and each
  deployment is shown as skipped with what it would run; the Attest action leaves a signed in-toto statement naming
  exactly the artifact's files, which ``s3vp verify`` accepts, and refuses once one byte of one file changes;
- a package whose ``.env`` holds an AWS access key id exits 1 at Validate, naming the rules, before any command;
- a failing build command after the check exits 1 at Validate: no manifest, and no later stage runs;
- where the example has a Test stage, failing tests exit 1 there and no later (deploy) stage runs.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import aws_cdk as cdk
import pytest
from click.testing import CliRunner, Result

from s3_validated_pipeline.check import PROVENANCE_PATH
from s3_validated_pipeline.cli import _app
from s3_validated_pipeline.cli._local.assembly import choose, find_pipelines
from s3_validated_pipeline.cli._local.runner import IN_VPC
from tests.check.package_corpus import FAKE_ACCESS_KEY_ID
from tests.cli.conftest import attested_files
from tests.conftest import synthesized_example_stacks

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "sha256sum", "python3", "node", "npm")),
    reason="the examples' commands are npm scripts: needs Node.js and npm, with bash, GNU coreutils and python3 "
    "as on the CodeBuild images",
)

SUCCEEDED, FAILED, SKIPPED, STOPPED, APPROVED, NOT_RUN = (
    "Succeeded",
    "Failed",
    "Skipped",
    "Stopped",
    "Approved",
    "Didn't run",
)
_STAGE_LINE = re.compile(r"^  [✓✗■ -] (\S+) +(Succeeded|Failed|Skipped|Stopped|Approved|Didn't run)\b", re.MULTILINE)
NPMRC = "offline=true\naudit=false\nfund=false\nupdate-notifier=false\n"
"""No registry: npm fails (ENOTCACHED) instead of downloading, and makes no audit or update-check request."""


# --- sample packages -----------------------------------------------------------------------------------------------


def node(script: str) -> str:
    """An npm script running ``script`` with ``node -e``."""
    return f'node -e "{script}"'


BUILD_OK = node("require('fs').mkdirSync('dist');require('fs').writeFileSync('dist/greeting.txt','hello')")
BUILD_FAILS = node("console.error('build: syntax error in greeting.ts');process.exit(3)")
TEST_OK = node("process.exit(require('fs').readFileSync('dist/greeting.txt','utf8')==='hello'?0:1)")
TEST_PASSES = node("require('fs').writeFileSync('test-results.txt','1 passed')")
TEST_FAILS = node("console.error('1 test failed: greets by name');process.exit(1)")


def npm_package(
    scripts: Mapping[str, str], *, dev: Mapping[str, str] | None = None, tools: Mapping[str, str] | None = None
) -> dict[str, str]:
    """package.json, its lockfile (version 3) and .npmrc; ``dev`` names local ``file:`` tools, ``tools`` their files."""
    manifest: dict[str, object] = {"name": "sample", "version": "1.0.0", "private": True, "scripts": dict(scripts)}
    root: dict[str, object] = {"name": "sample", "version": "1.0.0"}
    packages: dict[str, object] = {"": root}
    if dev:
        manifest["devDependencies"] = root["devDependencies"] = {name: f"file:{folder}" for name, folder in dev.items()}
    for name, folder in (dev or {}).items():
        tool = json.loads((tools or {})[f"{folder}/package.json"])
        packages[f"node_modules/{name}"] = {"resolved": folder, "link": True}
        packages[folder] = {"name": name, "version": tool["version"], "dev": True, "bin": tool["bin"]}
    lock = {"name": "sample", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": packages}
    return {
        "package.json": json.dumps(manifest, indent=2) + "\n",
        "package-lock.json": json.dumps(lock, indent=2) + "\n",
        ".npmrc": NPMRC,
        **(tools or {}),
    }


# A local stand-in for the aws-cdk CLI (a devDependency installed from the package itself, offline): `cdk synth`
# runs cdk.json's app with CDK_OUTDIR=cdk.out, as the real CLI does.
CDK_TOOL = {
    "tools/cdk/package.json": json.dumps({"name": "aws-cdk", "version": "0.0.0-local", "bin": {"cdk": "bin/cdk.js"}}),
    "tools/cdk/bin/cdk.js": (
        "#!/usr/bin/env node\n"
        "const { execSync } = require('child_process');\n"
        "const { app } = JSON.parse(require('fs').readFileSync('cdk.json', 'utf8'));\n"
        "if (process.argv[2] !== 'synth') { console.error('only cdk synth here'); process.exit(1); }\n"
        "execSync(app, { stdio: 'inherit', env: { ...process.env, CDK_OUTDIR: 'cdk.out' } });\n"
    ),
}
CDK_APP_OK = (
    "const fs = require('fs');\n"
    "const template = { Resources: { Topic: { Type: 'AWS::SNS::Topic' } } };\n"
    "fs.mkdirSync(process.env.CDK_OUTDIR, { recursive: true });\n"
    "fs.writeFileSync(process.env.CDK_OUTDIR + '/App.template.json', JSON.stringify(template));\n"
)
CDK_APP_FAILS = "throw new Error('App: the bucket name is not valid');\n"


def cdk_app_package(app: str) -> dict[str, str]:
    return {
        **npm_package({}, dev={"aws-cdk": "tools/cdk"}, tools=CDK_TOOL),
        "cdk.json": json.dumps({"app": "node app.js"}) + "\n",
        "app.js": app,
    }


def with_env_file(files: Mapping[str, str]) -> dict[str, str]:
    """``files`` and a ``.env`` holding an AWS-shaped access key id."""
    return {**files, ".env": f"AWS_ACCESS_KEY_ID={FAKE_ACCESS_KEY_ID}\nAWS_REGION=eu-west-1\n"}


def write_zip(path: Path, files: Mapping[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


# --- the examples --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One example's pipeline and its samples: ``good`` passes, ``broken_build`` fails a command after the check."""

    name: str
    pipeline: str | None
    """--pipeline, when the app has several."""
    good: Mapping[str, str]
    broken_build: Mapping[str, str]
    broken_says: str
    """What the broken build's failing command prints, in the log."""
    good_stages: Mapping[str, str]
    """Each stage's state in the good run, in pipeline order."""
    built: str
    """A file the good package's validate commands produce: it must be in the validated artifact."""
    failing_tests: Mapping[str, str] | None = None
    skipped_would_run: tuple[str, ...] = ()
    """What the output says the skipped deployments would run."""
    runtimes: Mapping[str, str] = field(default_factory=dict)
    """The Node.js version the example's build image asks for."""

    def __str__(self) -> str:
        return self.name


MINIMAL = Example(
    name="minimal",
    pipeline=None,
    good=npm_package({"test": TEST_PASSES}),
    broken_build=npm_package({"test": TEST_FAILS}),
    broken_says="1 test failed: greets by name",
    good_stages={"Source": SUCCEEDED, "Validate": SUCCEEDED},
    built="test-results.txt",
    runtimes={"nodejs": "22"},
)
CROSS_ACCOUNT = Example(
    name="cross_account",
    pipeline=None,
    good=cdk_app_package(CDK_APP_OK),
    broken_build=cdk_app_package(CDK_APP_FAILS),
    broken_says="Error: App: the bucket name is not valid",
    good_stages={
        "Source": SUCCEEDED,
        "Validate": SUCCEEDED,
        "DeployStaging": SKIPPED,
        "DeployProductionChangeSet": SKIPPED,
        "ApproveProduction": STOPPED,
        "DeployProduction": NOT_RUN,
    },
    built="cdk.out/App.template.json",
    # The change-set step is one multi-line command, shown by its first line
    skipped_would_run=("deployment, would run: # The change set of $S3VP_STACK ($S3VP_MODE): made from the verified",),
    runtimes={"nodejs": "22"},
)
FLEET = Example(
    name="fleet",
    pipeline="FleetTeams3/team24",  # the last of 24 pipelines, in the last of three team stacks
    good=npm_package({"build": BUILD_OK, "test": TEST_OK}),
    broken_build=npm_package({"build": BUILD_FAILS, "test": TEST_OK}),
    broken_says="build: syntax error in greeting.ts",
    good_stages={"Source": SUCCEEDED, "Validate": SUCCEEDED, "Test": SUCCEEDED},
    built="dist/greeting.txt",
    failing_tests=npm_package({"build": BUILD_OK, "test": TEST_FAILS}),
    runtimes={"nodejs": "22"},
)
MULTI_REGION = Example(
    name="multi_region",
    pipeline=None,
    good=cdk_app_package(CDK_APP_OK),
    broken_build=cdk_app_package(CDK_APP_FAILS),
    broken_says="Error: App: the bucket name is not valid",
    good_stages={
        "Source": SUCCEEDED,
        "Validate": SUCCEEDED,
        "DeployStaging": SKIPPED,
        "ApproveProduction": STOPPED,
        "DeployProduction": NOT_RUN,
    },
    built="cdk.out/App.template.json",
    skipped_would_run=(
        "deployment, would run: npx --no-install cdk deploy --all --require-approval never --context stage=staging",
    ),
    runtimes={"nodejs": "22"},
)
EXAMPLES = [MINIMAL, CROSS_ACCOUNT, FLEET, MULTI_REGION]


@cache
def cdk_out(name: str) -> Path:
    """The example's cloud assembly, from the session's one synthesis of it."""
    app = synthesized_example_stacks(name)[0].stack.node.root
    assert isinstance(app, cdk.App)
    return Path(app.synth().directory)  # the app's assembly, as synthesized: not a second synthesis


@dataclass(frozen=True)
class Run:
    result: Result
    folder: Path
    """The run's --keep folder."""

    @property
    def output(self) -> str:
        return self.result.output

    @property
    def stages(self) -> dict[str, str]:
        """Each stage shown, with its state, in the order shown (the runner's, then the stages that did not run)."""
        return dict(_STAGE_LINE.findall(self.output))

    def logs(self, stage: str) -> list[Path]:
        return sorted((self.folder / "logs").glob(f"*-{stage}-*.log"))


def s3vp_run(example: Example, tmp_path: Path, files: Mapping[str, str], *extra: str) -> Run:
    package = write_zip(tmp_path / "package.zip", files)
    keep = tmp_path / "run"
    args = ["run", str(package), "--app", str(cdk_out(example.name)), "--keep", str(keep), *extra]
    if example.pipeline is not None:
        args += ["--pipeline", example.pipeline]
    return Run(CliRunner().invoke(_app.cli, args, catch_exceptions=False), keep)


def assert_nothing_ran_after(run: Run, failed: str) -> None:
    """``failed`` failed, every stage after it is shown as not run, and none of them has a build log."""
    stages = list(run.stages.items())
    names = [name for name, _ in stages]
    assert failed in names, run.output
    assert run.stages[failed] == FAILED, run.output
    assert f"Failed: {failed}." in run.output
    for name, state in stages[names.index(failed) + 1 :]:
        assert state == NOT_RUN, f"{name} is {state} after {failed} failed\n{run.output}"
        assert not run.logs(name), f"{name} ran after {failed} failed"


def local_node_major() -> str:
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout  # noqa: S607
    return version.lstrip("v").split(".")[0]


def assert_signed_provenance(run: Run, example: Example) -> None:
    """The attested artifact carries an in-toto v1 statement with a SLSA v1 predicate naming exactly its files, and
    ``s3vp verify`` accepts it with the run's public key, until one byte of one file changes."""
    attested = run.folder / "artifacts" / "Attested"
    envelope = json.loads((attested / PROVENANCE_PATH).read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    build = statement["predicate"]["buildDefinition"]
    assert build["buildType"].startswith("https://pypi.org/project/s3-validated-pipeline/")
    assert build["externalParameters"]["key"] == source_key(example)
    assert statement["predicate"]["runDetails"]["builder"]["id"].startswith("arn:aws:codebuild:")
    subjects = {subject["name"]: subject["digest"]["sha256"] for subject in statement["subject"]}
    assert subjects == attested_files(attested)
    assert example.built in subjects
    verify = ["verify", str(attested), "--public-key", str(run.folder / "signing-key.pub.pem")]
    accepted = CliRunner().invoke(_app.cli, verify)
    assert accepted.exit_code == 0, accepted.output
    built = attested / example.built
    data = bytearray(built.read_bytes())
    data[-1] ^= 0x01
    built.write_bytes(bytes(data))
    refused = CliRunner().invoke(_app.cli, verify)
    assert refused.exit_code == 1, refused.output
    assert f"[provenance] '{example.built}' was changed since it was attested" in refused.output


def source_key(example: Example) -> str:
    """The object key the example's pipeline watches, as synthesized."""
    pipeline = choose(find_pipelines(cdk_out(example.name)), example.pipeline)
    (source,) = pipeline.stages[0].actions
    return str(source.configuration["S3ObjectKey"])


# --- every example -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_good_package_passes_every_stage_up_to_the_first_approval_or_deployment(
    example: Example, tmp_path: Path
) -> None:
    # GIVEN the example's synthesized pipeline  WHEN a good package runs
    run = s3vp_run(example, tmp_path, example.good)
    # THEN it exits 0, with every stage shown in pipeline order in its expected state
    assert run.result.exit_code == 0, run.output
    assert run.stages == dict(example.good_stages), run.output
    assert list(run.stages) == list(example.good_stages)
    # AND the validated artifact holds what the commands built, recorded in the manifest
    validated = run.folder / "artifacts" / "Validated"
    assert (validated / example.built).is_file(), run.output
    manifest = json.loads((validated / ".validated" / "manifest.json").read_text())
    assert example.built in manifest["files"]
    # AND each stage after Validate that ran verified the manifest and the signed provenance before its commands
    for stage, state in example.good_stages.items():
        if stage not in ("Source", "Validate") and state == SUCCEEDED:
            (log,) = run.logs(stage)
            assert "Manifest verified" in log.read_text(), stage
            assert "Provenance matches" in log.read_text(), stage
    assert_signed_provenance(run, example)
    # AND each deployment is skipped, saying what it would run; nothing of it ran
    for line in example.skipped_would_run:
        assert line in run.output, run.output
    for stage, state in example.good_stages.items():
        if state in (SKIPPED, STOPPED, NOT_RUN):
            assert not run.logs(stage), f"{stage} ran"
    if STOPPED in example.good_stages.values():
        assert "(pass --approve to go on)" in run.output
    # AND a build image's Node.js version that this machine does not have is said, not hidden
    for runtime, version in example.runtimes.items():
        if local_node_major() != version:
            assert f"warning: {runtime} {version} asked, {local_node_major()}" in run.output, run.output


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_env_file_with_an_access_key_id_is_rejected_at_validate_naming_the_rules(
    example: Example, tmp_path: Path
) -> None:
    # GIVEN the good package with a .env holding an AWS access key id
    run = s3vp_run(example, tmp_path, with_env_file(example.good))
    # THEN the run exits 1 at Validate, naming both rules, and no later stage ran
    assert run.result.exit_code == 1, run.output
    assert "[forbidden-file] '.env'" in run.output
    assert "[credentials] '.env'" in run.output
    assert_nothing_ran_after(run, "Validate")
    # AND the package's commands never ran: the check failed the build before them
    (log,) = run.logs("Validate")
    assert "Running command npm ci" not in log.read_text()
    assert not (run.folder / "artifacts" / "Validated").exists()
    assert not (run.folder / "artifacts" / "Attested").exists()


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_failing_build_command_fails_validate_and_no_later_stage_runs(example: Example, tmp_path: Path) -> None:
    # GIVEN a package the check accepts, whose build command (after npm ci) fails
    run = s3vp_run(example, tmp_path, example.broken_build)
    # THEN the run exits 1 at Validate's build phase, and no later stage ran
    assert run.result.exit_code == 1, run.output
    assert re.search(r"the build phase failed \(exit code [1-9]\d*\)", run.output), run.output
    assert_nothing_ran_after(run, "Validate")
    # AND the check passed, npm ci ran offline, the command failed for its own reason, and no artifact was written
    (log,) = run.logs("Validate")
    text = log.read_text()
    assert "Running command npm ci" in text
    assert "ENOTCACHED" not in text
    assert example.broken_says in text, text
    assert not (run.folder / "artifacts" / "Validated").exists()
    assert not (run.folder / "artifacts" / "Attested").exists()


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.failing_tests is not None], ids=str)
def test_failing_tests_fail_the_test_stage_and_no_deployment_runs(example: Example, tmp_path: Path) -> None:
    assert example.failing_tests is not None
    # GIVEN a package that validates and builds, whose tests fail
    run = s3vp_run(example, tmp_path, example.failing_tests)
    # THEN Validate succeeded, the run exits 1 at Test, and nothing after it ran
    assert run.result.exit_code == 1, run.output
    assert run.stages["Validate"] == SUCCEEDED, run.output
    assert "the build phase failed (exit code 1)" in run.output
    assert_nothing_ran_after(run, "Test")
    # AND Test verified the manifest before its commands, which ran and failed
    (log,) = run.logs("Test")
    text = log.read_text()
    assert "Manifest verified" in text
    assert "1 test failed: greets by name" in text


# --- a wave, with a target in another Region ------------------------------------------------------------------------


@pytest.mark.xdist_group("example-multi_region")
def test_a_wave_shows_each_target_skipped_with_what_it_would_run_and_where(tmp_path: Path) -> None:
    # GIVEN the multi_region example  WHEN a good package runs past the wave's approval
    run = s3vp_run(MULTI_REGION, tmp_path, MULTI_REGION.good, "--approve")
    # THEN the wave's stage is skipped, each of its targets shown by name with what it would run; ProdEU in its
    # Region, with the change set its project in eu-west-1 would make
    assert run.result.exit_code == 0, run.output
    assert (run.stages["ApproveProduction"], run.stages["DeployProduction"]) == (APPROVED, SKIPPED), run.output
    us = "ProdUS: deployment, would run: npx --no-install cdk deploy --all --require-approval never --context stage=pro"
    eu = "ProdEU: deployment in eu-west-1, would run: # The change set of $S3VP_STACK ($S3VP_MODE): made from the"
    assert us in run.output, run.output
    assert eu in run.output, run.output
    # AND nothing of the wave ran here
    assert not run.logs("DeployProduction")


# --- choosing one of the fleet's pipelines -------------------------------------------------------------------------


@pytest.mark.xdist_group("example-fleet")  # with the session's synthesis of examples/fleet
def test_fleet_pipeline_chosen_in_a_later_stack_runs_on_its_own_key(tmp_path: Path) -> None:
    # GIVEN the fleet's 24 pipelines in three stacks (beside the foundation's)  WHEN one in the third is chosen
    run = s3vp_run(FLEET, tmp_path, FLEET.good, "--json")
    # THEN that pipeline ran, on its own team's key, in its own stack
    assert run.result.exit_code == 0, run.output
    document = json.loads(run.output)
    assert (document["pipeline"], document["stack"]) == ("FleetTeams3/team24/Pipeline", "FleetTeams3")
    (source,) = document["stages"][0]["actions"]
    assert source["detail"].endswith("/teams/team24/source.zip"), source


@pytest.mark.xdist_group("example-fleet")
@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (None, "several pipelines: pass --pipeline with one of "),
        ("FleetTeams2", "several pipelines: pass --pipeline with one of "),
        ("FleetTeams2/team25", "no pipeline at FleetTeams2/team25; the cloud assembly holds: "),
    ],
)
def test_fleet_needs_one_pipeline_named_and_lists_all_of_them(wanted: str | None, message: str) -> None:
    # GIVEN the fleet's assembly  WHEN no pipeline, a stack of eight, or one that is not there is named
    args = ["run", str(Path(__file__)), "--app", str(cdk_out("fleet"))]
    result = CliRunner().invoke(_app.cli, [*args, *(["--pipeline", wanted] if wanted else [])])
    # THEN it is a usage error listing the 24 pipelines of every stack
    assert result.exit_code == 2, result.output
    assert message in result.output
    for path in ("FleetTeams1/team01/Pipeline", "FleetTeams2/team09/Pipeline", "FleetTeams3/team24/Pipeline"):
        assert path in result.output


# --- builds in a VPC -----------------------------------------------------------------------------------------------

VPC_BUILDS = Example(
    name="vpc_builds",
    pipeline=None,
    good=npm_package({"test": TEST_PASSES, "integration-test": TEST_PASSES}),
    broken_build=npm_package({"test": TEST_FAILS, "integration-test": TEST_PASSES}),
    broken_says="1 test failed: greets by name",
    good_stages={"Source": SUCCEEDED, "Validate": SUCCEEDED, "Test": SUCCEEDED},
    built="test-results.txt",
)


def test_builds_in_a_vpc_run_locally_and_say_the_vpc_is_not_reproduced(tmp_path: Path) -> None:
    # GIVEN the example whose every project has a VpcConfig  WHEN a good package runs locally
    run = s3vp_run(VPC_BUILDS, tmp_path, VPC_BUILDS.good)
    # THEN every stage runs as without a VPC
    assert run.result.exit_code == 0, run.output
    assert run.stages == dict(VPC_BUILDS.good_stages), run.output
    # AND each build (Validate, Attest, Test) says that the VPC is not reproduced, in the output and in its log
    assert run.output.count(f"warning: {IN_VPC}") == 3, run.output
    for stage in ("Validate", "Test"):
        assert all(IN_VPC in log.read_text() for log in run.logs(stage)), stage
