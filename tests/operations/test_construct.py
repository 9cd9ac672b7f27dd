"""PipelineOperations: notifications, alarms, dashboard, execution history and trail, asserted on a few syntheses.

One realistic app with everything on (PipelineOperations watching a ValidatedS3Pipeline), one with everything off,
one with alarms but no notifications, and one with a stage monitored after the construct was made. Bad options
are checked against imported resources, which need little or no synthesis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template
from cdk_nag import (
    NagPack,
)

from s3_validated_pipeline import InputError, ValidatedS3Pipeline, ValidationOptions
from s3_validated_pipeline._warnings import (
    ALARMS_WITHOUT_ACTIONS,
    CHAT_CHANNEL_NOT_SUBSCRIBED,
    OPERATIONS_KEY_POLICY_UNCHANGED,
)
from s3_validated_pipeline.operations import (
    AlarmOptions,
    AuditOptions,
    DashboardOptions,
    NotificationOptions,
    OperationsOptions,
    PipelineOperations,
)
from s3_validated_pipeline.operations._arguments import MonitoredPipeline
from tests.conftest import PACKS

ACK_KEY = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
STATES = ("FAILED", "STOPPED", "SUPERSEDED", "SUCCEEDED")
CONSOLE_LINK = (
    "https://console.aws.amazon.com/codesuite/codepipeline/pipelines/<detail-pipeline>/executions/"
    "<detail-execution-id>/timeline?region=<region>"
)

EVERYTHING_ON = OperationsOptions(
    notifications=NotificationOptions(emails=["ops@example.com"]),  # slack_channel is added in the app
    alarms=AlarmOptions(),
    dashboard=DashboardOptions(),
    audit=AuditOptions(trail=True),
)
EVERYTHING_OFF = OperationsOptions(notifications=None, alarms=None, dashboard=None, audit=None)
ALARMS_ONLY = OperationsOptions(
    notifications=None,
    alarms=AlarmOptions(max_execution_time=cdk.Duration.minutes(90)),
    dashboard=None,
    audit=AuditOptions(history=False),
)


@dataclass
class App:
    app: cdk.App
    stack: cdk.Stack
    pipeline: ValidatedS3Pipeline
    ops: PipelineOperations
    template: Template = field(repr=False)
    json: dict[str, Any] = field(repr=False)

    def id_of(self, construct: Any) -> str:
        return str(self.stack.resolve(self.stack.get_logical_id(construct.node.default_child)))

    def ref(self, construct: Any) -> dict[str, str]:
        return {"Ref": self.id_of(construct)}

    def arn(self, construct: Any) -> dict[str, list[str]]:
        return {"Fn::GetAtt": [self.id_of(construct), "Arn"]}

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == type_}

    def ops_resources(self) -> list[str]:
        return sorted(
            self.stack.resolve(c.logical_id)
            for c in self.ops.node.find_all()
            if cdk.CfnResource.is_cfn_resource(c) and c.node.scope is not None
        )


def build(options: OperationsOptions, *, slack: bool = False) -> App:
    app = cdk.App()
    stack = cdk.Stack(app, "Ops", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    pipeline = ValidatedS3Pipeline(
        stack, "Pipeline", validation=ValidationOptions(commands=["npm test"]), operations=None
    )
    if slack:
        channel = chatbot.SlackChannelConfiguration(
            stack,
            "Slack",
            slack_channel_configuration_name="pipeline-ops",
            slack_workspace_id="T0123456789",
            slack_channel_id="C0123456789",
        )
        assert options.notifications is not None
        options = OperationsOptions(
            notifications=NotificationOptions(emails=options.notifications.emails, slack_channel=channel),
            alarms=options.alarms,
            dashboard=options.dashboard,
            audit=options.audit,
        )
    ops = PipelineOperations(stack, "Operations", pipeline=pipeline, options=options)
    template = app.synth().get_stack_by_name(stack.stack_name).template
    return App(app, stack, pipeline, ops, Template.from_json(template), template)


@pytest.fixture(scope="module")
def on() -> App:
    return build(EVERYTHING_ON, slack=True)


@pytest.fixture(scope="module")
def off() -> App:
    return build(EVERYTHING_OFF)


@pytest.fixture(scope="module")
def alarms_only() -> App:
    return build(ALARMS_ONLY)


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def joined(value: Any) -> str:
    """Render a string or an Fn::Join of strings and references, references as '{Ref}'."""
    if isinstance(value, str):
        return value
    _, parts = value["Fn::Join"]
    return "".join(part if isinstance(part, str) else "{Ref}" for part in parts)


def rule_for(on: App, kind: str) -> dict[str, Any]:
    return on.json["Resources"][on.id_of(on.ops.notification_rules[kind])]["Properties"]


# ---------------------------------------------------------------------------------------------------------------
# Notifications


def test_topic_is_encrypted_with_the_operations_key_and_tls_only(on: App) -> None:
    assert on.ops.topic is not None
    assert on.ops.chat_topic is not None
    for topic in (on.ops.topic, on.ops.chat_topic):
        topic_json = on.json["Resources"][on.id_of(topic)]
        assert topic_json["Properties"]["KmsMasterKeyId"] == on.arn(on.pipeline.operations_key)
        [policy] = [
            p for p in on.resources("AWS::SNS::TopicPolicy").values() if p["Properties"]["Topics"] == [on.ref(topic)]
        ]
        assert {
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": on.ref(topic),
            "Sid": "AllowPublishThroughSSLOnly",
        } in statements(policy["Properties"]["PolicyDocument"])


def test_one_rule_per_event_kind_on_this_pipeline_only(on: App) -> None:
    assert sorted(on.ops.notification_rules) == sorted([*STATES, "APPROVAL"])
    pipeline_arn = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":codepipeline:eu-west-1:111111111111:", on.ref(on.pipeline.pipeline)],
        ]
    }
    for state in STATES:
        assert rule_for(on, state)["EventPattern"] == {
            "source": ["aws.codepipeline"],
            "detail-type": ["CodePipeline Pipeline Execution State Change"],
            "resources": [pipeline_arn],
            "detail": {"state": [state]},
        }
    assert rule_for(on, "APPROVAL")["EventPattern"] == {
        "source": ["aws.codepipeline"],
        "detail-type": ["CodePipeline Action Execution State Change"],
        "resources": [pipeline_arn],
        "detail": {"state": ["STARTED"], "type": {"category": ["Approval"]}},
    }


def test_messages_are_readable_lines_with_a_console_link(on: App) -> None:
    assert on.ops.topic is not None
    for kind in [*STATES, "APPROVAL"]:
        [target] = [t for t in rule_for(on, kind)["Targets"] if t["Arn"] == on.ref(on.ops.topic)]
        transformer = target["InputTransformer"]
        assert transformer["InputPathsMap"]["detail-execution-id"] == "$.detail.execution-id"
        assert transformer["InputPathsMap"]["region"] == "$.region"
        lines = transformer["InputTemplate"].split("\n")
        # Each line is one JSON string: text, not the event's JSON.
        assert all(re.fullmatch(r'"[^"]*"', line) for line in lines), lines
        text = "\n".join(json.loads(line) for line in lines)
        assert "Execution: <detail-execution-id>" in text
        assert "Time: <time>" in text
        assert CONSOLE_LINK in text
        if kind == "APPROVAL":
            assert text.startswith("Approval needed: pipeline <detail-pipeline>, stage <detail-stage>, action")
        else:
            assert text.startswith("Pipeline <detail-pipeline>: execution <detail-state>")
            assert "revision of the Source action" in text  # where the uploaded object version is shown


def test_chat_topic_gets_chatbot_custom_notifications(on: App) -> None:
    assert on.ops.chat_topic is not None
    for kind in [*STATES, "APPROVAL"]:
        [target] = [t for t in rule_for(on, kind)["Targets"] if t["Arn"] == on.ref(on.ops.chat_topic)]
        # Substitute the placeholders as EventBridge would, then read the JSON Chatbot receives.
        template = target["InputTransformer"]["InputTemplate"]
        message = json.loads(re.sub(r"(?<=[:\[,])<[\w-]+>", '"value"', template).replace("<", "").replace(">", ""))
        assert message["version"] == "1.0"
        assert message["source"] == "custom"
        assert message["content"]["textType"] == "client-markdown"
    [channel] = on.resources("AWS::Chatbot::SlackChannelConfiguration").values()
    assert on.ref(on.ops.chat_topic) in channel["Properties"]["SnsTopicArns"]


def test_rules_are_admitted_by_name_retried_and_dead_lettered(on: App) -> None:
    assert on.ops.topic is not None
    assert on.ops.event_dead_letter_queue is not None
    queue = on.arn(on.ops.event_dead_letter_queue)
    [topic_policy] = [
        p for p in on.resources("AWS::SNS::TopicPolicy").values() if p["Properties"]["Topics"] == [on.ref(on.ops.topic)]
    ]
    [queue_policy] = [
        p
        for p in on.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [on.ref(on.ops.event_dead_letter_queue)]
    ]
    for kind, rule in on.ops.notification_rules.items():
        for target in rule_for(on, kind)["Targets"]:
            assert target["DeadLetterConfig"] == {"Arn": queue}
            assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
        only_this_rule = {"ArnEquals": {"aws:SourceArn": on.arn(rule)}}
        assert any(
            s["Principal"] == {"Service": "events.amazonaws.com"} and s["Condition"] == only_this_rule
            for s in statements(topic_policy["Properties"]["PolicyDocument"])
        ), kind
        assert any(
            s["Action"] == "sqs:SendMessage" and s.get("Condition") == only_this_rule
            for s in statements(queue_policy["Properties"]["PolicyDocument"])
        ), kind
    # EventBridge is admitted only for the construct's rules: no statement without a condition.
    assert all("Condition" in s for s in statements(topic_policy["Properties"]["PolicyDocument"]))


def test_email_subscription_with_a_dead_letter_queue(on: App) -> None:
    assert on.ops.topic is not None
    assert on.ops.event_dead_letter_queue is not None
    on.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": "ops@example.com",
            "TopicArn": on.ref(on.ops.topic),
            "RedrivePolicy": {"deadLetterTargetArn": on.arn(on.ops.event_dead_letter_queue)},
        },
    )
    on.template.has_resource_properties(
        "AWS::SQS::Queue",
        {"KmsMasterKeyId": on.arn(on.pipeline.operations_key), "MessageRetentionPeriod": 1209600},
    )


def test_operations_key_lets_eventbridge_cloudwatch_and_sns_of_the_account_use_it(on: App) -> None:
    key = on.json["Resources"][on.id_of(on.pipeline.operations_key)]
    [statement] = [
        s for s in statements(key["Properties"]["KeyPolicy"]) if s.get("Sid") == "PipelineOperationsServices"
    ]
    assert statement == {
        "Sid": "PipelineOperationsServices",
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com", "sns.amazonaws.com"]},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
    }


def test_alarms_may_publish_to_the_topic(on: App) -> None:
    assert on.ops.topic is not None
    [policy] = [
        p for p in on.resources("AWS::SNS::TopicPolicy").values() if p["Properties"]["Topics"] == [on.ref(on.ops.topic)]
    ]
    [statement] = [
        s
        for s in statements(policy["Properties"]["PolicyDocument"])
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    account = {"Ref": "AWS::AccountId"}
    any_alarm = ["arn:", {"Ref": "AWS::Partition"}, ":cloudwatch:", {"Ref": "AWS::Region"}, ":", account, ":alarm:*"]
    assert statement["Condition"] == {
        "ArnLike": {"aws:SourceArn": {"Fn::Join": ["", any_alarm]}},
        "StringEquals": {"aws:SourceAccount": account},
    }


# ---------------------------------------------------------------------------------------------------------------
# Alarms


def alarm(on: App, construct: Any) -> dict[str, Any]:
    assert construct is not None
    properties: dict[str, Any] = on.json["Resources"][on.id_of(construct)]["Properties"]
    return properties


def test_pipeline_alarms_notify_the_topics(on: App) -> None:
    assert on.ops.topic is not None
    assert on.ops.chat_topic is not None
    topics = [on.ref(on.ops.topic), on.ref(on.ops.chat_topic)]
    pipeline_dimension = [{"Name": "PipelineName", "Value": on.ref(on.pipeline.pipeline)}]
    failed = alarm(on, on.ops.failed_executions_alarm)
    assert failed | {"AlarmDescription": None} == {
        "AlarmActions": topics,
        "AlarmDescription": None,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Dimensions": pipeline_dimension,
        "EvaluationPeriods": 1,
        "MetricName": "FailedPipelineExecutions",
        "Namespace": "AWS/CodePipeline",
        "Period": 300,
        "Statistic": "Sum",
        "Threshold": 1,
        "TreatMissingData": "notBreaching",
    }
    slow = alarm(on, on.ops.execution_time_alarm)
    assert slow["MetricName"] == "PipelineDuration"
    assert slow["Namespace"] == "AWS/CodePipeline"
    assert slow["Dimensions"] == pipeline_dimension
    assert (slow["ComparisonOperator"], slow["Threshold"], slow["Statistic"]) == (
        "GreaterThanThreshold",
        3600,
        "Maximum",
    )
    assert slow["AlarmActions"] == topics
    assert slow["TreatMissingData"] == "notBreaching"
    # AND an upload that waited over an hour for its check alarms, from the metric Validate's log group derives
    waited = alarm(on, on.ops.wait_time_alarm)
    assert (waited["Namespace"], waited["MetricName"]) == ("S3ValidatedPipeline", "UploadWaitTime")
    assert waited["Dimensions"] == [{"Name": "Pipeline", "Value": on.ref(on.pipeline.pipeline)}]
    assert (waited["ComparisonOperator"], waited["Threshold"], waited["Statistic"]) == (
        "GreaterThanThreshold",
        3600,
        "Maximum",
    )
    assert waited["AlarmActions"] == topics
    assert "waited longer than 1 hour before Validate checked it" in waited["AlarmDescription"]
    [derived] = [
        f["Properties"]
        for f in on.resources("AWS::Logs::MetricFilter").values()
        if f["Properties"]["LogGroupName"] == on.ref(on.pipeline.validation_log_group)
    ]
    assert derived["FilterPattern"] == "{ $.s3vpWaitedSeconds >= 0 }"
    assert derived["MetricTransformations"] == [
        {
            "MetricNamespace": "S3ValidatedPipeline",
            "MetricName": "UploadWaitTime",
            "MetricValue": "$.s3vpWaitedSeconds",
            "Dimensions": [{"Key": "Pipeline", "Value": "$.pipeline"}],
            "Unit": "Seconds",
        }
    ]


def test_per_project_codebuild_alarms_notify_the_topics(on: App) -> None:
    assert on.ops.topic is not None
    project = [{"Name": "ProjectName", "Value": on.ref(on.pipeline.validation_project)}]
    failed = alarm(on, on.ops.failed_builds_alarms["Validate"])
    assert (failed["Namespace"], failed["MetricName"], failed["Dimensions"]) == (
        "AWS/CodeBuild",
        "FailedBuilds",
        project,
    )
    assert (failed["ComparisonOperator"], failed["Threshold"]) == ("GreaterThanOrEqualToThreshold", 1)
    queued = alarm(on, on.ops.queue_time_alarms["Validate"])
    assert (queued["Namespace"], queued["MetricName"], queued["Dimensions"]) == (
        "AWS/CodeBuild",
        "QueuedDuration",
        project,
    )
    assert (queued["ComparisonOperator"], queued["Threshold"]) == ("GreaterThanThreshold", 900)
    for properties in (failed, queued):
        assert on.ref(on.ops.topic) in properties["AlarmActions"]
        assert properties["TreatMissingData"] == "notBreaching"


def test_dead_letters_of_the_trigger_alarm(on: App) -> None:
    dead_letters = alarm(on, on.ops.dead_letters_alarm)
    assert dead_letters["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert dead_letters["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [on.id_of(on.pipeline.trigger.dead_letter_queue), "QueueName"]}}
    ]
    assert len(on.ops.alarms) == len(on.resources("AWS::CloudWatch::Alarm")) == 6


# ---------------------------------------------------------------------------------------------------------------
# Dashboard


def test_dashboard_shows_executions_durations_builds_uploads_dead_letters_and_alarms(on: App) -> None:
    [dashboard] = on.resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads(joined(dashboard["Properties"]["DashboardBody"]))
    assert body["start"] == "-P7D"
    widgets = {w["properties"].get("title"): w for w in body["widgets"]}
    assert set(widgets) == {
        "Executions by outcome (per hour)",
        "Execution duration (seconds)",
        "Build duration per stage (seconds, average)",
        "Build queue time per stage (seconds, maximum)",
        "Uploads received (per hour)",
        "Dead letters waiting",
        "Alarms",
    }

    def metrics(title: str) -> list[tuple[str, str, str]]:
        return [(m[0], m[1], m[-1].get("stat", "Average")) for m in widgets[title]["properties"]["metrics"]]

    assert metrics("Executions by outcome (per hour)") == [
        ("S3ValidatedPipeline", "Executions", "Sum") for _ in ("SUCCEEDED", "FAILED", "STOPPED", "SUPERSEDED")
    ]
    assert [m[2] for m in metrics("Execution duration (seconds)")] == ["p50", "p90", "p99"]
    assert metrics("Build duration per stage (seconds, average)") == [("AWS/CodeBuild", "Duration", "Average")]
    assert metrics("Build queue time per stage (seconds, maximum)") == [("AWS/CodeBuild", "QueuedDuration", "Maximum")]
    assert metrics("Uploads received (per hour)") == [
        ("AWS/Events", "TriggeredRules", "Sum"),
        ("AWS/Events", "FailedInvocations", "Sum"),
    ]
    assert [m[1] for m in metrics("Dead letters waiting")] == ["ApproximateNumberOfMessagesVisible"] * 2
    assert len(widgets["Alarms"]["properties"]["alarms"]) == 6


# ---------------------------------------------------------------------------------------------------------------
# Audit


def test_trail_validates_encrypts_and_records_data_events_of_both_buckets(on: App) -> None:
    ops = on.ops
    assert ops.trail is not None
    assert ops.trail_key is not None
    assert ops.trail_log_group is not None
    assert ops.trail_bucket is not None
    trail = on.json["Resources"][on.id_of(ops.trail)]["Properties"]
    assert trail["EnableLogFileValidation"] is True
    assert trail["KMSKeyId"] == on.arn(ops.trail_key)
    assert trail["CloudWatchLogsLogGroupArn"] == on.arn(ops.trail_log_group)
    assert trail["S3BucketName"] == on.ref(ops.trail_bucket)
    assert trail["EventSelectors"] == [
        {
            "DataResources": [
                {
                    "Type": "AWS::S3::Object",
                    "Values": [
                        {"Fn::Join": ["", [on.arn(on.pipeline.source_bucket), "/"]]},
                        {"Fn::Join": ["", [on.arn(on.pipeline.artifact_bucket), "/"]]},
                    ],
                }
            ],
            "IncludeManagementEvents": False,
            "ReadWriteType": "All",
        }
    ]
    key = on.json["Resources"][on.id_of(ops.trail_key)]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert "CloudTrailEncryptLogFiles" in {s.get("Sid") for s in statements(key["KeyPolicy"])}
    bucket = on.json["Resources"][on.id_of(ops.trail_bucket)]["Properties"]
    encryption = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert encryption == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": on.arn(ops.trail_key)}
    assert bucket["LoggingConfiguration"] == {
        "DestinationBucketName": on.ref(on.pipeline.access_log_bucket),  # the pipeline's, not a new one
        "LogFilePrefix": "trail/",
    }
    assert ops.access_log_bucket is on.pipeline.access_log_bucket
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    log_group = on.json["Resources"][on.id_of(ops.trail_log_group)]["Properties"]
    assert log_group == {"KmsKeyId": on.arn(ops.trail_key), "RetentionInDays": 731}


def test_execution_history_goes_to_an_encrypted_log_group_kept_two_years(on: App) -> None:
    ops = on.ops
    assert ops.history_log_group is not None
    assert ops.history_rule is not None
    group = on.json["Resources"][on.id_of(ops.history_log_group)]["Properties"]
    assert group == {"KmsKeyId": on.arn(on.pipeline.operations_key), "RetentionInDays": 731}
    rule = on.json["Resources"][on.id_of(ops.history_rule)]["Properties"]
    assert rule["EventPattern"]["detail-type"] == [
        "CodePipeline Pipeline Execution State Change",
        "CodePipeline Stage Execution State Change",
        "CodePipeline Action Execution State Change",
    ]
    [target] = rule["Targets"]
    assert ":log-group:{Ref}" in joined(target["Arn"])
    assert "InputTransformer" not in target  # the whole event is kept
    assert target["DeadLetterConfig"]
    # EventBridge writes to CloudWatch Logs under the log group's resource policy, with no custom resource.
    [policy] = on.resources("AWS::Logs::ResourcePolicy").values()
    document = json.loads(joined(policy["Properties"]["PolicyDocument"]))
    assert document["Statement"] == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Resource": "{Ref}",
        }
    ]
    assert not on.resources("AWS::Lambda::Function")  # TriggerMode.DIRECT: the trigger has no function either


def test_saved_query_lists_executions_with_state_and_time(on: App) -> None:
    assert on.ops.history_log_group is not None
    [query] = on.resources("AWS::Logs::QueryDefinition").values()
    # TriggerMode.DIRECT keeps no trigger log: the history alone, with each execution's Source action events.
    assert on.pipeline.trigger.log_group is None
    history = on.ref(on.ops.history_log_group)
    assert query["Properties"]["LogGroupNames"] == [history]
    text = query["Properties"]["QueryString"]
    for needed in ("time", "detail.pipeline", "`detail.execution-id`", "detail.state", "sort time desc"):
        assert needed in text
    assert '`detail-type` = "CodePipeline Pipeline Execution State Change"' in text
    assert 'detail.type.category = "Source"' in text
    [metric_filter] = [
        f for f in on.resources("AWS::Logs::MetricFilter").values() if f["Properties"]["LogGroupName"] == history
    ]
    assert metric_filter["Properties"]["MetricTransformations"][0]["Dimensions"] == [
        {"Key": "PipelineName", "Value": "$.detail.pipeline"},
        {"Key": "State", "Value": "$.detail.state"},
    ]


# ---------------------------------------------------------------------------------------------------------------
# Switched off


def test_everything_off_builds_nothing(off: App) -> None:
    ops = off.ops
    assert off.ops_resources() == []
    assert (ops.topic, ops.chat_topic, ops.event_dead_letter_queue, ops.dashboard) == (None, None, None, None)
    assert (ops.history_rule, ops.history_log_group, ops.history_query, ops.trail) == (None, None, None, None)
    assert (ops.notification_rules, ops.alarms) == ({}, [])
    for type_ in (
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::CloudTrail::Trail",
        "AWS::Logs::QueryDefinition",
        "AWS::Logs::ResourcePolicy",
    ):
        off.template.resource_count_is(type_, 0)
    # The one metric filter is Validate's own, of how long uploads wait: it costs nothing without an alarm
    [(_, waited)] = off.resources("AWS::Logs::MetricFilter").items()
    assert waited["Properties"]["LogGroupName"] == off.ref(off.pipeline.validation_log_group)
    assert list(off.resources("AWS::Events::Rule")) == [off.id_of(off.pipeline.trigger.rule)]
    key = off.json["Resources"][off.id_of(off.pipeline.operations_key)]["Properties"]
    assert "PipelineOperationsServices" not in {s.get("Sid") for s in statements(key["KeyPolicy"])}


def test_alarms_without_notifications_warn_and_build_nothing_else(alarms_only: App) -> None:
    ops = alarms_only.ops
    assert len(ops.alarms) == 6
    # max_execution_time reaches the execution-time alarm's threshold and description
    slow = alarms_only.json["Resources"][alarms_only.id_of(ops.execution_time_alarm)]["Properties"]
    assert (slow["MetricName"], slow["Threshold"]) == ("PipelineDuration", 5400)
    assert "longer than 1 hour 30 minutes" in slow["AlarmDescription"]
    for properties in alarms_only.resources("AWS::CloudWatch::Alarm").values():
        assert "AlarmActions" not in properties["Properties"]
    assert (ops.topic, ops.event_dead_letter_queue, ops.dashboard, ops.history_log_group, ops.trail) == (
        None,
        None,
        None,
        None,
        None,
    )
    for type_ in ("AWS::SNS::Topic", "AWS::CloudWatch::Dashboard", "AWS::Logs::QueryDefinition", "AWS::SQS::Queue"):
        assert not any(alarms_only.json["Resources"][i]["Type"] == type_ for i in alarms_only.ops_resources()), type_
    Annotations.from_stack(alarms_only.stack).has_warning(
        "/Ops/Operations",
        Match.string_like_regexp("notifications are off.*" + re.escape(ALARMS_WITHOUT_ACTIONS.id)),
    )


# ---------------------------------------------------------------------------------------------------------------
# Compliance


@pytest.mark.parametrize("pack", PACKS.values(), ids=PACKS.keys())
@pytest.mark.parametrize("variant", ["on", "alarms_only"])
def test_cdk_nag_reports_no_unacknowledged_error_on_the_construct(
    variant: str, pack: type[NagPack], request: pytest.FixtureRequest
) -> None:
    built: App = request.getfixturevalue(variant)
    report = pack(built.app).validate_scope(built.app)
    root = built.ops.node.path + "/"
    errors = sorted(
        f"{v.rule_name} at {r.construct_path}"
        for v in report.violations
        if v.severity == "error"
        for r in v.violating_resources
        if r.construct_path.startswith(root)
    )
    assert not errors, "\n".join(errors)


def acknowledged(built: App) -> set[tuple[str, str]]:
    root = built.ops.node.path
    return {
        (c.node.path.removeprefix(root + "/"), key.removeprefix("Annotation::"))
        for c in built.ops.node.find_all()
        for entry in c.node.metadata
        if entry.type == ACK_KEY
        for key in entry.data
    }


def test_only_unfixable_findings_are_acknowledged(on: App, alarms_only: App) -> None:
    on_acks = acknowledged(on)
    assert {finding for path, finding in on_acks if path == "DeadLetterQueue"} == {
        "AwsSolutions-SQS3",
        "Serverless-SQSRedrivePolicy",
    }
    assert {finding for path, finding in on_acks if path == "TrailBucket"} == {
        f"{pack}-S3BucketReplicationEnabled" for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
    }
    # The trail's access logs go to the pipeline's bucket: no access log bucket of its own.
    assert {path for path, _ in on_acks} == {"DeadLetterQueue", "TrailBucket"}
    assert {finding for path, finding in acknowledged(alarms_only)} == {
        "NIST.800.53.R5-CloudWatchAlarmAction",
        "HIPAA.Security-CloudWatchAlarmAction",
    }


# ---------------------------------------------------------------------------------------------------------------
# Inputs, against imported resources (no synthesis needed)


@dataclass(frozen=True)
class ImportedTrigger:
    rule: events.IRule
    dead_letter_queue: sqs.IQueue
    log_group: logs.ILogGroup


@dataclass(frozen=True)
class ImportedPipeline:
    """A MonitoredPipeline of imported resources: what a user with a pipeline of their own would pass."""

    pipeline: Any
    source_bucket: Any
    artifact_bucket: Any
    operations_key: Any
    trigger: Any
    stage_projects: Any
    access_log_bucket: Any = None


def imported(stack: cdk.Stack) -> ImportedPipeline:
    return ImportedPipeline(
        pipeline=codepipeline.Pipeline.from_pipeline_arn(
            stack, "ImportedPipeline", "arn:aws:codepipeline:eu-west-1:111111111111:uploads"
        ),
        stage_projects={"Validate": codebuild.Project.from_project_name(stack, "ImportedProject", "validate")},
        source_bucket=s3.Bucket.from_bucket_name(stack, "ImportedSource", "uploads"),
        artifact_bucket=s3.Bucket.from_bucket_name(stack, "ImportedArtifacts", "artifacts"),
        trigger=ImportedTrigger(
            rule=events.Rule.from_event_rule_arn(
                stack, "ImportedRule", "arn:aws:events:eu-west-1:111111111111:rule/uploads"
            ),
            dead_letter_queue=sqs.Queue.from_queue_arn(
                stack, "ImportedQueue", "arn:aws:sqs:eu-west-1:111111111111:dead-letters"
            ),
            log_group=logs.LogGroup.from_log_group_name(stack, "ImportedTriggerLogs", "trigger"),
        ),
        operations_key=kms.Key.from_key_arn(
            stack, "ImportedKey", "arn:aws:kms:eu-west-1:111111111111:key/11111111-2222-3333-4444-555555555555"
        ),
    )


def new_stack(name: str = "Inputs") -> cdk.Stack:
    return cdk.Stack(cdk.App(), name, env=cdk.Environment(account="111111111111", region="eu-west-1"))


def test_an_imported_pipeline_is_a_monitored_pipeline() -> None:
    """A user's own pipeline passes for MonitoredPipeline with the attributes it names (checked by mypy)."""
    view: MonitoredPipeline = imported(new_stack())
    assert view.stage_projects.keys() == {"Validate"}


