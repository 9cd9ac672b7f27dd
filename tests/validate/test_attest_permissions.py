"""Who may sign provenance, shown by evaluation over the synthesized templates (issue 19, item 7).

For every example, every pipeline's signing key is evaluated with the IAM evaluator (``tests/iam_eval.py``): its key
policy and every role's identity policies (and boundary). What must hold:

- the Attest role is the only principal the key policy lets sign, and the account root's statements include neither
  ``kms:Sign`` nor ``kms:CreateGrant``, so no IAM policy in the account, however broad, can sign;
- no role that runs the package's code (the Validate, Test, deploy and user stages' projects) may sign, change who
  may sign (``kms:CreateGrant``, ``kms:PutKeyPolicy``), start or change the Attest project (a buildspec override would
  run its code with Attest's role), pass or assume the Attest role (or the action role that starts Attest), change
  the Attest role's policies, or invoke or change a Lambda function;
- every stage after Validate may verify with the key and read its public key.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import aws_cdk as cdk
import pytest

from tests.conftest import synthesized_example_stacks
from tests.iam_eval import (
    ACCOUNT,
    PARTITION,
    REGION,
    Resolver,
    Role,
    Statement,
    action_matches,
    callers_in,
    decide,
    principals_allowed,
    roles_in,
    statements_of,
)

EXAMPLES = ("seed_pipeline", "fleet", "cross_account", "minimal", "multi_region")
SIGN_CONTEXT = {"kms:SigningAlgorithm": "ECDSA_SHA_256", "kms:MessageType": "DIGEST"}
"""The request the Attest buildspec makes (``aws kms sign --message-type DIGEST --signing-algorithm ...``)."""
ANY_FUNCTION = f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:any-function"


@dataclass(frozen=True)
class SigningKey:
    """One pipeline's signing key, with the roles around it (by stack and logical id)."""

    stack: str
    logical_id: str
    arn: str
    root: str
    """The account of the key's stack (``arn:...:root``): its statements delegate to the account's IAM policies."""
    policy: tuple[Statement, ...]
    attest_role: str
    attest_action_role: str
    attest_project_arn: str
    verifiers: tuple[tuple[str, str], ...]
    """The roles (stack, logical id) of the projects of every stage after Validate, in another Region's stack too."""


@dataclass(frozen=True)
class Example:
    resolver: Resolver
    roles: dict[tuple[str, str], Role]
    keys: tuple[SigningKey, ...]
    package_code_roles: tuple[tuple[str, str], ...]
    """The service roles of every CodeBuild project but the Attest projects: each runs the package's code."""

    def arn(self, role: tuple[str, str]) -> str:
        return str(self.resolver.attribute(role[0], role[1], "Arn"))


def _ref(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"not a reference to a resource of the template: {value!r}")


def _passed(resolver: Resolver, stack: str, action: Mapping[str, Any]) -> dict[str, str]:
    raw = action["Configuration"].get("EnvironmentVariables")
    return {item["name"]: item["value"] for item in json.loads(resolver.resolve(stack, raw))} if raw else {}


