"""Many pipelines, one foundation: ``PipelineFoundation`` defines once what pipelines can share.

Modules: ``construct`` (``PipelineFoundation``: keys, buckets, dead letters, topic, history, trail, dashboard) and
``member`` (what each pipeline on a foundation has of its own: the boundary keeping its roles to its own objects,
named projects, alarms and a dashboard row).
"""

from __future__ import annotations

from .construct import PipelineFoundation
from .member import MemberOperations

__all__ = ["MemberOperations", "PipelineFoundation"]
