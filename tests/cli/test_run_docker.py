"""``s3vp run --docker``: each build through the CodeBuild local agent, in the image its project names.

Docker is rarely on a test machine, so fake ``docker`` and ``codebuild_build.sh`` executables (written here) stand in
for them: the fake docker knows the images it is told of; the fake agent records what it was given, then runs the
buildspec file as the agent would, in the mounted source folder with the environment file's variables (bash sourcing
``BASH_ENV``, so the container's stand-in ``aws`` is really reached that way), printing docker compose-style lines
with terminal line ends, and exits 0 even when a phase failed (the log says so; ``FAKE_AGENT_NO_COMMAND_LINE`` leaves
out the line naming the failed command). One test runs the real agent where
Docker, the script and the images are on this machine.
"""

from __future__ import annotations

import base64
import getopt
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from s3_validated_pipeline.check import PROVENANCE_PATH
from s3_validated_pipeline.cli import _app
from s3_validated_pipeline.cli._local import agent as local_agent
from s3_validated_pipeline.cli._local.assembly import Action, choose, find_pipelines
from s3_validated_pipeline.cli._local.runner import failed_command
from tests.check.package_corpus import FAKE_ACCESS_KEY_ID
from tests.cli.test_run import APP, BUILD_OK, TEST_OK, package

pytestmark = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "sha256sum", "python3")),
    reason="needs bash, GNU coreutils and python3, as on the CodeBuild images",
)

IMAGES = {"Validate": "aws/codebuild/standard:7.0", "Test": "aws/codebuild/amazonlinux-x86_64-standard:5.0"}
"""The images the test app's projects name (the library's default, and Amazon Linux 2023 for Test)."""
GETOPT = "cmdi:a:r:s:b:e:l:p:h"
"""codebuild_build.sh's own getopts string."""

FAKE_DOCKER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_CALLS"], "a") as calls:
    calls.write(json.dumps({{"tool": "docker", "argv": sys.argv[1:]}}) + "\\n")
if sys.argv[1:3] == ["image", "inspect"]:
    if sys.argv[3] in os.environ.get("FAKE_DOCKER_IMAGES", "").split(","):
        print(json.dumps([{{"Id": "sha256:fake", "RepoTags": [sys.argv[3]]}}]))
        sys.exit(0)
    print("Error response from daemon: No such image: " + sys.argv[3], file=sys.stderr)
    sys.exit(1)
sys.exit(125)
"""

FAKE_AGENT = """#!{python}
import getopt, json, os, sys
from pathlib import Path
from s3_validated_pipeline.cli._local.codebuild import Build

options, _ = getopt.getopt(sys.argv[1:], {getopt!r})
values = {{flag: value for flag, value in options if flag != "-s"}}
sources = [value for flag, value in options if flag == "-s"]
record = {{
    "tool": "agent", "argv": sys.argv[1:], "stdin_tty": os.isatty(0), "env": dict(os.environ), "cwd": os.getcwd(),
    "buildspec": Path(values["-b"]).read_text(), "env_file": Path(values["-e"]).read_text(),
}}
with open(os.environ["FAKE_CALLS"], "a") as calls:
    calls.write(json.dumps(record) + "\\n")
print("Build Command:\\r\\n\\r\\ndocker run -it ... public.ecr.aws/codebuild/local-builds:latest\\r\\n")
if os.environ.get("FAKE_AGENT_EXIT"):
    print("agent-1  | Error: the agent could not start\\r")
    sys.exit(int(os.environ["FAKE_AGENT_EXIT"]))
# The container: no aws but the stand-in (the host's is left off PATH), its own HOME and TMPDIR, /tmp/s3vp its own.
work = Path(values["-a"]).parent
for name in ("home", "tmp", "scratch"):
    (work / name).mkdir()
path = [p for p in os.environ["PATH"].split(os.pathsep) if not os.path.exists(os.path.join(p, "aws"))]
env = {{"PATH": os.pathsep.join(path), "HOME": str(work / "home"), "TMPDIR": str(work / "tmp"), "LANG": "C.UTF-8"}}
for line in Path(values["-e"]).read_text().splitlines():
    if line and not line.startswith("#"):
        name, _, value = line.partition("=")
        env[name] = value
