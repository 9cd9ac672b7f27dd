"""The smallest use: one statement inside a stack you already have, letting the developers' existing role upload."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from s3_validated_pipeline import SourceBucketOptions, ValidatedS3Pipeline, ValidationOptions


class ExistingStack(cdk.Stack):
    """Stands for a platform team's own stack, which already holds other resources."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        developers = iam.Role.from_role_name(self, "Developers", "developers")  # the role your developers use
        ValidatedS3Pipeline(
            self,
            "Pipeline",
            validation=ValidationOptions(commands=["npm ci", "npm test"]),
            source_bucket_options=SourceBucketOptions(uploaders=[developers]),
        )
        # Only for cdk-nag's packs, which flag any inline policy: the grant adds one to the developers' role.
        for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
            cdk.Validations.of(developers).acknowledge(
                cdk.Acknowledgment(
                    id=f"{pack}-IAMNoInlinePolicy",
                    reason="The pipeline's upload grant (put source.zip, nothing else) is attached to this one role.",
                )
            )


def build(app: cdk.App) -> cdk.Stack:
    """Add the example's stack to ``app``; tests call this too."""
    return ExistingStack(app, "ExistingStack")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
