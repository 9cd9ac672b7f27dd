"""The permission plan: every principal a ``ValidatedS3Pipeline`` creates or relies on, the AWS calls it makes at run
time (each with the AWS documentation page it comes from) and the calls it must not be able to make.

The plan is data: ``PRINCIPALS`` (who, and how to find them in a synthesized template) and ``ENTRIES`` (what each
needs and must not do, on which resource, and why). ``Site`` reads an example's synthesized templates, resolved by
``tests/iam_eval.py``; each entry's ``requests`` are the concrete requests of that example (the artifact bucket's
ARN, the uploaded object's, the key's...), and ``check`` evaluates them with ``iam_eval.authorize`` against every
policy that applies: identity policies, permissions boundaries, bucket, key, queue, topic, CloudWatch Logs and trust
policies. A needed call that is not allowed, or a forbidden call that is, is a ``Finding`` naming the principal, the
action and the resource (``findings``: all of an example's). ``scripts/permission_table.py`` renders the plan as the
table of ``docs/permissions.md``.

Two things come from outside the templates, each said where it is used: what each example's own code asks for
(``EXAMPLES``: who uploads, where each target is), and what ``cdk bootstrap`` gives a target account (its roles' trust
policies and its deploy role's policy, ``bootstrap_policies``), which deployments rely on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import Any

from tests.iam_eval import (
    PARTITION,
    Caller,
    Resolver,
    ResourcePolicy,
    Undecidable,
    Verdict,
    authorize,
    callers_in,
    resource_policies,
    statements_of,
)

# ---------------------------------------------------------------------------------------------------------------
# The AWS documentation each call comes from


@dataclass(frozen=True)
class Doc:
    title: str
    url: str


CODEPIPELINE_ROLE = Doc(
    "CodePipeline: the service role",
    "https://docs.aws.amazon.com/codepipeline/latest/userguide/how-to-custom-role.html",
)
S3_SOURCE = Doc(
    "CodePipeline: Amazon S3 source action",
    "https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-S3.html",
)
ALARM_RULE = Doc(
    "CodePipeline: the CloudWatchAlarm rule",
    "https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html",
)
APPROVALS = Doc(
    "CodePipeline: approval permissions",
    "https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals-iam-permissions.html",
)
CODEBUILD_ROLE = Doc(
    "CodeBuild: the service role",
    "https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html",
)
CODEBUILD_VPC = Doc(
    "CodeBuild: access to the services a VPC network interface needs",
    "https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html",
)
TEST_REPORTS = Doc(
    "CodeBuild: test report permissions", "https://docs.aws.amazon.com/codebuild/latest/userguide/test-permissions.html"
)
CDK_BOOTSTRAP = Doc(
    "CDK: bootstrapping and its IAM roles", "https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping-env.html"
)
EVENTBRIDGE_ROLES = Doc(
    "EventBridge: IAM roles for targets",
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-iam-roles.html",
)
EVENTBRIDGE_TARGETS = Doc(
    "EventBridge: resource-based policies for targets",
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html",
)
EVENTBRIDGE_DLQ = Doc(
    "EventBridge: dead-letter queues",
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-event-delivery.html",
)
KMS_KEY_POLICIES = Doc("KMS: key policies", "https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html")
S3_SSE_KMS = Doc(
    "S3: server-side encryption with KMS keys",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
)
SNS_KEYS = Doc("SNS: key management", "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html")
LOGS_KMS = Doc(
    "CloudWatch Logs: encrypting log data with KMS",
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
)
TRAIL_LOGS_ROLE = Doc(
    "CloudTrail: the role that delivers to CloudWatch Logs",
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-required-policy-for-cloudwatch-logs.html",
)
TRAIL_BUCKET = Doc(
    "CloudTrail: the bucket policy",
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html",
)
TRAIL_KEY = Doc(
    "CloudTrail: the key policy",
    "https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-kms-key-policy-for-cloudtrail.html",
)
S3_TAGGING = Doc(
    "S3: tagging and access control policies",
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/tagging-and-policies.html",
)
CROSS_REGION = Doc(
    "CodePipeline: actions in another Region",
    "https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-create-cross-region.html",
)
KMS_SIGN = Doc("KMS: Sign", "https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html")
KMS_VERIFY = Doc("KMS: Verify", "https://docs.aws.amazon.com/kms/latest/APIReference/API_Verify.html")

# ---------------------------------------------------------------------------------------------------------------
# What each example's code asks for (the templates say how; these say who and where)

QUALIFIER = "hnb659fds"
"""The CDK bootstrap qualifier every example's targets use (``DeployTarget.bootstrap_qualifier``'s default)."""
OTHER_ACCOUNT = "999999999999"
"""An account none of the examples uses: nothing of it may be reached."""


@dataclass(frozen=True)
class Target:
    """Where a deploy target of an example deploys: ``account`` (``region``) None is the pipeline's own."""

    account: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class Example:
    """What an example's ``app.py`` asks for: who uploads each object key, and where each deploy target is."""

    uploaders: Mapping[str, str]
    """Object key -> the role that uploads it: ``"name:<role name>"`` (imported by name) or ``"id:<logical id>"``
    (a role of the pipeline's stack whose logical id starts with it)."""
    targets: Mapping[str, Target] = field(default_factory=dict)


TEAMS = [f"team{number:02d}" for number in range(1, 25)]
EXAMPLES = {
    "seed_pipeline": Example(
        uploaders={"source.zip": "id:Uploader"}, targets={"Staging": Target(), "Production": Target()}
    ),
    "minimal": Example(uploaders={"source.zip": "name:developers"}),
    "cross_account": Example(
        uploaders={"source.zip": "name:developers"},
        targets={"Staging": Target("222222222222"), "Production": Target("333333333333")},
    ),
    "fleet": Example(uploaders={f"teams/{team}/source.zip": f"name:{team}-developers" for team in TEAMS}),
    "vpc_builds": Example(uploaders={"source.zip": "name:developers"}),
    "multi_region": Example(
        uploaders={"source.zip": "name:developers"},
        targets={"Staging": Target(), "ProdUS": Target(), "ProdEU": Target(region="eu-west-1")},
    ),
}
IN_A_VPC = ("the project runs in a VPC (BuildNetwork)", {"vpc_builds"})
"""Where every project runs in a VPC: the examples whose pipelines are given a ``BuildNetwork``."""
OTHER_SUBNET = "subnet-0ffffffffffffffff"
"""A subnet none of the examples' projects runs in."""

# ---------------------------------------------------------------------------------------------------------------
# What `cdk bootstrap` gives a target account, which deployments rely on (its template: aws-cdk-cli's
# packages/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml; its roles: CDK_BOOTSTRAP)

BOOTSTRAP_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")
"""The bootstrap roles a deployment may assume; the fifth, cfn-exec, only CloudFormation assumes."""


def bootstrap_role(kind: str, account: str, region: str) -> str:
    return f"arn:{PARTITION}:iam::{account}:role/cdk-{QUALIFIER}-{kind}-role-{account}-{region}"


def bootstrap_bucket(account: str, region: str) -> str:
    return f"arn:{PARTITION}:s3:::cdk-{QUALIFIER}-assets-{account}-{region}"


def bootstrap_policies(account: str, region: str, trusted: Iterable[str]) -> tuple[tuple[ResourcePolicy, ...], Caller]:
    """The trust policies of a bootstrapped account's roles (``--trust`` gives ``trusted`` accounts the same trust
    as the account itself; the cfn-exec role trusts CloudFormation only), and its deploy role as a ``Caller`` with
    the statements of its policy that the change-set deployment's calls need."""
    accounts = sorted({account, *trusted})
    origin = f"cdk bootstrap of {account} (relied on)"
    trusts = [
        ResourcePolicy(
            "trust",
            bootstrap_role(kind, account, region),
            account,
            statements_of(
                {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": accounts}}]},
                resource=bootstrap_role(kind, account, region),
            ),
            origin,
        )
        for kind in BOOTSTRAP_KINDS
    ]
    execution = bootstrap_role("cfn-exec", account, region)
    trusts.append(
        ResourcePolicy(
            "trust",
            execution,
            account,
            statements_of(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "cloudformation.amazonaws.com"},
                        }
                    ]
                },
                resource=execution,
            ),
            origin,
        )
    )
    cloudformation = [
        "cloudformation:CreateChangeSet",
        "cloudformation:DeleteChangeSet",
        "cloudformation:DescribeChangeSet",
        "cloudformation:DescribeStacks",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:RollbackStack",
        "cloudformation:ContinueUpdateRollback",
    ]
    cli = ["cloudformation:DescribeStackEvents", "cloudformation:GetTemplate", "cloudformation:DeleteStack"]
    staging = bootstrap_bucket(account, region)
    deploy = Caller(
        account=account,
        arn=bootstrap_role("deploy", account, region),
        identity=statements_of(
            {
                "Statement": [
                    {"Sid": "CloudFormationPermissions", "Effect": "Allow", "Action": cloudformation, "Resource": "*"},
                    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": execution},
                    {"Sid": "CliPermissions", "Effect": "Allow", "Action": cli, "Resource": "*"},
                    {
                        "Sid": "CliStagingBucket",
                        "Effect": "Allow",
                        "Action": ["s3:GetObject*", "s3:GetBucket*", "s3:List*"],
                        "Resource": [staging, f"{staging}/*"],
                    },
                ]
            }
        ),
    )
    return tuple(trusts), deploy


# ---------------------------------------------------------------------------------------------------------------
# An example's templates, read


@dataclass(frozen=True)
class Project:
    """A CodeBuild project of a pipeline."""

    logical_id: str
    arn: str
    role: str
    region: str  # where it runs: the pipeline's Region, or a deploy target's other one
    log_group: str  # the log group's ARN, without ":*"
    checker: str  # the package checker's object ARN
    reports: tuple[str, ...]  # report group ARNs its buildspec writes to
    subnets: tuple[str, ...] = ()  # ARNs of the subnets of its VpcConfig; none outside a VPC


@dataclass(frozen=True)
class Action:
    stage: str
    name: str
    provider: str
    role: str
    configuration: Mapping[str, Any]
    variables: Mapping[str, str]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    project: Project | None


@dataclass(frozen=True)
class Pipeline:
    """A pipeline built by ``ValidatedS3Pipeline``, as its template describes it."""

    stack: str
    logical_id: str
    name: str
    arn: str
    account: str
    region: str
    role: str
    artifact_bucket: str
    artifact_key: str
    source_bucket: str
    object_key: str
    source_key: str
    actions: tuple[Action, ...]
    stores: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Its artifact store (bucket ARN, key ARN) in each other Region an action runs in, by Region."""

    def seen_from(self, region: str) -> Pipeline:
        """The pipeline as an action in ``region`` sees it: with that Region's artifact store."""
        if region == self.region:
            return self
        bucket, key = self.stores[region]
        return replace(self, artifact_bucket=bucket, artifact_key=key)

    @property
    def source_object(self) -> str:
        return f"{self.source_bucket}/{self.object_key}"

    def artifact(self, name: str) -> str:
        """An object of the artifact ``name``: CodePipeline writes ``<pipeline name, 20>/<artifact name, 20>/<id>``."""
        return f"{self.artifact_bucket}/{self.name[:20]}/{name[:20]}/Ab12Cd3"

    def of(self, provider: str) -> list[Action]:
        return [action for action in self.actions if action.provider == provider]

    @property
    def attest_role(self) -> str:
        """The role of the project its ``Attest`` action runs: the only one that may sign its provenance."""
        [project] = [a.project for a in self.actions if a.name == "Attest" and a.project is not None]
        return project.role

    @property
    def signing_key(self) -> str:
        """Its signing key, as its ``Attest`` action names it (``S3VP_SIGNING_KEY_ARN``)."""
        [key] = {a.variables["S3VP_SIGNING_KEY_ARN"] for a in self.actions if a.name == "Attest"}
        return key


