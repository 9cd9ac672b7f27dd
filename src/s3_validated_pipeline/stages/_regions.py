"""What a pipeline needs in each other Region a deploy target is in: an artifact store (bucket and key) that
CodePipeline replicates the attested artifact to, a key for build logs, and the CodeBuild projects that verify and
deploy there, all in one stack of that Region (``<pipeline stack name>-support-<region>``).

Every action in another Region verifies the manifest and the signed provenance from its own copy of the artifact,
the bytes it then deploys: verification is never done in one Region for bytes read again in another.

The pipeline's stack reaches these resources by their physical names only (a bucket name CDK generates, a key alias,
a project and a role named here): CloudFormation cannot export values across Regions.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import CfnResource, Environment, Names, PhysicalName, RemovalPolicy, Stack, Stage
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from .._buckets import new_access_log_bucket, new_artifact_bucket
from .._build_project import StageResources
from .._compliance import acknowledge, acknowledge_cdk_grants, acknowledge_role_policies
from .._keys import new_key, new_log_key
from .._scale_limits import check_scale_limits

ARTIFACT_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
"""What CodePipeline does with a Region's artifact key when it replicates an artifact there."""


def region_stack(pipeline: Construct, region: str) -> Stack:
    """The stack of ``region`` for the pipeline's stack: in the same account, beside it in its app (or stage)."""
    home = Stack.of(pipeline)
    scope = Stage.of(home)
    assert scope is not None, "a stack is always in an app or a stage"
    id = f"{home.stack_name}-support-{region}"
    found = scope.node.try_find_child(id)
    if isinstance(found, Stack):
        return found
    return Stack(
        scope,
        id,
        env=Environment(account=home.account, region=region),
        description=f"Artifact store and deployment projects in {region} of the pipelines of {home.stack_name} "
        "(s3-validated-pipeline)",
    )


class RegionStore(Construct):
    """One pipeline's artifact store, artifact key and log key in another Region, in that Region's stack.

    Costs, like the pipeline's own: a customer managed key for artifacts and one for logs (about $1 a month each),
    the bucket's storage of replicated artifacts, and an access log bucket.
    """

    def __init__(self, scope: Construct, id: str, *, region: str, retention_days: int) -> None:
        super().__init__(scope, id)
        check_scale_limits(self)
        self.region = region
        """The Region of this store."""
        self.artifact_key: kms.Key = new_key(
            self, "ArtifactKey", description=f"Encrypts pipeline artifacts in {region}"
        )
        """Encrypts the artifacts replicated to this Region."""
        self.alias_name = "alias/" + Names.unique_resource_name(
            self.artifact_key, max_length=200, separator="-", allowed_special_characters="_-"
        )
        """The artifact key's alias: how the pipeline's stack names the key (its id is only known once created)."""
        alias = kms.Alias(self, "ArtifactKeyAlias", alias_name=self.alias_name, target_key=self.artifact_key)
        self.log_key: kms.Key = new_log_key(self, "LogKey", description=f"Encrypts build logs in {region}")
        """Encrypts the log groups of the builds in this Region."""
        access_logs = new_access_log_bucket(self, "AccessLogs", removal_policy=RemovalPolicy.RETAIN)
        self.bucket: s3.Bucket = new_artifact_bucket(
            self,
            "Artifacts",
            # The key by its alias's ARN, which the pipeline's stack can name; its grants are made here explicitly.
            key=kms.Alias.from_alias_name(self, "ArtifactKeyByAlias", self.alias_name),
            access_log_bucket=access_logs,
            retention_days=retention_days,
            bucket_name=PhysicalName.GENERATE_IF_NEEDED,
        )
        """The artifact store CodePipeline replicates artifacts to in this Region."""
        self.bucket.node.add_dependency(alias)

    @property
    def bucket_resource(self) -> CfnResource:
        """The bucket's resource, for the acknowledgement of CDK's grants on its objects."""
        return cast(CfnResource, self.bucket.node.default_child)

    def key_arns(self) -> str:
        """Every key of this Region and account, as an IAM resource: narrowed to the artifact key by its alias."""
        stack = Stack.of(self)
        return f"arn:{partition(self.region)}:kms:{self.region}:{stack.account}:key/*"

    def grant_artifacts(self, pipeline_role: iam.IRole) -> None:
        """Let the pipeline's role use this store's key, named by its alias (CDK's own grant would be on every key).

        CDK grants the role the bucket itself when the pipeline is given the store.
        """
        pipeline_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=ARTIFACT_KEY_ACTIONS,
                resources=[self.key_arns()],
                conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": self.alias_name}},
            )
        )
        # The bucket by the name CDK generates for it, as cdk-nag prints the ARN CDK's grant joins from it.
        name = Stack.of(pipeline_role).resolve(self.bucket.bucket_name)
        acknowledge_cdk_grants(pipeline_role, objects_of=[f"arn:<AWS::Partition>:s3:::{name}"])
        acknowledge(
            pipeline_role,
            f"AwsSolutions-IAM5[Resource::{self.key_arns()}]",
            f"The artifact key in {self.region} is named by its alias (condition kms:ResourceAliases): its ARN "
            "lives in another Region's stack, which CloudFormation cannot reference.",
        )


def partition(region: str) -> str:
    """The partition of a known Region."""
    return RegionInfo.get(region).partition or "aws"


def reachable(home: Construct, id: str, project: StageResources, region: str) -> tuple[codebuild.IProject, iam.IRole]:
    """``project`` and its role (in ``region``'s stack) as the pipeline's stack (``home``) refers to them: imported
    by the physical names given them here."""
    stack = Stack.of(project.project)
    cfn_project = cast(codebuild.CfnProject, project.project.node.default_child)
    name = Names.unique_resource_name(cfn_project, max_length=150, separator="-", allowed_special_characters="_-")
    cfn_project.name = name
    cfn_role = cast(iam.CfnRole, project.role.node.default_child)
    role_name = Names.unique_resource_name(cfn_role, max_length=64, separator="-", allowed_special_characters="_-")
    cfn_role.role_name = role_name
    arn = f"arn:{partition(region)}:codebuild:{region}:{stack.account}:project/{name}"
    imported_project = codebuild.Project.from_project_arn(home, f"{id}Project", arn)
    imported_role = iam.Role.from_role_name(home, f"{id}Role", role_name)
    # What the pipeline's stack grants the role (verifying with its signing key) is a policy attached to it alone.
    acknowledge_role_policies(imported_role)
    return imported_project, imported_role


def region_stores(pipeline: Construct, regions: list[str], retention_days: int) -> dict[str, RegionStore]:
    """The pipeline's store in each of ``regions``, in that Region's stack, named after the pipeline's path there."""
    id = pipeline.node.path[len(Stack.of(pipeline).node.path) + 1 :].replace("/", "-")
    return {
        region: RegionStore(region_stack(pipeline, region), id, region=region, retention_days=retention_days)
        for region in regions
    }


def artifact_stores(home: s3.IBucket, stores: dict[str, RegionStore], region: str) -> dict[str, object]:
    """The ``codepipeline.Pipeline`` settings of its artifact stores: ``home`` alone, or one bucket per Region."""
    if not stores:
        return {"artifact_bucket": home}
    return {"cross_region_replication_buckets": {region: home, **{r: s.bucket for r, s in stores.items()}}}
