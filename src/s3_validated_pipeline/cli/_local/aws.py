"""The stand-in ``aws`` of a local run (``s3vp run``): it serves the package checker and the package from disk, signs
and verifies with the run's own signing key, and refuses every other call. Standard library only; run as
``python aws.py CONFIG.json ARGS...``.

``CONFIG.json`` holds ``objects`` (each ``bucket``, ``key``, ``version_id`` or null for any version, ``path`` on disk,
relative to the configuration's folder unless absolute, and optionally ``checksum_sha256``, the checksum S3 reports
when it is not the file's own: a corrupted download, or a multipart upload's composite), ``keys`` (each ``key_id``,
the key ARN the pipeline names, and ``private_key``, a PEM file written by ``new_key_pair``, relative as ``path``),
``real_aws`` (the real CLI's path, set only with ``--allow-aws``) and, optionally, ``hint`` (the refusal's last
words). Python 3.8 compatible: with ``s3vp run --docker`` the build image's ``python3`` runs it. Served, strictly:

    aws s3 cp [--quiet] s3://BUCKET/KEY DEST
    aws s3api get-object --bucket B --key K [--version-id V] [--checksum-mode ENABLED] OUTFILE
    aws s3api head-object --bucket B --key K [--version-id V]
    aws s3api get-object-tagging --bucket B --key K [--version-id V]
    aws s3api put-object-tagging --bucket B --key K [--version-id V] --tagging file://F|JSON
    aws kms sign --key-id K --message-type DIGEST --signing-algorithm ECDSA_SHA_256 --message fileb://F|BASE64
    aws kms verify --key-id K --message-type DIGEST --signing-algorithm ECDSA_SHA_256 --message M --signature S
    aws kms get-public-key --key-id K

head-object and each kms call may add ``--query NAME`` (one field of the answer) and ``--output json`` (the default)
or, with ``--query``, ``--output text``. Object tags (the validate stage's verdict) are kept in ``object-tags.json``
beside the configuration, by ``BUCKET/KEY/VERSION``, for the run's later steps and its tests to read. Errors are
KMS's own: a signature that does not verify is ``KMSInvalidSignatureException`` (exit 254, nothing on stdout), as KMS
answers it rather than ``SignatureValid: false``. Any other call, or a kms call naming another key, exits 255 with "a
local run never calls AWS (...)", unless ``real_aws`` is set: then the real CLI runs it.

The signatures are ECDSA on NIST P-256 over a SHA-256 digest, as KMS makes them with an ``ECC_NIST_P256`` key, in pure
Python (RFC 6979 deterministic nonces): the standard library has no ECDSA, and ``s3vp run --docker`` runs this file with
the build image's ``python3``, where the ``cryptography`` package cannot be counted on (a build image's Python is the
build's, not ours to install into); the tests check it against that package both ways. It is not constant-time and needs
none: it only ever holds a throwaway key made for one local run.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import os
import re
import secrets
import shlex
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

REFUSED = 255
SERVICE_ERROR = 254
"""The AWS CLI's exit code when the service answered with an error."""
PARAMETER_ERROR = 252
"""The AWS CLI's exit code when a parameter cannot be read (e.g. a ``fileb://`` file that is not there)."""
SIGNING_ALGORITHM = "ECDSA_SHA_256"


def _find(objects: Sequence[Mapping[str, Any]], bucket: str, key: str, version: str | None) -> Mapping[str, Any] | None:
    for item in objects:
        same = item["bucket"] == bucket and item["key"] == key
        if same and (version is None or item.get("version_id") in (None, version)):
            return item
    return None


def _s3_cp(objects: Sequence[Mapping[str, Any]], args: Sequence[str]) -> int | None:
    rest = [arg for arg in args if arg != "--quiet"]
    if len(rest) != 2 or any(arg.startswith("-") for arg in rest) or not rest[0].startswith("s3://"):
        return None
    bucket, _, key = rest[0][len("s3://") :].partition("/")
    item = _find(objects, bucket, key, None)
    if item is None:
        return None
    path = str(item["path"])
    shutil.copyfile(path, rest[1])
    if len(rest) == len(args):
        print(f"download: {rest[0]} to {rest[1]} (local run: {path})")
    return 0


