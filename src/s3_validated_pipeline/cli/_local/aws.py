"""The stand-in ``aws`` of a local run (``s3vp run``): it serves the package checker and the package from disk and
refuses every other call. Standard library only; run as ``python aws.py CONFIG.json ARGS...``.

``CONFIG.json`` holds ``objects`` (each ``bucket``, ``key``, ``version_id`` or null for any version, ``path`` on disk,
relative to the configuration's folder unless absolute, and optionally ``checksum_sha256``, the checksum S3 reports
when it is not the file's own: a corrupted download, or a multipart upload's composite), ``real_aws`` (the real
CLI's path, set only with ``--allow-aws``) and, optionally, ``hint`` (the refusal's last words). Python 3.8
compatible: with ``s3vp run --docker`` the build image's ``python3`` runs it. Served, strictly:

    aws s3 cp [--quiet] s3://BUCKET/KEY DEST
    aws s3api get-object --bucket B --key K [--version-id V] [--checksum-mode ENABLED] OUTFILE

Any other call exits 255 with "a local run never calls AWS (...)", unless ``real_aws`` is set: then the real CLI
runs it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from typing import Any

REFUSED = 255


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


def _options(args: Sequence[str]) -> tuple[dict[str, str], list[str]] | None:
    options: dict[str, str] = {}
    positional: list[str] = []
    iterator = iter(args)
    for arg in iterator:
        if arg.startswith("--"):
            value = next(iterator, None)
            if arg not in ("--bucket", "--key", "--version-id", "--checksum-mode") or arg in options or value is None:
                return None
            options[arg] = value
        else:
            positional.append(arg)
    return options, positional


def _get_object(objects: Sequence[Mapping[str, Any]], args: Sequence[str]) -> int | None:
    parsed = _options(args)
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
    response: dict[str, Any] = {
        "AcceptRanges": "bytes",
        "ContentLength": len(data),
        "ContentType": "application/zip",
        "ServerSideEncryption": "aws:kms",
        "Metadata": {},
    }
    if "--version-id" in options:
        response["VersionId"] = options["--version-id"]
    if options.get("--checksum-mode") == "ENABLED":  # s3vp push uploads with a SHA-256 checksum
        own = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        response["ChecksumSHA256"] = item.get("checksum_sha256") or own
    print(json.dumps(response, indent=4))
    return 0


def main(argv: Sequence[str]) -> int:
    with open(argv[0], encoding="utf-8") as fh:
        config = json.load(fh)
    args = list(argv[1:])
    base = os.path.dirname(os.path.abspath(argv[0]))
    objects = [dict(item, path=os.path.join(base, item["path"])) for item in config["objects"]]
    served: int | None = None
    if args[:2] == ["s3", "cp"]:
        served = _s3_cp(objects, args[2:])
    elif args[:2] == ["s3api", "get-object"]:
        served = _get_object(objects, args[2:])
    if served is not None:
        return served
    real = config.get("real_aws")
    if real:
        os.execv(real, [real, *args])  # noqa: S606  # --allow-aws: the real CLI, as the user asked
    call = shlex.join(["aws", *args])
    hint = config.get("hint", "pass --allow-aws to s3vp run to let this call reach AWS.")
    print(
        f"a local run never calls AWS ({call}): only the package checker and the package are served from disk; {hint}",
        file=sys.stderr,
    )
    return REFUSED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
