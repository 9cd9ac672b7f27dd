"""What the seed example's template holds: each behaviour of ValidatedS3Pipeline, asserted on one synthesis."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from aws_cdk.assertions import Match

from tests.conftest import ROOT, Synthesized, synthesized_example


def resources(seed: Synthesized, type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in seed.json["Resources"].items() if v["Type"] == type_}


def only(seed: Synthesized, type_: str, under: str = "") -> tuple[str, dict[str, Any]]:
    """The one resource of ``type_`` whose logical id starts with ``under`` (a construct's path, flattened)."""
    found = {k: v for k, v in resources(seed, type_).items() if k.startswith(under)}
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def source_bucket_id(seed: Synthesized) -> str:
    # The source bucket is the one with EventBridge notifications on.
    ids = [
        k
        for k, v in resources(seed, "AWS::S3::Bucket").items()
        if v["Properties"].get("NotificationConfiguration", {}).get("EventBridgeConfiguration")
    ]
    assert len(ids) == 1
    return ids[0]


def validation_project(seed: Synthesized) -> tuple[str, dict[str, Any]]:
    # The validate stage's project; the seed example's test and deploy stages have their own.
    [found] = [(k, v) for k, v in resources(seed, "AWS::CodeBuild::Project").items() if "ValidationProject" in k]
    return found


def kms_key_of(bucket: dict[str, Any]) -> Any:
    rule = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    return rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    if "Fn::Join" in document:  # a policy written as a JSON string with references in it (logs resource policies)
        document = json.loads("".join(p if isinstance(p, str) else "REF" for p in document["Fn::Join"][1]))
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def joined(value: Any) -> str:
    """Render a string or an Fn::Join of strings and references, references as '<Ref:Id>'."""
    if isinstance(value, str):
        return value
    _, parts = value["Fn::Join"]
    return "".join(p if isinstance(p, str) else f"<Ref:{p.get('Ref', '?')}>" for p in parts)


# --- Source bucket -----------------------------------------------------------------------------------------


def test_source_bucket_is_versioned_kms_encrypted_private_and_owner_enforced(seed: Synthesized) -> None:
    bucket = seed.json["Resources"][source_bucket_id(seed)]
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    key = kms_key_of(bucket)
    # The bucket's key is a KMS key of this stack, referenced by its ARN.
    assert list(key) == ["Fn::GetAtt"]
    key_id, attribute = key["Fn::GetAtt"]
    assert attribute == "Arn"
    assert seed.json["Resources"][key_id]["Type"] == "AWS::KMS::Key"
    assert seed.json["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["DeletionPolicy"] == "Retain"


def test_source_bucket_logs_access_to_a_dedicated_bucket(seed: Synthesized) -> None:
    props = seed.json["Resources"][source_bucket_id(seed)]["Properties"]
    destination = props["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert destination != source_bucket_id(seed)
    log_bucket = seed.json["Resources"][destination]["Properties"]
    # S3 only delivers access logs to SSE-S3 buckets.
    assert log_bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    seed.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": destination},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "logging.s3.amazonaws.com"},
                                "Action": "s3:PutObject",
                                "Condition": Match.object_like(
                                    {"ArnLike": {"aws:SourceArn": {"Fn::GetAtt": [source_bucket_id(seed), "Arn"]}}}
                                ),
                            }
                        )
                    ]
                )
            },
        },
    )


def test_source_bucket_expires_replaced_versions_and_sends_eventbridge_events(seed: Synthesized) -> None:
    props = seed.json["Resources"][source_bucket_id(seed)]["Properties"]
    rules = props["LifecycleConfiguration"]["Rules"]
    assert {"NoncurrentDays": 90} in [r.get("NoncurrentVersionExpiration") for r in rules]
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    # Natively, not through CDK's notifications custom resource (a Lambda with a managed policy).
    assert not resources(seed, "Custom::S3BucketNotifications")


