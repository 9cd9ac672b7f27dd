"""Cross-account deployment: a pipeline in a tools account deploys the validated template to staging, then, after
a manual approval, to production, each in its own account.

Developers upload a CDK (TypeScript) app as ``source.zip``. The validate stage installs it and synthesizes it
(``npx cdk synth``), so the validated artifact holds ``cdk.out/App.template.json``; each target deploys that
template through a CloudFormation change set. The pipeline reaches the targets through the roles of
``cdk bootstrap --trust 111111111111`` in each target account. Synthesize with ``cdk synth`` in this folder.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import CfnCapabilities
from aws_cdk import aws_iam as iam
from constructs import Construct

from s3_validated_pipeline import (
    ApprovalOptions,
    BuildEnvironment,
    CloudFormationDeployment,
    DeployTarget,
    ValidatedS3Pipeline,
    ValidationOptions,
)

PIPELINE_ACCOUNT = "111111111111"
STAGING_ACCOUNT = "222222222222"
PRODUCTION_ACCOUNT = "333333333333"
REGION = "eu-west-1"

APP_TEMPLATE = CloudFormationDeployment(
    template_path="cdk.out/App.template.json", stack_name="App", capabilities=[CfnCapabilities.NAMED_IAM]
)


class CrossAccountPipelineStack(cdk.Stack):
    """The pipeline in the tools account; the targets' accounts are bootstrapped to trust it."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        pipeline = ValidatedS3Pipeline(
            self,
            "Pipeline",
            validation=ValidationOptions(
                build_environment=BuildEnvironment.UBUNTU_22_04_NODE_22,
                required_files=["package.json", "package-lock.json", "cdk.json"],
                commands=["npm ci", "npx cdk synth"],
            ),
            deploy=[
                DeployTarget(name="Staging", account=STAGING_ACCOUNT, cloudformation=APP_TEMPLATE),
                DeployTarget(
                    name="Production",
                    account=PRODUCTION_ACCOUNT,
                    cloudformation=APP_TEMPLATE,
                    approval=ApprovalOptions(comment="Check the App stack in the staging account before production."),
                ),
            ],
        )
        # The tools account's developers upload; the pipeline outputs its bucket, key ARN and upload command.
        developers = iam.Role.from_role_name(self, "Developers", "developers")
        pipeline.grant_upload(developers)
        # Only for cdk-nag's packs, which flag any inline policy: the grant adds one to the developers' role.
        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
            cdk.Validations.of(developers).acknowledge(
                cdk.Acknowledgment(
                    id=f"{pack}-IAMNoInlinePolicy",
                    reason="The pipeline's upload grant (put source.zip, nothing else) is attached to this one role.",
                )
            )


def build(app: cdk.App) -> cdk.Stack:
    """Add the example's stack to ``app``; tests and the report call this too."""
    return CrossAccountPipelineStack(
        app,
        "CrossAccountPipeline",
        env=cdk.Environment(account=PIPELINE_ACCOUNT, region=REGION),
        description="Validated S3 pipeline deploying to other accounts (cross-account example)",
    )


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
