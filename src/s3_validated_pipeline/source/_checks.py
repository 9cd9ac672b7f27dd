"""The checks of what a source takes: a bucket name, an object key, an uploader. Each returns the problems it finds
(``errors.Problem``), naming the argument it was given as."""

from __future__ import annotations

import re

from .._compliance import principal_arns
from ..errors import Problem, unresolved, wrong_type


def bucket_name_problems(argument: str, name: str | None) -> list[Problem]:
    """Return a problem unless ``name`` is None, a token or a name S3 accepts for a general purpose bucket."""
    if name is None or unresolved(name):
        return []
    if not isinstance(name, str):
        return [wrong_type(argument, name, "a str or None", "'my-team-uploads'")]
    valid = re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", name) and ".." not in name
    if not valid or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return [
            Problem(
                argument,
                name,
                "S3 bucket names have 3 to 63 characters: lowercase letters, digits, '.' and '-', starting and "
                "ending with a letter or digit, no '..' and not an IP address, e.g. 'my-team-uploads'. Or leave it out "
                "to get a generated name.",
            )
        ]
    return []


def object_key_problems(argument: str, object_key: str) -> list[Problem]:
    """Return a problem unless ``object_key`` names one S3 object exactly."""
    if unresolved(object_key):
        return []
    if not isinstance(object_key, str):
        return [wrong_type(argument, object_key, "a str", "'source.zip'")]
    if not object_key.strip():
        return [Problem(argument, object_key, "Name the object developers upload, e.g. 'source.zip'.")]
    if object_key.startswith("/"):
        return [
            Problem(
                argument, object_key, f"Drop the leading '/': S3 keys are relative, e.g. {object_key.lstrip('/')!r}."
            )
        ]
    if any(char in object_key for char in "*?[]"):
        return [
            Problem(
                argument,
                object_key,
                "Wildcards are not supported: the pipeline watches one object. Name it exactly, e.g. 'source.zip'.",
            )
        ]
    if object_key.endswith("/"):
        return [
            Problem(
                argument,
                object_key,
                f"A key ending in '/' is a folder, not an object: name the zip, e.g. {object_key + 'source.zip'!r}.",
            )
        ]
    size = len(object_key.encode("utf-8"))
    if size > 1024:  # S3's limit on a key
        return [
            Problem(
                argument,
                f"{object_key[:40]}... ({size} bytes)",
                "S3 keys are at most 1024 bytes in UTF-8: use a shorter key, e.g. 'source.zip'.",
            )
        ]
    return []


def grantee_problems(argument: str, grantee: object) -> list[Problem]:
    """Return a problem unless ``grantee`` is a principal with an IAM ARN, which a bucket policy can name."""
    if principal_arns(grantee):  # type: ignore[arg-type]  # checked inside: anything without a principal has none
        return []
    return [
        Problem(
            argument,
            grantee,
            "Pass an IAM role or user (anything with an IAM ARN), e.g. iam.Role(...); service principals "
            "cannot upload, and an ARN string must first be imported with iam.Role.from_role_arn.",
        )
    ]
