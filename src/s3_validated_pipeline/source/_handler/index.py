"""Start one pipeline execution for exactly the S3 object version whose upload sent the event.

Runs in AWS Lambda behind an EventBridge rule on S3 "Object Created" events. The S3 source action would
otherwise read the newest version when it runs, so a second upload could be validated twice and the first
never: passing the event's version id as a source revision override pins each execution to its upload.
The client request token is derived from bucket, key and version, so a redelivered event (EventBridge and
Lambda both retry) cannot start a second execution for the same version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any

import boto3

LOGGER = logging.getLogger()
LOGGER.setLevel(logging.INFO)

_CLIENT: Any = None


def request_token(bucket: str, key: str, version_id: str) -> str:
    """Return a token that is the same for every delivery of one upload and differs between uploads.

    64 hex characters: within StartPipelineExecution's limit of 128 characters from [a-zA-Z0-9-].
    """
    # JSON keeps the three fields apart whatever characters they hold.
    return hashlib.sha256(json.dumps([bucket, key, version_id]).encode()).hexdigest()


def start_request(event: dict[str, Any], *, pipeline_name: str, source_action_name: str) -> dict[str, Any]:
    """Return the StartPipelineExecution arguments for one S3 "Object Created" event."""
    detail = event["detail"]
    bucket = detail["bucket"]["name"]
    key = detail["object"]["key"]
    version_id = detail["object"].get("version-id")
    if not version_id or version_id == "null":
        raise ValueError(
            f"s3://{bucket}/{key} has no version id: turn on versioning for the source bucket so that each "
            "upload can be validated exactly."
        )
    return {
        "name": pipeline_name,
        "clientRequestToken": request_token(bucket, key, version_id),
        "sourceRevisions": [
            {
                "actionName": source_action_name,
                "revisionType": "S3_OBJECT_VERSION_ID",
                "revisionValue": version_id,
            }
        ],
    }


def handler(event: dict[str, Any], context: Any, client: Any = None) -> dict[str, str]:
    """Start the pipeline for the uploaded version; an error makes Lambda retry, then park the event in the DLQ."""
    global _CLIENT
    if client is None:
        if _CLIENT is None:
            _CLIENT = boto3.client("codepipeline")
        client = _CLIENT
    request = start_request(
        event,
        pipeline_name=os.environ["PIPELINE_NAME"],
        source_action_name=os.environ["SOURCE_ACTION_NAME"],
    )
    response = client.start_pipeline_execution(**request)
    started = {
        "pipelineName": request["name"],
        "pipelineExecutionId": response["pipelineExecutionId"],
        "objectVersionId": request["sourceRevisions"][0]["revisionValue"],
        "eventId": str(event.get("id", "")),
    }
    LOGGER.info(json.dumps({"message": "pipeline execution started", **started}))
    return started
