"""The stand-in ``aws``'s kms: ``sign``, ``verify`` and ``get-public-key`` with a local run's key, and nothing else.

Its ECDSA (pure Python, so that ``s3vp run --docker`` can run it with a build image's ``python3``) is checked against
RFC 6979's own test vectors and against the ``cryptography`` package both ways: what it signs, cryptography
verifies; what cryptography signs, it verifies; the keys it writes are the keys cryptography reads.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from hypothesis import given, settings
from hypothesis import strategies as st

from s3_validated_pipeline.cli._local import aws as stand_in
from tests.conftest import python38

KEY_ARN = "arn:aws:kms:local:000000000000:key/run-key"
OTHER_ARN = "arn:aws:kms:local:000000000000:key/another-key"
PREHASHED = ec.ECDSA(utils.Prehashed(hashes.SHA256()))

# RFC 6979, A.2.5: ECDSA on P-256 with SHA-256, its private key and the (r, s) it gives for two messages.
RFC6979_KEY = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
RFC6979_SIGNATURES = {
    b"sample": (
        0xEFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716,
        0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8,
    ),
    b"test": (
        0xF1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367,
        0x019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083,
    ),
}


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    return stand_in.new_key_pair()


@pytest.fixture
def config(tmp_path: Path, key_pair: tuple[str, str]) -> Path:
    """A stand-in configuration serving one key, by a path relative to the configuration (as --docker writes it)."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "run.pem").write_text(key_pair[0])
    path = tmp_path / "aws-config.json"
    path.write_text(json.dumps({"objects": [], "keys": [{"key_id": KEY_ARN, "private_key": "keys/run.pem"}]}))
    return path


def digest_file(tmp_path: Path, data: bytes = b"the DSSE encoding", name: str = "digest") -> Path:
    path = tmp_path / name
    path.write_bytes(hashlib.sha256(data).digest())
    return path


