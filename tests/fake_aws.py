"""A stand-in for the two AWS CLI calls the buildspecs make, serving a local folder as S3. Standard library only.

Run as ``python fake_aws.py ARGS...`` (tests put an ``aws`` wrapper first on PATH). Environment:

* ``FAKE_S3_ROOT``: the folder standing in for S3. ``<root>/<bucket>/<key>`` is an object's current version;
  ``<root>/<bucket>/<key>@<version-id>`` is one version; ``<root>/<bucket>/<key>@<version-id>.meta.json``, when
  present, holds extra fields ``get-object`` reports (``ChecksumSHA256``, only with ``--checksum-mode ENABLED``).
* ``FAKE_AWS_LOG``: every call's arguments are appended to this file as one JSON array per line.

Supported, strictly (anything else is a usage error, exit 252, as the real CLI's parameter validation):

    aws s3 cp [--quiet] s3://BUCKET/KEY DEST
    aws s3api get-object --bucket B --key K [--version-id V] [--checksum-mode ENABLED] OUTFILE

A missing object or version fails as the service would: a message on stderr and exit 255 (``s3 cp``: exit 1).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

USAGE_ERROR = 252
SERVICE_ERROR = 255
TRANSFER_ERROR = 1
VERSION_SEPARATOR = "@"
META_SUFFIX = ".meta.json"


def object_path(root: Path, bucket: str, key: str, version_id: str | None = None) -> Path:
    """Where the fake keeps an object (its current version when ``version_id`` is None)."""
    name = key if version_id is None else f"{key}{VERSION_SEPARATOR}{version_id}"
    return root / bucket / name


def _usage(message: str) -> int:
    print(f"aws: error: {message}", file=sys.stderr)
    return USAGE_ERROR


def _s3_cp(root: Path, args: Sequence[str]) -> int:
    rest = [arg for arg in args if arg != "--quiet"]
    quiet = len(rest) != len(args)
    if len(rest) != 2 or any(arg.startswith("-") for arg in rest) or not rest[0].startswith("s3://"):
        return _usage(f"fake s3 cp supports only [--quiet] s3://BUCKET/KEY DEST, not {list(args)}")
    bucket, _, key = rest[0][len("s3://") :].partition("/")
    source = object_path(root, bucket, key)
    if not bucket or not key or not source.is_file():
        print(
            f"fatal error: An error occurred (404) when calling the HeadObject operation: Key {key!r} does not exist",
            file=sys.stderr,
        )
        return TRANSFER_ERROR
    shutil.copyfile(source, rest[1])
    if not quiet:
        print(f"download: {rest[0]} to {rest[1]}")
    return 0


def _get_object(root: Path, args: Sequence[str]) -> int:
    options: dict[str, str] = {}
    positional: list[str] = []
    allowed = {"--bucket", "--key", "--version-id", "--checksum-mode"}
    iterator = iter(args)
    for arg in iterator:
        if arg.startswith("--"):
            if arg not in allowed or arg in options:
                return _usage(f"fake get-object: unexpected or repeated option {arg}")
            value = next(iterator, None)
            if value is None:
                return _usage(f"argument {arg}: expected one argument")
            options[arg] = value
        else:
            positional.append(arg)
    if "--bucket" not in options or "--key" not in options or len(positional) != 1:
        return _usage("the following arguments are required: --bucket, --key, outfile")
    checksum_mode = options.get("--checksum-mode")
    if checksum_mode not in (None, "ENABLED"):
        return _usage(f"argument --checksum-mode: invalid choice: {checksum_mode!r} (choose from 'ENABLED')")
    bucket, key, version_id = options["--bucket"], options["--key"], options.get("--version-id")
    source = object_path(root, bucket, key, version_id)
    if not source.is_file():
        if version_id is None:
            code, text = "NoSuchKey", "The specified key does not exist."
        else:
            code, text = "NoSuchVersion", "The specified version does not exist."
        print(f"An error occurred ({code}) when calling the GetObject operation: {text}", file=sys.stderr)
        return SERVICE_ERROR
    shutil.copyfile(source, positional[0])
    response: dict[str, object] = {
        "AcceptRanges": "bytes",
        "ContentLength": source.stat().st_size,
        "ETag": '"0123456789abcdef0123456789abcdef"',
        "ContentType": "application/zip",
        "ServerSideEncryption": "aws:kms",
        "Metadata": {},
    }
    if version_id is not None:
        response["VersionId"] = version_id
    meta = source.with_name(source.name + META_SUFFIX)
    if meta.is_file():
        extra = json.loads(meta.read_text(encoding="utf-8"))
        if checksum_mode != "ENABLED":  # S3 returns checksums only when asked to
            extra = {name: value for name, value in extra.items() if not name.startswith("Checksum")}
        response.update(extra)
    print(json.dumps(response, indent=4))
    return 0


def main(argv: Sequence[str]) -> int:
    log = os.environ.get("FAKE_AWS_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(list(argv)) + "\n")
    root = Path(os.environ["FAKE_S3_ROOT"])
    if list(argv[:2]) == ["s3", "cp"]:
        return _s3_cp(root, argv[2:])
    if list(argv[:2]) == ["s3api", "get-object"]:
        return _get_object(root, argv[2:])
    return _usage(f"the fake aws supports only 's3 cp' and 's3api get-object', not {list(argv[:2])}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
