"""A small IAM policy evaluator over synthesized CloudFormation templates, for tests that ask "may X do Y on Z?".

Three parts, each usable without the others:

- ``Resolver`` turns CloudFormation values (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::ImportValue``)
  into plain strings, so that a policy can be matched against request ARNs. It is the product's resolver
  (``cli/_local/assembly.py``, which ``s3vp run`` reads a cloud assembly with), giving references other values:
  ``AWS::AccountId`` and ``AWS::Region`` are the stack's environment (``environments``; ``ACCOUNT`` and ``REGION``
  for a stack it does not name), the partition ``aws``; a resource's ``Ref``/``Arn`` becomes an ARN shaped like the
  real one (bucket ARNs are ``arn:aws:s3:::<name>``), so that wildcards in a policy (``arn:aws:s3:::*``) match it as
  they would in AWS (a role's ARN carries its ``Path``, as IAM's does); an ``Fn::ImportValue`` is resolved through
  the export of the stack that declares it, so a bucket's ARN reads the same in the stack that defines it and in
  every stack that imports it. Anything it does not know (another intrinsic, an export no stack declares, a resource
  the template lacks) raises: it never guesses.
- ``decide`` evaluates statements the way IAM does, for what these tests need: ``Allow``/``Deny``; ``Action`` or
  ``NotAction`` (wildcards ``*`` and ``?``, case-insensitive); ``Resource`` or ``NotResource`` (the same
  wildcards, case-sensitive, ARN by ARN segment); ``Principal`` (resource policies); and a few condition operators
  (``String*``, ``Arn*``, ``Null``, ``Bool``, ``NumericLessThan``, with ``ForAllValues:``/``ForAnyValue:``; condition
  keys compare case-insensitively). An explicit deny wins; without a matching allow the answer is an implicit deny.
  An operator it does not know raises.
- ``authorize`` weighs one request of a ``Caller`` (a role with its identity policies and boundary, or an AWS
  service) against every policy that applies, as IAM's evaluation logic does: an explicit deny anywhere wins; a
  resource policy (bucket, key, queue, topic, CloudWatch Logs, role trust: ``resource_policies``) that names the
  caller allows on its own within an account, one that names the caller's account delegates to its identity policies;
  across accounts both sides must allow; a KMS key allows only what its key policy allows, directly or by enabling
  the account's IAM policies; a service is allowed only by a resource policy naming it.

``Role`` and ``roles_in`` gather what a template attaches to each ``AWS::IAM::Role``: its identity policies and its
permissions boundary; ``Role.may`` is allowed only when both allow (IAM's intersection of the two). ``callers_in``
gives every role of an app as a ``Caller``, the roles its templates import by name included.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any

from s3_validated_pipeline.cli._local import assembly

PARTITION = "aws"
ACCOUNT = "111122223333"
REGION = "eu-west-1"

Template = Mapping[str, Any]
Context = Mapping[str, "str | Sequence[str]"]

# ---------------------------------------------------------------------------------------------------------------
# Resolving CloudFormation values

# AWS::AccountId and AWS::Region are the stack's own: ``Resolver.reference`` answers them.
_PSEUDO = {"AWS::Partition": PARTITION, "AWS::URLSuffix": "amazonaws.com"}

# Where a resource type keeps its physical name, when the template sets one.
_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodeBuild::ReportGroup": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudTrail::Trail": "TrailName",
}


class Resolver(assembly.Resolver):
    """The product's resolver (``s3vp run`` reads a cloud assembly with it), giving ARN-shaped values: see the
    module's docstring. A reference to something the templates do not define raises.

    ``environments`` maps a stack's name to its (account, region); a stack it does not name is in ``ACCOUNT`` and
    ``REGION``.
    """

    pseudo = _PSEUDO

    def __init__(
        self, templates: Mapping[str, Mapping[str, Any]], environments: Mapping[str, tuple[str, str]] | None = None
    ) -> None:
        self.environments = dict(environments or {})  # before the exports are resolved, which may need them
        super().__init__(templates)

    def account(self, stack: str) -> str:
        """The account ``stack`` is deployed to."""
        return self.environments.get(stack, (ACCOUNT, REGION))[0]

    def region(self, stack: str) -> str:
        """The Region ``stack`` is deployed to."""
        return self.environments.get(stack, (ACCOUNT, REGION))[1]

    def _string(self, stack: str, value: Any) -> str:
        resolved = self.resolve(stack, value)
        if not isinstance(resolved, str):
            raise ValueError(f"expected a string in {stack}, got {resolved!r} from {value!r}")
        return resolved

    def _resource(self, stack: str, logical_id: str) -> tuple[str, Mapping[str, Any]]:
        resource = self.templates[stack]["Resources"].get(logical_id)
        if resource is None:
            raise ValueError(f"{stack} has no resource {logical_id}")
        return resource["Type"], resource.get("Properties", {})

    def _name(self, stack: str, logical_id: str) -> str:
        """The resource's physical name: the one the template sets, else a stand-in unique in the app."""
        type_, properties = self._resource(stack, logical_id)
        given = properties.get(_NAME_PROPERTY.get(type_, ""))
        if given is not None:
            return self._string(stack, given)
        stand_in = f"{stack}-{logical_id}"
        return stand_in.lower() if type_ == "AWS::S3::Bucket" else stand_in  # S3 names are lowercase

    def reference(self, stack: str, name: str) -> str:
        if name == "AWS::AccountId":
            return self.account(stack)
        if name == "AWS::Region":
            return self.region(stack)
        if name in self.templates[stack].get("Parameters", {}):
            return f"<{stack}.{name}>"
        type_, _ = self._resource(stack, name)
        physical = self._name(stack, name)
        account, region = self.account(stack), self.region(stack)
        if type_ == "AWS::KMS::Key":
            return f"key-{physical}"  # a key's Ref is its id
        if type_ == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{region}:{account}:{physical}"  # a topic's Ref is its ARN
        if type_ == "AWS::SQS::Queue":
            return f"https://sqs.{region}.amazonaws.com/{account}/{physical}"  # a queue's Ref is its URL
        if type_ == "AWS::IAM::ManagedPolicy":
            return f"arn:{PARTITION}:iam::{account}:policy/{physical}"  # a managed policy's Ref is its ARN
        return physical

    def attribute(self, stack: str, logical_id: str, attribute: str) -> str:
        type_, properties = self._resource(stack, logical_id)
        name = self._name(stack, logical_id)
        account, region = self.account(stack), self.region(stack)
        path = self._string(stack, properties.get("Path", "/")) if type_ == "AWS::IAM::Role" else "/"
        arn = {
            ("AWS::S3::Bucket", "Arn"): f"arn:{PARTITION}:s3:::{name}",
            ("AWS::KMS::Key", "Arn"): f"arn:{PARTITION}:kms:{region}:{account}:key/key-{name}",
            # A role's ARN carries its path: arn:aws:iam::<account>:role/<path>/<name>
            ("AWS::IAM::Role", "Arn"): f"arn:{PARTITION}:iam::{account}:role{path}{name}",
            ("AWS::SQS::Queue", "Arn"): f"arn:{PARTITION}:sqs:{region}:{account}:{name}",
            ("AWS::SNS::Topic", "TopicArn"): f"arn:{PARTITION}:sns:{region}:{account}:{name}",
            ("AWS::Events::Rule", "Arn"): f"arn:{PARTITION}:events:{region}:{account}:rule/{name}",
            ("AWS::CodeBuild::Project", "Arn"): f"arn:{PARTITION}:codebuild:{region}:{account}:project/{name}",
            ("AWS::CodeBuild::ReportGroup", "Arn"): f"arn:{PARTITION}:codebuild:{region}:{account}:report-group/{name}",
            ("AWS::Logs::LogGroup", "Arn"): f"arn:{PARTITION}:logs:{region}:{account}:log-group:{name}:*",
            ("AWS::CloudWatch::Alarm", "Arn"): f"arn:{PARTITION}:cloudwatch:{region}:{account}:alarm:{name}",
            ("AWS::CloudTrail::Trail", "Arn"): f"arn:{PARTITION}:cloudtrail:{region}:{account}:trail/{name}",
        }.get((type_, attribute))
        # No ARN shape known: a placeholder naming the attribute, equal only to itself.
        return arn if arn is not None else f"<{stack}.{logical_id}.{attribute}>"


