"""The design document's system: a Node.js infrastructure package validated on Ubuntu 20.04 with Node.js 16.

Developers zip a CDK (TypeScript) app and upload it as ``source.zip``; each upload is checked for the files a
Node.js project needs, installed with ``npm ci``, linted and built. Synthesize with ``cdk synth`` in this folder.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from s3_validated_pipeline import BuildEnvironment, ValidatedS3Pipeline, ValidationOptions


class SeedPipelineStack(cdk.Stack):
    """The validation pipeline for the platform team's infrastructure package."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        pipeline = ValidatedS3Pipeline(
            self,
            "Pipeline",
            validation=ValidationOptions(
                # The design document's environment; BuildEnvironment.UBUNTU_22_04_NODE_22 is maintained.
                build_environment=BuildEnvironment.UBUNTU_20_04_NODE_16,
                required_files=["package.json", "package-lock.json", "cdk.json", "tsconfig.json", "bin/*.ts"],
                commands=["npm ci", "npm run lint", "npm run build"],
            ),
        )
        # Developers assume this role to upload; it may put source.zip and nothing else.
        uploader = iam.Role(self, "Uploader", assumed_by=iam.AccountRootPrincipal())
        pipeline.grant_upload(uploader)
        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
            cdk.Validations.of(uploader).acknowledge(
                cdk.Acknowledgment(
                    id=f"{pack}-IAMNoInlinePolicy",
                    reason="The uploader's only permission, to put source.zip, is attached to this one role.",
                )
            )
        cdk.CfnOutput(self, "UploaderRoleArn", value=uploader.role_arn)
        cdk.CfnOutput(self, "SourceBucketName", value=pipeline.source_bucket.bucket_name)
        assert pipeline.source_key is not None  # the construct created the bucket, so it holds the key
        cdk.CfnOutput(self, "SourceKeyArn", value=pipeline.source_key.key_arn)
        cdk.CfnOutput(self, "PipelineName", value=pipeline.pipeline.pipeline_name)


def build(app: cdk.App) -> cdk.Stack:
    """Add the example's stack to ``app``; tests and the report call this too."""
    return SeedPipelineStack(app, "SeedPipeline", description="Validated S3 pipeline (seed example)")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
