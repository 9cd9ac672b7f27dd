"""The IAM evaluator's parts the permission plan relies on, each on small policies of its own: stacks in their own
accounts, the ARNs of the resources the plan names, resource policies found and scoped, and IAM's evaluation of one
request across identity policies, boundaries and resource policies (``tests/iam_eval.authorize``).

The evaluator's first rules (wildcards, conditions, deny over allow) are tested in tests/foundation/test_foundation.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.iam_eval import (
    ACCOUNT,
    REGION,
    Caller,
    Resolver,
    ResourcePolicy,
    Statement,
    Undecidable,
    authorize,
    callers_in,
    decide,
    resource_policies,
    statements_of,
)

OTHER = "222222222222"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/builder"


def role(*statements: dict[str, Any], boundary: list[dict[str, Any]] | None = None, arn: str = ROLE) -> Caller:
    """A role of ``arn``'s account with ``statements`` as its identity policy."""
    parsed = statements_of({"Statement": list(statements)})
    limit = None if boundary is None else statements_of({"Statement": boundary})
    return Caller(account=arn.split(":")[4], arn=arn, identity=parsed, boundary=limit)


def attached(kind: str, scope: str, *statements: dict[str, Any], account: str = ACCOUNT) -> ResourcePolicy:
    default = scope if kind == "trust" else None
    return ResourcePolicy(
        kind, scope, account, statements_of({"Statement": list(statements)}, resource=default), "test"
    )


def allow(action: str, resource: str = "*", **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


# ---------------------------------------------------------------------------------------------------------------
# Resolving: each stack in its own environment, ARNs of the resources the plan names


def template(**resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            name: {"Type": type_["Type"], "Properties": type_.get("Properties", {})}
            for name, type_ in resources.items()
        }
    }


def test_each_stack_resolves_its_own_account_and_region() -> None:
    # GIVEN two stacks, one of them in an environment of its own
    templates = {"Here": template(Role={"Type": "AWS::IAM::Role"}), "There": template(Role={"Type": "AWS::IAM::Role"})}
    resolver = Resolver(templates, {"There": (OTHER, "us-east-1")})
    where = {"Fn::Sub": "${AWS::AccountId}/${AWS::Region}"}
    # THEN pseudo parameters and ARNs are each stack's own; a stack named nowhere is in ACCOUNT and REGION
    assert resolver.resolve("Here", where) == f"{ACCOUNT}/{REGION}"
    assert resolver.resolve("There", where) == f"{OTHER}/us-east-1"
    assert resolver.resolve("There", {"Ref": "AWS::AccountId"}) == OTHER
    assert resolver.attribute("There", "Role", "Arn") == f"arn:aws:iam::{OTHER}:role/There-Role"
    assert resolver.resolve("Here", {"Ref": "AWS::Partition"}) == "aws"


def test_the_arns_the_plan_names_are_shaped_like_aws_ones() -> None:
    resolver = Resolver(
        {
            "S": template(
                Reports={"Type": "AWS::CodeBuild::ReportGroup"},
                Alarm={"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": "errors"}},
                Trail={"Type": "AWS::CloudTrail::Trail"},
                Topic={"Type": "AWS::SNS::Topic"},
            )
        }
    )
    assert resolver.attribute("S", "Reports", "Arn") == f"arn:aws:codebuild:{REGION}:{ACCOUNT}:report-group/S-Reports"
    assert resolver.attribute("S", "Alarm", "Arn") == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:errors"
    assert resolver.attribute("S", "Trail", "Arn") == f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/S-Trail"
    assert resolver.attribute("S", "Topic", "TopicArn") == resolver.resolve("S", {"Ref": "Topic"})
    # An attribute without a known shape stays a placeholder equal only to itself.
    assert resolver.attribute("S", "Topic", "Arn") == "<S.Topic.Arn>"


