"""The buildspecs of the validate stage and of every stage after it. Their shell lines are real code: tests run them
in bash against sample packages, with a stand-in for the AWS CLI.

The package checker (``check.py``, standard library only) reaches CodeBuild as an asset whose SHA-256 is pinned in
the template and verified before it runs, so no build runs code the synthesized template did not pin.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from ._names import WAIT_FIELD
from .check import RECORDS_DIR, REPORT_PATH

WORK_DIR = "/tmp/s3vp"  # noqa: S108  # the build container's own scratch space, outside the artifact

CHECKER_VARIABLES = ("CHECKER_BUCKET", "CHECKER_KEY", "CHECKER_SHA256")
"""Set on every project that runs the checker: where its asset is, and the digest the template pins."""
SOURCE_VARIABLES = ("SOURCE_BUCKET", "SOURCE_OBJECT_KEY", "SOURCE_OBJECT_VERSION_ID")
"""Set by the pipeline's validate action: the exact object version that started the execution."""


def checker_variables(bucket: str, key: str, sha256: str) -> dict[str, str]:
    """The values of ``CHECKER_VARIABLES``, by name."""
    return dict(zip(CHECKER_VARIABLES, (bucket, key, sha256), strict=True))


def source_variables(bucket: str, key: str, version_id: str) -> dict[str, str]:
    """The values of ``SOURCE_VARIABLES``, by name."""
    return dict(zip(SOURCE_VARIABLES, (bucket, key, version_id), strict=True))


def _checker_pinned() -> list[str]:
    return [
        f'if ! echo "$CHECKER_SHA256  {WORK_DIR}/check.py" | sha256sum --check --strict --quiet; then',
        '  echo "The package checker does not match the SHA-256 pinned in the template; refusing to run it." >&2',
        "  exit 1",
        "fi",
    ]


def fetch_checker() -> str:
    """Download the checker and refuse to go on unless its SHA-256 is the one pinned in the template."""
    return "\n".join(
        [
            f"mkdir -p {WORK_DIR}",
            f'aws s3 cp --quiet "s3://$CHECKER_BUCKET/$CHECKER_KEY" {WORK_DIR}/check.py',
            *_checker_pinned(),
        ]
    )


_S3_CHECKSUM = (
    's3_checksum=$(python3 -I -c \'import json, sys; print(json.load(sys.stdin).get("ChecksumSHA256", ""))\' '
    f"< {WORK_DIR}/source-object.json)"
)
"""S3's own SHA-256 of the downloaded version, when the uploader set one: the check compares it. ``-I``: these lines
run in the source folder, and without it Python imports from there first (a package's ``json.py`` would run before
its check, or in Attest, with Attest's right to sign)."""


VERDICT_TAG = "s3vp-verdict"
"""The object tag the validate stage sets on each uploaded version it checked: ``accepted`` or ``rejected``. The source
bucket expires rejected versions early (``SourceBucketOptions.rejected_retention_days``) and lets no one change a
verdict once set, so the package's own commands, which run after it is set, cannot shorten their version's life."""

_VERSION = '--bucket "$SOURCE_BUCKET" --key "$SOURCE_OBJECT_KEY" --version-id "$SOURCE_OBJECT_VERSION_ID"'


def record_verdict(verdict: str) -> str:
    """Tag the object version with ``verdict``, keeping its other tags. A verdict already there is left alone when it
    agrees (a retried build), and refused when it does not: it was set before the check, by someone else."""
    return "\n".join(
        [
            f"aws s3api get-object-tagging {_VERSION} > {WORK_DIR}/tags.json || exit",
            "python3 -I -c 'import json, sys; verdict = sys.argv[1]; "
            'tags = json.load(sys.stdin).get("TagSet", []); '
            f'set_before = {{tag["Value"] for tag in tags if tag["Key"] == "{VERDICT_TAG}"}} - {{verdict}}; '
            'sys.exit("This version already carries the verdict " + ", ".join(set_before) + ", set before its check: '
            'someone else tagged it; nothing of it runs.") if set_before else None; '
            f'any(tag["Key"] == "{VERDICT_TAG}" for tag in tags) or print(json.dumps({{"TagSet": tags + '
            f'[{{"Key": "{VERDICT_TAG}", "Value": verdict}}]}}))\' {verdict} '
            f"< {WORK_DIR}/tags.json > {WORK_DIR}/tagging.json || exit",
            f"if [ -s {WORK_DIR}/tagging.json ]; then",
            f"  aws s3api put-object-tagging {_VERSION} --tagging file://{WORK_DIR}/tagging.json > /dev/null || exit",
            "fi",
        ]
    )


