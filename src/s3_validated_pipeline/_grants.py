"""Grants to the user's own principals (uploaders, approvers): in a customer managed policy, never an inline one.

CDK puts a grant into the grantee's default policy, an ``AWS::IAM::Policy``: on a role the user defined in the app,
that is an inline policy cdk-nag's NIST, HIPAA and PCI packs report on the user's role (``IAMNoInlinePolicy``), which
the library cannot acknowledge for them. ``managed_grantee`` sends the same statements into one customer managed
policy per role or user, created beside it (in its stack) and attached to it.
"""

from __future__ import annotations

import jsii
from aws_cdk import aws_iam as iam

GRANTS_POLICY_ID = "ValidatedS3PipelineGrants"
"""The id of the managed policy below the grantee's construct; one per role or user, shared by every grant."""


@jsii.implements(iam.IPrincipal)
class _ThroughManagedPolicy:
    """``principal`` as grants see it, whose statements go into ``policy`` (attached to it) instead of its default
    policy; it is the principal in every other respect (account, policy fragment), so resource policies still name
    the real role or user."""

    def __init__(self, principal: iam.IPrincipal, policy: iam.ManagedPolicy) -> None:
        self._principal = principal
        self._policy = policy

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self

    @property
    def assume_role_action(self) -> str:
        return self._principal.assume_role_action

    @property
    def policy_fragment(self) -> iam.PrincipalPolicyFragment:
        return self._principal.policy_fragment

    @property
    def principal_account(self) -> str | None:
        return self._principal.principal_account

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        # The policy is the dependable: its resource holds the attachment, so what waits for it waits for the grant.
        self._policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._policy)


def managed_grantee(grantee: iam.IGrantable) -> iam.IGrantable:
    """Return what to grant to instead of ``grantee``: for an ``iam.Role`` or ``iam.User`` defined in the app, its
    stand-in whose grants land in the customer managed policy ``ValidatedS3PipelineGrants`` attached to it (created
    on first use); for anything else (an imported role, whose policies are its owner's), ``grantee`` itself."""
    if not isinstance(grantee, (iam.Role, iam.User)):
        return grantee
    policy = grantee.node.try_find_child(GRANTS_POLICY_ID)
    if not isinstance(policy, iam.ManagedPolicy):
        policy = iam.ManagedPolicy(
            grantee,
            GRANTS_POLICY_ID,
            description="What s3-validated-pipeline granted this principal: uploads of watched objects, approvals",
            roles=[grantee] if isinstance(grantee, iam.Role) else None,
            users=[grantee] if isinstance(grantee, iam.User) else None,
        )
    return _ThroughManagedPolicy(grantee.grant_principal, policy)