def test_every_bucket_denies_requests_without_tls(seed: Synthesized) -> None:
    buckets = resources(seed, "AWS::S3::Bucket")
    policies = resources(seed, "AWS::S3::BucketPolicy").values()
    tls_denied = {
        policy["Properties"]["Bucket"]["Ref"]
        for policy in policies
        for statement in statements(policy["Properties"]["PolicyDocument"])
        if statement["Effect"] == "Deny"
        and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    }
    assert tls_denied == set(buckets)


# --- Keys and encryption -----------------------------------------------------------------------------------


def test_every_key_rotates_and_is_retained(seed: Synthesized) -> None:
    keys = resources(seed, "AWS::KMS::Key")
    # source uploads, pipeline artifacts, operations (logs, queues, topics), the audit trail; and the signing key,
    # which KMS cannot rotate (no automatic rotation for asymmetric keys): a verifier must keep knowing its public key
    assert len(keys) == 5
    [signing] = [key for key in keys.values() if key["Properties"].get("KeySpec") == "ECC_NIST_P256"]
    assert "EnableKeyRotation" not in signing["Properties"]
    for key in keys.values():
        assert key["Properties"].get("EnableKeyRotation", key is signing) is True
        assert key["DeletionPolicy"] == "Retain"


def test_validate_stops_a_build_after_20_minutes_by_default_and_later_stages_after_60(seed: Synthesized) -> None:
    # The package's code decides how long Validate runs, and every later upload waits behind it (QUEUED)
    timeouts = {k: p["Properties"]["TimeoutInMinutes"] for k, p in resources(seed, "AWS::CodeBuild::Project").items()}
    validate, _ = validation_project(seed)
    assert timeouts.pop(validate) == 20
    assert {re.sub(r"[0-9A-F]{8}$", "", k): minutes for k, minutes in timeouts.items()} == {
        "PipelineAttestProject": 15,
        "PipelineTestStageProject": 60,
        "PipelineDeployStagingStageProject": 60,
        "PipelineDeployProductionStageProject": 60,
    }


def test_every_queue_is_kept_when_the_stack_is_deleted(seed: Synthesized) -> None:
    # The dead-letter queues hold uploads that never started the pipeline, and alerts nobody received
    queues = resources(seed, "AWS::SQS::Queue")
    assert len(queues) == 2
    for queue in queues.values():
        assert (queue["DeletionPolicy"], queue["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_artifact_bucket_keeps_replaced_versions_for_30_days(seed: Synthesized) -> None:
    # Longer than an execution waits at an approval (7 days) and is rolled back: a replaced artifact stays evidence
    [bucket] = [b for k, b in resources(seed, "AWS::S3::Bucket").items() if k.startswith("PipelineArtifacts")]
    [rule] = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}


def test_artifact_bucket_and_pipeline_use_the_artifact_key(seed: Synthesized) -> None:
    _, pipeline = only(seed, "AWS::CodePipeline::Pipeline")
    store = pipeline["Properties"]["ArtifactStore"]
    bucket_id = store["Location"]["Ref"]
    key_arn = store["EncryptionKey"]["Id"]
    assert store["EncryptionKey"]["Type"] == "KMS"
    assert kms_key_of(seed.json["Resources"][bucket_id]) == key_arn
    _, project = validation_project(seed)
    assert project["Properties"]["EncryptionKey"] == key_arn


def test_log_groups_are_kms_encrypted_with_a_retention(seed: Synthesized) -> None:
    groups = resources(seed, "AWS::Logs::LogGroup")
    # The validate, attest, test and two deploy stages' builds; the execution history; the trail (the trigger has none)
    assert len(groups) == 7
    for group_id, group in groups.items():
        # Execution history is kept two years, longer than CodePipeline's own 12 months.
        assert group["Properties"]["RetentionInDays"] == (731 if "History" in group_id or "Trail" in group_id else 365)
        assert "Fn::GetAtt" in group["Properties"]["KmsKeyId"]
        assert group["DeletionPolicy"] == "Retain"


def test_log_key_lets_cloudwatch_logs_of_this_account_only_use_it(seed: Synthesized) -> None:
    group = next(iter(resources(seed, "AWS::Logs::LogGroup").values()))
    key_id = group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
    key_statements = statements(seed.json["Resources"][key_id]["Properties"]["KeyPolicy"])
    logs_statement = next(s for s in key_statements if "Service" in s["Principal"])
    assert "logs." in json.dumps(logs_statement["Principal"])
    # Only log groups of this account and Region: the ARN pattern, not just the condition key, is asserted.
    assert logs_statement["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:logs:arn": {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":logs:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":*",
                ],
            ]
        }
    }


