"""``s3vp push`` against moto: in process (``mock_aws``) and over HTTP (``moto_server`` via ``AWS_ENDPOINT_URL``).

Nothing here reaches AWS: every test sets fake credentials, and the moto server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from s3_validated_pipeline.cli import _app, _push, _rules
from s3_validated_pipeline.cli._aws import AwsError, find_pipeline_outputs
from s3_validated_pipeline.cli._package import build_package
from s3_validated_pipeline.cli._push import upload_package
from tests.cli.conftest import REGION, FakeSession, run, use_session


@pytest.fixture
def package(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    (root / "src").mkdir(parents=True)
    (root / "package.json").write_text('{"name": "app"}\n')
    (root / "src" / "index.js").write_text("console.log('hi');\n")
    return build_package(root, tmp_path / "package.zip").output


def create_source(s3: Any, kms: Any, bucket: str = "source-bucket") -> str:
    """A versioned bucket encrypted with a KMS key, like the construct's; returns the key's ARN."""
    key_arn: str = kms.create_key(Description="source")["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}]
        },
    )
    return key_arn


def sha256_b64(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


@pytest.fixture
def moto(aws_env: None) -> Iterator[tuple[Any, Any, Any]]:
    with mock_aws():
        yield (
            boto3.client("s3", region_name=REGION),
            boto3.client("kms", region_name=REGION),
            boto3.client("cloudformation", region_name=REGION),
        )


def test_push_stores_the_object_encrypted_with_the_key_and_a_sha256_checksum(
    moto: tuple[Any, Any, Any], package: Path
) -> None:
    s3, kms, _ = moto
    key_arn = create_source(s3, kms)
    code, out, err = run(
        "push", str(package), "--bucket", "source-bucket", "--key", "source.zip", "--kms-key", key_arn, "--no-watch"
    )
    assert code == 0, err
    head = s3.head_object(Bucket="source-bucket", Key="source.zip", ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    assert head["ChecksumSHA256"] == sha256_b64(package)
    assert f"Uploaded: version id {head['VersionId']}" in out
    assert "Checked" in out


def test_push_json_prints_one_object_with_the_version_id(moto: tuple[Any, Any, Any], package: Path) -> None:
    s3, kms, _ = moto
    key_arn = create_source(s3, kms)
    code, out, _ = run(
        "push",
        str(package),
        "--bucket",
        "source-bucket",
        "--key",
        "source.zip",
        "--kms-key",
        key_arn,
        "--json",
        "--no-watch",
    )
    document = json.loads(out)
    versions = s3.list_object_versions(Bucket="source-bucket", Prefix="source.zip")["Versions"]
    assert code == 0
    assert document["version_id"] == versions[0]["VersionId"]
    assert document["checksum_sha256"] == sha256_b64(package)
    assert document["sha256"] == hashlib.sha256(package.read_bytes()).hexdigest()


def test_each_push_prints_the_version_it_created(moto: tuple[Any, Any, Any], package: Path) -> None:
    s3, kms, _ = moto
    key_arn = create_source(s3, kms)
    target = ("--bucket", "source-bucket", "--key", "source.zip", "--kms-key", key_arn)
    args = ("push", str(package), *target, "--json", "--no-watch")
    first = json.loads(run(*args)[1])["version_id"]
    second = json.loads(run(*args)[1])["version_id"]
    versions = s3.list_object_versions(Bucket="source-bucket", Prefix="source.zip")["Versions"]
    assert first != second
    assert {first, second} == {version["VersionId"] for version in versions}
    assert next(v["VersionId"] for v in versions if v["IsLatest"]) == second


@pytest.fixture
def default_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployed validate stage's rules are the defaults (moto's CloudFormation cannot hold its CodeBuild
    project; test_cli_rules.py reads real buildspecs from a Stubber)."""
    rules = _rules.CheckRules(source="the deployed pipeline")
    monkeypatch.setattr(_rules, "read_pipeline_rules", lambda *args, **kwargs: rules)


