"""``s3vp verify``: an artifact checked offline against its signed provenance, as a folder or a zip.

The artifacts here are made as the Attest action makes them (``check.provenance_statement``, signed over the DSSE
encoding, ``check.dsse_envelope``), signed with keys made here by ``cryptography``; ``--stack`` reads the key from a
moto stack's ``SigningKeyArn`` output and moto's KMS. ``tests/cli/test_run_examples.py`` verifies what ``s3vp run``
leaves.
"""

from __future__ import annotations

import base64
import json
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto import mock_aws

from s3_validated_pipeline import check as checker
from tests.cli.conftest import REGION, run

EXECUTION = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
PIPELINE = "orders-pipeline"
KEY_ID = "arn:aws:kms:eu-west-1:111111111111:key/signing"
SOURCE = {"bucket": "orders-source", "key": "uploads/source.zip", "versionId": "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"}
ZIP_SHA256 = "ab" * 32
FILES = {
    "package.json": '{"name": "orders"}\n',
    "dist/index.js": "console.log('orders');\n",
    ".validated/manifest.json": '{"version": 1}\n',
}


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


def statement(folder: Path, **changes: Any) -> dict[str, Any]:
    """The statement Attest would sign for ``folder`` as it is now."""
    arguments: dict[str, Any] = {
        "source": {**SOURCE, "sha256": ZIP_SHA256},
        "parameters": {"commands": ["npm ci", "npm test"], "image": "aws/codebuild/standard:7.0"},
        "checker_sha256": "cd" * 32,
        "checker_uri": "s3://cdk-assets/checker.py",
        "pipeline": PIPELINE,
        "builder_id": "arn:aws:codebuild:eu-west-1:111111111111:project/PipelineAttestProject",
        "build_type": "https://pypi.org/project/s3-validated-pipeline/1.0.0/#validated-zip",
        "invocation_id": EXECUTION,
        "started_on": "2026-12-06T10:00:00Z",
        "finished_on": "2026-12-06T10:00:42Z",
    }
    return checker.provenance_statement(str(folder), **{**arguments, **changes})


def sign(key: ec.EllipticCurvePrivateKey, payload: bytes) -> bytes:
    """What KMS returns for ``kms sign --message-type DIGEST`` of SHA-256(PAE): ECDSA over the PAE, DER."""
    return key.sign(checker.pae(checker.PAYLOAD_TYPE, payload), ec.ECDSA(hashes.SHA256()))


def write_envelope(folder: Path, envelope: Any) -> None:
    path = folder / checker.PROVENANCE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(envelope if isinstance(envelope, str) else json.dumps(envelope))


def attested(folder: Path, key: ec.EllipticCurvePrivateKey, **changes: Any) -> Path:
    """``folder`` with FILES and the envelope Attest would write for them, signed with ``key``."""
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    payload = json.dumps(statement(folder, **changes), sort_keys=True, separators=(",", ":")).encode()
    write_envelope(folder, checker.dsse_envelope(payload, sign(key, payload), KEY_ID))
    return folder


@dataclass(frozen=True)
class Signed:
    folder: Path
    key: ec.EllipticCurvePrivateKey
    public_key: Path

    def verify(self, *extra: str, path: Path | None = None) -> tuple[int, str, str]:
        return run("verify", str(path or self.folder), "--public-key", str(self.public_key), *extra)


@pytest.fixture
def signed(tmp_path: Path) -> Signed:
    key = new_key()
    return Signed(attested(tmp_path / "artifact", key), key, public_pem(key, tmp_path / "signing-key.pub.pem"))


def envelope_of(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / checker.PROVENANCE_PATH).read_text())
    return loaded


def zip_of(folder: Path, target: Path, *, extra: Callable[[zipfile.ZipFile], None] | None = None) -> Path:
    """``folder`` zipped as CodePipeline stores an artifact (paths relative to it)."""
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
        if extra is not None:
            extra(archive)
    return target


# --- accepted -------------------------------------------------------------------------------------------------------