def problems_with(options: Any = None, source_action_name: str = "Source", **attributes: Any) -> InputError:
    """Build with the current form, one attribute of the pipeline replaced: the problems name the attribute."""
    stack = new_stack()
    view = replace(imported(stack), **attributes)
    with pytest.raises(InputError) as raised:
        PipelineOperations(stack, "Operations", pipeline=view, options=options, source_action_name=source_action_name)
    return raised.value


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        (OperationsOptions(notifications=NotificationOptions(emails=["ops"])), "options.notifications.emails[0]"),
        (
            OperationsOptions(notifications=NotificationOptions(emails="ops@example.com")),
            "options.notifications.emails",
        ),
        (
            OperationsOptions(notifications=NotificationOptions(pipeline_states=["DONE"])),
            "options.notifications.pipeline_states",
        ),
        (OperationsOptions(notifications=NotificationOptions(topic="alerts")), "options.notifications.topic"),
        (
            OperationsOptions(alarms=AlarmOptions(max_execution_time=cdk.Duration.seconds(0))),
            "options.alarms.max_execution_time",
        ),
        (OperationsOptions(alarms=AlarmOptions(max_queue_time=900)), "options.alarms.max_queue_time"),
        (
            OperationsOptions(dashboard=DashboardOptions(dashboard_name="my dashboard")),
            "options.dashboard.dashboard_name",
        ),
        (
            OperationsOptions(audit=AuditOptions(history_retention_days=700)),
            "options.audit.history_retention_days",
        ),
        (OperationsOptions(audit=AuditOptions(trail="yes")), "options.audit.trail"),
        (OperationsOptions(alarms=True), "options.alarms"),
        ({"alarms": None}, "options"),
    ],
)
def test_bad_options_raise_input_error_naming_the_option(options: Any, argument: str) -> None:
    error = problems_with(options=options)
    assert argument in [problem.argument for problem in error.problems], str(error)