env.update({{
    "CODEBUILD_SRC_DIR": sources[0], "CODEBUILD_BUILD_ID": "fake:1", "CODEBUILD_BUILD_IMAGE": values["-i"],
    "CODEBUILD_INITIATOR": "fake-user", "CODEBUILD_BUILD_SUCCEEDING": "1",
}})
for source in sources[1:]:
    identifier, _, folder = source.partition(":")
    env["CODEBUILD_SRC_DIR_" + identifier] = folder
with open(work / "container.log", "w") as log:
    Build(Path(sources[0]), work / "scratch", env, log, 600).run(json.loads(Path(values["-b"]).read_text()))
for line in (work / "container.log").read_text().splitlines():
    if os.environ.get("FAKE_AGENT_NO_COMMAND_LINE") and "Command did not exit successfully" in line:
        continue
    line = line.replace("[Container] ", "[Container] 2025/01/02 03:04:05.678901 ")
    sys.stdout.write("\\x1b[36magent-1  | \\x1b[0m" + line + "\\r\\n")
sys.exit(0)
"""


@dataclass(frozen=True)
class Fakes:
    """Fake docker and agent script, each in a folder of its own (to leave either off PATH), and their calls."""

    docker_dir: Path
    agent_dir: Path
    calls_file: Path

    def env(self, *, docker: bool = True, agent: bool = True, images: tuple[str, ...] | None = None) -> dict[str, str]:
        folders = [str(d) for d, on in ((self.docker_dir, docker), (self.agent_dir, agent)) if on]
        left_off = [name for name, on in (("docker", docker), (local_agent.AGENT_SCRIPT, agent)) if not on]
        path = [
            folder
            for folder in os.environ.get("PATH", os.defpath).split(os.pathsep)
            if not any(os.path.exists(os.path.join(folder, name)) for name in left_off)
        ]
        present = (*IMAGES.values(), local_agent.AGENT_IMAGE) if images is None else images
        return {
            "PATH": os.pathsep.join([*folders, *path]),
            "FAKE_CALLS": str(self.calls_file),
            "FAKE_DOCKER_IMAGES": ",".join(present),
            # credentials in the environment must never reach the agent
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": "not-a-secret",
        }

    def calls(self, tool: str) -> list[dict[str, Any]]:
        if not self.calls_file.exists():
            return []
        records = [json.loads(line) for line in self.calls_file.read_text().splitlines()]
        return [record for record in records if record["tool"] == tool]

    def reset(self) -> None:
        self.calls_file.unlink(missing_ok=True)


def _fakes(root: Path) -> Fakes:
    fakes = Fakes(root / "fake-docker", root / "fake-agent", root / "calls.jsonl")
    for folder, name, text in (
        (fakes.docker_dir, "docker", FAKE_DOCKER.format(python=sys.executable)),
        (fakes.agent_dir, local_agent.AGENT_SCRIPT, FAKE_AGENT.format(python=sys.executable, getopt=GETOPT)),
    ):
        folder.mkdir()
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return fakes


@dataclass(frozen=True)
class Workspace:
    root: Path
    cdk_out: Path
    fakes: Fakes
    first: Result
    """The module's first run: the good package with --docker, synthesizing through cdk.json."""
    first_calls: list[dict[str, Any]]

    def run(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        self.fakes.reset()
        environment = self.fakes.env() if env is None else dict(env)
        return CliRunner().invoke(_app.cli, ["run", *args], env=environment, catch_exceptions=False)

    def run_package(
        self, name: str, files: Mapping[str, str], *extra: str, env: Mapping[str, str] | None = None
    ) -> tuple[Result, Path]:
        keep = self.root / f"run-{name}"
        zip_path = package(self.root, name, files)
        return self.run(str(zip_path), "--app", str(self.cdk_out), "--keep", str(keep), *extra, env=env), keep


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("run-docker")
    fakes = _fakes(root)
    (root / "app.py").write_text(APP)
    (root / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py"}))
    good = package(root, "good", {"build.sh": BUILD_OK, "test.sh": TEST_OK})
    previous = Path.cwd()
    os.chdir(root)
    try:
        first = CliRunner().invoke(
            _app.cli,
            ["run", str(good), "--docker", "--keep", str(root / "first")],
            env=fakes.env(),
            catch_exceptions=False,
        )
    finally:
        os.chdir(previous)
    return Workspace(root, root / "first" / "cdk.out", fakes, first, fakes.calls("agent"))


def _builds(cdk_out: Path) -> dict[tuple[str, str], Action]:
    """Each CodeBuild action, by stage and action name."""
    pipeline = choose(find_pipelines(cdk_out), None)
    return {(s.name, a.name): a for s in pipeline.stages for a in s.actions if a.buildspec}


def _statement(artifact: Path) -> dict[str, Any]:
    envelope = json.loads((artifact / PROVENANCE_PATH).read_text())
    statement: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return statement


def _env_file(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_good_package_runs_every_build_through_the_agent(workspace: Workspace) -> None:
    # GIVEN the shell-only app  WHEN a good zip runs with --docker
    result = workspace.first
    # THEN it exits 0 with Validate, Attest and Test run by the agent, one call each
    assert result.exit_code == 0, result.output
    assert "in its CodeBuild images through the local agent" in result.output
    assert "✓ Validate" in result.output
    assert "✓ Test" in result.output
    assert len(workspace.first_calls) == 3
    # AND the artifacts and reports are collected from the mounted source folder, as the local emulation does
    run = workspace.root / "first"
    assert (run / "artifacts" / "Validated" / ".validated" / "manifest.json").is_file()
    assert (run / "artifacts" / "Validated" / "out" / "result.txt").read_text() == "built\n"
    assert list((run / "reports").rglob("junit.xml"))
    # AND the build log is the agent's output without compose prefixes, colours or terminal line ends
    test_log = next((run / "logs").glob("*-Test-*.log")).read_text()
    assert "[Local] Running the CodeBuild local agent: " in test_log
    assert "Manifest verified" in test_log
    assert "Provenance matches" in test_log
    assert "agent-1  |" not in test_log
    assert "\r" not in test_log
    assert "\x1b[" not in test_log


def test_agent_gets_the_image_the_buildspec_the_variables_and_the_folders(workspace: Workspace) -> None:
    run = workspace.root / "first"
    builds = _builds(workspace.cdk_out)
    version_id = next(
        item["version_id"]
        for item in json.loads((run / "docker" / "s3vp_local" / "aws-config.json").read_text())["objects"]
        if item.get("version_id")
    )
    execution_id = _statement(run / "artifacts" / "Attested")["predicate"]["runDetails"]["metadata"]["invocationId"]
    assert execution_id.startswith("local-")
    pipeline = choose(find_pipelines(workspace.cdk_out), None)
    labels = (
        ("01-Validate-Validate", ("Validate", "Validate")),
        ("02-Validate-Attest", ("Validate", "Attest")),
        ("03-Test-Test", ("Test", "Test")),
    )
    for call, (label, (stage, name)) in zip(workspace.first_calls, labels, strict=True):
        action, root = builds[stage, name], run / "builds" / label
        options, rest = getopt.getopt(call["argv"], GETOPT)
        flags = [flag for flag, _ in options]
        values = {flag: value for flag, value in options if flag != "-s"}
        # THEN the image is the project's, the buildspec file holds the synthesized buildspec exactly
        assert values["-i"] == action.image == IMAGES[stage]
        assert json.loads(call["buildspec"]) == action.buildspec
        assert Path(values["-b"]) == root / "agent" / "buildspec.yml"
        # AND the source folder is the run's, mounted (-m), the stand-in is a secondary source, artifacts go beside
        assert [value for flag, value in options if flag == "-s"] == [
            str(root / "src"),
            f"s3vp_local:{run / 'docker' / 's3vp_local'}",
        ]
        assert Path(values["-a"]) == root / "agent" / "artifacts"
        assert "-m" in flags
        assert rest == []
        # AND never -c or -p: no AWS configuration or credentials, not even those in s3vp's environment
        assert not {"-c", "-p"} & set(flags)
        assert not [name for name in call["env"] if name.startswith("AWS_")]
        # AND the environment file holds the action's variables as substituted (the source version, the execution),
        # what CodeBuild would set that the agent may not (who started it, the build's ARN, when), and the rest
        expected = {
            name: value.replace("#{SourceVariables.VersionId}", version_id).replace(
                "#{codepipeline.PipelineExecutionId}", execution_id
            )
            for name, value in action.variables.items()
        }
        expected |= {
            "CODEBUILD_INITIATOR": f"codepipeline/{pipeline.name}",
            "CODEBUILD_BUILD_NUMBER": "1",
            "CODEBUILD_CI": "true",
            "BASH_ENV": "$CODEBUILD_SRC_DIR_s3vp_local/s3vp-env.sh",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        env_file = _env_file(call["env_file"])
        arn, started = env_file.pop("CODEBUILD_BUILD_ARN"), env_file.pop("CODEBUILD_START_TIME")
        assert env_file == expected
        project = re.escape(f"local-{str(action.project).lower()}")
        assert re.fullmatch(rf"arn:aws:codebuild:local:000000000000:build/{project}:[0-9a-f-]{{36}}", arn), arn
        assert started.isdigit()
        if name != "Validate":
            assert expected["S3VP_EXECUTION_ID"] == execution_id
        assert {"CHECKER_BUCKET", "CHECKER_KEY", "CHECKER_SHA256"} <= set(expected)
        if stage == "Validate":  # the source object's version, substituted from the source action's variables
            assert _env_file(call["env_file"])["SOURCE_OBJECT_VERSION_ID"] == version_id
        # AND docker run -it gets the terminal it needs
        assert call["stdin_tty"] is True


def test_stand_in_in_the_container_serves_the_checker_and_the_package(workspace: Workspace) -> None:
    # GIVEN the run's container stand-in: paths relative to it, copies of what it serves
    serve = workspace.root / "first" / "docker" / "s3vp_local"
    config = json.loads((serve / "aws-config.json").read_text())
    assert config["real_aws"] is None
    assert all(not Path(item["path"]).is_absolute() and (serve / item["path"]).is_file() for item in config["objects"])
    # THEN the Validate build reached it through BASH_ENV: the checker ran on the package the stand-in served
    validate_log = next((workspace.root / "first" / "logs").glob("*-Validate-Validate.log")).read_text()
    assert "a local run never calls AWS" not in validate_log
    assert "Phase complete: BUILD State: SUCCEEDED" in validate_log


def test_stand_in_in_the_container_signs_and_verifies_with_the_runs_key(workspace: Workspace) -> None:
    # GIVEN the container's stand-in: a copy of the run's key, for the key the pipeline names
    run = workspace.root / "first"
    serve = run / "docker" / "s3vp_local"
    (key,) = json.loads((serve / "aws-config.json").read_text())["keys"]
    assert not Path(key["private_key"]).is_absolute()
    assert (serve / key["private_key"]).read_text() == (run / "signing-key.pem").read_text()
    attest = _builds(workspace.cdk_out)["Validate", "Attest"]
    assert key["key_id"] == attest.variables["S3VP_SIGNING_KEY_ARN"]
    # THEN Attest signed in the container, and Test verified there, with no call refused
    for label in ("02-Validate-Attest", "03-Test-Test"):
        log = (run / "logs" / f"{label}.log").read_text()
        assert "a local run never calls AWS" not in log, label
        assert "Phase complete: PRE_BUILD State: SUCCEEDED" in log, label
    # AND the provenance records what the agent told the build (here the fake agent's own initiator, as the real one
    # may set from INITIATOR=$USER): Attest and Test saw the same, so it verified, and s3vp verify accepts it
    assert _statement(run / "artifacts" / "Attested")["predicate"]["buildDefinition"]["internalParameters"] == {
        "pipeline": "fake-user"
    }
    verify = ["verify", str(run / "artifacts" / "Attested"), "--public-key", str(run / "signing-key.pub.pem")]
    assert CliRunner().invoke(_app.cli, verify).exit_code == 0


def test_stand_in_other_calls_are_refused_in_the_container(workspace: Workspace) -> None:
    build = BUILD_OK + "aws sts get-caller-identity\n"
    result, keep = workspace.run_package("calls-aws", {"build.sh": build, "test.sh": TEST_OK}, "--docker")
    assert result.exit_code == 1, result.output
    log = next((keep / "logs").glob("*-Validate-*.log")).read_text()
    assert "a local run never calls AWS (aws sts get-caller-identity)" in log
    assert "with s3vp run --docker, no call reaches AWS." in log


def test_failing_build_reported_by_the_agent_fails_the_stage(workspace: Workspace) -> None:
    # GIVEN a build command failing, which the agent reports in its log while exiting 0
    files = {"build.sh": "echo broken >&2; exit 3\n", "test.sh": TEST_OK}
    result, keep = workspace.run_package("build-fails", files, "--docker")
    # THEN Validate failed at its build phase, naming the command read from the agent's log, with its exit code
    assert result.exit_code == 1, result.output
    assert "the build phase failed (exit code 3)\n      failed command: sh build.sh\n" in result.output
    assert "Failed: Validate. The command sh build.sh exited with code 3.\n" in result.output
    # AND neither Attest nor Test ran
    assert re.search(r"^ +Test +Didn't run$", result.output, re.MULTILINE), result.output
    assert len(workspace.fakes.calls("agent")) == 1
    assert not (keep / "artifacts" / "Validated").exists()


def test_failed_phase_alone_is_said_when_the_agent_log_names_no_command(workspace: Workspace) -> None:
    # GIVEN an agent whose log says the build phase failed, but not which command
    env = workspace.fakes.env() | {"FAKE_AGENT_NO_COMMAND_LINE": "1"}
    files = {"build.sh": "exit 3\n", "test.sh": TEST_OK}
    result, _ = workspace.run_package("no-command-line", files, "--docker", env=env)
    # THEN the run names the phase and says the log names no command, rather than guessing one
    assert result.exit_code == 1, result.output
    assert "      the build phase failed (exit code 1); its log names no failing command\n" in result.output
    assert "failed command:" not in result.output
    assert "Failed: Validate.\n" in result.output


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        # the agent's line, with its timestamp
        ("[Container] 2025/01/02 03:04 Command did not exit successfully sh build.sh exit status 3\n", "sh build.sh"),
        # the phase context line, when a CodeBuild version writes only that one
        (
            "[Container] 2025/01/02 Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing "
            "command: sh build.sh. Reason: exit status 3\n",
            "sh build.sh",
        ),
        # a command of several lines, read whole; the first one failing when two did
        (
            "Command did not exit successfully echo a\nfalse exit status 1\n"
            "Command did not exit successfully sh build.sh exit status 2\n",
            "echo a\nfalse",
        ),
        # a command that only starts like one of the buildspec's is not it
        ("Command did not exit successfully sh build.sh --fast exit status 1\n", None),
        ("[Container] Phase complete: BUILD State: FAILED\n", None),
    ],
)
def test_failed_command_is_the_buildspec_command_the_log_reports(log: str, expected: str | None) -> None:
    assert failed_command(log, ["sh build.sh", "echo a\nfalse"]) == expected


def test_rejected_package_names_the_rules_from_the_agent_log(workspace: Workspace) -> None:
    files = {"build.sh": BUILD_OK, "test.sh": TEST_OK, ".env": f"AWS_ACCESS_KEY_ID={FAKE_ACCESS_KEY_ID}\n"}
    result, _ = workspace.run_package("dotenv", files, "--docker")
    assert result.exit_code == 1, result.output
    assert "[forbidden-file] '.env'" in result.output
    assert "[credentials] '.env'" in result.output


def test_agent_failing_before_any_phase_fails_the_stage(workspace: Workspace) -> None:
    env = workspace.fakes.env() | {"FAKE_AGENT_EXIT": "1"}
    result, keep = workspace.run_package("agent-fails", {"build.sh": BUILD_OK, "test.sh": TEST_OK}, "--docker", env=env)
    assert result.exit_code == 1, result.output
    assert "the agent phase failed (exit code 1)" in result.output
    log = next((keep / "logs").glob("*-Validate-*.log")).read_text()
    assert "Error: the agent could not start" in log
    assert "ran no buildspec phase to completion" in log


def test_fails_when_docker_is_missing(workspace: Workspace) -> None:
    result, keep = workspace.run_package("no-docker", {}, "--docker", env=workspace.fakes.env(docker=False))
    assert result.exit_code == 2, result.output
    assert "--docker needs Docker: the docker command is not on PATH" in result.output
    assert workspace.fakes.calls("agent") == []
    assert not (keep / "builds").exists()


def test_fails_when_the_agent_script_is_missing(workspace: Workspace) -> None:
    result, _ = workspace.run_package("no-agent", {}, "--docker", env=workspace.fakes.env(agent=False))
    assert result.exit_code == 2, result.output
    assert "codebuild_build.sh on PATH" in result.output
    assert local_agent.SCRIPT_URL in result.output
    assert workspace.fakes.calls("docker") == []


def test_fails_when_the_image_is_missing_saying_how_to_build_it(workspace: Workspace) -> None:
    # GIVEN Test's image on this machine, not Validate's
    env = workspace.fakes.env(images=(IMAGES["Test"], local_agent.AGENT_IMAGE))
    result, _ = workspace.run_package("no-image", {}, "--docker", env=env)
    # THEN nothing runs, and the message names the image and the folder of aws-codebuild-docker-images building it
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    image = IMAGES["Validate"]
    assert f"the build image {image} is not on this machine (Error response from daemon: No such image:" in output
    assert f"cd aws-codebuild-docker-images/ubuntu/standard/7.0 && docker build -t {image} ." in output
    assert IMAGES["Test"] not in output
    assert workspace.fakes.calls("agent") == []
    inspected = [call["argv"] for call in workspace.fakes.calls("docker")]
    assert ["image", "inspect", image] in inspected


def test_fails_when_the_agent_image_is_missing(workspace: Workspace) -> None:
    env = workspace.fakes.env(images=tuple(IMAGES.values()))
    result, _ = workspace.run_package("no-agent-image", {}, "--docker", env=env)
    assert result.exit_code == 2, result.output
    assert f"docker pull {local_agent.AGENT_IMAGE}" in " ".join(result.output.split())


def test_allow_aws_is_refused_with_docker(workspace: Workspace) -> None:
    result, _ = workspace.run_package("allow-aws", {}, "--docker", "--allow-aws")
    assert result.exit_code == 2, result.output
    assert "--allow-aws cannot be combined with --docker" in result.output
    assert workspace.fakes.calls("docker") == []


def test_default_run_never_calls_docker(workspace: Workspace) -> None:
    # GIVEN docker and the agent script on PATH  WHEN a run goes without --docker  THEN neither is called
    result, keep = workspace.run_package("default", {"build.sh": BUILD_OK, "test.sh": TEST_OK})
    assert result.exit_code == 0, result.output
    assert "locally on" in result.output
    assert workspace.fakes.calls("docker") == []
    assert workspace.fakes.calls("agent") == []
    assert not (keep / "docker").exists()


@pytest.mark.parametrize(
    ("lines", "returncode", "expected"),
    [
        (["[Container] 2025/01/02 Phase complete: BUILD State: SUCCEEDED"], 0, (None, 0)),
        (
            [
                "[Container] 2025/01/02 Command did not exit successfully sh build.sh exit status 3",
                "[Container] 2025/01/02 Phase complete: BUILD State: FAILED",
                "[Container] 2025/01/02 Phase complete: POST_BUILD State: SUCCEEDED",
            ],
            0,
            ("build", 3),
        ),
        (
            [
                "[Container] 2018/07/29 23:51:23 Command did not exit successfully x exit status 127",
                "[Container] 2018/07/29 23:51:23 Phase complete: INSTALL Success: false",
                "[Container] 2018/07/29 23:51:23 Phase complete: PRE_BUILD Success: true",
            ],
            0,
            ("install", 127),
        ),
        (["[Container] 2025/01/02 Phase complete: UPLOAD_ARTIFACTS State: FAILED"], 0, ("upload_artifacts", 1)),
        (["Error: no such image"], 1, ("agent", 1)),
        ([], 0, ("agent", 1)),
        (["[Container] 2025/01/02 Phase complete: BUILD State: SUCCEEDED"], 2, ("agent", 2)),
    ],
)
def test_outcome_comes_from_the_agent_log(lines: list[str], returncode: int, expected: tuple[str | None, int]) -> None:
    assert local_agent.outcome(lines, returncode) == expected


def test_agent_lines_drop_compose_prefixes_and_colours() -> None:
    text = "\x1b[36magent_1  | \x1b[0m  [forbidden-file] '.env'\r\nagent-1  | [Container] x\r\nplain | text\r\n"
    assert local_agent.agent_lines(text) == ["  [forbidden-file] '.env'", "[Container] x", "plain | text"]


@pytest.mark.parametrize(
    ("image", "hint"),
    [
        ("aws/codebuild/standard:5.0", "aws-codebuild-docker-images/ubuntu/standard/5.0 && docker build -t "),
        ("aws/codebuild/amazonlinux-x86_64-standard:5.0", "aws-codebuild-docker-images/al/x86_64/standard/5.0 "),
        ("aws/codebuild/amazonlinux2-x86_64-standard:5.0", "aws-codebuild-docker-images/al2/x86_64/standard/5.0 "),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/builder:1", "pull or build 123456789012.dkr.ecr"),
    ],
)
def test_build_hint_names_the_folder_that_builds_the_image(image: str, hint: str) -> None:
    assert hint in local_agent.build_hint(image)


def test_env_file_refuses_a_value_on_several_lines() -> None:
    with pytest.raises(local_agent.AgentError, match="cannot be passed to the local agent"):
        local_agent.env_file_text({"A": "one\ntwo"})


def test_stand_in_runs_on_python_3_8() -> None:
    # GIVEN vermin  WHEN it checks the stand-in, which the build image's python3 runs with --docker
    pytest.importorskip("vermin", reason="vermin checks Python 3.8 compatibility; install the dev dependencies")
    stand_in = Path(local_agent.stand_in.__file__)
    command = [sys.executable, "-c", "import sys; from vermin import main; sys.exit(main())"]
    result = subprocess.run(  # noqa: S603
        [*command, "-t=3.8-", "--violations", "--no-tips", str(stand_in)], capture_output=True, text=True, check=False
    )
    # THEN nothing needs a newer Python
    assert result.returncode == 0, result.stdout + result.stderr


def _real_agent_missing() -> str | None:
    """Why the real agent cannot run here, or None."""
    docker = shutil.which("docker")
    if docker is None or shutil.which(local_agent.AGENT_SCRIPT) is None:
        return "docker or codebuild_build.sh is not on PATH"
    for image in (*IMAGES.values(), local_agent.AGENT_IMAGE):
        try:
            found = subprocess.run([docker, "image", "inspect", image], capture_output=True, check=False, timeout=60)  # noqa: S603
        except subprocess.TimeoutExpired:
            return "docker did not answer"
        if found.returncode != 0:
            return f"the image {image} is not on this machine"
    return None


@pytest.mark.skipif(
    _real_agent_missing() is not None,
    reason="needs docker and codebuild_build.sh on PATH and the images "
    + ", ".join([*IMAGES.values(), local_agent.AGENT_IMAGE]),
)
def test_real_agent_runs_the_shell_only_app(workspace: Workspace, tmp_path: Path) -> None:
    zip_path = package(tmp_path, "good", {"build.sh": BUILD_OK, "test.sh": TEST_OK})
    args = ["run", str(zip_path), "--app", str(workspace.cdk_out), "--keep", str(tmp_path / "run"), "--docker"]
    result = CliRunner().invoke(_app.cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "✓ Validate" in result.output
    assert "✓ Test" in result.output
    assert (tmp_path / "run" / "artifacts" / "Validated" / "out" / "result.txt").read_text() == "built\n"