@cache
def example(name: str) -> Example:
    stacks = synthesized_example_stacks(name)
    templates = {s.stack.stack_name: s.json for s in stacks}
    accounts = {
        s.stack.stack_name: ACCOUNT if cdk.Token.is_unresolved(s.stack.account) else s.stack.account for s in stacks
    }
    resolver = Resolver(templates)
    # A role's policies, those another stack attaches to it by name included (a project in another Region).
    callers = callers_in(resolver)
    roles = {
        (stack, logical): dataclasses.replace(
            role, identity=callers[resolver.attribute(stack, logical, "Arn")].identity
        )
        for stack in templates
        for logical, role in roles_in(resolver, stack).items()
    }
    named = {
        resource["Properties"]["Name"]: (stack, logical)
        for stack, template in templates.items()
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CodeBuild::Project" and isinstance(resource["Properties"].get("Name"), str)
    }
    keys, attest_projects, service_roles = [], set(), []
    for stack, template in templates.items():
        resources = template["Resources"]
        key_ids = {
            resolver.attribute(stack, logical, "Arn"): logical
            for logical, resource in resources.items()
            if resource["Type"] == "AWS::KMS::Key"
        }
        for logical, resource in resources.items():
            if resource["Type"] == "AWS::CodeBuild::Project":
                service_roles.append((logical, (stack, _ref(resource["Properties"]["ServiceRole"]))))
            if resource["Type"] != "AWS::CodePipeline::Pipeline":
                continue
            stages = resource["Properties"]["Stages"]
            (attest,) = [a for s in stages for a in s["Actions"] if a["Name"] == "Attest"]
            key_arn = _passed(resolver, stack, attest)["S3VP_SIGNING_KEY_ARN"]
            attest_project = _ref(attest["Configuration"]["ProjectName"])
            attest_projects.add((stack, attest_project))
            verifiers = []
            for stage in stages:
                for action in stage["Actions"]:
                    inputs = [artifact["Name"] for artifact in action.get("InputArtifacts", [])]
                    if action["ActionTypeId"]["Provider"] == "CodeBuild" and "Attested" in inputs:
                        assert _passed(resolver, stack, action)["S3VP_SIGNING_KEY_ARN"] == key_arn
                        reference = action["Configuration"]["ProjectName"]
                        where, logical = named[reference] if isinstance(reference, str) else (stack, _ref(reference))
                        project = templates[where]["Resources"][logical]
                        verifiers.append((where, _ref(project["Properties"]["ServiceRole"])))
            key_id = key_ids[key_arn]
            keys.append(
                SigningKey(
                    stack=stack,
                    logical_id=key_id,
                    arn=key_arn,
                    root=f"arn:{PARTITION}:iam::{accounts[stack]}:root",
                    policy=statements_of(resolver.resolve(stack, resources[key_id]["Properties"]["KeyPolicy"])),
                    attest_role=_ref(resources[attest_project]["Properties"]["ServiceRole"]),
                    attest_action_role=_ref(attest["RoleArn"]),
                    attest_project_arn=resolver.attribute(stack, attest_project, "Arn"),
                    verifiers=tuple(verifiers),
                )
            )
    package_code = tuple(role for (project, role) in service_roles if (role[0], project) not in attest_projects)
    return Example(resolver, roles, tuple(keys), package_code)


@pytest.fixture(scope="module", params=EXAMPLES)
def synthesized(request: pytest.FixtureRequest) -> Example:
    return example(request.param)


def test_every_pipeline_has_a_signing_key_and_roles_that_run_package_code(synthesized: Example) -> None:
    # GIVEN an example  THEN each of its pipelines has an Attest action passing its own key, and projects that run
    # the package's code (so that the evaluations below are not vacuous)
    assert synthesized.keys
    assert len({key.arn for key in synthesized.keys}) == len(synthesized.keys)
    assert len({key.attest_role for key in synthesized.keys}) == len(synthesized.keys)
    assert len(synthesized.package_code_roles) >= len(synthesized.keys)
    assert not {(key.stack, key.attest_role) for key in synthesized.keys} & set(synthesized.package_code_roles)


def test_only_the_attest_role_may_sign_with_its_key(synthesized: Example) -> None:
    for key in synthesized.keys:
        attest = (key.stack, key.attest_role)
        # THEN the key policy lets exactly one principal sign: the Attest role (not the account, not everyone)
        signers = principals_allowed(key.policy, action="kms:Sign", resource=key.arn, context=SIGN_CONTEXT)
        assert signers == {("AWS", synthesized.arn(attest))}, key.logical_id
        # AND its permissions boundary, if it has one, lets it too
        boundary = synthesized.roles[attest].boundary
        assert boundary is None or decide(boundary, action="kms:Sign", resource=key.arn, context=SIGN_CONTEXT).allowed


