"""How the library records what a compliance rule reports but cannot be fixed, next to the construct that causes it.

Every acknowledgement names one finding (a cdk-nag finding id such as ``AwsSolutions-IAM5[Action::s3:List*]``, or a
checkov check on one resource) and says why it is safe. SECURITY.md lists them all; a test keeps it in step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

# What CDK's own grants (bucket read/write, key encrypt/decrypt) put into the roles CodePipeline and CodeBuild
# use. Each wildcard is scoped by its statement to one bucket or one key of this construct.
CDK_GRANT_WILDCARDS: Mapping[str, str] = {
    "Action::s3:GetObject*": "CDK's bucket read grant: GetObject and GetObjectVersion (plus their ACL, tagging "
    "and attribute reads) on the objects of one pipeline bucket only.",
    "Action::s3:GetBucket*": "CDK's bucket read grant: GetBucketLocation and similar metadata reads on one "
    "pipeline bucket only, which CodePipeline needs to locate artifacts.",
    "Action::s3:List*": "CDK's bucket read grant: ListBucket and ListBucketVersions on one pipeline bucket only.",
    "Action::s3:DeleteObject*": "CDK's artifact write grant: replacing or removing artifacts in the pipeline's "
    "own artifact bucket only; the source bucket is never writable this way.",
    "Action::s3:Abort*": "CDK's artifact write grant: AbortMultipartUpload for the role's own unfinished "
    "uploads to the pipeline's artifact bucket only.",
    "Action::kms:ReEncrypt*": "CDK's key grant: ReEncryptFrom/To on one customer managed key of this pipeline, "
    "needed to read and write KMS-encrypted artifacts.",
    "Action::kms:GenerateDataKey*": "CDK's key grant: GenerateDataKey and GenerateDataKeyWithoutPlaintext on one "
    "customer managed key of this pipeline, needed to write encrypted objects.",
}


CONTROL_PACKS = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
"""The cdk-nag packs that share rule names (their findings are ``<pack>-<rule>``)."""


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one cdk-nag finding on ``scope`` and everything below it."""
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))


def acknowledge_in_packs(scope: IConstruct, rule: str, reason: str, packs: Sequence[str] = CONTROL_PACKS) -> None:
    """Acknowledge ``rule`` as each of ``packs`` names it, e.g. ``NIST.800.53.R5-S3BucketReplicationEnabled``."""
    for pack in packs:
        acknowledge(scope, f"{pack}-{rule}", reason)


def acknowledge_role_policies(scope: IConstruct) -> None:
    """Acknowledge that the roles under ``scope`` hold their grants in a policy of their own."""
    acknowledge_in_packs(
        scope,
        "IAMNoInlinePolicy",
        "CDK puts a role's grants in an AWS::IAM::Policy attached to that one role only, created and deleted "
        "with it; no other identity can be given it, which is what the rule guards against.",
    )


def acknowledge_cdk_grants(scope: IConstruct, *, objects_of: Sequence[CfnResource | str] = ()) -> None:
    """Acknowledge the wildcards of CDK's grants under ``scope``, including ``<bucket>/*`` of ``objects_of``.

    A bucket of ``scope``'s stack is given as its resource; one imported from another stack as its ARN's text in
    cdk-nag's findings: the name of the export it is imported from.
    """
    acknowledge_role_policies(scope)
    for finding, reason in CDK_GRANT_WILDCARDS.items():
        acknowledge(scope, f"AwsSolutions-IAM5[{finding}]", reason)
    for bucket in objects_of:
        acknowledge(
            scope,
            f"AwsSolutions-IAM5[Resource::{nag_arn(bucket)}/*]",
            "CDK's grant on the objects of one pipeline bucket: artifacts have generated names, so the grant "
            "covers the bucket's objects and nothing outside it.",
        )


def nag_arn(bucket: CfnResource | str) -> str:
    """A bucket's ARN as cdk-nag's findings print it: ``<LogicalId.Arn>`` for a bucket of the same stack; for one
    imported from another stack, given as its export's name, that name."""
    return bucket if isinstance(bucket, str) else f"<{Stack.of(bucket).get_logical_id(bucket)}.Arn>"


def skip_checkov(resource: IConstruct, check: str, comment: str) -> None:
    """Record in the resource's CloudFormation metadata that checkov ``check`` does not apply, and why."""
    cfn = cast(CfnResource, resource.node.default_child if not isinstance(resource, CfnResource) else resource)
    metadata = cfn.get_metadata("checkov") or {"skip": []}
    metadata["skip"].append({"id": check, "comment": comment})
    cfn.add_metadata("checkov", metadata)


def principal_arns(grantee: iam.IGrantable) -> list[str]:
    """Return the IAM ARNs (possibly tokens) of ``grantee``'s principal; empty for service principals."""
    if not hasattr(grantee, "grant_principal"):
        return []
    found = grantee.grant_principal.policy_fragment.principal_json.get("AWS", [])
    return list(found) if isinstance(found, list) else [found]