# --- Trigger -----------------------------------------------------------------------------------------------


def test_rule_matches_object_created_for_exactly_the_bucket_and_key(seed: Synthesized) -> None:
    _, rule = only(seed, "AWS::Events::Rule", under="PipelineTrigger")
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [{"Ref": source_bucket_id(seed)}]}, "object": {"key": ["source.zip"]}},
    }


def direct_target(seed: Synthesized) -> dict[str, Any]:
    _, rule = only(seed, "AWS::Events::Rule", under="PipelineTrigger")
    [target] = rule["Properties"]["Targets"]
    return dict(target)


def test_seed_example_has_no_lambda_function(seed: Synthesized) -> None:
    # TriggerMode.DIRECT, the default: the rule starts the pipeline itself.
    assert resources(seed, "AWS::Lambda::Function") == {}
    assert resources(seed, "AWS::Lambda::Permission") == {}
    assert resources(seed, "AWS::Lambda::EventInvokeConfig") == {}


def test_rule_targets_the_pipeline_as_its_own_role(seed: Synthesized) -> None:
    pipeline_id, _ = only(seed, "AWS::CodePipeline::Pipeline")
    role_id, _ = only(seed, "AWS::IAM::Role", under="PipelineTrigger")
    target = direct_target(seed)
    assert joined(target["Arn"]) == (
        f"arn:<Ref:AWS::Partition>:codepipeline:<Ref:AWS::Region>:<Ref:AWS::AccountId>:<Ref:{pipeline_id}>"
    )
    assert target["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_rule_retries_a_day_then_dead_letters_into_the_encrypted_queue(seed: Synthesized) -> None:
    queue_id, queue = only(seed, "AWS::SQS::Queue", under="PipelineTrigger")
    rule_id, _ = only(seed, "AWS::Events::Rule", under="PipelineTrigger")
    target = direct_target(seed)
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    # Encrypted with the operations key, which lets EventBridge write to it.
    key_id = queue["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key_statements = statements(seed.json["Resources"][key_id]["Properties"]["KeyPolicy"])
    assert any(s["Principal"] == {"Service": "events.amazonaws.com"} for s in key_statements)
    # Only this rule may send to the queue.
    _, policy = only(seed, "AWS::SQS::QueuePolicy", under="PipelineTrigger")
    [send] = [s for s in statements(policy["Properties"]["PolicyDocument"]) if s["Effect"] == "Allow"]
    assert send == {
        "Action": "sqs:SendMessage",
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}},
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
    }