def _tag_rejected(indent: str) -> list[str]:
    """Tag a refused version ``rejected``, in a subshell whose failure is reported and does not change the refusal."""
    return [
        f"{indent}(",
        *(f"{indent}  {line}" for line in record_verdict("rejected").split("\n")),
        f'{indent}) || echo "Could not tag the refused version rejected: it is kept as long as any replaced one." >&2',
    ]


def fetch_source(max_package_bytes: int, *, record_rejection: bool = True) -> str:
    """Download exactly the uploaded object version, with S3's own SHA-256 checksum when the uploader set one; first
    ask S3 its size, and refuse a version larger than ``max_package_bytes`` without downloading it (tagging it
    ``rejected`` with ``record_rejection``)."""
    return "\n".join(
        [
            # One shell runs these lines: `|| exit` ends them with the CLI's own exit code when HeadObject fails (a
            # version that is gone), rather than with a refusal of an empty size.
            f"source_size=$(aws s3api head-object {_VERSION} --query ContentLength --output text) || exit",
            # `!` and `-le`: a size that is not a number (or out of range) is refused, not let through.
            f'if ! [ "$source_size" -le {max_package_bytes} ]; then',
            f'  echo "REJECTED: the uploaded object is $source_size bytes, more than the limit of {max_package_bytes} '
            "bytes (PackageCheckOptions.max_package_bytes); it was not downloaded. Leave build outputs and "
            'dependencies out of the package, or raise the limit." >&2',
            *(_tag_rejected("  ") if record_rejection else []),
            "  exit 1",
            "fi",
            f"aws s3api get-object {_VERSION} --checksum-mode ENABLED "
            f"{WORK_DIR}/source.zip > {WORK_DIR}/source-object.json",
        ]
    )


_REPORT_WAIT = (
    "python3 -I -c 'import datetime, email.utils, json, os, sys; "
    'made = json.load(sys.stdin).get("LastModified", ""); '
    'made = datetime.datetime.fromisoformat(made.replace("Z", "+00:00")) if made[:4].isdigit() '
    "else email.utils.parsedate_to_datetime(made); "
    "waited = datetime.datetime.now(datetime.timezone.utc) - made; "
    f'print(json.dumps({{"{WAIT_FIELD}": max(0, int(waited.total_seconds())), '
    '"pipeline": os.environ.get("CODEBUILD_INITIATOR", "").partition("codepipeline/")[2]}))\' '
    f"< {WORK_DIR}/source-object.json 2> /dev/null || "
    'echo "Could not tell how long the upload waited: its LastModified is not a time." >&2'
)
"""One JSON line in the log, how long the upload waited before its check (from its ``LastModified``): the validate
project's metric filter makes it the ``WAIT_METRIC`` the waiting alarm watches. It never fails the build."""


def check_package(required_files: Sequence[str], options: Sequence[str]) -> str:
    """Check the downloaded package and extract exactly what was checked into the (emptied) working folder.

    CodeBuild has already unpacked the source artifact there with its own extractor, which may read a crafted zip
    differently: nothing of that is kept. A rejection fails the build before any command runs, leaving the folder
    empty.
    """
    return "\n".join(
        [
            _S3_CHECKSUM,
            _REPORT_WAIT,
            "find . -mindepth 1 -delete",
            # Exit code 1 is the checker's refusal; 2 a usage error, which says nothing about the package.
            _check_command(required_files, options, report=f"{WORK_DIR}/package-check.json", extract=True) + " || {",
            "  code=$?",
            '  if [ "$code" = 1 ]; then',
            *_tag_rejected("    "),
            "  fi",
            '  exit "$code"',
            "}",
        ]
    )


def _check_command(required_files: Sequence[str], options: Sequence[str], *, report: str, extract: bool = False) -> str:
    """The pinned checker on the downloaded zip, with S3's checksum when the uploader set one (``_S3_CHECKSUM`` runs
    first), writing its JSON report to ``report``; with ``extract``, what it accepted goes into the working folder."""
    arguments = [f"--require {shlex.quote(pattern)}" for pattern in required_files] + list(options)
    into = "--extract . " if extract else ""
    return (
        f"python3 {WORK_DIR}/check.py {WORK_DIR}/source.zip {into}{' '.join(arguments)}".rstrip()
        + f' ${{s3_checksum:+--s3-checksum-sha256 "$s3_checksum"}} --report {report}'
    )