@dataclass(frozen=True)
class Instance:
    """One principal found in an example: who calls, a label naming it in findings, and what it works on."""

    caller: Caller
    label: str
    pipeline: Pipeline | None = None
    project: Project | None = None
    target: tuple[str, str] | None = None  # (account, region) of a deploy target
    thing: Mapping[str, Any] = field(default_factory=dict)  # a rule, alarm, trail... its ARNs


@dataclass(frozen=True)
class Request:
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


SIGNING = {"kms:SigningAlgorithm": "ECDSA_SHA_256", "kms:MessageType": "DIGEST"}
"""The context of the buildspecs' ``aws kms sign`` and ``aws kms verify`` (``--signing-algorithm ECDSA_SHA_256
--message-type DIGEST``): the signing key's policy allows ``kms:Sign`` under these conditions only, so a request
without them would be denied whoever makes it, and a must-not on it would pass for nothing."""


class Site:
    """An example's synthesized templates, resolved, with the pipelines, principals and policies they define."""

    def __init__(
        self, example: str, templates: Mapping[str, Mapping[str, Any]], environments: Mapping[str, tuple[str, str]]
    ) -> None:
        self.example = example
        self.declared = EXAMPLES[example]
        self.resolver = Resolver(templates, environments)
        self.templates = templates
        self.callers = callers_in(self.resolver)
        own = resource_policies(self.resolver)
        self.bootstrap: dict[tuple[str, str], Caller] = {}
        relied: list[ResourcePolicy] = []
        for account, region in self._bootstrapped():
            trusts, deploy = bootstrap_policies(account, region, {p.account for p in self.pipelines})
            relied.extend(trusts)
            self.bootstrap[(account, region)] = deploy
        self.policies = (*own, *relied)
        # By what they are attached to: a bucket's policy applies to the bucket and its objects.
        self._attached: dict[str, list[ResourcePolicy]] = {}
        self._logs = [policy for policy in self.policies if policy.kind == "logs"]
        for policy in self.policies:
            if policy.kind != "logs":
                self._attached.setdefault(policy.scope, []).append(policy)

    # --- Resources -------------------------------------------------------------------------------------------

    def resources(self, type_: str) -> list[tuple[str, str, Mapping[str, Any]]]:
        """(stack, logical id, properties) of every resource of ``type_``."""
        return [
            (stack, logical_id, resource.get("Properties", {}))
            for stack, template in self.templates.items()
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] == type_
        ]

    def resolve(self, stack: str, value: Any) -> Any:
        return self.resolver.resolve(stack, value)

    def arn(self, stack: str, logical_id: str) -> str:
        return self.resolver.attribute(stack, logical_id, "Arn")

    @cached_property
    def keys(self) -> list[str]:
        """Every KMS key of the example, by ARN."""
        return [self.arn(stack, logical_id) for stack, logical_id, _ in self.resources("AWS::KMS::Key")]

    @cached_property
    def projects(self) -> list[str]:
        """Every CodeBuild project of the example, by ARN."""
        return [self.arn(stack, logical_id) for stack, logical_id, _ in self.resources("AWS::CodeBuild::Project")]

    @cached_property
    def encryption(self) -> dict[str, str]:
        """The key encrypting each topic, queue, log group and bucket (by ARN; a log group's without ":*")."""
        found = {}
        for type_, key in (
            ("AWS::SNS::Topic", "KmsMasterKeyId"),
            ("AWS::SQS::Queue", "KmsMasterKeyId"),
            ("AWS::Logs::LogGroup", "KmsKeyId"),
        ):
            for stack, logical_id, properties in self.resources(type_):
                if key in properties:
                    arn = (
                        self.resolver.reference(stack, logical_id)
                        if type_ == "AWS::SNS::Topic"
                        else self.arn(stack, logical_id).removesuffix(":*")
                    )
                    found[arn] = self.resolve(stack, properties[key])
        for stack, logical_id, properties in self.resources("AWS::S3::Bucket"):
            for rule in properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
                default = rule.get("ServerSideEncryptionByDefault", {})
                if "KMSMasterKeyID" in default:
                    found[self.arn(stack, logical_id)] = self.resolve(stack, default["KMSMasterKeyID"])
        return found

    @cached_property
    def bucket_keys(self) -> set[str]:
        """The buckets (by ARN) whose objects are encrypted with an S3 Bucket Key: KMS sees the bucket's ARN as the
        encryption context of each, not the object's."""
        return {
            self.arn(stack, logical_id)
            for stack, logical_id, properties in self.resources("AWS::S3::Bucket")
            for rule in properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
            if rule.get("BucketKeyEnabled") is True
        }

    def policies_for(self, arn: str) -> list[ResourcePolicy]:
        """The resource policies attached to ``arn``: its own, its bucket's, its account's CloudWatch Logs ones."""
        bucket = arn.split("/", 1)[0] if arn.startswith(f"arn:{PARTITION}:s3:::") else None
        return [
            *self._attached.get(arn, ()),
            *(p for p in self._attached.get(bucket or "", ()) if p.kind == "bucket" and bucket != arn),
            *(p for p in self._logs if p.applies_to(arn)),
        ]

    def authorize(self, caller: Caller, action: str, request: Request) -> Verdict:
        return authorize(caller, action, request.resource, self.policies_for(request.resource), request.context)

    # --- Pipelines ---------------------------------------------------------------------------------------------

    @cached_property
    def pipelines(self) -> list[Pipeline]:
        return [
            self._pipeline(stack, logical_id, properties)
            for stack, logical_id, properties in self.resources("AWS::CodePipeline::Pipeline")
        ]

    def _pipeline(self, stack: str, logical_id: str, properties: Mapping[str, Any]) -> Pipeline:
        account, region = self.resolver.account(stack), self.resolver.region(stack)
        name = self.resolver.reference(stack, logical_id)
        # One store, or one per Region (ArtifactStores) when an action runs in another Region.
        stores = {item["Region"]: item["ArtifactStore"] for item in properties.get("ArtifactStores", [])}
        store = properties.get("ArtifactStore") or stores.pop(region)
        actions = tuple(
            self._action(stack, stage["Name"], raw) for stage in properties["Stages"] for raw in stage["Actions"]
        )
        [source] = [action for action in actions if action.provider == "S3"]
        source_bucket = f"arn:{PARTITION}:s3:::{source.configuration['S3Bucket']}"
        return Pipeline(
            stack=stack,
            logical_id=logical_id,
            name=name,
            arn=f"arn:{PARTITION}:codepipeline:{region}:{account}:{name}",
            account=account,
            region=region,
            role=self.resolve(stack, properties["RoleArn"]),
            artifact_bucket=f"arn:{PARTITION}:s3:::{self.resolve(stack, store['Location'])}",
            artifact_key=self.resolve(stack, store["EncryptionKey"]["Id"]),
            source_bucket=source_bucket,
            object_key=source.configuration["S3ObjectKey"],
            source_key=self.encryption[source_bucket],
            actions=actions,
            stores={
                other: (
                    f"arn:{PARTITION}:s3:::{self.resolve(stack, item['Location'])}",
                    self._key_of_alias(self.resolve(stack, item["EncryptionKey"]["Id"])),
                )
                for other, item in stores.items()
            },
        )

    def _key_of_alias(self, arn: str) -> str:
        """A key's ARN, from an ARN of its alias (how a pipeline names the key of its store in another Region)."""
        if ":alias/" not in arn:
            return arn
        name = arn.split(":", 5)[5]
        [(stack, logical_id)] = [
            (stack, _alias_target(properties))
            for stack, _, properties in self.resources("AWS::KMS::Alias")
            if properties["AliasName"] == name
        ]
        return self.arn(stack, logical_id)

    def _action(self, stack: str, stage: str, raw: Mapping[str, Any]) -> Action:
        configuration = self.resolve(stack, raw.get("Configuration", {}))
        variables = configuration.get("EnvironmentVariables", "[]")
        project = raw.get("Configuration", {}).get("ProjectName")
        return Action(
            stage=stage,
            name=raw["Name"],
            provider=raw["ActionTypeId"]["Provider"],
            role=self.resolve(stack, raw["RoleArn"]),
            configuration=configuration,
            variables={v["name"]: str(v["value"]) for v in json.loads(variables)},
            inputs=tuple(a["Name"] for a in raw.get("InputArtifacts", [])),
            outputs=tuple(a["Name"] for a in raw.get("OutputArtifacts", [])),
            project=self._project(*self._project_at(stack, project)) if project else None,
        )

    def _project_at(self, stack: str, reference: Any) -> tuple[str, str]:
        """Where an action's project is: a ``Ref`` in the pipeline's stack, or, for an action in another Region, the
        project of that Region's stack with the name it is given."""
        if isinstance(reference, dict):
            return stack, reference["Ref"]
        [found] = [(s, i) for s, i, p in self.resources("AWS::CodeBuild::Project") if p.get("Name") == reference]
        return found

    def _project(self, stack: str, logical_id: str) -> Project:
        properties = self.templates[stack]["Resources"][logical_id]["Properties"]
        account, region = self.resolver.account(stack), self.resolver.region(stack)
        variables = {
            v["Name"]: self.resolve(stack, v["Value"]) for v in properties["Environment"]["EnvironmentVariables"]
        }
        group = self.resolve(stack, properties["LogsConfig"]["CloudWatchLogs"]["GroupName"])
        buildspec = json.loads(self.resolve(stack, properties["Source"]["BuildSpec"]))
        return Project(
            logical_id=logical_id,
            arn=self.arn(stack, logical_id),
            role=self.resolve(stack, properties["ServiceRole"]),
            region=region,
            log_group=f"arn:{PARTITION}:logs:{region}:{account}:log-group:{group}",
            checker=f"arn:{PARTITION}:s3:::{variables['CHECKER_BUCKET']}/{variables['CHECKER_KEY']}",
            reports=tuple(buildspec.get("reports", {})),
            subnets=tuple(
                f"arn:{PARTITION}:ec2:{region}:{account}:subnet/{subnet}"
                for subnet in self.resolve(stack, properties.get("VpcConfig", {}).get("Subnets", []))
            ),
        )

    # --- Deploy targets ----------------------------------------------------------------------------------------

    def target_of(self, pipeline: Pipeline, action: Action) -> tuple[str, str]:
        """The (account, region) a deploy action deploys to, from the example's ``DeployTarget``s: its stage is
        ``Deploy<name>`` (or ``Deploy<name>ChangeSet``), or, in a wave's stage, it is named after its target."""
        stage = action.stage
        names = [
            name
            for name in self.declared.targets
            if stage in (f"Deploy{name}", f"Deploy{name}ChangeSet") or action.name == name
        ]
        if len(names) != 1:
            raise ValueError(f"examples/{self.example}: stage {stage} is not one of {sorted(self.declared.targets)}")
        target = self.declared.targets[names[0]]
        return target.account or pipeline.account, target.region or pipeline.region

    def _bootstrapped(self) -> list[tuple[str, str]]:
        """Every (account, region) bootstrapped: the pipelines' (their checker is a bootstrap asset) and targets'."""
        return sorted(
            {(pipeline.account, pipeline.region) for pipeline in self.pipelines}
            | {
                self.target_of(pipeline, action)
                for pipeline in self.pipelines
                for action in pipeline.actions
                if action.stage.startswith("Deploy")
            }
        )

    def caller(self, arn: str) -> Caller:
        if arn not in self.callers:
            raise ValueError(f"examples/{self.example}: no role {arn} in the templates")
        return self.callers[arn]


# ---------------------------------------------------------------------------------------------------------------
# Principals


@dataclass(frozen=True)
class Principal:
    id: str
    title: str
    how: str  # how to find it in a synthesized template
    find: Callable[[Site], list[Instance]]


def _label(pipeline: Pipeline, arn: str) -> str:
    return f"{pipeline.name}: {arn.rsplit('/', 1)[-1]}"


def _role_instances(
    site: Site, pick: Callable[[Pipeline], Iterable[tuple[str, Project | None, tuple[str, str] | None]]]
) -> list[Instance]:
    found: dict[tuple[str, str], Instance] = {}
    for pipeline in site.pipelines:
        for arn, project, target in pick(pipeline):
            # A project in another Region works on that Region's copy of the artifacts.
            seen = pipeline.seen_from(project.region) if project is not None else pipeline
            found.setdefault(
                (pipeline.arn, arn),
                Instance(site.caller(arn), _label(pipeline, arn), seen, project, target),
            )
    return list(found.values())