def test_rule_sets_the_source_revision_from_the_events_version_id(seed: Synthesized) -> None:
    transformer = direct_target(seed)["InputTransformer"]
    assert transformer["InputPathsMap"] == {"detail-object-version-id": "$.detail.object.version-id"}
    assert json.loads(transformer["InputTemplate"].replace("<detail-object-version-id>", '"VERSION"')) == {
        "sourceRevisions": [
            {"actionName": "Source", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": "VERSION"}
        ]
    }
    assert not {"Input", "InputPath"} & direct_target(seed).keys()


def test_eventbridge_role_may_only_start_this_pipeline(seed: Synthesized) -> None:
    pipeline_id, _ = only(seed, "AWS::CodePipeline::Pipeline")
    role_id, role = only(seed, "AWS::IAM::Role", under="PipelineTrigger")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}}
    ]
    # Its one policy: a customer managed policy the role names (so it exists before the role, and the rule, do).
    assert "Policies" not in role["Properties"]
    assert not [p for p in resources(seed, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]]
    [policy_ref] = role["Properties"]["ManagedPolicyArns"]
    policy = seed.json["Resources"][policy_ref["Ref"]]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    assert "Roles" not in policy["Properties"]
    assert [
        p
        for p in resources(seed, "AWS::IAM::Role").values()
        if policy_ref in p["Properties"].get("ManagedPolicyArns", [])
    ] == [role]
    [statement] = statements(policy["Properties"]["PolicyDocument"])
    assert statement["Action"] == "codepipeline:StartPipelineExecution"
    assert statement["Effect"] == "Allow"
    assert joined(statement["Resource"]).endswith(f":<Ref:{pipeline_id}>")


# --- Pipeline ----------------------------------------------------------------------------------------------


def test_pipeline_is_v2_queued_and_not_restarted_on_update(seed: Synthesized) -> None:
    _, pipeline = only(seed, "AWS::CodePipeline::Pipeline")
    props = pipeline["Properties"]
    assert props["PipelineType"] == "V2"
    assert props["ExecutionMode"] == "QUEUED"
    assert props["RestartExecutionOnUpdate"] is False
    assert "Triggers" not in props


def test_pipeline_sources_the_watched_key_without_polling_then_validates(seed: Synthesized) -> None:
    _, pipeline = only(seed, "AWS::CodePipeline::Pipeline")
    stages = pipeline["Properties"]["Stages"]
    assert [(s["Name"], [a["Name"] for a in s["Actions"]]) for s in stages] == [
        ("Source", ["Source"]),
        ("Validate", ["Validate", "Attest"]),
        ("Test", ["Test"]),
        ("DeployStaging", ["Deploy"]),
        ("ApproveProduction", ["Approve"]),
        ("DeployProduction", ["Deploy"]),
    ]
    source = stages[0]["Actions"][0]
    assert source["ActionTypeId"]["Provider"] == "S3"
    assert source["Configuration"] == {
        "S3Bucket": {"Ref": source_bucket_id(seed)},
        "S3ObjectKey": "source.zip",
        "PollForSourceChanges": False,
    }
    assert source["Namespace"] == "SourceVariables"
    validate = stages[1]["Actions"][0]
    assert validate["ActionTypeId"]["Provider"] == "CodeBuild"
    variables = {v["name"]: v["value"] for v in json.loads(joined(validate["Configuration"]["EnvironmentVariables"]))}
    assert variables["SOURCE_OBJECT_VERSION_ID"] == "#{SourceVariables.VersionId}"
    assert variables["SOURCE_OBJECT_KEY"] == "source.zip"
    assert variables["SOURCE_BUCKET"] == f"<Ref:{source_bucket_id(seed)}>"


# --- Validate stage ----------------------------------------------------------------------------------------


def buildspec(seed: Synthesized) -> dict[str, Any]:
    _, project = validation_project(seed)
    spec: dict[str, Any] = json.loads(project["Properties"]["Source"]["BuildSpec"])
    return spec


def test_the_seed_validates_on_the_ubuntu_20_04_node_16_it_asks_for(seed: Synthesized) -> None:
    _, project = validation_project(seed)
    environment = project["Properties"]["Environment"]
    assert environment["Image"] == "aws/codebuild/standard:5.0"
    assert environment["Type"] == "LINUX_CONTAINER"
    assert environment["PrivilegedMode"] is False
    assert buildspec(seed)["phases"]["install"]["runtime-versions"] == {"nodejs": "16"}