def write_manifest() -> str:
    """Record the package check and the SHA-256 of every output file and of the source zip in the artifact."""
    return "\n".join(
        [
            # The package's own commands ran in between: make sure they did not replace the checker.
            *_checker_pinned(),
            f"mkdir -p {RECORDS_DIR}",
            f"cp {WORK_DIR}/package-check.json {REPORT_PATH}",
            "python3 -I -c 'import json, os, sys; report = json.load(sys.stdin); print(json.dumps({"
            '"bucket": os.environ["SOURCE_BUCKET"], "key": os.environ["SOURCE_OBJECT_KEY"], '
            '"versionId": os.environ["SOURCE_OBJECT_VERSION_ID"], "sha256": report["sha256"]}))\' '
            f"< {WORK_DIR}/package-check.json > {WORK_DIR}/source.json",
            f"python3 {WORK_DIR}/check.py manifest . --source-json {WORK_DIR}/source.json "
            f"--known {WORK_DIR}/package-check.json",
        ]
    )


def verify_manifest() -> str:
    """Fail, naming every changed, added or missing file, unless the artifact is what the validate stage wrote."""
    return f"python3 {WORK_DIR}/check.py verify ."


PACKAGE_SHA256 = "PACKAGE_SHA256"
"""The variable the Attest action exports (namespace ``_names.ATTEST``): the SHA-256 of the package it checked."""

PROVENANCE_VARIABLES = ("S3VP_EXECUTION_ID", "S3VP_SIGNING_KEY_ARN")
"""Set by every action after Validate: its execution (``#{codepipeline.PipelineExecutionId}``) and the pipeline's
signing key, so it refuses an artifact whose provenance is another execution's or is not signed by that key."""
_PIPELINE = '"${CODEBUILD_INITIATOR#codepipeline/}"'  # CodeBuild names the pipeline that started the build


def verify_provenance(key_region: str | None = None) -> str:
    """Refuse the artifact unless its signed provenance is this execution's, of this pipeline, naming exactly the
    files received; then ask KMS whether the pipeline's key signed it (in ``key_region``, for a build in another
    Region than the key's)."""
    region = f" --region {shlex.quote(key_region)}" if key_region else ""
    return "\n".join(
        [
            # One shell runs these lines: without `|| exit`, a refused provenance would leave the verdict to KMS.
            f'python3 {WORK_DIR}/check.py provenance . --pipeline {_PIPELINE} --invocation-id "$S3VP_EXECUTION_ID" '
            f"--digest-out {WORK_DIR}/provenance.sha256 --signature-out {WORK_DIR}/provenance.sig || exit",
            f'if [ "$(aws kms verify{region} --key-id "$S3VP_SIGNING_KEY_ARN" --message-type DIGEST '
            f"--signing-algorithm ECDSA_SHA_256 --message fileb://{WORK_DIR}/provenance.sha256 "
            f'--signature fileb://{WORK_DIR}/provenance.sig --query SignatureValid --output text)" != True ]; then',
            '  echo "The provenance is not signed by this pipeline\'s key ($S3VP_SIGNING_KEY_ARN); nothing runs." >&2',
            "  exit 1",
            "fi",
        ]
    )


def attest_buildspec(
    *, required_files: Sequence[str], check_options: Sequence[str], max_package_bytes: int
) -> dict[str, Any]:
    """Return the Attest action's buildspec: the pinned checker alone, never the package's code.

    It downloads the exact source object version again and checks it itself (its verdict is the one recorded),
    hashes every file of the validated artifact as received, and has KMS sign the statement; the envelope joins the
    files it names as ``.validated/provenance.dsse.json``.
    """
    check = _check_command(required_files, check_options, report=f"{WORK_DIR}/attest-check.json")
    builder = '"$(b="${CODEBUILD_BUILD_ARN%:*}"; echo "${b/:build\\//:project/}")"'
    return {
        "version": "0.2",
        # The package's SHA-256 as Attest's own check found it, for the approvals' messages.
        "env": {"shell": "bash", "exported-variables": [PACKAGE_SHA256]},
        "phases": {
            "pre_build": {
                "on-failure": "ABORT",
                "commands": [
                    fetch_checker(),
                    fetch_source(max_package_bytes, record_rejection=False),
                    f"{_S3_CHECKSUM}\n{check}",
                ],
            },
            "build": {
                "on-failure": "ABORT",
                "commands": [
                    'python3 -I -c \'import json, os; print(json.dumps({k: os.environ[v] for k, v in (("bucket", '
                    '"SOURCE_BUCKET"), ("key", "SOURCE_OBJECT_KEY"), ("versionId", "SOURCE_OBJECT_VERSION_ID"))}))\' '
                    f"> {WORK_DIR}/attest-source.json",
                    f"python3 {WORK_DIR}/check.py attest . --report {WORK_DIR}/attest-check.json "
                    f'--source-json {WORK_DIR}/attest-source.json --parameters-json "$S3VP_VALIDATION" '
                    '--checker-uri "s3://$CHECKER_BUCKET/$CHECKER_KEY" --checker-sha256 "$CHECKER_SHA256" '
                    f'--pipeline {_PIPELINE} --builder-id {builder} --build-type "$S3VP_BUILD_TYPE" '
                    '--invocation-id "$S3VP_EXECUTION_ID" --started-on "${CODEBUILD_START_TIME:-0}" '
                    f"--payload-out {WORK_DIR}/provenance.json --digest-out {WORK_DIR}/provenance.sha256",
                    'aws kms sign --key-id "$S3VP_SIGNING_KEY_ARN" --message-type DIGEST '
                    f"--signing-algorithm ECDSA_SHA_256 --message fileb://{WORK_DIR}/provenance.sha256 "
                    f"--query Signature --output text > {WORK_DIR}/provenance.sig.b64",
                    f"python3 {WORK_DIR}/check.py envelope . --payload {WORK_DIR}/provenance.json "
                    f'--signature-b64 {WORK_DIR}/provenance.sig.b64 --key-id "$S3VP_SIGNING_KEY_ARN"',
                    f"export {PACKAGE_SHA256}=$(python3 -I -c "
                    "'import json, sys; print(json.load(sys.stdin)[\"sha256\"])' "
                    f"< {WORK_DIR}/attest-check.json)",
                ],
            },
            "post_build": {"commands": [diagnostics()]},
        },
        "artifacts": {"files": ["**/*"]},
    }


