"""The Attest action: signed provenance for the validated artifact, made apart from the package's code.

Validate runs the package's own commands, and anything they do runs with Validate's role: they could rewrite the
artifact, its manifest and the records in ``.validated/``, of this execution or of another one waiting at an
approval. Attest runs next, in its own project with its own role, and runs only the pinned checker: it downloads the
exact source object version again, checks it itself, hashes every file it received and has KMS sign an in-toto
statement (SLSA Provenance v1) naming them, the object version and this execution. Only its role may sign with the
pipeline's signing key; every later stage verifies the signature, the execution and each file before it runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from aws_cdk import CfnResource, Duration
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from .. import _buildspec
from .._build_project import StageConstruct, action_variables, new_build_project
from .._compliance import acknowledge, acknowledge_in_packs, skip_checkov
from .._keys import new_signing_key
from .._names import ATTEST
from ..build_environment import DEFAULT_ENVIRONMENT
from .options import ValidationOptions

_ROTATION_REASON = (
    "An asymmetric signing key cannot rotate automatically (KMS rotates symmetric keys only); it is kept when the "
    "stack is deleted so that provenance it signed stays verifiable."
)


def build_type() -> str:
    """The SLSA buildType of this library's provenance: a URI naming the library and its version."""
    from .. import __version__

    return f"https://pypi.org/project/s3-validated-pipeline/{__version__}/#validated-zip"


class AttestProject(StageConstruct):
    """The Attest action's CodeBuild project and the signing key only its role may sign with.

    Args:
        options: the validate stage's options: the same package check, and the commands and image it records.
        artifact_key: the key of the pipeline's artifact store.
        log_key: the key for the build log group.
        log_retention_days: how long the build logs are kept.
        artifact_buckets: the pipeline's artifact bucket(s), for the acknowledgement of CDK's grants.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        options: ValidationOptions,
        artifact_key: kms.IKey,
        log_key: kms.IKey,
        log_retention_days: int,
        artifact_buckets: Sequence[CfnResource | str] = (),
    ) -> None:
        super().__init__(scope, id)
        self.resources = new_build_project(
            self,
            stage="Attest",
            description="Checks the uploaded package again and signs the provenance of the validated artifact "
            "(s3-validated-pipeline).",
            buildspec=_buildspec.attest_buildspec(
                required_files=options.required_files,
                check_options=options.package_check.arguments(),
                max_package_bytes=options.package_check.max_package_bytes,
            ),
            environment=DEFAULT_ENVIRONMENT,
            timeout=Duration.minutes(15),
            artifact_key=artifact_key,
            log_key=log_key,
            log_retention_days=log_retention_days,
            artifact_buckets=artifact_buckets,
            network=options.build_network,
            variables={
                "S3VP_VALIDATION": json.dumps(
                    {"commands": list(options.commands), "image": options.build_environment.image}
                ),
                "S3VP_BUILD_TYPE": build_type(),
            },
        )
        self.signing_key: kms.Key = new_signing_key(
            self, "SigningKey", signer=self.role, description="Signs the provenance of validated artifacts"
        )
        """The asymmetric key (ECC_NIST_P256) only this project's role may sign with."""
        acknowledge(self.signing_key, "AwsSolutions-KMS5", _ROTATION_REASON)
        acknowledge_in_packs(self.signing_key, "KMSBackingKeyRotationEnabled", _ROTATION_REASON)
        skip_checkov(self.signing_key, "CKV_AWS_7", _ROTATION_REASON)

    def action(
        self, validated: codepipeline.Artifact, attested: codepipeline.Artifact, source: Mapping[str, str]
    ) -> actions.CodeBuildAction:
        """The Attest action: second in the validate stage, on ``validated``, giving ``attested``. ``source`` are
        the source object's variables, as the validate action has them."""
        return actions.CodeBuildAction(
            action_name=ATTEST,
            project=self.project,
            input=validated,
            outputs=[attested],
            run_order=2,
            variables_namespace=ATTEST,
            environment_variables=action_variables(
                {
                    **source,
                    "S3VP_EXECUTION_ID": "#{codepipeline.PipelineExecutionId}",
                    "S3VP_SIGNING_KEY_ARN": self.signing_key.key_arn,
                }
            ),
        )

    def grant_verify(self, grantee: iam.IGrantable) -> None:
        """Let ``grantee`` (a later stage's role) verify signatures and read the public key."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["kms:Verify", "kms:GetPublicKey"],
            resource_arns=[self.signing_key.key_arn],
        )
