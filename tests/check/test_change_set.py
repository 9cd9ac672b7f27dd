"""``check.py change-set`` and ``summarize_change_set``: what the approver reads of a change set, and the proof that
it holds the template the deployment verified.

The inputs are what the AWS CLI prints: ``describe-change-set`` (its ``Changes`` as CloudFormation lists them) and
``get-template`` (a JSON template parsed by the CLI, any other given as its text).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from s3_validated_pipeline.check import main, summarize_change_set

SHA256 = hashlib.sha256(b"package").hexdigest()
STACK_ID = "arn:aws:cloudformation:eu-west-1:333333333333:stack/App/8f3c2a10-0000-4000-8000-000000000001"
CHANGE_SET_ID = "arn:aws:cloudformation:eu-west-1:333333333333:changeSet/s3vp-1/8f3c2a10-0000-4000-8000-000000000002"
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."
YAML = "Resources:\r\n  Bucket:\r\n    Type: AWS::S3::Bucket\r\n"


def change(action: str, logical_id: str, kind: str, *properties: str, replacement: str = "False") -> dict[str, Any]:
    """One entry of describe-change-set's ``Changes``."""
    resource: dict[str, Any] = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": kind, "Details": []}
    if action == "Modify":
        resource["Replacement"] = replacement
        resource["Details"] = [
            {"Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": "Never"}} for name in properties
        ]
    return {"Type": "Resource", "ResourceChange": resource}


def described(
    *changes: Mapping[str, Any], status: str = "CREATE_COMPLETE", reason: str | None = None
) -> dict[str, Any]:
    description = {
        "ChangeSetName": "s3vp-1",
        "ChangeSetId": CHANGE_SET_ID,
        "StackId": STACK_ID,
        "StackName": "App",
        "Status": status,
        "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
        "Changes": list(changes),
    }
    if reason is not None:
        description["StatusReason"] = reason
    return description


# --- summarize_change_set ------------------------------------------------------------------------------------------


def test_summary_counts_each_action_and_the_replacements() -> None:
    summary = summarize_change_set(
        described(
            change("Add", "Topic", "AWS::SNS::Topic"),
            change("Modify", "Function", "AWS::Lambda::Function", "Code"),
            change("Modify", "Table", "AWS::DynamoDB::Table", "KeySchema", replacement="True"),
            change("Modify", "Queue", "AWS::SQS::Queue", "QueueName", replacement="Conditional"),
            change("Remove", "Old", "AWS::SNS::Topic"),
        )
    )
    assert summary == {
        "summary": "1 to add, 3 to modify (2 replaced), 1 to remove; no IAM, resource-policy or security-group change",
        "broadening": False,
        "counts": {"Add": 1, "Modify": 3, "Remove": 1},
        "replaced": 2,
    }


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(change("Add", "Role", "AWS::IAM::Role"), id="added-iam-resource"),
        pytest.param(change("Modify", "Role", "AWS::IAM::Role", "Tags"), id="any-change-to-an-iam-resource"),
        pytest.param(change("Add", "Policy", "AWS::S3::BucketPolicy"), id="policy-type"),
        pytest.param(change("Add", "Invoke", "AWS::Lambda::Permission"), id="lambda-permission"),
        pytest.param(change("Add", "Layer", "AWS::Lambda::LayerVersionPermission"), id="layer-permission"),
        pytest.param(change("Add", "Ingress", "AWS::EC2::SecurityGroupIngress"), id="security-group-rule"),
        pytest.param(change("Modify", "Group", "AWS::EC2::SecurityGroup", "SecurityGroupEgress"), id="group-rules"),
        pytest.param(change("Modify", "Key", "AWS::KMS::Key", "KeyPolicy"), id="policy-property"),
        pytest.param(change("Modify", "Repo", "AWS::ECR::Repository", "RepositoryPolicyText"), id="policy-in-name"),
        pytest.param(change("Modify", "Domain", "AWS::OpenSearchService::Domain", "AccessPolicies"), id="policies"),
        pytest.param(change("Modify", "Nested", "AWS::CloudFormation::Stack", "TemplateURL"), id="nested-stack"),
        pytest.param(change("Remove", "Policy", "AWS::S3::BucketPolicy"), id="removed-policy"),
    ],
)
def test_a_change_that_can_widen_access_is_named_and_broadens(entry: dict[str, Any]) -> None:
    resource = entry["ResourceChange"]
    summary = summarize_change_set(described(entry))
    assert summary["broadening"] is True
    named = "{} {} ({})".format(resource["Action"], resource["LogicalResourceId"], resource["ResourceType"])
    assert summary["summary"].endswith("; permissions: " + named)