@pytest.mark.parametrize(
    ("attributes", "argument"),
    [
        ({"pipeline": "uploads"}, "pipeline.pipeline"),
        ({"stage_projects": {"Validate stage": codebuild.PipelineProject}}, "pipeline.stage_projects"),
        ({"stage_projects": {"Validate": "validate"}}, "pipeline.stage_projects['Validate']"),
        ({"source_bucket": "uploads"}, "pipeline.source_bucket"),
        ({"artifact_bucket": None}, "pipeline.artifact_bucket"),
        ({"operations_key": "alias/ops"}, "pipeline.operations_key"),
        ({"access_log_bucket": "logs"}, "pipeline.access_log_bucket"),
    ],
)
def test_bad_pipeline_attributes_raise_input_error_naming_the_attribute(
    attributes: dict[str, Any], argument: str
) -> None:
    error = problems_with(**attributes)
    assert argument in [problem.argument for problem in error.problems], str(error)


def test_fails_when_the_triggers_parts_are_not_what_they_should_be() -> None:
    stack = new_stack()
    view = imported(stack)
    broken = replace(view, trigger=ImportedTrigger(rule="uploads", dead_letter_queue="dlq", log_group=None))  # type: ignore[arg-type]
    with pytest.raises(InputError) as raised:
        PipelineOperations(stack, "Operations", pipeline=broken)
    assert [p.argument for p in raised.value.problems] == [
        "pipeline.trigger.dead_letter_queue",
        "pipeline.trigger.rule",
    ]


