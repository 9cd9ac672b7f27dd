"""Operations for a pipeline: notifications, alarms, a dashboard, an execution history and an optional audit trail.

``ValidatedS3Pipeline`` builds a ``PipelineOperations`` (``pipeline.operations``) that watches the pipeline and the
CodeBuild projects of its build stages. Every part is chosen by
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

from .construct import PipelineOperations
from .options import AlarmOptions, AuditOptions, DashboardOptions, NotificationOptions, OperationsOptions

__all__ = [
    "AlarmOptions",
    "AuditOptions",
    "DashboardOptions",
    "NotificationOptions",
    "OperationsOptions",
    "PipelineOperations",
]