def stack_template(outputs: dict[str, str]) -> str:
    return json.dumps(
        {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {name: {"Value": value} for name, value in outputs.items()},
        }
    )


def test_push_with_stack_reads_bucket_key_and_kms_key_from_the_outputs(
    moto: tuple[Any, Any, Any], package: Path, default_rules: None
) -> None:
    s3, kms, cloudformation = moto
    key_arn = create_source(s3, kms, bucket="stack-source")
    outputs = {  # CDK's logical ids: construct path, output id, then an 8-character hash
        "PipelineSourceBucketName1A2B3C4D": "stack-source",
        "PipelineObjectKeyA1B2C3D4": "uploads/app.zip",
        "PipelineSourceKeyArnDEADBEEF": key_arn,
        "PipelinePipelineName0F0F0F0F": "app-pipeline",
        "Unrelated": "x",
    }
    cloudformation.create_stack(StackName="AppStack", TemplateBody=stack_template(outputs))
    code, out, err = run("push", str(package), "--stack", "AppStack", "--json", "--no-watch")
    assert code == 0, err
    document = json.loads(out)
    head = s3.head_object(Bucket="stack-source", Key="uploads/app.zip", ChecksumMode="ENABLED")
    assert document["version_id"] == head["VersionId"]
    assert document["pipeline"] == "app-pipeline"
    assert head["SSEKMSKeyId"] == key_arn


def watched_pipeline(s3: Any, stub: Stubber) -> Any:
    """The stubbed CodePipeline client, answering for the version of the upload: the watcher asks for it only after
    the upload (CodePipeline's execution APIs are not in moto)."""
    version = s3.list_object_versions(Bucket="stack-source")["Versions"][0]["VersionId"]
    summary = {
        "pipelineExecutionId": "exec-1",
        "status": "InProgress",
        "sourceRevisions": [{"actionName": "Source", "revisionId": version}],
    }
    stub.add_response(
        "list_pipeline_executions",
        {"pipelineExecutionSummaries": [summary]},
        {"pipelineName": "app-pipeline", "maxResults": 50},
    )
    execution = {"pipelineName": "app-pipeline", "pipelineExecutionId": "exec-1"}
    for status in ("InProgress", "Succeeded"):
        stub.add_response(
            "get_pipeline_execution",
            {"pipelineExecution": {**execution, "status": status}},
            {"pipelineName": "app-pipeline", "pipelineExecutionId": "exec-1"},
        )
        stub.add_response(
            "get_pipeline_state",
            {
                "stageStates": [
                    {
                        "stageName": "Validate",
                        "latestExecution": {"pipelineExecutionId": "exec-1", "status": status},
                    }
                ]
            },
            {"name": "app-pipeline"},
        )
        stub.add_response(
            "list_action_executions",
            {"actionExecutionDetails": []},
            {"pipelineName": "app-pipeline", "filter": {"pipelineExecutionId": "exec-1"}},
        )
    return stub.client


class _NoSleep:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_push_then_watches_the_execution_of_the_version_it_uploaded(
    moto: tuple[Any, Any, Any], package: Path, monkeypatch: pytest.MonkeyPatch, default_rules: None
) -> None:
    from s3_validated_pipeline.cli import _watch

    s3, kms, cloudformation = moto
    key_arn = create_source(s3, kms, bucket="stack-source")
    outputs = {
        "PipelineSourceBucketName1A2B3C4D": "stack-source",
        "PipelineObjectKeyA1B2C3D4": "source.zip",
        "PipelineSourceKeyArnDEADBEEF": key_arn,
        "PipelinePipelineName0F0F0F0F": "app-pipeline",
    }
    cloudformation.create_stack(StackName="AppStack", TemplateBody=stack_template(outputs))
    codepipeline = boto3.client("codepipeline", region_name=REGION)
    with Stubber(codepipeline) as stubber:
        use_session(
            monkeypatch,
            FakeSession(
                others=lambda name: (
                    watched_pipeline(s3, stubber) if name == "codepipeline" else boto3.client(name, region_name=REGION)
                )
            ),
        )
        monkeypatch.setattr(_watch, "DEFAULT_CLOCK", _NoSleep())
        code, out, err = run("push", str(package), "--stack", "AppStack")
        stubber.assert_no_pending_responses()
    assert code == 0, err
    version = s3.head_object(Bucket="stack-source", Key="source.zip")["VersionId"]
    lines = out.splitlines()
    assert f"Uploaded: version id {version}" in lines
    assert (
        f"Watching the execution of version {version} of app-pipeline"
        in lines[lines.index(f"Uploaded: version id {version}") + 2]
    )
    assert f"Execution exec-1 of app-pipeline (object version {version})" in lines
    assert "Stage Validate: Succeeded" in lines
    assert lines[-1] == "Execution exec-1 Succeeded"