_QUERY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""The ``--query`` this stand-in answers: one field of the answer, by name."""


def _options(args: Sequence[str], allowed: Sequence[str]) -> tuple[dict[str, str], list[str]] | None:
    """``--name value`` pairs (each of ``allowed``, at most once) and the other arguments; None for anything else."""
    options: dict[str, str] = {}
    positional: list[str] = []
    iterator = iter(args)
    for arg in iterator:
        if arg.startswith("--"):
            value = next(iterator, None)
            if arg not in allowed or arg in options or value is None:
                return None
            options[arg] = value
        else:
            positional.append(arg)
    return options, positional


def _object_metadata(options: Mapping[str, str], size: int, modified: float) -> dict[str, Any]:
    """What GetObject and HeadObject answer about a served object of ``size`` bytes, written at ``modified`` (seconds
    since the epoch), as the AWS CLI v2 shows it."""
    response: dict[str, Any] = {
        "AcceptRanges": "bytes",
        "LastModified": datetime.datetime.fromtimestamp(int(modified), datetime.timezone.utc).isoformat(),
        "ContentLength": size,
        "ContentType": "application/zip",
        "ServerSideEncryption": "aws:kms",
        "Metadata": {},
    }
    if "--version-id" in options:
        response["VersionId"] = options["--version-id"]
    return response


def _get_object(objects: Sequence[Mapping[str, Any]], args: Sequence[str]) -> int | None:
    parsed = _options(args, ("--bucket", "--key", "--version-id", "--checksum-mode"))
    if parsed is None:
        return None
    options, positional = parsed
    if "--bucket" not in options or "--key" not in options or len(positional) != 1:
        return None
    item = _find(objects, options["--bucket"], options["--key"], options.get("--version-id"))
    if item is None:
        return None
    path = str(item["path"])
    shutil.copyfile(path, positional[0])
    with open(path, "rb") as fh:
        data = fh.read()
    response = _object_metadata(options, len(data), os.path.getmtime(path))
    if options.get("--checksum-mode") == "ENABLED":  # s3vp push uploads with a SHA-256 checksum
        own = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        response["ChecksumSHA256"] = item.get("checksum_sha256") or own
    print(json.dumps(response, indent=4))
    return 0


def _head_object(objects: Sequence[Mapping[str, Any]], args: Sequence[str]) -> int | None:
    parsed = _options(args, ("--bucket", "--key", "--version-id", "--query", "--output"))
    if parsed is None:
        return None
    options, positional = parsed
    if "--bucket" not in options or "--key" not in options or positional or not _one_field(options):
        return None
    item = _find(objects, options["--bucket"], options["--key"], options.get("--version-id"))
    if item is None:
        return None
    path = str(item["path"])
    _print_answer(_object_metadata(options, os.path.getsize(path), os.path.getmtime(path)), options)
    return 0


TAGS_FILE = "object-tags.json"


def _object_tagging(objects: Sequence[Mapping[str, Any]], base: str, put: bool, args: Sequence[str]) -> int | None:
    parsed = _options(args, ("--bucket", "--key", "--version-id", *(("--tagging",) if put else ())))
    if parsed is None:
        return None
    options, positional = parsed
    if "--bucket" not in options or "--key" not in options or positional or (put and "--tagging" not in options):
        return None
    version = options.get("--version-id")
    if _find(objects, options["--bucket"], options["--key"], version) is None:
        return None
    path = os.path.join(base, TAGS_FILE)
    tags: dict[str, Any] = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            tags = json.load(fh)
    name = f"{options['--bucket']}/{options['--key']}/{version or ''}"
    if put:
        tagging = options["--tagging"]
        if tagging.startswith("file://"):
            with open(tagging[len("file://") :], encoding="utf-8") as fh:
                tagging = fh.read()
        tags[name] = json.loads(tagging)["TagSet"]
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(tags, fh, indent=2)
    answer = {"VersionId": version, **({} if put else {"TagSet": tags.get(name, [])})}
    print(json.dumps({k: v for k, v in answer.items() if v is not None}, indent=4))
    return 0


def _one_field(options: Mapping[str, str]) -> bool:
    """Whether ``--query`` and ``--output`` ask for what is served: JSON, or with ``--query NAME`` one field, as JSON
    or text."""
    query, output = options.get("--query"), options.get("--output", "json")
    if output not in ("json", "text") or (query is None and output == "text"):
        return False
    return query is None or bool(_QUERY.fullmatch(query))


def _print_answer(answer: Any, options: Mapping[str, str]) -> None:
    """Print ``answer`` (or its ``--query`` field) as the CLI prints it: JSON, or with ``--output text`` the value
    alone (``True``, a number, base64)."""
    if "--query" in options:
        answer = answer.get(options["--query"])
    print(str(answer) if options.get("--output") == "text" else json.dumps(answer, indent=4))


# --- ECDSA on NIST P-256 (FIPS 186-4 D.1.2.3; SEC 2 secp256r1) -------------------------------------------------------
# A point is (x, y) in affine coordinates; None is the point at infinity.

_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200")
"""SubjectPublicKeyInfo of an id-ecPublicKey on prime256v1, up to its uncompressed point (04 || X || Y)."""
_PKCS8_PREFIX = bytes.fromhex("308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420")
"""PKCS #8 PrivateKeyInfo of a prime256v1 ECPrivateKey, up to its 32-byte secret (then its public key, as OpenSSL
writes it)."""
_PKCS8_PUBLIC = bytes.fromhex("a144034200")


def _on_curve(point: tuple[int, int] | None) -> bool:
    if point is None:
        return False
    x, y = point
    return 0 <= x < _P and 0 <= y < _P and (y * y - x * x * x - _A * x - _B) % _P == 0


def _add(one: tuple[int, int] | None, other: tuple[int, int] | None) -> tuple[int, int] | None:
    if one is None:
        return other
    if other is None:
        return one
    (x1, y1), (x2, y2) = one, other
    if x1 == x2:
        if (y1 + y2) % _P == 0:
            return None
        slope = (3 * x1 * x1 + _A) * pow(2 * y1, -1, _P) % _P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (slope * slope - x1 - x2) % _P
    return x3, (slope * (x1 - x3) - y1) % _P


def _multiply(scalar: int, point: tuple[int, int] | None) -> tuple[int, int] | None:
    result: tuple[int, int] | None = None
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _nonces(secret: int, digest: bytes) -> Iterator[int]:
    """RFC 6979 (3.2) deterministic nonces for ``secret`` and ``digest`` with HMAC-SHA-256, in the order to try."""
    message = (int.from_bytes(digest, "big") % _N).to_bytes(32, "big")
    key, value = b"\x00" * 32, b"\x01" * 32
    for marker in (b"\x00", b"\x01"):
        key = hmac.new(key, value + marker + secret.to_bytes(32, "big") + message, hashlib.sha256).digest()
        value = hmac.new(key, value, hashlib.sha256).digest()
    while True:
        value = hmac.new(key, value, hashlib.sha256).digest()
        candidate = int.from_bytes(value, "big")
        if 1 <= candidate < _N:
            yield candidate
        key = hmac.new(key, value + b"\x00", hashlib.sha256).digest()
        value = hmac.new(key, value, hashlib.sha256).digest()


def sign_digest(secret: int, digest: bytes) -> tuple[int, int]:
    """The ECDSA signature ``(r, s)`` of a SHA-256 ``digest`` with the private key ``secret``."""
    number = int.from_bytes(digest, "big")
    for nonce in _nonces(secret, digest):
        point = _multiply(nonce, _G)
        assert point is not None  # 1 <= nonce < n
        r = point[0] % _N
        s = pow(nonce, -1, _N) * (number + r * secret) % _N
        if r and s:
            return r, s
    raise AssertionError("unreachable: the nonces never end")


def verify_digest(public: tuple[int, int] | None, digest: bytes, r: int, s: int) -> bool:
    """Whether ``(r, s)`` is a valid ECDSA signature of the SHA-256 ``digest`` by the public key ``public``."""
    if not _on_curve(public) or not (0 < r < _N and 0 < s < _N):
        return False
    inverse = pow(s, -1, _N)
    number = int.from_bytes(digest, "big")
    point = _add(_multiply(number * inverse % _N, _G), _multiply(r * inverse % _N, public))
    return point is not None and point[0] % _N == r


def _der_integer(value: int) -> bytes:
    data = value.to_bytes((value.bit_length() + 8) // 8, "big")  # a leading 0 keeps it positive
    return b"\x02" + bytes([len(data)]) + data


def signature_der(r: int, s: int) -> bytes:
    """DER ``ECDSA-Sig-Value`` (SEQUENCE of r and s), as KMS returns an ECDSA signature."""
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + bytes([len(body)]) + body


def read_signature_der(data: bytes) -> tuple[int, int] | None:
    """``(r, s)`` from a DER ``ECDSA-Sig-Value``; None unless it is exactly one, encoded as DER requires."""
    if len(data) < 8 or data[0] != 0x30 or data[1] != len(data) - 2:
        return None
    values = []
    rest = data[2:]
    for _ in range(2):
        if len(rest) < 2 or rest[0] != 0x02 or len(rest) < 2 + rest[1]:
            return None
        values.append(int.from_bytes(rest[2 : 2 + rest[1]], "big"))
        rest = rest[2 + rest[1] :]
    r, s = values
    return (r, s) if not rest and signature_der(r, s) == data else None


def _pem(label: str, der: bytes) -> str:
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def _point_bytes(point: tuple[int, int] | None) -> bytes:
    assert point is not None
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def public_key_der(public: tuple[int, int] | None) -> bytes:
    """The DER SubjectPublicKeyInfo of ``public``, as ``kms get-public-key`` returns it (base64)."""
    return _SPKI_PREFIX + _point_bytes(public)


def read_public_key_der(data: bytes) -> tuple[int, int] | None:
    """The point of a P-256 SubjectPublicKeyInfo; None unless it is one, on the curve."""
    if len(data) != len(_SPKI_PREFIX) + 65 or not data.startswith(_SPKI_PREFIX + b"\x04"):
        return None
    body = data[len(_SPKI_PREFIX) + 1 :]
    point = (int.from_bytes(body[:32], "big"), int.from_bytes(body[32:], "big"))
    return point if _on_curve(point) else None


def new_key_pair() -> tuple[str, str]:
    """A new P-256 key: its PKCS #8 PEM (``PRIVATE KEY``) and its public key's PEM (``PUBLIC KEY``)."""
    secret = secrets.randbelow(_N - 1) + 1
    public = _point_bytes(_multiply(secret, _G))
    private = _PKCS8_PREFIX + secret.to_bytes(32, "big") + _PKCS8_PUBLIC + public
    return _pem("PRIVATE KEY", private), _pem("PUBLIC KEY", _SPKI_PREFIX + public)