def _stage_projects(
    site: Site, pipeline: Pipeline, test: Callable[[Action], bool]
) -> list[tuple[str, Project, tuple[str, str] | None]]:
    found = []
    for action in pipeline.of("CodeBuild"):
        if action.project is not None and test(action):
            target = site.target_of(pipeline, action) if action.stage.startswith("Deploy") else None
            found.append((action.project.role, action.project, target))
    return found


def _deploy(action: Action, by_change_set: bool) -> bool:
    return action.stage.startswith("Deploy") and ("S3VP_MODE" in action.variables) == by_change_set


def _trigger(site: Site) -> list[Instance]:
    found = []
    for stack, logical_id, properties in site.resources("AWS::Events::Rule"):
        for target in properties.get("Targets", []):
            arn = site.resolve(stack, target["Arn"])
            for pipeline in site.pipelines:
                if arn == pipeline.arn and "RoleArn" in target:
                    role = site.resolve(stack, target["RoleArn"])
                    found.append(
                        Instance(
                            site.caller(role),
                            _label(pipeline, role),
                            pipeline,
                            thing={"rule": site.arn(stack, logical_id)},
                        )
                    )
    return found


def _uploaders(site: Site) -> list[Instance]:
    found = []
    for pipeline in site.pipelines:
        who = site.declared.uploaders[pipeline.object_key]
        kind, _, name = who.partition(":")
        if kind == "name":
            arn = f"arn:{PARTITION}:iam::{pipeline.account}:role/{name}"
        else:
            [logical_id] = [
                i
                for i, r in site.templates[pipeline.stack]["Resources"].items()
                if r["Type"] == "AWS::IAM::Role" and i.startswith(name)
            ]
            arn = site.arn(pipeline.stack, logical_id)
        found.append(Instance(site.caller(arn), _label(pipeline, arn), pipeline))
    return found


def _bootstrap_deploy(site: Site) -> list[Instance]:
    found = []
    for pipeline in site.pipelines:
        for action in pipeline.of("CodeBuild"):
            if _deploy(action, by_change_set=True) and action.variables["S3VP_MODE"] == "deploy":
                target = site.target_of(pipeline, action)
                caller = site.bootstrap[target]
                found.append(
                    Instance(
                        caller,
                        f"{pipeline.name} {action.stage}: {caller.arn}",
                        pipeline,
                        action.project,
                        target,
                        {"variables": action.variables},
                    )
                )
    return found


def _rules(site: Site) -> list[Instance]:
    found = []
    for stack, logical_id, properties in site.resources("AWS::Events::Rule"):
        account = site.resolver.account(stack)
        rule = site.arn(stack, logical_id)
        targets = [
            {
                "arn": site.resolve(stack, t["Arn"]),
                "role": site.resolve(stack, t["RoleArn"]) if "RoleArn" in t else None,
                "dlq": site.resolve(stack, t["DeadLetterConfig"]["Arn"]) if "DeadLetterConfig" in t else None,
            }
            for t in properties.get("Targets", [])
        ]
        for target in targets:
            if not target["arn"].startswith(
                (f"arn:{PARTITION}:sns:", f"arn:{PARTITION}:logs:", f"arn:{PARTITION}:codepipeline:")
            ):
                raise ValueError(f"the plan has no entry for EventBridge delivering to {target['arn']}: add one")
        found.append(
            Instance(
                Caller(account=account, service="events.amazonaws.com"),
                f"events.amazonaws.com for {rule}",
                thing={"rule": rule, "targets": targets, "account": account},
            )
        )
    return found


def _alarms(site: Site) -> list[Instance]:
    found = []
    for stack, logical_id, properties in site.resources("AWS::CloudWatch::Alarm"):
        topics = [site.resolve(stack, t) for t in properties.get("AlarmActions", [])]
        if topics:
            alarm = site.arn(stack, logical_id)
            account = site.resolver.account(stack)
            found.append(
                Instance(
                    Caller(account=account, service="cloudwatch.amazonaws.com"),
                    f"cloudwatch.amazonaws.com for {alarm}",
                    thing={"alarm": alarm, "topics": topics, "account": account},
                )
            )
    return found


def _subscriptions(site: Site) -> list[Instance]:
    found = []
    for stack, _, properties in site.resources("AWS::SNS::Subscription"):
        if "RedrivePolicy" in properties:
            topic = site.resolve(stack, properties["TopicArn"])
            queue = site.resolve(stack, properties["RedrivePolicy"]["deadLetterTargetArn"])
            account = site.resolver.account(stack)
            found.append(
                Instance(
                    Caller(account=account, service="sns.amazonaws.com"),
                    f"sns.amazonaws.com for {topic}",
                    thing={"topic": topic, "queue": queue, "account": account},
                )
            )
    return found


def _log_groups(site: Site) -> list[Instance]:
    found = []
    for stack, logical_id, properties in site.resources("AWS::Logs::LogGroup"):
        if "KmsKeyId" in properties:
            group = site.arn(stack, logical_id).removesuffix(":*")
            account, region = site.resolver.account(stack), site.resolver.region(stack)
            found.append(
                Instance(
                    Caller(account=account, service=f"logs.{region}.amazonaws.com"),
                    f"logs.{region}.amazonaws.com for {group}",
                    thing={"group": group, "key": site.resolve(stack, properties["KmsKeyId"]), "account": account},
                )
            )
    return found


def _trails(site: Site) -> list[Instance]:
    found = []
    for stack, logical_id, properties in site.resources("AWS::CloudTrail::Trail"):
        account, region = site.resolver.account(stack), site.resolver.region(stack)
        thing = {
            "trail": site.arn(stack, logical_id),
            "bucket": f"arn:{PARTITION}:s3:::{site.resolve(stack, properties['S3BucketName'])}",
            "key": site.resolve(stack, properties["KMSKeyId"]),
            "group": site.resolve(stack, properties["CloudWatchLogsLogGroupArn"]).removesuffix(":*"),
            "role": site.resolve(stack, properties["CloudWatchLogsRoleArn"]),
            "account": account,
            "region": region,
        }
        pipeline = next((p for p in site.pipelines if p.stack == stack), None)
        found.append(
            Instance(
                Caller(account=account, service="cloudtrail.amazonaws.com"),
                f"cloudtrail.amazonaws.com for {thing['trail']}",
                pipeline,
                thing=thing,
            )
        )
    return found


def _trail_logs(site: Site) -> list[Instance]:
    return [
        Instance(
            site.caller(trail.thing["role"]),
            f"{trail.thing['trail']}: {trail.thing['role'].rsplit('/', 1)[-1]}",
            trail.pipeline,
            thing=trail.thing,
        )
        for trail in _trails(site)
    ]


def _projects_for_codebuild(site: Site) -> list[Instance]:
    found = []
    for stack, logical_id, properties in site.resources("AWS::CodeBuild::Project"):
        found.append(
            Instance(
                Caller(account=site.resolver.account(stack), service="codebuild.amazonaws.com"),
                f"codebuild.amazonaws.com for {logical_id}",
                thing={"role": site.resolve(stack, properties["ServiceRole"])},
            )
        )
    return found


def _pipelines_for_codepipeline(site: Site) -> list[Instance]:
    return [
        Instance(
            Caller(account=p.account, service="codepipeline.amazonaws.com"),
            f"codepipeline.amazonaws.com for {p.name}",
            p,
        )
        for p in site.pipelines
    ]


TRIGGER = Principal(
    "trigger",
    "The trigger rule's role",
    "the `RoleArn` of the EventBridge rule target whose `Arn` is the pipeline's ARN",
    _trigger,
)
PIPELINE = Principal(
    "pipeline",
    "The pipeline's role",
    "the pipeline's `RoleArn`",
    lambda site: _role_instances(site, lambda p: [(p.role, None, None)]),
)
SOURCE = Principal(
    "source",
    "The S3 source action's role",
    "the `RoleArn` of the pipeline's action whose provider is `S3`",
    lambda site: _role_instances(site, lambda p: [(a.role, None, None) for a in p.of("S3")]),
)
BUILD_ACTION = Principal(
    "codebuild-action",
    "Each CodeBuild action's role",
    "the `RoleArn` of each pipeline action whose provider is `CodeBuild`",
    lambda site: _role_instances(site, lambda p: [(a.role, a.project, None) for a in p.of("CodeBuild")]),
)
VALIDATE = Principal(
    "validate",
    "The Validate action's CodeBuild role",
    "the `ServiceRole` of the CodeBuild project the `Validate` action runs (logical id containing `ValidationProject`)",
    lambda site: _role_instances(site, lambda p: _stage_projects(site, p, lambda a: a.name == "Validate")),
)
ATTEST = Principal(
    "attest",
    "The Attest action's CodeBuild role",
    "the `ServiceRole` of the CodeBuild project the `Attest` action runs (logical id containing `AttestProject`)",
    lambda site: _role_instances(site, lambda p: _stage_projects(site, p, lambda a: a.name == "Attest")),
)
TEST = Principal(
    "test",
    "The Test stage's CodeBuild role",
    "the `ServiceRole` of the CodeBuild project the `Test` action runs (logical id containing `TestStageProject`)",
    lambda site: _role_instances(site, lambda p: _stage_projects(site, p, lambda a: a.stage == "Test")),
)
DEPLOY_COMMANDS = Principal(
    "deploy-commands",
    "A commands target's CodeBuild role",
    "the `ServiceRole` of the CodeBuild project a `Deploy<name>` action runs without `S3VP_MODE` "
    "(logical id containing `Deploy<name>StageProject`)",
    lambda site: _role_instances(site, lambda p: _stage_projects(site, p, lambda a: _deploy(a, by_change_set=False))),
)
DEPLOY_CHANGE_SET = Principal(
    "deploy-cloudformation",
    "A CloudFormation target's CodeBuild role",
    "the `ServiceRole` of the CodeBuild project a `Deploy<name>` action runs with `S3VP_MODE` (`plan` or `deploy`)",
    lambda site: _role_instances(site, lambda p: _stage_projects(site, p, lambda a: _deploy(a, by_change_set=True))),
)
APPROVAL = Principal(
    "approval",
    "The approval action's role",
    "the `RoleArn` of each pipeline action whose provider is `Manual`",
    lambda site: _role_instances(site, lambda p: [(a.role, None, None) for a in p.of("Manual")]),
)
UPLOADER = Principal(
    "uploader",
    "The uploader",
    "a role given `grant_upload` (or `SourceBucketOptions(uploaders=...)`): the examples' own roles",
    _uploaders,
)
TRAIL_LOGS = Principal(
    "trail-logs",
    "The trail's CloudWatch Logs role",
    "the `CloudWatchLogsRoleArn` of the audit trail (`OperationsOptions(audit=AuditOptions(trail=True))`)",
    _trail_logs,
)
BUILD = Principal(
    "build",
    "Every CodeBuild role above (Validate, Attest, Test, deploy)",
    "the `ServiceRole` of every CodeBuild project a pipeline action runs",
    lambda site: _role_instances(site, lambda p: _stage_projects(site, p, lambda a: True)),
)
VERIFIER = Principal(
    "verifier",
    "Every CodeBuild role after Attest (Test, build stages, deploy)",
    "the `ServiceRole` of every CodeBuild project an action runs on the `Attested` artifact",
    lambda site: _role_instances(site, lambda p: _stage_projects(site, p, lambda a: "Attested" in a.inputs)),
)
BOOTSTRAP_DEPLOY = Principal(
    "bootstrap-deploy",
    "A CloudFormation target's bootstrap deploy role (relied on)",
    "not in the templates: `cdk-<qualifier>-deploy-role-<account>-<region>` in the target account, which the "
    "CloudFormation target's project assumes; its policy is the CDK bootstrap template's",
    _bootstrap_deploy,
)
EVENTS = Principal(
    "events",
    "EventBridge (the service), delivering a rule's events",
    "every `AWS::Events::Rule`: its targets and dead-letter queues",
    _rules,
)
ALARMS = Principal(
    "cloudwatch",
    "CloudWatch (the service), notifying an alarm",
    "every `AWS::CloudWatch::Alarm` with `AlarmActions`",
    _alarms,
)
SNS = Principal(
    "sns",
    "SNS (the service), dead-lettering an undeliverable notification",
    "every `AWS::SNS::Subscription` with a `RedrivePolicy`",
    _subscriptions,
)
LOGS = Principal(
    "logs",
    "CloudWatch Logs (the service), encrypting a log group",
    "every `AWS::Logs::LogGroup` with `KmsKeyId`",
    _log_groups,
)
CLOUDTRAIL = Principal(
    "cloudtrail", "CloudTrail (the service), delivering the audit trail", "every `AWS::CloudTrail::Trail`", _trails
)
CODEBUILD = Principal(
    "codebuild",
    "CodeBuild (the service)",
    "every `AWS::CodeBuild::Project`: its `ServiceRole`",
    _projects_for_codebuild,
)
BROAD_POLICY = statements_of(
    {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        ]
    }
)