def test_accepts_an_artifact_and_prints_what_its_provenance_says(signed: Signed) -> None:
    # GIVEN an artifact as Attest passed it on  WHEN it is verified with the signing key's public key
    code, out, err = signed.verify()
    # THEN it is verified, with every file named, and the provenance printed: upload, version, SHA-256, execution...
    assert code == 0, out + err
    assert f"Verified: {signed.folder} holds exactly the 3 file(s) its provenance names" in out
    for line in (
        f"Upload      s3://{SOURCE['bucket']}/{SOURCE['key']}",
        f"Version     {SOURCE['versionId']}",
        f"SHA-256     {ZIP_SHA256}",
        f"Execution   {EXECUTION}",
        f"Pipeline    {PIPELINE}",
        "Commands    npm ci\n              npm test",
        "Image       aws/codebuild/standard:7.0",
        "Builder     arn:aws:codebuild:eu-west-1:111111111111:project/PipelineAttestProject",
        "Started     2026-12-06T10:00:00Z",
        "Finished    2026-12-06T10:00:42Z",
        f"Made from   s3://{SOURCE['bucket']}/{SOURCE['key']}?versionId={SOURCE['versionId']}  sha256:{ZIP_SHA256}",
        f"            s3://cdk-assets/checker.py  sha256:{'cd' * 32}",
    ):
        assert f"  {line}" in out, out


def test_json_says_verified_with_the_provenance(signed: Signed) -> None:
    code, out, _ = signed.verify("--json")
    assert code == 0
    document = json.loads(out)
    assert (document["verified"], document["findings"], document["key_id"]) == (True, [], KEY_ID)
    assert document["public_key"] == str(signed.public_key)
    provenance = document["provenance"]
    assert provenance["upload"] == f"s3://{SOURCE['bucket']}/{SOURCE['key']}"
    assert (provenance["version_id"], provenance["sha256"]) == (SOURCE["versionId"], ZIP_SHA256)
    assert (provenance["execution_id"], provenance["pipeline"], provenance["files"]) == (EXECUTION, PIPELINE, 3)
    assert provenance["commands"] == ["npm ci", "npm test"]


def test_accepts_the_execution_and_pipeline_it_is_of(signed: Signed) -> None:
    assert signed.verify("--execution-id", EXECUTION, "--pipeline", PIPELINE)[0] == 0


def test_accepts_a_zip_of_the_artifact(signed: Signed, tmp_path: Path) -> None:
    # GIVEN the artifact as CodePipeline stores it: a zip  THEN it verifies as the folder does
    code, out, err = signed.verify(path=zip_of(signed.folder, tmp_path / "artifact.zip"))
    assert code == 0, out + err
    assert "holds exactly the 3 file(s)" in out


# --- refused --------------------------------------------------------------------------------------------------------


def refused(result: tuple[int, str, str], *messages: str) -> None:
    code, out, err = result
    assert code == 1, out + err
    assert "Refused: " in out
    assert "Verified" not in out
    for message in messages:
        assert message in out, out


def test_fails_when_one_byte_of_one_file_changed(signed: Signed) -> None:
    path = signed.folder / "dist" / "index.js"
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))
    refused(signed.verify(), "[provenance] 'dist/index.js' was changed since it was attested")


def test_fails_when_a_file_was_added(signed: Signed) -> None:
    (signed.folder / "dist" / "extra.js").write_text("steal()\n")
    refused(signed.verify(), "'dist/extra.js' was added: the provenance does not name it")


def test_fails_when_a_file_was_removed(signed: Signed) -> None:
    (signed.folder / "package.json").unlink()
    refused(signed.verify(), "'package.json' is in the provenance but missing")


def test_fails_when_a_file_changed_in_the_zip(signed: Signed, tmp_path: Path) -> None:
    (signed.folder / "package.json").write_text('{"name": "evil"}\n')
    refused(signed.verify(path=zip_of(signed.folder, tmp_path / "a.zip")), "'package.json' was changed")


def test_fails_when_another_key_signed_the_envelope(signed: Signed, tmp_path: Path) -> None:
    # GIVEN the same files, signed afresh by a key that is not the pipeline's
    attested(signed.folder, new_key())
    refused(signed.verify(), "the signature does not verify with the public key of")


def test_fails_when_the_statement_was_changed_after_signing(signed: Signed) -> None:
    # GIVEN the envelope's statement rewritten (another execution), its signature kept
    envelope = envelope_of(signed.folder)
    forged = json.loads(base64.b64decode(envelope["payload"]))
    forged["predicate"]["runDetails"]["metadata"]["invocationId"] = "another-execution"
    envelope["payload"] = base64.b64encode(json.dumps(forged).encode()).decode()
    write_envelope(signed.folder, envelope)
    refused(signed.verify(), "the signature does not verify")


def test_fails_when_the_provenance_is_of_another_execution_or_pipeline(signed: Signed) -> None:
    refused(
        signed.verify("--execution-id", "my-execution"),
        f"the provenance is of execution '{EXECUTION}', not of this one ('my-execution')",
    )
    refused(signed.verify("--pipeline", "other-pipeline"), f"the provenance is of pipeline '{PIPELINE}'")


