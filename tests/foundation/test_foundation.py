"""Many pipelines on one ``PipelineFoundation``: isolation, scale, shared rules and input errors.

The fleet example (24 team pipelines on one foundation, in three stacks beside the foundation's) is synthesized once
for the session (``conftest.synthesized_example_stacks``, shared with the snapshot tests); everything about it is
asserted on its templates, nothing is deployed. Cross-team isolation is asserted by evaluating the synthesized IAM
policies (``tests/iam_eval.py``): each role's identity policies intersected with its permissions boundary, and the
shared source bucket's policy. The evaluator is itself tested here, on small policies and on mutations of the fleet's
(dropping or swapping a boundary must change its answers), so that it cannot pass everything silently.

Input errors are raised while constructs are built, before any synthesis, so each builds its own small app.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from s3_validated_pipeline import (
    InputError,
    OperationsOptions,
    PipelineFoundation,
    SourceBucketOptions,
    StageOptions,
    TriggerMode,
    ValidatedS3Pipeline,
    ValidationOptions,
)
from s3_validated_pipeline.cli._local.assembly import AssemblyError
from s3_validated_pipeline.foundation.construct import isolate_member
from tests.conftest import synthesized_example_stacks
from tests.iam_eval import (
    ACCOUNT,
    PARTITION,
    REGION,
    Caller,
    Effect,
    Resolver,
    ResourcePolicy,
    Role,
    Statement,
    action_matches,
    arn_matches,
    authorize,
    callers_in,
    decide,
    policies_for_role_name,
    resource_policies,
    roles_in,
    statements_of,
)

pytestmark = pytest.mark.xdist_group("example-fleet")  # reads the session's synthesis of examples/fleet

FOUNDATION = "FleetFoundation"
PREFIX = "fleet"
TEAMS = [f"team{number:02d}" for number in range(1, 25)]
ME, OTHER = "team01", "team02"


def pipeline_name(team: str) -> str:
    return f"{PREFIX}-{team}"


def role_arn(name: str) -> str:
    return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}"


def uploader(team: str) -> str:
    """The role each team uploads with, imported by name in the example."""
    return f"{team}-developers"


def att_id(value: Any) -> str:
    """The logical id in ``{"Fn::GetAtt": [id, "Arn"]}``."""
    logical_id, attribute = value["Fn::GetAtt"]
    assert attribute == "Arn"
    return str(logical_id)


# ---------------------------------------------------------------------------------------------------------------
# The fleet, synthesized once


@dataclass(frozen=True)
class Fleet:
    """The fleet example's synthesized stacks and what the tests read from them."""

    templates: dict[str, dict[str, Any]]
    sizes: dict[str, int]  # bytes of each template as written to the cloud assembly
    depends_on: dict[str, set[str]]  # each stack's dependencies among the app's stacks
    resolver: Resolver
    roles: dict[str, dict[str, Role]]  # each stack's roles, by logical id, with their policies and boundary

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == type_}

    @property
    def team_stacks(self) -> list[str]:
        return [name for name in self.templates if name != FOUNDATION]

    def pipeline(self, team: str) -> tuple[str, str, dict[str, Any]]:
        """(stack, logical id, properties) of the team's pipeline, found by its physical name."""
        [found] = [
            (stack, logical_id, resource["Properties"])
            for stack in self.team_stacks
            for logical_id, resource in self.resources(stack, "AWS::CodePipeline::Pipeline").items()
            if resource["Properties"]["Name"] == pipeline_name(team)
        ]
        return found

    def stack_of(self, team: str) -> str:
        return self.pipeline(team)[0]

    @property
    def artifact_bucket(self) -> str:
        """The ARN of the artifact bucket, read from team01's pipeline (through its import of the foundation's)."""
        stack, _, properties = self.pipeline(ME)
        name = self.resolver.resolve(stack, properties["ArtifactStore"]["Location"])
        return f"arn:{PARTITION}:s3:::{name}"

    @property
    def source_bucket(self) -> str:
        """The ARN of the shared source bucket, read from team01's Source action."""
        stack, _, properties = self.pipeline(ME)
        configuration = properties["Stages"][0]["Actions"][0]["Configuration"]
        return f"arn:{PARTITION}:s3:::{self.resolver.resolve(stack, configuration['S3Bucket'])}"

    def source_key(self, team: str) -> str:
        return f"{self.source_bucket}/teams/{team}/source.zip"

    def artifact(self, team: str, key: str = "Validated/AbC1234") -> str:
        """An object in the team's artifact folder: CodePipeline writes ``<first 20 characters of name>/...``."""
        return f"{self.artifact_bucket}/{pipeline_name(team)[:20]}/{key}"

    def team_roles(self, team: str) -> dict[str, Role]:
        """Every role the team's pipeline uses, by what it does, found from the resources that use it."""
        stack, _, properties = self.pipeline(team)
        template = self.templates[stack]["Resources"]
        roles = self.roles[stack]
        found = {"pipeline": roles[att_id(properties["RoleArn"])]}
        for stage in properties["Stages"]:
            for action in stage["Actions"]:
                found[f"action:{action['Name']}"] = roles[att_id(action["RoleArn"])]
                project = action["Configuration"].get("ProjectName")
                if project is not None:
                    service_role = template[project["Ref"]]["Properties"]["ServiceRole"]
                    found[f"project:{action['Name']}"] = roles[att_id(service_role)]
        arn = f"arn:{PARTITION}:codepipeline:{REGION}:{ACCOUNT}:{pipeline_name(team)}"
        [rule] = [
            rule
            for rule in self.resources(stack, "AWS::Events::Rule").values()
            if self.resolver.resolve(stack, rule["Properties"]["Targets"][0]["Arn"]) == arn
        ]
        found["trigger"] = roles[att_id(rule["Properties"]["Targets"][0]["RoleArn"])]
        return found

    def foundation_resource(self, type_: str, test: Callable[[dict[str, Any]], bool]) -> tuple[str, dict[str, Any]]:
        [found] = [(k, v["Properties"]) for k, v in self.resources(FOUNDATION, type_).items() if test(v["Properties"])]
        return found


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    stacks = [synthesized.stack for synthesized in synthesized_example_stacks("fleet")]
    app = stacks[0].node.root
    assert isinstance(app, cdk.App)
    assembly = app.synth()  # the session's assembly of the example (the snapshot tests read it too), not a second one
    names = {stack.stack_name for stack in stacks}
    templates, sizes, depends_on = {}, {}, {}
    for stack in stacks:
        artifact = assembly.get_stack_by_name(stack.stack_name)
        templates[stack.stack_name] = artifact.template
        sizes[stack.stack_name] = Path(artifact.template_full_path).stat().st_size
        depends_on[stack.stack_name] = {dependency.id for dependency in artifact.dependencies} & names
    resolver = Resolver(templates)
    return Fleet(templates, sizes, depends_on, resolver, {name: roles_in(resolver, name) for name in templates})


# ---------------------------------------------------------------------------------------------------------------
# The evaluator, tested on its own: each rule of IAM it claims to follow, and its refusal to guess


def allow(**fields: Any) -> Statement:
    return Statement.parse({"Effect": "Allow", **fields})


def deny(**fields: Any) -> Statement:
    return Statement.parse({"Effect": "Deny", **fields})


