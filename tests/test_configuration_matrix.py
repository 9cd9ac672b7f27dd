"""The compliance gate over a matrix of configurations: no combination of options a user can write leaves a finding
that is neither fixed nor acknowledged with a reason (cdk-nag's five packs, checkov, cfn-lint; tests/compliance.py).

``FACTORS`` lists every user-facing option of ``ValidatedS3Pipeline`` as a factor whose levels are what a user chooses
(the first: what leaving it out gives). Options that only set properties of resources every configuration has are
bundled into one factor (``settings``: names, retention, outputs, the validation's files, image, timeout and limits),
and so are the parts of operations (``operations_parts``: the defaults, or no notifications, alarms without actions,
no dashboard or history, a trail): each such option is on and off somewhere, but not in every pair with the others.
``CONFIGURATIONS`` is a covering table: every two levels of every two factors meet in some configuration where both
apply (``test_the_configurations_cover_every_pair_of_options``, tests/pairwise.py); it needs 10 configurations, since
options that apply only beside another (an approval needs a deployment) must meet every other option there too.
``FOUNDATION`` adds a fleet: two foundations (one with operations, a trail and a build limit, one with neither),
pipelines in a foundation's stack and in other stacks, uploaders and an approver of the app.

Each configuration is synthesized once per session and checked like an example: cdk-nag on every stack, cfn-lint on
every template, checkov once over the templates of each half (``GROUPS``: one xdist worker each).

To add an option: add a ``Factor`` (with ``applies`` when it only means something beside another option), read it in
``build``, and give it a level in each configuration: ``test_the_configurations_cover_every_pair_of_options`` names
the pairs no configuration covers; ``python -m tests.test_configuration_matrix`` prints a new covering table (more
rows only if it needs them). An option of the foundation alone joins ``build_foundation``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import cache
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from cdk_nag import NagPack

from s3_validated_pipeline import (
    AlarmOptions,
    ApprovalOptions,
    AuditOptions,
    BuildEnvironment,
    BuildNetwork,
    CloudFormationDeployment,
    DeployTarget,
    NotificationOptions,
    OperationsOptions,
    PackageCheckOptions,
    PipelineFoundation,
    SourceBucketOptions,
    StageOptions,
    TestStageOptions,
    TriggerMode,
    ValidatedS3Pipeline,
    ValidationOptions,
)
from tests.compliance import (
    Assembly,
    CheckovResults,
    acknowledgement_problems,
    assemble,
    cfn_lint_matches,
    cfn_lint_problems,
    checkov_failures,
    checkov_skip_problems,
    nag_errors,
    run_checkov,
)
from tests.conftest import PACKS
from tests.pairwise import Factor, Row, covering, effective, pairs_of, shrink, uncovered, wanted_pairs

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
REGION = "eu-west-1"


def _deploys(row: Row) -> bool:
    return bool(row.get("deploy_commands") or row.get("deploy_change_set"))


FACTORS: tuple[Factor, ...] = (
    Factor("execution_mode", ("QUEUED", "PARALLEL", "SUPERSEDED")),
    Factor("trigger_function", (False, True)),
    Factor("existing_bucket", (False, True)),  # an imported bucket with its key
    # bucket_name, noncurrent_version_retention_days, rejected_retention_days, object_lock_days,
    # removal_policy=DESTROY, admin_role, server_access_logs off,
    # the uploader given in SourceBucketOptions(uploaders=...) rather than with grant_upload
    Factor("source_settings", (False, True), lambda row: not row.get("existing_bucket")),
    Factor("uploader_in_app", (False, True)),  # a role the app defines, or one imported by name
    # pipeline_name, object_key, log and artifact retention, outputs off; the validation's required files, image,
    # timeout and package-check limits; with FUNCTION, no reserved concurrency; notifications to the user's own
    # topic and a Slack channel
    Factor("settings", (False, True)),
    Factor("test_stage", (False, True)),  # with reports, retries, and a build stage added after it
    Factor("deploy_commands", (False, True)),
    Factor("deploy_change_set", (False, True)),  # with parameters and capabilities
    # an explicit environment; targets in another account, the change set's roles named
    Factor("cross_account", (False, True)),
    Factor("on_failure", ("rollback", "retry"), _deploys),  # rollback: watching an alarm; retry: failed actions
    # commands: emails on the created topic; change set: the user's own topic; both: an approver role of the app
    Factor("approval", (False, True), _deploys),
    Factor("build_network", (False, True)),  # every build in an imported VPC's isolated subnets
    Factor("operations", (True, False)),
    # other: no notifications, alarms without actions, no dashboard, no history, a trail with management events
    Factor("operations_parts", ("default", "other"), lambda row: bool(row.get("operations"))),
)
"""Every user-facing option of ``ValidatedS3Pipeline``, as factors of the matrix (a foundation's: ``build_foundation``).
"""


def valid(row: Row) -> bool:
    """Whether a user can write ``row``: CodePipeline cannot roll a stage back in PARALLEL mode."""
    return not (row["execution_mode"] == "PARALLEL" and _deploys(row) and row["on_failure"] == "rollback")


CONFIGURATIONS: dict[str, Mapping[str, Any]] = {
    "c01": {
        "trigger_function": True,
        "existing_bucket": True,
        "deploy_commands": True,
        "cross_account": True,
        "on_failure": "retry",
        "approval": True,
        "operations_parts": "other",
    },
    "c02": {
        "execution_mode": "SUPERSEDED",
        "source_settings": True,
        "settings": True,
        "deploy_commands": True,
        "deploy_change_set": True,
        "cross_account": True,
        "approval": True,
        "operations": False,
    },
    "c03": {
        "execution_mode": "PARALLEL",
        "trigger_function": True,
        "source_settings": True,
        "uploader_in_app": True,
        "settings": True,
        "test_stage": True,
        "deploy_commands": True,
        "on_failure": "retry",
        "operations_parts": "other",
    },
    "c04": {
        "build_network": True,
        "execution_mode": "PARALLEL",
        "existing_bucket": True,
        "deploy_change_set": True,
        "on_failure": "retry",
        "approval": True,
        "operations": False,
    },
    "c05": {"settings": True, "deploy_commands": True, "on_failure": "retry", "operations": False},
    "c06": {
        "build_network": True,
        "execution_mode": "SUPERSEDED",
        "uploader_in_app": True,
        "test_stage": True,
        "deploy_change_set": True,
        "cross_account": True,
        "approval": True,
        "operations_parts": "other",
    },
    "c07": {
        "execution_mode": "SUPERSEDED",
        "trigger_function": True,
        "existing_bucket": True,
        "uploader_in_app": True,
        "test_stage": True,
        "deploy_commands": True,
        "operations": False,
    },
    "c08": {
        "build_network": True,
        "execution_mode": "SUPERSEDED",
        "existing_bucket": True,
        "settings": True,
        "test_stage": True,
        "deploy_commands": True,
        "on_failure": "retry",
        "approval": True,
    },
    "c09": {
        "execution_mode": "PARALLEL",
        "trigger_function": True,
        "uploader_in_app": True,
        "settings": True,
        "cross_account": True,
    },
    "c10": {
        "build_network": True,
        "trigger_function": True,
        "source_settings": True,
        "uploader_in_app": True,
        "test_stage": True,
        "deploy_change_set": True,
        "cross_account": True,
    },
}
"""The covering table, by configuration name: each configuration's levels that differ from the defaults."""

FOUNDATION = "foundation"
"""The fleet: two foundations, several teams, pipelines in a foundation's stack and in others."""


def full(levels: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration's level of every factor."""
    unknown = set(levels) - {f.name for f in FACTORS}
    assert not unknown, f"no such factor: {sorted(unknown)}"
    return {f.name: levels.get(f.name, f.levels[0]) for f in FACTORS}


# ---------------------------------------------------------------------------------------------------------------
# Building a configuration, as a user would write it


def imported_role(scope: cdk.Stack, id: str, name: str) -> iam.IRole:
    """A role of the account, imported by name: a grant to it is CDK's inline policy, which only its owner (the app)
    can acknowledge, as the examples do."""
    role = iam.Role.from_role_name(scope, id, name)
    for pack in ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"):
        cdk.Validations.of(role).acknowledge(
            cdk.Acknowledgment(
                id=f"{pack}-IAMNoInlinePolicy",
                reason="The pipeline's grant to this imported role (its uploads, nothing else) is attached to it only.",
            )
        )
    return role


def imported_topic(scope: cdk.Stack, id: str, name: str) -> sns.ITopic:
    return sns.Topic.from_topic_arn(scope, id, f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}")


def validation(row: Row) -> ValidationOptions:
    if not row["settings"]:
        return ValidationOptions(commands=["npm ci", "npm run build"])
    return ValidationOptions(
        commands=["npm ci", "npm run build"],
        required_files=["package.json", "package-lock.json"],
        build_environment=BuildEnvironment.AMAZON_LINUX_2023_NODE_22,
        timeout=cdk.Duration.minutes(30),
        package_check=PackageCheckOptions(
            max_package_bytes=256 * 1024 * 1024, forbidden_files=["*.sql"], ignore=["node_modules"]
        ),
    )


def source(stack: cdk.Stack, row: Row, uploader: iam.IRole) -> dict[str, Any]:
    if row["existing_bucket"]:
        key = kms.Key.from_key_arn(stack, "UploadsKey", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd")
        bucket = s3.Bucket.from_bucket_attributes(stack, "Uploads", bucket_name="team-uploads", encryption_key=key)
        return {"source_bucket": bucket}
    if not row["source_settings"]:
        return {}
    options = SourceBucketOptions(
        bucket_name=f"{stack.stack_name.lower()}-uploads",
        noncurrent_version_retention_days=30,
        rejected_retention_days=3,
        object_lock_days=14,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        admin_role=iam.Role.from_role_name(stack, "BucketAdmin", "bucket-admin"),
        server_access_logs=False,
        uploaders=[uploader],
    )
    return {"source_bucket_options": options}


def targets(stack: cdk.Stack, row: Row) -> list[DeployTarget]:
    account = OTHER_ACCOUNT if row["cross_account"] else None
    if row["on_failure"] == "rollback":
        alarm = cloudwatch.Alarm.from_alarm_arn(stack, "AppErrors", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:app")
        failure: dict[str, Any] = {"alarms": [alarm], "bake_time": cdk.Duration.minutes(10)}
    else:
        failure = {"rollback_on_failure": False, "retry_failed_actions": True}
    approvers = [iam.Role(stack, "Approver", assumed_by=iam.AccountRootPrincipal())] if row["approval"] else []
    found = []
    if row["deploy_commands"]:
        found.append(
            DeployTarget(
                name="Staging",
                commands=["npx --no-install cdk deploy --all --require-approval never"],
                account=account,
                build_environment=BuildEnvironment.AMAZON_LINUX_2023_NODE_22,
                approval=ApprovalOptions(
                    notify_emails=["release@example.com"],
                    approvers=approvers,
                    review_url="https://staging.example.com",
                    comment="Check the package before staging.",
                )
                if approvers
                else None,
                **failure,
            )
        )
    if row["deploy_change_set"]:
        roles = {}
        if row["cross_account"]:
            roles = {
                "action_role_arn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/app-deployer",
                "deployment_role_arn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/app-cloudformation",
            }
        found.append(
            DeployTarget(
                name="Production",
                cloudformation=CloudFormationDeployment(
                    template_path="cdk.out/App.template.json",
                    stack_name="App",
                    parameters={"Stage": "production"},
                    capabilities=[cdk.CfnCapabilities.NAMED_IAM],
                ),
                account=account,
                approval=ApprovalOptions(topic=imported_topic(stack, "ReleaseTopic", "release"), approvers=approvers)
                if approvers
                else None,
                **roles,
                **failure,
            )
        )
    return found


def operations(stack: cdk.Stack, row: Row) -> OperationsOptions | None:
    if not row["operations"]:
        return None
    if row["operations_parts"] == "other":
        return OperationsOptions(
            notifications=None,
            alarms=AlarmOptions(max_execution_time=cdk.Duration.hours(2)),
            dashboard=None,
            audit=AuditOptions(history=False, trail=True, trail_management_events=True),
        )
    notifications = NotificationOptions(emails=["platform@example.com"])
    if row["settings"]:
        channel = chatbot.SlackChannelConfiguration.from_slack_channel_configuration_arn(
            stack, "Slack", f"arn:aws:chatbot::{ACCOUNT}:chat-configuration/slack-channel/releases"
        )
        notifications = NotificationOptions(
            topic=imported_topic(stack, "Alerts", "alerts"), emails=["platform@example.com"], slack_channel=channel
        )
    return OperationsOptions(notifications=notifications)


def network(stack: cdk.Stack) -> BuildNetwork:
    """An existing VPC's isolated subnets, as docs/options.md ("Builds in a VPC") suggests for untrusted builds."""
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=[f"{REGION}a", f"{REGION}b"],
        isolated_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    )
    return BuildNetwork(vpc=vpc)


def build(name: str, levels: Mapping[str, Any]) -> list[cdk.Stack]:
    """The configuration's app: one stack with one pipeline, its uploader and what its options name."""
    row = full(levels)
    env = cdk.Environment(account=ACCOUNT, region=REGION) if row["cross_account"] else None
    stack = cdk.Stack(cdk.App(), f"Matrix{name}", env=env)
    if row["uploader_in_app"]:
        uploader: iam.IRole = iam.Role(stack, "Uploader", assumed_by=iam.AccountRootPrincipal())
    else:
        uploader = imported_role(stack, "Developers", "developers")
    settings: dict[str, Any] = {}
    if row["settings"]:
        settings = {
            "pipeline_name": f"matrix-{name}",
            "object_key": "drops/package.zip",
            "log_retention_days": 30,
            "artifact_retention_days": 90,
            "outputs": False,
        }
        if row["trigger_function"]:
            settings["trigger_reserved_concurrency"] = None
    pipeline = ValidatedS3Pipeline(
        stack,
        "Pipeline",
        validation=validation(row),
        execution_mode=getattr(codepipeline.ExecutionMode, row["execution_mode"]),
        trigger_mode=TriggerMode.FUNCTION if row["trigger_function"] else TriggerMode.DIRECT,
        test=TestStageOptions(commands=["npm test"], report_files=["reports/*.xml"], retry_failed_actions=True)
        if row["test_stage"]
        else None,
        deploy=targets(stack, row),
        operations=operations(stack, row),
        build_network=network(stack) if row["build_network"] else None,
        **source(stack, row, uploader),
        **settings,
    )
    if row["test_stage"]:
        pipeline.add_build_stage("Package", options=StageOptions(commands=["npm pack"]), after="Test")
    if row["existing_bucket"] or not row["source_settings"]:
        pipeline.grant_upload(uploader)
    return [stack]


def build_foundation() -> list[cdk.Stack]:
    """Two foundations: one with operations and a build limit, its first team in its own stack and two more in
    another; one with neither, its team elsewhere."""
    app = cdk.App()
    shared = cdk.Stack(app, "MatrixFoundation")
    foundation = PipelineFoundation(
        shared,
        "Foundation",
        name_prefix="mx",
        concurrent_build_limit=2,
        artifact_retention_days=90,
        source_bucket_options=SourceBucketOptions(noncurrent_version_retention_days=30),
        operations=OperationsOptions(
            notifications=NotificationOptions(emails=["platform@example.com"]), audit=AuditOptions(trail=True)
        ),
    )
    quick = ValidationOptions(commands=["npm ci"])
    alpha = ValidatedS3Pipeline(
        shared, "alpha", foundation=foundation, object_key="teams/alpha/source.zip", validation=quick
    )
    # The bucket's policy names each uploader, so a role of the app that uploads lives in the bucket's stack.
    alpha.grant_upload(iam.Role(shared, "AlphaUploader", assumed_by=iam.AccountRootPrincipal()))
    teams = cdk.Stack(app, "MatrixTeams")
    beta = ValidatedS3Pipeline(
        teams,
        "beta",
        foundation=foundation,
        object_key="teams/beta/source.zip",
        validation=quick,
        test=TestStageOptions(commands=["npm test"]),
        deploy=[
            DeployTarget(
                name="Staging",
                commands=["npx --no-install cdk deploy --all --require-approval never"],
                approval=ApprovalOptions(
                    notify_emails=["beta@example.com"],
                    approvers=[iam.Role(teams, "BetaLead", assumed_by=iam.AccountRootPrincipal())],
                ),
            )
        ],
    )
    beta.grant_upload(imported_role(teams, "BetaUploader", "beta-developers"))
    gamma = ValidatedS3Pipeline(
        teams, "gamma", foundation=foundation, object_key="teams/gamma/source.zip", validation=quick
    )
    gamma.grant_upload(imported_role(teams, "GammaUploader", "gamma-developers"))
    lean = cdk.Stack(app, "MatrixLeanFoundation")
    bare = PipelineFoundation(
        lean, "Foundation", name_prefix="mxlean", operations=None, source_bucket_options=SourceBucketOptions()
    )
    lean_teams = cdk.Stack(app, "MatrixLeanTeams")
    delta = ValidatedS3Pipeline(
        lean_teams,
        "delta",
        foundation=bare,
        object_key="teams/delta/source.zip",
        validation=quick,
        execution_mode=codepipeline.ExecutionMode.PARALLEL,
    )
    delta.grant_upload(imported_role(lean_teams, "DeltaUploader", "delta-developers"))
    return [shared, teams, lean, lean_teams]


# ---------------------------------------------------------------------------------------------------------------
# The gate, on every configuration

NAMES = [*CONFIGURATIONS, FOUNDATION]
GROUPS = {name: f"configuration-matrix-{index % 2}" for index, name in enumerate(NAMES)}
"""Two halves, each synthesized on one xdist worker, where checkov reads all of its templates in one run."""


@cache
def configuration_assembly(name: str) -> Assembly:
    """The configuration, synthesized once per session; every stack of it is checked (no two are alike)."""
    built = build_foundation() if name == FOUNDATION else build(name, CONFIGURATIONS[name])
    return assemble(f"configuration {name}", built, kind=lambda stack: stack.stack_name)


@pytest.fixture(scope="module", params=[pytest.param(n, marks=pytest.mark.xdist_group(GROUPS[n]), id=n) for n in NAMES])
def configuration(request: pytest.FixtureRequest) -> Assembly:
    return configuration_assembly(request.param)


@cache
def group_checkov(group: str) -> CheckovResults:
    """checkov over the templates of every configuration of ``group``, in one run (it takes seconds to start)."""
    names = [name for name in NAMES if GROUPS[name] == group]
    return run_checkov([stack for name in names for stack in configuration_assembly(name).checked_stacks])


@pytest.mark.parametrize("pack", PACKS.values(), ids=PACKS.keys())
def test_cdk_nag_reports_no_unacknowledged_errors(configuration: Assembly, pack: type[NagPack]) -> None:
    errors = nag_errors(configuration, pack)
    assert not errors, f"{pack.__name__} on {configuration.name}: {len(errors)} unacknowledged error(s):\n" + "\n".join(
        f"  {error}" for error in errors
    )


def test_acknowledgements_are_specific_explained_and_on_library_constructs(configuration: Assembly) -> None:
    problems, _ = acknowledgement_problems(configuration)  # the app's own: the imported roles' grants, on purpose
    assert not problems, f"{configuration.name}: {len(problems)} acknowledgement problem(s):\n" + "\n".join(
        f"  {p}" for p in problems
    )


def test_checkov_passes_and_its_skips_are_explained(configuration: Assembly) -> None:
    results = group_checkov(GROUPS[configuration.name.removeprefix("configuration ")])
    failed = checkov_failures(configuration, results)
    problems, own = checkov_skip_problems(configuration, results)
    if own:
        warnings.warn(f"{configuration.name} skips checkov checks on its own resources: {own}", stacklevel=1)
    found = [*failed, *problems]
    assert not found, f"checkov on {configuration.name}: {len(found)} problem(s):\n" + "\n".join(
        f"  {f}" for f in found
    )


def test_cfn_lint_reports_no_errors_or_warnings(configuration: Assembly) -> None:
    found = cfn_lint_problems(configuration, cfn_lint_matches(configuration))
    assert not found, f"cfn-lint on {configuration.name}: {len(found)} error(s)/warning(s):\n" + "\n".join(
        f"  {f}" for f in found
    )


# ---------------------------------------------------------------------------------------------------------------
# The table


def test_the_configurations_cover_every_pair_of_options() -> None:
    rows = [full(levels) for levels in CONFIGURATIONS.values()]
    invalid = [name for name, row in zip(CONFIGURATIONS, rows, strict=True) if not valid(row)]
    assert not invalid, f"configurations a user cannot write: {invalid}"
    missing = sorted(uncovered(FACTORS, valid, rows), key=repr)
    assert not missing, f"{len(missing)} pair(s) of option levels no configuration covers, e.g.:\n" + "\n".join(
        f"  {a}={la!r} with {b}={lb!r}" for (a, la), (b, lb) in missing[:20]
    )


def test_the_coverage_check_sees_a_missing_configuration_and_asks_only_for_what_a_user_can_write() -> None:
    rows = [full(levels) for levels in CONFIGURATIONS.values()]
    assert uncovered(FACTORS, valid, rows[1:]), "every pair is covered without c01: the check sees nothing"
    wanted = wanted_pairs(FACTORS, valid)
    assert (("execution_mode", "PARALLEL"), ("on_failure", "rollback")) not in wanted  # an error, not a choice
    assert (("execution_mode", "PARALLEL"), ("on_failure", "retry")) in wanted
    # An approval applies beside a deployment only: a configuration without one covers no pair of it
    assert (("deploy_commands", False), ("approval", True)) in wanted  # beside the change set
    undeployed = full({"approval": True})
    assert not [pair for pair in pairs_of(FACTORS, undeployed) if "approval" in dict(pair)]


if __name__ == "__main__":  # print a covering table for FACTORS: python -m tests.test_configuration_matrix
    table = shrink(FACTORS, valid, covering(FACTORS, valid), steps=60000)
    for number, row in enumerate(table, start=1):
        changed = {name: level for name, level in effective(FACTORS, row).items() if level != full({})[name]}
        print(f'    "c{number}": {changed!r},')