def test_a_pipeline_naming_no_environment_validates_on_the_maintained_image() -> None:
    # GIVEN the minimal example, whose ValidationOptions name no build environment
    minimal = synthesized_example("minimal")
    # THEN its validate stage runs on standard:7.0 with Node.js 22, and nothing warns of a retired environment
    [project] = [
        r["Properties"]
        for name, r in minimal.json["Resources"].items()
        if r["Type"] == "AWS::CodeBuild::Project" and "ValidationProject" in name
    ]
    assert project["Environment"]["Image"] == "aws/codebuild/standard:7.0"
    assert json.loads(project["Source"]["BuildSpec"])["phases"]["install"]["runtime-versions"] == {"nodejs": "22"}
    assert not [message for _, message in minimal.warnings if "retiredBuildEnvironment" in message]


def test_retired_environment_adds_an_acknowledgeable_warning(seed: Synthesized) -> None:
    warnings = [message for _, message in seed.warnings if "retiredBuildEnvironment" in message]
    # Once per pipeline: only the validate stage runs on it; later stages default to a maintained environment.
    assert len(warnings) == 1
    assert "Validate on aws/codebuild/standard:5.0" in warnings[0]
    assert "BuildEnvironment.UBUNTU_22_04_NODE_22" in warnings[0]


def test_buildspec_checks_the_package_then_runs_commands_then_writes_the_manifest(seed: Synthesized) -> None:
    spec = buildspec(seed)
    assert spec["env"] == {"shell": "bash"}
    fetch_checker, fetch_source, check, verdict = spec["phases"]["pre_build"]["commands"]
    assert "sha256sum --check --strict" in fetch_checker
    assert '--version-id "$SOURCE_OBJECT_VERSION_ID"' in fetch_source
    for required in ("package.json", "package-lock.json", "cdk.json", "tsconfig.json", "'bin/*.ts'"):
        assert f"--require {required}" in check
    assert "--max-entries 10000 --max-total-bytes 1073741824 --max-compression-ratio 100" in check
    # CodeBuild's own extraction is deleted; the commands run on the checker's extraction of what it judged
    assert check.index("find . -mindepth 1 -delete") < check.index("check.py /tmp/s3vp/source.zip --extract . ")
    # AND the verdict is recorded on the version before any command of the package runs
    assert "aws s3api put-object-tagging" in verdict
    assert "' accepted < /tmp/s3vp/tags.json" in verdict
    build = spec["phases"]["build"]["commands"]
    assert build[:3] == ["npm ci", "npm run lint", "npm run build"]
    assert "check.py manifest . --source-json" in build[3]
    # Written to .validated/manifest.json, reusing the digests the checker computed while extracting
    manifest = "check.py manifest . --source-json /tmp/s3vp/source.json --known /tmp/s3vp/package-check.json"
    assert build[3].endswith(manifest)
    assert spec["phases"]["pre_build"]["on-failure"] == spec["phases"]["build"]["on-failure"] == "ABORT"
    assert "SOURCE_OBJECT_VERSION_ID" in spec["phases"]["post_build"]["commands"][0]
    assert spec["artifacts"] == {"files": ["**/*"]}


def test_the_checker_that_runs_is_the_one_the_template_pins(seed: Synthesized) -> None:
    _, project = validation_project(seed)
    variables = {v["Name"]: v["Value"] for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
    checker = ROOT / "src" / "s3_validated_pipeline" / "check.py"
    assert variables["CHECKER_SHA256"] == hashlib.sha256(checker.read_bytes()).hexdigest()
    assert variables["CHECKER_KEY"].endswith(".py")


def test_validation_role_may_read_only_the_checker_and_the_watched_object(seed: Synthesized) -> None:
    _, project = validation_project(seed)
    role_id = project["Properties"]["ServiceRole"]["Fn::GetAtt"][0]
    [policy] = [p for p in resources(seed, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]]
    found = statements(policy["Properties"]["PolicyDocument"])
    source = {"Fn::Join": ["", [{"Fn::GetAtt": [source_bucket_id(seed), "Arn"]}, "/source.zip"]]}
    assert {"Action": ["s3:GetObject", "s3:GetObjectVersion"], "Effect": "Allow", "Resource": source} in found
    [checker_read] = [s for s in found if s["Action"] == "s3:GetObject"]
    assert checker_read["Resource"]["Fn::Join"][1][-1].endswith(".py")
    assert {
        "Action": "kms:Decrypt",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [kms_key_of_source(seed), "Arn"]},
    } in found


