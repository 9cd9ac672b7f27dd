"""The permission plan catches what it claims to: each test changes one thing in a copy of an example's synthesized
templates (no synthesis: the session's JSON, deep-copied) and the plan then fails, naming exactly that call.

Removing a needed statement (from an identity policy, a key policy or a trust policy) fails the call it allowed;
widening one (a boundary's folder to everything, ``sts:AssumeRole`` on ``*``, a key policy granting ``kms:*``, a
signing key letting another role sign) fails the must-not checks that guard it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.permissions import plan

Templates = dict[str, dict[str, Any]]


def mutated(example: str, change: Callable[[plan.Site, Templates], None]) -> plan.Site:
    """The example as the plan reads it, after ``change`` (given the unchanged site, to find things) edits a copy."""
    original = plan.example_site(example)
    templates: Templates = copy.deepcopy({stack: dict(template) for stack, template in original.templates.items()})
    change(original, templates)
    return plan.Site(example, templates, original.resolver.environments)


def role_policies(site: plan.Site, templates: Templates, arn: str) -> Iterator[dict[str, Any]]:
    """The policy documents a template attaches to the role ``arn`` (one it defines)."""
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == "AWS::IAM::Role" and site.arn(stack, logical_id) == arn:
                for policy in template["Resources"].values():
                    if policy["Type"] == "AWS::IAM::Policy" and {"Ref": logical_id} in policy["Properties"]["Roles"]:
                        yield policy["Properties"]["PolicyDocument"]


def resource_of(site: plan.Site, templates: Templates, type_: str, logical_id_part: str) -> dict[str, Any]:
    [found] = [
        resource["Properties"]
        for template in templates.values()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == type_ and logical_id_part in logical_id
    ]
    return found


def calls(site: plan.Site, *entries: plan.Entry) -> set[tuple[str, str, str]]:
    """(principal, action, resource) of every finding: of the whole plan, or of ``entries`` only."""
    found = (
        [f for entry in entries for action in entry.actions for f in plan.check(site, entry, action)[1]]
        if entries
        else plan.findings(site)
    )
    return {(f.principal, f.action, f.resource) for f in found}


def entry(principal: plan.Principal, resource: str) -> plan.Entry:
    [found] = [e for e in plan.ENTRIES if e.principal is principal and e.resource == resource]
    return found


def the(site: plan.Site, principal: plan.Principal) -> plan.Instance:
    [found] = plan.instances(site, principal)
    return found


# --- Removing a needed statement --------------------------------------------------------------------------------


@pytest.mark.xdist_group("example-seed_pipeline")
def test_removing_the_validate_roles_read_of_the_upload_fails_that_call() -> None:
    # GIVEN the seed example without the Validate role's statement reading the uploaded object
    def change(site: plan.Site, templates: Templates) -> None:
        [document] = role_policies(site, templates, the(site, plan.VALIDATE).caller.arn)
        document["Statement"] = [s for s in document["Statement"] if "s3:GetObjectVersion" not in s["Action"]]

    site = mutated("seed_pipeline", change)
    # THEN the plan fails on exactly that call
    upload = the(site, plan.VALIDATE).pipeline
    assert upload is not None
    assert calls(site) == {("validate", "s3:GetObjectVersion", upload.source_object)}


@pytest.mark.xdist_group("example-seed_pipeline")
def test_removing_a_key_policy_statement_fails_the_services_it_let_use_the_key() -> None:
    # GIVEN the seed example whose operations key no longer names the services that publish to its encrypted topic
    def change(site: plan.Site, templates: Templates) -> None:
        key = resource_of(site, templates, "AWS::KMS::Key", "OperationsKey")
        statements = key["KeyPolicy"]["Statement"]
        key["KeyPolicy"]["Statement"] = [s for s in statements if s.get("Sid") != "PipelineOperationsServices"]

    site = mutated("seed_pipeline", change)
    found = calls(site)
    # THEN CloudWatch's alarms and SNS's dead letters fail on that key (EventBridge keeps the dead-letter statement,
    # which happens to cover what it does with the topic's key too)
    [operations_key] = [
        site.arn(stack, key) for stack, key, _ in site.resources("AWS::KMS::Key") if "OperationsKey" in key
    ]
    assert {principal for principal, _, _ in found} == {"cloudwatch", "sns"}
    assert {action for _, action, _ in found} == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert {resource for _, _, resource in found} == {operations_key}


@pytest.mark.xdist_group("example-seed_pipeline")
def test_removing_an_action_roles_trust_fails_the_pipeline_assuming_it() -> None:
    # GIVEN the seed example whose approval action's role trusts nobody, though the pipeline role may assume it
    approval = the(plan.example_site("seed_pipeline"), plan.APPROVAL).caller.arn

    def change(site: plan.Site, templates: Templates) -> None:
        for stack, template in templates.items():
            for logical_id, resource in template["Resources"].items():
                if resource["Type"] == "AWS::IAM::Role" and site.arn(stack, logical_id) == approval:
                    resource["Properties"]["AssumeRolePolicyDocument"]["Statement"] = []

    # THEN the pipeline can no longer run the approval: the plan names that call
    assert calls(mutated("seed_pipeline", change)) == {("pipeline", "sts:AssumeRole", approval)}


@pytest.mark.xdist_group("example-cross_account")
def test_across_accounts_the_pipelines_own_side_must_allow_too() -> None:
    # GIVEN the production deployment's role without its statement assuming the target's bootstrap roles (which
    # still trust the pipeline's account)
    production = next(
        i
        for i in plan.instances(plan.example_site("cross_account"), plan.DEPLOY_CHANGE_SET)
        if i.target and i.target[0] == "333333333333"
    )

    def change(site: plan.Site, templates: Templates) -> None:
        [document] = role_policies(site, templates, production.caller.arn)
        document["Statement"] = [s for s in document["Statement"] if s["Action"] != "sts:AssumeRole"]

    # THEN both roles it deploys through are refused
    assert calls(mutated("cross_account", change)) == {
        ("deploy-cloudformation", "sts:AssumeRole", plan.bootstrap_role("deploy", "333333333333", "eu-west-1")),
        (
            "deploy-cloudformation",
            "sts:AssumeRole",
            plan.bootstrap_role("file-publishing", "333333333333", "eu-west-1"),
        ),
    }


# --- Widening one -----------------------------------------------------------------------------------------------


def bucket_statements(templates: Templates, logical_id_part: str) -> list[dict[str, Any]]:
    """The statements of the bucket policy whose logical id contains ``logical_id_part``, in the copy ``templates``."""
    [document] = [
        resource["Properties"]["PolicyDocument"]
        for template in templates.values()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::S3::BucketPolicy" and logical_id_part in logical_id
    ]
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


@pytest.mark.xdist_group("example-fleet")
def test_widening_a_teams_boundary_to_every_artifact_fails_naming_another_teams_folder() -> None:
    # GIVEN the fleet, team01's boundary letting its roles reach every object instead of its own folder, and the
    # artifact bucket's policy without the statement closing team02's folder to others
    def widen(site: plan.Site, templates: Templates) -> None:
        boundary = resource_of(site, templates, "AWS::IAM::ManagedPolicy", "team01Boundary")
        [own] = [s for s in boundary["PolicyDocument"]["Statement"] if s.get("Sid") == "OwnObjects"]
        own["Resource"] = "*"

    def widen_and_open(site: plan.Site, templates: Templates) -> None:
        widen(site, templates)
        statements = bucket_statements(templates, "FoundationArtifactsPolicy")
        statements[:] = [s for s in statements if s.get("Sid") != "DenyOthersInFolder2"]

    # THEN with the boundary alone widened, the bucket's policy still keeps team02's folder: no finding
    forbidden = entry(plan.ROLE, "another pipeline's artifacts")
    assert calls(mutated("fleet", widen), forbidden) == set()
    # AND with both, team01's roles reach team02's artifacts, and the plan names those calls; no other team's does
    site = mutated("fleet", widen_and_open)
    found = calls(site, forbidden)
    team02 = next(p for p in site.pipelines if p.name == "fleet-team02")
    validate = next(i for i in plan.instances(site, plan.VALIDATE) if i.pipeline and i.pipeline.name == "fleet-team01")
    assert ("role", "s3:GetObject", team02.artifact("Validated")) in found
    labels = {f.label for action in ("s3:GetObject", "s3:PutObject") for f in plan.check(site, forbidden, action)[1]}
    assert validate.label in labels
    assert all(label.startswith("fleet-team01:") for label in labels)


@pytest.mark.xdist_group("example-fleet")
def test_dropping_a_teams_key_statement_lets_a_broad_role_read_that_teams_upload() -> None:
    # GIVEN the fleet, its source bucket's policy without the statement closing team02's key to other principals
    def change(site: plan.Site, templates: Templates) -> None:
        statements = bucket_statements(templates, "FoundationSourceBucketPolicy")
        statements[:] = [s for s in statements if s.get("Sid") != "DenyOthersOnKey2"]

    site = mutated("fleet", change)
    team02 = next(p for p in site.pipelines if p.name == "fleet-team02")
    # THEN a broad role of the account reads and replaces team02's upload (that one statement keeps both to team02's
    # roles and uploader), while team01's uploader, whose own policy allows neither, still cannot
    assert calls(site) == {
        ("broad", action, team02.source_object) for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject")
    }


@pytest.mark.xdist_group("example-minimal")
def test_dropping_the_artifact_buckets_write_deny_lets_a_broad_role_replace_artifacts() -> None:
    # GIVEN the minimal (standalone) example, its artifact bucket's policy without the statement denying writes
    def change(site: plan.Site, templates: Templates) -> None:
        statements = bucket_statements(templates, "PipelineArtifactsPolicy")
        statements[:] = [s for s in statements if s.get("Sid") != "DenyWritesByOthers"]

    site = mutated("minimal", change)
    pipeline = site.pipelines[0]
    # THEN a role of the account with s3:* writes and deletes the artifacts, and the plan names exactly those calls
    assert calls(site) == {
        ("broad", action, resource)
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")
        for resource in (pipeline.artifact("Validated"), f"{pipeline.artifact_bucket}/elsewhere/object")
    }


@pytest.mark.xdist_group("example-seed_pipeline")
def test_granting_assume_role_on_everything_fails_naming_the_roles_out_of_reach() -> None:
    # GIVEN the seed example's Validate role allowed sts:AssumeRole on "*"
    def change(site: plan.Site, templates: Templates) -> None:
        [document] = role_policies(site, templates, the(site, plan.VALIDATE).caller.arn)
        document["Statement"].append({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})

    site = mutated("seed_pipeline", change)
    found = calls(site)
    pipeline = the(site, plan.VALIDATE).pipeline
    assert pipeline is not None
    # THEN every finding is that call, by the Validate role: the account's bootstrap deploy role (which trusts the
    # account), the uploader's role (the same), and roles of other accounts (whose trust nobody here can vouch for)
    assert {(principal, action) for principal, action, _ in found} == {
        ("validate", "sts:AssumeRole"),
        ("role", "sts:AssumeRole"),
    }
    resources = {resource for _, _, resource in found}
    assert plan.bootstrap_role("deploy", pipeline.account, pipeline.region) in resources
    assert plan.bootstrap_role("deploy", plan.OTHER_ACCOUNT, pipeline.region) in resources
    assert the(site, plan.UPLOADER).caller.arn in resources


@pytest.mark.xdist_group("example-seed_pipeline")
def test_a_key_policy_granting_a_role_everything_fails_naming_kms_sign() -> None:
    # GIVEN the seed example's artifact key granting the Validate role every KMS action, in the key policy itself
    def change(site: plan.Site, templates: Templates) -> None:
        key = resource_of(site, templates, "AWS::KMS::Key", "ArtifactKey")
        grant = {
            "Effect": "Allow",
            "Action": "kms:*",
            "Resource": "*",
            "Principal": {"AWS": the(site, plan.VALIDATE).caller.arn},
        }
        key["KeyPolicy"]["Statement"].append(grant)

    site = mutated("seed_pipeline", change)
    pipeline = the(site, plan.VALIDATE).pipeline
    assert pipeline is not None
    # THEN the plan fails on signing with that key, which no role may do
    assert calls(site) == {("role", "kms:Sign", pipeline.artifact_key)}


# --- The signing key --------------------------------------------------------------------------------------------


def forbidden_signing() -> plan.Entry:
    """The plan's one entry forbidding kms:Sign (every role, every key but Attest's own)."""
    [found] = [e for e in plan.ENTRIES if e.principal is plan.ROLE and "kms:Sign" in e.actions]
    return found


def signing_key_policy(site: plan.Site, templates: Templates, pipeline: plan.Pipeline) -> dict[str, Any]:
    """The key policy of ``pipeline``'s signing key, in the copy ``templates``."""
    [policy] = [
        templates[stack]["Resources"][logical_id]["Properties"]["KeyPolicy"]
        for stack, logical_id, _ in site.resources("AWS::KMS::Key")
        if site.arn(stack, logical_id) == pipeline.signing_key
    ]
    return policy


