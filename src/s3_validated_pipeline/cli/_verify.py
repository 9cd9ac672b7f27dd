"""``s3vp verify``: check a validated artifact against its signed provenance, offline, and say what it vouches for.

The files are compared with the statement's subjects by the checker's own ``provenance_findings`` (the rule every
later stage of the pipeline applies), and the signature over the DSSE pre-authentication encoding is checked with
the public key by ``cryptography`` (the standard library has no ECDSA). The execution and the pipeline are checked
only when asked: offline, nothing else says which ones the artifact should be of.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import stat
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import check as checker
from ._aws import AwsError, aws_errors
from ._common import EXIT_ACCEPTED, EXIT_REJECTED, CliError, aws_options, echo_json, json_option

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

__all__ = ["PublicKey", "Verification", "verify_artifact", "verify_command"]

_NO_CRYPTOGRAPHY = "s3vp verify needs the cryptography package: pip install 's3-validated-pipeline[cli]'"


@dataclass(frozen=True)
class PublicKey:
    """A P-256 public key the provenance must verify with, and where it came from (for messages)."""

    key: EllipticCurvePublicKey
    source: str


@dataclass(frozen=True)
class Verification:
    """What ``verify_artifact`` found: no findings means the artifact is exactly what the signed statement names."""

    findings: list[checker.Finding]
    statement: dict[str, Any] | None
    """The statement, once the envelope holds one (trusted only when there are no findings)."""
    key_id: str = ""
    """The key id the envelope names (not signed: for reading only)."""

    @property
    def verified(self) -> bool:
        return not self.findings


def load_public_key(data: bytes, source: str, *, der: bool = False) -> PublicKey:
    """A P-256 public key from PEM (or DER) ``data``; ``ValueError`` saying why not."""
    try:
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
    except ImportError:
        raise CliError(_NO_CRYPTOGRAPHY) from None

    try:
        key = load_der_public_key(data) if der else load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a {'DER' if der else 'PEM'} public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError(f"not an ECC_NIST_P256 key (a {type(key).__name__}), as the pipeline's signing key is")
    return PublicKey(key, source)


def _signature_valid(public_key: PublicKey, envelope: dict[str, Any]) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    payload = base64.b64decode(str(envelope["payload"]), validate=True)
    signature = base64.b64decode(str(envelope["signatures"][0]["sig"]), validate=True)
    try:
        public_key.key.verify(signature, checker.pae(checker.PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or None where a level is missing or not a mapping."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _claimed(envelope: Any) -> dict[str, Any]:
    """The statement the envelope carries, read leniently (for the checks not asked for); {} when there is none."""
    try:
        statement = json.loads(base64.b64decode(str(_dig(envelope, "payload") or ""), validate=True))
    except (ValueError, binascii.Error):
        return {}
    return statement if isinstance(statement, dict) else {}


def _refusal(message: str) -> Verification:
    return Verification([checker.Finding("provenance", checker.PROVENANCE_PATH, message)], None)


def verify_artifact(
    directory: Path, public_key: PublicKey, *, pipeline: str | None = None, execution_id: str | None = None
) -> Verification:
    """Check ``directory`` (an artifact as a stage receives it) against its envelope and ``public_key``: every file
    a subject, unchanged, none missing, the signature valid; and, when given, the pipeline and the execution."""
    path = directory / checker.PROVENANCE_PATH
    try:
        envelope = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _refusal(
            f"{checker.PROVENANCE_PATH} is missing: nothing vouches for these files (pass the artifact the Attest "
            "action passed on; in a folder s3vp run kept: artifacts/Attested)"
        )
    except (OSError, ValueError) as exc:
        return _refusal(f"{checker.PROVENANCE_PATH} cannot be read as JSON: {exc}")
    claimed = _claimed(envelope)
    # What is not asked for is compared with what the statement says: that check then always holds.
    signed_pipeline = _dig(claimed, "predicate", "buildDefinition", "internalParameters", "pipeline")
    signed_execution = _dig(claimed, "predicate", "runDetails", "metadata", "invocationId")
    findings, statement = checker.provenance_findings(
        str(directory),
        envelope,
        pipeline=pipeline if pipeline is not None else signed_pipeline,
        invocation_id=execution_id if execution_id is not None else signed_execution,
    )
    if statement is None:
        return Verification(findings, None)
    if not _signature_valid(public_key, envelope):
        message = (
            f"the signature does not verify with the public key of {public_key.source}: another key signed the "
            "envelope, or its statement was changed after signing"
        )
        findings.insert(0, checker.Finding("provenance", checker.PROVENANCE_PATH, message))
    return Verification(findings, statement, str(_dig(envelope, "signatures")[0].get("keyid", "")))


def provenance_summary(statement: dict[str, Any]) -> dict[str, Any]:
    """What a reader wants from the statement: the upload, what ran, who ran it, when, and what it was made from."""
    parameters = _dig(statement, "predicate", "buildDefinition", "externalParameters") or {}
    metadata = _dig(statement, "predicate", "runDetails", "metadata") or {}
    dependencies = _dig(statement, "predicate", "buildDefinition", "resolvedDependencies") or []
    bucket, key = parameters.get("bucket"), parameters.get("key")
    return {
        "upload": f"s3://{bucket}/{key}" if bucket and key else None,
        "bucket": bucket,
        "key": key,
        "version_id": parameters.get("versionId"),
        "sha256": parameters.get("sha256"),
        "execution_id": metadata.get("invocationId"),
        "pipeline": _dig(statement, "predicate", "buildDefinition", "internalParameters", "pipeline"),
        "commands": parameters.get("commands") or [],
        "image": parameters.get("image"),
        "builder": _dig(statement, "predicate", "runDetails", "builder", "id"),
        "build_type": _dig(statement, "predicate", "buildDefinition", "buildType"),
        "started_on": metadata.get("startedOn"),
        "finished_on": metadata.get("finishedOn"),
        "made_from": [
            {"uri": item.get("uri"), "sha256": _dig(item, "digest", "sha256")}
            for item in dependencies
            if isinstance(item, dict)
        ],
        "files": len(statement.get("subject") or []),
    }


@contextmanager
def artifact_folder(path: Path) -> Iterator[Path]:
    """``path`` when it is a folder; a zip of one (as CodePipeline stores an artifact) extracted to a temporary folder.

    Each member must be a plain relative path and a regular file or folder: a name that extraction would have to
    rewrite (``../x``, ``/x``) or a symbolic link could make the folder hold other files than the zip names.
    """
    if path.is_dir():
        yield path
        return
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CliError(f"PATH {path}: neither a folder nor a zip ({exc})") from None
    with archive, tempfile.TemporaryDirectory(prefix="s3vp-verify-") as temporary:
        seen: set[str] = set()
        for member in archive.infolist():
            name = member.filename.rstrip("/")
            clean = name and "\\" not in name and not name.startswith("/") and posixpath.normpath(name) == name
            if not clean or name.split("/")[0] == ".." or name in seen:
                raise CliError(f"PATH {path}: the member {name!r} is not a plain relative path (or is repeated)")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise CliError(f"PATH {path}: the member {name!r} is a symbolic link; extract the zip and verify it")
            seen.add(name)
            archive.extract(member, temporary)
        yield Path(temporary)


def _public_key(
    public_key_file: Path | None, stack: str | None, pipeline: str | None, profile: str | None, region: str | None
) -> PublicKey:
    """The public key of ``--public-key``, or of the signing key ``--stack`` outputs (``kms:GetPublicKey``)."""
    if (public_key_file is None) == (stack is None):
        raise click.UsageError("pass --public-key FILE or --stack NAME (one of them): the key to check the signature")
    if public_key_file is not None:
        try:
            return load_public_key(public_key_file.read_bytes(), str(public_key_file))
        except (OSError, ValueError) as exc:
            raise click.BadParameter(f"{public_key_file}: {exc}", param_hint="--public-key") from None
    assert stack is not None
    from ._aws import make_session, read_stack_outputs

    try:
        session = make_session(profile, region)
        outputs = read_stack_outputs(session, stack, pipeline=pipeline)
        if not outputs.signing_key:
            raise AwsError(
                f"the stack {stack!r} does not output its pipeline's signing key (*SigningKeyArn): deploy a version of "
                "the construct that signs provenance, or pass --public-key FILE"
            )
        with aws_errors(action="kms:GetPublicKey", resource=f"the signing key {outputs.signing_key}"):
            answer = session.client("kms").get_public_key(KeyId=outputs.signing_key)
    except AwsError as exc:
        raise CliError(str(exc)) from None
    try:
        return load_public_key(answer["PublicKey"], f"{outputs.signing_key} (stack {stack})", der=True)
    except ValueError as exc:
        raise CliError(f"the signing key {outputs.signing_key}: {exc}") from None


def _echo_provenance(summary: dict[str, Any]) -> None:
    rows: list[tuple[str, Any]] = [
        ("Upload", summary["upload"]),
        ("Version", summary["version_id"]),
        ("SHA-256", summary["sha256"]),
        ("Execution", summary["execution_id"]),
        ("Pipeline", summary["pipeline"]),
        ("Commands", summary["commands"]),
        ("Image", summary["image"]),
        ("Builder", summary["builder"]),
        ("Build type", summary["build_type"]),
        ("Started", summary["started_on"]),
        ("Finished", summary["finished_on"]),
        ("Made from", [f"{item['uri']}  sha256:{item['sha256']}" for item in summary["made_from"]]),
    ]
    for title, value in rows:
        lines = [str(line) for line in value] if isinstance(value, list) else [str(value if value else "-")]
        for index, line in enumerate(lines or ["-"]):
            click.echo(f"  {title if index == 0 else '':<11} {line}")


@click.command("verify", short_help="Check an artifact against its signed provenance, offline; print what it vouches.")
@click.argument("path", metavar="PATH", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--public-key",
    "public_key_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The signing key's public key (PEM), e.g. a kept s3vp run folder's signing-key.pub.pem.",
)
@click.option("--stack", metavar="NAME", help="The pipeline's stack: its SigningKeyArn output names the key.")
@click.option(
    "--pipeline",
    metavar="NAME",
    help="The pipeline the provenance must be of (with --stack, also which of its pipelines holds the key).",
)
@click.option("--execution-id", metavar="ID", help="The pipeline execution the provenance must be of.")
@aws_options
@json_option
def verify_command(
    path: Path,
    public_key_file: Path | None,
    stack: str | None,
    pipeline: str | None,
    execution_id: str | None,
    profile: str | None,
    region: str | None,
    as_json: bool,
) -> None:
    """Check PATH, a validated artifact (a folder, or a zip of one as CodePipeline stores it), against its signed
    provenance (.validated/provenance.dsse.json), offline, and print what it vouches for: the upload, the object
    version and its SHA-256, the execution, the pipeline, the commands and image, the builder and the times.

    The signature (ECDSA P-256 over the DSSE encoding of an in-toto statement) must verify with the public key:
    --public-key FILE (PEM), or --stack NAME, whose SigningKeyArn output names the key (needs
    cloudformation:DescribeStacks and kms:GetPublicKey). Every file must be one the statement names, with its SHA-256:
    nothing added, changed or missing. With --pipeline and --execution-id, the provenance must also be of that
    pipeline and execution, as every stage after Validate requires of its own.

    Exit 0 verified, 1 refused (each problem named), 2 a usage, credentials or permission problem.

    \b
    Examples:
      s3vp verify run-1/artifacts/Attested --public-key run-1/signing-key.pub.pem
      s3vp verify artifact.zip --stack MyPipelineStack --execution-id 0a1b2c3d-...
      s3vp verify artifact.zip --stack FleetTeams1 --pipeline fleet-team01 --json
    """
    public_key = _public_key(public_key_file, stack, pipeline, profile, region)
    with artifact_folder(path) as folder:
        verification = verify_artifact(folder, public_key, pipeline=pipeline, execution_id=execution_id)
    summary = provenance_summary(verification.statement) if verification.statement is not None else None
    if as_json:
        echo_json(
            {
                "path": str(path),
                "verified": verification.verified,
                "public_key": public_key.source,
                "key_id": verification.key_id or None,
                "findings": [finding.to_dict() for finding in verification.findings],
                "provenance": summary if verification.verified else None,
            }
        )
    elif verification.verified and summary is not None:
        click.secho(
            f"Verified: {path} holds exactly the {summary['files']} file(s) its provenance names, signed with the key "
            f"of {public_key.source}.",
            fg="green",
        )
        _echo_provenance(summary)
    else:
        count = len(verification.findings)
        click.secho(f"Refused: {path} is not what its signed provenance vouches for ({count} problem(s)):", fg="red")
        for finding in verification.findings:
            click.secho(f"  [{finding.rule}] {finding.message}", fg="red")
    sys.exit(EXIT_ACCEPTED if verification.verified else EXIT_REJECTED)
