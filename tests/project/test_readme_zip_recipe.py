"""The README's zip recipe: the package it makes leaves out junk and passes the package check."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from s3_validated_pipeline.check import check_package
from tests.conftest import ROOT


def zip_recipe() -> str:
    """The README's zip command: the shell block of "Upload a package" that runs `zip`, up to the package check."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Upload a package", 1)[1].split("\n## ", 1)[0]
    blocks = [part.split("```", 1)[0] for part in section.split("```sh\n")[1:]]
    [block] = [candidate for candidate in blocks if "zip -r" in candidate]
    recipe = block.split("python -m s3_validated_pipeline.check", 1)[0]
    return recipe.replace("\\\n", " ").strip()


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs Info-ZIP's zip")
def test_the_readmes_zip_recipe_leaves_out_junk_and_passes_the_check(tmp_path: Path) -> None:
    # GIVEN a package with dependencies, Git's folder, environment files and OS clutter
    package = tmp_path / "my-package"
    files = {
        "package.json": "{}",
        "src/index.ts": "export {};",
        "src/lib/.env.example": "TOKEN=",
        ".env.example": "TOKEN=",
        ".env": "TOKEN=secret",
        ".env.local": "TOKEN=secret",
        "src/.env": "TOKEN=secret",
        "node_modules/left-pad/index.js": "module.exports = 1;",
        "packages/a/node_modules/b/index.js": "module.exports = 2;",
        ".git/HEAD": "ref: refs/heads/main",
        ".DS_Store": "junk",
        "src/.DS_Store": "junk",
        "__MACOSX/._index.ts": "junk",
        "Thumbs.db": "junk",
        "docs/Thumbs.db": "junk",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text, encoding="utf-8")
    # WHEN the README's recipe zips it
    bash = shutil.which("bash") or "/bin/bash"
    subprocess.run([bash, "-euo", "pipefail", "-c", zip_recipe()], cwd=tmp_path, check=True, capture_output=True)  # noqa: S603  # the README's own command
    # THEN the zip holds the package's own files, .env.example included, and nothing else
    with zipfile.ZipFile(tmp_path / "package.zip") as archive:
        listing = archive.namelist()
    assert sorted(name for name in listing if not name.endswith("/")) == [
        ".env.example",
        "package.json",
        "src/index.ts",
    ]
    # AND the package check accepts it
    report = check_package(tmp_path / "package.zip", required=["package.json"])
    assert report.accepted, [str(finding) for finding in report.findings]