def test_fails_when_the_pipeline_is_neither_form() -> None:
    with pytest.raises(InputError, match=r"pipeline: got 'uploads'\. Expected a ValidatedS3Pipeline"):
        PipelineOperations(new_stack(), "Operations", pipeline="uploads")  # type: ignore[arg-type]


def test_every_problem_is_reported_at_once() -> None:
    error = problems_with(
        options=OperationsOptions(
            notifications=NotificationOptions(emails=["nobody"]),
            alarms=AlarmOptions(max_execution_time=cdk.Duration.seconds(0), max_queue_time=cdk.Duration.seconds(0)),
        ),
        source_action_name="",
    )
    assert [p.argument for p in error.problems] == [
        "source_action_name",
        "options.notifications.emails[0]",
        "options.alarms.max_execution_time",
        "options.alarms.max_queue_time",
    ]


def test_options_name_their_argument_for_the_pipeline() -> None:
    """ValidatedS3Pipeline can check its ``operations`` argument before building anything."""
    options = OperationsOptions(alarms=AlarmOptions(max_execution_time=cdk.Duration.seconds(0)))
    assert [p.argument for p in options.problems("operations")] == ["operations.alarms.max_execution_time"]
    assert OperationsOptions().problems("operations") == []
    assert EVERYTHING_OFF.problems("operations") == []