@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(change("Modify", "Function", "AWS::Lambda::Function", "Code"), id="lambda-code"),
        pytest.param(change("Add", "Bucket", "AWS::S3::Bucket"), id="added-bucket"),
        pytest.param(change("Modify", "Function", "AWS::Lambda::Function", "SecurityGroupIds"), id="sg-membership"),
    ],
)
def test_a_change_that_cannot_widen_access_does_not_broaden(entry: dict[str, Any]) -> None:
    summary = summarize_change_set(described(entry))
    assert summary["broadening"] is False
    assert summary["summary"].endswith("; no IAM, resource-policy or security-group change")


def test_an_added_resources_policy_properties_are_read_from_the_template() -> None:
    # GIVEN an added KMS key: the change set lists no property of an added resource
    added = described(change("Add", "Key", "AWS::KMS::Key"))
    # THEN its KeyPolicy counts when the template is given, and the bare type alone does not
    assert summarize_change_set(added, {"Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}}}})[
        "broadening"
    ]
    assert not summarize_change_set(added, {"Key": {"Type": "AWS::KMS::Key", "Properties": {"Description": "k"}}})[
        "broadening"
    ]
    assert not summarize_change_set(added)["broadening"]


def test_summary_is_cut_to_150_characters() -> None:
    # GIVEN more IAM changes than 150 characters can name
    many = described(*(change("Add", f"Role{n}", "AWS::IAM::Role") for n in range(10)))
    short = described(change("Add", "Role", "AWS::IAM::Role"))
    # THEN the summary ends in an ellipsis at exactly 150 characters; a short one is whole
    text = summarize_change_set(many)["summary"]
    assert len(text) == 150
    assert text.startswith("10 to add, 0 to modify (0 replaced), 0 to remove; permissions: Add Role0 (AWS::IAM::Role)")
    assert text.endswith("...")
    whole = summarize_change_set(short)["summary"]
    assert whole == "1 to add, 0 to modify (0 replaced), 0 to remove; permissions: Add Role (AWS::IAM::Role)"


# --- check.py change-set --------------------------------------------------------------------------------------------


def run_change_set(
    tmp_path: Path,
    description: Mapping[str, Any],
    verified: str,
    held: Any,
    capsys: pytest.CaptureFixture[str],
    report: Mapping[str, Any] | None = None,
) -> tuple[int, str, str]:
    """``check.py change-set`` on these inputs: the exit code, stdout and stderr."""
    (tmp_path / "describe.json").write_text(json.dumps(description))
    (tmp_path / "template").write_text(verified, newline="")
    (tmp_path / "held.json").write_text(json.dumps(held))
    (tmp_path / "report.json").write_text(
        json.dumps({"accepted": True, "sha256": SHA256} if report is None else report)
    )
    code = main(
        [
            "change-set",
            str(tmp_path / "describe.json"),
            "--template",
            str(tmp_path / "template"),
            "--change-set-template",
            str(tmp_path / "held.json"),
            "--report",
            str(tmp_path / "report.json"),
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def exports(text: str) -> dict[str, str]:
    """Source the printed exports in bash, as the buildspec does, and read the variables back."""
    names = ["CHANGE_SET_NAME", "CHANGE_SET_SUMMARY", "CHANGE_SET_LINK", "PERMISSIONS_BROADENED", "PACKAGE_SHA256"]
    script = (
        text
        + "\n"
        + "python3 -c 'import json, os, sys; print(json.dumps({n: os.environ[n] for n in sys.argv[1:]}))' "
        + " ".join(names)
    )
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)  # noqa: S603, S607
    variables: dict[str, str] = json.loads(result.stdout)
    return variables


TEMPLATE = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {"Path": "/it's $HOME/"}}}}