def _broad(site: Site) -> list[Instance]:
    return [
        Instance(
            Caller(
                account=p.account, arn=f"arn:{PARTITION}:iam::{p.account}:role/broad-developer", identity=BROAD_POLICY
            ),
            f"{p.name}: a role of its account allowed s3:* and kms:*",
            p,
        )
        for p in site.pipelines
    ]


BROAD = Principal(
    "broad",
    "A role of the account allowed `s3:*` and `kms:*` on everything (assumed)",
    "not in the templates: any role or user of the pipeline's account whose own policies allow `s3:*` and `kms:*` on "
    "`*`, such as a developer's; the resource policies alone must keep it out",
    _broad,
)
CODEPIPELINE = Principal(
    "codepipeline",
    "CodePipeline (the service)",
    "every `AWS::CodePipeline::Pipeline`: its `RoleArn`",
    _pipelines_for_codepipeline,
)
ROLES: tuple[Principal, ...] = (
    TRIGGER,
    PIPELINE,
    SOURCE,
    BUILD_ACTION,
    VALIDATE,
    ATTEST,
    TEST,
    DEPLOY_COMMANDS,
    DEPLOY_CHANGE_SET,
    APPROVAL,
    UPLOADER,
    TRAIL_LOGS,
)
ROLE = Principal(
    "role",
    "Every role above",
    "each of the roles above",
    lambda site: list({i.caller.arn: i for who in ROLES for i in who.find(site)}.values()),
)
PRINCIPALS: tuple[Principal, ...] = (
    *ROLES,
    BUILD,
    VERIFIER,
    ROLE,
    BOOTSTRAP_DEPLOY,
    EVENTS,
    ALARMS,
    SNS,
    LOGS,
    CLOUDTRAIL,
    CODEBUILD,
    CODEPIPELINE,
    BROAD,
)

PRESENT = {
    "seed_pipeline": {
        "trigger", "pipeline", "source", "codebuild-action", "validate", "attest", "test", "deploy-commands",
        "approval", "uploader", "trail-logs", "build", "verifier", "role", "events", "cloudwatch", "sns", "logs",
        "cloudtrail", "codebuild", "codepipeline", "broad",
    },
    "minimal": {
        "trigger", "pipeline", "source", "codebuild-action", "validate", "attest", "uploader", "build", "role",
        "events", "cloudwatch", "logs", "codebuild", "codepipeline", "broad",
    },
    "cross_account": {
        "trigger", "pipeline", "source", "codebuild-action", "validate", "attest", "deploy-cloudformation",
        "approval", "uploader", "build", "verifier", "role", "bootstrap-deploy", "events", "cloudwatch", "logs",
        "codebuild", "codepipeline", "broad",
    },
    "fleet": {
        "trigger", "pipeline", "source", "codebuild-action", "validate", "attest", "test", "uploader", "build",
        "verifier", "role", "events", "cloudwatch", "sns", "logs", "codebuild", "codepipeline", "broad",
    },
    "vpc_builds": {
        "trigger", "pipeline", "source", "codebuild-action", "validate", "attest", "test", "uploader", "build",
        "verifier", "role", "events", "cloudwatch", "logs", "codebuild", "codepipeline", "broad",
    },
    "multi_region": {
        "trigger", "pipeline", "source", "codebuild-action", "validate", "attest", "deploy-commands",
        "deploy-cloudformation", "approval", "uploader", "build", "verifier", "role", "bootstrap-deploy", "events",
        "cloudwatch", "logs", "codebuild", "codepipeline", "broad",
    },
}  # fmt: skip
"""The principals each example has: a principal missing from its templates (or one found where none is expected)
fails ``test_plan``, so that no entry passes for want of anything to evaluate."""


# ---------------------------------------------------------------------------------------------------------------
# Entries: what each principal needs, and what it must not be able to do

Requests = Callable[[Site, Instance], Iterable["str | Request"]]


@dataclass(frozen=True)
class Entry:
    """Calls of one principal on one kind of resource: needed (each must be allowed) or not (each must be denied)."""

    principal: Principal
    actions: tuple[str, ...]
    resource: str  # what the calls are about, as the table says it
    requests: Requests  # the concrete resources (and request context) in one example, for one principal found
    why: str
    doc: Doc
    needed: bool = True
    when: str = ""  # the condition under which the calls are made, if any
    where: frozenset[str] = frozenset()  # with a condition: the examples where it holds (each must give requests)
    gap: str = ""  # a known gap in the templates: the test is expected to fail (strictly) for this reason

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.resource.lower()).strip("-")[:48]


def need(
    principal: Principal,
    actions: str,
    resource: str,
    requests: Requests,
    why: str,
    doc: Doc,
    *,
    needed: bool = True,
    when: tuple[str, Iterable[str]] = ("", ()),
    gap: str = "",
) -> Entry:
    """An entry of needed calls: ``actions`` separated by spaces; ``when``: (condition, examples where it holds)."""
    condition, examples = when
    return Entry(
        principal, tuple(actions.split()), resource, requests, why, doc, needed, condition, frozenset(examples), gap
    )


def must_not(
    principal: Principal, actions: str, resource: str, requests: Requests, why: str, doc: Doc, **more: Any
) -> Entry:
    """An entry of calls the principal must not be able to make (see ``need``)."""
    return need(principal, actions, resource, requests, why, doc, needed=False, **more)


def _from(source: str, account: str) -> dict[str, str]:
    """The context a service gives a request it makes on behalf of ``source`` (a rule, an alarm, a trail...)."""
    return {"aws:SourceArn": source, "aws:SourceAccount": account}


def _foreign(region: str) -> dict[str, str]:
    return _from(f"arn:{PARTITION}:events:{region}:{OTHER_ACCOUNT}:rule/elsewhere", OTHER_ACCOUNT)


def _aliases(site: Site, key: str) -> dict[str, list[str]]:
    """The request context of a call on ``key``: the aliases pointing at it (``kms:ResourceAliases``)."""
    names = [
        properties["AliasName"]
        for stack, _, properties in site.resources("AWS::KMS::Alias")
        if site.arn(stack, _alias_target(properties)) == key
    ]
    return {"kms:ResourceAliases": names}


def _alias_target(alias: Mapping[str, Any]) -> str:
    """The logical id of the key an alias of the same stack points at (``Ref`` or ``Fn::GetAtt`` of it)."""
    target = alias["TargetKeyId"]
    return str(target["Ref"] if "Ref" in target else target["Fn::GetAtt"][0])


def _pipeline(instance: Instance) -> Pipeline:
    assert instance.pipeline is not None, instance.label
    return instance.pipeline


def _project(instance: Instance) -> Project:
    assert instance.project is not None, instance.label
    return instance.project


def _interface_in(instance: Instance, subnet: str, service: str = "codebuild.amazonaws.com") -> Request:
    """A network interface in ``subnet`` (an ARN), attached for ``service``: CodeBuild's request in a VPC."""
    interface = subnet.replace(":subnet/", ":network-interface/").rpartition("/")[0] + "/eni-0123456789abcdef0"
    return Request(interface, {"ec2:Subnet": subnet, "ec2:AuthorizedService": service})


def _actions_of(instance: Instance) -> list[Action]:
    """The actions that run the instance's project."""
    project = _project(instance)
    return [
        a for a in _pipeline(instance).actions if a.project is not None and a.project.logical_id == project.logical_id
    ]


def _others(site: Site, pipeline: Pipeline) -> list[Pipeline]:
    return [other for other in site.pipelines if other.arn != pipeline.arn]


def _keys_but(site: Site, needed: Iterable[str]) -> list[str]:
    wanted = set(needed)
    return [key for key in site.keys if key not in wanted]


def _target_roles(site: Site, instance: Instance, kinds: Iterable[str]) -> list[str]:
    assert instance.target is not None, instance.label
    return [bootstrap_role(kind, *instance.target) for kind in kinds]


def _other_targets(site: Site, instance: Instance) -> list[str]:
    """The bootstrap roles of the pipeline's other targets that are not this target's (another account or Region)."""
    pipeline = _pipeline(instance)
    targets = {site.target_of(pipeline, a) for a in pipeline.actions if a.stage.startswith("Deploy")}
    return [bootstrap_role(kind, *target) for target in sorted(targets - {instance.target}) for kind in BOOTSTRAP_KINDS]


def _alarms_watched(site: Site, pipeline: Pipeline) -> list[str]:
    properties = site.templates[pipeline.stack]["Resources"][pipeline.logical_id]["Properties"]
    names = [
        site.resolve(pipeline.stack, rule["Configuration"]["AlarmName"])
        for stage in properties["Stages"]
        for when in ("BeforeEntry", "OnSuccess", "OnFailure")
        for condition in stage.get(when, {}).get("Conditions", [])
        for rule in condition.get("Rules", [])
        if rule["RuleTypeId"]["Provider"] == "CloudWatchAlarm"
    ]
    return [f"arn:{PARTITION}:cloudwatch:{pipeline.region}:{pipeline.account}:alarm:{name}" for name in names]


def _nearby_roles(site: Site, instance: Instance) -> list[str]:
    """The roles of the instance's pipeline and every pipeline's role (in a fleet: the other teams'), but its own."""
    return sorted(
        {
            *(x.caller.arn for who in ROLES for x in instances(site, who) if x.pipeline == instance.pipeline),
            *(p.role for p in site.pipelines),
        }
        - {instance.caller.arn}
    )


def _approval_topics(instance: Instance) -> list[str]:
    return [
        a.configuration["NotificationArn"] for a in _pipeline(instance).of("Manual") if a.role == instance.caller.arn
    ]


def _approvals(site: Site, instance: Instance) -> list[str]:
    """Every approval action of the example, and one its pipeline would have (whether or not it has one)."""
    found = [f"{p.arn}/{a.stage}/{a.name}" for p in site.pipelines for a in p.of("Manual")]
    return [*found, f"{_pipeline(instance).arn}/ApproveProduction/Approve"]


def _signs_with(instance: Instance) -> list[str]:
    """The signing key the instance may sign with: its pipeline's, when it is that pipeline's Attest role."""
    pipeline = instance.pipeline
    return [pipeline.signing_key] if pipeline and instance.caller.arn == pipeline.attest_role else []


S3_CONTEXT = "kms:EncryptionContext:aws:s3:arn"


def _decrypting(site: Site, pipeline: Pipeline, source_object: str | None = None) -> Request:
    """A use of the pipeline's source key by S3 for ``source_object`` (default: its own uploaded object), with the
    encryption context S3 gives KMS: the object's ARN, or the bucket's where the bucket uses an S3 Bucket Key."""
    source_object = source_object or pipeline.source_object
    bucket = source_object.split("/", 1)[0]
    return Request(pipeline.source_key, {S3_CONTEXT: bucket if bucket in site.bucket_keys else source_object})


def _shared_source(site: Site, pipeline: Pipeline) -> list[Pipeline]:
    """The other pipelines watching the pipeline's source bucket (a foundation's)."""
    return [other for other in _others(site, pipeline) if other.source_bucket == pipeline.source_bucket]