def test_push_without_the_pipelines_name_does_not_watch_and_says_how_to(
    moto: tuple[Any, Any, Any], package: Path
) -> None:
    s3, kms, _ = moto
    key_arn = create_source(s3, kms)
    code, _, err = run("push", str(package), "--bucket", "source-bucket", "--key", "source.zip", "--kms-key", key_arn)
    assert code == 0
    assert "Not watching: the pipeline's name is unknown" in err


def test_fails_when_the_stack_does_not_exist(moto: tuple[Any, Any, Any], package: Path) -> None:
    code, _, err = run("push", str(package), "--stack", "NoSuchStack")
    assert code == 2
    assert f"no stack named 'NoSuchStack' in {REGION}" in err


def test_fails_when_the_stack_has_no_outputs_of_the_construct(moto: tuple[Any, Any, Any], package: Path) -> None:
    moto[2].create_stack(StackName="Other", TemplateBody=stack_template({"QueueUrl": "x"}))
    code, _, err = run("push", str(package), "--stack", "Other")
    assert code == 2
    assert "has no outputs of a ValidatedS3Pipeline" in err
    assert "QueueUrl" in err


def test_fails_when_outputs_of_two_pipelines_are_in_one_stack() -> None:
    outputs = {f"{p}{suffix}": "v" for p in ("A", "B") for suffix in ("SourceBucketName", "ObjectKey", "SourceKeyArn")}
    with pytest.raises(AwsError, match="more than one ValidatedS3Pipeline \\('A' \\(no \\*PipelineName output\\), 'B'"):
        find_pipeline_outputs("Two", outputs)


def test_outputs_are_found_with_or_without_cdks_hash() -> None:
    outputs = {"SourceBucketName": "b", "ObjectKey": "k", "SourceKeyArn": "arn", "NotAHashSourceKeyArnxyz": "no"}
    found = find_pipeline_outputs("Seed", outputs)
    assert (found.bucket, found.key, found.kms_key, found.pipeline) == ("b", "k", "arn", None)


