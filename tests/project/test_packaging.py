"""What users install: only aws-cdk-lib and constructs at run time, as ranges; the compliance tools are for tests."""

from __future__ import annotations

import re
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_runtime_dependencies_are_only_cdk_and_constructs_as_ranges() -> None:
    dependencies = PYPROJECT["project"]["dependencies"]
    names = sorted(re.split(r"[<>=!~ ]", d, maxsplit=1)[0] for d in dependencies)
    assert names == ["aws-cdk-lib", "constructs"]
    for dependency in dependencies:
        assert "==" not in dependency, f"{dependency} is an exact pin; use a range"
        assert "<" in dependency, f"{dependency} has no upper bound below the next major version"


def test_aws_cdk_lib_floor_is_at_least_2_269() -> None:
    """aws-cdk-lib 2.257-2.268 reject acknowledgement ids holding "::", which cdk-nag's finding ids hold
    (``AwsSolutions-IAM5[Resource::arn:...]``): every example fails with InvalidValidationId there. 2.269.0 is the
    first that synthesizes them; `make test-floor` (run by .ci/run) proves the declared floor on every run."""
    [cdk] = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("aws-cdk-lib")]
    floor = re.search(r">=(\d+)\.(\d+)\.(\d+)", cdk)
    assert floor is not None
    assert tuple(map(int, floor.groups())) >= (2, 269, 0)


def test_the_floor_is_tested_on_the_lowest_allowed_aws_cdk_lib() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    script = (ROOT / "scripts" / "test_floor.sh").read_text(encoding="utf-8")
    assert "test-floor:" in makefile
    assert "--resolution lowest-direct" in script
    assert re.search(r"^step test-floor$", (ROOT / ".ci" / "run").read_text(encoding="utf-8"), re.MULTILINE)


def test_compliance_tools_are_development_dependencies_only() -> None:
    development = " ".join(PYPROJECT["dependency-groups"]["dev"])
    for tool in ("cdk-nag", "checkov", "cfn-lint"):
        assert tool in development
        assert not any(d.startswith(tool) for d in PYPROJECT["project"]["dependencies"])


def test_package_ships_its_type_marker_and_trigger_handler() -> None:
    package = ROOT / "src" / "s3_validated_pipeline"
    assert (package / "py.typed").is_file()
    assert (package / "source" / "_handler" / "index.py").is_file()
    assert PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/s3_validated_pipeline"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and sdist, built from this checkout by uv (as `make package` does)."""
    uv = ROOT / ".tools" / "bin" / "uv"
    if not uv.exists():
        pytest.skip("uv is bootstrapped into .tools/ by `make`; run the suite through `make test`")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([str(uv), "build", "--quiet", "--out-dir", str(out)], cwd=ROOT, check=True)  # noqa: S603
    return out


def test_wheel_and_sdist_ship_the_licence_with_pep_639_metadata(built: Path) -> None:
    # GIVEN the built distributions
    (wheel,) = built.glob("*.whl")
    (sdist,) = built.glob("*.tar.gz")
    # THEN the wheel carries LICENSE and says so in its metadata, without the deprecated licence classifier
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    assert "License-Expression: Apache-2.0" in text
    assert "License-File: LICENSE" in text
    assert "Classifier: License ::" not in text
    # AND the sdist carries it too
    with tarfile.open(sdist) as archive:
        assert any(member.name.endswith("/LICENSE") for member in archive.getmembers())


def test_the_sdist_ships_the_reference_the_readme_names_and_no_build_output(built: Path) -> None:
    # GIVEN the docs files the README names as text ("in the source distribution") and the built sdist
    named = set(re.findall(r"`(docs/[a-z0-9-]+\.md)`", (ROOT / "README.md").read_text(encoding="utf-8")))
    (sdist,) = built.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        shipped = {member.name.split("/", 1)[1] for member in archive.getmembers() if "/" in member.name}
    # THEN it holds each of them and the diagram the pages show, and none of what `make docs` builds
    assert named
    assert named | {"docs/index.md", "docs/how-it-works.svg", "CHANGELOG.md", "SECURITY.md"} <= shipped
    assert [name for name in shipped if name.startswith("docs/") and name.endswith(".html")] == []