def diagnostics() -> str:
    """Print what a reader of the log needs to reproduce the build: never secrets or the whole environment."""
    return "\n".join(
        [
            'echo "== Diagnostics =="',
            'echo "Source object: s3://${SOURCE_BUCKET:-?}/${SOURCE_OBJECT_KEY:-?} '
            'version ${SOURCE_OBJECT_VERSION_ID:-?}"',
            'echo "Build: ${CODEBUILD_BUILD_ID:-local} on ${CODEBUILD_BUILD_IMAGE:-local image}"',
            'echo "Succeeded: ${CODEBUILD_BUILD_SUCCEEDING:-unknown}"',
            '[ -r /etc/os-release ] && . /etc/os-release && echo "OS: $PRETTY_NAME"',
            "for tool in node npm python3 java go; do",
            '  if command -v "$tool" > /dev/null; then echo "$tool: $("$tool" --version 2>&1 | head -n 1)"; fi',
            "done",
            "true",
        ]
    )


def _install(runtime_versions: Mapping[str, str]) -> dict[str, Any]:
    return {"install": {"runtime-versions": dict(runtime_versions)}} if runtime_versions else {}


def validation_buildspec(
    *,
    commands: Sequence[str],
    required_files: Sequence[str],
    check_options: Sequence[str],
    max_package_bytes: int,
    runtime_versions: Mapping[str, str],
) -> dict[str, Any]:
    """Return the validate stage's buildspec (version 0.2): check, validate, record, diagnose."""
    return {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": {
            **_install(runtime_versions),
            "pre_build": {
                "on-failure": "ABORT",
                "commands": [
                    fetch_checker(),
                    fetch_source(max_package_bytes),
                    check_package(required_files, check_options),
                    # Before any of the package's commands run: from here on, no one may change the verdict.
                    record_verdict("accepted"),
                ],
            },
            "build": {"on-failure": "ABORT", "commands": [*commands, write_manifest()]},
            "post_build": {"commands": [diagnostics()]},
        },
        "artifacts": {"files": ["**/*"]},
    }


def verified_buildspec(
    *,
    commands: Sequence[str],
    runtime_versions: Mapping[str, str],
    reports: Mapping[str, Any] | None = None,
    artifact_files: Sequence[str] = (),
    exported_variables: Sequence[str] = (),
    signing_key_region: str | None = None,
) -> dict[str, Any]:
    """Return the buildspec of a stage after validation: verify the manifest, then run ``commands`` (if any).

    ``reports`` is the buildspec's reports section (report group ARN to files); ``artifact_files`` what the stage
    keeps as its output artifact; ``exported_variables`` the environment variables the action exports;
    ``signing_key_region`` the signing key's Region, for a stage that runs in another one.
    """
    env: dict[str, Any] = {"shell": "bash"}
    if exported_variables:
        env["exported-variables"] = list(exported_variables)
    spec: dict[str, Any] = {
        "version": "0.2",
        "env": env,
        "phases": {
            **_install(runtime_versions),
            "pre_build": {
                "on-failure": "ABORT",
                "commands": [fetch_checker(), verify_manifest(), verify_provenance(signing_key_region)],
            },
            # A stage that only verifies (before a CloudFormation deployment) has no build phase.
            **({"build": {"on-failure": "ABORT", "commands": list(commands)}} if commands else {}),
            "post_build": {"commands": [diagnostics()]},
        },
    }
    if reports:
        spec["reports"] = dict(reports)
    if artifact_files:
        spec["artifacts"] = {"files": list(artifact_files)}
    return spec
