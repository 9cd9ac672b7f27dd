"""A Node.js infrastructure package validated on Ubuntu 20.04 with Node.js 16, as its team asked,
tested, deployed to staging, approved, and deployed to production.

Developers zip a CDK (TypeScript) app and upload it as ``source.zip``. Each upload is checked, installed with
``npm ci``, linted and built; its tests run with JUnit reports; it is deployed to staging with ``cdk deploy``,
waits for a manual approval, and is deployed to production, which rolls back if its alarm fires within 30
minutes. Failures, approvals and long executions are announced to the platform team; uploads and artifacts are
audited by CloudTrail. Synthesize with ``cdk synth`` in this folder.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Construct

from s3_validated_pipeline import (
    ApprovalOptions,
    AuditOptions,
    BuildEnvironment,
    DeployTarget,
    NotificationOptions,
    OperationsOptions,
    TestStageOptions,
    ValidatedS3Pipeline,
    ValidationOptions,
)

DEPLOY = ["npx --no-install cdk deploy --all --require-approval never"]


class SeedPipelineStack(cdk.Stack):
    """The validation pipeline for the platform team's infrastructure package."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        # Production's health, as the deployed app reports it; an alarm within 30 minutes rolls production back.
        production_errors = cloudwatch.Alarm(
            self,
            "ProductionErrors",
            metric=cloudwatch.Metric(namespace="SeedApp", metric_name="Errors", statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for pack in ("NIST.800.53.R5", "HIPAA.Security"):
            cdk.Validations.of(production_errors).acknowledge(
                cdk.Acknowledgment(
                    id=f"{pack}-CloudWatchAlarmAction",
                    reason="This alarm gates production: the pipeline's rollback rule reads its state, so it needs "
                    "no notification action of its own.",
                )
            )
        pipeline = ValidatedS3Pipeline(
            self,
            "Pipeline",
            validation=ValidationOptions(
                # Ubuntu 20.04 with Node.js 16, as the team asked: retired, so synthesis warns (cdk synth shows it).
                build_environment=BuildEnvironment.UBUNTU_20_04_NODE_16,
                required_files=["package.json", "package-lock.json", "cdk.json", "tsconfig.json", "bin/*.ts"],
                commands=["npm ci", "npm run lint", "npm run build"],
            ),
            test=TestStageOptions(commands=["npm ci", "npm test -- --ci"], report_files=["reports/junit.xml"]),
            deploy=[
                DeployTarget(name="Staging", commands=DEPLOY),
                DeployTarget(
                    name="Production",
                    commands=DEPLOY,
                    approval=ApprovalOptions(comment="Check the staging environment before production."),
                    alarms=[production_errors],
                ),
            ],
            # Notifications, alarms, the dashboard and execution history are on by default; the team also asks
            # for a CloudTrail audit trail of the uploads and artifacts (data events cost money).
            operations=OperationsOptions(
                notifications=NotificationOptions(emails=["platform-team@example.com"]),
                audit=AuditOptions(trail=True),
            ),
        )
        # Developers assume this role to upload; it may put source.zip and nothing else.
        uploader = iam.Role(self, "Uploader", assumed_by=iam.AccountRootPrincipal())
        pipeline.grant_upload(uploader)  # in a managed policy the pipeline attaches to the role
        # The pipeline outputs its bucket, object key, key ARN, name and upload command itself.
        cdk.CfnOutput(self, "UploaderRoleArn", value=uploader.role_arn)


def build(app: cdk.App) -> cdk.Stack:
    """Add the example's stack to ``app``; tests and the report call this too."""
    return SeedPipelineStack(app, "SeedPipeline", description="Validated S3 pipeline (seed example)")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
