"""KMS-encrypted log groups with a retention CloudWatch Logs accepts."""

from __future__ import annotations

from typing import cast

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from ._inputs import positive_days_problems
from .errors import Problem, unresolved

RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The values CloudWatch Logs accepts for a log group's retention, in days."""


def retention_problems(argument: str, days: int) -> list[Problem]:
    """Return a problem unless ``days`` is a retention CloudWatch Logs accepts."""
    found = positive_days_problems(argument, days)
    if found or unresolved(days):
        return found
    if days not in RETENTION_DAYS:
        return [
            Problem(
                argument,
                days,
                f"CloudWatch Logs keeps logs for one of these numbers of days: {', '.join(map(str, RETENTION_DAYS))}."
                " Pick the nearest.",
            )
        ]
    return []


def encrypted_log_group(scope: Construct, id: str, *, key: kms.IKey, retention_days: int) -> logs.LogGroup:
    """Define a log group encrypted with ``key`` that keeps events ``retention_days`` days and outlives the stack."""
    group = logs.LogGroup(scope, id, encryption_key=key, removal_policy=RemovalPolicy.RETAIN)
    # The L2 takes an enum; CloudWatch takes days. Setting days directly avoids a hand-kept mapping.
    cast(logs.CfnLogGroup, group.node.default_child).retention_in_days = retention_days
    return group
