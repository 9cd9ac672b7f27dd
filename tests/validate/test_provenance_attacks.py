"""Attacks on the signed provenance (issue 19, item 7), run for real: the seed example's synthesized buildspecs of
Validate, Attest and every later stage, with the variables its pipeline passes each action, run in bash on the CodeBuild
emulator of ``s3vp run`` (``cli/_local/codebuild.py``) as ``test_buildspec_commands.py`` runs them.

Each execution goes Validate -> Attest -> a later stage, the artifact passing between them as ``s3vp run`` passes it
(the buildspec's ``artifacts`` section). ``aws`` is ``s3vp run``'s stand-in (``cli/_local/aws.py``): it serves the
source object and the checker from disk, and ``kms sign``/``verify`` with the pipeline's signing key, a P-256 key of
this test session (that only the Attest role may sign with it is the key policy's part, evaluated over the template by
``test_attest_permissions.py``). An attacker's signatures are made here with ``cryptography``. ``npm`` and ``npx``
stand in for the package's code: they log each call, write what ``npm ci`` and
``npm run build`` would, and run ``$PACKAGE_CODE`` when a test gives the package something to do.

Every attack is made as the attacker could make it (the Validate role may write any artifact of the pipeline, but may
not sign), and each test names the defence it proves; every defence was removed once to see its test fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from s3_validated_pipeline._build_project import CHECKER_FILE, checker_sha256
from s3_validated_pipeline.check import (
    MANIFEST_PATH,
    PAYLOAD_TYPE,
    PREDICATE_TYPE,
    PROVENANCE_PATH,
    REPORT_PATH,
    STATEMENT_TYPE,
    dsse_envelope,
    pae,
    provenance_statement,
    write_manifest,
)
from s3_validated_pipeline.cli._local import aws as stand_in
from s3_validated_pipeline.cli._local.codebuild import output_files
from s3_validated_pipeline.validate.attest import build_type
from tests.conftest import Synthesized
from tests.iam_eval import ACCOUNT, PARTITION, REGION, Resolver
from tests.validate.test_buildspec_commands import (
    GOOD_PACKAGE,
    GOOD_ZIP,
    SEED_COMMANDS,
    V1,
    V2,
    BuildRun,
    Sandbox,
    make_zip,
    pytestmark,  # noqa: F401  # the same tools are needed: bash, sha256sum, python3
    sha256_hex,
    with_package_limit,
)

EXECUTION_N = "0a6d1c3e-5b7f-4e21-9d48-1f2e3a4b5c6d"
EXECUTION_N1 = "7c9e2f41-3d5a-4b86-a0c7-8e9f1a2b3c4d"
PIPELINE = "seed-pipeline"
"""The pipeline's name, as CodeBuild gives it in CODEBUILD_INITIATOR (``codepipeline/NAME``)."""
OTHER_PIPELINE = "another-teams-pipeline"

LATER_ACTIONS = ("Test/Test", "DeployStaging/Deploy", "DeployProduction/Deploy")
"""Every CodeBuild action of the seed after Validate, as stage/action."""
STAGE_COMMANDS = {
    "Test/Test": ["npm ci", "npm test -- --ci"],
    "DeployStaging/Deploy": ["npx --no-install cdk deploy --all --require-approval never"],
    "DeployProduction/Deploy": ["npx --no-install cdk deploy --all --require-approval never"],
}
"""What the package's code logs when each stage's commands run (the stub logs its name and arguments)."""

# The package's code: logs every call (outside the artifact), does what npm ci and npm run build would, and whatever
# a test gives it to do ($PACKAGE_CODE), as an install script could.
PACKAGE_CODE_STUB = """#!/usr/bin/env bash
if [ "$*" = --version ]; then echo "0.0.0-stub"; exit 0; fi
echo "$(basename "$0") $*" >> "$NPM_LOG"
case "$*" in
  ci) mkdir -p node_modules/left-pad && echo "module.exports = 1;" > node_modules/left-pad/index.js ;;
  "run build") mkdir -p dist/bin && echo "console.log('built');" > dist/bin/app.js ;;
esac
if [ -n "${PACKAGE_CODE:-}" ]; then eval "$PACKAGE_CODE"; fi
"""

# A json.py that Python would import from the working folder instead of the standard library's: it records which
# build ran it, then hands over the real module so that nothing else shows.
SHADOW_JSON = """\
import os as _os, sys as _sys
with open({marker!r}, "a") as _fh:
    _fh.write(_os.environ.get("CODEBUILD_BUILD_ARN", "?") + "\\n")
_sys.path = [_p for _p in _sys.path if _p not in ("", _os.getcwd())]
del _sys.modules[__name__]
import json as _json
_sys.modules[__name__] = _json
"""

