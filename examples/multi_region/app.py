"""Several Regions at once: a pipeline in us-east-1 deploys the validated package to staging, then, after one
approval, to production in two Regions in parallel (a wave).

Developers upload a CDK (TypeScript) app as ``source.zip``. The validate stage installs it and synthesizes it
(``npx cdk synth``). Staging and ProdUS deploy it with ``cdk deploy`` in us-east-1; ProdEU deploys the synthesized
template through a CloudFormation change set in eu-west-1, where the pipeline keeps a second artifact store (the
stack ``MultiRegionPipeline-support-eu-west-1``, deployed before the pipeline's). Bootstrap both Regions of the
account (``cdk bootstrap aws://111111111111/us-east-1 aws://111111111111/eu-west-1``), then ``cdk deploy --all``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import CfnCapabilities
from aws_cdk import aws_iam as iam
from constructs import Construct

from s3_validated_pipeline import (
    ApprovalOptions,
    CloudFormationDeployment,
    DeployTarget,
    DeployWave,
    SourceBucketOptions,
    ValidatedS3Pipeline,
    ValidationOptions,
)

ACCOUNT = "111111111111"
PIPELINE_REGION = "us-east-1"
CDK_DEPLOY = "npx --no-install cdk deploy --all --require-approval never"


class MultiRegionPipelineStack(cdk.Stack):
    """The pipeline, in us-east-1; its store in eu-west-1 is in a stack of its own that it makes."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        developers = iam.Role.from_role_name(self, "Developers", "developers")
        self.pipeline = ValidatedS3Pipeline(
            self,
            "Pipeline",
            validation=ValidationOptions(
                required_files=["package.json", "package-lock.json", "cdk.json"],
                commands=["npm ci", "npx cdk synth"],
            ),
            source_bucket_options=SourceBucketOptions(uploaders=[developers]),
            deploy=[
                DeployTarget(name="Staging", commands=[f"{CDK_DEPLOY} --context stage=staging"]),
                DeployWave(
                    name="Production",
                    approval=ApprovalOptions(comment="Check staging before both production Regions."),
                    targets=[
                        DeployTarget(name="ProdUS", commands=[f"{CDK_DEPLOY} --context stage=production"]),
                        DeployTarget(
                            name="ProdEU",
                            region="eu-west-1",
                            cloudformation=CloudFormationDeployment(
                                template_path="cdk.out/App.template.json",
                                stack_name="App",
                                capabilities=[CfnCapabilities.NAMED_IAM],
                            ),
                        ),
                    ],
                ),
            ],
        )
        # Only for cdk-nag's packs, which flag any inline policy: the grant adds one to the developers' role.
        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
            cdk.Validations.of(developers).acknowledge(
                cdk.Acknowledgment(
                    id=f"{pack}-IAMNoInlinePolicy",
                    reason="The pipeline's upload grant (put source.zip, nothing else) is attached to this one role.",
                )
            )


def build(app: cdk.App) -> list[cdk.Stack]:
    """Add the example's stacks to ``app``: the pipeline's, then the one it makes in each other Region."""
    stack = MultiRegionPipelineStack(
        app,
        "MultiRegionPipeline",
        env=cdk.Environment(account=ACCOUNT, region=PIPELINE_REGION),
        description="Validated S3 pipeline deploying to two Regions in a wave (multi-Region example)",
    )
    return [stack, *(store.node.scope for store in stack.pipeline.region_stores.values())]  # type: ignore[list-item]


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
