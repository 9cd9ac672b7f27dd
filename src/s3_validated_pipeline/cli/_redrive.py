"""Re-send the upload events the trigger dead-lettered, so that each object version they name gets validated.

An event lands in the trigger's dead-letter queue when EventBridge (``TriggerMode.DIRECT``) or the trigger function
(``TriggerMode.FUNCTION``) could not start the pipeline for a day. For each S3 "Object Created" event in the queue,
``redrive`` starts the pipeline on that object version, with the client request token the trigger function uses
(SHA-256 of bucket, key and version), which CodePipeline takes as a repeat of the same request: running ``redrive``
twice, or after the function did start the version, does not start it again. The message is deleted once the start
succeeded; anything that is not such an event is reported and left in the queue.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._names import SOURCE
from ._aws import AwsError, aws_errors, stack_resources

__all__ = ["DEAD_LETTER_QUEUE_ID", "Redrive", "Redriven", "find_dead_letter_queue", "redrive", "request_token"]

DEAD_LETTER_QUEUE_ID = "TriggerDeadLetterQueue"
"""What the logical id of the construct's trigger dead-letter queue holds (``<id>TriggerDeadLetterQueue<hash>``)."""

_BATCH = 10
_VISIBILITY_SECONDS = 120
_MAX_MESSAGES = 10_000
WAIT_SECONDS = 1
"""Long polling: an empty receive waits this long, so that SQS asks all its servers and none is missed."""


def request_token(bucket: str, key: str, version_id: str) -> str:
    """The trigger function's token for one upload: 64 hex characters, the same for every delivery of it."""
    # The same derivation as source/_handler/index.py (a test keeps them equal).
    return hashlib.sha256(json.dumps([bucket, key, version_id]).encode()).hexdigest()


@dataclass(frozen=True)
class Redriven:
    """One message of the dead-letter queue and what became of it."""

    message_id: str
    outcome: str
    """started, duplicate (its version was started for an earlier message), would_start (--dry-run), skipped or
    failed: the last two stay in the queue."""
    bucket: str | None = None
    key: str | None = None
    version_id: str | None = None
    execution_id: str | None = None
    reason: str | None = None
    """Why it was skipped or failed; the error that dead-lettered it, when the queue recorded one."""

    def to_dict(self) -> dict[str, Any]:
        """The message's fate as JSON-ready values."""
        return {
            "message_id": self.message_id,
            "outcome": self.outcome,
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "execution_id": self.execution_id,
            "reason": self.reason,
        }