def test_imported_key_and_channel_cannot_be_changed_so_they_warn() -> None:
    stack = new_stack("Imported")
    channel = chatbot.SlackChannelConfiguration.from_slack_channel_configuration_arn(
        stack, "Channel", "arn:aws:chatbot::111111111111:chat-configuration/slack-channel/pipeline-ops"
    )
    PipelineOperations(
        stack,
        "Operations",
        pipeline=imported(stack),
        options=OperationsOptions(notifications=NotificationOptions(slack_channel=channel), dashboard=None),
    )
    annotations = Annotations.from_stack(stack)
    for warning in (OPERATIONS_KEY_POLICY_UNCHANGED.id, CHAT_CHANNEL_NOT_SUBSCRIBED.id):
        annotations.has_warning("/Imported/Operations", Match.string_like_regexp(re.escape(warning)))


def test_a_trail_without_an_access_log_bucket_gets_its_own() -> None:
    stack = new_stack()
    ops = PipelineOperations(stack, "Operations", pipeline=imported(stack), options=EVERYTHING_ON)
    assert ops.access_log_bucket is not None
    assert ops.access_log_bucket.node.path == "Inputs/Operations/TrailAccessLogs"
    acks = {
        (c.node.path.removeprefix("Inputs/Operations/"), key.removeprefix("Annotation::"))
        for c in ops.node.find_all()
        for entry in c.node.metadata
        if entry.type == ACK_KEY
        for key in entry.data
    }
    # The trail bucket's and the access log bucket's, made by the library's helper.
    assert {path.split("/")[0] for path, _ in acks} == {"DeadLetterQueue", "TrailBucket", "TrailAccessLogs"}