def test_fails_when_the_envelope_is_missing(signed: Signed) -> None:
    (signed.folder / checker.PROVENANCE_PATH).unlink()
    refused(signed.verify(), f"{checker.PROVENANCE_PATH} is missing: nothing vouches for these files")


def _two_signatures(envelope: dict[str, Any]) -> dict[str, Any]:
    return {**envelope, "signatures": envelope["signatures"] * 2}


@pytest.mark.parametrize(
    ("malform", "message"),
    [
        (lambda envelope: "{not json", "cannot be read as JSON"),
        (lambda envelope: [envelope], "is not a DSSE envelope of an in-toto statement"),
        (lambda envelope: {**envelope, "payloadType": "text/plain"}, "is not a DSSE envelope"),
        (_two_signatures, "the envelope must hold exactly one signature"),
        (lambda envelope: {**envelope, "signatures": []}, "exactly one signature"),
        (lambda envelope: {**envelope, "payload": "%%%"}, "not valid base64 JSON"),
        (lambda envelope: {**envelope, "signatures": [{"sig": "%%%"}]}, "not valid base64 JSON"),
        (
            lambda envelope: {**envelope, "payload": base64.b64encode(b'{"_type": "other"}').decode()},
            "the statement's _type is not https://in-toto.io/Statement/v1",
        ),
        (
            lambda envelope: {**envelope, "signatures": [{**envelope["signatures"][0], "sig": "AAAA"}]},
            "the signature does not verify",
        ),
    ],
    ids=[
        "not-json", "not-an-object", "payload-type", "two-signatures", "no-signature", "payload-base64",
        "signature-base64", "not-in-toto", "signature-garbage",
    ],
)  # fmt: skip
def test_fails_when_the_envelope_is_malformed(
    signed: Signed, malform: Callable[[dict[str, Any]], Any], message: str
) -> None:
    write_envelope(signed.folder, malform(envelope_of(signed.folder)))
    result = signed.verify("--json")
    assert result[0] == 1, result
    document = json.loads(result[1])
    assert (document["verified"], document["provenance"]) == (False, None)
    assert any(message in finding["message"] for finding in document["findings"]), document["findings"]
    assert "Traceback" not in result[1] + result[2]


# --- usage ----------------------------------------------------------------------------------------------------------


def test_fails_without_a_key(signed: Signed) -> None:
    code, _, err = run("verify", str(signed.folder))
    assert code == 2
    assert "pass --public-key FILE or --stack NAME" in err


def test_fails_with_both_keys(signed: Signed) -> None:
    code, _, err = run("verify", str(signed.folder), "--public-key", str(signed.public_key), "--stack", "S")
    assert code == 2
    assert "pass --public-key FILE or --stack NAME (one of them)" in err


