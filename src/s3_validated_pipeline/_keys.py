"""Customer managed KMS keys, one per kind of data, rotated yearly."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# Spelled out instead of CDK's default "kms:*" for the account, so that no statement in our templates allows a
# whole service. The use actions let this account's IAM policies (CDK's grants) take effect.
_ADMIN_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:Create*",
    "kms:Delete*",
    "kms:Describe*",
    "kms:Disable*",
    "kms:Enable*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Revoke*",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:Update*",
]
_USE_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]


def new_key(scope: Construct, id: str, *, description: str) -> kms.Key:
    """Define a rotated key that is kept when the stack is deleted, so data it encrypted stays readable."""
    account = iam.AccountRootPrincipal()
    return kms.Key(
        scope,
        id,
        description=description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.RETAIN,
        policy=iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(sid="Administer", principals=[account], actions=_ADMIN_ACTIONS, resources=["*"]),
                iam.PolicyStatement(sid="UseByIamPolicy", principals=[account], actions=_USE_ACTIONS, resources=["*"]),
            ]
        ),
    )


def new_log_key(scope: Construct, id: str, *, description: str) -> kms.Key:
    """Define a key CloudWatch Logs may use, for log groups of this account and region only."""
    key = new_key(scope, id, description=description)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                }
            },
        )
    )
    return key


SIGNING_ALGORITHM = "ECDSA_SHA_256"
"""How the provenance is signed: ECDSA on NIST P-256 over a SHA-256 digest (the DSSE encoding's)."""


def new_signing_key(scope: Construct, id: str, *, signer: iam.IRole, description: str) -> kms.Key:
    """Define an asymmetric key that ``signer`` alone may sign with.

    The account keeps administering the key and may let its principals verify and read the public key through IAM
    policies, but ``kms:Sign`` is granted to ``signer`` in the key policy only: no IAM policy in the account, however
    broad, can sign. Nor can it create a grant (``kms:CreateGrant``), which would let any principal sign without a
    change to the key policy; changing the key policy remains administration, and is seen. Asymmetric keys cannot
    rotate; the key is kept when the stack is deleted, so old provenance stays verifiable.
    """
    account = iam.AccountRootPrincipal()
    administer = [action if action != "kms:Create*" else "kms:CreateAlias" for action in _ADMIN_ACTIONS]
    return kms.Key(
        scope,
        id,
        description=description,
        key_spec=kms.KeySpec.ECC_NIST_P256,
        key_usage=kms.KeyUsage.SIGN_VERIFY,
        removal_policy=RemovalPolicy.RETAIN,
        policy=iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(sid="Administer", principals=[account], actions=administer, resources=["*"]),
                iam.PolicyStatement(
                    sid="VerifyByIamPolicy",
                    principals=[account],
                    actions=["kms:DescribeKey", "kms:GetPublicKey", "kms:Verify"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="SignByAttestOnly",
                    principals=[iam.ArnPrincipal(signer.role_arn)],
                    actions=["kms:Sign"],
                    resources=["*"],
                    conditions={
                        "StringEquals": {"kms:SigningAlgorithm": SIGNING_ALGORITHM, "kms:MessageType": "DIGEST"}
                    },
                ),
            ]
        ),
    )