def test_evaluator_matches_actions_case_insensitively_and_resources_exactly() -> None:
    assert action_matches("s3:*Object*", "S3:GETOBJECTVERSION")
    assert action_matches("s3:Get?bject", "s3:GetObject")
    assert not action_matches("s3:Get?bject", "s3:GetObjectAcl")
    assert not action_matches("s3:GetObject", "s3:GetObjectVersion")
    assert arn_matches("arn:aws:s3:::b/f/*", "arn:aws:s3:::b/f/a/b")  # * spans '/'
    assert not arn_matches("arn:aws:s3:::b/f/*", "arn:aws:s3:::b/F/a")  # resources are case-sensitive
    assert not arn_matches("arn:aws:s3:::b/f/*", "arn:aws:s3:::b/f")  # the folder's objects, not the folder
    assert arn_matches("*", "arn:aws:s3:::b")
    # ARNs compare segment by segment: a wildcard in one segment does not reach into the next.
    assert not arn_matches("arn:aws:events:*:rule/x", "arn:aws:events:eu-west-1:1:rule/x")


def test_evaluator_weighs_allow_deny_not_action_and_not_resource_as_iam_does() -> None:
    everything_but_objects = allow(NotAction="s3:*Object*", Resource="*")
    objects_elsewhere = allow(Action="s3:*Object*", NotResource="arn:aws:s3:::shared/*")
    policy = [everything_but_objects, objects_elsewhere]
    assert decide(policy, action="kms:Decrypt", resource="arn:aws:kms:r:1:key/k").allowed
    assert decide(policy, action="s3:GetObject", resource="arn:aws:s3:::mine/x").allowed
    assert decide(policy, action="s3:GetObject", resource="arn:aws:s3:::shared/x").effect is Effect.NOT_ALLOWED
    # An explicit deny wins over any allow.
    denied = decide(
        [*policy, deny(Sid="No", Action="kms:*", Resource="*")], action="kms:Decrypt", resource="arn:aws:kms:r:1:key/k"
    )
    assert (denied.effect, denied.by) == (Effect.DENY, ("No",))


def test_evaluator_evaluates_conditions_with_missing_keys_as_iam_does() -> None:
    others = deny(
        Principal={"AWS": "*"},
        Action="s3:PutObject",
        Resource="arn:aws:s3:::b/k",
        Condition={"ArnNotEquals": {"aws:PrincipalArn": ["arn:aws:iam::1:root", "arn:aws:iam::1:role/dev"]}},
    )

    def put(principal: str, context: dict[str, Any]) -> Effect:
        return decide(
            [others], action="s3:PutObject", resource="arn:aws:s3:::b/k", principal=("AWS", principal), context=context
        ).effect

    assert put("arn:aws:iam::1:role/dev", {"aws:PrincipalArn": "arn:aws:iam::1:role/dev"}) is Effect.NOT_ALLOWED
    assert put("arn:aws:iam::1:role/ops", {"aws:PrincipalArn": "arn:aws:iam::1:role/ops"}) is Effect.DENY
    # A negated operator holds when the key is missing; a positive one does not.
    assert put("arn:aws:iam::1:role/dev", {}) is Effect.DENY
    via = allow(Action="*", Resource="*", Condition={"ForAllValues:StringNotEquals": {"aws:CalledVia": ["cfn"]}})
    assert decide([via], action="s3:GetObject", resource="arn:aws:s3:::b/k").allowed  # missing: ForAllValues holds
    assert not decide([via], action="x:Y", resource="*", context={"aws:CalledVia": ["cfn"]}).allowed
    present = allow(Action="*", Resource="*", Condition={"Null": {"s3:x-amz-server-side-encryption": "false"}})
    assert not decide([present], action="s3:PutObject", resource="*").allowed
    assert decide(
        [present], action="s3:PutObject", resource="*", context={"s3:x-amz-server-side-encryption": "x"}
    ).allowed