def test_fails_when_the_public_key_file_is_not_a_pem_key(signed: Signed, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key\n")
    code, _, err = run("verify", str(signed.folder), "--public-key", str(bad))
    assert code == 2
    assert "--public-key" in err
    assert "not a PEM public key" in err


def test_fails_when_the_public_key_is_not_p256(signed: Signed, tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "rsa.pem"
    path.write_bytes(
        rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    code, _, err = run("verify", str(signed.folder), "--public-key", str(path))
    assert code == 2
    assert "not an ECC_NIST_P256 key" in err


def test_fails_when_path_is_neither_a_folder_nor_a_zip(signed: Signed, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    code, _, err = signed.verify(path=text)
    assert code == 2
    assert "neither a folder nor a zip" in err


@pytest.mark.parametrize(
    ("member", "message"),
    [("../outside.js", "is not a plain relative path"), ("/etc/passwd", "is not a plain relative path"),
     ("dist/../../x", "is not a plain relative path"), ("package.json", "or is repeated")],
)  # fmt: skip
@pytest.mark.filterwarnings("ignore:Duplicate name")  # the repeated member is the point
def test_fails_when_the_zip_has_a_member_extraction_would_rename(
    signed: Signed, tmp_path: Path, member: str, message: str
) -> None:
    # GIVEN a zip naming a file that an extractor would write elsewhere (or twice): what is verified would differ
    archive = zip_of(signed.folder, tmp_path / "a.zip", extra=lambda z: z.writestr(member, "x"))
    code, _, err = signed.verify(path=archive)
    assert code == 2
    assert message in err


def test_fails_when_the_zip_holds_a_symbolic_link(signed: Signed, tmp_path: Path) -> None:
    def link(archive: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo("dist/link.js")
        info.external_attr = (0o120777 << 16) | 0  # a symbolic link, as zip -y stores one
        archive.writestr(info, "/etc/passwd")

    code, _, err = signed.verify(path=zip_of(signed.folder, tmp_path / "a.zip", extra=link))
    assert code == 2
    assert "'dist/link.js' is a symbolic link" in err


# --- the key from the stack -----------------------------------------------------------------------------------------


@pytest.fixture
def deployed(aws_env: None) -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        yield boto3.client("kms", region_name=REGION), boto3.client("cloudformation", region_name=REGION)


def create_stack(cloudformation: Any, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {output: {"Value": value} for output, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def pipeline_outputs(prefix: str, name: str, signing_key: str | None) -> dict[str, str]:
    """A pipeline's outputs, as CDK names them (with its 8-character hash)."""
    outputs = {
        f"{prefix}SourceBucketName1A2B3C4D": SOURCE["bucket"],
        f"{prefix}ObjectKey1A2B3C4D": SOURCE["key"],
        f"{prefix}SourceKeyArn1A2B3C4D": "arn:aws:kms:eu-west-1:111111111111:key/source",
        f"{prefix}PipelineName1A2B3C4D": name,
    }
    if signing_key is not None:
        outputs[f"{prefix}SigningKeyArn1A2B3C4D"] = signing_key
    return outputs


def kms_attested(kms: Any, folder: Path) -> str:
    """``folder`` attested with a moto KMS key, as Attest signs; returns the key's ARN."""
    arn: str = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    payload = json.dumps(statement(folder), sort_keys=True, separators=(",", ":")).encode()
    # moto's DIGEST signing hashes the digest again, unlike KMS: RAW over the PAE is what KMS's DIGEST of its
    # SHA-256 gives, and what a verifier checks.
    signature = kms.sign(
        KeyId=arn, Message=checker.pae(checker.PAYLOAD_TYPE, payload), MessageType="RAW",
        SigningAlgorithm="ECDSA_SHA_256",
    )["Signature"]  # fmt: skip
    write_envelope(folder, checker.dsse_envelope(payload, signature, arn))
    return arn


def test_stack_gives_the_signing_key_to_verify_with(deployed: tuple[Any, Any], tmp_path: Path) -> None:
    # GIVEN two pipelines in one stack, each with its own signing key, and an artifact of the second's
    kms, cloudformation = deployed
    first = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    artifact = tmp_path / "artifact"
    second = kms_attested(kms, artifact)
    create_stack(
        cloudformation,
        "Fleet",
        pipeline_outputs("team01", "fleet-team01", first) | pipeline_outputs("team02", PIPELINE, second),
    )
    # WHEN it is verified with the stack and the pipeline's name
    code, out, err = run("verify", str(artifact), "--stack", "Fleet", "--pipeline", PIPELINE)
    # THEN that pipeline's key (read with kms:GetPublicKey) verifies it
    assert code == 0, out + err
    assert f"signed with the key of {second} (stack Fleet)" in out
    # AND the other pipeline's key refuses it (and so does its name, which the provenance is not of)
    code, out, _ = run("verify", str(artifact), "--stack", "Fleet", "--pipeline", "fleet-team01")
    assert code == 1
    assert "the signature does not verify" in out
    assert "the provenance is of pipeline" in out


def test_fails_when_the_stack_outputs_no_signing_key(deployed: tuple[Any, Any], tmp_path: Path) -> None:
    kms, cloudformation = deployed
    artifact = tmp_path / "artifact"
    kms_attested(kms, artifact)
    create_stack(cloudformation, "Old", pipeline_outputs("", PIPELINE, None))
    code, _, err = run("verify", str(artifact), "--stack", "Old")
    assert code == 2
    assert "does not output its pipeline's signing key (*SigningKeyArn)" in " ".join(err.split())


def test_fails_when_the_stack_is_not_there(deployed: tuple[Any, Any], signed: Signed) -> None:
    code, _, err = run("verify", str(signed.folder), "--stack", "Missing")
    assert code == 2
    assert "no stack named 'Missing'" in err


def test_verify_needs_no_network_or_aws_with_a_public_key(signed: Signed, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no credentials and no way to make an AWS session  THEN --public-key verifies all the same (offline)
    from s3_validated_pipeline.cli import _aws

    def no_session(profile: str | None, region: str | None) -> Any:
        raise AssertionError("s3vp verify --public-key made an AWS session")

    monkeypatch.setattr(_aws, "make_session", no_session)
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    assert signed.verify()[0] == 0