def test_a_roles_arn_carries_its_path() -> None:
    # GIVEN a role with an IAM path and one without (a pipeline's roles on a foundation have /s3vp/<pipeline>/)
    resolver = Resolver(
        {
            "S": template(
                OnPath={"Type": "AWS::IAM::Role", "Properties": {"Path": "/s3vp/acme-payments/"}},
                Plain={"Type": "AWS::IAM::Role", "Properties": {"RoleName": "plain"}},
            )
        }
    )
    # THEN the ARN is arn:aws:iam::<account>:role<path><name>, as IAM writes it
    assert resolver.attribute("S", "OnPath", "Arn") == f"arn:aws:iam::{ACCOUNT}:role/s3vp/acme-payments/S-OnPath"
    assert resolver.attribute("S", "Plain", "Arn") == f"arn:aws:iam::{ACCOUNT}:role/plain"


def test_arn_not_like_on_a_role_path_spares_the_roles_on_it_and_denies_a_missing_key() -> None:
    # GIVEN a deny of reading a team's key to every principal off the team's path (the foundation's bucket policy)
    path = f"arn:aws:iam::{ACCOUNT}:role/s3vp/acme-payments/*"
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/teams/payments/source.zip",
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": [path, f"arn:aws:iam::{ACCOUNT}:role/payments-developers"]}},
    }
    statements = statements_of({"Statement": [deny]})

    def denied(context: dict[str, str]) -> bool:
        decision = decide(
            statements, action="s3:GetObject", resource=deny["Resource"], principal=("AWS", "x"), context=context
        )
        return decision.by == ("#0",)

    # THEN roles on the path (any depth below it) and the named uploader are spared; others, a path only starting
    # like it, and a request without the key (a service) are denied
    assert not denied({"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/s3vp/acme-payments/Build"})
    assert not denied({"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/payments-developers"})
    assert denied({"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/s3vp/acme-payments2/Build"})
    assert denied({"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/acme-payments/Build"})
    assert denied({"aws:PrincipalArn": f"arn:aws:iam::{OTHER}:role/s3vp/acme-payments/Build"})
    assert denied({})


