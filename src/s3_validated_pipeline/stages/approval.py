"""Manual approvals in front of a deployment, announced on an encrypted topic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .._grants import managed_grantee
from .._inputs import email_problems, looks_like
from .._resources import encrypted_dead_letter_queue, encrypted_topic
from ..errors import Problem, unresolved, wrong_type
from ._context import StageContext

MAX_COMMENT = 150
"""The longest comment an approval takes: CodePipeline's message holds 500 characters, and the facts follow it."""
APPROVAL_TOPIC_ID = "ApprovalTopic"
"""The id of the pipeline's one approval topic, below the pipeline construct."""
APPROVAL_DEAD_LETTERS_ID = "ApprovalDeadLetterQueue"
"""The id of the queue of undeliverable approval emails, below the pipeline construct."""


@dataclass(frozen=True, kw_only=True)
class ApprovalOptions:
    """A manual approval in front of a deployment. CodePipeline rejects an approval left open for 7 days.

    Args:
        topic: where approval requests are announced. Default: a new topic encrypted with the operations key.
        notify_emails: addresses subscribed to the created topic. Default: none.
        review_url: a link reviewers open, e.g. the staging environment. Default: none.
        comment: what reviewers should check. Default: a sentence naming the environment.
        approvers: the roles or users who may approve or reject this approval, and see the pipeline's state to do
            so: ``codepipeline:PutApprovalResult`` on this one action. Anyone else's own IAM policies still decide
            for them: keep broad ``codepipeline:*`` policies away (docs/stages.md). Default: none.
    """

    topic: sns.ITopic | None = None
    notify_emails: Sequence[str] = ()
    review_url: str | None = None
    comment: str | None = None
    approvers: Sequence[iam.IGrantable] = ()

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with these options, naming them as ``argument``."""
        found = email_problems(f"{argument}.notify_emails", self.notify_emails)
        if self.topic is not None and not looks_like(self.topic, "topic_arn", "node"):
            found.append(wrong_type(f"{argument}.topic", self.topic, "an sns.ITopic or None", "sns.Topic(self, 'A')"))
        if self.topic is not None and self.notify_emails:
            found.append(
                Problem(
                    f"{argument}.notify_emails",
                    self.notify_emails,
                    "Emails are subscribed to the topic the construct creates; subscribe them to your own topic, "
                    "or leave topic out.",
                )
            )
        comment: object = self.comment
        if comment is not None and not unresolved(comment):
            if not isinstance(comment, str):
                found.append(wrong_type(f"{argument}.comment", comment, "a str or None", "'Check staging first.'"))
            elif len(comment) > MAX_COMMENT:
                found.append(
                    Problem(
                        f"{argument}.comment",
                        f"{comment[:40]}... ({len(comment)} characters)",
                        f"Keep it to {MAX_COMMENT} characters: an approval's message holds 500, and the package's "
                        "version, SHA-256 and change set follow the comment. Put details behind review_url.",
                    )
                )
        approvers: object = self.approvers
        if isinstance(approvers, (str, bytes)) or not isinstance(approvers, Sequence):
            found.append(wrong_type(f"{argument}.approvers", approvers, "a list of roles or users", "[release_role]"))
        else:
            found += [
                wrong_type(f"{argument}.approvers[{i}]", a, "an iam.IGrantable (a role or user)", "release_role")
                for i, a in enumerate(approvers)
                if not looks_like(a, "grant_principal")
            ]
        url: object = self.review_url
        if url is not None and not unresolved(url) and not (isinstance(url, str) and url.startswith("https://")):
            found.append(Problem(f"{argument}.review_url", url, "Give an https:// URL, or None."))
        return found


def approval_topic(scope: Construct, key: kms.IKey, emails: Sequence[str]) -> sns.Topic:
    """The pipeline's one approval topic (``ApprovalTopic``), encrypted with ``key``, with ``emails`` subscribed.

    Approvals share it: an address given for several of them is subscribed once. An email SNS cannot deliver waits
    14 days in ``ApprovalDeadLetterQueue`` (made with the first address), encrypted with ``key`` too.
    """
    topic = scope.node.try_find_child(APPROVAL_TOPIC_ID)
    if not isinstance(topic, sns.Topic):
        topic = encrypted_topic(scope, APPROVAL_TOPIC_ID, key=key, display_name="Approvals")
    for email in emails:
        if topic.node.try_find_child(email) is None:
            dead_letters = _approval_dead_letter_queue(scope, key)
            topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=dead_letters))
    return topic


def _approval_dead_letter_queue(scope: Construct, key: kms.IKey) -> sqs.IQueue:
    """The queue of approval emails SNS could not deliver, and SNS let use ``key`` to write to it."""
    queue = scope.node.try_find_child(APPROVAL_DEAD_LETTERS_ID)
    if isinstance(queue, sqs.Queue):
        return queue
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="ApprovalEmailDeadLetters",
            principals=[iam.ServicePrincipal("sns.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
        )
    )
    return encrypted_dead_letter_queue(
        scope, APPROVAL_DEAD_LETTERS_ID, key=key, catches="the approval topic's email subscriptions"
    )


def add_approval_stage(
    context: StageContext,
    target: str,
    options: ApprovalOptions,
    facts: str,
    *,
    link: str | None = None,
    only_when: str | None = None,
) -> actions.ManualApprovalAction:
    """Add the stage ``Approve<target>`` with one manual approval.

    ``facts`` (what is to be deployed, in CodePipeline variables) follow the reviewer's comment in the message;
    ``link`` is the review link when the options give none; with ``only_when`` (a variable), the stage is skipped
    unless that variable is ``true``.
    """
    comment = options.comment or f"Review the validated package before it is deployed to {target}."
    approval = actions.ManualApprovalAction(
        action_name="Approve",
        notification_topic=options.topic or approval_topic(context.scope, context.log_key, options.notify_emails),
        external_entity_link=options.review_url or link,
        additional_information=f"{comment} {facts}",
    )
    skip = None
    if only_when is not None:
        # VariableCheck is one of the two rules an entry condition may skip a stage with.
        check = codepipeline.Rule(
            name=f"{target}PermissionsBroadened",
            provider="VariableCheck",
            version="1",
            configuration={"Variable": only_when, "Value": "true", "Operator": "EQ"},
        )
        skip = codepipeline.Conditions(
            conditions=[codepipeline.Condition(result=codepipeline.Result.SKIP, rules=[check])]
        )
    context.pipeline.add_stage(stage_name=f"Approve{target}", actions=[approval], before_entry=skip)
    pipeline = context.pipeline.pipeline_arn
    for approver in map(managed_grantee, options.approvers):
        # Narrower than ManualApprovalAction.grant_manual_approval, which adds codepipeline:ListPipelines on "*".
        iam.Grant.add_to_principal(
            grantee=approver,
            actions=["codepipeline:GetPipeline", "codepipeline:GetPipelineState", "codepipeline:GetPipelineExecution"],
            resource_arns=[pipeline],
        )
        iam.Grant.add_to_principal(
            grantee=approver,
            actions=["codepipeline:PutApprovalResult"],
            resource_arns=[f"{pipeline}/Approve{target}/Approve"],
        )
    return approval
