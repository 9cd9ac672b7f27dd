"""Notifications: a topic (and a chat topic for AWS Chatbot) told of execution outcomes and waiting approvals.

Each notification is an EventBridge rule on the pipeline's CodePipeline events whose input transformer turns the
event into a few readable lines; see ``NotificationOptions``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .._resources import encrypted_topic
from .._warnings import CHAT_CHANNEL_NOT_SUBSCRIBED
from ._common import (
    ACTION_EXECUTION_EVENT,
    CLOUDWATCH_SERVICE,
    EVENTS_SERVICE,
    PIPELINE_EXECUTION_EVENT,
    SNS_SERVICE,
    to_topic,
)
from .options import NotificationOptions


@dataclass(frozen=True, kw_only=True)
class Notifications:
    """What ``add_notifications`` made."""

    topic: sns.ITopic
    """Where notifications go as readable text: the topic of the options, or a new one."""
    chat_topic: sns.Topic | None
    """Where the same go as AWS Chatbot custom notifications; only with a Slack channel."""
    rules: Mapping[str, events.Rule]
    """The notification rules, by execution state, and ``"APPROVAL"`` for approvals."""
    key_services: tuple[str, ...]
    """The services that must be let use the operations key for these to work."""

    @property
    def topics(self) -> tuple[sns.ITopic, ...]:
        """Every topic an alarm should publish to."""
        return (self.topic,) if self.chat_topic is None else (self.topic, self.chat_topic)


@dataclass(frozen=True, kw_only=True)
class _Message:
    """One notification: as plain text for email, and as an AWS Chatbot custom notification."""

    text: str
    title: str
    markdown: str
    thread: str


def add_notifications(
    scope: Construct,
    options: NotificationOptions,
    *,
    pipeline_arns: Sequence[str],
    key: kms.IKey,
    dead_letter_queue: sqs.IQueue,
    source_action_name: str,
    alarms: bool,
    subject: str = "the pipeline",
) -> Notifications:
    """Define the topics and the notification rules of the pipelines ``pipeline_arns`` match, in ``scope``.

    Args:
        pipeline_arns: the rules' ``resources``: one pipeline's ARN, or ``events.Match.prefix`` of several.
        subject: the pipelines as the rules' descriptions name them. Default: ``"the pipeline"``.
        key: encrypts the topics the function creates.
        dead_letter_queue: where undeliverable events and emails go.
        source_action_name: the pipeline's S3 source action; messages say its revision is the uploaded version.
        alarms: whether alarms will publish to the topics: the topics created admit this account's alarms.
    """
    topic = options.topic or encrypted_topic(
        scope, "Topic", key=key, display_name="Pipeline notifications", alarms=alarms
    )
    for email in options.emails:
        topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=dead_letter_queue))
    chat_topic = None
    if options.slack_channel is not None:
        chat_topic = _chat_topic(scope, options.slack_channel, key=key, alarms=alarms)
    rules: dict[str, events.Rule] = {}
    for kind, pattern, message in _notifications(options, source_action_name, subject):
        rules[kind] = events.Rule(
            scope,
            f"Notify{kind.title()}",
            description=pattern.description,
            event_pattern=events.EventPattern(
                source=["aws.codepipeline"],
                detail_type=[pattern.detail_type],
                resources=pipeline_arns,
                detail=dict(pattern.detail),
            ),
        )
        _deliver(rules[kind], message, topic=topic, chat_topic=chat_topic, dead_letter_queue=dead_letter_queue)
    created_topic = options.topic is None or chat_topic is not None
    key_services = [EVENTS_SERVICE]
    if alarms and created_topic:
        key_services.append(CLOUDWATCH_SERVICE)
    if options.emails:
        key_services.append(SNS_SERVICE)
    return Notifications(topic=topic, chat_topic=chat_topic, rules=rules, key_services=tuple(key_services))


def _chat_topic(
    scope: Construct, channel: chatbot.ISlackChannelConfiguration, *, key: kms.IKey, alarms: bool
) -> sns.Topic:
    topic = encrypted_topic(
        scope, "ChatTopic", key=key, display_name="Pipeline notifications for AWS Chatbot", alarms=alarms
    )
    if isinstance(channel, chatbot.SlackChannelConfiguration):
        channel.add_notification_topic(topic)
    else:
        CHAT_CHANNEL_NOT_SUBSCRIBED.add(
            scope,
            "The Slack channel configuration is imported, so it cannot be subscribed here: add the ARN of "
            f"{topic.node.path} to its SNS topics, then acknowledge this warning.",
        )
    return topic


@dataclass(frozen=True, kw_only=True)
class _Pattern:
    """Which events one notification rule matches."""

    description: str
    detail_type: str
    detail: Mapping[str, object]


def _notifications(
    options: NotificationOptions, source_action_name: str, subject: str
) -> list[tuple[str, _Pattern, _Message]]:
    """Return each notification wanted: its kind (a state or ``APPROVAL``), its events and its message."""
    pipeline = events.EventField.from_path("$.detail.pipeline")
    execution = events.EventField.from_path("$.detail.execution-id")
    state = events.EventField.from_path("$.detail.state")
    time = events.EventField.from_path("$.time")
    region = events.EventField.from_path("$.region")
    link = (
        f"https://console.aws.amazon.com/codesuite/codepipeline/pipelines/{pipeline}/executions/{execution}"
        f"/timeline?region={region}"
    )
    version = f"the uploaded object version is the revision of the {source_action_name} action there"
    wanted = [
        (
            state_wanted,
            _Pattern(
                description=f"Announces each execution of {subject} that reaches the state {state_wanted}",
                detail_type=PIPELINE_EXECUTION_EVENT,
                detail={"state": [state_wanted]},
            ),
            _Message(
                text=f"Pipeline {pipeline}: execution {state}\n"
                f"Execution: {execution}\n"
                f"Time: {time}\n"
                f"Details ({version}): {link}",
                title=f"Pipeline {pipeline}: execution {state}",
                markdown=f"Execution `{execution}` at {time}.\n<{link}|Open the execution>: {version}.",
                thread=execution,
            ),
        )
        for state_wanted in options.pipeline_states
    ]
    if options.approvals:
        stage = events.EventField.from_path("$.detail.stage")
        action = events.EventField.from_path("$.detail.action")
        approval = _Pattern(
            description=f"Announces each manual approval of {subject} that starts waiting",
            detail_type=ACTION_EXECUTION_EVENT,
            detail={"state": ["STARTED"], "type": {"category": ["Approval"]}},
        )
        message = _Message(
            text=f"Approval needed: pipeline {pipeline}, stage {stage}, action {action}\n"
            f"Execution: {execution}\n"
            f"Time: {time}\n"
            f"Review it, then approve or reject it (CodePipeline rejects it after 7 days): {link}",
            title=f"Approval needed: pipeline {pipeline}, stage {stage}, action {action}",
            markdown=f"Execution `{execution}` at {time}.\n<{link}|Review, then approve or reject it> "
            "(CodePipeline rejects it after 7 days).",
            thread=execution,
        )
        wanted.append(("APPROVAL", approval, message))
    return wanted


def _deliver(
    rule: events.Rule,
    message: _Message,
    *,
    topic: sns.ITopic,
    chat_topic: sns.ITopic | None,
    dead_letter_queue: sqs.IQueue,
) -> None:
    """Send ``message`` to the topic as text and, with a chat topic, to it as an AWS Chatbot custom notification."""
    text = events.RuleTargetInput.from_multiline_text(message.text)
    rule.add_target(to_topic(topic, text, dead_letter_queue=dead_letter_queue))
    if chat_topic is not None:
        # The schema of AWS Chatbot's custom notifications; plain text would not be shown in the channel.
        chat = {
            "version": "1.0",
            "source": "custom",
            "content": {"textType": "client-markdown", "title": message.title, "description": message.markdown},
            "metadata": {"threadId": message.thread},
        }
        rule.add_target(
            to_topic(chat_topic, events.RuleTargetInput.from_object(chat), dead_letter_queue=dead_letter_queue)
        )


SIGNING_KEY_EVENTS = ("PutKeyPolicy", "CreateGrant", "DisableKey", "ScheduleKeyDeletion")
"""The calls that could let another principal sign provenance, or stop the pipeline's own signing: whoever makes one
holds key administration, which the key policy leaves to the account."""


def notify_signing_key_changes(
    scope: Construct,
    *,
    key: kms.IKey,
    topic: sns.ITopic,
    chat_topic: sns.ITopic | None,
    dead_letter_queue: sqs.IQueue,
) -> events.Rule:
    """Announce every ``SIGNING_KEY_EVENTS`` call on ``key``, from the account's CloudTrail management events (which
    EventBridge receives only while a trail records them: most accounts have one; the pipeline's own trail records
    data events only)."""
    rule = events.Rule(
        scope,
        "NotifySigningKeyChange",
        description="Announces each change to the policy, grants, state or deletion of the pipeline's signing key",
        event_pattern=events.EventPattern(
            source=["aws.kms"],
            detail_type=["AWS API Call via CloudTrail"],
            detail={
                "eventSource": ["kms.amazonaws.com"],
                "eventName": list(SIGNING_KEY_EVENTS),
                "resources": {"ARN": [key.key_arn]},
            },
        ),
    )
    call = events.EventField.from_path("$.detail.eventName")
    caller = events.EventField.from_path("$.detail.userIdentity.arn")
    time = events.EventField.from_path("$.time")
    key_arn = events.EventField.from_path("$.detail.resources[0].ARN")
    why = "Later stages trust whatever this key signs: make sure the change was meant."
    message = _Message(
        text=f"Signing key {key_arn}: {call} by {caller}\nTime: {time}\n{why}",
        title=f"Signing key changed: {call}",
        markdown=f"`{call}` on `{key_arn}` by `{caller}` at {time}. {why}",
        thread=key_arn,
    )
    _deliver(rule, message, topic=topic, chat_topic=chat_topic, dead_letter_queue=dead_letter_queue)
    return rule