ALGORITHM = ec.ECDSA(utils.Prehashed(hashes.SHA256()))


# --- The seed template --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One CodeBuild action of the seed pipeline: its project's buildspec, name and variables, and the action's."""

    spec: dict[str, Any]
    project_name: str
    project_variables: dict[str, str]
    action_variables: dict[str, str]


def _variables(items: Any) -> dict[str, str]:
    values = {}
    for item in items:
        assert item.get("Type", item.get("type")) == "PLAINTEXT"
        values[item.get("Name", item.get("name"))] = item.get("Value", item.get("value"))
    return values


def seed_actions(seed: Synthesized) -> dict[str, Action]:
    """Every CodeBuild action of the seed pipeline, by stage/action, resolved as CloudFormation would."""
    stack = seed.stack.stack_name
    resolver = Resolver({stack: seed.json})
    resources = seed.json["Resources"]
    (pipeline,) = [r for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    found = {}
    for stage in pipeline["Properties"]["Stages"]:
        for action in stage["Actions"]:
            if action["ActionTypeId"]["Provider"] != "CodeBuild":
                continue
            configuration = action["Configuration"]
            project_id = configuration["ProjectName"]["Ref"]
            project = resources[project_id]["Properties"]
            passed = configuration.get("EnvironmentVariables")
            found[f"{stage['Name']}/{action['Name']}"] = Action(
                spec=json.loads(resolver.resolve(stack, project["Source"]["BuildSpec"])),
                project_name=resolver.reference(stack, project_id),
                project_variables=_variables(resolver.resolve(stack, project["Environment"]["EnvironmentVariables"])),
                action_variables=_variables(json.loads(resolver.resolve(stack, passed))) if passed else {},
            )
    return found


# --- Keys ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    """The pipeline's signing key (its ARN as the template names it) and an attacker's key, as PEM files."""

    arn: str
    pem: Path
    attacker_pem: Path

    def private(self, pem: Path) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def sign(self, statement: Mapping[str, Any], *, attacker: bool = False) -> dict[str, Any]:
        """A DSSE envelope of ``statement`` signed with the pipeline's key (or the attacker's), as Attest makes it."""
        payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")
        digest = hashlib.sha256(pae(PAYLOAD_TYPE, payload)).digest()
        signature = self.private(self.attacker_pem if attacker else self.pem).sign(digest, ALGORITHM)
        return dsse_envelope(payload, signature, self.arn)


def _write_key(path: Path) -> Path:
    """A new P-256 key, as ``s3vp run`` makes one for a run (the stand-in reads only its own PEM)."""
    private, _ = stand_in.new_key_pair()
    path.write_text(private)
    return path


@dataclass
class Container(Sandbox):
    """A build container whose stand-in ``aws`` also serves ``kms`` with ``keys`` (its configuration's)."""

    keys: list[dict[str, str]] = field(default_factory=list)

    def _save_objects(self) -> None:
        self._config.write_text(json.dumps({"objects": self.objects, "keys": self.keys, "real_aws": None}))


# --- Builds -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """One build that ran: its phases, its container, and the artifact it output (a folder)."""

    run: BuildRun
    box: Sandbox
    output: Path

    def kms_calls(self, operation: str) -> list[list[str]]:
        return [call for call in self.box.aws_calls() if call[:2] == ["kms", operation]]

    def package_calls(self) -> list[str]:
        return self.box.npm_calls()


@dataclass(frozen=True)
class Pipeline:
    """The seed pipeline's CodeBuild actions, run one build at a time on this machine."""

    actions: dict[str, Action]
    keys: Keys

    def _container(self, root: Path, action: str, execution: str, version: str, pipeline: str) -> Sandbox:
        """A container of ``action``'s project as CodePipeline starts it for ``execution`` of ``pipeline``."""
        chosen = self.actions[action]
        box = Container(root, keys=[{"key_id": self.keys.arn, "private_key": str(self.keys.pem)}])
        passed = {
            name: value.replace("#{codepipeline.PipelineExecutionId}", execution).replace(
                "#{SourceVariables.VersionId}", version
            )
            for name, value in chosen.action_variables.items()
        }
        assert not [value for value in passed.values() if "#{" in value], f"a variable this test cannot give: {passed}"
        box.env.update(
            {
                **chosen.project_variables,
                **passed,
                "CODEBUILD_INITIATOR": f"codepipeline/{pipeline}",
                "CODEBUILD_BUILD_ARN": f"arn:{PARTITION}:codebuild:{REGION}:{ACCOUNT}:build/"
                f"{chosen.project_name}:{uuid.uuid4()}",
                "CODEBUILD_START_TIME": "1767225600000",
            }
        )
        stub_bin = root / "bin"
        for tool in ("npm", "npx"):
            (stub_bin / tool).write_text(PACKAGE_CODE_STUB)
            (stub_bin / tool).chmod(0o755)
        box.put_checker()
        return box

    def run(
        self,
        root: Path,
        action: str,
        *,
        artifact: Path | None,
        package: bytes,
        version: str,
        execution: str,
        pipeline: str = PIPELINE,
        package_code: str = "",
    ) -> Build:
        """Run ``action``'s build on a copy of ``artifact`` (None: Validate, on CodeBuild's extraction of the
        source), with ``package`` uploaded as ``version`` of the source object; return what it output."""
        box = self._container(root, action, execution, version, pipeline)
        if "SOURCE_BUCKET" in box.env:  # only Validate and Attest download the source object
            box.upload(package, version)
        if artifact is None:
            box.unpack(package)
        else:
            shutil.copytree(artifact, box.src, symlinks=True, dirs_exist_ok=True)
        if package_code:
            box.env["PACKAGE_CODE"] = package_code
        spec = self.actions[action].spec
        run = box.run_build(spec)
        output = root / "output"
        output_files(spec, box.src, output)
        return Build(run, box, output)

    def attested(self, root: Path, package: bytes, version: str, execution: str, **attest: Any) -> Build:
        """Validate then Attest ``package``; Attest's build (its output is what every later stage receives)."""
        validated = self.run(
            root / "validate", "Validate/Validate", artifact=None, package=package, version=version, execution=execution
        )
        assert validated.run["build"].returncode == 0, validated.run["build"].output
        return self.run(
            root / "attest",
            "Validate/Attest",
            artifact=validated.output,
            package=package,
            version=version,
            execution=execution,
            **attest,
        )

    def stage(self, root: Path, action: str, artifact: Path, execution: str) -> Build:
        """Run a later stage's build for ``execution`` on ``artifact``."""
        return self.run(root, action, artifact=artifact, package=GOOD_ZIP, version=V1, execution=execution)


NEXT_ZIP = make_zip({**GOOD_PACKAGE, "lib/stack.ts": "export class InfraStack { readonly next = true; }\n"})
"""Execution N+1's package: as good, and different."""


@pytest.fixture(scope="module")
def pipeline(seed: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    actions = seed_actions(seed)
    assert set(actions) == {"Validate/Validate", "Validate/Attest", *LATER_ACTIONS}
    key_arn = actions["Validate/Attest"].action_variables["S3VP_SIGNING_KEY_ARN"]
    assert key_arn.startswith(f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/"), key_arn
    folder = tmp_path_factory.mktemp("keys")
    return Pipeline(actions, Keys(key_arn, _write_key(folder / "pipeline.pem"), _write_key(folder / "attacker.pem")))


@pytest.fixture(scope="module")
def execution_n(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """Execution N: the good package, uploaded as V1, validated and attested."""
    attest = pipeline.attested(tmp_path_factory.mktemp("n"), GOOD_ZIP, V1, EXECUTION_N)
    assert attest.run["build"].returncode == 0, attest.run["build"].output
    return attest


@pytest.fixture(scope="module")
def execution_n1(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Build:
    """Execution N+1: another good package, uploaded as V2, validated and attested with the same key."""
    attest = pipeline.attested(tmp_path_factory.mktemp("n1"), NEXT_ZIP, V2, EXECUTION_N1)
    assert attest.run["build"].returncode == 0, attest.run["build"].output
    return attest


def statement_of(artifact: Path) -> dict[str, Any]:
    envelope = json.loads((artifact / PROVENANCE_PATH).read_text())
    statement: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return statement


def copy_of(artifact: Path, target: Path) -> Path:
    shutil.copytree(artifact, target, symlinks=True)
    return target


def assert_refused(build: Build, *messages: str, asked_kms: bool = False) -> None:
    """The stage's pre_build failed at the provenance line with ``messages``, and nothing of the stage ran."""
    pre_build = build.run["pre_build"]
    assert pre_build.returncode != 0, pre_build.output
    assert pre_build.runs == 3, "the checker, the manifest, then the provenance"
    for message in messages:
        assert message in pre_build.output, pre_build.output
    assert "Traceback" not in pre_build.output
    assert not {"build", "post_build"} & set(build.run.phases)
    assert build.package_calls() == []
    # A refusal before the signature check never asks KMS: nothing after a failed check runs.
    assert len(build.kms_calls("verify")) == (1 if asked_kms else 0)


# --- The good path ----------------------------------------------------------------------------------------------


def test_attest_signs_an_in_toto_slsa_statement_of_every_file_it_received(
    pipeline: Pipeline, execution_n: Build
) -> None:
    # GIVEN execution N's Attest build, on the artifact its Validate made
    statement = statement_of(execution_n.output)
    envelope = json.loads((execution_n.output / PROVENANCE_PATH).read_text())
    # THEN the envelope is DSSE with one signature by the pipeline's key, asked of KMS once
    assert envelope["payloadType"] == PAYLOAD_TYPE
    assert [signature["keyid"] for signature in envelope["signatures"]] == [pipeline.keys.arn]
    (sign,) = execution_n.kms_calls("sign")
    assert sign[sign.index("--key-id") + 1] == pipeline.keys.arn
    # AND the statement is in-toto v1 / SLSA v1, its subjects exactly the files received, with their digests
    assert statement["_type"] == STATEMENT_TYPE
    assert statement["predicateType"] == PREDICATE_TYPE
    received = {
        path.relative_to(execution_n.output).as_posix(): sha256_hex(path.read_bytes())
        for path in execution_n.output.rglob("*")
        if path.is_file() and path.relative_to(execution_n.output).as_posix() != PROVENANCE_PATH
    }
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == received
    assert {*GOOD_PACKAGE, MANIFEST_PATH, REPORT_PATH, "dist/bin/app.js"} <= set(received)
    # AND it names the exact source version, its own digest of it, the commands, the checker and this execution
    definition, run = statement["predicate"]["buildDefinition"], statement["predicate"]["runDetails"]
    attest = pipeline.actions["Validate/Attest"]
    source = attest.action_variables
    assert definition["buildType"] == build_type()
    assert definition["externalParameters"] == {
        "bucket": source["SOURCE_BUCKET"],
        "key": source["SOURCE_OBJECT_KEY"],
        "versionId": V1,
        "sha256": sha256_hex(GOOD_ZIP),
        "commands": list(SEED_COMMANDS),
        "image": json.loads(attest.project_variables["S3VP_VALIDATION"])["image"],
    }
    assert definition["internalParameters"] == {"pipeline": PIPELINE}
    assert definition["resolvedDependencies"] == [
        {
            "uri": f"s3://{source['SOURCE_BUCKET']}/{source['SOURCE_OBJECT_KEY']}?versionId={V1}",
            "digest": {"sha256": sha256_hex(GOOD_ZIP)},
        },
        {
            "uri": f"s3://{attest.project_variables['CHECKER_BUCKET']}/{attest.project_variables['CHECKER_KEY']}",
            "digest": {"sha256": checker_sha256()},
        },
    ]
    assert run["builder"]["id"] == f"arn:{PARTITION}:codebuild:{REGION}:{ACCOUNT}:project/{attest.project_name}"
    assert run["metadata"]["invocationId"] == EXECUTION_N
    assert run["metadata"]["startedOn"] == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize("action", LATER_ACTIONS)
def test_every_later_stage_verifies_its_executions_artifact_then_runs_its_commands(
    tmp_path: Path, pipeline: Pipeline, execution_n: Build, action: str
) -> None:
    # GIVEN execution N's attested artifact  WHEN a later stage of execution N runs on it
    build = pipeline.stage(tmp_path, action, execution_n.output, EXECUTION_N)
    # THEN the provenance matches, KMS verifies the signature with the pipeline's key, and the commands run
    pre_build = build.run["pre_build"]
    assert pre_build.returncode == 0, pre_build.output
    assert f"Provenance matches: execution {EXECUTION_N}" in pre_build.output
    (verify,) = build.kms_calls("verify")
    assert verify[verify.index("--key-id") + 1] == pipeline.keys.arn
    assert build.run["build"].returncode == 0, build.run["build"].output
    assert build.package_calls() == STAGE_COMMANDS[action]


# --- Another execution's artifact --------------------------------------------------------------------------------


@pytest.mark.parametrize("action", LATER_ACTIONS)
def test_fails_when_the_artifact_is_another_executions_validly_signed_one(
    tmp_path: Path, pipeline: Pipeline, execution_n1: Build, action: str
) -> None:
    # GIVEN execution N+1's attested artifact, signed by the same key, written where N's was (N waits at an approval)
    # WHEN N's later stage runs on it
    build = pipeline.stage(tmp_path / "n", action, execution_n1.output, EXECUTION_N)
    # THEN it refuses, naming both executions, before KMS is asked and before anything of the stage runs
    assert_refused(build, f"the provenance is of execution '{EXECUTION_N1}', not of this one ('{EXECUTION_N}')")
    # AND the same artifact is good in its own execution: the execution id alone refused it
    own = pipeline.stage(tmp_path / "n1", action, execution_n1.output, EXECUTION_N1)
    assert own.run["build"].returncode == 0, own.run["pre_build"].output


# --- Files rewritten under the old envelope ------------------------------------------------------------------------


def _rewrite_manifest(artifact: Path) -> None:
    """What package code of a later execution can do: make the manifest agree with the files again."""
    manifest = json.loads((artifact / MANIFEST_PATH).read_text())
    (artifact / MANIFEST_PATH).write_text(
        json.dumps(write_manifest(artifact, source=manifest["source"], exclude=(MANIFEST_PATH, PROVENANCE_PATH)))
    )


def _change(artifact: Path) -> str:
    path = "lib/stack.ts"
    (artifact / path).write_text("export class InfraStack { backdoor = true; }\n")
    return f"'{path}' was changed since it was attested"


def _add(artifact: Path) -> str:
    path = "lib/backdoor.ts"
    (artifact / path).write_text("export const backdoor = 1;\n")
    return f"'{path}' was added: the provenance does not name it"


def _remove(artifact: Path) -> str:
    path = "node_modules/left-pad/index.js"
    (artifact / path).unlink()
    return f"'{path}' is in the provenance but missing"


@pytest.mark.parametrize("tamper", [_change, _add, _remove], ids=["changed", "added", "removed"])
def test_fails_when_files_and_manifest_are_rewritten_under_the_old_envelope(
    tmp_path: Path, pipeline: Pipeline, execution_n: Build, tamper: Callable[[Path], str]
) -> None:
    # GIVEN N's artifact with a file changed, added or removed, and its manifest rewritten to agree; the envelope kept
    artifact = copy_of(execution_n.output, tmp_path / "artifact")
    message = tamper(artifact)
    _rewrite_manifest(artifact)
    # WHEN N's next stage runs on it
    build = pipeline.stage(tmp_path / "box", "Test/Test", artifact, EXECUTION_N)
    # THEN the manifest passes (it was rewritten), and the provenance refuses, naming the file and the manifest
    assert "Manifest verified" in build.run["pre_build"].output
    assert_refused(build, message, f"'{MANIFEST_PATH}' was changed since it was attested")


# --- A signature by another key -----------------------------------------------------------------------------------


def test_fails_when_the_envelope_is_signed_by_another_key(
    tmp_path: Path, pipeline: Pipeline, execution_n: Build
) -> None:
    # GIVEN N's artifact with a file changed, its manifest rewritten, and a statement made afresh for exactly these
    # files, this execution and this pipeline, signed with a key the attacker holds
    artifact = copy_of(execution_n.output, tmp_path / "artifact")
    _change(artifact)
    _rewrite_manifest(artifact)
    signed = statement_of(execution_n.output)
    definition = signed["predicate"]["buildDefinition"]
    forged = provenance_statement(
        str(artifact),
        source=definition["externalParameters"],
        parameters={},
        checker_sha256=checker_sha256(),
        checker_uri=definition["resolvedDependencies"][1]["uri"],
        pipeline=PIPELINE,
        builder_id=signed["predicate"]["runDetails"]["builder"]["id"],
        build_type=definition["buildType"],
        invocation_id=EXECUTION_N,
        started_on="2026-01-01T00:00:00Z",
        finished_on="2026-01-01T00:01:00Z",
    )
    (artifact / PROVENANCE_PATH).write_text(json.dumps(pipeline.keys.sign(forged, attacker=True)))
    # WHEN N's next stage runs on it
    build = pipeline.stage(tmp_path / "box", "Test/Test", artifact, EXECUTION_N)
    # THEN the statement matches the files, but KMS finds the signature is not the pipeline key's: nothing runs
    assert f"Provenance matches: execution {EXECUTION_N}" in build.run["pre_build"].output
    assert_refused(build, "The provenance is not signed by this pipeline's key", asked_kms=True)
    assert "KMSInvalidSignatureException" in build.run["pre_build"].output


# --- Missing or malformed envelopes ------------------------------------------------------------------------------


def _resigned(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any], Keys], dict[str, Any]]:
    """A statement changed by ``change`` and signed again with the pipeline's own key: only the statement's
    checks can refuse it, not the signature."""

    def envelope(signed: dict[str, Any], keys: Keys) -> dict[str, Any]:
        statement = json.loads(base64.b64decode(signed["payload"]))
        change(statement)
        return keys.sign(statement)

    return envelope


def _set(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda statement: statement.update(values)


def _replace(**values: Any) -> Callable[[dict[str, Any], Keys], dict[str, Any]]:
    return lambda signed, keys: {**signed, **values}


def _another_signature(signed: dict[str, Any], keys: Keys) -> dict[str, Any]:
    other = keys.sign(json.loads(base64.b64decode(signed["payload"])), attacker=True)
    return {**signed, "signatures": signed["signatures"] + other["signatures"]}


MALFORMED: dict[str, tuple[Callable[[dict[str, Any], Keys], Any] | None, str]] = {
    "missing": (None, f"cannot read {PROVENANCE_PATH}"),
    "not-json": (lambda signed, keys: "{not json", f"cannot read {PROVENANCE_PATH}"),
    "not-an-object": (lambda signed, keys: [signed], "is not a DSSE envelope of an in-toto statement"),
    "wrong-payload-type": (_replace(payloadType="application/json"), "is not a DSSE envelope of an in-toto statement"),
    "two-signatures": (_another_signature, "the envelope must hold exactly one signature"),
    "no-signature": (_replace(signatures=[]), "the envelope must hold exactly one signature"),
    "payload-not-base64": (_replace(payload="%%% not base64 %%%"), "the envelope's payload or signature is not valid"),
    "signature-not-base64": (
        lambda signed, keys: {**signed, "signatures": [{**signed["signatures"][0], "sig": "%%%"}]},
        "the envelope's payload or signature is not valid",
    ),
    "signature-not-text": (
        lambda signed, keys: {**signed, "signatures": [{**signed["signatures"][0], "sig": 1234}]},
        "the envelope's payload or signature is not valid",
    ),
    "payload-not-json": (
        _replace(payload=base64.b64encode(b"not json").decode()),
        "the envelope's payload or signature is not valid",
    ),
    "wrong-type": (_resigned(_set(_type="https://in-toto.io/Statement/v0.1")), f"_type is not {STATEMENT_TYPE}"),
    "wrong-predicate-type": (
        _resigned(_set(predicateType="https://slsa.dev/provenance/v0.2")),
        f"predicateType is not {PREDICATE_TYPE}",
    ),
    "predicate-not-an-object": (_resigned(_set(predicate="signed")), "the provenance is of execution None"),
    "subjects-not-a-list": (_resigned(_set(subject="everything")), "was added: the provenance does not name it"),
}


@pytest.mark.parametrize("malform", MALFORMED)
def test_fails_when_the_envelope_is_missing_or_malformed(
    tmp_path: Path, pipeline: Pipeline, execution_n: Build, malform: str
) -> None:
    # GIVEN N's artifact whose envelope is missing, is not JSON, or is not one signature over an in-toto v1 / SLSA v1
    # statement (some of them signed again with the pipeline's own key, so that only the statement's checks refuse)
    artifact = copy_of(execution_n.output, tmp_path / "artifact")
    change, message = MALFORMED[malform]
    envelope_path = artifact / PROVENANCE_PATH
    if change is None:
        envelope_path.unlink()
    else:
        changed = change(json.loads(envelope_path.read_text()), pipeline.keys)
        envelope_path.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    # WHEN N's next stage runs on it  THEN it refuses with a message, not a traceback, and KMS is never asked
    build = pipeline.stage(tmp_path / "box", "Test/Test", artifact, EXECUTION_N)
    assert_refused(build, "Provenance check FAILED", message)


# --- Another pipeline's statement -------------------------------------------------------------------------------


def test_fails_when_the_statement_is_another_pipelines(tmp_path: Path, pipeline: Pipeline) -> None:
    # GIVEN the good package attested by another pipeline signing with the same key (a shared key), even under the
    # same execution id, so that only the pipeline tells them apart
    other = pipeline.attested(tmp_path / "other", GOOD_ZIP, V1, EXECUTION_N, pipeline=OTHER_PIPELINE)
    assert other.run["build"].returncode == 0, other.run["build"].output
    # WHEN this pipeline's next stage of that execution runs on it
    build = pipeline.stage(tmp_path / "box", "Test/Test", other.output, EXECUTION_N)
    # THEN it refuses, naming both pipelines
    assert_refused(build, f"the provenance is of pipeline '{OTHER_PIPELINE}', not of '{PIPELINE}'")


# --- Package code forging Validate's records ----------------------------------------------------------------------

FORGED_SHA256 = sha256_hex(b"the package the approver expects")


def test_attest_records_its_own_verdict_and_digest_not_validates_forged_report(
    tmp_path: Path, pipeline: Pipeline
) -> None:
    # GIVEN package code in Validate that rewrites the check's report (the one Validate copies into the artifact and
    # the manifest) to claim another zip's SHA-256
    forge = (
        'if [ "$*" = "run build" ]; then python3 -c \'import json, sys; r = json.load(open(sys.argv[1])); '
        f'r.update(accepted=True, sha256="{FORGED_SHA256}"); json.dump(r, open(sys.argv[1], "w"))\' '
        '"$FORGE_REPORT"; fi'
    )
    validated = pipeline.run(
        tmp_path / "validate",
        "Validate/Validate",
        artifact=None,
        package=GOOD_ZIP,
        version=V1,
        execution=EXECUTION_N,
        package_code=forge.replace("$FORGE_REPORT", str(tmp_path / "validate" / "work" / "package-check.json")),
    )
    assert validated.run["build"].returncode == 0, validated.run["build"].output
    assert json.loads((validated.output / REPORT_PATH).read_text())["sha256"] == FORGED_SHA256
    assert json.loads((validated.output / MANIFEST_PATH).read_text())["source"]["sha256"] == FORGED_SHA256
    # WHEN Attest runs on that artifact
    attest = pipeline.run(
        tmp_path / "attest",
        "Validate/Attest",
        artifact=validated.output,
        package=GOOD_ZIP,
        version=V1,
        execution=EXECUTION_N,
    )
    # THEN the statement records Attest's own digest of the object version it downloaded, never the forged one
    assert attest.run["build"].returncode == 0, attest.run["build"].output
    statement = statement_of(attest.output)
    definition = statement["predicate"]["buildDefinition"]
    assert definition["externalParameters"]["sha256"] == sha256_hex(GOOD_ZIP)
    assert definition["resolvedDependencies"][0]["digest"] == {"sha256": sha256_hex(GOOD_ZIP)}
    assert FORGED_SHA256 not in json.dumps(definition)


def test_fails_when_attest_rejects_the_package_and_signs_nothing(
    tmp_path: Path, pipeline: Pipeline, execution_n: Build
) -> None:
    # GIVEN a Validated artifact whose records claim an accepted package, while the object version the execution
    # started with is one the check rejects (a Validate subverted before or during its check)
    rejected = make_zip({**GOOD_PACKAGE, ".env": "TOKEN=x\n"})
    validated = copy_of(execution_n.output, tmp_path / "validated")
    (validated / PROVENANCE_PATH).unlink()
    assert json.loads((validated / REPORT_PATH).read_text())["accepted"] is True
    # WHEN Attest runs
    attest = pipeline.run(
        tmp_path / "attest", "Validate/Attest", artifact=validated, package=rejected, version=V1, execution=EXECUTION_N
    )
    # THEN its own check rejects the package: the build fails before signing, and no envelope leaves it
    pre_build = attest.run["pre_build"]
    assert pre_build.returncode == 1, pre_build.output
    assert "REJECTED" in pre_build.output
    assert "[forbidden-file]" in pre_build.output
    assert "build" not in attest.run.phases
    assert attest.kms_calls("sign") == []
    assert not (attest.box.src / PROVENANCE_PATH).exists()


def test_fails_when_attest_is_given_an_object_over_the_size_limit_and_never_downloads_it(
    tmp_path: Path, pipeline: Pipeline, execution_n: Build
) -> None:
    # GIVEN execution N's Validated artifact, and Attest's buildspec with a limit one byte below the package's size
    validated = copy_of(execution_n.output, tmp_path / "validated")
    (validated / PROVENANCE_PATH).unlink()
    attest_action = pipeline.actions["Validate/Attest"]
    limit = len(GOOD_ZIP) - 1
    limited = replace(
        pipeline,
        actions={
            **pipeline.actions,
            "Validate/Attest": replace(attest_action, spec=with_package_limit(attest_action.spec, limit)),
        },
    )
    # WHEN Attest runs
    attest = limited.run(
        tmp_path / "attest", "Validate/Attest", artifact=validated, package=GOOD_ZIP, version=V1, execution=EXECUTION_N
    )
    # THEN it refuses the object from its size alone, naming size, limit and option, and signs nothing
    pre_build = attest.run["pre_build"]
    assert (pre_build.returncode, pre_build.runs) == (1, 2), pre_build.output
    assert (
        f"REJECTED: the uploaded object is {len(GOOD_ZIP)} bytes, more than the limit of {limit} bytes "
        "(PackageCheckOptions.max_package_bytes)" in pre_build.output
    )
    assert [call[1] for call in attest.box.aws_calls() if call[0] == "s3api"] == ["head-object"]
    assert "build" not in attest.run.phases
    assert attest.kms_calls("sign") == []
    assert not (attest.box.src / PROVENANCE_PATH).exists()


# --- Package code never runs in Attest, nor before its check -------------------------------------------------------


def test_package_code_in_the_artifact_never_runs_in_attest(tmp_path: Path, pipeline: Pipeline) -> None:
    # GIVEN package code in Validate that leaves a json.py at the artifact's root (where Attest's commands start),
    # which Python would import instead of the standard library's from a working folder on its path
    marker = tmp_path / "package-code-ran"
    shadow = SHADOW_JSON.format(marker=str(marker))
    plant = f'if [ "$*" = "run build" ]; then cat > json.py <<\'PY\'\n{shadow}PY\nfi'
    validated = pipeline.run(
        tmp_path / "validate",
        "Validate/Validate",
        artifact=None,
        package=GOOD_ZIP,
        version=V1,
        execution=EXECUTION_N,
        package_code=plant,
    )
    assert (validated.output / "json.py").exists()
    # WHEN Attest runs on that artifact
    attest = pipeline.run(
        tmp_path / "attest",
        "Validate/Attest",
        artifact=validated.output,
        package=GOOD_ZIP,
        version=V1,
        execution=EXECUTION_N,
    )
    # THEN it signs (json.py is a file of the artifact like any other), and json.py never ran in its build
    assert attest.run["build"].returncode == 0, attest.run["build"].output
    assert "json.py" in {subject["name"] for subject in statement_of(attest.output)["subject"]}
    ran_in = marker.read_text().splitlines() if marker.exists() else []
    assert not [arn for arn in ran_in if "Attest" in arn], ran_in


def test_package_code_never_runs_before_validates_check(tmp_path: Path, pipeline: Pipeline) -> None:
    # GIVEN a package the check rejects (it holds a .env) that also holds a json.py, unpacked by CodeBuild as usual
    marker = tmp_path / "package-code-ran"
    rejected = make_zip({**GOOD_PACKAGE, ".env": "TOKEN=x\n", "json.py": SHADOW_JSON.format(marker=str(marker))})
    # WHEN Validate runs
    validated = pipeline.run(
        tmp_path / "validate", "Validate/Validate", artifact=None, package=rejected, version=V1, execution=EXECUTION_N
    )
    # THEN the check rejects it, and none of its code ran before (or instead of) the check
    assert validated.run["pre_build"].returncode == 1, validated.run["pre_build"].output
    assert "[forbidden-file]" in validated.run["pre_build"].output
    assert not marker.exists(), marker.read_text()


def test_fails_when_attest_is_given_a_report_that_rejects(tmp_path: Path) -> None:
    # GIVEN a check report that rejects the package (Attest's own check exits first; this is the second defence)
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"accepted": False, "sha256": sha256_hex(GOOD_ZIP), "findings": []}))
    (tmp_path / "artifact").mkdir()
    (tmp_path / "artifact" / "file").write_text("content\n")
    # WHEN the checker is asked to write the statement
    result = subprocess.run(  # noqa: S603
        [
            *(sys.executable, "-I", str(CHECKER_FILE), "attest", str(tmp_path / "artifact")),
            *("--report", str(report), "--source-json", '{"bucket": "b", "key": "k", "versionId": "v"}'),
            *("--checker-uri", "s3://assets/check.py", "--checker-sha256", checker_sha256()),
            *("--pipeline", PIPELINE, "--builder-id", "arn:builder", "--build-type", build_type()),
            *("--invocation-id", EXECUTION_N, "--started-on", "0"),
            *("--payload-out", str(tmp_path / "payload"), "--digest-out", str(tmp_path / "digest")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN it refuses, and writes nothing to be signed
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the package check rejected the source object: nothing is attested" in result.stderr
    assert not (tmp_path / "payload").exists()
    assert not (tmp_path / "digest").exists()