def read_private_key_pem(text: str) -> int:
    """The secret of a PEM ``new_key_pair`` wrote; ValueError for anything else."""
    body = "".join(line for line in text.strip().splitlines() if not line.startswith("-----"))
    try:
        der = base64.b64decode(body, validate=True)
    except binascii.Error:
        raise ValueError("the private key is not PEM") from None
    expected = len(_PKCS8_PREFIX) + 32 + len(_PKCS8_PUBLIC) + 65
    if len(der) != expected or not der.startswith(_PKCS8_PREFIX):
        raise ValueError("the private key is not a P-256 key in PKCS #8")
    secret = int.from_bytes(der[len(_PKCS8_PREFIX) : len(_PKCS8_PREFIX) + 32], "big")
    if not 0 < secret < _N or der[-65:] != _point_bytes(_multiply(secret, _G)):
        raise ValueError("the private key's public key does not match its secret")
    return secret


# --- kms ---------------------------------------------------------------------------------------------------------

_KMS_OPERATIONS = {
    "sign": ("Sign", ("--key-id", "--message", "--message-type", "--signing-algorithm")),
    "verify": ("Verify", ("--key-id", "--message", "--message-type", "--signing-algorithm", "--signature")),
    "get-public-key": ("GetPublicKey", ("--key-id",)),
}
"""Each served kms call: its API operation, and the options it must have (the only ones it may have, but
``--query`` and ``--output``)."""


