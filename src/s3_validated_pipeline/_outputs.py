"""The stack outputs of a pipeline: what an uploader needs, defined on the pipeline construct (unique per pipeline)."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from aws_cdk import CfnOutput

from .errors import unresolved

if TYPE_CHECKING:
    from .pipeline import ValidatedS3Pipeline


def add_outputs(pipeline: ValidatedS3Pipeline) -> None:
    """Stack outputs with what an uploader needs, defined on ``pipeline`` (their ids are part of the contract)."""
    bucket, key = pipeline.source_bucket.bucket_name, pipeline.object_key
    quoted = key if unresolved(key) else shlex.quote(key)
    command = f"aws s3 cp package.zip s3://{bucket}/{quoted}"
    CfnOutput(pipeline, "SourceBucketName", value=bucket, description="The bucket developers upload packages to.")
    CfnOutput(pipeline, "ObjectKey", value=key, description="The key to upload to; each upload starts one execution.")
    if pipeline.source_key is not None:
        CfnOutput(pipeline, "SourceKeyArn", value=pipeline.source_key.key_arn, description="The key uploads must use.")
        command += f" --sse aws:kms --sse-kms-key-id {pipeline.source_key.key_arn}"
    CfnOutput(pipeline, "PipelineName", value=pipeline.pipeline.pipeline_name, description="The validating pipeline.")
    signing_key = pipeline.attest.signing_key.key_arn
    CfnOutput(pipeline, "SigningKeyArn", value=signing_key, description="The key Attest signs provenance with.")
    CfnOutput(
        pipeline,
        "DeadLetterQueueUrl",
        value=pipeline.trigger.dead_letter_queue.queue_url,
        description="Where an upload that could not start the pipeline waits; s3vp redrive starts it again.",
    )
    CfnOutput(
        pipeline,
        "UploadCommand",
        value=f"{command} --checksum-algorithm SHA256",
        description="Uploads package.zip, encrypted with the source bucket's key, to be validated.",
    )