def test_evaluator_refuses_what_it_cannot_evaluate() -> None:
    with pytest.raises(ValueError, match="unsupported condition operator"):
        decide(
            [allow(Action="*", Resource="*", Condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01"}})],
            action="s3:GetObject",
            resource="*",
        )
    with pytest.raises(ValueError, match="unsupported statement keys"):
        Statement.parse({"Effect": "Deny", "NotPrincipal": {"AWS": "*"}, "Action": "*", "Resource": "*"})
    resolver = Resolver({"S": {"Resources": {}}})
    with pytest.raises(AssemblyError, match="Fn::FindInMap cannot be resolved"):
        resolver.resolve("S", {"Fn::FindInMap": ["Map", "a", "b"]})
    with pytest.raises(AssemblyError, match="no stack of the cloud assembly exports it"):
        resolver.resolve("S", {"Fn::ImportValue": "Nobody:Exports"})
    with pytest.raises(ValueError, match="S has no resource Nobody"):
        resolver.resolve("S", {"Fn::GetAtt": ["Nobody", "Arn"]})


def test_evaluator_reads_an_imported_arn_as_the_exporting_stack_writes_it(fleet: Fleet) -> None:
    # The foundation's artifact bucket, by GetAtt in its own stack and by ImportValue in team01's, is one string.
    stack = fleet.stack_of(ME)
    boundary = fleet.team_roles(ME)["pipeline"].boundary_id
    assert boundary is not None
    document = fleet.templates[stack]["Resources"][boundary]["Properties"]["PolicyDocument"]
    [own] = [statement for statement in document["Statement"] if statement.get("Sid") == "OwnObjects"]
    artifacts_import = own["Resource"][0]
    assert "Fn::ImportValue" in json.dumps(artifacts_import)
    [bucket_id] = [
        k
        for k in fleet.resources(FOUNDATION, "AWS::S3::Bucket")
        if f"arn:aws:s3:::{fleet.resolver.resolve(FOUNDATION, {'Ref': k})}" == fleet.artifact_bucket
    ]
    exported = fleet.resolver.resolve(FOUNDATION, {"Fn::GetAtt": [bucket_id, "Arn"]})
    assert fleet.resolver.resolve(stack, artifacts_import) == f"{exported}/{pipeline_name(ME)}/*"


# ---------------------------------------------------------------------------------------------------------------
# 1. Cross-team isolation, on the synthesized policies


def test_every_role_of_a_team_has_its_own_pipelines_boundary(fleet: Fleet) -> None:
    boundaries: dict[str, str] = {}
    for team in TEAMS:
        stack = fleet.stack_of(team)
        roles = fleet.team_roles(team)
        # The pipeline role, one role per action, one per CodeBuild project and the trigger's start role.
        assert sorted(roles) == [
            "action:Attest",
            "action:Source",
            "action:Test",
            "action:Validate",
            "pipeline",
            "project:Attest",
            "project:Test",
            "project:Validate",
            "trigger",
        ], team
        [boundary] = {role.boundary_id for role in roles.values()}
        assert boundary is not None, f"{team}'s roles have no permissions boundary"
        own = {r for s in roles["pipeline"].boundary or () if s.sid == "OwnObjects" for r in s.resources}
        assert own == {fleet.artifact(team, "*"), fleet.source_key(team)}, team
        boundaries[team] = f"{stack}/{boundary}"
    assert len(set(boundaries.values())) == len(TEAMS)
    # Every role of the team stacks is one of some team's: none is left without a boundary.
    for stack in fleet.team_stacks:
        counted = {
            role.logical_id
            for team in TEAMS
            if fleet.stack_of(team) == stack
            for role in fleet.team_roles(team).values()
        }
        assert counted == set(fleet.roles[stack]), stack


def test_cdks_own_grants_name_the_whole_artifact_bucket(fleet: Fleet) -> None:
    # Without the boundary, team01's pipeline and build roles could read and write every team's artifacts:
    # CDK grants them the bucket's objects ("<bucket>/*"), not a folder.
    roles = fleet.team_roles(ME)
    whole_bucket = f"{fleet.artifact_bucket}/*"
    for kind in ("pipeline", "project:Validate", "project:Test", "action:Source"):
        assert any(whole_bucket in s.resources for s in roles[kind].identity if s.effect == "Allow"), kind
    assert roles["pipeline"].identity_allows("s3:GetObject", fleet.artifact(OTHER))
    assert roles["pipeline"].identity_allows("s3:PutObject", fleet.artifact(OTHER))
    assert roles["project:Validate"].identity_allows("s3:GetObject", fleet.artifact(OTHER))
    assert roles["project:Test"].identity_allows("s3:GetObject", fleet.artifact(OTHER))


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject"])
def test_each_role_reaches_its_own_artifact_folder_where_its_policy_grants_the_bucket(
    fleet: Fleet, action: str
) -> None:
    roles = fleet.team_roles(ME)
    own = fleet.artifact(ME)
    granted = {kind for kind, role in roles.items() if role.identity_allows(action, own)}
    effective = {kind for kind, role in roles.items() if role.may(action, own)}
    assert granted == effective
    # The roles that move artifacts are among them: the boundary leaves the pipeline working.
    expected = {"pipeline", "project:Validate"} | ({"project:Test"} if action == "s3:GetObject" else {"action:Source"})
    assert expected <= effective


def test_no_role_of_a_team_reaches_another_teams_objects(fleet: Fleet) -> None:
    roles = fleet.team_roles(ME)
    forbidden = [
        fleet.artifact(OTHER),
        fleet.artifact(OTHER, "Source/Xyz9876"),
        *(fleet.artifact(team) for team in TEAMS if team != ME),
        # A folder whose name starts with team01's is not team01's.
        f"{fleet.artifact_bucket}/{pipeline_name(ME)}0/Validated/AbC1234",
        *(fleet.source_key(team) for team in TEAMS if team != ME),
    ]
    actions = [
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:PutObjectTagging",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:AbortMultipartUpload",
    ]
    reachable = [
        (kind, action, resource)
        for kind, role in roles.items()
        for action in actions
        for resource in forbidden
        if role.may(action, resource)
    ]
    assert reachable == []


def test_the_build_roles_read_their_own_source_key(fleet: Fleet) -> None:
    roles = fleet.team_roles(ME)
    assert roles["project:Validate"].may("s3:GetObject", fleet.source_key(ME))
    assert roles["project:Validate"].may("s3:GetObjectVersion", fleet.source_key(ME))
    assert roles["action:Source"].may("s3:GetObject", fleet.source_key(ME))
    assert not roles["action:Source"].may("s3:GetObject", fleet.source_key(OTHER))


def test_the_boundary_leaves_the_pipelines_other_permissions(fleet: Fleet) -> None:
    stack = fleet.stack_of(ME)
    roles = fleet.team_roles(ME)
    resolve = fleet.resolver.resolve
    validate = roles["project:Validate"]
    [checker] = [r for s in validate.identity for r in s.resources if r.startswith("arn:aws:s3:::cdk-")]
    assert validate.may("s3:GetObject", checker)  # the package checker, from the CDK assets bucket
    artifact_key = resolve(stack, fleet.pipeline(ME)[2]["ArtifactStore"]["EncryptionKey"]["Id"])
    assert validate.may("kms:Decrypt", artifact_key)
    # Listing the shared buckets: under its own folder and key only (CDK's grants give s3:List* on the bucket)
    own_folder, other_folder = f"{pipeline_name(ME)}/", f"{pipeline_name(OTHER)}/"
    assert roles["pipeline"].may("s3:ListBucket", fleet.artifact_bucket, {"s3:prefix": own_folder})
    assert roles["pipeline"].may("s3:ListBucket", fleet.artifact_bucket, {"s3:prefix": f"{own_folder}Validated/"})
    for prefix in ({"s3:prefix": other_folder}, {"s3:prefix": pipeline_name(ME)}, {"s3:prefix": ""}, {}):
        assert not roles["pipeline"].may("s3:ListBucket", fleet.artifact_bucket, prefix), prefix
        assert not roles["action:Source"].may("s3:ListBucketVersions", fleet.source_bucket, prefix), prefix
    assert roles["action:Source"].may("s3:ListBucket", fleet.source_bucket, {"s3:prefix": f"teams/{ME}/source.zip"})
    project_arn = next(r for s in roles["action:Validate"].identity for r in s.resources)
    assert roles["action:Validate"].may("codebuild:StartBuild", project_arn)
    pipeline_arn = f"arn:{PARTITION}:codepipeline:{REGION}:{ACCOUNT}:{pipeline_name(ME)}"
    assert roles["trigger"].may("codepipeline:StartPipelineExecution", pipeline_arn)
    assert not roles["trigger"].may("codepipeline:StartPipelineExecution", pipeline_arn.replace(ME, OTHER))


def test_uploader_grant_allows_putting_its_own_key_only(fleet: Fleet) -> None:
    grants = {stack: policies_for_role_name(fleet.resolver, stack, uploader(ME)) for stack in fleet.templates}
    grant = grants.pop(fleet.stack_of(ME))
    assert grant, "team01's stack attaches no policy to its uploader"
    assert all(not other for other in grants.values())  # no other stack grants team01's uploader anything

    def puts(resource: str) -> bool:
        return decide(grant, action="s3:PutObject", resource=resource).allowed

    assert puts(fleet.source_key(ME))
    others = [
        *(fleet.source_key(team) for team in TEAMS if team != ME),
        f"{fleet.source_bucket}/teams/{ME}/other.zip",
        f"{fleet.source_bucket}/teams/{ME}/source.zip.old",
        f"{fleet.source_bucket}/source.zip",
        fleet.artifact(ME),
    ]
    assert [resource for resource in others if puts(resource)] == []
    assert {r for s in grant if any(action_matches(a, "s3:PutObject") for a in s.actions) for r in s.resources} == {
        fleet.source_key(ME)
    }


def source_bucket_policy(fleet: Fleet) -> tuple[Statement, ...]:
    name = fleet.source_bucket.removeprefix("arn:aws:s3:::")
    _, properties = fleet.foundation_resource(
        "AWS::S3::BucketPolicy", lambda p: fleet.resolver.resolve(FOUNDATION, p["Bucket"]) == name
    )
    return statements_of(fleet.resolver.resolve(FOUNDATION, properties["PolicyDocument"]))


def key_statement(policy: tuple[Statement, ...], key: str) -> str:
    """The sid of the bucket policy's statement denying uploads of ``key`` by all but its uploaders."""
    [sid] = [s.sid for s in policy if s.effect == "Deny" and s.resources == (key,) and not s.not_resource]
    return sid


def upload(fleet: Fleet, policy: tuple[Statement, ...], principal: str, key: str, **context: Any) -> Any:
    """Evaluate the bucket policy for an upload of ``key`` by ``principal``, well encrypted over TLS."""
    _, properties = fleet.foundation_resource(
        "AWS::S3::Bucket", lambda p: "EventBridgeConfiguration" in p.get("NotificationConfiguration", {})
    )
    [rule] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    source_key_arn = fleet.resolver.resolve(FOUNDATION, rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    request = {
        "aws:PrincipalArn": principal,
        "aws:SecureTransport": "true",
        "s3:TlsVersion": "1.3",
        "s3:x-amz-server-side-encryption": "aws:kms",
        "s3:x-amz-server-side-encryption-aws-kms-key-id": source_key_arn,
        **context,
    }
    return decide(policy, action="s3:PutObject", resource=key, principal=("AWS", principal), context=request)


def test_source_bucket_policy_lets_only_a_teams_uploader_and_root_put_its_key(fleet: Fleet) -> None:
    policy = source_bucket_policy(fleet)
    target = fleet.source_key(OTHER)
    others = [
        role_arn(uploader(ME)),
        role_arn(uploader("team24")),
        # Even team02's own pipeline role does not upload.
        fleet.resolver.resolve(
            fleet.stack_of(OTHER), {"Fn::GetAtt": [fleet.team_roles(OTHER)["pipeline"].logical_id, "Arn"]}
        ),
        f"arn:{PARTITION}:iam::999999999999:role/{uploader(OTHER)}",  # the same name in another account
    ]
    for principal in others:
        decision = upload(fleet, policy, principal, target)
        assert decision.effect is Effect.DENY, principal
        # Denied by the statement of team02's key; team02's own roles, which may read it, by the one keeping every
        # pipeline's roles from uploading.
        owner = "/s3vp/" in principal
        assert decision.by == ("DenyUploadsByOwners" if owner else key_statement(policy, target),), principal
    for principal in (role_arn(uploader(OTHER)), f"arn:{PARTITION}:iam::{ACCOUNT}:root"):
        assert upload(fleet, policy, principal, target).effect is not Effect.DENY, principal
    # team02's uploader may not put team01's key, nor a key nobody watches, nor use another key.
    assert upload(fleet, policy, role_arn(uploader(OTHER)), fleet.source_key(ME)).effect is Effect.DENY
    unwatched = f"{fleet.source_bucket}/teams/team25/source.zip"
    assert upload(fleet, policy, role_arn(uploader(OTHER)), unwatched).by == ("DenyUploadsToOtherKeys",)
    other_key = {"s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:eu-west-1:1:key/other"}
    assert upload(fleet, policy, role_arn(uploader(OTHER)), target, **other_key).by == ("DenyOtherKey",)


def test_team01s_uploader_can_upload_end_to_end(fleet: Fleet) -> None:
    # Identity (its grant) and resource (the bucket policy) together: allowed, and denied for team02's key.
    grant = policies_for_role_name(fleet.resolver, fleet.stack_of(ME), uploader(ME))
    policy = source_bucket_policy(fleet)
    assert decide(grant, action="s3:PutObject", resource=fleet.source_key(ME)).allowed
    assert upload(fleet, policy, role_arn(uploader(ME)), fleet.source_key(ME)).effect is not Effect.DENY


# Mutations: the same questions, asked of deliberately weakened policies, must get the weakened answers. Were the
# evaluator to ignore boundaries, NotResource or the bucket policy's conditions, these would fail.


def test_mutation_without_the_boundary_team01_reads_team02s_folder(fleet: Fleet) -> None:
    pipeline = fleet.team_roles(ME)["pipeline"]
    assert not pipeline.may("s3:GetObject", fleet.artifact(OTHER))
    unbounded = dataclasses.replace(pipeline, boundary=None)
    assert unbounded.may("s3:GetObject", fleet.artifact(OTHER))
    assert unbounded.may("s3:PutObject", fleet.artifact(OTHER))


def test_mutation_with_team02s_boundary_team01_reads_team02s_folder_and_not_its_own(fleet: Fleet) -> None:
    mine, theirs = fleet.team_roles(ME)["pipeline"], fleet.team_roles(OTHER)["pipeline"]
    swapped = dataclasses.replace(mine, boundary=theirs.boundary)
    assert swapped.may("s3:GetObject", fleet.artifact(OTHER))
    assert not swapped.may("s3:GetObject", fleet.artifact(ME))


def test_mutation_without_the_own_objects_statement_team01_reads_nothing_in_the_shared_buckets(fleet: Fleet) -> None:
    validate = fleet.team_roles(ME)["project:Validate"]
    assert validate.boundary is not None
    cut = dataclasses.replace(validate, boundary=tuple(s for s in validate.boundary if s.sid != "OwnObjects"))
    assert not cut.may("s3:GetObject", fleet.artifact(ME))
    assert not cut.may("s3:GetObject", fleet.source_key(ME))
    artifact_key = fleet.resolver.resolve(
        fleet.stack_of(ME), fleet.pipeline(ME)[2]["ArtifactStore"]["EncryptionKey"]["Id"]
    )
    assert cut.may("kms:Decrypt", artifact_key)  # the rest of the boundary still allows


def test_mutation_without_team02s_deny_team01s_uploader_is_no_longer_denied(fleet: Fleet) -> None:
    policy = source_bucket_policy(fleet)
    policy = tuple(s for s in policy if s.sid != key_statement(policy, fleet.source_key(OTHER)))
    assert upload(fleet, policy, role_arn(uploader(ME)), fleet.source_key(OTHER)).effect is not Effect.DENY


# The buckets' own policies: a principal the library does not bound (a developer role with broad rights) is kept
# from other teams' objects too. Whole IAM evaluations: identity policies, boundaries and every resource policy.

S3_CONTEXT = "kms:EncryptionContext:aws:s3:arn"
BROAD = statements_of(
    {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], "Resource": "*"},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
        ]
    }
)
"""A developer's role with a common, broad identity policy: any object, any key."""


