"""A platform team's fleet: 24 team pipelines on one foundation, watching one bucket, in as many stacks as they need.

Each team uploads to ``teams/<team>/source.zip`` with its own role, which may upload that key and no other; each
pipeline's roles reach only its own artifacts. The foundation (keys, buckets, topic, history, dashboard) is defined
once, in a stack of its own; the pipelines go eight to a stack, well below CloudFormation's 500 resources.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from s3_validated_pipeline import (
    BuildEnvironment,
    NotificationOptions,
    OperationsOptions,
    PipelineFoundation,
    TestStageOptions,
    ValidatedS3Pipeline,
    ValidationOptions,
)

TEAMS = [f"team{number:02d}" for number in range(1, 25)]
PIPELINES_PER_STACK = 8


class FoundationStack(cdk.Stack):
    """What every team's pipeline shares."""

    def __init__(self, scope: Construct, id: str, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.foundation = PipelineFoundation(
            self,
            "Foundation",
            name_prefix="fleet",
            operations=OperationsOptions(notifications=NotificationOptions(emails=["platform@example.com"])),
        )


class TeamsStack(cdk.Stack):
    """A batch of teams' pipelines on the shared foundation."""

    def __init__(
        self, scope: Construct, id: str, *, foundation: PipelineFoundation, teams: list[str], **kwargs: object
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        for team in teams:
            pipeline = ValidatedS3Pipeline(
                self,
                team,
                foundation=foundation,
                object_key=f"teams/{team}/source.zip",
                validation=ValidationOptions(
                    commands=["npm ci", "npm run build"], build_environment=BuildEnvironment.UBUNTU_22_04_NODE_22
                ),
                test=TestStageOptions(commands=["npm ci", "npm test"]),
            )
            # Each team's own role, imported by name: it may upload its key, and no other.
            uploader = iam.Role.from_role_name(self, f"{team}Uploader", f"{team}-developers")
            pipeline.grant_upload(uploader)
            # Only for cdk-nag's packs, which flag any inline policy: the grant adds one to the team's role.
            for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
                cdk.Validations.of(uploader).acknowledge(
                    cdk.Acknowledgment(
                        id=f"{pack}-IAMNoInlinePolicy",
                        reason=f"The pipeline's upload grant (put teams/{team}/source.zip, nothing else) is attached "
                        "to this one role.",
                    )
                )


def build(app: cdk.App) -> list[cdk.Stack]:
    """Add the example's stacks to ``app``; tests call this too."""
    shared = FoundationStack(app, "FleetFoundation")
    stacks: list[cdk.Stack] = [shared]
    for start in range(0, len(TEAMS), PIPELINES_PER_STACK):
        batch = TEAMS[start : start + PIPELINES_PER_STACK]
        stacks.append(
            TeamsStack(app, f"FleetTeams{start // PIPELINES_PER_STACK + 1}", foundation=shared.foundation, teams=batch)
        )
    return stacks


if __name__ == "__main__":
    app = cdk.App()
    build(app)
    app.synth()