def aws(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = stand_in.main([str(config), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sign_args(message: Path) -> list[str]:
    return [
        "kms", "sign", "--key-id", KEY_ARN, "--message-type", "DIGEST", "--signing-algorithm", "ECDSA_SHA_256",
        "--message", f"fileb://{message}",
    ]  # fmt: skip


def verify_args(message: Path, signature: Path) -> list[str]:
    return [
        "kms", "verify", "--key-id", KEY_ARN, "--message-type", "DIGEST", "--signing-algorithm", "ECDSA_SHA_256",
        "--message", f"fileb://{message}", "--signature", f"fileb://{signature}",
    ]  # fmt: skip


# --- the ECDSA itself ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("message", sorted(RFC6979_SIGNATURES))
def test_signatures_are_rfc6979s_test_vectors(message: bytes) -> None:
    # GIVEN RFC 6979's P-256 key  WHEN it signs SHA-256 of the RFC's message  THEN (r, s) is the RFC's
    digest = hashlib.sha256(message).digest()
    assert stand_in.sign_digest(RFC6979_KEY, digest) == RFC6979_SIGNATURES[message]


def test_key_pair_is_what_cryptography_reads(key_pair: tuple[str, str]) -> None:
    # GIVEN a key pair the stand-in made  WHEN cryptography loads both PEMs
    private = serialization.load_pem_private_key(key_pair[0].encode(), password=None)
    public = serialization.load_pem_public_key(key_pair[1].encode())
    # THEN they are one P-256 key, and its secret is the one the stand-in signs with
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert private.curve.name == public.curve.name == "secp256r1"
    assert private.public_key().public_numbers() == public.public_numbers()
    assert private.private_numbers().private_value == stand_in.read_private_key_pem(key_pair[0])


def test_two_runs_get_two_keys() -> None:
    assert stand_in.new_key_pair()[1] != stand_in.new_key_pair()[1]


@settings(max_examples=20, deadline=None)
@given(data=st.binary(max_size=64))
def test_what_the_stand_in_signs_cryptography_verifies_and_back(key_pair: tuple[str, str], data: bytes) -> None:
    secret = stand_in.read_private_key_pem(key_pair[0])
    private = serialization.load_pem_private_key(key_pair[0].encode(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    digest = hashlib.sha256(data).digest()
    # WHEN the stand-in signs  THEN cryptography verifies its DER signature (and raises on another digest)
    signature = stand_in.signature_der(*stand_in.sign_digest(secret, digest))
    private.public_key().verify(signature, digest, PREHASHED)
    with pytest.raises(InvalidSignature):
        private.public_key().verify(signature, hashlib.sha256(data + b"!").digest(), PREHASHED)
    # AND WHEN cryptography signs  THEN the stand-in verifies, and not over another digest
    theirs = stand_in.read_signature_der(private.sign(digest, PREHASHED))
    assert theirs is not None
    public = stand_in.read_public_key_der(
        private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert stand_in.verify_digest(public, digest, *theirs)
    assert not stand_in.verify_digest(public, hashlib.sha256(data + b"!").digest(), *theirs)


@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"\x30\x06\x02\x01\x01\x02\x01",  # cut short
        b"\x30\x07\x02\x02\x00\x01\x02\x01\x01",  # r with a needless leading zero: not DER
        b"\x30\x06\x02\x01\x01\x02\x01\x01\x00",  # a byte after the sequence
        b"\x31\x06\x02\x01\x01\x02\x01\x01",  # a SET, not a SEQUENCE
    ],
    ids=["empty", "cut-short", "non-minimal-integer", "trailing-byte", "a-set"],
)
def test_signatures_that_are_not_der_are_not_read(der: bytes) -> None:
    assert stand_in.read_signature_der(der) is None


# --- aws kms, as the buildspecs call it -----------------------------------------------------------------------------


def test_sign_then_verify_as_the_buildspecs_do(
    config: Path, tmp_path: Path, key_pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    message = digest_file(tmp_path)
    # WHEN Attest signs (--query Signature --output text)
    code, out, _ = aws(config, capsys, *sign_args(message), "--query", "Signature", "--output", "text")
    # THEN it prints the base64 DER signature, which cryptography verifies with the run's public key
    assert code == 0
    signature = base64.b64decode(out.strip(), validate=True)
    public = serialization.load_pem_public_key(key_pair[1].encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, message.read_bytes(), PREHASHED)
    # AND WHEN a later stage verifies it (--query SignatureValid --output text)  THEN it prints True
    (tmp_path / "sig").write_bytes(signature)
    code, out, _ = aws(
        config, capsys, *verify_args(message, tmp_path / "sig"), "--query", "SignatureValid", "--output", "text"
    )
    assert (code, out) == (0, "True\n")


def test_answers_are_kms_json_by_default(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = digest_file(tmp_path)
    code, out, _ = aws(config, capsys, *sign_args(message))
    assert code == 0
    signed = json.loads(out)
    assert (signed["KeyId"], signed["SigningAlgorithm"]) == (KEY_ARN, "ECDSA_SHA_256")
    (tmp_path / "sig").write_bytes(base64.b64decode(signed["Signature"]))
    code, out, _ = aws(config, capsys, *verify_args(message, tmp_path / "sig"))
    assert json.loads(out) == {"KeyId": KEY_ARN, "SignatureValid": True, "SigningAlgorithm": "ECDSA_SHA_256"}


def test_get_public_key_gives_the_runs_public_key(
    config: Path, key_pair: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = aws(config, capsys, "kms", "get-public-key", "--key-id", KEY_ARN)
    assert code == 0
    answer = json.loads(out)
    assert (answer["KeyId"], answer["KeySpec"], answer["KeyUsage"]) == (KEY_ARN, "ECC_NIST_P256", "SIGN_VERIFY")
    assert answer["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    served = serialization.load_der_public_key(base64.b64decode(answer["PublicKey"]))
    expected = serialization.load_pem_public_key(key_pair[1].encode())
    assert isinstance(served, ec.EllipticCurvePublicKey)
    assert isinstance(expected, ec.EllipticCurvePublicKey)
    assert served.public_numbers() == expected.public_numbers()
    # AND --query/--output text give the bare base64, as the CLI does
    code, out, _ = aws(config, capsys, "kms", "get-public-key", "--key-id", KEY_ARN, "--query", "PublicKey",
                       "--output", "text")  # fmt: skip
    assert out.strip() == answer["PublicKey"]


def test_message_may_be_base64_on_the_command_line(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    message = digest_file(tmp_path)
    inline = base64.b64encode(message.read_bytes()).decode()
    args = [*sign_args(message)[:-1], inline, "--query", "Signature", "--output", "text"]
    code, out, _ = aws(config, capsys, *args)
    assert code == 0
    (tmp_path / "sig").write_bytes(base64.b64decode(out))
    assert aws(config, capsys, *verify_args(message, tmp_path / "sig"))[0] == 0


def test_fails_when_the_signature_is_of_another_digest(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a signature of one digest  WHEN it is verified against another
    signed = digest_file(tmp_path, b"one")
    other = digest_file(tmp_path, b"other", "other")
    code, out, _ = aws(config, capsys, *sign_args(signed), "--query", "Signature", "--output", "text")
    (tmp_path / "sig").write_bytes(base64.b64decode(out))
    code, out, err = aws(
        config, capsys, *verify_args(other, tmp_path / "sig"), "--query", "SignatureValid", "--output", "text"
    )
    # THEN it fails as KMS does (no "False" on stdout: an exception, exit 254), so `!= True` refuses
    assert (code, out) == (stand_in.SERVICE_ERROR, "")
    assert "An error occurred (KMSInvalidSignatureException) when calling the Verify operation" in err


@pytest.mark.parametrize(
    "signature",
    [
        b"not DER at all",
        stand_in.signature_der(1, 1),
        stand_in.signature_der(*RFC6979_SIGNATURES[b"sample"]),  # valid, but another key's
    ],
    ids=["not-der", "r-and-s-one", "another-keys"],
)
def test_fails_when_the_signature_is_not_the_keys(
    config: Path, tmp_path: Path, signature: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    message = digest_file(tmp_path, b"sample")
    (tmp_path / "sig").write_bytes(signature)
    code, out, err = aws(config, capsys, *verify_args(message, tmp_path / "sig"))
    assert (code, out) == (stand_in.SERVICE_ERROR, "")
    assert "(KMSInvalidSignatureException) when calling the Verify operation" in err


def test_fails_when_the_digest_is_not_32_bytes(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "short").write_bytes(b"too short")
    code, out, err = aws(config, capsys, *sign_args(tmp_path / "short"))
    assert (code, out) == (stand_in.SERVICE_ERROR, "")
    assert "(ValidationException) when calling the Sign operation: Digest is invalid length" in err


def test_fails_when_the_message_file_is_missing(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = aws(config, capsys, *sign_args(tmp_path / "absent"))
    assert (code, out) == (stand_in.PARAMETER_ERROR, "")
    assert "Error parsing parameter '--message': Unable to load paramfile fileb://" in err


@pytest.mark.parametrize(
    "change",
    [
        {"--key-id": OTHER_ARN},  # a key the run does not serve
        {"--key-id": "alias/run-key"},
        {"--message-type": "RAW"},
        {"--signing-algorithm": "ECDSA_SHA_384"},
        {"--signing-algorithm": "RSASSA_PSS_SHA_256"},
        {"--query": "Signature.length(@)"},  # JMESPath beyond a field name
        {"--output": "table"},
        {"--output": "text"},  # text of the whole answer: only one field (--query) is printed as text
        {"--grant-tokens": "t"},  # an option the stand-in does not know
    ],
    ids=str,
)
def test_refuses_any_other_kms_sign(
    config: Path, tmp_path: Path, change: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = sign_args(digest_file(tmp_path))
    for option, value in change.items():
        if option in args:
            args[args.index(option) + 1] = value
        else:
            args += [option, value]
    code, out, err = aws(config, capsys, *args)
    assert (code, out) == (stand_in.REFUSED, "")
    assert "a local run never calls AWS (aws kms sign " in err
    assert "kms sign, verify and get-public-key with the run's own key" in err


@pytest.mark.parametrize(
    "call",
    [
        ["kms", "decrypt", "--ciphertext-blob", "fileb://x"],
        ["kms", "list-keys"],
        ["kms", "get-public-key", "--key-id", OTHER_ARN],
        ["kms", "get-public-key"],
        ["kms"],
        ["kms", "sign", "--key-id", KEY_ARN],  # required options missing
        ["kms", "get-public-key", "--key-id", KEY_ARN, "extra"],
    ],
    ids=" ".join,
)
def test_refuses_any_other_kms_call(config: Path, call: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = aws(config, capsys, *call)
    assert (code, out) == (stand_in.REFUSED, "")
    assert "a local run never calls AWS (aws kms" in err


def test_config_without_keys_serves_no_kms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a configuration from before the stand-in signed (objects only)
    config = tmp_path / "aws-config.json"
    config.write_text(json.dumps({"objects": [], "real_aws": None}))
    code, _, err = aws(config, capsys, "kms", "get-public-key", "--key-id", KEY_ARN)
    assert code == stand_in.REFUSED
    assert "a local run never calls AWS" in err


@pytest.mark.skipif(python38() is None, reason="needs a Python 3.8 (the oldest build image's python3)")
def test_python_3_8_signs_and_verifies(config: Path, tmp_path: Path) -> None:
    # GIVEN the oldest python3 a build image has  WHEN it runs the stand-in as --docker does
    message = digest_file(tmp_path)
    script = str(Path(stand_in.__file__).resolve())
    command = [str(python38()), "-I", script, str(config)]
    env = {"PATH": os.defpath}
    signed = subprocess.run(  # noqa: S603
        [*command, *sign_args(message), "--query", "Signature", "--output", "text"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    (tmp_path / "sig").write_bytes(base64.b64decode(signed.stdout))
    verified = subprocess.run(  # noqa: S603
        [*command, *verify_args(message, tmp_path / "sig"), "--query", "SignatureValid", "--output", "text"],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    # THEN it signs and verifies as on this machine's Python
    assert (verified.returncode, verified.stdout) == (0, "True\n"), verified.stderr
