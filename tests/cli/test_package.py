"""``s3vp package`` and ``s3vp check``: deterministic zips, junk left out, and the package check's verdict."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from s3_validated_pipeline.check import check_package
from s3_validated_pipeline.cli._package import PackageError, build_package, zip_timestamp
from tests.cli.conftest import run

KEPT = {
    "package.json": b'{"name": "app"}\n',
    "src/index.ts": b"export const x = 1;\n",
    "bin/run.sh": b"#!/bin/sh\necho run\n",
    ".env.example": b"API_URL=\n",
    ".gitignore": b"dist/\n",
    "docs/Ünïcode.md": b"# hello\n",
}
JUNK = {
    ".git/HEAD": b"ref: refs/heads/main\n",
    ".git/objects/ab/cdef": b"x",
    "node_modules/left-pad/index.js": b"module.exports = 1;\n",
    "packages/a/node_modules/b/index.js": b"module.exports = 2;\n",
    ".env": b"SECRET=1\n",
    ".env.local": b"SECRET=2\n",
    "src/.DS_Store": b"\0\0\0\1Bud1",
    "__MACOSX/._package.json": b"\0\5\26\7",
    "assets/Thumbs.db": b"\0thumbs",
}


def write_tree(root: Path, tree: dict[str, bytes]) -> None:
    for name, data in tree.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    write_tree(root, {**KEPT, **JUNK})
    (root / "bin/run.sh").chmod(0o775)
    (root / "package.json").chmod(0o600)
    return root


def test_two_runs_of_the_same_tree_give_byte_identical_zips(tree: Path, tmp_path: Path) -> None:
    # GIVEN two packagings of one tree, with different modification times and permissions in between
    code, _, _ = run("package", str(tree), "-o", str(tmp_path / "one.zip"))
    for path in tree.rglob("*"):
        if path.is_file():
            os.utime(path, (1_700_000_000, 1_700_000_000))
    (tree / "package.json").chmod(0o664)
    code_again, _, _ = run("package", str(tree), "-o", str(tmp_path / "two.zip"))
    # THEN the zips are the same bytes
    assert (code, code_again) == (0, 0)
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_entries_are_sorted_files_with_fixed_time_normalised_modes_and_no_extra_fields(
    tree: Path, tmp_path: Path
) -> None:
    build_package(tree, tmp_path / "p.zip")
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        infos = zf.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(KEPT)
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in infos)
    assert all(info.extra == b"" and info.create_system == 3 for info in infos)
    modes = {info.filename: info.external_attr >> 16 for info in infos}
    assert modes["bin/run.sh"] == 0o100755
    assert modes["package.json"] == 0o100644
    assert modes["src/index.ts"] == 0o100644


def test_junk_is_left_out_and_env_example_kept(tree: Path, tmp_path: Path) -> None:
    code, out, _ = run("package", str(tree), "-o", str(tmp_path / "p.zip"), "--verbose")
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        names = set(zf.namelist())
    assert code == 0
    assert names == set(KEPT)
    assert ".env.example" in names
    # a count per pattern, and with --verbose every path
    assert "node_modules/  2 folders" in out
    assert ".git/          1 folder" in out
    assert "packages/a/node_modules/" in out
    assert ".env.local" in out
    assert "ACCEPTED" in out


def test_the_output_passes_the_package_check(tree: Path, tmp_path: Path) -> None:
    build_package(tree, tmp_path / "p.zip")
    report = check_package(tmp_path / "p.zip", required=["package.json", "bin/*.sh"])
    assert report.accepted, report.summary()


def test_source_date_epoch_sets_every_timestamp(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000001")
    build_package(tree, tmp_path / "p.zip")
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        assert {info.date_time for info in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", (1980, 1, 1, 0, 0, 0)), ("0", (1980, 1, 1, 0, 0, 0)), ("99999999999", (2107, 12, 31, 23, 59, 58))],
)
def test_source_date_epoch_is_clamped_to_what_a_zip_holds(value: str, expected: tuple[int, ...]) -> None:
    assert zip_timestamp({"SOURCE_DATE_EPOCH": value}) == expected


def test_fails_when_source_date_epoch_is_not_a_number() -> None:
    with pytest.raises(PackageError, match="SOURCE_DATE_EPOCH must be a whole number of seconds, got 'yesterday'"):
        zip_timestamp({"SOURCE_DATE_EPOCH": "yesterday"})


def test_s3vpignore_adds_patterns_and_can_put_a_builtin_folder_back(tree: Path, tmp_path: Path) -> None:
    write_tree(tree, {".s3vpignore": b"# local files\n*.log\n/docs/\n!node_modules/\n", "debug.log": b"x"})
    code, out, _ = run("package", str(tree), "-o", str(tmp_path / "p.zip"))
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        names = set(zf.namelist())
    assert code == 0
    assert "debug.log" not in names
    assert "docs/Ünïcode.md" not in names
    assert "node_modules/left-pad/index.js" in names
    assert "*.log" in out
    assert "/docs/" in out


def test_fails_when_the_folder_holds_a_symbolic_link(tree: Path, tmp_path: Path) -> None:
    (tree / "src" / "link.ts").symlink_to(tree / "src" / "index.ts")
    code, _, err = run("package", str(tree), "-o", str(tmp_path / "p.zip"))
    assert code == 2
    assert "src/link.ts is a symbolic link, and the pipeline rejects links" in err
    assert not (tmp_path / "p.zip").exists()
    assert not (tmp_path / "p.zip.partial").exists()


def test_links_inside_left_out_folders_are_not_an_error(tree: Path, tmp_path: Path) -> None:
    (tree / "node_modules" / ".bin").mkdir()
    (tree / "node_modules" / ".bin" / "tool").symlink_to("../left-pad/index.js")
    code, _, _ = run("package", str(tree), "-o", str(tmp_path / "p.zip"))
    assert code == 0


def test_an_output_inside_the_folder_is_not_packaged_into_itself(tree: Path) -> None:
    run("package", str(tree), "-o", str(tree / "package.zip"))
    code, out, _ = run("package", str(tree), "-o", str(tree / "package.zip"), "--verbose")
    with zipfile.ZipFile(tree / "package.zip") as zf:
        assert "package.zip" not in zf.namelist()
    assert code == 0
    assert "(the output file)" in out


def test_exits_1_with_findings_when_the_pipeline_would_reject_the_package(tree: Path, tmp_path: Path) -> None:
    write_tree(tree, {"deploy/id_rsa": b"not really a key"})
    code, out, _ = run("package", str(tree), "-o", str(tmp_path / "p.zip"), "--require", "tsconfig.json")
    assert code == 1
    assert "REJECTED" in out
    assert "[forbidden-file]" in out
    assert "[required-missing]" in out
    assert (tmp_path / "p.zip").exists()


def test_package_json_reports_files_exclusions_and_the_check(tree: Path, tmp_path: Path) -> None:
    code, out, _ = run("package", str(tree), "-o", str(tmp_path / "p.zip"), "--json")
    document = json.loads(out)
    assert code == 0
    assert document["files"] == len(KEPT)
    assert document["excluded"][".env"] == [".env"]
    assert document["check"]["accepted"] is True


def test_check_exit_codes_match_the_package_checker(tree: Path, tmp_path: Path) -> None:
    build_package(tree, tmp_path / "p.zip")
    assert run("check", str(tmp_path / "p.zip"), "--require", "package.json")[0] == 0
    code, out, _ = run("check", str(tmp_path / "p.zip"), "--require", "tsconfig.json")
    assert code == 1
    assert "[required-missing]" in out
    assert run("check", str(tmp_path / "missing.zip"))[0] == 2
    assert run("check", str(tmp_path / "p.zip"), "--require", "../x")[0] == 2
    assert run("check")[0] == 2


def test_check_json_prints_the_checkers_report(tree: Path, tmp_path: Path) -> None:
    build_package(tree, tmp_path / "p.zip")
    code, out, _ = run("check", str(tmp_path / "p.zip"), "--json")
    assert code == 0
    assert json.loads(out)["accepted"] is True


def test_check_ignore_is_passed_through(tmp_path: Path) -> None:
    root = tmp_path / "app"
    write_tree(root, {"package.json": b"{}", "vendor/keys/server.pem": b"fixture"})
    build_package(root, tmp_path / "p.zip")
    assert run("check", str(tmp_path / "p.zip"))[0] == 1
    assert run("check", str(tmp_path / "p.zip"), "--ignore", "vendor")[0] == 0


def test_help_lists_the_commands_each_with_an_example() -> None:
    _, out, _ = run("--help")
    assert {"package", "check", "push", "history"} <= {
        line.split()[0] for line in out.splitlines() if line.startswith("  ")
    }
    for command in ("package", "check", "push", "history"):
        _, text, _ = run(command, "--help")
        assert f"s3vp {command} " in text.split("Examples:")[1]


def test_fails_when_a_name_is_not_utf8(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "ok.txt").write_text("x")
    try:
        root.joinpath(os.fsdecode(b"caf\xe9.txt")).write_text("x")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system does not store names that are not UTF-8")
    with pytest.raises(PackageError, match=r"caf\\xe9.txt: the name is not valid UTF-8"):
        build_package(root, tmp_path / "p.zip")
