"""``s3vp run``'s messages when the pipeline cannot be had: a folder name given as ``--app`` that is not there, an app
whose Python cannot import aws_cdk. Nothing is synthesized: each app fails before it builds anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from s3_validated_pipeline.cli import _app
from tests.cli.test_run import BUILD_OK, TEST_OK, package

SUGGESTION = (
    'Synthesize first with `cdk synth` (it writes cdk.out), or give the app command, e.g. --app "python3 app.py"'
)


def run(folder: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """``s3vp run`` on a good package in ``folder`` (the working directory, as the caller's monkeypatch sets it)."""
    zip_path = package(folder, "good", {"build.sh": BUILD_OK, "test.sh": TEST_OK})
    return CliRunner().invoke(_app.cli, ["run", str(zip_path), *args], env=env, catch_exceptions=False)


@pytest.mark.parametrize(
    "value", ["cdk.out", "build/cdk.out", "cdk.out/", "out/", "assembly.out", "cdk.out/assembly-Production"]
)
def test_fails_when_app_names_a_folder_that_is_not_there(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a working directory without that folder
    monkeypatch.chdir(tmp_path)
    # WHEN --app names it
    result = run(tmp_path, "--app", value)
    # THEN a usage error names --app, the value and the folder looked in, and says what to do; no shell ran it
    assert result.exit_code == 2, result.output
    assert f"Error: --app {value}: no folder {value} in {Path.cwd()}; it names a cloud assembly folder" in result.output
    assert SUGGESTION in result.output
    assert "not found" not in result.output


def test_fails_when_app_names_a_file_where_the_folder_should_be(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cdk.out").write_text("not a cloud assembly")
    result = run(tmp_path, "--app", "cdk.out")
    assert result.exit_code == 2, result.output
    assert f"Error: --app cdk.out: no folder cdk.out in {Path.cwd()}" in result.output


def test_fails_when_cdk_json_app_names_a_folder_that_is_not_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "cdk.out"}))
    result = run(tmp_path)
    assert result.exit_code == 2, result.output
    assert "Error: cdk.json's app cdk.out: no folder cdk.out in" in result.output
    assert SUGGESTION in result.output


def test_an_app_without_a_folder_look_is_run_as_a_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN --app naming a script that is not there, with no folder look (no .out, no trailing /)
    monkeypatch.chdir(tmp_path)
    result = run(tmp_path, "--app", "./synth.sh")
    # THEN the shell ran it, as the CDK CLI would, and said why it failed
    assert result.exit_code == 2, result.output
    assert "synth.sh: not found" in result.output
    assert "cloud assembly folder" not in result.output


@pytest.fixture(scope="module")
def python_without_cdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a new virtual environment with nothing installed (made in a tenth of a second)."""
    folder = tmp_path_factory.mktemp("no-cdk") / "venv"
    venv.create(folder, with_pip=False)
    found = subprocess.run([folder / "bin" / "python3", "-c", "import aws_cdk"], capture_output=True, check=False)  # noqa: S603
    if found.returncode == 0:
        pytest.skip("this machine's base Python has aws_cdk, which every virtual environment of it then sees")
    return folder / "bin"


def test_fails_when_the_apps_python_cannot_import_aws_cdk_naming_it(
    python_without_cdk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an app importing aws_cdk, and first on PATH a python3 without it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("import aws_cdk\n")
    path = f"{python_without_cdk}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
    # WHEN the app command is `python3 app.py`
    result = run(tmp_path, "--app", "python3 app.py", env={"PATH": path})
    # THEN the error keeps the app's traceback, names the python3 PATH gave, and says how to fix it
    assert result.exit_code == 2, result.output
    assert "ModuleNotFoundError: No module named 'aws_cdk'" in result.output
    python = python_without_cdk / "python3"
    assert f"The app ran {python} (the python3 first on PATH), which cannot import aws_cdk: " in result.output
    assert "activate the virtual environment that has aws-cdk-lib (e.g. source .venv/bin/activate)" in result.output
    assert f"or install it: {python} -m pip install aws-cdk-lib" in result.output


def test_the_apps_python_given_by_a_path_is_named_by_that_path(
    python_without_cdk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the app command naming its Python by a relative path
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("import aws_cdk\n")
    relative = os.path.relpath(python_without_cdk / "python", tmp_path)
    result = run(tmp_path, "--app", f"{relative} app.py")
    # THEN the message names that file, from the working directory
    assert result.exit_code == 2, result.output
    assert f"The app ran {python_without_cdk / 'python'}, which cannot import aws_cdk" in result.output


def test_an_app_failing_otherwise_gets_no_aws_cdk_advice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("raise SystemExit('the app refused')\n")
    result = run(tmp_path, "--app", "python3 app.py")
    assert result.exit_code == 2, result.output
    assert "the app refused" in result.output
    assert "aws_cdk" not in result.output


def test_help_shows_both_forms_of_app() -> None:
    result = CliRunner().invoke(_app.cli, ["run", "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "--app 'python3 app.py'" in text
    assert "or the folder a `cdk synth` wrote (--app cdk.out)" in text