@dataclass(frozen=True)
class Policies:
    all: tuple[ResourcePolicy, ...]
    callers: dict[str, Caller]

    def allows(self, caller: Caller, action: str, resource: str, **context: str) -> bool:
        applying = [p for p in self.all if p.applies_to(resource)]
        return authorize(caller, action, resource, applying, context).allowed


@pytest.fixture(scope="module")
def policies(fleet: Fleet) -> Policies:
    return Policies(resource_policies(fleet.resolver), callers_in(fleet.resolver))


def broad(arn: str, *more: Statement) -> Caller:
    return Caller(account=ACCOUNT, arn=arn, identity=(*BROAD, *more))


def test_team_a_uploader_cannot_read_or_write_team_bs_key_or_artifacts(fleet: Fleet, policies: Policies) -> None:
    # GIVEN team01's uploader, with its grant and, besides, a broad identity policy
    mine = policies.callers[role_arn(uploader(ME))]
    widened = broad(mine.arn, *mine.identity)
    # THEN neither reads nor writes team02's key or artifacts: the buckets' policies deny it
    for caller in (mine, widened):
        for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"):
            assert not policies.allows(caller, action, fleet.source_key(OTHER)), (caller.identity, action)
            assert not policies.allows(caller, action, fleet.artifact(OTHER)), (caller.identity, action)
    assert authorize(widened, "s3:GetObject", fleet.source_key(OTHER), policies.all).reason.startswith(
        "explicitly denied by FleetFoundation/FoundationSourceBucketPolicy"
    )
    # AND its own key it still uploads
    assert policies.allows(mine, "s3:PutObject", fleet.source_key(ME))