@pytest.mark.xdist_group("example-seed_pipeline")
def test_removing_the_key_policys_sign_statement_fails_attests_signing() -> None:
    # GIVEN the seed example whose signing key's policy no longer names the Attest role (its only grant of kms:Sign)
    def change(site: plan.Site, templates: Templates) -> None:
        policy = signing_key_policy(site, templates, site.pipelines[0])
        policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != "SignByAttestOnly"]

    site = mutated("seed_pipeline", change)
    # THEN the plan fails on exactly Attest's signing
    assert calls(site) == {("attest", "kms:Sign", site.pipelines[0].signing_key)}


@pytest.mark.xdist_group("example-seed_pipeline")
def test_removing_a_later_stages_verify_fails_that_call() -> None:
    # GIVEN the seed example whose Test role may no longer kms:Verify (its statement keeps kms:GetPublicKey)
    def change(site: plan.Site, templates: Templates) -> None:
        [document] = role_policies(site, templates, the(site, plan.TEST).caller.arn)
        [statement] = [s for s in document["Statement"] if "kms:Verify" in s["Action"]]
        statement["Action"] = [a for a in statement["Action"] if a != "kms:Verify"]

    site = mutated("seed_pipeline", change)
    # THEN the plan fails on exactly that call, by the Test role
    key = site.pipelines[0].signing_key
    assert calls(site) == {("verifier", "kms:Verify", key)}
    [finding] = plan.check(site, entry(plan.VERIFIER, "its pipeline's signing key"), "kms:Verify")[1]
    assert finding.label == the(site, plan.TEST).label