def test_refuses_a_package_the_pipeline_would_reject_unless_skip_check(
    moto: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    s3, kms, _ = moto
    key_arn = create_source(s3, kms)
    root = tmp_path / "bad"
    root.mkdir()
    (root / "server.pem").write_text("fixture")
    bad = build_package(root, tmp_path / "bad.zip").output
    target = ("--bucket", "source-bucket", "--key", "source.zip", "--kms-key", key_arn, "--no-watch")
    code, out, err = run("push", str(bad), *target)
    assert code == 1
    assert "[forbidden-file]" in out
    assert "Not uploaded" in err
    assert "Versions" not in s3.list_object_versions(Bucket="source-bucket")
    assert run("push", str(bad), *target, "--skip-check")[0] == 0


def test_fails_without_credentials(aws_env: None, monkeypatch: pytest.MonkeyPatch, package: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    for name in (
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    # mock_aws would supply credentials of its own; a closed local port makes sure nothing leaves the machine
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    code, _, err = run("push", str(package), "--bucket", "b", "--key", "source.zip", "--kms-key", "arn:k")
    assert code == 2
    assert "no AWS credentials found" in err


def test_fails_with_an_unknown_profile(aws_env: None, package: Path) -> None:
    code, _, err = run("push", str(package), "--stack", "S", "--profile", "nobody")
    assert code == 2
    assert "the AWS profile 'nobody' is not configured" in err


@pytest.mark.parametrize(
    "args",
    [
        ("--bucket", "b"),
        ("--stack", "S", "--bucket", "b"),
        (),
    ],
)
def test_fails_when_the_target_is_incomplete_or_given_twice(
    aws_env: None, package: Path, args: tuple[str, ...]
) -> None:
    code, _, err = run("push", str(package), *args)
    assert code == 2
    assert "--stack" in err


def test_access_denied_names_the_permissions_and_grant_upload(aws_env: None, package: Path) -> None:
    client = boto3.client("s3", region_name=REGION)
    with Stubber(client) as stubber:
        stubber.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(AwsError) as raised:
            upload_package(FakeSession({"s3": client}), package, bucket="b", key="source.zip", kms_key="arn:k")
    message = str(raised.value)
    assert "access denied to s3://b/source.zip" in message
    assert "s3:PutObject" in message
    assert "kms:GenerateDataKey" in message
    assert "grant_upload" in message


# --------------------------------------------------------------------------------------------------------------
# Over HTTP: the real console entry point, in its own process, against moto_server through AWS_ENDPOINT_URL


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def moto_server(aws_env: None) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603  # our own interpreter, fixed arguments
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start on {endpoint}")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_push_through_aws_endpoint_url_against_moto_server(moto_server: str, package: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_server)
    kms = boto3.client("kms", region_name=REGION, endpoint_url=moto_server)
    key_arn = create_source(s3, kms)
    env = {**os.environ, "AWS_ENDPOINT_URL": moto_server}
    command = [sys.executable, "-c", "from s3_validated_pipeline.cli import main; main()"]
    target = ["--bucket", "source-bucket", "--key", "source.zip", "--kms-key", key_arn]
    args = ["push", str(package), *target, "--json", "--no-watch"]
    result = subprocess.run(  # noqa: S603  # our own interpreter, fixed arguments
        [*command, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    head = s3.head_object(Bucket="source-bucket", Key="source.zip", ChecksumMode="ENABLED")
    assert document["version_id"] == head["VersionId"]
    assert head["SSEKMSKeyId"] == key_arn
    assert head["ChecksumSHA256"] == sha256_b64(package)


def test_a_multipart_upload_reports_the_version_it_completed(
    moto: tuple[Any, Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, kms, _ = moto
    key_arn = create_source(s3, kms)
    monkeypatch.setattr(_push, "MULTIPART_THRESHOLD", 5 * 1024 * 1024)
    monkeypatch.setattr(_push, "MULTIPART_CHUNK", 5 * 1024 * 1024)
    big = tmp_path / "big.zip"
    big.write_bytes(os.urandom(11 * 1024 * 1024))
    sent: list[int] = []
    upload = upload_package(
        boto3.Session(), big, bucket="source-bucket", key="source.zip", kms_key=key_arn, progress=sent.append
    )
    head = s3.head_object(Bucket="source-bucket", Key="source.zip", ChecksumMode="ENABLED")
    assert upload.version_id == head["VersionId"]
    assert head["SSEKMSKeyId"] == key_arn
    assert head["ContentLength"] == sum(sent) == big.stat().st_size
    assert head["ETag"].strip('"').endswith("-3")  # three parts


def test_the_progress_bar_runs_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    with _app._progress(100, enabled=True) as advance:
        assert advance is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setenv("TERM", "xterm")
    with _app._progress(100, enabled=False) as advance:
        assert advance is None
    with _app._progress(100, enabled=True) as advance:
        assert advance is not None
        advance(60)
        advance(40)
