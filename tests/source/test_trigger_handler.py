"""Tests for the Lambda that starts one pipeline execution per uploaded S3 object version.

The CodePipeline client is a real botocore client wrapped in a Stubber, so every request is validated against
the real StartPipelineExecution model. No request can leave the process: the Stubber answers each call itself
and a ``before-send`` hook fails the test if anything ever reaches the HTTP layer.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from s3_validated_pipeline.source._handler import index

REGION = "eu-west-1"
ACCOUNT = "111122223333"
PIPELINE_NAME = "validated-pipeline"
SOURCE_ACTION_NAME = "S3Source"
BUCKET = "source-bucket"
KEY = "source.zip"
HANDLER_FILE = Path(index.__file__)

_MODEL = botocore.session.get_session().get_service_model("codepipeline")
_START = _MODEL.operation_model("StartPipelineExecution")
TOKEN_SHAPE = _START.input_shape.members["clientRequestToken"]
REVISION_TYPES = _START.input_shape.members["sourceRevisions"].member.members["revisionType"].enum

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def object_created_event(
    *,
    version_id: str | None = "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY",
    bucket: str = BUCKET,
    key: str = KEY,
    time: datetime = T0,
    event_id: str | None = None,
) -> dict[str, Any]:
    """Return an S3 "Object Created" event as EventBridge delivers it; ``version_id=None`` omits the field."""
    obj: dict[str, Any] = {
        "key": key,
        "size": 123,
        "etag": "b1946ac92492d2347c6235b4d2611184",
        "sequencer": "0062E99A88DC407460",
    }
    if version_id is not None:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": ACCOUNT,
            "source-ip-address": "203.0.113.15",
            "reason": "PutObject",
        },
    }


def expected_start(version_id: str, *, bucket: str = BUCKET, key: str = KEY) -> dict[str, Any]:
    return {
        "name": PIPELINE_NAME,
        "clientRequestToken": index.request_token(bucket, key, version_id),
        "sourceRevisions": [
            {"actionName": SOURCE_ACTION_NAME, "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": version_id}
        ],
    }


def _no_network(request: Any, **_: Any) -> None:
    raise AssertionError(f"a request tried to leave the process: {request.method} {request.url}")


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials and region, the handler's configuration, and no cached default client."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("PIPELINE_NAME", PIPELINE_NAME)
    monkeypatch.setenv("SOURCE_ACTION_NAME", SOURCE_ACTION_NAME)
    monkeypatch.setattr(index, "_CLIENT", None)


@pytest.fixture
def codepipeline() -> Any:
    client = boto3.client("codepipeline", region_name=REGION)
    client.meta.events.register("before-send", _no_network)
    return client


@pytest.fixture
def stubber(codepipeline: Any) -> Iterator[Stubber]:
    """An active Stubber; after the test, every queued response must have been consumed."""
    with Stubber(codepipeline) as stub:
        yield stub
        stub.assert_no_pending_responses()


# --- one upload ---------------------------------------------------------------------------------------------


def test_one_upload_starts_one_execution_pinned_to_its_version(codepipeline: Any, stubber: Stubber) -> None:
    # GIVEN one upload of version v1
    event = object_created_event(version_id="v1-abc")
    stubber.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-1"}, expected_start("v1-abc"))

    # WHEN the handler runs
    result = index.handler(event, None, client=codepipeline)

    # THEN exactly one execution starts, on the configured pipeline, with the source action pinned to v1
    # (the Stubber checks the exact parameters and validates them against the API model)
    assert result["pipelineExecutionId"] == "exec-1"
    assert result["pipelineName"] == PIPELINE_NAME
    assert result["objectVersionId"] == "v1-abc"


def test_request_is_valid_for_the_api_model() -> None:
    # GIVEN an upload
    event = object_created_event(version_id="v1-abc")

    # WHEN the request is built
    request = index.start_request(event, pipeline_name=PIPELINE_NAME, source_action_name=SOURCE_ACTION_NAME)

    # THEN what botocore does not check itself (pattern, max length, enum) is valid for the API
    token = request["clientRequestToken"]
    assert re.fullmatch(TOKEN_SHAPE.metadata["pattern"].strip("^$"), token)
    assert TOKEN_SHAPE.metadata["min"] <= len(token) <= TOKEN_SHAPE.metadata["max"]
    assert request["sourceRevisions"][0]["revisionType"] in REVISION_TYPES


# --- two uploads a second apart -----------------------------------------------------------------------------


def test_two_uploads_a_second_apart_start_two_executions_for_two_versions(codepipeline: Any, stubber: Stubber) -> None:
    # GIVEN two uploads of the same key one second apart, so two versions
    first = object_created_event(version_id="version-one", time=T0)
    second = object_created_event(version_id="version-two", time=T0 + timedelta(seconds=1))
    stubber.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-1"}, expected_start("version-one"))
    stubber.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-2"}, expected_start("version-two"))
    calls: list[dict[str, Any]] = []
    codepipeline.meta.events.register(
        "provide-client-params.codepipeline.StartPipelineExecution", lambda params, **_: calls.append(dict(params))
    )

    # WHEN the handler runs for each event
    results = [index.handler(first, None, client=codepipeline), index.handler(second, None, client=codepipeline)]

    # THEN two StartPipelineExecution calls name two different versions with two different tokens,
    # so CodePipeline starts two executions that validate two different versions
    assert len(calls) == 2
    assert [c["sourceRevisions"][0]["revisionValue"] for c in calls] == ["version-one", "version-two"]
    assert calls[0]["clientRequestToken"] != calls[1]["clientRequestToken"]
    assert [r["objectVersionId"] for r in results] == ["version-one", "version-two"]
    assert [r["pipelineExecutionId"] for r in results] == ["exec-1", "exec-2"]


# --- redelivery ---------------------------------------------------------------------------------------------


def test_redelivered_event_sends_the_same_token(codepipeline: Any, stubber: Stubber) -> None:
    # GIVEN one upload delivered twice, the second time under another EventBridge id
    event = object_created_event(version_id="v1-abc", event_id="11111111-1111-1111-1111-111111111111")
    again = json.loads(json.dumps(event))
    again["id"] = "22222222-2222-2222-2222-222222222222"
    stubber.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-1"}, expected_start("v1-abc"))
    stubber.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-1"}, expected_start("v1-abc"))
    tokens: list[str] = []
    codepipeline.meta.events.register(
        "provide-client-params.codepipeline.StartPipelineExecution",
        lambda params, **_: tokens.append(params["clientRequestToken"]),
    )

    # WHEN the handler runs for both deliveries
    index.handler(event, None, client=codepipeline)
    index.handler(again, None, client=codepipeline)

    # THEN both calls carry the same idempotency token, so CodePipeline cannot start a second execution
    assert len(tokens) == 2
    assert tokens[0] == tokens[1] == index.request_token(BUCKET, KEY, "v1-abc")


# --- request_token ------------------------------------------------------------------------------------------


def test_request_token_is_deterministic_hex_and_valid_for_the_api() -> None:
    # GIVEN one upload's bucket, key and version
    # WHEN the token is computed twice
    token = index.request_token(BUCKET, KEY, "v1")

    # THEN it is stable, 64 lowercase hex characters, and allowed by the API
    assert token == index.request_token(BUCKET, KEY, "v1")
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert re.fullmatch(r"^[a-zA-Z0-9-]+$", token)
    assert len(token) <= 128


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(("other-bucket", KEY, "v1"), id="bucket"),
        pytest.param((BUCKET, "other.zip", "v1"), id="key"),
        pytest.param((BUCKET, KEY, "v2"), id="version"),
        pytest.param((BUCKET, KEY + "v", "1"), id="key-version-boundary"),
        pytest.param((BUCKET + "s", KEY[1:], "v1"), id="bucket-key-boundary"),
        pytest.param((BUCKET, f"{KEY}\0v", "1"), id="nul-in-key"),
    ],
)
def test_request_token_differs_when_the_upload_differs(other: tuple[str, str, str]) -> None:
    # GIVEN two different uploads (S3 bucket names and version ids cannot contain NUL; keys can hold any UTF-8)
    # WHEN both tokens are computed
    # THEN they differ
    assert index.request_token(BUCKET, KEY, "v1") != index.request_token(*other)


def test_request_token_separator_is_unambiguous() -> None:
    # GIVEN two triples that concatenate to the same string around a NUL separator
    # WHEN both tokens are computed
    # THEN they differ
    assert index.request_token("a", "b\0c", "v1") != index.request_token("a\0b", "c", "v1")


# --- unversioned bucket -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version_id",
    [pytest.param(None, id="no-version-id"), pytest.param("null", id="null"), pytest.param("", id="empty")],
)
def test_event_without_version_is_rejected_without_any_call(
    codepipeline: Any, stubber: Stubber, version_id: str | None
) -> None:
    # GIVEN an event from a bucket without versioning, and a client that expects no call
    event = object_created_event(version_id=version_id)

    # WHEN the handler runs
    # THEN it refuses and says to turn on versioning (an unexpected call would raise StubResponseError instead)
    with pytest.raises(ValueError, match="turn on versioning") as excinfo:
        index.handler(event, None, client=codepipeline)
    assert f"s3://{BUCKET}/{KEY}" in str(excinfo.value)
    stubber.assert_no_pending_responses()


# --- API errors ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ConcurrentPipelineExecutionsLimitExceededException", 400),
        ("ThrottlingException", 400),
        ("PipelineNotFoundException", 400),
        ("InternalFailure", 500),
    ],
)
def test_api_error_propagates_so_lambda_retries(codepipeline: Any, stubber: Stubber, code: str, status: int) -> None:
    # GIVEN CodePipeline answers StartPipelineExecution with an error
    stubber.add_client_error(
        "start_pipeline_execution",
        service_error_code=code,
        service_message="stubbed failure",
        http_status_code=status,
        expected_params=expected_start("v1-abc"),
    )

    # WHEN the handler runs
    # THEN the error escapes the handler, so Lambda retries the event and then sends it to the dead-letter queue
    with pytest.raises(ClientError) as excinfo:
        index.handler(object_created_event(version_id="v1-abc"), None, client=codepipeline)
    assert excinfo.value.response["Error"]["Code"] == code


# --- result and log -----------------------------------------------------------------------------------------


def test_result_and_log_name_the_execution_and_the_version(
    codepipeline: Any, stubber: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN one upload
    event = object_created_event(version_id="v1-abc", event_id="33333333-3333-3333-3333-333333333333")
    stubber.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-42"}, expected_start("v1-abc"))

    # WHEN the handler runs
    with caplog.at_level(logging.INFO):
        result = index.handler(event, None, client=codepipeline)

    # THEN both the return value and one structured log line carry the execution id and the object version
    assert result == {
        "pipelineName": PIPELINE_NAME,
        "pipelineExecutionId": "exec-42",
        "objectVersionId": "v1-abc",
        "eventId": "33333333-3333-3333-3333-333333333333",
    }
    logged = [json.loads(r.getMessage()) for r in caplog.records if "pipeline execution started" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0]["pipelineExecutionId"] == "exec-42"
    assert logged[0]["objectVersionId"] == "v1-abc"


# --- default client -----------------------------------------------------------------------------------------


def test_default_client_is_created_once_and_reused(
    codepipeline: Any, stubber: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN no client is passed in, and boto3.client returns the stubbed client
    created: list[tuple[Any, ...]] = []

    def fake_client(*args: Any, **kwargs: Any) -> Any:
        created.append(args)
        return codepipeline

    monkeypatch.setattr(index.boto3, "client", fake_client)
    stubber.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-1"}, expected_start("v1"))
    stubber.add_response("start_pipeline_execution", {"pipelineExecutionId": "exec-2"}, expected_start("v2"))

    # WHEN the handler runs twice in one warm Lambda environment
    index.handler(object_created_event(version_id="v1"), None)
    index.handler(object_created_event(version_id="v2"), None)

    # THEN one CodePipeline client was created and reused
    assert created == [("codepipeline",)]


# --- runtime dependencies -----------------------------------------------------------------------------------


def test_handler_imports_only_the_standard_library_and_boto3() -> None:
    # GIVEN the handler's source, which runs in the Lambda Python runtime with nothing else installed
    tree = ast.parse(HANDLER_FILE.read_text(encoding="utf-8"))

    # WHEN its imports are collected
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports do not work in a single-file Lambda asset"
            assert node.module is not None
            modules.add(node.module.split(".")[0])

    # THEN each is a standard library module or boto3/botocore
    foreign = {m for m in modules if m not in sys.stdlib_module_names and m not in {"boto3", "botocore"}}
    assert not foreign, f"the Lambda runtime cannot import {sorted(foreign)}"
    assert "boto3" in modules