@pytest.mark.xdist_group("example-seed_pipeline")
def test_a_signing_key_policy_letting_validate_sign_fails_naming_that_call() -> None:
    # GIVEN the seed example whose signing key's policy also lets the Validate role (which runs package code) sign,
    # under the same conditions as Attest
    def change(site: plan.Site, templates: Templates) -> None:
        policy = signing_key_policy(site, templates, site.pipelines[0])
        [attest] = [s for s in policy["Statement"] if s.get("Sid") == "SignByAttestOnly"]
        policy["Statement"].append({**attest, "Sid": "SignByValidate", "Principal": {"AWS": validate}})

    validate = the(plan.example_site("seed_pipeline"), plan.VALIDATE).caller.arn
    site = mutated("seed_pipeline", change)
    # THEN the plan fails on exactly that call, naming the Validate role
    assert calls(site) == {("role", "kms:Sign", site.pipelines[0].signing_key)}
    [finding] = plan.check(site, forbidden_signing(), "kms:Sign")[1]
    assert finding.label == the(site, plan.VALIDATE).label


@pytest.mark.xdist_group("example-fleet")
def test_a_signing_key_policy_letting_another_teams_attest_sign_fails_naming_it() -> None:
    # GIVEN the fleet, team02's signing key also letting team01's Attest role sign (team01's boundary allows it)
    original = plan.example_site("fleet")
    team01, team02 = (next(p for p in original.pipelines if p.name == f"fleet-{team}") for team in ("team01", "team02"))

    def change(site: plan.Site, templates: Templates) -> None:
        policy = signing_key_policy(site, templates, team02)
        [attest] = [s for s in policy["Statement"] if s.get("Sid") == "SignByAttestOnly"]
        policy["Statement"].append({**attest, "Sid": "SignByTeam01", "Principal": {"AWS": team01.attest_role}})

    site = mutated("fleet", change)
    # THEN the plan fails on exactly that call: team01's Attest role signing with team02's key
    assert calls(site) == {("role", "kms:Sign", team02.signing_key)}
    [finding] = plan.check(site, forbidden_signing(), "kms:Sign")[1]
    [attest01] = [i for i in plan.instances(site, plan.ATTEST) if i.pipeline and i.pipeline.name == "fleet-team01"]
    assert finding.label == attest01.label