class _KmsError(Exception):
    """What KMS (or the CLI, for ``code`` None) answers instead of a result."""

    def __init__(self, code: str | None, message: str, exit_code: int = SERVICE_ERROR) -> None:
        super().__init__(message)
        self.code, self.exit_code = code, exit_code


def _blob(option: str, value: str) -> bytes:
    """A blob parameter as the AWS CLI v2 reads it: ``fileb://PATH`` the file's bytes, otherwise base64."""
    if value.startswith("fileb://"):
        path = value[len("fileb://") :]
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise _KmsError(
                None, f"Error parsing parameter '{option}': Unable to load paramfile {value}: {exc}", PARAMETER_ERROR
            ) from None
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise _KmsError(None, f"Invalid base64: {value!r}", PARAMETER_ERROR) from None


def _kms_answer(operation: str, key_id: str, secret: int, options: Mapping[str, str]) -> dict[str, Any]:
    public = _multiply(secret, _G)
    if operation == "GetPublicKey":
        return {
            "KeyId": key_id,
            "PublicKey": base64.b64encode(public_key_der(public)).decode("ascii"),
            "CustomerMasterKeySpec": "ECC_NIST_P256",
            "KeySpec": "ECC_NIST_P256",
            "KeyUsage": "SIGN_VERIFY",
            "SigningAlgorithms": [SIGNING_ALGORITHM],
        }
    digest = _blob("--message", options["--message"])
    if len(digest) != hashlib.sha256().digest_size:
        raise _KmsError("ValidationException", f"Digest is invalid length for algorithm {SIGNING_ALGORITHM}.")
    if operation == "Sign":
        signature = signature_der(*sign_digest(secret, digest))
        return {
            "KeyId": key_id,
            "Signature": base64.b64encode(signature).decode("ascii"),
            "SigningAlgorithm": SIGNING_ALGORITHM,
        }
    values = read_signature_der(_blob("--signature", options["--signature"]))
    if values is None or not verify_digest(public, digest, *values):
        raise _KmsError("KMSInvalidSignatureException", "")
    return {"KeyId": key_id, "SignatureValid": True, "SigningAlgorithm": SIGNING_ALGORITHM}