# ---------------------------------------------------------------------------------------------------------------
# Matching


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters (``/`` included), ``?`` one character; all else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches ``pattern`` with IAM's wildcards (``*``, ``?``)."""
    if "*" not in pattern and "?" not in pattern:  # most patterns: no regular expression needed
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Actions compare case-insensitively: ``s3:getobject`` is ``s3:GetObject``."""
    return matches(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """ARNs compare segment by segment (the six ``:``-separated parts), each with wildcards; ``*`` is any ARN."""
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        return pattern == arn
    wanted, given = pattern.split(":", 5), arn.split(":", 5)
    return len(wanted) == len(given) and all(matches(p, v) for p, v in zip(wanted, given, strict=True))


# ---------------------------------------------------------------------------------------------------------------
# Statements and decisions


def _as_tuple(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    for item in values:
        if not isinstance(item, str):
            raise ValueError(f"unresolved value in a policy: {item!r}")
    return tuple(values)


def _condition_values(value: Any) -> tuple[str, ...]:
    """A condition's values as strings, as IAM compares them (``1.2`` is ``"1.2"``, ``True`` is ``"true"``)."""
    values = value if isinstance(value, list) else [value]
    return _as_tuple(
        [str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, (int, float)) else v for v in values]
    )


@dataclass(frozen=True)
class Statement:
    """One policy statement, its values resolved to strings."""

    effect: str
    actions: tuple[str, ...]
    not_action: bool  # True: ``actions`` came from NotAction
    resources: tuple[str, ...]
    not_resource: bool  # True: ``resources`` came from NotResource
    principals: tuple[tuple[str, str], ...] | None = None  # (kind, value); None in identity policies
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    sid: str = ""

    @classmethod
    def parse(cls, raw: Mapping[str, Any], *, resource: str | None = None) -> Statement:
        """A statement from a resolved policy document; keys this evaluator does not know raise.

        ``resource``: what a statement without ``Resource`` or ``NotResource`` is about, as in a role's trust policy
        (the role itself). Without it, such a statement raises.
        """
        if resource is not None and "Resource" not in raw and "NotResource" not in raw:
            raw = {**raw, "Resource": resource}
        unknown = set(raw) - {
            "Sid",
            "Effect",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Principal",
            "Condition",
        }
        if unknown:
            raise ValueError(f"unsupported statement keys {sorted(unknown)}: {raw}")
        if raw["Effect"] not in ("Allow", "Deny"):
            raise ValueError(f"unknown effect {raw['Effect']!r}")
        if ("Action" in raw) == ("NotAction" in raw) or ("Resource" in raw) == ("NotResource" in raw):
            raise ValueError(f"a statement needs exactly one of Action/NotAction and of Resource/NotResource: {raw}")
        principals = None
        if "Principal" in raw:
            principal = raw["Principal"]
            principals = (
                (("*", "*"),)
                if principal == "*"
                else tuple((kind, value) for kind, values in principal.items() for value in _as_tuple(values))
            )
        conditions = {
            operator: {key: _condition_values(values) for key, values in keys.items()}
            for operator, keys in raw.get("Condition", {}).items()
        }
        return cls(
            effect=raw["Effect"],
            actions=_as_tuple(raw.get("Action", raw.get("NotAction"))),
            not_action="NotAction" in raw,
            resources=_as_tuple(raw.get("Resource", raw.get("NotResource"))),
            not_resource="NotResource" in raw,
            principals=principals,
            conditions=conditions,
            sid=raw.get("Sid", ""),
        )

    def applies(self, action: str, resource: str, principal: tuple[str, str] | None, context: Context) -> bool:
        """Whether this statement covers the request; its effect is the caller's to weigh."""
        if self.principals is not None and not _principal_matches(self.principals, principal):
            return False
        return self.covers(action, resource, context)

    def covers(self, action: str, resource: str, context: Context) -> bool:
        """Whether the statement's actions, resources and conditions cover the request, whoever makes it."""
        named = any(action_matches(pattern, action) for pattern in self.actions)
        if named == self.not_action:
            return False
        named = any(arn_matches(pattern, resource) for pattern in self.resources)
        if named == self.not_resource:
            return False
        return all(
            _condition_holds(operator, key, values, context)
            for operator, keys in self.conditions.items()
            for key, values in keys.items()
        )