def test_the_account_roots_statements_do_not_include_sign(synthesized: Example) -> None:
    for key in synthesized.keys:
        # THEN no statement naming the account (which delegates to IAM policies) names kms:Sign, even by wildcard
        for statement in key.policy:
            if ("AWS", key.root) in (statement.principals or ()) and statement.effect == "Allow":
                covers = any(action_matches(pattern, "kms:Sign") for pattern in statement.actions)
                assert covers == statement.not_action, f"{key.logical_id}: {statement.sid} lets IAM policies sign"
        # AND nobody may create a grant, which would let a principal sign without a change to the key policy
        assert principals_allowed(key.policy, action="kms:CreateGrant", resource=key.arn) == set(), key.logical_id
        # AND the account may still administer the key, and verify through IAM policies
        assert ("AWS", key.root) in principals_allowed(key.policy, action="kms:ScheduleKeyDeletion", resource=key.arn)
        assert ("AWS", key.root) in principals_allowed(key.policy, action="kms:Verify", resource=key.arn)


FORBIDDEN_TO_PACKAGE_CODE = (
    ("kms:Sign", "key"),
    ("kms:CreateGrant", "key"),
    ("kms:PutKeyPolicy", "key"),
    ("codebuild:StartBuild", "project"),
    ("codebuild:StartBuildBatch", "project"),
    ("codebuild:UpdateProject", "project"),
    ("iam:PassRole", "attest_role"),
    ("sts:AssumeRole", "attest_role"),
    ("sts:AssumeRole", "attest_action_role"),
    ("iam:PutRolePolicy", "attest_role"),
    ("iam:AttachRolePolicy", "attest_role"),
    ("lambda:InvokeFunction", "function"),
    ("lambda:UpdateFunctionCode", "function"),
)


def test_no_role_that_runs_package_code_may_sign_or_reach_attest(synthesized: Example) -> None:
    for key in synthesized.keys:
        targets = {
            "key": key.arn,
            "project": key.attest_project_arn,
            "attest_role": synthesized.arn((key.stack, key.attest_role)),
            "attest_action_role": synthesized.arn((key.stack, key.attest_action_role)),
            "function": ANY_FUNCTION,
        }
        for role_id in synthesized.package_code_roles:
            role, arn = synthesized.roles[role_id], synthesized.arn(role_id)
            # THEN the key policy does not name it, and its own policies allow none of these
            signers = principals_allowed(key.policy, action="kms:Sign", resource=key.arn, context=SIGN_CONTEXT)
            assert ("AWS", arn) not in signers
            allowed = [
                (action, target)
                for action, target in FORBIDDEN_TO_PACKAGE_CODE
                if role.may(action, targets[target], SIGN_CONTEXT if action == "kms:Sign" else None)
            ]
            assert allowed == [], f"{role_id[1]} (runs package code) may {allowed} for {key.logical_id}"


def test_every_later_stage_may_verify_and_read_the_public_key(synthesized: Example) -> None:
    for key in synthesized.keys:
        verifiers = principals_allowed(key.policy, action="kms:Verify", resource=key.arn)
        public = principals_allowed(key.policy, action="kms:GetPublicKey", resource=key.arn)
        for role_id in key.verifiers:
            role, arn = synthesized.roles[role_id], synthesized.arn(role_id)
            # THEN the key policy delegates Verify and GetPublicKey to the account, and the role's policies allow them
            for action, allowed in (("kms:Verify", verifiers), ("kms:GetPublicKey", public)):
                assert ("AWS", arn) in allowed or (("AWS", key.root) in allowed and role.may(action, key.arn)), (
                    f"{role_id} may not {action} with {key.logical_id}"
                )


def test_seed_has_later_stages_that_verify() -> None:
    # GIVEN the seed (test, staging, production)  THEN three projects verify with its one key
    (key,) = example("seed_pipeline").keys
    assert len(key.verifiers) == 3


def test_the_project_in_another_region_verifies_with_the_pipelines_key() -> None:
    # GIVEN multi_region (Staging, then ProdUS and ProdEU in a wave)  THEN three projects verify with its one key,
    # ProdEU's in the eu-west-1 stack (by the policy the pipeline's stack attaches to its role)
    (key,) = example("multi_region").keys
    assert sorted(stack for stack, _ in key.verifiers) == [
        "MultiRegionPipeline",
        "MultiRegionPipeline",
        "MultiRegionPipeline-support-eu-west-1",
    ]