@dataclass
class Redrive:
    """The whole run."""

    queue_url: str
    pipeline: str
    dry_run: bool
    messages: list[Redriven] = field(default_factory=list)

    @property
    def left_in_queue(self) -> list[Redriven]:
        """Messages that were neither started nor duplicates (skipped, failed, or all of them with --dry-run)."""
        return [item for item in self.messages if item.outcome not in {"started", "duplicate"}]

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON-ready values."""
        return {
            "queue_url": self.queue_url,
            "pipeline": self.pipeline,
            "dry_run": self.dry_run,
            "messages": [item.to_dict() for item in self.messages],
        }


def find_dead_letter_queue(session: Any, stack: str, *, construct: str = "") -> str:
    """The URL of the trigger's dead-letter queue among ``stack``'s resources (``ListStackResources``).

    With several, the one of the pipeline whose logical ids start with ``construct`` (``PipelineOutputs.construct``).
    A pipeline on a ``PipelineFoundation`` has none of its own: it dead-letters into the foundation's queue, which is
    in the foundation's stack; in the pipeline's stack it is found only when the foundation is there too.
    """
    queues = stack_resources(session, stack, "AWS::SQS::Queue", DEAD_LETTER_QUEUE_ID)
    if not queues:
        raise AwsError(
            f"the stack {stack!r} has no trigger dead-letter queue (an AWS::SQS::Queue whose logical id holds "
            f"{DEAD_LETTER_QUEUE_ID!r}). A pipeline on a PipelineFoundation dead-letters into the foundation's "
            "queue, in the foundation's stack: pass its URL as --queue-url URL, keeping --stack (and --pipeline) so "
            "that only this pipeline's uploads are redriven"
        )
    own = [item for item in queues if str(item["LogicalResourceId"]).startswith(construct + DEAD_LETTER_QUEUE_ID)]
    if len(queues) > 1 and construct and len(own) == 1:
        queues = own
    if len(queues) > 1:
        names = ", ".join(sorted(str(item["LogicalResourceId"]) for item in queues))
        raise AwsError(f"the stack {stack!r} has more than one trigger dead-letter queue ({names}): pass --queue-url")
    return str(queues[0]["PhysicalResourceId"])


def _unwrap(body: Any, depth: int = 0) -> dict[str, Any] | None:
    """The S3 event in a message body: the event itself, or wrapped (SNS ``Message``, Lambda ``requestPayload``,
    a JSON string, ``detail`` of an outer envelope)."""
    if depth > 4:
        return None
    if isinstance(body, str):
        try:
            return _unwrap(json.loads(body), depth + 1)
        except ValueError:
            return None
    if not isinstance(body, dict):
        return None
    if body.get("source") == "aws.s3" and isinstance(body.get("detail"), dict):
        return body
    for wrapper in ("Message", "requestPayload", "body", "event", "detail", "Records"):
        inner = body.get(wrapper)
        if isinstance(inner, list) and inner:
            inner = inner[0]
        if inner is not None:
            found = _unwrap(inner, depth + 1)
            if found is not None:
                return found
    return None


def _upload(body: str) -> tuple[str, str, str] | str:
    """(bucket, key, version) of the "Object Created" event in ``body``, or why it is not one."""
    event = _unwrap(body)
    if event is None:
        return "not an S3 event (the body is not an EventBridge event from aws.s3)"
    if event.get("detail-type") != "Object Created":
        return f"an S3 {event.get('detail-type')!r} event, not 'Object Created'"
    detail = event["detail"]
    bucket = (detail.get("bucket") or {}).get("name")
    key = (detail.get("object") or {}).get("key")
    version = (detail.get("object") or {}).get("version-id")
    if not bucket or not key:
        return "an 'Object Created' event without a bucket name or object key"
    if not version or version == "null":
        return f"s3://{bucket}/{key} has no version id (the bucket was not versioned): it cannot be validated exactly"
    return str(bucket), str(key), str(version)


def _receive(sqs: Any, queue_url: str, *, wait_seconds: int) -> list[dict[str, Any]]:
    """Every message in the queue, each once: received messages stay invisible until this run releases them."""
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < _MAX_MESSAGES:
        response = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=_BATCH,
            VisibilityTimeout=_VISIBILITY_SECONDS,
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
        )
        fresh = [item for item in response.get("Messages", []) if item["MessageId"] not in seen]
        if not fresh:
            break
        for item in fresh:
            seen[item["MessageId"]] = item
    return list(seen.values())


def _dead_letter_reason(message: dict[str, Any]) -> str | None:
    attributes = message.get("MessageAttributes") or {}
    parts = [
        str((attributes.get(name) or {}).get("StringValue"))
        for name in ("ERROR_CODE", "ERROR_MESSAGE")
        if (attributes.get(name) or {}).get("StringValue")
    ]
    return ": ".join(parts) or None


def redrive(
    session: Any,
    *,
    queue_url: str,
    pipeline: str,
    dry_run: bool = False,
    source_action: str = SOURCE,
    watched: tuple[str, str] | None = None,
    wait_seconds: int | None = None,
    say: Callable[[Redriven], None] | None = None,
) -> Redrive:
    """Start ``pipeline`` once per object version dead-lettered in ``queue_url``; delete what was started.

    ``watched`` (bucket, key): skip events of other objects. ``say`` is called with each message's outcome as it
    is decided. Raises ``AwsError`` for what the user can fix.
    """
    run = Redrive(queue_url=queue_url, pipeline=pipeline, dry_run=dry_run)
    action = (
        "sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility on the queue, kms:Decrypt on its key"
    )
    with aws_errors(action=action, resource=f"the queue {queue_url}"):
        sqs = session.client("sqs")
        messages = _receive(sqs, queue_url, wait_seconds=WAIT_SECONDS if wait_seconds is None else wait_seconds)
    if watched is None:
        _refuse_a_shared_queue(sqs, queue_url, messages)
    codepipeline: Any = None
    started: dict[str, str | None] = {}  # token -> execution id
    keep: list[dict[str, Any]] = []
    for message in messages:
        upload = _upload(str(message.get("Body", "")))
        message_id = str(message["MessageId"])
        if isinstance(upload, str):
            result = Redriven(message_id, "skipped", reason=upload)
        elif watched is not None and upload[:2] != watched:
            bucket, key, version = upload
            reason = f"not an upload to s3://{watched[0]}/{watched[1]}, the key the pipeline watches"
            result = Redriven(message_id, "skipped", bucket=bucket, key=key, version_id=version, reason=reason)
        else:
            bucket, key, version = upload
            token = request_token(bucket, key, version)
            common = {"bucket": bucket, "key": key, "version_id": version}
            if token in started:
                result = Redriven(message_id, "duplicate", execution_id=started[token], **common)
            elif dry_run:
                started[token] = None
                result = Redriven(message_id, "would_start", reason=_dead_letter_reason(message), **common)
            else:
                codepipeline = codepipeline or session.client("codepipeline")
                try:
                    with aws_errors(
                        action="codepipeline:StartPipelineExecution", resource=f"the pipeline {pipeline!r}"
                    ):
                        response = codepipeline.start_pipeline_execution(
                            name=pipeline,
                            sourceRevisions=[
                                {
                                    "actionName": source_action,
                                    "revisionType": "S3_OBJECT_VERSION_ID",
                                    "revisionValue": version,
                                }
                            ],
                            clientRequestToken=token,
                        )
                except AwsError as exc:
                    result = Redriven(message_id, "failed", reason=str(exc), **common)
                else:
                    started[token] = str(response.get("pipelineExecutionId") or "") or None
                    result = Redriven(message_id, "started", execution_id=started[token], **common)
        run.messages.append(result)
        if say is not None:
            say(result)
        if result.outcome in {"started", "duplicate"} and not dry_run:
            with aws_errors(action="sqs:DeleteMessage", resource=f"the queue {queue_url}"):
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        else:
            keep.append(message)
    _release(sqs, queue_url, keep)
    return run


def _refuse_a_shared_queue(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Raise ``AwsError``, leaving every message, when the queue holds uploads of several objects and nothing says
    which one the pipeline watches: a foundation's queue, shared by its pipelines, each of which must start only its
    own uploads (another's version would fail its execution, and the message would be lost)."""
    objects = sorted(
        {upload[:2] for message in messages if not isinstance(upload := _upload(str(message.get("Body", ""))), str)}
    )
    if len(objects) <= 1:
        return
    _release(sqs, queue_url, messages)
    shown = ", ".join(f"s3://{bucket}/{key}" for bucket, key in objects[:5]) + (", ..." if len(objects) > 5 else "")
    raise AwsError(
        f"the queue {queue_url} holds uploads of {len(objects)} objects ({shown}): a queue shared by several "
        "pipelines (a foundation's). Pass --stack (and --pipeline) so that only this pipeline's own uploads are "
        "started; nothing was started or deleted."
    )


def _release(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make the messages left in the queue visible again at once, for the next run or a person to inspect."""
    from botocore.exceptions import ClientError

    for start in range(0, len(messages), _BATCH):
        batch = messages[start : start + _BATCH]
        # if this fails, they become visible again when the visibility timeout passes
        with contextlib.suppress(ClientError):
            sqs.change_message_visibility_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": item["ReceiptHandle"], "VisibilityTimeout": 0}
                    for index, item in enumerate(batch)
                ],
            )
