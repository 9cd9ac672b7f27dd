"""A small IAM policy evaluator over synthesized CloudFormation templates, for tests that ask "may X do Y on Z?".

Two parts, each usable without the other:

- ``Resolver`` turns CloudFormation values (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::ImportValue``)
  into plain strings, so that a policy can be matched against request ARNs. It is the product's resolver
  (``cli/_local/assembly.py``, which ``s3vp run`` reads a cloud assembly with), giving references other values:
  pseudo parameters become fixed values (``aws``, ``ACCOUNT``, ``REGION``); a resource's ``Ref``/``Arn`` becomes an
  ARN shaped like the real one (bucket ARNs are ``arn:aws:s3:::<name>``), so that wildcards in a policy
  (``arn:aws:s3:::*``) match it as they would in AWS; an ``Fn::ImportValue`` is resolved through the export of the
  stack that declares it, so a bucket's ARN reads the same in the stack that defines it and in every stack that
  imports it. Anything it does not know (another intrinsic, an export no stack declares, a resource the template
  lacks) raises: it never guesses.
- ``decide`` evaluates statements the way IAM does, for what these tests need: ``Allow``/``Deny``; ``Action`` or
  ``NotAction`` (wildcards ``*`` and ``?``, case-insensitive); ``Resource`` or ``NotResource`` (the same
  wildcards, case-sensitive, ARN by ARN segment); ``Principal`` (resource policies); and a few condition operators
  (``String*``, ``Arn*``, ``Null``, ``Bool``, ``NumericLessThan``, with ``ForAllValues:``/``ForAnyValue:``). An
  explicit deny wins; without a matching allow the answer is an implicit deny. An operator it does not know raises.

``Role`` and ``roles_in`` gather what a template attaches to each ``AWS::IAM::Role``: its identity policies and its
permissions boundary; ``Role.may`` is allowed only when both allow (IAM's intersection of the two).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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

_PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::URLSuffix": "amazonaws.com",
}

# Where a resource type keeps its physical name, when the template sets one.
_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName",
}


class Resolver(assembly.Resolver):
    """The product's resolver (``s3vp run`` reads a cloud assembly with it), giving ARN-shaped values: see the
    module's docstring. A reference to something the templates do not define raises."""

    pseudo = _PSEUDO

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
        if name in self.templates[stack].get("Parameters", {}):
            return f"<{stack}.{name}>"
        type_, _ = self._resource(stack, name)
        physical = self._name(stack, name)
        if type_ == "AWS::KMS::Key":
            return f"key-{physical}"  # a key's Ref is its id
        if type_ == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{physical}"  # a topic's Ref is its ARN
        if type_ == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{physical}"  # a queue's Ref is its URL
        if type_ == "AWS::IAM::ManagedPolicy":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{physical}"  # a managed policy's Ref is its ARN
        return physical

    def attribute(self, stack: str, logical_id: str, attribute: str) -> str:
        type_, _ = self._resource(stack, logical_id)
        name = self._name(stack, logical_id)
        if attribute == "Arn":
            arn = {
                "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{name}",
                "AWS::KMS::Key": f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/key-{name}",
                "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
                "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}",
                "AWS::Events::Rule": f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{name}",
                "AWS::CodeBuild::Project": f"arn:{PARTITION}:codebuild:{REGION}:{ACCOUNT}:project/{name}",
                "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
            }.get(type_)
            if arn is not None:
                return arn
        # No ARN shape known: a placeholder naming the attribute, equal only to itself.
        return f"<{stack}.{logical_id}.{attribute}>"


# ---------------------------------------------------------------------------------------------------------------
# Matching


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: ``*`` any run of characters (``/`` included), ``?`` one character; all else literal."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches ``pattern`` with IAM's wildcards (``*``, ``?``)."""
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Actions compare case-insensitively: ``s3:getobject`` is ``s3:GetObject``."""
    return matches(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """ARNs compare segment by segment (the six ``:``-separated parts), each with wildcards; ``*`` is any ARN."""
    if pattern == "*":
        return True
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
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        """A statement from a resolved policy document; keys this evaluator does not know raise."""
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
        named = any(action_matches(pattern, action) for pattern in self.actions)
        if named == self.not_action:
            return False
        named = any(arn_matches(pattern, resource) for pattern in self.resources)
        if named == self.not_resource:
            return False
        if self.principals is not None and not _principal_matches(self.principals, principal):
            return False
        return all(
            _condition_holds(operator, key, values, context)
            for operator, keys in self.conditions.items()
            for key, values in keys.items()
        )


def statements_of(document: Mapping[str, Any]) -> tuple[Statement, ...]:
    """The statements of a resolved policy document."""
    raw = document["Statement"]
    return tuple(Statement.parse(statement) for statement in (raw if isinstance(raw, list) else [raw]))


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
    present = key in context
    raw = context.get(key)
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