@pytest.mark.parametrize(
    "arn",
    [role_arn("team01-developers-admin"), role_arn(f"s3vp/{pipeline_name(ME)}/Developer")],
    ids=["a team01 role", "a role on team01's pipeline path"],
)
def test_a_broad_role_of_team_a_cannot_read_team_bs_key_or_artifacts(
    fleet: Fleet, policies: Policies, arn: str
) -> None:
    # GIVEN a role of team01 allowed s3:GetObject and kms:Decrypt on everything
    caller = broad(arn)
    # THEN team02's uploaded object and artifact folder are closed to it, whatever its policy says
    for action in ("s3:GetObject", "s3:GetObjectVersion"):
        assert not policies.allows(caller, action, fleet.source_key(OTHER))
        assert not policies.allows(caller, action, fleet.artifact(OTHER))
    # AND it writes no artifact of another team; off the pipelines' paths, nothing anywhere in the artifact bucket
    # (a role on a pipeline's path is that pipeline's, to the bucket: only iam:CreateRole makes one)
    assert not policies.allows(caller, "s3:PutObject", fleet.artifact(OTHER))
    elsewhere = f"{fleet.artifact_bucket}/elsewhere/object"
    assert policies.allows(caller, "s3:PutObject", elsewhere) is ("/s3vp/" in arn)


def test_team_bs_own_roles_still_read_and_write_their_objects(fleet: Fleet, policies: Policies) -> None:
    # GIVEN team02's own roles, as the templates define them
    roles = fleet.team_roles(OTHER)

    def caller(kind: str) -> Caller:
        return policies.callers[fleet.resolver.attribute(fleet.stack_of(OTHER), roles[kind].logical_id, "Arn")]

    # THEN its source action reads its key, its pipeline role and builds read and write its artifacts
    assert policies.allows(caller("action:Source"), "s3:GetObjectVersion", fleet.source_key(OTHER))
    assert policies.allows(caller("project:Validate"), "s3:GetObjectVersion", fleet.source_key(OTHER))
    assert policies.allows(caller("pipeline"), "s3:PutObject", fleet.artifact(OTHER))
    assert policies.allows(caller("project:Validate"), "s3:PutObject", fleet.artifact(OTHER))
    assert policies.allows(caller("project:Test"), "s3:GetObject", fleet.artifact(OTHER))
    # AND its uploader uploads its key; a broad role on team02's path reads it (the path is what admits)
    assert policies.allows(policies.callers[role_arn(uploader(OTHER))], "s3:PutObject", fleet.source_key(OTHER))
    on_their_path = broad(role_arn(f"s3vp/{pipeline_name(OTHER)}/Developer"))
    assert policies.allows(on_their_path, "s3:GetObject", fleet.source_key(OTHER))


def test_mutation_without_team02s_key_statement_a_broad_role_of_team01_reads_team02s_key(
    fleet: Fleet, policies: Policies
) -> None:
    caller = broad(role_arn("team01-developers-admin"))
    weakened = tuple(
        dataclasses.replace(p, statements=tuple(s for s in p.statements if s.sid != "DenyOthersOnKey2"))
        for p in policies.all
    )
    assert fleet.source_key(OTHER).endswith("teams/team02/source.zip")
    applying = [p for p in weakened if p.applies_to(fleet.source_key(OTHER))]
    assert authorize(caller, "s3:GetObject", fleet.source_key(OTHER), applying).allowed


def test_the_source_key_decrypts_for_a_team_only_its_own_object(fleet: Fleet, policies: Policies) -> None:
    # GIVEN the source key, whose bucket uses no S3 Bucket Key: KMS sees each object's ARN
    [source_bucket] = [
        b["Properties"]
        for b in fleet.resources(FOUNDATION, "AWS::S3::Bucket").values()
        if "EventBridgeConfiguration" in b["Properties"].get("NotificationConfiguration", {})
    ]
    [rule] = source_bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["BucketKeyEnabled"] is False
    key = fleet.resolver.resolve(FOUNDATION, rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
    mine, theirs = {S3_CONTEXT: fleet.source_key(ME)}, {S3_CONTEXT: fleet.source_key(OTHER)}
    # THEN team01's uploader and build roles decrypt team01's object only
    uploader_ = policies.callers[role_arn(uploader(ME))]
    validate = policies.callers[
        fleet.resolver.attribute(fleet.stack_of(ME), fleet.team_roles(ME)["project:Validate"].logical_id, "Arn")
    ]
    for caller in (uploader_, validate):
        assert policies.allows(caller, "kms:Decrypt", key, **mine), caller.arn
        assert not policies.allows(caller, "kms:Decrypt", key, **theirs), caller.arn
        assert not policies.allows(caller, "kms:Decrypt", key), caller.arn  # no context: a direct Decrypt
    assert policies.allows(uploader_, "kms:GenerateDataKey", key, **mine)
    assert not policies.allows(uploader_, "kms:GenerateDataKey", key, **theirs)


# ---------------------------------------------------------------------------------------------------------------
# 2. Scale


def test_fleet_has_24_pipelines_on_one_foundation(fleet: Fleet) -> None:
    names = sorted(
        p["Properties"]["Name"]
        for stack in fleet.templates
        for p in fleet.resources(stack, "AWS::CodePipeline::Pipeline").values()
    )
    assert names == [pipeline_name(team) for team in TEAMS]
    assert fleet.resources(FOUNDATION, "AWS::CodePipeline::Pipeline") == {}
    assert len(fleet.team_stacks) == 3


def test_every_queue_of_the_fleet_is_kept_when_its_stack_is_deleted(fleet: Fleet) -> None:
    queues = {
        (stack, queue_id): queue
        for stack in fleet.templates
        for queue_id, queue in fleet.templates[stack]["Resources"].items()
        if queue["Type"] == "AWS::SQS::Queue"
    }
    assert queues
    assert {(q["DeletionPolicy"], q["UpdateReplacePolicy"]) for q in queues.values()} == {("Retain", "Retain")}


def test_fleet_shares_its_keys_but_the_signing_keys(fleet: Fleet) -> None:
    keys = [key for stack in fleet.templates for key in fleet.resources(stack, "AWS::KMS::Key").values()]
    signing = [key for key in keys if key["Properties"].get("KeyUsage") == "SIGN_VERIFY"]
    # One signing key per pipeline: its policy names one Attest role, at any fleet size (docs/foundation.md)
    assert len(signing) == len(TEAMS)
    assert 1 <= len(keys) - len(signing) <= 4


def test_fleet_needs_at_most_39_resources_per_pipeline(fleet: Fleet) -> None:
    # 29 before Attest, which adds its project, role and policy, its action's role and policy, log group and key; then
    # the waiting alarm and the metric filter on Validate's log group it watches
    total = sum(len(template["Resources"]) for template in fleet.templates.values())
    assert total / len(TEAMS) <= 39, f"{total} resources for {len(TEAMS)} pipelines"


def test_each_stack_is_within_cloudformations_limits(fleet: Fleet) -> None:
    for stack, template in fleet.templates.items():
        assert len(template["Resources"]) <= 500, stack
        assert 0 < fleet.sizes[stack] <= 1_048_576, stack


# ---------------------------------------------------------------------------------------------------------------
# 3. What the foundation shares: rules matching pipelines by name, the dead-letter queue, the dashboard


def test_notification_and_history_rules_match_pipelines_by_name_prefix(fleet: Fleet) -> None:
    rules = {
        k: fleet.resolver.resolve(FOUNDATION, v["Properties"])
        for k, v in fleet.resources(FOUNDATION, "AWS::Events::Rule").items()
        if v["Properties"]["EventPattern"]["source"] == ["aws.codepipeline"]
    }
    prefix = f"arn:{PARTITION}:codepipeline:{REGION}:{ACCOUNT}:{PREFIX}-"
    for logical_id, rule in rules.items():
        assert rule["EventPattern"]["resources"] == [{"prefix": prefix}], logical_id
    targets = [target["Arn"] for rule in rules.values() for target in rule["Targets"]]
    assert any(":log-group:" in arn for arn in targets)  # the history
    assert any(arn.startswith(f"arn:{PARTITION}:sns:") for arn in targets)  # the notifications
    # Every pipeline of the fleet, by the ARN its own stack gives it, is matched.
    for stack in fleet.team_stacks:
        for logical_id in fleet.resources(stack, "AWS::CodePipeline::Pipeline"):
            name = fleet.resolver.resolve(stack, {"Ref": logical_id})
            assert f"arn:{PARTITION}:codepipeline:{REGION}:{ACCOUNT}:{name}".startswith(prefix), name


def trigger_dead_letter_queue(fleet: Fleet) -> tuple[str, tuple[Statement, ...]]:
    """The ARN and policy of the queue whose policy admits the upload rules."""
    _, properties = fleet.foundation_resource("AWS::SQS::QueuePolicy", lambda p: "-upload" in json.dumps(p))
    [queue] = properties["Queues"]
    arn = fleet.resolver.resolve(FOUNDATION, {"Fn::GetAtt": [queue["Ref"], "Arn"]})
    return arn, statements_of(fleet.resolver.resolve(FOUNDATION, properties["PolicyDocument"]))


def test_each_team_has_a_trigger_rule_starting_its_pipeline_with_the_uploaded_version(fleet: Fleet) -> None:
    queue, _ = trigger_dead_letter_queue(fleet)
    source_name = fleet.source_bucket.removeprefix("arn:aws:s3:::")
    for team in TEAMS:
        stack = fleet.stack_of(team)
        named = [
            fleet.resolver.resolve(stack, rule["Properties"])
            for rule in fleet.resources(stack, "AWS::Events::Rule").values()
            if rule["Properties"].get("Name") == f"{pipeline_name(team)}-upload"
        ]
        assert len(named) == 1, team
        [rule] = named
        assert rule["EventPattern"] == {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [source_name]}, "object": {"key": [f"teams/{team}/source.zip"]}},
        }
        [target] = rule["Targets"]
        assert target["Arn"] == f"arn:{PARTITION}:codepipeline:{REGION}:{ACCOUNT}:{pipeline_name(team)}"
        assert target["DeadLetterConfig"] == {"Arn": queue}
        transformer = target["InputTransformer"]
        assert transformer["InputPathsMap"] == {"detail-object-version-id": "$.detail.object.version-id"}
        body = json.loads(transformer["InputTemplate"].replace("<detail-object-version-id>", '"v1"'))
        assert body == {
            "sourceRevisions": [{"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": "v1"}]
        }
        assert target["RoleArn"] == fleet.resolver.resolve(
            stack, {"Fn::GetAtt": [fleet.team_roles(team)["trigger"].logical_id, "Arn"]}
        )