def statements_of(document: Mapping[str, Any], *, resource: str | None = None) -> tuple[Statement, ...]:
    """The statements of a resolved policy document (``resource``: see ``Statement.parse``)."""
    raw = document["Statement"]
    return tuple(Statement.parse(item, resource=resource) for item in (raw if isinstance(raw, list) else [raw]))


def _principal_matches(principals: Sequence[tuple[str, str]], principal: tuple[str, str] | None) -> bool:
    """``"*"`` and ``{"AWS": "*"}`` name everyone (IAM treats them alike); otherwise the kind and value must match."""
    if principal is None:
        raise ValueError("a resource policy's statement needs the request's principal")
    kind, value = principal
    return any(
        want_kind == "*" or (want_kind == "AWS" and want == "*") or (want_kind == kind and want == value)
        for want_kind, want in principals
    )


_STRING_TESTS = {
    "String": lambda pattern, value: pattern == value,
    "StringLike": matches,
    "Arn": arn_matches,  # ArnEquals and ArnLike behave alike: both take wildcards
    "ArnLike": arn_matches,
}


def _condition_holds(operator: str, key: str, patterns: tuple[str, ...], context: Context) -> bool:
    """One condition key of one operator, as IAM evaluates it (a key missing from the request included)."""
    qualifier, _, base = operator.rpartition(":")
    # Condition keys are case-insensitive: aws:SourceArn is aws:sourcearn.
    found = [value for name, value in context.items() if name.lower() == key.lower()]
    present = bool(found)
    raw = found[0] if found else None
    values: tuple[str, ...] = () if raw is None else ((raw,) if isinstance(raw, str) else tuple(raw))
    if base == "Null":
        # {"Null": {key: "true"}}: the key is absent; "false": it is present.
        return all((pattern == "true") != present for pattern in patterns)
    if base == "Bool":
        return present and any(v.lower() == p.lower() for v in values for p in patterns)
    if base == "NumericLessThan":
        return present and any(float(v) < float(p) for v in values for p in patterns)
    negated = "Not" in base
    name = base.replace("Not", "", 1)
    name = {"StringEquals": "String", "ArnEquals": "Arn"}.get(name, name)
    if name not in _STRING_TESTS:
        raise ValueError(f"unsupported condition operator {operator}")
    test = _STRING_TESTS[name]

    def one(value: str) -> bool:
        hit = any(test(pattern, value) for pattern in patterns)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(value) for value in values)  # true for a missing or empty key
    if qualifier == "ForAnyValue":
        return any(one(value) for value in values)  # false for a missing key
    if qualifier:
        raise ValueError(f"unsupported condition qualifier {operator}")
    if not present:
        return negated  # a missing key matches no value: a negated operator holds, a positive one does not
    return all(one(value) for value in values) if negated else any(one(value) for value in values)


