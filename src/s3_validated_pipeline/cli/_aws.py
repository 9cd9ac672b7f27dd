"""AWS sessions, the construct's stack outputs, and AWS errors turned into messages a developer can act on.

boto3 is imported here, on first use, so ``s3vp package`` and ``s3vp check`` start without it. Credentials come
from the standard chain (environment, ``--profile``, SSO, instance roles); ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>`` are honoured by boto3 itself. Nothing is stored.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OUTPUT_SUFFIXES",
    "AwsError",
    "PipelineOutputs",
    "aws_errors",
    "make_session",
    "read_stack_outputs",
]

OUTPUT_SUFFIXES = {
    "bucket": "SourceBucketName",
    "key": "ObjectKey",
    "kms_key": "SourceKeyArn",
    "pipeline": "PipelineName",
    "dead_letter_queue": "DeadLetterQueueUrl",
    "signing_key": "SigningKeyArn",
}
"""How ``ValidatedS3Pipeline``'s CfnOutputs' logical ids end; CDK may append an 8-character hash to each."""

_CDK_HASH = re.compile(r"[0-9A-F]{8}")

GRANT_REMEDY = "grant it with `pipeline.grant_upload(role_or_user)` (or `SourceBucketOptions(uploaders=[...])`)"


class AwsError(Exception):
    """An AWS problem the user can fix: missing credentials, an unknown stack, access denied; exit code 2."""


@dataclass(frozen=True)
class PipelineOutputs:
    """Where a ``ValidatedS3Pipeline`` takes uploads, read from its stack's outputs."""

    stack: str
    bucket: str
    key: str
    kms_key: str
    pipeline: str | None
    """Absent from stacks deployed before the construct emitted it."""
    construct: str = ""
    """What the logical ids of the construct's resources start with (its path in the stack), e.g. ``team01``."""
    dead_letter_queue: str | None = None
    """The URL of the queue its trigger dead-letters into (a foundation's, for a pipeline on one); absent from
    stacks deployed before the construct emitted it."""
    signing_key: str | None = None
    """The ARN of the key its provenance is signed with; absent from stacks deployed before the construct signed it."""


