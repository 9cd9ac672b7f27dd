"""The checker against zips that extractors read differently (``differential_corpus``): every attack is rejected by
its rule and extracts nothing, every control (the same zip without the attack) is accepted and extracted as
``zipfile`` extracts it, and for each attack a real extractor is shown to read something other than what the
checker judges.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from s3_validated_pipeline.check import check_package
from tests.check.differential_corpus import (
    BASE,
    DIFFERENTIAL,
    DiffCase,
    base_entries,
    every_reader,
    extract_with,
    needs_reader,
    snapshot,
)
from tests.check.package_corpus import MALICIOUS, Case, build_zip

NEW_RULES = {
    "end-record", "zip64-record", "entry-count-mismatch", "unaccounted-bytes", "local-header", "data-descriptor",
    "corrupt-entry", "name-extra-field", "empty-segment", "dot-segment", "file-is-parent", "name-too-long",
    "path-too-deep", "entry-type", "single-top-folder",
}  # fmt: skip


def write(directory: Path, name: str, data: bytes) -> Path:
    package = directory / f"{name}.zip"
    package.write_bytes(data)
    return package


def assert_empty(directory: Path) -> None:
    left = sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*")) if directory.exists() else []
    assert left == [], f"a rejected package left {left} in the extraction folder"


def test_every_new_rule_has_a_differential_case() -> None:
    # GIVEN the differential corpus
    # WHEN the rules its cases expect are collected
    covered = {rule for case in DIFFERENTIAL for rule in case.expected}
    # THEN every rule class v2 adds is exercised, and the case ids are unique
    assert covered >= NEW_RULES, sorted(NEW_RULES - covered)
    assert len({case.id for case in DIFFERENTIAL}) == len(DIFFERENTIAL)


@pytest.mark.parametrize("case", DIFFERENTIAL, ids=lambda case: case.id)
def test_attack_is_rejected_by_its_rule_and_extracts_nothing(case: DiffCase, tmp_path: Path) -> None:
    # GIVEN a zip that extractors could read differently from the checker
    package = write(tmp_path, case.id, case.build(True))
    target = tmp_path / "out"
    # WHEN it is checked, extracting as it goes
    report = check_package(package, limits=case.limits, extract_to=target)
    # THEN it is rejected by the expected rules (and at most the tolerated others), each naming the problem
    rules = {finding.rule for finding in report.findings}
    assert not report.accepted
    assert rules >= set(case.expected), report.summary()
    assert rules <= set(case.expected) | case.tolerated, report.summary()
    for rule, phrase in case.expected.items():
        messages = [finding.message for finding in report.findings if finding.rule == rule]
        assert any(phrase in message for message in messages), f"{phrase!r} not in {messages}"
    # AND nothing it extracted survives
    assert_empty(target)


@pytest.mark.parametrize("case", DIFFERENTIAL, ids=lambda case: case.id)
def test_control_without_the_attack_is_accepted_and_extracted_as_zipfile_does(case: DiffCase, tmp_path: Path) -> None:
    # GIVEN the same builder with the attack left out
    package = write(tmp_path, f"{case.id}-control", case.build(False))
    target = tmp_path / "out"
    # WHEN it is checked, extracting as it goes
    report = check_package(package, limits=case.limits, extract_to=target)
    # THEN it is accepted, so the rule (not a broken builder) rejects the attack
    assert report.accepted, report.summary()
    # AND the checker extracted exactly what zipfile extracts, with normalised modes
    assert snapshot(target) == extract_with("zipfile", package, tmp_path / "zipfile")
    assert_normalised_modes(target)


def assert_normalised_modes(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISDIR(mode):
            assert stat.S_IMODE(mode) == 0o755, path
        else:
            assert stat.S_ISREG(mode), path
            assert stat.S_IMODE(mode) in (0o644, 0o755), (path, oct(mode))


DIFFERING = [
    pytest.param(
        case,
        reader,
        id=f"{case.id}-{reader}",
        marks=needs_reader(reader),
    )
    for case in DIFFERENTIAL
    for reader in case.differs
]


@pytest.mark.parametrize(("case", "reader"), DIFFERING)
def test_a_real_extractor_reads_the_attack_differently(case: DiffCase, reader: str, tmp_path: Path) -> None:
    # GIVEN an attack zip, and what the checker judges in it
    package = write(tmp_path, case.id, case.build(True))
    # WHEN a real extractor extracts it
    extracted = extract_with(reader, package, tmp_path / reader)
    # THEN it wrote something other than what the checker judged: the class is a real differential
    assert extracted != case.judged, case.why


@pytest.mark.parametrize("reader", every_reader())
def test_every_extractor_reads_the_plain_project_as_judged(reader: str, tmp_path: Path) -> None:
    # GIVEN the plain project the attacks start from
    package = write(tmp_path, "base", build_zip(base_entries()))
    # WHEN each extractor extracts it
    # THEN they all agree with the checker's view, so a difference above comes from the attack, not the harness
    assert extract_with(reader, package, tmp_path / reader) == BASE


@pytest.mark.parametrize("case", [case for case in MALICIOUS if case.id != "deflate-bomb"], ids=lambda case: case.id)
def test_rejected_corpus_package_leaves_the_extraction_folder_empty(case: Case, tmp_path: Path) -> None:
    # GIVEN a malicious or broken package from the main corpus
    package = write(tmp_path, case.id, case.build())
    target = tmp_path / "out"
    target.mkdir()
    # WHEN it is checked into an existing empty folder
    report = check_package(
        package, required=case.required, limits=case.limits, expected_sha256=case.expected_sha256, extract_to=target
    )
    # THEN it is rejected and the folder is still empty
    assert not report.accepted
    assert_empty(target)