class Effect(Enum):
    """The outcome of evaluating statements for one request."""

    ALLOW = "Allow"
    DENY = "Deny"  # an explicit deny
    NOT_ALLOWED = "NotAllowed"  # nothing allows it: an implicit deny


@dataclass(frozen=True)
class Decision:
    effect: Effect
    by: tuple[str, ...]  # the sids (or indexes) of the statements that decided it

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW


def decide(
    statements: Sequence[Statement],
    *,
    action: str,
    resource: str,
    principal: tuple[str, str] | None = None,
    context: Context | None = None,
) -> Decision:
    """IAM's decision over ``statements``: an explicit deny wins, then any allow, else an implicit deny."""
    context = context or {}
    applying = [
        (statement.sid or f"#{index}", statement.effect)
        for index, statement in enumerate(statements)
        if statement.applies(action, resource, principal, context)
    ]
    denies = tuple(sid for sid, effect in applying if effect == "Deny")
    if denies:
        return Decision(Effect.DENY, denies)
    allows = tuple(sid for sid, effect in applying if effect == "Allow")
    return Decision(Effect.ALLOW, allows) if allows else Decision(Effect.NOT_ALLOWED, ())


# ---------------------------------------------------------------------------------------------------------------
# Roles of a template


@dataclass(frozen=True)
class Role:
    """An ``AWS::IAM::Role`` of a template, with what its template attaches to it."""

    stack: str
    logical_id: str
    identity: tuple[Statement, ...]
    boundary: tuple[Statement, ...] | None  # None: no permissions boundary
    boundary_id: str | None = None

    def identity_allows(self, action: str, resource: str, context: Context | None = None) -> bool:
        return decide(self.identity, action=action, resource=resource, context=context).allowed

    def may(self, action: str, resource: str, context: Context | None = None) -> bool:
        """The role's effective permission: its identity policies allow it AND its boundary (if any) allows it."""
        if not self.identity_allows(action, resource, context):
            return False
        return self.boundary is None or decide(self.boundary, action=action, resource=resource, context=context).allowed


