"""The package checker (``check.py``): every rule against a corpus of malicious, broken and valid zips, the
manifest and its tamper checks, the command line, and that the file runs alone on Python 3.8.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from s3_validated_pipeline import check
from s3_validated_pipeline.check import (
    CHUNK_SIZE,
    DEFAULT_LIMITS,
    MANIFEST_PATH,
    Entry,
    EntryData,
    Limits,
    Report,
    check_compression_ratio,
    check_forbidden_files,
    check_package,
    compile_glob,
    find_credentials,
    main,
    sha256_from_s3_checksum,
    verify_manifest,
    write_manifest,
)
from tests.check.differential_corpus import DIFFERENTIAL
from tests.check.package_corpus import (
    BOMB_BYTES,
    DOCUMENTED_EXAMPLE_KEY_ID,
    FAKE_ACCESS_KEY_ID,
    FAKE_SIGNING_KEY,
    MALICIOUS,
    PRIVATE_KEY_BLOCK,
    REQUIRED_NODE_FILES,
    VALID,
    Case,
    RawEntry,
    build_zip,
    deflate_bomb,
    node_project,
    without,
    write_zip,
)
from tests.conftest import python38

CHECK_PY = Path(check.__file__)
SECRETS = (FAKE_ACCESS_KEY_ID, FAKE_SIGNING_KEY, PRIVATE_KEY_BLOCK.splitlines()[1])


def write_case(directory: Path, case: Case) -> Path:
    package = directory / f"{case.id}.zip"
    package.write_bytes(case.build())
    return package


def run_case(directory: Path, case: Case) -> Report:
    return check_package(
        write_case(directory, case),
        required=case.required,
        limits=case.limits,
        expected_sha256=case.expected_sha256,
    )


def make_zip(directory: Path, files: dict[str, bytes | str | None], name: str = "package.zip") -> Path:
    package = directory / name
    package.write_bytes(write_zip(files))
    return package


def json_documents(text: str) -> list[Any]:
    """The JSON documents printed one after another."""
    decoder = json.JSONDecoder()
    documents = []
    at = 0
    while text[at:].strip():
        document, at = decoder.raw_decode(text, len(text) - len(text[at:].lstrip()))
        documents.append(document)
    return documents


# --------------------------------------------------------------------------------------------------------------
# The corpus


def test_the_corpora_have_a_malicious_zip_for_every_rule() -> None:
    # GIVEN the malicious corpus and the differential one
    # WHEN the rules their cases expect are collected
    covered = {rule for case in MALICIOUS for rule in case.expected}
    covered |= {rule for case in DIFFERENTIAL for rule in case.expected}
    # THEN every rule the checker has is exercised by at least one zip
    assert covered == set(check.RULES)


def test_the_docs_document_every_rule() -> None:
    # GIVEN the rules table of docs/package-check.md  THEN it names every rule id, and no other
    page = (Path(__file__).parents[2] / "docs" / "package-check.md").read_text(encoding="utf-8")
    section = page.split("\n## Rules\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    documented = {rule for row in rows for rule in re.findall(r"`([a-z0-9-]+)`", row.split(" | ")[0])}
    assert documented == set(check.RULES)


@pytest.mark.parametrize("case", MALICIOUS, ids=lambda case: case.id)
def test_malicious_or_broken_package_is_rejected_by_the_right_rules(case: Case, tmp_path: Path) -> None:
    # GIVEN a malicious or broken zip
    # WHEN it is checked
    report = run_case(tmp_path, case)
    # THEN it is rejected, by exactly the expected rules, each with a message that names the problem
    assert not report.accepted
    assert {finding.rule for finding in report.findings} == set(case.expected), report.summary()
    for rule, phrase in case.expected.items():
        messages = [finding.message for finding in report.findings if finding.rule == rule]
        assert any(phrase in message for message in messages), f"{phrase!r} not in {messages}"
    assert report.summary().startswith(f"REJECTED: '{tmp_path / case.id}.zip': {len(report.findings)} finding(s)")


@pytest.mark.parametrize("case", VALID, ids=lambda case: case.id)
def test_valid_package_is_accepted(case: Case, tmp_path: Path) -> None:
    # GIVEN a valid zip, which zipfile also reads without error
    package = write_case(tmp_path, case)
    with zipfile.ZipFile(package) as archive:
        assert archive.testzip() is None
        entries = len(archive.infolist())
    # WHEN it is checked
    report = check_package(package, required=case.required, limits=case.limits)
    # THEN it is accepted and every entry was counted
    assert report.accepted, report.summary()
    assert report.findings == ()
    assert report.entries == entries
    assert report.summary().startswith(f"ACCEPTED: '{package}': 0 finding(s); {entries} entries")


def test_entries_are_counted_by_the_bytes_they_inflate_to(tmp_path: Path) -> None:
    # GIVEN the Node.js project, deflated
    files = node_project()
    package = make_zip(tmp_path, files)
    # WHEN it is checked
    report = check_package(package)
    # THEN the uncompressed total is the sum of the contents, and the digest and size are the zip file's
    content = sum(len(v.encode() if isinstance(v, str) else v) for v in files.values() if v is not None)
    assert report.total_bytes == content
    assert report.sha256 == hashlib.sha256(package.read_bytes()).hexdigest()
    assert report.size == package.stat().st_size


# --------------------------------------------------------------------------------------------------------------
# Bombs are stopped early


def test_deflate_bomb_is_rejected_without_inflating_it(tmp_path: Path) -> None:
    # GIVEN 200 MiB of zeros deflated into about 200 KB
    package = tmp_path / "bomb.zip"
    package.write_bytes(deflate_bomb())
    with zipfile.ZipFile(package) as archive:
        compressed = archive.infolist()[0].compress_size
    # WHEN it is checked with the default limits
    report = check_package(package)
    # THEN inflating stopped just past the ratio limit: a few MiB were read, not 200
    assert [finding.rule for finding in report.findings] == ["compression-ratio"]
    assert report.total_bytes <= DEFAULT_LIMITS.max_compression_ratio * compressed + CHUNK_SIZE
    assert report.total_bytes < BOMB_BYTES / 5


def test_bomb_under_the_ratio_limit_stops_at_the_total_bytes_limit(tmp_path: Path) -> None:
    # GIVEN the same bomb, with the ratio limit out of the way and a 10 MiB total limit
    package = tmp_path / "bomb.zip"
    package.write_bytes(deflate_bomb())
    limits = Limits(max_compression_ratio=1e9, max_total_bytes=10 * 1024 * 1024)
    # WHEN it is checked
    report = check_package(package, limits=limits)
    # THEN reading stopped at most one chunk past the total limit
    assert [finding.rule for finding in report.findings] == ["too-large"]
    assert "more than 10 MiB (the limit)" in report.findings[0].message
    assert limits.max_total_bytes < report.total_bytes <= limits.max_total_bytes + CHUNK_SIZE


def test_overlapped_bomb_is_not_inflated_at_all(tmp_path: Path) -> None:
    # GIVEN ten entries sharing one 10 MiB kernel
    [case] = [case for case in MALICIOUS if case.id == "overlap-bomb-shared-kernel"]
    # WHEN it is checked
    report = run_case(tmp_path, case)
    # THEN each entry that reuses the kernel is named, and no entry was inflated
    overlapping = [finding.path for finding in report.findings if finding.rule == "overlapping-entries"]
    assert overlapping == [str(i) for i in range(1, 10)]
    assert report.total_bytes == 0


def test_small_repetitive_files_are_not_judged_by_their_ratio(tmp_path: Path) -> None:
    # GIVEN a 5 KB file of one repeated word, which deflates far beyond 100:1
    package = tmp_path / "fixture.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.md", "A package with a test fixture.\n")
        archive.writestr("test/fixture.txt", "hello" * 1000)
    # WHEN it is checked with the default limits
    report = check_package(package)
    # THEN it is accepted: output under RATIO_FLOOR cannot be a bomb on its own
    assert report.accepted, report.summary()


def test_archive_ratio_catches_entries_that_share_compressed_bytes() -> None:
    # GIVEN three entries under the per-entry limit whose compressed sizes add up to more than the file
    entries = [
        EntryData(Entry(i, f"f{i}", f"f{i}".encode(), 0, 8, 0, 10_000, 500_000, 0, 0, 3, 31), 10_000, 500_000)
        for i in range(3)
    ]
    # WHEN the ratio rule sees them, with and without the archive's real size
    shared = check_compression_ratio(entries, Limits(max_compression_ratio=100), archive_size=12_000)
    separate = check_compression_ratio(entries, Limits(max_compression_ratio=100))
    # THEN only the real size reveals the whole archive's ratio (125:1)
    assert [(f.rule, f.path) for f in shared] == [("compression-ratio", "")]
    assert "125:1 overall" in shared[0].message
    assert separate == []


# --------------------------------------------------------------------------------------------------------------
# Names, required and forbidden files


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("package.json", "package.json", True),
        ("package.json", "app/package.json", False),
        ("bin/*.ts", "bin/app.ts", True),
        ("bin/*.ts", "bin/sub/app.ts", False),
        ("*", ".env", True),
        ("config/*", "config/.hidden", True),
        ("?.txt", "a.txt", True),
        ("?.txt", "/.txt", False),
        ("**/*.ts", "app.ts", True),
        ("**/*.ts", "lib/a/b/app.ts", True),
        ("lib/**/*.ts", "lib/app.ts", True),
        ("lib/**/*.ts", "lib/x/y/app.ts", True),
        ("lib/**", "lib/x/y/app.ts", True),
        ("lib/**", "library/app.ts", False),
        ("[abc].txt", "b.txt", True),
        ("[!abc].txt", "d.txt", True),
        ("[!abc].txt", "a.txt", False),
        ("a+b(1).txt", "a+b(1).txt", True),
        ("./bin/", "bin", True),
    ],
)
def test_glob_semantics(pattern: str, path: str, matches: bool) -> None:
    # GIVEN a pattern relative to the package root
    # WHEN it is compiled
    regex = compile_glob(pattern)
    # THEN '**' crosses folders (including none), '*' and '?' stay in one segment and match dotfiles
    assert bool(regex.match(path)) is matches


def test_every_missing_required_pattern_is_listed(tmp_path: Path) -> None:
    # GIVEN a project without its lock file and bin folder
    package = make_zip(tmp_path, without(node_project(), "package-lock.json", "bin/", "bin/app.ts"))
    # WHEN it is checked against the Node.js requirements
    report = check_package(package, required=REQUIRED_NODE_FILES)
    # THEN both missing patterns are named, and only they
    messages = [finding.message for finding in report.findings]
    assert [finding.rule for finding in report.findings] == ["required-missing", "required-missing"]
    assert "'package-lock.json'" in messages[0]
    assert "'bin/*.ts'" in messages[1]


def test_required_patterns_match_files_never_folders(tmp_path: Path) -> None:
    # GIVEN a zip without folder entries (as some tools write them) and a listed empty folder
    package = make_zip(tmp_path, {"README.md": "r", "src/app/main.py": "print()\n", "empty/": None})
    # WHEN files are required by path and by glob, and folders are required by name
    files = check_package(package, required=("src/app/main.py", "src/**/main.py", "src/app/**"))
    folders = check_package(package, required=("src/app", "empty"))
    # THEN the files count, and neither an implied nor a listed folder satisfies a pattern
    assert files.accepted, files.summary()
    assert [(f.rule, f.message) for f in folders.findings] == [
        ("required-missing", "No file matches the required pattern 'src/app'; add it."),
        ("required-missing", "No file matches the required pattern 'empty'; add it."),
    ]


def test_forbidden_files_are_each_named_and_exceptions_are_honoured(tmp_path: Path) -> None:
    # GIVEN secrets files among allowed look-alikes
    files: dict[str, bytes | str | None] = {
        "deploy/id_rsa": "k",
        "deploy/id_rsa.pub": "ssh-ed25519 k",
        "certs/Server.PEM": "c",
        ".env.example": "A=",
        ".env.local": "A=1",
        "home/.aws/credentials": "c",
        ".git-credentials": "c",
        "docs/.netrc": "c",
    }
    package = make_zip(tmp_path, files)
    # WHEN it is checked with the default forbidden patterns
    report = check_package(package)
    # THEN each forbidden file is named once (case ignored), and the public key and example env file pass
    assert [(f.rule, f.path) for f in report.findings] == [
        ("forbidden-file", "deploy/id_rsa"),
        ("forbidden-file", "certs/Server.PEM"),
        ("forbidden-file", ".env.local"),
        ("forbidden-file", "home/.aws/credentials"),
        ("forbidden-file", ".git-credentials"),
        ("forbidden-file", "docs/.netrc"),
    ]


def test_a_forbidden_folder_is_reported_once_not_with_each_file() -> None:
    # GIVEN entries inside a forbidden folder
    entries = [Entry(i, name, name.encode(), 0, 0, 0, 0, 0, 0, 0, 3) for i, name in enumerate(["a/x/1", "a/x/2"])]
    # WHEN the forbidden rule checks them
    findings = check_forbidden_files(entries, ("x",))
    # THEN the folder is the one finding
    assert [finding.path for finding in findings] == ["a/x/"]


# --------------------------------------------------------------------------------------------------------------
# Credentials


@pytest.mark.parametrize("case", [c for c in MALICIOUS if "credentials" in c.expected], ids=lambda case: case.id)
def test_credential_findings_never_show_the_secret(case: Case, tmp_path: Path) -> None:
    # GIVEN a package with a credential in it
    # WHEN it is checked
    report = run_case(tmp_path, case)
    # THEN neither the summary nor the JSON report holds the secret
    text = report.summary() + json.dumps(report.to_dict())
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000, 1 << 20])
def test_credentials_are_found_wherever_chunks_split_them(chunk_size: int) -> None:
    # GIVEN a text with one credential of each kind, on known lines
    text = (
        "line 1\n"
        + "x = 1\n" * 300
        + f"key_id = '{FAKE_ACCESS_KEY_ID}'\n"  # line 302
        + "y = 2\n" * 200
        + f'"SecretAccessKey": "{FAKE_SIGNING_KEY}",\n'  # line 503
        + PRIVATE_KEY_BLOCK  # starts on line 504
    ).encode()
    chunks = [text[i : i + chunk_size] for i in range(0, len(text), chunk_size)]
    # WHEN it is scanned in chunks of any size
    hits = find_credentials(chunks)
    # THEN each credential is found once, on its line
    assert sorted((hit.kind, hit.lines) for hit in hits) == [
        ("AWS access key ID", (302,)),
        ("AWS secret access key", (503,)),
        ("private key", (504,)),
    ]


@pytest.mark.parametrize(
    "text",
    [
        f"id = {DOCUMENTED_EXAMPLE_KEY_ID}\n",
        f"id = X{FAKE_ACCESS_KEY_ID}\n",  # part of a longer token, not a key id
        f"id = {FAKE_ACCESS_KEY_ID}9\n",
        "aws_secret_access_key = ${AWS_SECRET_ACCESS_KEY}\n",
        f"aws_secret_access_key = {FAKE_SIGNING_KEY}A\n",  # 41 characters
        "-----BEGIN PUBLIC KEY-----\n",
    ],
)
@pytest.mark.parametrize("chunk_size", [1, 1 << 20])
def test_look_alikes_are_not_credentials(text: str, chunk_size: int) -> None:
    # GIVEN text that resembles a credential, well inside a file longer than the 8 KiB the scanner first looks at
    data = ("." * 9000 + text + "." * 2000).encode()
    # WHEN it is scanned whole, or a byte at a time (so that every character lands on a chunk boundary)
    hits = find_credentials(data[i : i + chunk_size] for i in range(0, len(data), chunk_size))
    # THEN nothing is found
    assert hits == []


def test_binary_files_and_files_over_the_scan_limit_are_not_scanned() -> None:
    # GIVEN a credential after a NUL byte, and one past the scan limit
    binary = b"\x00" + FAKE_ACCESS_KEY_ID.encode()
    long = b"x" * 100 + b" " + FAKE_ACCESS_KEY_ID.encode()
    # WHEN they are scanned
    # THEN neither is reported, but the same key within the limit is
    assert find_credentials([binary]) == []
    assert find_credentials([long], max_bytes=100) == []
    assert len(find_credentials([long], max_bytes=200)) == 1


# --------------------------------------------------------------------------------------------------------------
# Checksums and the report


def test_matching_expected_checksum_is_accepted_in_any_case(tmp_path: Path) -> None:
    # GIVEN a package and its SHA-256 in upper case
    package = make_zip(tmp_path, node_project())
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    # WHEN it is checked against that digest
    report = check_package(package, expected_sha256=digest.upper())
    # THEN it is accepted and the expected digest is recorded
    assert report.accepted
    assert report.to_dict()["expected_sha256"] == digest


def test_expected_checksum_that_is_not_hex_is_a_usage_error(tmp_path: Path) -> None:
    package = make_zip(tmp_path, node_project())
    with pytest.raises(ValueError, match="64 hex digits"):
        check_package(package, expected_sha256="abc")


def test_s3_checksum_converts_to_hex_and_composites_are_not_digests() -> None:
    # GIVEN a SHA-256 as S3 reports it: base64 of the raw digest, or a multipart composite
    digest = hashlib.sha256(b"package").digest()
    # WHEN each is converted
    # THEN the single-part one is the hex digest, the composite is None, and junk is an error
    assert sha256_from_s3_checksum(base64.b64encode(digest).decode()) == digest.hex()
    assert sha256_from_s3_checksum(base64.b64encode(digest).decode() + "-3") is None
    with pytest.raises(ValueError, match="not base64"):
        sha256_from_s3_checksum("not base64!")
    with pytest.raises(ValueError, match="not a base64 SHA-256"):
        sha256_from_s3_checksum(base64.b64encode(b"short").decode())


def test_report_json_has_a_stable_shape(tmp_path: Path) -> None:
    # GIVEN a rejected package
    package = make_zip(tmp_path, {"../x": "x"})
    # WHEN its report is serialised
    document = json.loads(json.dumps(check_package(package).to_dict()))
    # THEN the keys come in a fixed order and each finding has rule, path and message
    assert list(document) == [
        "package", "accepted", "sha256", "expected_sha256", "size", "entries", "total_bytes", "findings", "notes",
    ]  # fmt: skip
    assert document["accepted"] is False
    assert document["findings"] == [
        {
            "rule": "path-traversal",
            "path": "../x",
            "message": "'../x' has a '..' component, which would extract it outside the target folder.",
        }
    ]


def test_names_with_control_characters_are_escaped_in_the_log(tmp_path: Path) -> None:
    # GIVEN an entry whose name would break a log line
    package = tmp_path / "p.zip"
    package.write_bytes(build_zip([RawEntry(b"evil\nREJECTED: 0 findings\x1b[2J", data=b"x")]))
    # WHEN the summary is printed
    summary = check_package(package).summary()
    # THEN the finding stays on one line
    assert len(summary.splitlines()) == 2
    assert "\\n" in summary
    assert "\\x1b" in summary


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        Limits(max_entries=0)
    with pytest.raises(ValueError, match="max_package_bytes"):
        Limits(max_package_bytes=0)
    with pytest.raises(ValueError, match="max_compression_ratio"):
        Limits(max_compression_ratio=0)
    with pytest.raises(ValueError, match="sequence of patterns"):
        Limits(forbidden="*.pem")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------------
# Manifest


SOURCE = {"bucket": "uploads", "key": "app.zip", "versionId": "v1", "sha256": "ab" * 32, "s3ChecksumMatched": True}


def make_tree(root: Path) -> Path:
    (root / "lib" / "nested").mkdir(parents=True)
    (root / "package.json").write_text('{"name": "app"}\n', encoding="utf-8")
    (root / "lib" / "a.ts").write_text("export const a = 1;\n", encoding="utf-8")
    (root / "lib" / "nested" / "b.ts").write_text("export const b = 2;\n", encoding="utf-8")
    (root / "empty").mkdir()
    return root


def test_manifest_hashes_every_file_sorted_and_records_the_source(tmp_path: Path) -> None:
    # GIVEN an extracted package with a symlink to a file and one to a folder
    root = make_tree(tmp_path / "pkg")
    (root / "link.ts").symlink_to("lib/a.ts")
    (root / "lib-link").symlink_to("lib", target_is_directory=True)
    # WHEN its manifest is written
    manifest = write_manifest(root, source=SOURCE, output=root / MANIFEST_PATH)
    # THEN every file is hashed by content, in path order; the linked folder is not descended
    sha = {name: hashlib.sha256((root / name).read_bytes()).hexdigest() for name in manifest["files"]}
    assert manifest == {"version": 1, "algorithm": "sha256", "source": SOURCE, "files": sha}
    assert list(manifest["files"]) == ["lib/a.ts", "lib/nested/b.ts", "link.ts", "package.json"]
    assert json.loads((root / MANIFEST_PATH).read_text(encoding="utf-8")) == manifest
    # AND the written manifest does not list itself, so the folder verifies
    assert write_manifest(root, source=SOURCE) == manifest
    assert verify_manifest(root, manifest) == []


@pytest.mark.parametrize(
    ("tamper", "rule", "path"),
    [
        (lambda root: (root / "lib" / "a.ts").write_bytes(b"export const a = 2;\n"), "file-changed", "lib/a.ts"),
        (lambda root: (root / "lib" / "evil.js").write_text("x", encoding="utf-8"), "file-added", "lib/evil.js"),
        (lambda root: (root / "lib" / "nested" / "b.ts").unlink(), "file-missing", "lib/nested/b.ts"),
        (lambda root: (root / "empty" / ".npmrc").write_text("x", encoding="utf-8"), "file-added", "empty/.npmrc"),
    ],
    ids=["changed-byte", "added-file", "removed-file", "added-dotfile"],
)
def test_tampering_after_the_manifest_is_detected_and_named(tamper: Any, rule: str, path: str, tmp_path: Path) -> None:
    # GIVEN a folder and its manifest
    root = make_tree(tmp_path / "pkg")
    manifest = write_manifest(root, source=SOURCE)
    # WHEN one file is changed, added or removed
    tamper(root)
    # THEN exactly that difference is reported, naming the file
    findings = verify_manifest(root, manifest)
    assert [(finding.rule, finding.path) for finding in findings] == [(rule, path)]
    assert f"'{path}'" in findings[0].message


def test_verify_rejects_a_document_that_is_not_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a version 1 sha256 manifest"):
        verify_manifest(tmp_path, {"version": 2, "files": {}})


# --------------------------------------------------------------------------------------------------------------
# Command line, in process


def test_cli_prints_the_summary_and_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a package missing a required file
    package = make_zip(tmp_path, without(node_project(), "package-lock.json"))
    report_file = tmp_path / "report.json"
    # WHEN the CLI checks it
    argv = ["--require", "package.json", "--require", "package-lock.json", "--report", str(report_file)]
    code = main([str(package), *argv])
    # THEN it exits 1, prints the finding, and writes the same verdict as JSON
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("REJECTED: ")
    assert "[required-missing] No file matches the required pattern 'package-lock.json'" in out
    assert json.loads(report_file.read_text(encoding="utf-8"))["accepted"] is False


def test_cli_options_set_the_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a package with a nested archive, a .env file and three entries
    package = make_zip(tmp_path, {"a.zip": b"PK", ".env": "A=1", "b.txt": "b"})
    # WHEN it is checked with options that allow each
    allowed = main([str(package), "--allow-nested-archives", "--no-default-forbidden", "--max-entries", "3"])
    # AND with options that forbid more
    denied = main([str(package), "--allow-nested-archives", "--max-entries", "2", "--forbid", "*.txt"])
    # THEN the options decide
    out = capsys.readouterr().out
    assert allowed == 0
    assert denied == 1
    assert "[too-many-entries]" in out


def test_cli_max_package_bytes_refuses_a_larger_zip_unread(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a good package's zip of N bytes
    package = make_zip(tmp_path, {"package.json": "{}"})
    size = package.stat().st_size
    # WHEN it is checked with a limit of N bytes, then of N - 1
    at_limit = main([str(package), "--max-package-bytes", str(size)])
    over = main([str(package), "--max-package-bytes", str(size - 1)])
    # THEN the first is accepted and the second rejected by its size alone, the message naming both sizes
    out = capsys.readouterr().out
    assert (at_limit, over) == (0, 1)
    assert f"[package-size] The zip is {size} bytes, more than the limit of {size - 1} bytes" in out
    assert "0 entries" in out.split("REJECTED", 1)[1], "a zip over the limit is not read"


def test_cli_compares_s3_checksums(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a package and S3's checksum of it, a wrong one and a multipart composite
    package = make_zip(tmp_path, node_project())
    good = base64.b64encode(hashlib.sha256(package.read_bytes()).digest()).decode()
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    # WHEN each is passed
    codes = [main([str(package), "--s3-checksum-sha256", value, "--json"]) for value in (good, wrong, good + "-4")]
    # THEN the match is accepted, the mismatch rejected, and the composite noted but not compared
    documents = json_documents(capsys.readouterr().out)
    assert codes == [0, 1, 0]
    assert [finding["rule"] for finding in documents[1]["findings"]] == ["checksum-mismatch"]
    assert documents[2]["expected_sha256"] is None
    assert "could not be compared" in documents[2]["notes"][0]


@pytest.mark.parametrize(
    "argv",
    [
        ["missing.zip"],
        ["package.zip", "--expected-sha256", "xyz"],
        ["package.zip", "--s3-checksum-sha256", "###"],
        ["package.zip", "--max-entries", "0"],
        ["package.zip", "--expected-sha256", "0" * 64, "--s3-checksum-sha256", "AAAA"],
        [],
        ["verify", "no-such-dir"],
        ["manifest", ".", "--source-json", "[1, 2]"],
        ["manifest", ".", "--source-json", "{not json"],
    ],
    ids=[
        "missing-file",
        "bad-hex",
        "bad-base64",
        "zero-limit",
        "both-checksums",
        "nothing",
        "no-dir",
        "not-object",
        "bad-json",
    ],
)
def test_cli_usage_errors_exit_2(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a folder with a valid package
    monkeypatch.chdir(tmp_path)
    make_zip(tmp_path, node_project())
    # WHEN the CLI is called wrongly
    # THEN it exits 2
    assert main(argv) == 2


def test_cli_manifest_then_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an extracted package and a source description in a file
    root = make_tree(tmp_path / "pkg")
    source_file = tmp_path / "source.json"
    source_file.write_text(json.dumps(SOURCE), encoding="utf-8")
    # WHEN the manifest is written, verified, the folder tampered with and verified again
    written = main(["manifest", str(root), "--source-json", str(source_file)])
    intact = main(["verify", str(root)])
    (root / "lib" / "a.ts").write_text("tampered", encoding="utf-8")
    tampered = main(["verify", str(root)])
    # THEN the manifest records the source, the first check passes and the second names the file
    out = capsys.readouterr().out
    assert (written, intact, tampered) == (0, 0, 1)
    assert json.loads((root / MANIFEST_PATH).read_text(encoding="utf-8"))["source"] == SOURCE
    assert "Manifest verified: 3 files intact" in out
    assert "[file-changed] 'lib/a.ts' changed after the manifest was written." in out


def test_cli_manifest_elsewhere_with_inline_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a manifest written inside the folder under another name, from inline JSON
    root = make_tree(tmp_path / "pkg")
    output = root / "meta" / "files.json"
    output.parent.mkdir()
    # WHEN it is written and verified
    written = main(["manifest", str(root), "--source-json", '{"bucket": "b"}', "--output", str(output)])
    intact = main(["verify", str(root), "--manifest", str(output)])
    # THEN the manifest does not list itself
    assert (written, intact) == (0, 0)
    assert "meta/files.json" not in json.loads(output.read_text(encoding="utf-8"))["files"]
    capsys.readouterr()


# --------------------------------------------------------------------------------------------------------------
# Command line, as the pipeline runs it


def run_cli(args: Sequence[str], cwd: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    command = list(prefix or (sys.executable, "-m", "s3_validated_pipeline.check"))
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [*command, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_module_cli_exit_codes(tmp_path: Path) -> None:
    # GIVEN a valid and a malicious package
    good = make_zip(tmp_path, node_project(), "good.zip")
    bad = make_zip(tmp_path, node_project(**{"../escape.sh": "rm -rf /"}), "bad.zip")
    # WHEN `python -m s3_validated_pipeline.check` checks each, and a file that does not exist
    accepted = run_cli([str(good), "--require", "package.json"], tmp_path)
    rejected = run_cli([str(bad), "--json"], tmp_path)
    unreadable = run_cli([str(tmp_path / "missing.zip")], tmp_path)
    # THEN it exits 0, 1 (with a JSON report) and 2
    assert (accepted.returncode, rejected.returncode, unreadable.returncode) == (0, 1, 2), rejected.stderr
    assert accepted.stdout.startswith("ACCEPTED: ")
    assert json.loads(rejected.stdout)["findings"][0]["rule"] == "path-traversal"
    assert "cannot read" in unreadable.stderr


def test_module_cli_verify_names_the_changed_file(tmp_path: Path) -> None:
    # GIVEN a folder whose manifest was written, then one file changed
    root = make_tree(tmp_path / "pkg")
    write_manifest(root, source=SOURCE, output=root / MANIFEST_PATH)
    (root / "package.json").write_text("{}", encoding="utf-8")
    # WHEN the CLI verifies it
    result = run_cli(["verify", str(root)], tmp_path)
    # THEN it exits 1 naming the file
    assert result.returncode == 1
    assert "'package.json' changed" in result.stdout


PYTHON38 = python38()


@pytest.mark.parametrize(
    "interpreter",
    [
        pytest.param((sys.executable, "-I", "-S"), id="isolated-without-site-packages"),
        pytest.param(
            (PYTHON38 or "python3.8", "-I"),
            id="python3.8",
            marks=pytest.mark.skipif(PYTHON38 is None, reason="no Python 3.8 interpreter on this machine"),
        ),
    ],
)
def test_check_py_runs_alone_as_copied_into_codebuild(interpreter: tuple[str, ...], tmp_path: Path) -> None:
    # GIVEN check.py copied alone into a folder, with a good and a bad package and an extracted tree
    shutil.copy(CHECK_PY, tmp_path / "check.py")
    make_zip(tmp_path, node_project(), "good.zip")
    make_zip(tmp_path, node_project(**{"config.ts": f"const id = '{FAKE_ACCESS_KEY_ID}';\n"}), "bad.zip")
    make_tree(tmp_path / "tree")
    # WHEN `python3 check.py` runs there, where the package cannot be imported
    runs = [
        run_cli(["good.zip", "--require", "bin/*.ts"], tmp_path, *interpreter, "check.py"),
        run_cli(["bad.zip"], tmp_path, *interpreter, "check.py"),
        run_cli(["manifest", "tree", "--source-json", '{"bucket": "b"}'], tmp_path, *interpreter, "check.py"),
        run_cli(["verify", "tree"], tmp_path, *interpreter, "check.py"),
    ]
    # THEN each works
    assert [run.returncode for run in runs] == [0, 1, 0, 0], [run.stderr for run in runs]
    assert "[credentials] 'config.ts' holds an AWS access key ID on line 1" in runs[1].stdout
    assert "Manifest verified: 3 files intact" in runs[3].stdout


def test_check_py_is_compatible_with_python_3_8() -> None:
    # GIVEN vermin, which infers the oldest Python a file runs on
    pytest.importorskip("vermin", reason="vermin checks Python 3.8 compatibility; install the dev dependencies")
    # WHEN it checks check.py against 3.8
    result = run_cli(
        ["-t=3.8-", "--violations", "--no-tips", str(CHECK_PY)],
        CHECK_PY.parent,
        sys.executable,
        "-c",
        "import sys; from vermin import main; sys.exit(main())",
    )
    # THEN nothing needs a newer Python
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_py_imports_only_the_standard_library() -> None:
    # GIVEN check.py's syntax tree
    tree = ast.parse(CHECK_PY.read_text(encoding="utf-8"))
    # WHEN its imports are listed
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {node.module or "." for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0]
    # THEN every one is in the standard library, and none is relative
    assert relative == []
    assert {name.split(".")[0] for name in imported} <= set(sys.stdlib_module_names)


# --------------------------------------------------------------------------------------------------------------
# The checker's own extraction


def test_extraction_writes_regular_files_and_folders_with_normalised_modes(tmp_path: Path) -> None:
    # GIVEN a package with an executable, a setuid world-writable file and a listed empty folder
    package = tmp_path / "package.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, mode in (("run.sh", 0o100755), ("data.txt", 0o104666), ("empty/", 0o40777)):
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, b"" if name.endswith("/") else f"{name}\n".encode())
    # WHEN it is checked and extracted
    report = check_package(package, extract_to=tmp_path / "out")
    # THEN files keep only their executable bit, and nothing is setuid or world-writable
    assert report.accepted, report.summary()
    assert report.extracted_to == str(tmp_path / "out")
    modes = {
        p.relative_to(tmp_path / "out").as_posix(): p.stat().st_mode & 0o7777 for p in (tmp_path / "out").rglob("*")
    }
    assert modes == {"run.sh": 0o755, "data.txt": 0o644, "empty": 0o755}
    assert (tmp_path / "out" / "run.sh").read_text() == "run.sh\n"


@pytest.mark.parametrize(
    "files",
    [
        {"package.json": "{}", ".env": "TOKEN=x\n"},
        {"package.json": "{}", "src/config.js": f"const id = '{FAKE_ACCESS_KEY_ID}';\n"},
    ],
    ids=["forbidden-file-found-before-reading", "credentials-found-while-reading"],
)
def test_a_rejected_package_leaves_the_extraction_folder_empty(files: dict[str, str], tmp_path: Path) -> None:
    # GIVEN a package rejected before its data is read, or only while it is read and written
    package = make_zip(tmp_path, dict(files))
    # WHEN it is checked with an extraction folder
    report = check_package(package, extract_to=tmp_path / "out")
    # THEN the folder exists and is empty
    assert not report.accepted
    assert report.extracted_to is None
    assert list((tmp_path / "out").iterdir()) == []


def test_extraction_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    # GIVEN a folder with a file in it
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "left-over").write_text("x")
    package = make_zip(tmp_path, {"package.json": "{}"})
    # WHEN the package would be extracted there  THEN it is refused before anything is written
    with pytest.raises(ValueError, match=r"must be a missing or empty folder"):
        check_package(package, extract_to=tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["left-over"]


def test_windows_tar_zips_with_a_leading_dot_slash_extract_at_the_root(tmp_path: Path) -> None:
    # GIVEN a zip as Windows' `tar -a -c -f x.zip .` writes it: a './' entry, then './' before every name
    package = make_zip(tmp_path, {"./": None, "./package.json": "{}", "./src/": None, "./src/app.js": "1;\n"})
    # WHEN it is checked with a required file at the root
    report = check_package(package, required=["package.json"], extract_to=tmp_path / "out")
    # THEN it is accepted and the names lose their './'
    assert report.accepted, report.summary()
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")) == [
        "package.json",
        "src",
        "src/app.js",
    ]


# --------------------------------------------------------------------------------------------------------------
# Ignored paths and the wrapped-folder hint


def test_ignored_paths_skip_the_forbidden_and_credential_rules_only(tmp_path: Path) -> None:
    # GIVEN a project whose dependencies carry test fixtures: a key file and a key id, plus a traversal
    files: dict[str, bytes | str | None] = {
        "package.json": "{}",
        "node_modules/ssh2/test/fixtures/id_rsa": "fixture",
        "node_modules/aws-sdk/test/creds.js": f"'{FAKE_ACCESS_KEY_ID}'\n",
        "app/.env": "REAL=1\n",
    }
    package = make_zip(tmp_path, files)
    # WHEN node_modules is ignored
    report = check_package(package, limits=Limits(ignore=("node_modules",)))
    # THEN only the application's own secret is reported
    assert [(f.rule, f.path) for f in report.findings] == [("forbidden-file", "app/.env")]
    # AND an ignored path is still checked for safety
    unsafe = make_zip(tmp_path, {"package.json": "{}", "node_modules/x/../../../evil": "x"}, "unsafe.zip")
    assert [f.rule for f in check_package(unsafe, limits=Limits(ignore=("node_modules",))).findings] == [
        "path-traversal"
    ]


@pytest.mark.parametrize(
    ("pattern", "path", "ignored"),
    [
        ("node_modules", "node_modules/a/b.js", True),
        ("node_modules", "packages/web/node_modules/a/b.js", True),
        ("node_modules/**/test/**", "node_modules/a/test/key.pem", True),
        ("node_modules/**/test/**", "test/key.pem", False),
        ("*.pem", "certs/server.pem", True),
        ("fixtures/", "fixtures/x/id_rsa", True),
        ("src/fixtures", "lib/src/fixtures/id_rsa", False),
    ],
)
def test_ignore_globs_follow_gitignore_semantics(pattern: str, path: str, ignored: bool, tmp_path: Path) -> None:
    # GIVEN a forbidden file at a path  WHEN one ignore glob is given
    package = make_zip(tmp_path, {"package.json": "{}", path: "k"})
    report = check_package(package, limits=Limits(ignore=(pattern,), forbidden=("id_rsa", "*.pem")))
    # THEN the file is reported unless the glob covers it
    assert report.accepted is ignored, report.summary()


@pytest.mark.parametrize("pattern", ["src/[ab", "/etc", "a/../b", "", "a\\b"])
def test_unusable_globs_are_refused(pattern: str, tmp_path: Path) -> None:
    # GIVEN an unusable glob  THEN the limits, the check and the command line all refuse it
    assert check.glob_problem(pattern)
    with pytest.raises(ValueError, match=r"Limits\.ignore"):
        Limits(ignore=(pattern,))
    package = make_zip(tmp_path, {"package.json": "{}"})
    with pytest.raises(ValueError, match=re.escape(repr(pattern))):
        check_package(package, required=[pattern])
    assert main([str(package), "--ignore", pattern]) == 2


def test_a_package_zipped_as_one_folder_gets_the_hint(tmp_path: Path) -> None:
    # GIVEN a project zipped by Finder's "Compress": one top folder, and macOS's resource forks beside it
    package = make_zip(
        tmp_path,
        {
            "my-app/": None,
            "my-app/package.json": "{}",
            "my-app/src/a.js": "1;\n",
            "__MACOSX/my-app/._package.json": "x",
        },
    )
    # WHEN it is checked, with or without required files
    findings = check_package(package).findings
    required = check_package(package, required=["package.json"]).findings
    # THEN it is rejected with a hint saying how to zip it
    assert [(f.rule, f.path) for f in findings] == [("single-top-folder", "my-app/")]
    assert "zip the folder's contents so files sit at the root" in findings[0].message
    assert [f.rule for f in required] == ["single-top-folder", "required-missing"]


# --------------------------------------------------------------------------------------------------------------
# The broader credential scan


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "GitHub token"),
        ("token: gho_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8", "GitHub token"),
        (
            "github_pat_" + "11AQ7ZW3N5KPRmtJHd9xLe_" + "Vb4Nc8Fh6JmSd1GaUe7oWiK3rEq2Lp8RzYb4NcFh6JmSd1GaUe7oWiK3rEy",
            "GitHub token",
        ),
        ("//registry.npmjs.org/:_authToken=npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "npm token"),
        ("SLACK=xoxb-" + "482957361024-7391028465730-aB3dE5gH7jK9mN1pQ3rS5tU7", "Slack token"),
        ("stripe.key = 'sk_live_" + "51Hx3kLmN8pQrStUvWxYz0123'", "Stripe live key"),
        ("key=AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "Google API key"),
        ("AWS_SECRET_KEY=" + FAKE_SIGNING_KEY, "AWS secret access key"),
    ],
)
def test_more_kinds_of_credentials_are_found_and_never_shown(text: str, kind: str, tmp_path: Path) -> None:
    # GIVEN a configuration file holding one token
    package = make_zip(tmp_path, {"package.json": "{}", "config/app.conf": f"# settings\n{text}\n"})
    # WHEN it is checked
    report = check_package(package)
    # THEN the kind and line are named, and the token is not
    assert [(f.rule, f.path) for f in report.findings] == [("credentials", "config/app.conf")]
    assert f"{kind} on line 2" in report.findings[0].message
    secret = re.split(r"[=:' ]", text)[-1].strip("'") or text
    assert secret[-12:] not in report.summary() + json.dumps(report.to_dict())


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_text_is_scanned(encoding: str) -> None:
    # GIVEN a file saved as UTF-16 with a byte-order mark (as Windows editors do)
    text = f"line one\r\nAWS_ACCESS_KEY_ID={FAKE_ACCESS_KEY_ID}\r\n"
    data = (b"\xfe\xff" + text.encode("utf-16-be")) if encoding == "utf-16-be" else text.encode("utf-16")
    # WHEN it is scanned in small chunks  THEN the key is found on its line
    hits = find_credentials(data[i : i + 7] for i in range(0, len(data), 7))
    assert [(hit.kind, hit.lines) for hit in hits] == [("AWS access key ID", (2,))]


def test_files_larger_than_the_scan_limit_are_scanned_up_to_it(tmp_path: Path) -> None:
    # GIVEN a 6 MiB log with a key id near its start and another past 5 MiB
    head = f"start {FAKE_ACCESS_KEY_ID}\n".encode()
    data = head + b"x" * (6 * 1024 * 1024) + f"\n{FAKE_ACCESS_KEY_ID}\n".encode()
    # WHEN it is scanned with the default limit  THEN the first is found, the second lies past the scanned part
    assert [(hit.kind, hit.lines) for hit in find_credentials([data])] == [("AWS access key ID", (1,))]


def test_a_file_full_of_keys_lists_ten_lines_and_more() -> None:
    # GIVEN a file with a key id on each of 5,000 lines
    data = (f"{FAKE_ACCESS_KEY_ID}\n" * 5000).encode()
    # WHEN it is scanned  THEN the first ten lines are listed and the rest summed up as more
    (hit,) = find_credentials([data])
    assert hit.lines == tuple(range(1, 11))
    assert hit.more


# --------------------------------------------------------------------------------------------------------------
# Command line polish


def test_module_usage_names_the_module_and_every_limit_has_help_with_its_default(tmp_path: Path) -> None:
    # WHEN `python -m s3_validated_pipeline.check --help` runs
    result = run_cli(["--help"], tmp_path)
    # THEN the usage shows how it was called, and each limit option says its default
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m s3_validated_pipeline.check ")
    for option, default in (
        ("--max-entries", DEFAULT_LIMITS.max_entries),
        ("--max-total-bytes", DEFAULT_LIMITS.max_total_bytes),
        ("--max-depth", DEFAULT_LIMITS.max_depth),
        ("--max-name-bytes", DEFAULT_LIMITS.max_name_bytes),
        ("--scan-max-bytes", DEFAULT_LIMITS.scan_max_bytes),
    ):
        (block,) = [b for b in re.split(r"\n(?=  -)", result.stdout) if b.lstrip().startswith(f"{option} N")]
        assert f"(default: {default})" in " ".join(block.split()), block


def test_verify_reads_the_manifest_in_the_records_folder_by_default(tmp_path: Path) -> None:
    # GIVEN a folder whose manifest was written where the validate stage writes it
    root = make_tree(tmp_path / "pkg")
    assert main(["manifest", str(root), "--source-json", json.dumps(SOURCE)]) == 0
    # WHEN verify is given only the folder  THEN it finds .validated/manifest.json
    assert (root / ".validated" / "manifest.json").is_file()
    assert run_cli(["verify", str(root)], tmp_path).returncode == 0


def test_a_closed_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    # GIVEN a rejected package with many findings, piped into a reader that stops after one line (`| head -n 1`)
    package = make_zip(tmp_path, {f"../x{i}": "x" for i in range(200)})
    command = f"{shlex.quote(sys.executable)} -m s3_validated_pipeline.check {shlex.quote(str(package))} | head -n 1"
    result = subprocess.run(  # noqa: S603  # a fixed pipeline of our own
        ["/bin/bash", "-c", command], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    # THEN the reader gets its line and the checker says nothing on stderr
    assert result.stdout.startswith("REJECTED: ")
    assert "Traceback" not in result.stderr
    assert result.stderr == ""


def test_an_entry_count_mismatch_is_not_called_a_multi_disk_zip(tmp_path: Path) -> None:
    # GIVEN a zip whose end record declares one entry more than its central directory holds
    package = tmp_path / "count.zip"
    package.write_bytes(build_zip([RawEntry(b"package.json", data=b"{}")], declared_count=2))
    # WHEN it is checked  THEN the finding says the counts disagree
    findings = check_package(package).findings
    assert [f.rule for f in findings] == ["entry-count-mismatch"]
    assert "disks" not in findings[0].message


def test_manifest_reuses_the_extractions_digests_only_for_unchanged_files(tmp_path: Path) -> None:
    # GIVEN a checked, extracted package whose report records each file's digest
    package = make_zip(tmp_path, {"package.json": "{}", "src/a.js": "1;\n"})
    known = check_package(package, extract_to=tmp_path / "out").to_dict()["extracted"]
    assert set(known) == {"package.json", "src/a.js"}
    # WHEN the build rewrites one file, and the record of the other is (for the test) made stale
    (tmp_path / "out" / "src" / "a.js").write_text("2;\n")
    stale = {**known, "package.json": {**known["package.json"], "sha256": "0" * 64}}
    manifest = write_manifest(tmp_path / "out", source=SOURCE, known=stale)
    # THEN the unchanged file's recorded digest is reused, the rewritten one is hashed again
    assert manifest["files"]["package.json"] == "0" * 64
    assert manifest["files"]["src/a.js"] == hashlib.sha256(b"2;\n").hexdigest()
    # AND verification, which always hashes afresh, fails closed on the stale record
    assert [(f.rule, f.path) for f in verify_manifest(tmp_path / "out", manifest)] == [("file-changed", "package.json")]
