"""The smallest use: one statement inside a stack you already have."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from s3_validated_pipeline import ValidatedS3Pipeline, ValidationOptions


class ExistingStack(cdk.Stack):
    """Stands for a platform team's own stack, which already holds other resources."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        ValidatedS3Pipeline(self, "Pipeline", validation=ValidationOptions(commands=["npm ci", "npm test"]))


def build(app: cdk.App) -> cdk.Stack:
    """Add the example's stack to ``app``; tests call this too."""
    return ExistingStack(app, "ExistingStack")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