def _refs(value: Any) -> list[str]:
    """The logical ids named by ``Ref`` in a list of ``Roles``; plain role names are not this template's roles."""
    return [item["Ref"] for item in value if isinstance(item, dict) and "Ref" in item]


def roles_in(resolver: Resolver, stack: str) -> dict[str, Role]:
    """Every ``AWS::IAM::Role`` of ``stack``, by logical id, with its identity policies and its boundary.

    Identity policies: the role's inline ``Policies``, every ``AWS::IAM::Policy``/``ManagedPolicy`` whose ``Roles``
    name it, and the managed policies in its ``ManagedPolicyArns`` (which must be this template's: an AWS managed
    policy's text is not in the template, so it raises rather than being skipped).
    """
    resources = resolver.templates[stack]["Resources"]

    def document(logical_id: str, kind: str) -> tuple[Statement, ...]:
        resource = resources.get(logical_id)
        if resource is None or resource["Type"] != "AWS::IAM::ManagedPolicy":
            raise ValueError(f"{stack}: {kind} {logical_id} is not a managed policy of this template")
        return statements_of(resolver.resolve(stack, resource["Properties"]["PolicyDocument"]))

    found: dict[str, Role] = {}
    for role_id, role in resources.items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        properties = role.get("Properties", {})
        identity: list[Statement] = []
        for inline in properties.get("Policies", []):
            identity.extend(statements_of(resolver.resolve(stack, inline["PolicyDocument"])))
        for arn in properties.get("ManagedPolicyArns", []):
            if not (isinstance(arn, dict) and "Ref" in arn):
                raise ValueError(f"{stack}: {role_id} has a managed policy this evaluator cannot read: {arn!r}")
            identity.extend(document(arn["Ref"], "managed policy"))
        for policy in resources.values():
            if policy["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and role_id in _refs(
                policy["Properties"].get("Roles", [])
            ):
                identity.extend(statements_of(resolver.resolve(stack, policy["Properties"]["PolicyDocument"])))
        boundary_ref = properties.get("PermissionsBoundary")
        boundary_id = None
        boundary = None
        if boundary_ref is not None:
            if not (isinstance(boundary_ref, dict) and "Ref" in boundary_ref):
                raise ValueError(f"{stack}: {role_id}'s boundary is not a managed policy of this template")
            boundary_id = boundary_ref["Ref"]
            boundary = document(boundary_id, "boundary")
        found[role_id] = Role(stack, role_id, tuple(identity), boundary, boundary_id)
    return found


def policies_for_role_name(resolver: Resolver, stack: str, role_name: str) -> tuple[Statement, ...]:
    """The statements ``stack`` attaches to a role it does not define, named by its name (an imported role)."""
    found: list[Statement] = []
    for resource in resolver.templates[stack]["Resources"].values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and role_name in resource[
            "Properties"
        ].get("Roles", []):
            found.extend(statements_of(resolver.resolve(stack, resource["Properties"]["PolicyDocument"])))
    return tuple(found)