def _listings_elsewhere(site: Site, i: Instance) -> list[Request]:
    """Listings of a foundation's buckets outside the pipeline's own folder and key: another team's, a prefix only
    starting like its folder, the whole bucket."""
    pipeline = _pipeline(i)
    other = _shared_source(site, pipeline)[0]
    return [
        Request(pipeline.artifact_bucket, context)
        for context in ({"s3:prefix": f"{other.name[:20]}/"}, {"s3:prefix": pipeline.name[:20]}, {})
    ] + [Request(pipeline.source_bucket, context) for context in ({"s3:prefix": other.object_key}, {})]


SOURCE_CONFIGURATION = (
    "s3:PutBucketPolicy s3:DeleteBucketPolicy s3:PutLifecycleConfiguration s3:PutBucketNotification "
    "s3:PutBucketVersioning s3:PutEncryptionConfiguration s3:PutBucketAcl"
)


ENTRIES: tuple[Entry, ...] = (
    # --- The trigger rule's role ---------------------------------------------------------------------------------
    need(
        TRIGGER,
        "codepipeline:StartPipelineExecution",
        "its pipeline",
        lambda site, i: [_pipeline(i).arn],
        "EventBridge starts the pipeline as this role on every upload, naming the uploaded object version.",
        EVENTBRIDGE_ROLES,
    ),
    must_not(
        TRIGGER,
        "codepipeline:StartPipelineExecution",
        "any other pipeline",
        lambda site, i: [
            *(p.arn for p in _others(site, _pipeline(i))),
            f"arn:{PARTITION}:codepipeline:{_pipeline(i).region}:{_pipeline(i).account}:another-pipeline",
        ],
        "An upload starts its own pipeline only (in a fleet, one team's upload never runs another team's pipeline).",
        EVENTBRIDGE_ROLES,
    ),
    # --- The pipeline's role -------------------------------------------------------------------------------------
    need(
        PIPELINE,
        "sts:AssumeRole",
        "each of its actions' roles",
        lambda site, i: [a.role for a in _pipeline(i).actions],
        "CodePipeline runs every action as the action's own role, assumed with the pipeline's role; each action "
        "role's trust policy names the pipeline role.",
        CODEPIPELINE_ROLE,
    ),
    need(
        PIPELINE,
        "s3:GetObject s3:PutObject",
        "its artifacts (`<artifact bucket>/<pipeline name, 20 characters>/...`)",
        lambda site, i: [_pipeline(i).artifact("Validated")],
        "CodePipeline keeps every action's input and output artifacts in the artifact store.",
        CODEPIPELINE_ROLE,
    ),
    need(
        PIPELINE,
        "kms:Decrypt kms:GenerateDataKey",
        "the artifact key",
        lambda site, i: [_pipeline(i).artifact_key],
        "The artifact store is encrypted with the pipeline's artifact key.",
        CODEPIPELINE_ROLE,
    ),
    need(
        PIPELINE,
        "s3:GetObject s3:PutObject",
        "its artifacts in the store of each other Region an action runs in",
        lambda site, i: [
            f"{bucket}/{_pipeline(i).name[:20]}/Attested/Ab12Cd3" for bucket, _ in _pipeline(i).stores.values()
        ],
        "Before an action in another Region, CodePipeline copies its input artifacts to that Region's store.",
        CROSS_REGION,
        when=("a target deploys in another Region", {"multi_region"}),
    ),
    need(
        PIPELINE,
        "kms:Decrypt kms:GenerateDataKey",
        "each other Region's artifact key, named by its alias",
        lambda site, i: [Request(key, _aliases(site, key)) for _, key in _pipeline(i).stores.values()],
        "The copy is encrypted with that Region's artifact key; the pipeline's stack names the key by its alias "
        "(condition kms:ResourceAliases), as its ARN is in another Region's stack.",
        CROSS_REGION,
        when=("a target deploys in another Region", {"multi_region"}),
    ),
    must_not(
        PIPELINE,
        "kms:Decrypt kms:GenerateDataKey",
        "any other key of another Region (its log key there, say)",
        lambda site, i: [
            Request(key, _aliases(site, key))
            for key in _keys_but(site, [k for _, k in _pipeline(i).stores.values()])
            if any(f":kms:{region}:" in key for region in _pipeline(i).stores)
        ],
        "The grant on the artifact key of another Region goes by its alias: no other key there is reached.",
        CROSS_REGION,
        when=("a target deploys in another Region", {"multi_region"}),
    ),
    need(
        PIPELINE,
        "cloudwatch:DescribeAlarms",
        "each alarm a deploy stage watches",
        lambda site, i: _alarms_watched(site, _pipeline(i)),
        "A stage's CloudWatchAlarm rule reads the alarm's state for its bake time, and rolls the stage back if it "
        "goes off.",
        ALARM_RULE,
        when=("a target watches alarms", {"seed_pipeline"}),
    ),
    must_not(
        PIPELINE,
        "codebuild:StartBuild",
        "every CodeBuild project",
        lambda site, i: site.projects,
        "Builds are started by each CodeBuild action's own role, never by the pipeline's.",
        CODEPIPELINE_ROLE,
    ),
    # --- The S3 source action's role -----------------------------------------------------------------------------
    need(
        SOURCE,
        "s3:GetObject s3:GetObjectVersion",
        "the uploaded object (the version the trigger names)",
        lambda site, i: [_pipeline(i).source_object],
        "The source action copies the uploaded object version into the artifact store.",
        S3_SOURCE,
    ),
    need(
        SOURCE,
        "s3:GetBucketVersioning",
        "the source bucket",
        lambda site, i: [_pipeline(i).source_bucket],
        "The S3 source action works on a versioned bucket only, and checks it.",
        S3_SOURCE,
    ),
    need(
        SOURCE,
        "kms:Decrypt",
        "the source key, for its uploaded object",
        lambda site, i: [_decrypting(site, _pipeline(i))],
        "Uploads are encrypted with the source key; reading one decrypts its data key.",
        S3_SSE_KMS,
    ),
    need(
        SOURCE,
        "s3:PutObject",
        "its `Source` artifact",
        lambda site, i: [_pipeline(i).artifact("Source")],
        "The action's output is the `Source` artifact.",
        S3_SOURCE,
    ),
    need(
        SOURCE,
        "kms:GenerateDataKey",
        "the artifact key",
        lambda site, i: [_pipeline(i).artifact_key],
        "The artifact it writes is encrypted with the artifact key.",
        S3_SSE_KMS,
    ),
    must_not(
        SOURCE,
        "s3:GetObject s3:GetObjectVersion",
        "any other key of the source bucket",
        lambda site, i: [
            f"{_pipeline(i).source_bucket}/other.zip",
            *(p.source_object for p in _others(site, _pipeline(i)) if p.source_bucket == _pipeline(i).source_bucket),
        ],
        "The source action reads its own object key; in a fleet, never another team's package.",
        S3_SOURCE,
    ),
    # --- Each CodeBuild action's role ----------------------------------------------------------------------------
    need(
        BUILD_ACTION,
        "codebuild:StartBuild codebuild:BatchGetBuilds",
        "its project",
        lambda site, i: [_project(i).arn],
        "The CodeBuild action starts a build of its project and follows it.",
        CODEPIPELINE_ROLE,
    ),
    must_not(
        BUILD_ACTION,
        "codebuild:StartBuild",
        "every other CodeBuild project",
        lambda site, i: [p for p in site.projects if p != _project(i).arn],
        "An action starts its own project only (the Validate action never starts a deployment).",
        CODEPIPELINE_ROLE,
        when=("the example has several projects", {"seed_pipeline", "cross_account", "fleet"}),
    ),
    must_not(
        BUILD_ACTION,
        "codebuild:UpdateProject",
        "its project",
        lambda site, i: [_project(i).arn],
        "Changing a project would change what its next build runs.",
        CODEBUILD_ROLE,
    ),
    # --- Every CodeBuild role ------------------------------------------------------------------------------------
    need(
        BUILD,
        "ec2:CreateNetworkInterface ec2:DeleteNetworkInterface ec2:DescribeNetworkInterfaces ec2:DescribeSubnets "
        "ec2:DescribeSecurityGroups ec2:DescribeDhcpOptions ec2:DescribeVpcs",
        "the build's network interface in the VPC",
        lambda site, i: ["*"],
        "In a VPC, CodeBuild creates each build's network interface with the project's role, and deletes it after.",
        CODEBUILD_VPC,
        when=IN_A_VPC,
    ),
    need(
        BUILD,
        "ec2:CreateNetworkInterfacePermission",
        "a network interface in one of its project's subnets, for CodeBuild",
        lambda site, i: [_interface_in(i, subnet) for subnet in _project(i).subnets],
        "CodeBuild attaches the build's network interface in a subnet of the project's VpcConfig.",
        CODEBUILD_VPC,
        when=IN_A_VPC,
    ),
    must_not(
        BUILD,
        "ec2:CreateNetworkInterfacePermission",
        "a network interface in a subnet not its project's",
        lambda site, i: [_interface_in(i, _project(i).subnets[0].rpartition("/")[0] + "/" + OTHER_SUBNET)],
        "The role may attach interfaces only where its builds run: not in a subnet with other routes.",
        CODEBUILD_VPC,
        when=IN_A_VPC,
    ),
    must_not(
        BUILD,
        "ec2:CreateNetworkInterfacePermission",
        "a network interface in its project's subnets, for another service",
        lambda site, i: [_interface_in(i, _project(i).subnets[0], service="ec2.amazonaws.com")],
        "Only CodeBuild may be given the build's interface.",
        CODEBUILD_VPC,
        when=IN_A_VPC,
    ),
    need(
        BUILD,
        "logs:CreateLogStream logs:PutLogEvents",
        "its own log group",
        lambda site, i: [f"{_project(i).log_group}:log-stream:build-1"],
        "Each build logs to the project's dedicated, encrypted log group.",
        CODEBUILD_ROLE,
    ),
    need(
        BUILD,
        "s3:GetObject",
        "the package checker (an asset in the CDK bootstrap bucket)",
        lambda site, i: [_project(i).checker],
        "Every build first downloads the checker, and runs it only if its SHA-256 is the one the template pins. "
        "The bootstrap bucket's key lets the account's principals use it through S3, so no KMS grant is needed.",
        CODEBUILD_ROLE,
    ),
    need(
        BUILD,
        "s3:GetObject",
        "its input artifact",
        lambda site, i: [_pipeline(i).artifact(name) for a in _actions_of(i) for name in a.inputs],
        "CodeBuild downloads the action's input artifact (Validate: `Source`; Attest: `Validated`; later stages: "
        "`Attested`).",
        CODEBUILD_ROLE,
    ),
    need(
        BUILD,
        "kms:Decrypt",
        "the artifact key",
        lambda site, i: [_pipeline(i).artifact_key],
        "Artifacts are encrypted with the artifact key.",
        S3_SSE_KMS,
    ),
    need(
        BUILD,
        "s3:PutObject",
        "its output artifact",
        lambda site, i: [_pipeline(i).artifact(name) for a in _actions_of(i) for name in a.outputs],
        "CodeBuild uploads the action's output artifact (Validate: `Validated`; Attest: `Attested`, the same files "
        "with the signed provenance; Test: its reports).",
        CODEBUILD_ROLE,
    ),
    need(
        BUILD,
        "kms:GenerateDataKey",
        "the artifact key",
        lambda site, i: [_pipeline(i).artifact_key] if any(a.outputs for a in _actions_of(i)) else [],
        "The output artifact is encrypted with the artifact key.",
        S3_SSE_KMS,
    ),
    must_not(
        BUILD,
        "s3:PutObject",
        "the source bucket (the uploaded object or any other key)",
        lambda site, i: [_pipeline(i).source_object, f"{_pipeline(i).source_bucket}/other.zip"],
        "Builds run the package's own commands: they must not replace what the next execution validates.",
        S3_SOURCE,
    ),
    must_not(
        BUILD,
        "codebuild:StartBuild codebuild:StartBuildBatch codebuild:UpdateProject",
        "every CodeBuild project (the Attest project included)",
        lambda site, i: site.projects,
        "A build must not start or change a build, its own included: that would run commands no template pinned, and "
        "on the Attest project (a buildspec override) with Attest's right to sign.",
        CODEBUILD_ROLE,
    ),
    # --- The Validate stage's role -------------------------------------------------------------------------------
    need(
        VALIDATE,
        "s3:GetObjectVersion",
        "the uploaded object (the version the trigger names)",
        lambda site, i: [_pipeline(i).source_object],
        "Validate asks the uploaded version's size (HeadObject, which on a version needs this same action) and "
        "refuses it above `max_package_bytes`; then it checks the version's own bytes, downloaded by version id (with "
        "S3's SHA-256), not CodeBuild's extraction of the source artifact.",
        CODEBUILD_ROLE,
    ),
    need(
        VALIDATE,
        "kms:Decrypt",
        "the source key, for its uploaded object",
        lambda site, i: [_decrypting(site, _pipeline(i))],
        "The uploaded object is encrypted with the source key.",
        S3_SSE_KMS,
    ),
    need(
        VALIDATE,
        "s3:GetObjectVersionTagging s3:PutObjectVersionTagging",
        "the uploaded object (the version the trigger names)",
        lambda site, i: [_pipeline(i).source_object],
        "Validate tags the version it checked with its verdict (`s3vp-verdict`: accepted or rejected, keeping its "
        "other tags) before any of the package's commands run; the source bucket expires rejected versions early.",
        S3_TAGGING,
    ),
    must_not(
        VALIDATE,
        "s3:PutObjectVersionTagging s3:DeleteObjectVersionTagging",
        "the uploaded object, once its verdict is set",
        lambda site, i: [Request(_pipeline(i).source_object, {"s3:ExistingObjectTag/s3vp-verdict": "accepted"})],
        "The package's commands run in Validate after the verdict is set: they must not retag their own version "
        "rejected, which would have it expire early.",
        S3_TAGGING,
    ),
    must_not(
        VALIDATE,
        "kms:Decrypt",
        "every key but the artifact and source keys",
        lambda site, i: _keys_but(site, [_pipeline(i).artifact_key, _pipeline(i).source_key]),
        "Validate reads the package and writes artifacts, nothing else.",
        KMS_KEY_POLICIES,
    ),
    must_not(
        VALIDATE,
        "sts:AssumeRole",
        "the CDK bootstrap roles of its account",
        lambda site, i: [
            bootstrap_role(k, _pipeline(i).account, _pipeline(i).region) for k in (*BOOTSTRAP_KINDS, "cfn-exec")
        ],
        "Validate runs the package's own commands: they get no way into a deployment.",
        CDK_BOOTSTRAP,
    ),
    # --- The Attest action's role ---------------------------------------------------------------------------------
    need(
        ATTEST,
        "s3:GetObjectVersion",
        "the uploaded object (the version the trigger names)",
        lambda site, i: [_pipeline(i).source_object],
        "Attest asks the same version's size (HeadObject) and downloads it again and checks it itself: the verdict "
        "it signs is its own, not a report the package's code in Validate could have rewritten.",
        CODEBUILD_ROLE,
    ),
    need(
        ATTEST,
        "kms:Decrypt",
        "the source key, for its uploaded object",
        lambda site, i: [_decrypting(site, _pipeline(i))],
        "The uploaded object is encrypted with the source key.",
        S3_SSE_KMS,
    ),
    need(
        ATTEST,
        "kms:Sign",
        "its pipeline's signing key",
        lambda site, i: [Request(_pipeline(i).signing_key, SIGNING)],
        "Attest signs the provenance statement's digest (`aws kms sign --message-type DIGEST --signing-algorithm "
        "ECDSA_SHA_256`); the key's policy names its role alone, for that algorithm and message type. Its checker, "
        "artifacts, artifact key and log group are every CodeBuild role's (below).",
        KMS_SIGN,
    ),
    must_not(
        ATTEST,
        "kms:Decrypt",
        "every key but the artifact and source keys",
        lambda site, i: _keys_but(site, [_pipeline(i).artifact_key, _pipeline(i).source_key]),
        "Attest reads the package and the validated artifact, and writes the attested one; nothing else.",
        KMS_KEY_POLICIES,
    ),
    must_not(
        ATTEST,
        "sts:AssumeRole",
        "the CDK bootstrap roles of its account",
        lambda site, i: [
            bootstrap_role(k, _pipeline(i).account, _pipeline(i).region) for k in (*BOOTSTRAP_KINDS, "cfn-exec")
        ],
        "The role that vouches for an artifact does not deploy it: signing and deploying stay apart.",
        CDK_BOOTSTRAP,
    ),
    # --- The Test stage's role -----------------------------------------------------------------------------------
    need(
        TEST,
        "codebuild:CreateReport codebuild:UpdateReport codebuild:BatchPutTestCases",
        "its report group",
        lambda site, i: list(_project(i).reports),
        "Test reports (`TestStageOptions(report_files=...)`) go to the stage's own report group.",
        TEST_REPORTS,
        when=("the stage has report files", {"seed_pipeline"}),
    ),
    must_not(
        TEST,
        "kms:Decrypt",
        "every key but the artifact key",
        lambda site, i: _keys_but(site, [_pipeline(i).artifact_key]),
        "The tests read the validated artifact only.",
        KMS_KEY_POLICIES,
    ),
    must_not(
        TEST,
        "sts:AssumeRole",
        "the CDK bootstrap roles of its account",
        lambda site, i: [
            bootstrap_role(k, _pipeline(i).account, _pipeline(i).region) for k in (*BOOTSTRAP_KINDS, "cfn-exec")
        ],
        "Tests run the package's own commands: they get no way into a deployment.",
        CDK_BOOTSTRAP,
    ),
    # --- A commands target's role --------------------------------------------------------------------------------
    need(
        DEPLOY_COMMANDS,
        "sts:AssumeRole",
        "its target's bootstrap deploy, file-publishing, image-publishing and lookup roles",
        lambda site, i: _target_roles(site, i, BOOTSTRAP_KINDS),
        "`cdk deploy` publishes assets and deploys through the target's bootstrap roles, in the pipeline's account "
        "as in another (which `cdk bootstrap --trust <pipeline account>` lets it assume).",
        CDK_BOOTSTRAP,
    ),
    must_not(
        DEPLOY_COMMANDS,
        "sts:AssumeRole",
        "its target's cfn-exec role",
        lambda site, i: _target_roles(site, i, ["cfn-exec"]),
        "Only CloudFormation runs as the execution role, which the bootstrap gives AdministratorAccess by default.",
        CDK_BOOTSTRAP,
    ),
    # --- A CloudFormation target's role --------------------------------------------------------------------------
    need(
        DEPLOY_CHANGE_SET,
        "sts:AssumeRole",
        "its target's deploy role (`S3VP_DEPLOY_ROLE_ARN`)",
        lambda site, i: sorted({a.variables["S3VP_DEPLOY_ROLE_ARN"] for a in _actions_of(i)}),
        "The change set is created, described and executed as the target's deploy role.",
        CDK_BOOTSTRAP,
    ),
    need(
        DEPLOY_CHANGE_SET,
        "sts:AssumeRole",
        "its target's file-publishing role (`S3VP_FILE_ROLE_ARN`)",
        lambda site, i: sorted({a.variables["S3VP_FILE_ROLE_ARN"] for a in _actions_of(i)}),
        "A template over 51,200 bytes is staged in the target's bootstrap bucket as the file-publishing role, "
        "assumed with the build's own credentials.",
        CDK_BOOTSTRAP,
    ),
    must_not(
        DEPLOY_CHANGE_SET,
        "sts:AssumeRole",
        "its target's cfn-exec role (`S3VP_EXECUTION_ROLE_ARN`)",
        lambda site, i: sorted({a.variables["S3VP_EXECUTION_ROLE_ARN"] for a in _actions_of(i)}),
        "Only CloudFormation runs as the execution role: the build passes it through the deploy role.",
        CDK_BOOTSTRAP,
    ),
    must_not(
        DEPLOY_CHANGE_SET,
        "sts:AssumeRole",
        "another target's bootstrap roles",
        _other_targets,
        "Each stage deploys to its own target only (staging's role never reaches production).",
        CDK_BOOTSTRAP,
        when=("another target is in another account", {"cross_account"}),
    ),
    # --- Both kinds of deployment --------------------------------------------------------------------------------
    *(
        entry
        for who in (DEPLOY_COMMANDS, DEPLOY_CHANGE_SET)
        for entry in (
            must_not(
                who,
                "s3:PutObject",
                "its pipeline's artifacts",
                lambda site, i: [_pipeline(i).artifact("Validated")],
                "A deployment must not change the validated artifact it deploys.",
                CODEBUILD_ROLE,
            ),
            must_not(
                who,
                "kms:Decrypt",
                "every key but the artifact key",
                lambda site, i: _keys_but(site, [_pipeline(i).artifact_key]),
                "A deployment reads the validated artifact only.",
                KMS_KEY_POLICIES,
            ),
        )
    ),
    # --- Every CodeBuild role after Attest ------------------------------------------------------------------------
    need(
        VERIFIER,
        "kms:Verify kms:GetPublicKey",
        "its pipeline's signing key",
        lambda site, i: [Request(_pipeline(i).signing_key, SIGNING)],
        "Before anything runs, the stage has KMS verify that its pipeline's key signed the provenance it received "
        "(`aws kms verify`); the public key is granted beside it so that a stage's own commands can check an "
        "envelope offline, as `s3vp verify` does. No must-not keeps either from another pipeline's key: verifying "
        "signs nothing and a public key is public, and the key a stage trusts is the one its action names, not one "
        "its role may reach.",
        KMS_VERIFY,
    ),
    must_not(
        VERIFIER,
        "s3:PutObject s3:DeleteObject s3:DeleteObjectVersion",
        "any execution's Validated and Attested artifacts",
        lambda site, i: [p.artifact(name) for p in site.pipelines for name in ("Validated", "Attested")],
        "The package's code runs in these builds while, in QUEUED mode, a later execution is between its Validate "
        "and its Attest: replacing that execution's Validated artifact would have Attest sign it. CodeBuild uploads "
        "a stage's own output with its role, so the grant covers the artifact store; an explicit deny keeps these two "
        "artifacts out of reach.",
        CODEBUILD_ROLE,
    ),
    # --- The approval action's role ------------------------------------------------------------------------------
    need(
        APPROVAL,
        "sns:Publish",
        "its approval topic",
        lambda site, i: _approval_topics(i),
        "CodePipeline announces the waiting approval on the topic, as the approval action's role.",
        CODEPIPELINE_ROLE,
    ),
    need(
        APPROVAL,
        "kms:GenerateDataKey kms:Decrypt",
        "its approval topic's key",
        lambda site, i: [site.encryption[topic] for topic in _approval_topics(i)],
        "The topic is encrypted: its publishers need the data-key permissions on its key.",
        SNS_KEYS,
    ),
    must_not(
        APPROVAL,
        "s3:GetObject",
        "its pipeline's artifacts",
        lambda site, i: [_pipeline(i).artifact("Validated")],
        "Announcing an approval reads nothing of the package.",
        CODEPIPELINE_ROLE,
    ),
    must_not(
        APPROVAL,
        "kms:Decrypt",
        "every key but its topic's",
        lambda site, i: _keys_but(site, [site.encryption[topic] for topic in _approval_topics(i)]),
        "Announcing an approval reads nothing of the package.",
        KMS_KEY_POLICIES,
    ),
    # --- The uploader --------------------------------------------------------------------------------------------
    need(
        UPLOADER,
        "s3:PutObject",
        "its object key of the source bucket",
        lambda site, i: [_pipeline(i).source_object],
        "Uploading the package is what starts the pipeline; the bucket encrypts it with the source key by default.",
        S3_SOURCE,
    ),
    need(
        UPLOADER,
        "kms:GenerateDataKey kms:Decrypt",
        "the source key, for its object",
        lambda site, i: [_decrypting(site, _pipeline(i))],
        "An upload to an SSE-KMS bucket generates a data key; a multipart upload (`aws s3 cp` of a large file) "
        "decrypts it again for each part.",
        S3_SSE_KMS,
    ),
    must_not(
        UPLOADER,
        "s3:GetObject s3:GetObjectVersion s3:PutObject",
        "another pipeline's uploaded object and artifacts",
        lambda site, i: [
            resource
            for other in _shared_source(site, _pipeline(i))
            for resource in (other.source_object, other.artifact("Validated"))
        ],
        "A team's uploader reaches nothing of another team's, even where its own policies would allow it: the "
        "foundation's buckets deny each team's key and artifact folder to every other principal.",
        S3_SOURCE,
        when=("pipelines share a foundation's source bucket", {"fleet"}),
    ),
    must_not(
        UPLOADER,
        "s3:PutObject",
        "any other key of the source bucket",
        lambda site, i: [
            f"{_pipeline(i).source_bucket}/other.zip",
            *(p.source_object for p in _others(site, _pipeline(i)) if p.source_bucket == _pipeline(i).source_bucket),
        ],
        "An uploader puts its own package only; in a fleet, team01's role never uploads team02's.",
        S3_SOURCE,
    ),
    must_not(
        UPLOADER,
        "s3:PutObject",
        "its object key, encrypted otherwise than with the source key",
        lambda site, i: [
            Request(_pipeline(i).source_object, {"s3:x-amz-server-side-encryption": "AES256"}),
            Request(
                _pipeline(i).source_object,
                {
                    "s3:x-amz-server-side-encryption": "aws:kms",
                    "s3:x-amz-server-side-encryption-aws-kms-key-id": f"arn:{PARTITION}:kms:{_pipeline(i).region}:"
                    f"{_pipeline(i).account}:key/another-key",
                },
            ),
        ],
        "The source bucket's policy refuses another encryption, so every package stays readable by the pipeline "
        "and by it alone.",
        S3_SSE_KMS,
    ),
    must_not(
        UPLOADER,
        "s3:PutObject",
        "its object key, with a verdict tag",
        lambda site, i: [Request(_pipeline(i).source_object, {"s3:RequestObjectTagKeys": ["s3vp-verdict"]})],
        "A verdict is the check's alone: an upload cannot come already tagged accepted or rejected.",
        S3_TAGGING,
    ),
    must_not(
        UPLOADER,
        "s3:GetObject",
        "its pipeline's artifacts",
        lambda site, i: [_pipeline(i).artifact("Validated")],
        "Uploaders put packages; what the pipeline makes of them is not theirs to read.",
        CODEPIPELINE_ROLE,
    ),
    must_not(
        UPLOADER,
        "kms:Decrypt",
        "every key but the source key",
        lambda site, i: _keys_but(site, [_pipeline(i).source_key]),
        "Uploaders put packages; what the pipeline makes of them is not theirs to read.",
        KMS_KEY_POLICIES,
    ),
    # --- The trail's CloudWatch Logs role ------------------------------------------------------------------------
    need(
        TRAIL_LOGS,
        "logs:CreateLogStream logs:PutLogEvents",
        "the trail's log group",
        lambda site, i: [f"{i.thing['group']}:log-stream:{i.thing['account']}_CloudTrail_{i.thing['region']}"],
        "CloudTrail delivers the trail's events to its log group as this role.",
        TRAIL_LOGS_ROLE,
    ),
    must_not(
        TRAIL_LOGS,
        "logs:PutLogEvents",
        "every other log group (build logs, execution history)",
        lambda site, i: [
            f"{site.arn(stack, logical_id).removesuffix(':*')}:log-stream:x"
            for stack, logical_id, _ in site.resources("AWS::Logs::LogGroup")
            if site.arn(stack, logical_id).removesuffix(":*") != i.thing["group"]
        ],
        "The trail's role writes the trail's events, and nothing that could pass for a build's or an execution's.",
        TRAIL_LOGS_ROLE,
    ),
    # --- Every role ----------------------------------------------------------------------------------------------
    must_not(
        ROLE,
        "kms:Sign",
        "every KMS key of the example (for the Attest role: but its own pipeline's signing key)",
        lambda site, i: [Request(key, SIGNING) for key in _keys_but(site, _signs_with(i))],
        "Only Attest, which runs no package code, may vouch for an artifact: the signing key's policy names its role "
        "alone and gives the account's IAM policies neither kms:Sign nor kms:CreateGrant. In a fleet, a team's Attest "
        "role signs with its own pipeline's key only.",
        KMS_KEY_POLICIES,
    ),
    must_not(
        ROLE,
        "iam:PassRole",
        "the roles of its pipeline, every pipeline's role, and any other",
        lambda site, i: [*_nearby_roles(site, i), f"arn:{PARTITION}:iam::{i.caller.account}:role/another-role"],
        "Passing a role hands its permissions to a service; none of these principals configures one.",
        CODEPIPELINE_ROLE,
    ),
    must_not(
        ROLE,
        "codepipeline:PutApprovalResult",
        "every approval action",
        _approvals,
        "Approvals are people's: neither the roles that run the package nor the uploaders may vouch for it.",
        APPROVALS,
    ),
    must_not(
        ROLE,
        "sts:AssumeRole",
        "the roles its templates define for its pipeline, and every pipeline's role (the pipeline role: but its "
        "actions')",
        lambda site, i: [
            arn
            for arn in _nearby_roles(site, i)
            if any(policy.kind == "trust" for policy in site.policies_for(arn))  # imported roles trust whom they trust
            and (i.caller.arn != _pipeline(i).role or arn not in {a.role for a in _pipeline(i).actions})
        ],
        "A role never becomes another, which would add up their permissions: only the pipeline's role takes on "
        "each action's.",
        CODEPIPELINE_ROLE,
    ),
    must_not(
        ROLE,
        "sts:AssumeRole",
        "any role of another account",
        lambda site, i: [
            bootstrap_role("deploy", OTHER_ACCOUNT, _pipeline(i).region if i.pipeline else "eu-west-1"),
            f"arn:{PARTITION}:iam::{OTHER_ACCOUNT}:role/Admin",
        ],
        "No principal reaches an account the pipeline does not deploy to.",
        CDK_BOOTSTRAP,
    ),
    must_not(
        ROLE,
        SOURCE_CONFIGURATION,
        "the source bucket's configuration",
        lambda site, i: sorted({p.source_bucket for p in site.pipelines}),
        "The bucket's policy, versioning, encryption, lifecycle and notifications are what make an upload "
        "trustworthy and start the pipeline; they change by deployment only.",
        S3_SOURCE,
    ),
    must_not(
        ROLE,
        "s3:DeleteObjectVersion",
        "its pipeline's uploaded object's versions",
        lambda site, i: [_pipeline(i).source_object],
        "Every version is the record of what an execution validated.",
        S3_SOURCE,
    ),
    must_not(
        ROLE,
        "s3:GetObject s3:PutObject",
        "another pipeline's artifacts",
        lambda site, i: [
            other.artifact("Validated")
            for other in (_others(site, i.pipeline) if i.pipeline else [])
            if other.artifact_bucket == _pipeline(i).artifact_bucket
        ],
        "Pipelines on one foundation share its artifact bucket: each pipeline's roles reach its own folder only "
        "(its permissions boundary).",
        CODEPIPELINE_ROLE,
        when=("pipelines share a foundation's artifact bucket", {"fleet"}),
    ),
    must_not(
        ROLE,
        "s3:ListBucket s3:ListBucketVersions",
        "the foundation's buckets outside its own folder and key (another's prefix, a prefix only starting like its "
        "folder, no prefix)",
        _listings_elsewhere,
        "CDK's grants give `s3:List*` on the whole bucket; the boundary keeps a pipeline's roles to listing their own "
        "prefixes (`s3:prefix`), so they do not learn another team's artifact names.",
        CODEPIPELINE_ROLE,
        when=("pipelines share a foundation's buckets", {"fleet"}),
    ),
    must_not(
        ROLE,
        "kms:Decrypt kms:GenerateDataKey",
        "the source key, for another pipeline's object",
        lambda site, i: [
            _decrypting(site, _pipeline(i), other.source_object) for other in _shared_source(site, _pipeline(i))
        ],
        "The foundation's source bucket uses no S3 Bucket Key, so KMS sees each object's ARN: the boundary (for "
        "the pipeline's roles) and the upload grant (for uploaders) allow the shared key for the team's own object "
        "only.",
        S3_SSE_KMS,
        when=("pipelines share a foundation's source bucket", {"fleet"}),
    ),
    must_not(
        ROLE,
        "s3:GetObject s3:GetObjectVersion",
        "another pipeline's uploaded object",
        lambda site, i: [
            other.source_object
            for other in (_others(site, i.pipeline) if i.pipeline else [])
            if other.source_bucket == _pipeline(i).source_bucket
        ],
        "Pipelines on one foundation share its source bucket: each reads its own team's package only.",
        S3_SOURCE,
        when=("pipelines share a foundation's source bucket", {"fleet"}),
    ),
    # --- The target's bootstrap deploy role (relied on) ----------------------------------------------------------
    need(
        BOOTSTRAP_DEPLOY,
        "cloudformation:CreateChangeSet cloudformation:DescribeChangeSet cloudformation:ExecuteChangeSet "
        "cloudformation:DeleteChangeSet cloudformation:DescribeStacks cloudformation:GetTemplate",
        "the target's stack",
        lambda site, i: [
            f"arn:{PARTITION}:cloudformation:{i.target[1]}:{i.target[0]}:stack/{i.thing['variables']['S3VP_STACK']}/a1"
            for _ in [0]
            if i.target
        ],
        "The change-set script creates (or replaces) the change set, compares its template, and executes it.",
        CDK_BOOTSTRAP,
    ),
    need(
        BOOTSTRAP_DEPLOY,
        "iam:PassRole",
        "the target's cfn-exec role (`S3VP_EXECUTION_ROLE_ARN`)",
        lambda site, i: [i.thing["variables"]["S3VP_EXECUTION_ROLE_ARN"]],
        "The change set runs as the execution role, passed to CloudFormation.",
        CDK_BOOTSTRAP,
    ),
    need(
        BOOTSTRAP_DEPLOY,
        "s3:GetObject",
        "the staged template in the target's bootstrap bucket",
        lambda site, i: [f"arn:{PARTITION}:s3:::{i.thing['variables']['S3VP_STAGING_BUCKET']}/s3vp/a1.json"],
        "CloudFormation reads a template given by URL with the caller's credentials.",
        CDK_BOOTSTRAP,
    ),
    # --- EventBridge ---------------------------------------------------------------------------------------------
    need(
        EVENTS,
        "sts:AssumeRole",
        "the trigger's role",
        lambda site, i: [t["role"] for t in i.thing["targets"] if t["role"]],
        "EventBridge assumes a target's role to start the pipeline; the role trusts events.amazonaws.com.",
        EVENTBRIDGE_ROLES,
    ),
    need(
        EVENTS,
        "sns:Publish",
        "each topic a rule notifies",
        lambda site, i: [
            Request(t["arn"], _from(i.thing["rule"], i.thing["account"]))
            for t in i.thing["targets"]
            if ":sns:" in t["arn"]
        ],
        "The topic's policy names each rule allowed to publish (aws:SourceArn).",
        EVENTBRIDGE_TARGETS,
    ),
    need(
        EVENTS,
        "kms:GenerateDataKey kms:Decrypt",
        "each notified topic's key",
        lambda site, i: [
            Request(site.encryption[t["arn"]], _from(i.thing["rule"], i.thing["account"]))
            for t in i.thing["targets"]
            if ":sns:" in t["arn"]
        ],
        "The topic is encrypted: EventBridge needs the data-key permissions in the key's policy.",
        SNS_KEYS,
    ),
    need(
        EVENTS,
        "logs:CreateLogStream logs:PutLogEvents",
        "the execution history's log group",
        lambda site, i: [f"{t['arn']}:log-stream:x" for t in i.thing["targets"] if ":logs:" in t["arn"]],
        "The history rule writes every state change to the log group, allowed by a CloudWatch Logs resource policy.",
        EVENTBRIDGE_TARGETS,
    ),
    need(
        EVENTS,
        "sqs:SendMessage",
        "each rule's dead-letter queue",
        lambda site, i: [
            Request(t["dlq"], _from(i.thing["rule"], i.thing["account"])) for t in i.thing["targets"] if t["dlq"]
        ],
        "An event still undelivered after the retries goes to the rule's dead-letter queue, whose policy names the "
        "rule.",
        EVENTBRIDGE_DLQ,
    ),
    need(
        EVENTS,
        "kms:GenerateDataKey kms:Decrypt",
        "each dead-letter queue's key",
        lambda site, i: [
            Request(site.encryption[t["dlq"]], _from(i.thing["rule"], i.thing["account"]))
            for t in i.thing["targets"]
            if t["dlq"]
        ],
        "The dead-letter queue is encrypted: EventBridge needs the data-key permissions in the key's policy.",
        EVENTBRIDGE_DLQ,
    ),
    must_not(
        EVENTS,
        "sns:Publish",
        "each notified topic, for a rule of another account",
        lambda site, i: [
            Request(t["arn"], _foreign(i.thing["rule"].split(":")[3]))
            for t in i.thing["targets"]
            if ":sns:" in t["arn"]
        ],
        "A topic takes events from its own rules only, not from EventBridge acting for anyone.",
        EVENTBRIDGE_TARGETS,
    ),
    must_not(
        EVENTS,
        "sqs:SendMessage",
        "each dead-letter queue, for a rule of another account",
        lambda site, i: [
            Request(t["dlq"], _foreign(i.thing["rule"].split(":")[3])) for t in i.thing["targets"] if t["dlq"]
        ],
        "A dead-letter queue takes its own rules' events only.",
        EVENTBRIDGE_DLQ,
    ),
    # --- CloudWatch alarms ---------------------------------------------------------------------------------------
    need(
        ALARMS,
        "sns:Publish",
        "each topic an alarm notifies",
        lambda site, i: [Request(topic, _from(i.thing["alarm"], i.thing["account"])) for topic in i.thing["topics"]],
        "An alarm's action publishes to the topic, whose policy admits the account's alarms.",
        SNS_KEYS,
    ),
    need(
        ALARMS,
        "kms:GenerateDataKey kms:Decrypt",
        "each notified topic's key",
        lambda site, i: [
            Request(site.encryption[topic], _from(i.thing["alarm"], i.thing["account"])) for topic in i.thing["topics"]
        ],
        "The topic is encrypted: CloudWatch needs the data-key permissions in the key's policy.",
        SNS_KEYS,
    ),
    must_not(
        ALARMS,
        "sns:Publish",
        "each notified topic, for an alarm of another account",
        lambda site, i: [
            Request(
                topic, _from(i.thing["alarm"].replace(f":{i.thing['account']}:", f":{OTHER_ACCOUNT}:"), OTHER_ACCOUNT)
            )
            for topic in i.thing["topics"]
        ],
        "A topic takes its own account's alarms only.",
        SNS_KEYS,
    ),
    # --- SNS -----------------------------------------------------------------------------------------------------
    need(
        SNS,
        "sqs:SendMessage",
        "the subscription's dead-letter queue",
        lambda site, i: [Request(i.thing["queue"], _from(i.thing["topic"], i.thing["account"]))],
        "A notification SNS cannot deliver (an address that bounces) goes to the dead-letter queue, whose policy "
        "names the topic.",
        SNS_KEYS,
    ),
    need(
        SNS,
        "kms:GenerateDataKey kms:Decrypt",
        "the dead-letter queue's key",
        lambda site, i: [Request(site.encryption[i.thing["queue"]], _from(i.thing["topic"], i.thing["account"]))],
        "The dead-letter queue is encrypted: SNS needs the data-key permissions in the key's policy.",
        SNS_KEYS,
    ),
    # --- CloudWatch Logs -----------------------------------------------------------------------------------------
    need(
        LOGS,
        "kms:GenerateDataKey kms:Decrypt",
        "each encrypted log group's key, for that group",
        lambda site, i: [Request(i.thing["key"], {"kms:EncryptionContext:aws:logs:arn": i.thing["group"]})],
        "CloudWatch Logs encrypts each log group's events with its key, naming the group in the encryption "
        "context; the key's policy allows it for the account's log groups.",
        LOGS_KMS,
    ),
    must_not(
        LOGS,
        "kms:Decrypt",
        "each log group's key, for another account's log group",
        lambda site, i: [
            Request(
                i.thing["key"],
                {
                    "kms:EncryptionContext:aws:logs:arn": i.thing["group"].replace(
                        f":{i.thing['account']}:", f":{OTHER_ACCOUNT}:"
                    )
                },
            )
        ],
        "The key serves this account's log groups only.",
        LOGS_KMS,
    ),
    # --- CloudTrail ----------------------------------------------------------------------------------------------
    need(
        CLOUDTRAIL,
        "s3:GetBucketAcl",
        "the trail bucket",
        lambda site, i: [Request(i.thing["bucket"], _from(i.thing["trail"], i.thing["account"]))],
        "CloudTrail checks the bucket's ACL before delivering.",
        TRAIL_BUCKET,
    ),
    need(
        CLOUDTRAIL,
        "s3:PutObject",
        "the trail bucket's `AWSLogs/<account>/` prefix",
        lambda site, i: [
            Request(
                f"{i.thing['bucket']}/AWSLogs/{i.thing['account']}/CloudTrail/{i.thing['region']}/log.json.gz",
                {**_from(i.thing["trail"], i.thing["account"]), "s3:x-amz-acl": "bucket-owner-full-control"},
            )
        ],
        "CloudTrail delivers log files under `AWSLogs/<account>/`, giving the bucket owner full control.",
        TRAIL_BUCKET,
    ),
    need(
        CLOUDTRAIL,
        "kms:GenerateDataKey",
        "the trail key, for this account's trails",
        lambda site, i: [
            Request(
                i.thing["key"],
                {
                    **_from(i.thing["trail"], i.thing["account"]),
                    "kms:EncryptionContext:aws:cloudtrail:arn": i.thing["trail"],
                },
            )
        ],
        "Log files are encrypted with the trail key, the trail's ARN in the encryption context.",
        TRAIL_KEY,
    ),
    need(
        CLOUDTRAIL,
        "sts:AssumeRole",
        "the trail's CloudWatch Logs role",
        lambda site, i: [i.thing["role"]],
        "CloudTrail delivers to CloudWatch Logs as that role, which trusts cloudtrail.amazonaws.com.",
        TRAIL_LOGS_ROLE,
    ),
    must_not(
        CLOUDTRAIL,
        "s3:PutObject",
        "the trail bucket outside `AWSLogs/<account>/`",
        lambda site, i: [
            Request(
                f"{i.thing['bucket']}/elsewhere/log.json.gz",
                {**_from(i.thing["trail"], i.thing["account"]), "s3:x-amz-acl": "bucket-owner-full-control"},
            )
        ],
        "The trail bucket holds this account's log files and nothing else.",
        TRAIL_BUCKET,
    ),
    # --- CodeBuild and CodePipeline ------------------------------------------------------------------------------
    need(
        CODEBUILD,
        "sts:AssumeRole",
        "each project's role",
        lambda site, i: [i.thing["role"]],
        "Builds run as the project's role, which trusts codebuild.amazonaws.com.",
        CODEBUILD_ROLE,
    ),
    need(
        CODEPIPELINE,
        "sts:AssumeRole",
        "each pipeline's role",
        lambda site, i: [_pipeline(i).role],
        "Executions run as the pipeline's role, which trusts codepipeline.amazonaws.com.",
        CODEPIPELINE_ROLE,
    ),
    # --- A broad role of the account (assumed) -------------------------------------------------------------------
    must_not(
        BROAD,
        "s3:PutObject s3:DeleteObject s3:DeleteObjectVersion",
        "its pipeline's artifacts, and anywhere in the artifact bucket",
        lambda site, i: [_pipeline(i).artifact("Validated"), f"{_pipeline(i).artifact_bucket}/elsewhere/object"],
        "The artifact bucket's policy denies writes to every principal but the pipeline's own roles (on a "
        "foundation, the roles on the pipelines' IAM paths), the root user, the admin role and CloudFormation: what "
        "Attest signed and the deployments read cannot be replaced by anyone else's `s3:*`.",
        CODEPIPELINE_ROLE,
    ),
    must_not(
        BROAD,
        "s3:GetObject s3:GetObjectVersion s3:PutObject",
        "its pipeline's uploaded object and artifacts, on a foundation",
        lambda site, i: [_pipeline(i).source_object, _pipeline(i).artifact("Validated")],
        "On a foundation, each team's key and artifact folder are denied by the buckets' policies to every "
        "principal but that team's roles (its IAM path) and uploaders, the root user and the admin role.",
        S3_SOURCE,
        when=("pipelines share a foundation's buckets", {"fleet"}),
    ),
)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True)
class Finding:
    """A call the plan needs that the policies deny, or one it forbids that they allow."""

    example: str
    principal: str  # the principal's id in the plan
    label: str  # the principal as found: its pipeline and role, or the service and what it acts for
    action: str
    resource: str
    needed: bool
    reason: str

    def __str__(self) -> str:
        verdict = "is denied" if self.needed else "is allowed"
        what = "needed" if self.needed else "forbidden"
        return (
            f"examples/{self.example}: {self.label} [{self.principal}]: {what} {self.action} on {self.resource} "
            f"{verdict}: {self.reason}"
        )