def _kms(keys: Mapping[str, str], operation: str, args: Sequence[str]) -> int | None:
    name, required = _KMS_OPERATIONS.get(operation, ("", ()))
    parsed = _options(args, (*required, "--query", "--output")) if name else None
    if parsed is None:
        return None
    options, positional = parsed
    if positional or not set(required) <= set(options) or not _one_field(options):
        return None
    if name != "GetPublicKey" and (options["--message-type"], options["--signing-algorithm"]) != (
        "DIGEST",
        SIGNING_ALGORITHM,
    ):
        return None
    if options["--key-id"] not in keys:
        return None
    with open(keys[options["--key-id"]], encoding="ascii") as fh:
        secret = read_private_key_pem(fh.read())
    try:
        answer: Any = _kms_answer(name, options["--key-id"], secret, options)
    except _KmsError as exc:
        if exc.code is None:
            print(f"\n{exc}\n", file=sys.stderr)
        else:
            print(f"\nAn error occurred ({exc.code}) when calling the {name} operation: {exc}", file=sys.stderr)
        return exc.exit_code
    _print_answer(answer, options)
    return 0


def main(argv: Sequence[str]) -> int:
    with open(argv[0], encoding="utf-8") as fh:
        config = json.load(fh)
    args = list(argv[1:])
    base = os.path.dirname(os.path.abspath(argv[0]))
    objects = [dict(item, path=os.path.join(base, item["path"])) for item in config["objects"]]
    keys = {item["key_id"]: os.path.join(base, item["private_key"]) for item in config.get("keys", [])}
    served: int | None = None
    if args[:2] == ["s3", "cp"]:
        served = _s3_cp(objects, args[2:])
    elif args[:2] == ["s3api", "get-object"]:
        served = _get_object(objects, args[2:])
    elif args[:2] == ["s3api", "head-object"]:
        served = _head_object(objects, args[2:])
    elif args[:2] in (["s3api", "get-object-tagging"], ["s3api", "put-object-tagging"]):
        served = _object_tagging(objects, base, args[1] == "put-object-tagging", args[2:])
    elif args[:1] == ["kms"] and len(args) > 1:
        served = _kms(keys, args[1], args[2:])
    if served is not None:
        return served
    real = config.get("real_aws")
    if real:
        os.execv(real, [real, *args])  # noqa: S606  # --allow-aws: the real CLI, as the user asked
    call = shlex.join(["aws", *args])
    hint = config.get("hint", "pass --allow-aws to s3vp run to let this call reach AWS.")
    print(
        f"a local run never calls AWS ({call}): only the package checker and the package are served from disk (with "
        "their tags), and "
        f"kms sign, verify and get-public-key with the run's own key (ECDSA_SHA_256 over a DIGEST); {hint}",
        file=sys.stderr,
    )
    return REFUSED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