def test_a_change_set_holding_the_verified_template_is_summarized_as_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a change set holding the JSON template, which the CLI printed parsed (another layout, same document)
    verified = json.dumps(TEMPLATE, indent=2)
    code, out, err = run_change_set(
        tmp_path, described(change("Add", "Role", "AWS::IAM::Role")), verified, {"TemplateBody": TEMPLATE}, capsys
    )
    # THEN the exports, sourced by bash, carry the name, summary, link, broadening and the package's digest
    assert (code, err) == (0, "")
    variables = exports(out)
    assert variables["CHANGE_SET_NAME"] == "s3vp-1"
    assert variables["CHANGE_SET_SUMMARY"] == (
        "1 to add, 0 to modify (0 replaced), 0 to remove; permissions: Add Role (AWS::IAM::Role)"
    )
    assert variables["PERMISSIONS_BROADENED"] == "true"
    assert variables["PACKAGE_SHA256"] == SHA256
    link = urllib.parse.urlsplit(variables["CHANGE_SET_LINK"])
    assert (link.scheme, link.netloc, link.path, link.query) == (
        "https",
        "console.aws.amazon.com",
        "/cloudformation/home",
        "region=eu-west-1",
    )
    page, _, query = link.fragment.partition("?")
    assert page == "/stacks/changesets/changes"
    assert urllib.parse.parse_qs(query) == {"stackId": [STACK_ID], "changeSetId": [CHANGE_SET_ID]}


@pytest.mark.parametrize("reason", [NO_CHANGES, "No updates are to be performed."])
def test_a_change_set_without_changes_exports_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reason: str
) -> None:
    # GIVEN a change set CloudFormation failed for having no changes (its template is not even compared)
    code, out, _ = run_change_set(tmp_path, described(status="FAILED", reason=reason), "{}", {}, capsys)
    # THEN nothing is to be deployed, and nothing broadens
    assert code == 0
    assert exports(out) == {
        "CHANGE_SET_NAME": "none",
        "CHANGE_SET_SUMMARY": "no changes: the stack already matches the package",
        "CHANGE_SET_LINK": "",
        "PERMISSIONS_BROADENED": "false",
        "PACKAGE_SHA256": SHA256,
    }


def test_fails_when_the_change_set_failed_for_another_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = "Parameters: [Stage] must have values"
    code, out, err = run_change_set(tmp_path, described(status="FAILED", reason=reason), "{}", {}, capsys)
    assert (code, out) == (2, "")
    assert f"the change set is FAILED: {reason}" in err


@pytest.mark.parametrize(
    ("verified", "held", "same"),
    [
        pytest.param(YAML, YAML, True, id="same-text"),
        pytest.param(YAML, YAML.replace("\r\n", "\n"), False, id="line-endings-differ"),
        pytest.param(YAML, YAML.replace("Bucket", "Bucket2", 1), False, id="another-text"),
        pytest.param(json.dumps(TEMPLATE), {"Resources": {}}, False, id="another-document"),
        pytest.param(json.dumps(TEMPLATE, indent=4), TEMPLATE, True, id="same-document-other-layout"),
        pytest.param("not: [json", {"Resources": {}}, False, id="document-for-yaml"),
    ],
)
def test_the_change_sets_template_must_be_the_verified_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verified: str, held: Any, same: bool
) -> None:
    # GIVEN a change set with a change, and get-template's TemplateBody: text (YAML) or a parsed JSON document
    description = described(change("Modify", "Bucket", "AWS::S3::Bucket", "Tags"))
    code, out, err = run_change_set(tmp_path, description, verified, {"TemplateBody": held}, capsys)
    # THEN the exports come only when it is the verified template; otherwise the log says so and nothing is exported
    if same:
        assert (code, err) == (0, "")
        assert exports(out)["CHANGE_SET_NAME"] == "s3vp-1"
    else:
        assert (code, out) == (1, "")
        assert "Change set check FAILED: the change set does not hold the template this build verified" in err


def test_fails_when_get_template_gave_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN get-template failed (the script then writes {})  THEN the change set is not taken as verified
    description = described(change("Add", "Role", "AWS::IAM::Role"))
    code, out, err = run_change_set(tmp_path, description, json.dumps(TEMPLATE), {}, capsys)
    assert (code, out) == (2, "")
    assert "holds no TemplateBody: get-template could not read the change set's template" in err


@pytest.mark.parametrize("report", [{}, {"sha256": ""}, {"sha256": "ABC"}, []])
def test_fails_when_the_report_holds_no_package_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], report: Any
) -> None:
    code, out, err = run_change_set(tmp_path, described(status="FAILED", reason=NO_CHANGES), "{}", {}, capsys, report)
    assert (code, out) == (2, "")
    assert "report.json holds no package SHA-256 ('sha256')" in err


def test_fails_when_an_input_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arguments: Sequence[str] = ["change-set", str(tmp_path / "absent.json"), "--template", "t", "--change-set-template"]
    assert main([*arguments, "h", "--report", "r"]) == 2
    assert "cannot read" in capsys.readouterr().err