def instances(site: Site, principal: Principal) -> list[Instance]:
    cache: dict[str, list[Instance]] = site.__dict__.setdefault("_instances", {})
    if principal.id not in cache:
        cache[principal.id] = principal.find(site)
    return cache[principal.id]


def check(site: Site, entry: Entry, action: str) -> tuple[int, list[Finding]]:
    """Evaluate one action of an entry in one example: how many requests, and the findings among them."""
    count, found = 0, []
    for instance in instances(site, entry.principal):
        for item in entry.requests(site, instance):
            request = item if isinstance(item, Request) else Request(item)
            count += 1
            try:
                verdict = site.authorize(instance.caller, action, request)
            except Undecidable as unknown:  # neither allowed nor denied for sure: a finding either way
                verdict = Verdict(not entry.needed, str(unknown))
            if verdict.allowed != entry.needed:
                found.append(
                    Finding(
                        site.example,
                        entry.principal.id,
                        instance.label,
                        action,
                        request.resource,
                        entry.needed,
                        verdict.reason,
                    )
                )
    return count, found


def applicable(example: str) -> list[tuple[Entry, str]]:
    """(entry, action) of every entry whose principal the example has, and whose condition (if any) holds there."""
    return [
        (entry, action)
        for entry in ENTRIES
        if entry.principal.id in PRESENT[example] and (not entry.when or example in entry.where)
        for action in entry.actions
    ]


def findings(site: Site) -> list[Finding]:
    """Every finding of the plan in an example (what the mutation checks look at)."""
    return [finding for entry, action in applicable(site.example) for finding in check(site, entry, action)[1]]


@cache
def example_site(example: str) -> Site:
    """The plan's view of ``examples/<example>``, from the session's synthesis (``conftest``): each stack in its own
    account and Region when it names them, ``ACCOUNT``/``REGION`` when it leaves them to the deployment."""
    # Imported here: the table (scripts/permission_table.py) reads the plan without starting aws-cdk-lib's runtime.
    import aws_cdk as cdk

    from tests.conftest import synthesized_example_stacks
    from tests.iam_eval import ACCOUNT, REGION

    stacks = synthesized_example_stacks(example)
    environments = {
        s.stack.stack_name: (
            ACCOUNT if cdk.Token.is_unresolved(s.stack.account) else s.stack.account,
            REGION if cdk.Token.is_unresolved(s.stack.region) else s.stack.region,
        )
        for s in stacks
    }
    return Site(example, {s.stack.stack_name: s.json for s in stacks}, environments)