def principals_allowed(
    statements: Sequence[Statement], *, action: str, resource: str, context: Context | None = None
) -> set[tuple[str, str]]:
    """Every principal (kind, value) that a resource policy's statements allow the request, among those it names:
    ``("*", "*")`` or ``("AWS", "*")`` when it allows everyone. An IAM policy can add to these only where a principal
    is an account (``arn:...:root``), which delegates to that account's IAM policies."""
    named = {principal for statement in statements for principal in statement.principals or ()}
    return {
        principal
        for principal in named
        if decide(statements, action=action, resource=resource, principal=principal, context=context).allowed
    }


# ---------------------------------------------------------------------------------------------------------------
# Callers, resource policies and IAM's evaluation of one request


@dataclass(frozen=True)
class Caller:
    """Who makes a request: a role (``arn``, with its identity policies and boundary) or an AWS service (``service``,
    e.g. ``events.amazonaws.com``, which has no identity policy and is allowed only by resource policies)."""

    account: str
    arn: str = ""
    service: str = ""
    identity: tuple[Statement, ...] = ()
    boundary: tuple[Statement, ...] | None = None  # None: no permissions boundary

    def __post_init__(self) -> None:
        if bool(self.arn) == bool(self.service):
            raise ValueError(f"a caller is a role or a service, got arn={self.arn!r} service={self.service!r}")

    @property
    def name(self) -> str:
        return self.arn or self.service


class Grant(Enum):
    """How a resource policy's statement names a caller."""

    DIRECT = "direct"  # the caller itself (its ARN, its service name, or everyone)
    ACCOUNT = "account"  # the caller's account, which delegates to the account's IAM policies


def _grant(principals: Sequence[tuple[str, str]], caller: Caller) -> Grant | None:
    best: Grant | None = None
    for kind, value in principals:
        if kind == "*" or (kind == "AWS" and value == "*"):
            return Grant.DIRECT
        if caller.service:
            if kind == "Service" and value == caller.service:
                return Grant.DIRECT
            continue
        if kind == "AWS" and value == caller.arn:
            return Grant.DIRECT
        if kind == "AWS" and value in (caller.account, f"arn:{PARTITION}:iam::{caller.account}:root"):
            best = Grant.ACCOUNT
    return best


@dataclass(frozen=True)
class ResourcePolicy:
    """A policy attached to resources: a bucket's (its ARN and every object under it), a key's, a queue's, a topic's,
    a role's trust policy (the role's ARN), or a CloudWatch Logs resource policy (every log group and stream of its
    account and Region)."""

    kind: str  # "bucket", "key", "queue", "topic", "trust" or "logs"
    scope: str  # the ARN it is attached to; for "logs", the prefix of its account's log ARNs
    account: str  # the account owning the resource
    statements: tuple[Statement, ...]
    origin: str  # where it comes from, for messages: "<stack>/<logical id>" or a description

    def applies_to(self, arn: str) -> bool:
        if self.kind == "bucket":
            return arn == self.scope or arn.startswith(self.scope + "/")
        if self.kind == "logs":
            return arn.startswith(self.scope)
        return arn == self.scope


def _queue_arn(url: str) -> str:
    """``https://sqs.<region>.amazonaws.com/<account>/<name>`` as ``arn:aws:sqs:<region>:<account>:<name>``."""
    matched = re.fullmatch(r"https://sqs\.([^.]+)\.amazonaws\.com/(\d+|[^/]+)/([^/]+)", url)
    if matched is None:
        raise ValueError(f"not a queue URL: {url!r}")
    region, account, name = matched.groups()
    return f"arn:{PARTITION}:sqs:{region}:{account}:{name}"