def make_session(profile: str | None, region: str | None) -> Any:
    """A boto3 session from the standard credential chain; ``profile`` and ``region`` override it."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise AwsError(f"the AWS profile {profile!r} is not configured (see `aws configure list-profiles`)") from None


def _output_prefix(output_key: str, suffix: str) -> str | None:
    """The construct path in front of ``suffix`` in a CfnOutput's logical id, with or without CDK's hash."""
    if output_key.endswith(suffix):
        return output_key[: -len(suffix)]
    if len(output_key) > 8 and _CDK_HASH.fullmatch(output_key[-8:]) and output_key[:-8].endswith(suffix):
        return output_key[: -8 - len(suffix)]
    return None


def find_pipeline_outputs(stack: str, outputs: Mapping[str, str], *, pipeline: str | None = None) -> PipelineOutputs:
    """Pick the construct's outputs out of a stack's ``{OutputKey: OutputValue}``.

    ``pipeline`` (a pipeline's name, as its ``PipelineName`` output gives it) chooses among several pipelines; with
    one, it must be that pipeline's name (or name it, when its stack predates the ``PipelineName`` output).
    Raises ``AwsError`` when the stack has none of them, only some, those of more than one pipeline and no
    ``pipeline``, or none named ``pipeline``; the last two list the stack's pipelines.
    """
    found: dict[str, dict[str, str]] = {}
    for output_key, value in outputs.items():
        for field, suffix in OUTPUT_SUFFIXES.items():
            prefix = _output_prefix(output_key, suffix)
            if prefix is not None:
                found.setdefault(prefix, {})[field] = value
    complete = {prefix: values for prefix, values in found.items() if {"bucket", "key", "kms_key"} <= values.keys()}
    wanted = ", ".join(f"*{OUTPUT_SUFFIXES[name]}" for name in ("bucket", "key", "kms_key"))
    if not complete:
        have = ", ".join(sorted(outputs)) or "none"
        raise AwsError(
            f"the stack {stack!r} has no outputs of a ValidatedS3Pipeline (looked for {wanted}; it has: {have}). "
            "Deploy a version of the construct that emits them, or pass --bucket, --key and --kms-key."
        )
    chosen = list(complete.items())
    if pipeline is not None:
        chosen = [item for item in chosen if item[1].get("pipeline") == pipeline]
        if not chosen and len(complete) == 1 and not next(iter(complete.values())).get("pipeline"):
            chosen = [(prefix, {**values, "pipeline": pipeline}) for prefix, values in complete.items()]
        if not chosen:
            raise AwsError(
                f"the stack {stack!r} holds no ValidatedS3Pipeline named {pipeline!r}; "
                f"its pipelines: {_pipeline_names(complete)}"
            )
    if len(chosen) > 1:
        named = any(values.get("pipeline") for values in complete.values())
        remedy = "pass --pipeline NAME to choose one" if named else "pass --bucket, --key and --kms-key to choose one"
        raise AwsError(
            f"the stack {stack!r} holds more than one ValidatedS3Pipeline ({_pipeline_names(complete)}): {remedy}"
        )
    prefix, values = chosen[0]
    return PipelineOutputs(
        stack,
        values["bucket"],
        values["key"],
        values["kms_key"],
        values.get("pipeline"),
        construct=prefix,
        dead_letter_queue=values.get("dead_letter_queue"),
        signing_key=values.get("signing_key"),
    )


def _pipeline_names(pipelines: Mapping[str, Mapping[str, str]]) -> str:
    """The pipelines' names (their ``PipelineName`` outputs), for a message; the construct's logical-id prefix for a
    pipeline whose construct predates that output, which ``--pipeline`` cannot choose."""
    names = sorted(values["pipeline"] for values in pipelines.values() if values.get("pipeline"))
    unnamed = sorted(prefix for prefix, values in pipelines.items() if not values.get("pipeline"))
    suffix = OUTPUT_SUFFIXES["pipeline"]
    return ", ".join([*names, *(f"{prefix!r} (no *{suffix} output)" for prefix in unnamed)])


def read_stack_outputs(session: Any, stack: str, *, pipeline: str | None = None) -> PipelineOutputs:
    """Read a deployed stack's outputs with ``cloudformation:DescribeStacks`` and pick the construct's (with
    ``pipeline``, those of the pipeline so named: see ``find_pipeline_outputs``)."""
    from botocore.exceptions import ClientError

    with aws_errors(action="cloudformation:DescribeStacks", resource=f"the stack {stack!r}"):
        client = session.client("cloudformation")
        try:
            response = client.describe_stacks(StackName=stack)
        except ClientError as exc:
            raise _unknown_stack(exc, client, stack) or exc from None
    stacks = response.get("Stacks", [])
    if not stacks:
        raise AwsError(f"no stack named {stack!r}")
    outputs = {item["OutputKey"]: item.get("OutputValue", "") for item in stacks[0].get("Outputs", [])}
    return find_pipeline_outputs(stack, outputs, pipeline=pipeline)


def stack_resources(session: Any, stack: str, resource_type: str, id_part: str, *, remedy: str = "") -> list[Any]:
    """The resources of ``stack`` of ``resource_type`` whose logical id holds ``id_part``, in the stack's order.

    ``ListStackResources`` rather than ``DescribeStackResources``: the latter returns only a stack's first 100
    resources, and a pipeline's stack often holds more.
    """
    from botocore.exceptions import ClientError

    with aws_errors(action="cloudformation:ListStackResources", resource=f"the stack {stack!r}", remedy=remedy):
        client = session.client("cloudformation")
        try:
            pages = client.get_paginator("list_stack_resources").paginate(StackName=stack)
            return [
                item
                for page in pages
                for item in page.get("StackResourceSummaries", [])
                if item.get("ResourceType") == resource_type and id_part in item.get("LogicalResourceId", "")
            ]
        except ClientError as exc:
            raise _unknown_stack(exc, client, stack) or exc from None


def _unknown_stack(exc: Any, client: Any, stack: str) -> AwsError | None:
    """The error to report when CloudFormation says ``stack`` does not exist; None for any other error."""
    error = exc.response.get("Error", {})
    if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
        return AwsError(f"no stack named {stack!r} in {client.meta.region_name} (check --region and --profile)")
    return None


def _client_error(exc: BaseException) -> Any:
    """The botocore ClientError behind ``exc`` (boto3's transfer layer wraps it), or None."""
    from botocore.exceptions import ClientError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


@contextmanager
def aws_errors(*, action: str, resource: str, remedy: str = "") -> Iterator[None]:
    """Turn the AWS errors a user can fix into ``AwsError``: no credentials or region, access denied, no endpoint.

    ``action`` is the IAM action the calls inside need, named in the access-denied message with ``remedy``.
    """
    # boto3's submodules are imported by name: the project's mypy settings treat only boto3 itself as untyped.
    S3UploadFailedError = importlib.import_module("boto3.exceptions").S3UploadFailedError
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        TokenRetrievalError,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise AwsError(
            "no AWS credentials found: set AWS_PROFILE or pass --profile, run `aws sso login`, or set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except TokenRetrievalError as exc:
        raise AwsError(f"the AWS SSO session has expired ({exc}): run `aws sso login`") from None
    except NoRegionError:
        raise AwsError("no AWS region: pass --region or set AWS_DEFAULT_REGION (or a region in your profile)") from None
    except EndpointConnectionError as exc:
        raise AwsError(f"cannot reach AWS: {exc}") from None
    except (ClientError, S3UploadFailedError) as exc:
        error = _client_error(exc)
        if error is None:
            raise AwsError(str(exc)) from None
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", "") or str(error)
        if code in {"AccessDenied", "AccessDeniedException", "403", "Forbidden", "KMS.AccessDeniedException"}:
            text = f"access denied to {resource}: your identity needs {action}"
            raise AwsError(f"{text}; {remedy}" if remedy else text + f" ({message})") from None
        if code in {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch"}:
            raise AwsError(f"AWS did not accept your credentials ({code}: {message})") from None
        if code == "NoSuchBucket":
            raise AwsError(f"the bucket of {resource} does not exist (check the bucket name and --region)") from None
        raise AwsError(f"{code or 'error'} on {resource}: {message}") from None
