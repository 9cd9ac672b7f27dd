"""Builds in a VPC: every build runs in the isolated subnets of an existing VPC, with no NAT gateway, reaching AWS and
the package mirror through VPC endpoints (docs/options.md, "Builds in a VPC", lists them). The test stage runs in a
security group of its own, which lets it reach a test database."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from s3_validated_pipeline import (
    BuildNetwork,
    SourceBucketOptions,
    TestStageOptions,
    ValidatedS3Pipeline,
    ValidationOptions,
)

VPC_ID = "vpc-0a1b2c3d4e5f60718"
ISOLATED_SUBNET_IDS = ["subnet-0a1b2c3d4e5f60718", "subnet-0b2c3d4e5f6071829"]
TEST_DATABASE_CLIENTS = "sg-0c3d4e5f60718293a"


class VpcBuildsStack(cdk.Stack):
    """A pipeline whose builds run in the network team's VPC."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        # The network team's VPC, endpoints included; a real app would find it with ec2.Vpc.from_lookup.
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "BuildVpc",
            vpc_id=VPC_ID,
            availability_zones=["eu-west-1a", "eu-west-1b"],
            isolated_subnet_ids=ISOLATED_SUBNET_IDS,
        )
        developers = iam.Role.from_role_name(self, "Developers", "developers")
        ValidatedS3Pipeline(
            self,
            "Pipeline",
            validation=ValidationOptions(commands=["npm ci", "npm test"]),
            test=TestStageOptions(
                commands=["npm run integration-test"],
                # The tests reach the test database: its clients' group instead of the pipeline's own.
                build_network=BuildNetwork(
                    vpc=vpc,
                    security_groups=[
                        ec2.SecurityGroup.from_security_group_id(
                            self, "TestDatabaseClients", TEST_DATABASE_CLIENTS, allow_all_outbound=False
                        )
                    ],
                ),
            ),
            source_bucket_options=SourceBucketOptions(uploaders=[developers]),
            build_network=BuildNetwork(vpc=vpc),
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
    return VpcBuildsStack(app, "VpcBuilds", description="Validated S3 pipeline whose builds run in a VPC")


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