def test_string_not_like_on_s3_prefix_and_string_not_equals_on_the_encryption_context() -> None:
    # GIVEN a boundary's denies: listing outside a folder, decrypting outside one object's encryption context
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
    caller = role(
        allow("s3:ListBucket"),
        allow("kms:Decrypt"),
        boundary=[
            allow("*"),
            {
                "Effect": "Deny",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::b",
                "Condition": {"StringNotLike": {"s3:prefix": ["acme-payments/*", "teams/payments/source.zip"]}},
            },
            {
                "Effect": "Deny",
                "Action": "kms:Decrypt",
                "Resource": key,
                "Condition": {
                    "StringNotEquals": {"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b/teams/payments/source.zip"}
                },
            },
        ],
    )
    key_policy = attached("key", key, allow("kms:*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))

    def lists(**context: str) -> bool:
        return authorize(caller, "s3:ListBucket", "arn:aws:s3:::b", [], context).allowed

    def decrypts(**context: str) -> bool:
        return authorize(caller, "kms:Decrypt", key, [key_policy], context).allowed

    # THEN only the folder's own prefixes and the exact key list; a missing prefix is denied
    assert lists(**{"s3:prefix": "acme-payments/"})
    assert lists(**{"s3:prefix": "acme-payments/Validated/"})
    assert lists(**{"s3:prefix": "teams/payments/source.zip"})
    assert not lists(**{"s3:prefix": "acme-payments"})  # would list acme-payments2/ too
    assert not lists(**{"s3:prefix": "teams/"})
    assert not lists()
    # AND only the object's own context decrypts; another object's, the bucket's (a Bucket Key's) or none does not
    assert decrypts(**{"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b/teams/payments/source.zip"})
    assert not decrypts(**{"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b/teams/billing/source.zip"})
    assert not decrypts(**{"kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::b"})
    assert not decrypts()


# ---------------------------------------------------------------------------------------------------------------
# Statements


def test_a_trust_policy_statement_is_about_its_role_and_condition_keys_ignore_case() -> None:
    # GIVEN a trust statement (no Resource) with a condition written in another case than the request's key
    [trust] = statements_of(
        {
            "Statement": {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "events.amazonaws.com"},
                "Condition": {"StringEquals": {"aws:sourceaccount": ACCOUNT}},
            }
        },
        resource=ROLE,
    )
    # THEN it covers its role, whoever asks (principals are the caller's to weigh), keys compared case-insensitively
    assert trust.resources == (ROLE,)
    assert trust.covers("sts:AssumeRole", ROLE, {"aws:SourceAccount": ACCOUNT})
    assert not trust.covers("sts:AssumeRole", ROLE, {"aws:SourceAccount": OTHER})
    assert not trust.covers("sts:AssumeRole", "arn:aws:iam::1:role/other", {"aws:SourceAccount": ACCOUNT})
    with pytest.raises(ValueError, match="exactly one of Action/NotAction and of Resource/NotResource"):
        Statement.parse({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": "*"})
    assert decide([trust], action="sts:AssumeRole", resource=ROLE, principal=("Service", "events.amazonaws.com"))


# ---------------------------------------------------------------------------------------------------------------
# Resource policies of templates, and callers


def test_resource_policies_are_found_and_scoped_to_what_they_are_attached_to() -> None:
    document = {"Statement": [allow("*", Principal={"AWS": "*"})]}
    templates = {
        "S": template(
            Bucket={"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b"}},
            BucketPolicy={
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": document},
            },
            Key={"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": document}},
            Queue={"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
            QueuePolicy={
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": document},
            },
            Topic={"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}},
            TopicPolicy={
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {"Topics": [{"Ref": "Topic"}], "PolicyDocument": document},
            },
            Logs={
                "Type": "AWS::Logs::ResourcePolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Fn::Join": [
                            "",
                            [
                                '{"Statement": [{"Effect": "Allow", "Action": "logs:*", "Principal": "*", ',
                                '"Resource": "*"}]}',
                            ],
                        ]
                    }
                },
            },
            Role={
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "r",
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": "sts:AssumeRole",
                                "Principal": {"Service": "codebuild.amazonaws.com"},
                            }
                        ]
                    },
                },
            },
        )
    }
    found = {policy.kind: policy for policy in resource_policies(Resolver(templates, {"S": (OTHER, "us-east-1")}))}
    assert sorted(found) == ["bucket", "key", "logs", "queue", "topic", "trust"]
    # A bucket's policy covers the bucket and its objects, not a bucket whose name merely starts the same.
    assert found["bucket"].applies_to("arn:aws:s3:::b")
    assert found["bucket"].applies_to("arn:aws:s3:::b/any/key")
    assert not found["bucket"].applies_to("arn:aws:s3:::b2/key")
    assert found["key"].applies_to(f"arn:aws:kms:us-east-1:{OTHER}:key/key-S-Key")
    assert found["queue"].scope == f"arn:aws:sqs:us-east-1:{OTHER}:q"  # the Ref is a URL; the policy is the ARN's
    assert found["topic"].scope == f"arn:aws:sns:us-east-1:{OTHER}:t"
    assert found["logs"].applies_to(f"arn:aws:logs:us-east-1:{OTHER}:log-group:g:log-stream:s")
    assert not found["logs"].applies_to(f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:g")
    assert found["trust"].scope == f"arn:aws:iam::{OTHER}:role/r"
    assert {policy.account for policy in found.values()} == {OTHER}


def test_callers_are_the_roles_defined_and_those_imported_by_name() -> None:
    grant = {"PolicyDocument": {"Statement": [allow("s3:PutObject", "arn:aws:s3:::b/k")]}}
    templates = {
        "A": template(
            Role={
                "Type": "AWS::IAM::Role",
                "Properties": {"RoleName": "r", "AssumeRolePolicyDocument": {"Statement": []}},
            },
            Policy={"Type": "AWS::IAM::Policy", "Properties": {**grant, "Roles": [{"Ref": "Role"}, "developers"]}},
        ),
        "B": template(Other={"Type": "AWS::IAM::Policy", "Properties": {**grant, "Roles": ["developers"]}}),
    }
    callers = callers_in(Resolver(templates))
    assert sorted(callers) == [f"arn:aws:iam::{ACCOUNT}:role/developers", f"arn:aws:iam::{ACCOUNT}:role/r"]
    # An imported role gathers what every stack attaches to it.
    assert len(callers[f"arn:aws:iam::{ACCOUNT}:role/developers"].identity) == 2


def test_fails_when_a_caller_is_neither_or_both_a_role_and_a_service() -> None:
    with pytest.raises(ValueError, match="a caller is a role or a service"):
        Caller(account=ACCOUNT)
    with pytest.raises(ValueError, match="a caller is a role or a service"):
        Caller(account=ACCOUNT, arn=ROLE, service="events.amazonaws.com")


# ---------------------------------------------------------------------------------------------------------------
# IAM's evaluation of one request

OBJECT = "arn:aws:s3:::b/k"


def test_within_an_account_identity_policies_decide_where_no_resource_policy_says_more() -> None:
    assert authorize(role(allow("s3:GetObject", OBJECT)), "s3:GetObject", OBJECT, []).allowed
    assert not authorize(role(allow("s3:GetObject", OBJECT)), "s3:PutObject", OBJECT, []).allowed
    # A bucket policy naming the account delegates to the identity policy: it adds nothing on its own.
    account = attached(
        "bucket", "arn:aws:s3:::b", allow("s3:*", "arn:aws:s3:::b/*", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    )
    assert not authorize(role(), "s3:GetObject", OBJECT, [account]).allowed


def test_a_resource_policy_naming_the_role_allows_within_the_account_and_a_deny_anywhere_wins() -> None:
    direct = attached("bucket", "arn:aws:s3:::b", allow("s3:GetObject", "arn:aws:s3:::b/*", Principal={"AWS": ROLE}))
    assert authorize(role(), "s3:GetObject", OBJECT, [direct]).allowed
    deny = attached(
        "bucket",
        "arn:aws:s3:::b",
        {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*", "Principal": {"AWS": "*"}, "Sid": "No"},
    )
    verdict = authorize(role(allow("s3:*")), "s3:GetObject", OBJECT, [direct, deny])
    assert (verdict.allowed, verdict.reason) == (False, "explicitly denied by test (statement No)")
    # A policy attached to another bucket does not apply.
    other = attached("bucket", "arn:aws:s3:::other", allow("s3:*", "*", Principal={"AWS": ROLE}))
    assert not authorize(role(), "s3:GetObject", OBJECT, [other]).allowed


def test_a_permissions_boundary_limits_what_the_identity_policy_allows() -> None:
    bounded = role(allow("s3:*"), boundary=[allow("s3:GetObject", "arn:aws:s3:::b/own/*")])
    assert authorize(bounded, "s3:GetObject", "arn:aws:s3:::b/own/k", []).allowed
    verdict = authorize(bounded, "s3:GetObject", "arn:aws:s3:::b/theirs/k", [])
    assert (verdict.allowed, verdict.reason) == (False, "its permissions boundary does not allow it")


def test_a_key_allows_only_what_its_key_policy_allows_directly_or_through_iam_policies() -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
    enables_iam = attached("key", key, allow("kms:Decrypt", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    silent = attached("key", key, allow("kms:Decrypt", Principal={"Service": "logs.amazonaws.com"}))
    reader = role(allow("kms:Decrypt", key))
    assert authorize(reader, "kms:Decrypt", key, [enables_iam]).allowed
    assert not authorize(role(), "kms:Decrypt", key, [enables_iam]).allowed
    assert not authorize(reader, "kms:Decrypt", key, [silent]).allowed  # the IAM policy alone is not enough
    with pytest.raises(Undecidable, match="the resource's own policy decides"):
        authorize(reader, "kms:Decrypt", key, [])


def test_across_accounts_both_the_identity_and_the_resource_policy_must_allow() -> None:
    # GIVEN a role of another account, trusting ours the way `cdk bootstrap --trust` does
    target = f"arn:aws:iam::{OTHER}:role/deploy"
    trust = attached(
        "trust",
        target,
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": [OTHER, ACCOUNT]}},
        account=OTHER,
    )
    # THEN our role may assume it only if its own policy allows that too
    assert authorize(role(allow("sts:AssumeRole", target)), "sts:AssumeRole", target, [trust]).allowed
    assert not authorize(role(), "sts:AssumeRole", target, [trust]).allowed
    # AND only if the other side trusts ours: one trusting its own account only refuses us
    own_only = attached(
        "trust", target, {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": OTHER}}, account=OTHER
    )
    assert not authorize(role(allow("sts:AssumeRole", target)), "sts:AssumeRole", target, [own_only]).allowed
    # AND an identity policy alone never reaches another account: without the trust it cannot be shown to
    with pytest.raises(Undecidable):
        authorize(role(allow("sts:AssumeRole", "*")), "sts:AssumeRole", target, [])
    # while a role our side does not allow is refused whatever the other side says
    assert not authorize(role(), "sts:AssumeRole", target, []).allowed


def test_assuming_a_role_needs_its_trust_policy_and_the_trust_policy_grants_nothing_else() -> None:
    target = f"arn:aws:iam::{ACCOUNT}:role/action"
    names_us = attached("trust", target, {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ROLE}})
    names_nobody = attached("trust", target)
    # The trust policy naming our role suffices within the account; one naming nobody refuses, whatever IAM says.
    assert authorize(role(), "sts:AssumeRole", target, [names_us]).allowed
    assert not authorize(role(allow("sts:AssumeRole", target)), "sts:AssumeRole", target, [names_nobody]).allowed
    # Passing the role is another matter: the trust policy does not grant it.
    assert not authorize(role(), "iam:PassRole", target, [names_us]).allowed


def test_a_service_is_allowed_only_by_a_resource_policy_naming_it_under_its_conditions() -> None:
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:t"
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r"
    policy = attached(
        "topic",
        topic,
        allow(
            "sns:Publish",
            topic,
            Principal={"Service": "events.amazonaws.com"},
            Condition={"ArnEquals": {"aws:SourceArn": rule}},
        ),
    )
    events = Caller(account=ACCOUNT, service="events.amazonaws.com")
    assert authorize(events, "sns:Publish", topic, [policy], {"aws:SourceArn": rule}).allowed
    assert not authorize(events, "sns:Publish", topic, [policy], {"aws:SourceArn": rule + "-other"}).allowed
    assert not authorize(
        Caller(account=ACCOUNT, service="sns.amazonaws.com"), "sns:Publish", topic, [policy], {"aws:SourceArn": rule}
    ).allowed


def test_requests_carry_what_iam_sets_itself() -> None:
    # GIVEN a bucket policy refusing uploads by anyone but one role, and over plain HTTP
    bucket = attached(
        "bucket",
        "arn:aws:s3:::b",
        {
            "Effect": "Deny",
            "Action": "s3:PutObject",
            "Resource": OBJECT,
            "Principal": {"AWS": "*"},
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/uploader"}},
        },
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": OBJECT,
            "Principal": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    uploader = role(allow("s3:PutObject", OBJECT), arn=f"arn:aws:iam::{ACCOUNT}:role/uploader")
    # THEN the role's own ARN is in the request, over TLS unless the context says otherwise
    assert authorize(uploader, "s3:PutObject", OBJECT, [bucket]).allowed
    assert not authorize(role(allow("s3:PutObject", OBJECT)), "s3:PutObject", OBJECT, [bucket]).allowed
    assert not authorize(uploader, "s3:PutObject", OBJECT, [bucket], {"aws:SecureTransport": "false"}).allowed