def _attached(
    resolver: Resolver, stack: str, logical_id: str, resource: Mapping[str, Any]
) -> list[tuple[str, str, Any]]:
    """(kind, scope, policy document) of each policy ``resource`` attaches to resources; none for other types."""
    properties, type_ = resource.get("Properties", {}), resource["Type"]
    if type_ == "AWS::S3::BucketPolicy":
        return [
            (
                "bucket",
                f"arn:{PARTITION}:s3:::{resolver.resolve(stack, properties['Bucket'])}",
                properties["PolicyDocument"],
            )
        ]
    if type_ == "AWS::KMS::Key":
        return [("key", resolver.attribute(stack, logical_id, "Arn"), properties["KeyPolicy"])]
    if type_ == "AWS::SQS::QueuePolicy":
        return [
            ("queue", _queue_arn(resolver.resolve(stack, q)), properties["PolicyDocument"])
            for q in properties["Queues"]
        ]
    if type_ == "AWS::SNS::TopicPolicy":
        return [("topic", resolver.resolve(stack, t), properties["PolicyDocument"]) for t in properties["Topics"]]
    if type_ == "AWS::Logs::ResourcePolicy":
        scope = f"arn:{PARTITION}:logs:{resolver.region(stack)}:{resolver.account(stack)}:"
        return [("logs", scope, json.loads(resolver.resolve(stack, properties["PolicyDocument"])))]
    if type_ == "AWS::IAM::Role":
        return [("trust", resolver.attribute(stack, logical_id, "Arn"), properties["AssumeRolePolicyDocument"])]
    return []


def resource_policies(resolver: Resolver) -> tuple[ResourcePolicy, ...]:
    """Every resource policy of the resolver's templates: bucket, key, queue and topic policies, CloudWatch Logs
    resource policies and role trust policies, each resolved and scoped to the resources it is attached to."""
    found: list[ResourcePolicy] = []
    for stack, template in resolver.templates.items():
        for logical_id, resource in template["Resources"].items():
            for kind, scope, document in _attached(resolver, stack, logical_id, resource):
                # A trust policy's statements name no resource: they are about the role.
                statements = statements_of(
                    resolver.resolve(stack, document), resource=scope if kind == "trust" else None
                )
                found.append(ResourcePolicy(kind, scope, resolver.account(stack), statements, f"{stack}/{logical_id}"))
    return tuple(found)