def test_build_logs_go_to_the_dedicated_log_group(seed: Synthesized) -> None:
    _, project = validation_project(seed)
    logs = project["Properties"]["LogsConfig"]["CloudWatchLogs"]
    assert logs["Status"] == "ENABLED"
    assert logs["GroupName"]["Ref"] in resources(seed, "AWS::Logs::LogGroup")


# --- Least privilege ---------------------------------------------------------------------------------------


def all_policy_statements(seed: Synthesized) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for resource in seed.json["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("PolicyDocument", "KeyPolicy"):
            if key in props:
                found.extend(statements(props[key]))
        for inline in props.get("Policies", []):
            found.extend(statements(inline["PolicyDocument"]))
    return found


def test_no_statement_allows_every_action_or_a_whole_service(seed: Synthesized) -> None:
    allowed = [s for s in all_policy_statements(seed) if s["Effect"] == "Allow"]
    assert len(allowed) > 10
    for statement in allowed:
        for action in as_list(statement["Action"]):
            assert action != "*", statement
            assert not action.endswith(":*"), statement


def test_each_component_has_its_own_role(seed: Synthesized) -> None:
    # The construct's roles; the example adds its own uploader role beside them.
    roles = {k: v for k, v in resources(seed, "AWS::IAM::Role").items() if k.startswith("Pipeline")}
    principals = sorted(
        json.dumps(r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"], sort_keys=True)
        for r in roles.values()
    )
    # The pipeline; one per action (source, validate, attest, test, approval, two deploys); one per CodeBuild project
    # (validate, attest, test, two deploys); EventBridge's to start the pipeline; CloudTrail's delivery to CloudWatch
    # Logs.
    assert len(roles) == 1 + 7 + 5 + 1 + 1
    assert sum("codebuild" in p for p in principals) == 5
    assert sum("events" in p for p in principals) == 1
    assert sum("lambda" in p for p in principals) == 0
    assert sum("codepipeline" in p for p in principals) == 1
    projects = resources(seed, "AWS::CodeBuild::Project").values()
    assert len({json.dumps(p["Properties"]["ServiceRole"]) for p in projects}) == 5


def test_grant_upload_allows_putting_only_the_watched_key(seed: Synthesized) -> None:
    # The uploader is a role of the app: its grant is a customer managed policy attached to it (tests/test_grants.py)
    [uploader_policy] = [
        p
        for p in resources(seed, "AWS::IAM::ManagedPolicy").values()
        if p["Properties"].get("Roles")
        == [{"Ref": next(k for k in resources(seed, "AWS::IAM::Role") if "Uploader" in k)}]
    ]
    found = statements(uploader_policy["Properties"]["PolicyDocument"])
    s3_statement = next(s for s in found if any(a.startswith("s3:") for a in as_list(s["Action"])))
    assert "s3:PutObject" in as_list(s3_statement["Action"])
    assert not any(a.startswith(("s3:Get", "s3:Delete", "s3:List")) for a in as_list(s3_statement["Action"]))
    watched_object = {"Fn::Join": ["", [{"Fn::GetAtt": [source_bucket_id(seed), "Arn"]}, "/source.zip"]]}
    assert s3_statement["Resource"] == watched_object
    kms_statement = next(s for s in found if any(a.startswith("kms:") for a in as_list(s["Action"])))
    assert kms_statement["Resource"] == {"Fn::GetAtt": [kms_key_of_source(seed), "Arn"]}


def kms_key_of_source(seed: Synthesized) -> str:
    key: str = kms_key_of(seed.json["Resources"][source_bucket_id(seed)])["Fn::GetAtt"][0]
    return key


# --- Outputs ------------------------------------------------------------------------------------------------------

OUTPUT_IDS = (
    "SourceBucketName",
    "ObjectKey",
    "SourceKeyArn",
    "PipelineName",
    "DeadLetterQueueUrl",
    "SigningKeyArn",
    "UploadCommand",
)


def outputs_of(synthesized: Synthesized, pipeline: str) -> dict[str, Any]:
    """The pipeline's outputs, by output id (the logical id without the pipeline's prefix and hash)."""
    found = {}
    for logical_id, output in synthesized.json.get("Outputs", {}).items():
        match = re.fullmatch(rf"{pipeline}([A-Za-z]+)[0-9A-F]{{8}}", logical_id)
        if match:
            found[match.group(1)] = output["Value"]
    return found


def test_every_pipeline_has_its_own_outputs(warned: Synthesized) -> None:
    assert sorted(outputs_of(warned, "NotZip")) == sorted(OUTPUT_IDS)
    assert sorted(outputs_of(warned, "GrantedLater")) == sorted(OUTPUT_IDS)
    assert outputs_of(warned, "NotZip")["ObjectKey"] == "uploads/package.tar.gz"


def test_outputs_can_be_turned_off(warned: Synthesized) -> None:
    assert outputs_of(warned, "Zip") == {}


def test_imported_bucket_without_a_key_has_no_key_output(warned: Synthesized) -> None:
    outputs = outputs_of(warned, "Existing")
    assert "SourceKeyArn" not in outputs
    assert outputs["UploadCommand"] == "aws s3 cp package.zip s3://uploads-b/source.zip --checksum-algorithm SHA256"


def test_minimal_example_outputs_the_bucket_the_pipeline_and_the_upload_command() -> None:
    minimal = synthesized_example("minimal")
    outputs = outputs_of(minimal, "Pipeline")
    assert sorted(outputs) == sorted(OUTPUT_IDS)
    [bucket] = [k for k, r in minimal.json["Resources"].items() if r["Type"] == "AWS::S3::Bucket" and "Source" in k]
    [pipeline] = [k for k, r in minimal.json["Resources"].items() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    [key] = [k for k in minimal.json["Resources"] if k.startswith("PipelineSourceKey")]
    assert outputs["SourceBucketName"] == {"Ref": bucket}
    assert outputs["PipelineName"] == {"Ref": pipeline}
    assert outputs["ObjectKey"] == "source.zip"
    [queue] = [
        k
        for k, r in minimal.json["Resources"].items()
        if k.startswith("PipelineTriggerDeadLetterQueue") and r["Type"] == "AWS::SQS::Queue"
    ]
    assert outputs["DeadLetterQueueUrl"] == {"Ref": queue}
    resources = minimal.json["Resources"]
    [signing_key] = [k for k, r in resources.items() if r.get("Properties", {}).get("KeySpec") == "ECC_NIST_P256"]
    assert outputs["SigningKeyArn"] == {"Fn::GetAtt": [signing_key, "Arn"]}
    assert outputs["UploadCommand"] == {
        "Fn::Join": [
            "",
            [
                "aws s3 cp package.zip s3://",
                {"Ref": bucket},
                "/source.zip --sse aws:kms --sse-kms-key-id ",
                {"Fn::GetAtt": [key, "Arn"]},
                " --checksum-algorithm SHA256",
            ],
        ]
    }
    assert not [m for _, m in minimal.warnings if "noUploader" in m]
