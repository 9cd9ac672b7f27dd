"""Resources more than one part of the pipeline needs, defined once: the dead-letter queue, EventBridge retries and
the encrypted topic.

Every EventBridge target of the library is retried for a day and then dead-lettered into a KMS-encrypted queue that
people inspect and redrive. The upload trigger and the operations rules use the same settings from here.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ._compliance import acknowledge

EVENT_RETRY_ATTEMPTS = 185
"""How often EventBridge retries an undeliverable event: the most it allows, spread over ``EVENT_MAX_AGE``."""

EVENT_MAX_AGE = Duration.hours(24)
"""How long EventBridge keeps retrying an undeliverable event before it puts it in the dead-letter queue."""

DEAD_LETTER_RETENTION = Duration.days(14)
"""How long a dead letter waits to be inspected and redriven: the longest SQS keeps a message."""


def event_retry_policy() -> events.CfnRule.RetryPolicyProperty:
    """Return the retry policy of a rule target written at the CloudFormation level: a day, then dead letters.

    L2 targets (``aws_events_targets``) take the same values as ``retry_attempts=EVENT_RETRY_ATTEMPTS`` and
    ``max_event_age=EVENT_MAX_AGE``.
    """
    return events.CfnRule.RetryPolicyProperty(
        maximum_event_age_in_seconds=int(EVENT_MAX_AGE.to_seconds()),
        maximum_retry_attempts=EVENT_RETRY_ATTEMPTS,
    )


def dead_lettered_target(
    rule_arn: str,
    dead_letter_queue: sqs.IQueue,
    *,
    arn: str,
    role: iam.IRole | None = None,
    input: events.RuleTargetInput | None = None,
    admit_rule: bool = True,
) -> events.RuleTargetConfig:
    """The settings of a rule target retried a day and then dead-lettered, with the queue's policy admitting only
    the rule ``rule_arn``: what every ``IRuleTarget.bind`` of the library returns.

    ``admit_rule=False`` for a queue shared by rules of other stacks, whose owner admits them all by name (a
    statement naming each rule would make the queue's stack depend on the rules' stacks).
    """
    if admit_rule:
        dead_letter_queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[dead_letter_queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": rule_arn}},
            )
        )
    return events.RuleTargetConfig(
        arn=arn,
        role=role,
        input=input,
        dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letter_queue.queue_arn),
        retry_policy=event_retry_policy(),
    )


def encrypted_dead_letter_queue(
    scope: Construct,
    id: str,
    *,
    key: kms.IKey,
    catches: str,
    handled_by: str = "its messages are inspected by people",
) -> sqs.Queue:
    """Define a TLS-only queue encrypted with ``key`` that keeps what could not be delivered for 14 days.

    The queue is the last stop, so it has no dead-letter queue of its own; the two cdk-nag findings that ask for
    one are acknowledged on it with reasons built from ``catches`` and ``handled_by``. Whoever writes to the queue
    needs ``key``: CDK's targets and destinations grant it to roles, but a service principal (EventBridge, SNS) must
    be let in by the key's policy, which is the caller's.

    Args:
        key: encrypts the messages.
        catches: what the queue is the dead-letter queue of, e.g. ``"the trigger's rule and function"``.
        handled_by: what happens to its messages. Default: ``"its messages are inspected by people"``.
    """
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
        # Kept when the stack is deleted: it may hold uploads that never started the pipeline, or undelivered alerts.
        removal_policy=RemovalPolicy.RETAIN,
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is itself the dead-letter queue of {catches}; the rule only recognises queues named in another "
        "queue's redrive policy.",
    )
    acknowledge(
        queue,
        "Serverless-SQSRedrivePolicy",
        f"This queue is the dead-letter queue of {catches}; {handled_by}, so a further dead-letter queue would have "
        "nothing to catch.",
    )
    return queue


def encrypted_topic(scope: Construct, id: str, *, key: kms.IKey, display_name: str, alarms: bool = False) -> sns.Topic:
    """Define a TLS-only SNS topic encrypted with ``key`` (approvals, notifications, alarms); with ``alarms``, this
    account's CloudWatch alarms may publish to it.

    The key's policy must let the publishing services use it (``operations._common.allow_services_to_use_key``).
    """
    topic = sns.Topic(scope, id, master_key=key, enforce_ssl=True, display_name=display_name)
    if alarms:
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                    },
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
    return topic