def callers_in(resolver: Resolver) -> dict[str, Caller]:
    """Every role of the resolver's templates as a ``Caller``, by ARN: the roles they define (``roles_in``) and the
    roles they import by name, with the policies the templates attach to them (in any stack of the same account)."""
    found: dict[str, Caller] = {}
    imported: dict[str, list[Statement]] = {}
    for stack, template in resolver.templates.items():
        account = resolver.account(stack)
        for logical_id, role in roles_in(resolver, stack).items():
            arn = resolver.attribute(stack, logical_id, "Arn")
            found[arn] = Caller(account=account, arn=arn, identity=role.identity, boundary=role.boundary)
        for resource in template["Resources"].values():
            if resource["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                continue
            for name in resource["Properties"].get("Roles", []):
                if isinstance(name, str):
                    arn = f"arn:{PARTITION}:iam::{account}:role/{name}"
                    document = resolver.resolve(stack, resource["Properties"]["PolicyDocument"])
                    imported.setdefault(arn, []).extend(statements_of(document))
    for arn, statements in imported.items():
        if arn in found:
            # Defined in one stack and given a policy by name in another (a project in another Region, verified with
            # the pipeline's key): IAM applies every policy attached to the role.
            found[arn] = dataclasses.replace(found[arn], identity=(*found[arn].identity, *statements))
            continue
        found[arn] = Caller(account=arn.split(":")[4], arn=arn, identity=tuple(statements))
    return found


@dataclass(frozen=True)
class Verdict:
    """IAM's answer to one request, and why."""

    allowed: bool
    reason: str


class Undecidable(ValueError):
    """The request's answer depends on a policy nobody gave: the key policy of a key, the trust policy of a role."""


def _account_of(arn: str, policies: Sequence[ResourcePolicy], caller: Caller) -> str:
    """The account owning the resource: its ARN's, else its policy's (S3 ARNs name none), else the caller's."""
    parts = arn.split(":")
    if len(parts) > 4 and parts[4]:
        return parts[4]
    return policies[0].account if policies else caller.account


def _own_policy_required(action: str, resource: str) -> bool:
    """A key's policy must allow every use of the key, and a role's trust policy every assumption of the role."""
    return resource.startswith(f"arn:{PARTITION}:kms:") or (
        action.lower().startswith("sts:") and re.match(rf"arn:{PARTITION}:iam::\d*:role/", resource) is not None
    )


def authorize(
    caller: Caller,
    action: str,
    resource: str,
    policies: Iterable[ResourcePolicy],
    context: Context | None = None,
) -> Verdict:
    """Whether ``caller`` may make the request, weighing its identity policies, its boundary and every policy of
    ``policies`` attached to ``resource``, as IAM does (see the module's docstring).

    The request context gets what IAM sets itself: ``aws:PrincipalArn`` and ``aws:PrincipalAccount`` for a role,
    ``aws:SecureTransport`` (``true``: requests use TLS) and ``s3:TlsVersion`` (1.3) unless ``context`` says otherwise.
    A resource of the caller's account whose ``policies`` hold none is governed by identity policies alone (a bucket
    without a policy); a key or a role without its own policy in ``policies`` raises ``Undecidable``, unless the
    caller's own side already refuses a request across accounts.
    """
    # A trust policy is about assuming the role: it grants nothing else (iam:PassRole of the role is the caller's).
    applying = [
        policy
        for policy in policies
        if policy.applies_to(resource) and (policy.kind != "trust" or action.lower().startswith("sts:"))
    ]
    request: dict[str, str | Sequence[str]] = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
    if caller.arn:
        request.update({"aws:PrincipalArn": caller.arn, "aws:PrincipalAccount": caller.account})
    request.update(context or {})

    def covering(statements: Iterable[Statement], effect: str) -> list[int]:
        return [i for i, s in enumerate(statements) if s.effect == effect and s.covers(action, resource, request)]

    for label, statements in (("identity policy", caller.identity), ("permissions boundary", caller.boundary or ())):
        denied = covering(statements, "Deny")
        if denied:
            return Verdict(False, f"explicitly denied by its {label} (statement {_sids(statements, denied)})")
    grant: Grant | None = None
    granted_by = ""
    for policy in applying:
        for index, statement in enumerate(policy.statements):
            named = _grant(statement.principals or (), caller)
            if named is None or not statement.covers(action, resource, request):
                continue
            sid = statement.sid or f"#{index}"
            if statement.effect == "Deny":
                return Verdict(False, f"explicitly denied by {policy.origin} (statement {sid})")
            if grant is not Grant.DIRECT:
                grant, granted_by = named, f"{policy.origin} (statement {sid})"
    if caller.service:
        if grant is Grant.DIRECT:
            return Verdict(True, f"allowed by {granted_by}")
        return Verdict(False, "no resource policy names the service for this request")
    identity = bool(covering(caller.identity, "Allow"))
    bounded = caller.boundary is None or bool(covering(caller.boundary, "Allow"))
    across = _account_of(resource, applying, caller) != caller.account
    required = _own_policy_required(action, resource)
    if (required or across) and not applying:
        if across and not (identity and bounded):
            return Verdict(False, "no identity policy allows it (across accounts both sides must)")
        if required or identity:
            raise Undecidable(
                f"{caller.arn} {action} on {resource}: the resource's own policy decides, and it is unknown"
            )
    if not bounded and (identity or grant is Grant.DIRECT):
        return Verdict(False, "its permissions boundary does not allow it")
    if across:
        if not identity:
            return Verdict(False, "no identity policy allows it (across accounts both sides must)")
        if grant is None:
            return Verdict(False, "the resource's policy does not allow it (across accounts both sides must)")
        return Verdict(True, f"allowed by {granted_by} and the identity policy")
    if grant is Grant.DIRECT:
        return Verdict(True, f"allowed by {granted_by}")
    if required:
        if grant is None:
            return Verdict(False, "its own policy (key or trust policy) does not allow it")
        if not identity:
            return Verdict(False, f"{granted_by} delegates to IAM policies, and none allows it")
        return Verdict(True, f"allowed by {granted_by} and the identity policy")
    if identity:
        return Verdict(True, "allowed by the identity policy")
    return Verdict(
        False, "no identity policy allows it" + (", and resource policies leave it to them" if grant else "")
    )


def _sids(statements: Sequence[Statement], indexes: Sequence[int]) -> str:
    return ", ".join(statements[i].sid or f"#{i}" for i in indexes)