@pytest.mark.xdist_group("example-seed_pipeline")
def test_letting_validate_start_attest_or_pass_its_role_fails_naming_both_calls() -> None:
    # GIVEN the seed example whose Validate role (which runs package code) may start the Attest project (a buildspec
    # override would run its commands with Attest's right to sign) and pass the Attest role
    original = plan.example_site("seed_pipeline")
    [attest] = [a for a in original.pipelines[0].actions if a.name == "Attest"]
    assert attest.project is not None
    project, role = attest.project.arn, original.pipelines[0].attest_role

    def change(site: plan.Site, templates: Templates) -> None:
        [document] = role_policies(site, templates, the(site, plan.VALIDATE).caller.arn)
        document["Statement"].append(
            {"Effect": "Allow", "Action": ["codebuild:StartBuild", "iam:PassRole"], "Resource": [project, role]}
        )

    # THEN the plan fails on exactly those two calls
    assert calls(mutated("seed_pipeline", change)) == {
        ("build", "codebuild:StartBuild", project),
        ("role", "iam:PassRole", role),
    }


# --- A store in another Region -----------------------------------------------------------------------------------


@pytest.mark.xdist_group("example-multi_region")
def test_the_pipeline_role_reaching_every_key_of_another_region_is_caught() -> None:
    # GIVEN the multi_region example whose pipeline role uses the keys of eu-west-1 without naming the alias
    def change(site: plan.Site, templates: Templates) -> None:
        for document in role_policies(site, templates, the(site, plan.PIPELINE).caller.arn):
            for statement in document["Statement"]:
                if "kms:eu-west-1" in json.dumps(statement.get("Resource")):
                    del statement["Condition"]

    site = mutated("multi_region", change)
    # THEN the plan fails on the other keys of that Region: the log key there, for both calls
    [(stack, log_key)] = [(s, k) for s, k, _ in site.resources("AWS::KMS::Key") if "LogKey" in k and "support" in s]
    key = site.arn(stack, log_key)
    assert calls(site) == {("pipeline", "kms:Decrypt", key), ("pipeline", "kms:GenerateDataKey", key)}