# ---------------------------------------------------------------------------------------------------------------
# Stages monitored later


@dataclass
class Later:
    ops: PipelineOperations
    project: codebuild.PipelineProject
    json: dict[str, Any] = field(repr=False)
    stack: cdk.Stack = field(repr=False)

    def ref(self, construct: Any) -> dict[str, str]:
        return {"Ref": self.stack.resolve(self.stack.get_logical_id(construct.node.default_child))}

    def properties(self, construct: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.json["Resources"][self.ref(construct)["Ref"]]["Properties"]
        return found


@pytest.fixture(scope="module")
def later() -> Later:
    # GIVEN operations made for a pipeline with one build stage
    stack = new_stack("Later")
    view = imported(stack)
    ops = PipelineOperations(stack, "Operations", pipeline=view, options=OperationsOptions())
    # WHEN a stage added afterwards is monitored
    project = codebuild.PipelineProject(stack, "IntegrationProject")
    ops.monitor_stage("Integration", project)
    return Later(ops, project, dict(Template.from_stack(stack).to_json()), stack)


def test_a_stage_monitored_later_gets_the_alarms_of_the_others(later: Later) -> None:
    ops = later.ops
    assert ops.topic is not None
    assert set(ops.failed_builds_alarms) == set(ops.queue_time_alarms) == {"Validate", "Integration"}
    assert ops.alarms[-2:] == [ops.failed_builds_alarms["Integration"], ops.queue_time_alarms["Integration"]]
    assert len(ops.alarms) == 8
    project = [{"Name": "ProjectName", "Value": later.ref(later.project)}]
    failed = later.properties(ops.failed_builds_alarms["Integration"])
    queued = later.properties(ops.queue_time_alarms["Integration"])
    assert (failed["MetricName"], failed["Dimensions"], failed["Threshold"]) == ("FailedBuilds", project, 1)
    assert (queued["MetricName"], queued["Dimensions"], queued["Threshold"]) == ("QueuedDuration", project, 900)
    for properties in (failed, queued):
        assert properties["AlarmActions"] == [later.ref(ops.topic)]
        assert "Integration stage" in properties["AlarmDescription"]


def test_a_stage_monitored_later_is_graphed_and_its_alarms_shown(later: Later) -> None:
    [dashboard] = [r for r in later.json["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    body = json.loads(joined(dashboard["Properties"]["DashboardBody"]))
    widgets = {w["properties"].get("title"): w for w in body["widgets"]}
    for title, metric in (
        ("Build duration per stage (seconds, average)", "Duration"),
        ("Build queue time per stage (seconds, maximum)", "QueuedDuration"),
    ):
        graphed = widgets[title]["properties"]["metrics"]
        assert [(m[1], m[-1]["label"]) for m in graphed] == [(metric, "Validate"), (metric, "Integration")]
    assert len(widgets["Alarms"]["properties"]["alarms"]) == len(later.ops.alarms) == 8


def test_a_stage_is_monitored_once_and_must_be_a_project(later: Later) -> None:
    with pytest.raises(InputError) as raised:
        later.ops.monitor_stage("Integration", "project")  # type: ignore[arg-type]
    assert [p.argument for p in raised.value.problems] == ["stage_name", "project"]
    assert "already has a stage 'Integration'" in str(raised.value)
    assert len(later.ops.alarms) == 8


def test_a_stage_monitored_later_gets_nothing_when_alarms_and_dashboard_are_off() -> None:
    stack = new_stack()
    ops = PipelineOperations(stack, "Operations", pipeline=imported(stack), options=EVERYTHING_OFF)
    ops.monitor_stage("Integration", codebuild.PipelineProject(stack, "IntegrationProject"))
    assert (ops.alarms, ops.failed_builds_alarms, ops.queue_time_alarms, ops.node.children) == ([], {}, {}, [])


def test_a_dashboard_made_without_stages_graphs_the_first_one_monitored_in_a_new_row() -> None:
    # GIVEN operations of a pipeline without build stages, alarms off
    stack = new_stack()
    view = replace(imported(stack), stage_projects={})
    ops = PipelineOperations(stack, "Operations", pipeline=view, options=OperationsOptions(alarms=None))
    assert ops.dashboard is not None

    dashboard = ops.dashboard.node.default_child
    assert isinstance(dashboard, cloudwatch.CfnDashboard)

    def titles() -> list[str]:
        body = json.loads(joined(stack.resolve(dashboard.dashboard_body)))
        return [w["properties"].get("title") for w in body["widgets"]]

    assert "Build duration per stage (seconds, average)" not in titles()
    # WHEN a stage is monitored
    ops.monitor_stage("Integration", codebuild.PipelineProject(stack, "IntegrationProject"))
    # THEN its graphs are added at the end
    assert titles()[-2:] == [
        "Build duration per stage (seconds, average)",
        "Build queue time per stage (seconds, maximum)",
    ]


def test_the_monitored_pipeline_protocol_is_what_validated_s3_pipeline_has(on: App) -> None:
    view: MonitoredPipeline = on.pipeline
    assert isinstance(view.stage_projects, Mapping)
    assert set(view.stage_projects) == set(on.ops.failed_builds_alarms) == {"Validate"}