def test_the_shared_dead_letter_queue_admits_exactly_its_pipelines_upload_rules(fleet: Fleet) -> None:
    queue, policy = trigger_dead_letter_queue(fleet)
    rules = tuple(f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{pipeline_name(team)}-upload" for team in TEAMS)
    assert [s.conditions for s in policy if s.effect == "Allow"] == [{"ArnEquals": {"aws:SourceArn": rules}}]

    def admits(rule_arn: str) -> bool:
        context = {"aws:SourceArn": rule_arn, "aws:SecureTransport": "true"}
        principal = ("Service", "events.amazonaws.com")
        return decide(policy, action="sqs:SendMessage", resource=queue, principal=principal, context=context).allowed

    rule = f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule"
    assert all(admits(f"{rule}/{pipeline_name(team)}-upload") for team in TEAMS)
    assert not admits(f"{rule}/other-team01-upload")
    # A rule named like the pipelines' but of no pipeline of the foundation (the wildcard it used to admit)
    assert not admits(f"{rule}/{PREFIX}-intruder-upload")
    assert not admits(f"{rule}/{pipeline_name(ME)}-notify")
    assert not admits(f"arn:{PARTITION}:events:{REGION}:999999999999:rule/{pipeline_name(ME)}-upload")


def test_dashboard_has_a_row_per_pipeline_naming_projects_by_physical_name(fleet: Fleet) -> None:
    [(_, dashboard)] = fleet.resources(FOUNDATION, "AWS::CloudWatch::Dashboard").items()
    body = json.loads(fleet.resolver.resolve(FOUNDATION, dashboard["Properties"]["DashboardBody"]))
    headings = [w["properties"]["markdown"] for w in body["widgets"] if w["type"] == "text"]
    assert headings == [f"### {pipeline_name(team)}" for team in TEAMS]
    graphed = {
        metric[metric.index("ProjectName") + 1]
        for widget in body["widgets"]
        for metric in widget["properties"].get("metrics", [])
        if "AWS/CodeBuild" in metric
    }
    assert graphed == {f"{pipeline_name(team)}-{stage}" for team in TEAMS for stage in ("Validate", "Test")}
    projects = {
        p["Properties"]["Name"]
        for stack in fleet.team_stacks
        for p in fleet.resources(stack, "AWS::CodeBuild::Project").values()
    }
    # Attest is Validate's second action, named but not graphed: a failed attestation fails the execution
    assert graphed == {name for name in projects if not name.endswith("-Attest")}
    assert {name for name in projects if name.endswith("-Attest")} == {
        f"{pipeline_name(team)}-Attest" for team in TEAMS
    }


def test_every_project_acknowledges_the_template_checks_misreading_of_its_role_on_a_path() -> None:
    # GIVEN the fleet's projects, whose roles have IAM paths: aws-cdk-lib's template check (E3050) reads their
    # ServiceRole's Fn::GetAtt <role>.Arn as a Ref to the role's name, and would warn on every synthesis
    stacks = [synthesized.stack for synthesized in synthesized_example_stacks("fleet")]
    projects = [n for s in stacks for n in s.node.find_all() if isinstance(n, cdk.aws_codebuild.CfnProject)]
    assert len(projects) == 3 * len(TEAMS)
    # THEN each acknowledges exactly that finding, with a reason
    for project in projects:
        acknowledged = {
            key: reason
            for entry in project.node.metadata
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
            for key, reason in (entry.data or {}).items()
        }
        assert "GetAtt" in acknowledged.get("CloudFormation-Validate::E3050", ""), project.node.path


def test_foundation_stack_depends_on_no_pipeline_stack(fleet: Fleet) -> None:
    assert "Fn::ImportValue" not in json.dumps(fleet.templates[FOUNDATION])
    assert fleet.depends_on[FOUNDATION] == set()
    for stack in fleet.team_stacks:
        assert fleet.depends_on[stack] == {FOUNDATION}, stack


# ---------------------------------------------------------------------------------------------------------------
# 4. Input errors, raised while constructs are built


GOOD = ValidationOptions(commands=["npm ci"])


def new_foundation(stack: cdk.Stack | None = None, **options: Any) -> PipelineFoundation:
    return PipelineFoundation(stack or cdk.Stack(cdk.App(), "Shared"), "Foundation", name_prefix=PREFIX, **options)


def add_pipeline(foundation: PipelineFoundation, id: str = "payments", **arguments: Any) -> ValidatedS3Pipeline:
    scope = cdk.Stack.of(foundation)
    return ValidatedS3Pipeline(
        scope, id, foundation=foundation, **{"validation": GOOD, "object_key": f"teams/{id}/source.zip", **arguments}
    )


def fails(build: Callable[[], object], argument: str, shown: str, *advice: str) -> None:
    """``build`` raises an InputError with one problem, about ``argument``, showing ``shown`` and giving ``advice``."""
    with pytest.raises(InputError) as raised:
        build()
    assert [problem.argument for problem in raised.value.problems] == [argument]
    message = str(raised.value)
    assert f"  - {argument}: got {shown}" in message
    for part in advice:
        assert part in message


@pytest.mark.parametrize("prefix", ["has space", "a" * 16, "-fleet", "", "fleet/eu", "fleet-a"])
def test_fails_when_name_prefix_is_not_a_name(prefix: str) -> None:
    fails(
        lambda: PipelineFoundation(cdk.Stack(cdk.App(), "Shared"), "Foundation", name_prefix=prefix),
        "name_prefix",
        repr(prefix),
        "1 to 15 letters, digits or '_'",
        "No '-' in it",
    )


@dataclass(frozen=True)
class Edge:
    """One synthesis at the edges the fleet does not reach: the longest name prefix, a foundation keeping artifacts
    30 days and limiting each project to 2 concurrent builds, and pipelines in another stack of the foundation's
    account and region, one with a stage added after it was built."""

    shared: dict[str, Any]
    teams: dict[str, Any]
    environments: dict[str, str]
    resolver: Resolver

    def of_type(self, template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


LONGEST_PREFIX = "a" * 15


@pytest.fixture(scope="module")
def edge() -> Edge:
    app = cdk.App()
    environment = cdk.Environment(account="111111111111", region="eu-west-1")
    shared = cdk.Stack(app, "Shared", env=environment)
    foundation = PipelineFoundation(
        shared, "Foundation", name_prefix=LONGEST_PREFIX, artifact_retention_days=30, concurrent_build_limit=2
    )
    teams = cdk.Stack(app, "Teams", env=environment)
    for id in ("One", "Two"):
        pipeline = ValidatedS3Pipeline(
            teams,
            id,
            foundation=foundation,
            validation=GOOD,
            object_key=f"teams/{id}/source.zip",
            pipeline_name=f"{LONGEST_PREFIX}-{id.lower()}",
        )
    pipeline.add_build_stage("Audit", options=StageOptions(commands=["npm audit"]))
    assembly = app.synth()
    templates = {name: assembly.get_stack_by_name(name).template for name in ("Shared", "Teams")}
    environments = {name: assembly.get_stack_by_name(name).environment.name for name in templates}
    return Edge(templates["Shared"], templates["Teams"], environments, Resolver(templates))


def test_every_project_of_every_pipeline_gets_the_foundations_build_limit(edge: Edge) -> None:
    # GIVEN a foundation limiting each project to 2 concurrent builds  THEN every project of its pipelines has the
    # limit: Validate, Attest, and a stage added after the pipeline was built
    projects = edge.of_type(edge.teams, "AWS::CodeBuild::Project").values()
    stages = {"one": ("Validate", "Attest"), "two": ("Validate", "Attest", "Audit")}
    expected = sorted(f"{LONGEST_PREFIX}-{team}-{stage}" for team, names in stages.items() for stage in names)
    assert sorted(p["Properties"]["Name"] for p in projects) == expected
    assert {p["Properties"]["ConcurrentBuildLimit"] for p in projects} == {2}


def test_without_a_build_limit_no_project_has_one(fleet: Fleet) -> None:
    projects = [p for stack in fleet.team_stacks for p in fleet.resources(stack, "AWS::CodeBuild::Project").values()]
    assert projects
    assert not [p for p in projects if "ConcurrentBuildLimit" in p["Properties"]]


@pytest.mark.parametrize(("limit", "shown"), [(0, "0"), (-1, "-1"), (True, "True"), (2.5, "2.5")])
def test_fails_when_concurrent_build_limit_is_not_a_positive_whole_number(limit: object, shown: str) -> None:
    fails(
        lambda: new_foundation(concurrent_build_limit=limit),
        "concurrent_build_limit",
        shown,
        "Give the most builds each project may run at once, e.g. 2, or None for no limit of its own.",
    )


def test_the_longest_name_prefix_leaves_room_for_pipelines_to_differ(edge: Edge) -> None:
    # GIVEN a foundation with the longest prefix, and two pipelines whose names differ right after it
    # THEN both are built, under their own names
    names = sorted(p["Properties"]["Name"] for p in edge.of_type(edge.teams, "AWS::CodePipeline::Pipeline").values())
    assert names == [f"{LONGEST_PREFIX}-one", f"{LONGEST_PREFIX}-two"]


def test_fails_when_two_pipeline_names_share_their_first_20_characters() -> None:
    foundation = new_foundation()
    add_pipeline(foundation, "EuropeWest", pipeline_name="fleet-payments-europe-west")
    fails(
        lambda: add_pipeline(foundation, "EuropeCentral", pipeline_name="fleet-payments-europe-central"),
        "pipeline_name",
        "'fleet-payments-europe-central'",
        "'fleet-payments-europ'",
        "'fleet-payments-europe-west'",
        "first 20 characters",
    )


def test_fails_when_pipeline_ids_give_names_sharing_their_first_20_characters() -> None:
    foundation = new_foundation()
    add_pipeline(foundation, "PaymentsEuropeWest")
    fails(
        lambda: add_pipeline(foundation, "PaymentsEuropeCentral"),
        "id",
        "'fleet-PaymentsEuropeCentral'",
        "'fleet-PaymentsEurope'",
        "'fleet-PaymentsEuropeWest'",
        "first 20 characters",
        "shorter name_prefix",
    )


def test_fails_when_pipeline_name_does_not_start_with_the_prefix() -> None:
    fails(
        lambda: add_pipeline(new_foundation(), pipeline_name="payments"),
        "pipeline_name",
        "'payments'",
        "starts with 'fleet-'",
    )


@pytest.mark.parametrize(
    ("arguments", "argument", "shown", "advice"),
    [
        pytest.param(
            lambda stack: {"source_bucket": s3.Bucket.from_bucket_name(stack, "Uploads", "my-uploads")},
            "source_bucket",
            "<aws_cdk.aws_s3",
            "watches its object_key in the foundation's",
            id="source_bucket",
        ),
        pytest.param(
            lambda _: {"source_bucket_options": SourceBucketOptions(bucket_name="team-uploads")},
            "source_bucket_options",
            "SourceBucketOptions(bucket_name='team-uploads'",
            "grant uploaders with grant_upload",
            id="source_bucket_options",
        ),
        pytest.param(
            lambda _: {"operations": None}, "operations", "None", "alarms of the foundation's", id="operations-none"
        ),
        pytest.param(
            lambda _: {"operations": OperationsOptions(dashboard=None)},
            "operations",
            "OperationsOptions(",
            "alarms of the foundation's",
            id="operations-other",
        ),
        pytest.param(
            lambda _: {"artifact_retention_days": 30},
            "artifact_retention_days",
            "30",
            "(365 days)",
            id="artifact_retention_days",
        ),
        pytest.param(
            lambda _: {"trigger_mode": TriggerMode.FUNCTION},
            "trigger_mode",
            "<TriggerMode.FUNCTION",
            "TriggerMode.DIRECT",
            id="trigger_mode",
        ),
    ],
)
def test_fails_when_a_pipeline_repeats_what_its_foundation_decides(
    arguments: Callable[[cdk.Stack], dict[str, Any]], argument: str, shown: str, advice: str
) -> None:
    foundation = new_foundation()
    given = arguments(cdk.Stack.of(foundation))
    fails(lambda: add_pipeline(foundation, **given), argument, shown, advice, "foundation")


def test_fails_when_a_pipeline_repeats_the_foundations_artifact_retention() -> None:
    # Even the foundation's own value: the rule is "leave it out", with nothing to compare.
    foundation = new_foundation(artifact_retention_days=30)
    fails(
        lambda: add_pipeline(foundation, artifact_retention_days=30),
        "artifact_retention_days",
        "30",
        "Leave it out with a foundation",
        "(30 days)",
    )


def test_a_pipeline_leaving_artifact_retention_out_takes_the_foundations(edge: Edge) -> None:
    # GIVEN a foundation keeping artifacts 30 days, and pipelines leaving artifact_retention_days out (what the error
    # for a different value asks for)
    # THEN the pipelines keep their artifacts in the foundation's bucket, which expires them after 30 days
    assert edge.of_type(edge.teams, "AWS::S3::Bucket") == {}
    locations = {
        edge.resolver.resolve("Teams", p["Properties"]["ArtifactStore"]["Location"])
        for p in edge.of_type(edge.teams, "AWS::CodePipeline::Pipeline").values()
    }
    [artifact_bucket] = [
        bucket
        for logical_id, bucket in edge.of_type(edge.shared, "AWS::S3::Bucket").items()
        if edge.resolver.resolve("Shared", {"Ref": logical_id}) in locations
    ]
    expirations = {
        rule.get("ExpirationInDays")
        for rule in artifact_bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        if "ExpirationInDays" in rule
    }
    assert expirations == {30}


def test_fails_when_foundation_is_not_a_foundation() -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    fails(
        lambda: ValidatedS3Pipeline(stack, "Pipeline", validation=GOOD, foundation="x"),  # type: ignore[arg-type]
        "foundation",
        "'x'",
        "Expected a PipelineFoundation or None, not str",
    )


def test_fails_when_two_pipelines_watch_the_same_key() -> None:
    foundation = new_foundation()
    add_pipeline(foundation, "a", object_key="teams/shared/source.zip")
    fails(
        lambda: add_pipeline(foundation, "b", object_key="teams/shared/source.zip"),
        "object_key",
        "'teams/shared/source.zip'",
        "Another pipeline already watches this key",
    )


def test_fails_when_the_uploader_is_a_role_defined_in_another_stack() -> None:
    app = cdk.App()
    foundation = new_foundation(cdk.Stack(app, "Shared"))
    teams = cdk.Stack(app, "Teams")
    pipeline = ValidatedS3Pipeline(teams, "payments", foundation=foundation, validation=GOOD)
    developers = iam.Role(teams, "Developers", assumed_by=iam.AccountRootPrincipal())
    fails(
        lambda: pipeline.grant_upload(developers),
        "grantee",
        "'Teams/Developers'",
        "Defined in stack Teams, not in Shared",
        "iam.Role.from_role_name",
    )
    # Imported by name, the same role may upload: the foundation's stack names it in the key's statement, and the
    # pipeline's stack grants it the key, without either stack depending on the other's roles
    pipeline.grant_upload(iam.Role.from_role_name(teams, "ImportedDevelopers", "developers"))
    assembly = app.synth()
    templates = {name: assembly.get_stack_by_name(name).template for name in ("Shared", "Teams")}
    resolver = Resolver(templates)
    [policy] = [
        r
        for r in templates["Shared"]["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy" and "DenyOthersOnKey1" in json.dumps(r)
    ]
    [statement] = [
        s
        for s in statements_of(resolver.resolve("Shared", policy["Properties"]["PolicyDocument"]))
        if s.sid == "DenyOthersOnKey1"
    ]
    assert role_arn("developers") in statement.conditions["ArnNotLike"]["aws:PrincipalArn"]
    grant = policies_for_role_name(resolver, "Teams", "developers")
    assert decide(grant, action="s3:PutObject", resource=statement.resources[0]).allowed
    assert "Teams" not in {d.id for d in assembly.get_stack_by_name("Shared").dependencies}


@pytest.mark.parametrize(
    ("environment", "what"),
    [
        (cdk.Environment(account="222222222222", region="eu-west-1"), "account 111111111111 and this pipeline in 2222"),
        (
            cdk.Environment(account="111111111111", region="us-east-1"),
            "region eu-west-1 and this pipeline in us-east-1",
        ),
    ],
)
def test_fails_when_the_foundation_is_in_another_account_or_region(environment: cdk.Environment, what: str) -> None:
    app = cdk.App()
    shared = cdk.Stack(app, "Shared", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    foundation = new_foundation(shared)
    teams = cdk.Stack(app, "Teams", env=environment)
    fails(
        lambda: ValidatedS3Pipeline(teams, "payments", foundation=foundation, validation=GOOD),
        "foundation",
        "'Shared/Foundation'",
        what,
        "build pipelines in the foundation's account and Region",
    )


def test_a_pipeline_in_the_foundations_account_and_region_builds(edge: Edge) -> None:
    # GIVEN pipelines in a stack of their own, in the foundation's account and region
    # THEN both stacks synthesize there, and the pipelines use the foundation's bucket and key through its exports
    assert edge.environments == {"Shared": "aws://111111111111/eu-west-1", "Teams": "aws://111111111111/eu-west-1"}
    for pipeline in edge.of_type(edge.teams, "AWS::CodePipeline::Pipeline").values():
        store = pipeline["Properties"]["ArtifactStore"]
        assert "Fn::ImportValue" in json.dumps(store["Location"])
        assert "Fn::ImportValue" in json.dumps(store["EncryptionKey"]["Id"])


def test_fails_at_synthesis_when_the_shared_buckets_policies_would_exceed_what_s3_accepts() -> None:
    # GIVEN a foundation isolating 48 pipelines: each adds a statement to the source and the artifact bucket's policies
    stack = cdk.Stack(cdk.App(), "Shared")
    foundation = new_foundation(stack)
    for number in range(48):
        team = f"team{number:02d}"
        isolate_member(foundation, Construct(stack, team), pipeline_name(team), f"teams/{team}/source.zip")
    # THEN synthesis fails, naming both buckets, their estimated size, S3's limit and what to do (the fleet's 24
    # pipelines synthesize: the module's fixture)
    with pytest.raises(RuntimeError) as raised:
        cast(cdk.App, stack.node.root).synth()
    message = str(raised.value)
    for bucket in ("Shared/Foundation/Source/Bucket", "Shared/Foundation/Artifacts"):
        said = rf"The policy of {bucket} could be \d\d,\d\d\d bytes once deployed, more than the 20,480"
        assert re.search(said, message), bucket
    assert "build the pipelines beyond this many on a second PipelineFoundation" in message


def test_fails_at_synthesis_when_no_pipeline_is_built_on_the_foundation() -> None:
    foundation = new_foundation()
    app = cdk.Stack.of(foundation).node.root
    assert isinstance(app, cdk.App)
    with pytest.raises(RuntimeError, match=re.escape("Shared/Foundation/Source watches no key")):
        app.synth()


def test_fails_when_the_foundations_source_bucket_has_uploaders() -> None:
    stack = cdk.Stack(cdk.App(), "Shared")
    developers = iam.Role.from_role_name(stack, "Developers", "developers")
    fails(
        lambda: new_foundation(stack, source_bucket_options=SourceBucketOptions(uploaders=[developers])),
        "source_bucket_options.uploaders",
        "[",
        "Uploaders are granted per pipeline",
        "grant_upload",
    )
