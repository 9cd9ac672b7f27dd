"""A test-local stand-in for ``aws kms sign`` and ``aws kms verify``, as the provenance lines of the buildspecs call
them (ECDSA_SHA_256 over a DIGEST, ``--query ... --output text``). Run as ``python kms_stand_in.py CONFIG.json kms
ARGS...`` by the sandbox's ``aws`` (its other calls go to ``s3vp run``'s stand-in).

``CONFIG.json`` holds ``keys`` (key ARN -> path of a PEM private key on NIST P-256) and ``may_sign`` (the key ARNs
this build's role may sign with: in AWS the key policy says so, and only the Attest role's builds may). Errors are
KMS's own, on stderr, with the CLI's exit status 254: ``KMSInvalidSignatureException`` for a signature the key did
not make, ``AccessDeniedException`` for a signing the configuration does not allow, ``NotFoundException`` for an
unknown key. Anything else is refused with 255.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

SERVICE_ERROR = 254
REFUSED = 255
_ALGORITHM = ec.ECDSA(utils.Prehashed(hashes.SHA256()))


def _read(uri: str) -> bytes:
    if not uri.startswith("fileb://"):
        raise ValueError(f"expected fileb://PATH, got {uri!r}")
    with open(uri[len("fileb://") :], "rb") as fh:
        return fh.read()


def _error(code: str, operation: str, message: str) -> int:
    print(f"\nAn error occurred ({code}) when calling the {operation} operation: {message}", file=sys.stderr)
    return SERVICE_ERROR


def main(argv: Sequence[str]) -> int:
    with open(argv[0], encoding="utf-8") as fh:
        config = json.load(fh)
    command, rest = list(argv[1:3]), list(argv[3:])
    names = rest[0::2]
    options = dict(zip(names, rest[1::2], strict=False))
    wanted = {"--key-id", "--message-type", "--signing-algorithm", "--message", "--query", "--output"}
    if command == ["kms", "verify"]:
        wanted.add("--signature")
    if command not in (["kms", "sign"], ["kms", "verify"]) or len(rest) % 2 or set(names) != wanted:
        print(f"kms stand-in: unsupported call {list(argv[1:])}", file=sys.stderr)
        return REFUSED
    operation = "Sign" if command[1] == "sign" else "Verify"
    if (options["--message-type"], options["--signing-algorithm"], options["--output"]) != (
        "DIGEST",
        "ECDSA_SHA_256",
        "text",
    ):
        print(f"kms stand-in: unsupported options {options}", file=sys.stderr)
        return REFUSED
    key_arn = options["--key-id"]
    if key_arn not in config["keys"]:
        return _error("NotFoundException", operation, f"Key '{key_arn}' does not exist")
    with open(config["keys"][key_arn], "rb") as fh:
        key = serialization.load_pem_private_key(fh.read(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    digest = _read(options["--message"])
    if len(digest) != 32:
        return _error("ValidationException", operation, "Digest is invalid length for algorithm ECDSA_SHA_256.")
    if operation == "Sign":
        if key_arn not in config["may_sign"] or options["--query"] != "Signature":
            return _error("AccessDeniedException", operation, f"not authorized to perform kms:Sign on {key_arn}")
        print(base64.b64encode(key.sign(digest, _ALGORITHM)).decode("ascii"))
        return 0
    if options["--query"] != "SignatureValid":
        return REFUSED
    try:
        key.public_key().verify(_read(options["--signature"]), digest, _ALGORITHM)
    except InvalidSignature:
        return _error("KMSInvalidSignatureException", operation, "")
    print("True")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
