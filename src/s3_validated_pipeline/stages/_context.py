"""What every stage after validation is built from: the pipeline's parts a stage needs, passed explicitly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import cast

from aws_cdk import CfnResource, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from .._build_project import StageResources, action_variables
from .._names import ATTESTED, VALIDATED
from ..build_network import BuildNetwork
from ..validate.attest import AttestProject
from ._regions import RegionStore, reachable


@dataclass(frozen=True)
class StageContext:
    """The parts of a ``ValidatedS3Pipeline`` that the stages after validation are built from."""

    scope: Construct
    """Where the stages' constructs are defined (the pipeline construct: their ids are part of the contract)."""
    pipeline: codepipeline.Pipeline
    validated_artifact: codepipeline.Artifact
    artifact_bucket: s3.IBucket
    artifact_key: kms.IKey
    log_key: kms.IKey
    log_retention_days: int
    artifact_buckets: Sequence[CfnResource | str]
    """The artifact bucket's resource, for the acknowledgement of CDK's grants on its objects."""
    source_version: str
    """The uploaded object version an execution runs on, as a CodePipeline variable (``#{SourceVariables...}``)."""
    attest: AttestProject
    """Signs the validated artifact's provenance; every later stage verifies it."""
    stores: Mapping[str, RegionStore]
    """The pipeline's artifact stores in other Regions, by Region."""
    home: Construct
    """The pipeline construct, where the pipeline's stack refers to what is built in another Region."""
    build_network: BuildNetwork | None = None
    """Where the stages' builds run unless their options name a network of their own."""
    store: RegionStore | None = None
    """The other Region's store this context builds in (``scope`` is then in that Region's stack); None at home."""

    def in_region(self, region: str | None) -> StageContext:
        """The context for stages whose projects run in ``region`` (None: the pipeline's Region)."""
        store = self.stores.get(region) if region is not None else None
        if store is None:
            return self
        return replace(
            self,
            scope=store,
            artifact_bucket=store.bucket,
            artifact_key=store.artifact_key,
            log_key=store.log_key,
            artifact_buckets=[store.bucket_resource],
            store=store,
        )

    @property
    def signing_key_region(self) -> str | None:
        """The signing key's Region, for projects built in another one; None at home."""
        return None if self.store is None else Stack.of(self.home).region

    def verified_action(
        self,
        action_name: str,
        project: StageResources,
        *,
        outputs: Sequence[codepipeline.Artifact] = (),
        variables: Mapping[str, str] | None = None,
        namespace: str | None = None,
        run_order: int = 1,
    ) -> actions.CodeBuildAction:
        """A CodeBuild action on the attested artifact; its project (whose buildspec verifies the provenance, see
        ``_buildspec.verify_provenance``) may verify signatures with the pipeline's key and learns its execution.

        In another Region, the action runs there, on the copy CodePipeline replicated to that Region's store.
        """
        built, verifier = self._reachable(project)
        self.attest.grant_verify(verifier)
        # CodeBuild uploads a project's output with its role, and CDK's grant covers the whole artifact store; the
        # package's code runs in these builds while, in QUEUED mode, a later execution is between its Validate and
        # its Attest: it must not replace that execution's Validated artifact (Attest would sign it) or any Attested
        # one. CodePipeline keeps an artifact at <pipeline name>/<artifact name>/<id>.
        project.role.add_to_principal_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                actions=["s3:PutObject*", "s3:DeleteObject*", "s3:AbortMultipartUpload"],
                resources=[self.artifact_bucket.arn_for_objects(f"*/{name}/*") for name in (VALIDATED, ATTESTED)],
            )
        )
        settings = {
            "S3VP_EXECUTION_ID": "#{codepipeline.PipelineExecutionId}",
            "S3VP_SIGNING_KEY_ARN": self.attest.signing_key.key_arn,
            **(variables or {}),
        }
        return actions.CodeBuildAction(
            action_name=action_name,
            project=built,
            input=self.validated_artifact,
            outputs=list(outputs),
            environment_variables=action_variables(settings),
            variables_namespace=namespace,
            run_order=run_order,
        )

    def _reachable(self, project: StageResources) -> tuple[codebuild.IProject, iam.IRole]:
        """The project and the role to grant verification to, as the pipeline's stack refers to them."""
        if self.store is None:
            return project.project, project.role
        id = project.project.node.scope.node.id if project.project.node.scope else project.project.node.id
        found = self.home.node.try_find_child(f"{id}Project")
        if found is not None:
            return cast(codebuild.IProject, found), cast(iam.IRole, self.home.node.find_child(f"{id}Role"))
        # CodeBuildAction grants a project it cannot see (imported) nothing on the store: grant the copy here.
        self.artifact_bucket.grant_read(project.role)
        return reachable(self.home, id, project, self.store.region)


def retry_failed_actions() -> codepipeline.FailureConditions:
    """On failure, retry the stage's failed actions once (CodePipeline's automatic retry)."""
    return codepipeline.FailureConditions(
        result=codepipeline.Result.RETRY, retry_mode=codepipeline.RetryMode.FAILED_ACTIONS
    )
