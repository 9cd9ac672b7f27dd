"""Operations for a pipeline: notifications, alarms, a dashboard, an execution history and an optional audit trail.

``PipelineOperations`` watches one pipeline and the CodeBuild projects of its build stages. Every part is chosen by
its own options object in ``OperationsOptions`` and can be switched off by passing ``None`` (``audit``: by its flags).

Modules: ``options`` (what to build, and its checks), ``construct`` (``PipelineOperations``, which wires the parts),
and one module per part, each built by one function that returns what it made: ``notifications``, ``alarms``,
``history``, ``trail`` and ``dashboard``. What the parts share is in ``_common``.

What it costs, in us-east-1 at the time of writing (see each options class):

* notifications: SNS charges per message (email: 1,000 a month free, then $2 per 100,000); rules on AWS service
  events are free;
* alarms: $0.10 per alarm a month (3 + 2 per build stage with the defaults);
* dashboard: about $3 a month (an account's first three dashboards of up to 50 metrics are free);
* history: CloudWatch Logs ingestion and storage of a few KB per execution, and up to four custom metrics
  ($0.30 each a month) for the dashboard's outcome graph;
* trail (off by default): $0.10 per 100,000 S3 data events, plus their CloudWatch Logs ingestion ($0.50 per GB),
  S3 storage and $1 a month for the trail's KMS key.
"""

from __future__ import annotations

from .._warnings import ALARMS_WITHOUT_ACTIONS, CHAT_CHANNEL_NOT_SUBSCRIBED, OPERATIONS_KEY_POLICY_UNCHANGED
from ._arguments import MonitoredPipeline, MonitoredTrigger
from ._common import ACTION_EXECUTION_EVENT, PIPELINE_EXECUTION_EVENT, STAGE_EXECUTION_EVENT
from .construct import PipelineOperations
from .history import METRIC_NAMESPACE, OUTCOMES
from .options import (
    PIPELINE_STATES,
    AlarmOptions,
    AuditOptions,
    DashboardOptions,
    NotificationOptions,
    OperationsOptions,
)

ALARMS_WITHOUT_ACTIONS_WARNING = ALARMS_WITHOUT_ACTIONS.id
"""Alarms are on but notifications are off, so the alarms notify nobody."""
CHAT_CHANNEL_NOT_SUBSCRIBED_WARNING = CHAT_CHANNEL_NOT_SUBSCRIBED.id
"""The Slack channel configuration is imported, so it cannot be subscribed to the chat topic."""
KEY_POLICY_UNCHANGED_WARNING = OPERATIONS_KEY_POLICY_UNCHANGED.id
"""The operations key is imported, so its policy cannot be extended for EventBridge, CloudWatch and SNS."""

__all__ = [
    "ACTION_EXECUTION_EVENT",
    "ALARMS_WITHOUT_ACTIONS_WARNING",
    "CHAT_CHANNEL_NOT_SUBSCRIBED_WARNING",
    "KEY_POLICY_UNCHANGED_WARNING",
    "METRIC_NAMESPACE",
    "OUTCOMES",
    "PIPELINE_EXECUTION_EVENT",
    "PIPELINE_STATES",
    "STAGE_EXECUTION_EVENT",
    "AlarmOptions",
    "AuditOptions",
    "DashboardOptions",
    "MonitoredPipeline",
    "MonitoredTrigger",
    "NotificationOptions",
    "OperationsOptions",
    "PipelineOperations",
]
