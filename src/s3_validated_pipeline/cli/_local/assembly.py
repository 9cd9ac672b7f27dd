"""Read a cloud assembly (``cdk.out``): find the pipelines a ``ValidatedS3Pipeline`` built and describe each stage's
actions with the buildspecs and variables exactly as synthesized.

CloudFormation references cannot be resolved without a deployment, so each becomes a stable local value: a
resource's ``Ref`` is ``local-<logical id>``, an attribute ``arn:aws:local:::<logical id>.<attribute>``, and the
pseudo parameters are account ``000000000000``, Region ``local``, partition ``aws``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._buildspec import CHECKER_VARIABLES

PSEUDO = {
    "AWS::AccountId": "000000000000",
    "AWS::Region": "local",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": "",
}
_PIPELINE = "AWS::CodePipeline::Pipeline"
_PROJECT = "AWS::CodeBuild::Project"


class AssemblyError(Exception):
    """The cloud assembly cannot be read or holds no pipeline to run; the message says what to do."""


@dataclass(frozen=True)
class Action:
    """One pipeline action, with what a local run needs to run or describe it."""

    name: str
    category: str
    provider: str
    configuration: Mapping[str, Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    run_order: int
    namespace: str | None = None
    project: str | None = None
    """The CodeBuild project's logical id."""
    buildspec: Mapping[str, Any] | None = None
    image: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    """The project's environment variables, then the action's (which win)."""


@dataclass(frozen=True)
class Stage:
    name: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Pipeline:
    """A pipeline built by ``ValidatedS3Pipeline``, with the folder of its cloud assembly (for the assets)."""

    path: str
    logical_id: str
    stack: str
    stages: tuple[Stage, ...]
    assembly_dir: Path


class _Resolver:
    """Resolves a stack's intrinsics to local stand-ins; an import, to the exporting stack's output value."""

    def __init__(self, stack: str, exports: Mapping[str, tuple[_Resolver, Any]] | None = None) -> None:
        self.stack = stack
        self.exports = {} if exports is None else exports

    def ref(self, name: str) -> str:
        if name == "AWS::StackName":
            return self.stack
        return PSEUDO.get(name, f"local-{name.lower()}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
            return {key: self.resolve(item) for key, item in value.items()}
        ((function, argument),) = value.items()
        return self._function(function, argument)

    def _function(self, function: str, argument: Any) -> Any:
        if function == "Ref":
            return self.ref(str(argument))
        if function == "Fn::GetAtt":
            target = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return f"arn:aws:local:::{target[0]}.{target[1]}"
        if function == "Fn::Join":
            return str(argument[0]).join(str(self.resolve(item)) for item in self.resolve(argument[1]))
        if function == "Fn::Select":
            return self.resolve(argument[1])[int(self.resolve(argument[0]))]
        if function == "Fn::Split":
            return str(self.resolve(argument[1])).split(str(argument[0]))
        if function == "Fn::ImportValue":
            name = str(self.resolve(argument))
            if name not in self.exports:
                raise AssemblyError(f"Fn::ImportValue of {name!r}: no stack of the cloud assembly exports it")
            exporter, value = self.exports[name]
            return exporter.resolve(value)
        if function == "Fn::Sub":
            text, names = (argument, {}) if isinstance(argument, str) else (argument[0], self.resolve(argument[1]))
            return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), names), text)
        raise AssemblyError(f"{function} cannot be resolved in a local run: {json.dumps(argument)[:200]}")

    def _sub(self, name: str, names: Mapping[str, Any]) -> str:
        if name in names:
            return str(names[name])
        if "." in name and not name.startswith("AWS::"):
            return str(self._function("Fn::GetAtt", name))
        return self.ref(name)


def _load(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AssemblyError(f"cannot read {path}: {exc}") from None
    return data


def _stacks(directory: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    """(stack name, assembly folder, artifact) of every stack, nested assemblies included."""
    manifest = _load(directory / "manifest.json")
    found: list[tuple[str, Path, dict[str, Any]]] = []
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            found.append((name, directory, artifact))
        elif artifact.get("type") == "cdk:cloud-assembly":
            found.extend(_stacks(directory / artifact["properties"]["directoryName"]))
    return found


def _paths(directory: Path, artifact: Mapping[str, Any]) -> dict[str, str]:
    """Logical id -> construct path, from the stack's metadata (used when the template carries no aws:cdk:path)."""
    metadata = dict(artifact.get("metadata", {}))
    extra = artifact.get("additionalMetadataFile")
    if extra and (directory / extra).is_file():
        metadata.update(_load(directory / extra))
    return {
        str(entry["data"]): path
        for path, entries in metadata.items()
        for entry in entries
        if entry.get("type") == "aws:cdk:logicalId"
    }


def _construct_path(raw: str) -> str:
    path = raw.strip("/")
    return path[: -len("/Resource")] if path.endswith("/Resource") else path


def _action_variables(resolver: _Resolver, configuration: Mapping[str, Any]) -> dict[str, str]:
    raw = configuration.get("EnvironmentVariables")
    if raw is None:
        return {}
    entries = json.loads(raw) if isinstance(raw, str) else raw
    return {entry["name"]: str(entry["value"]) for entry in entries}


def _project_action(
    resolver: _Resolver, resources: Mapping[str, Any], raw: Mapping[str, Any], base: dict[str, Any]
) -> Action:
    reference = raw.get("Configuration", {}).get("ProjectName")
    logical_id = str(reference.get("Ref")) if isinstance(reference, dict) else ""
    if logical_id not in resources or resources[logical_id]["Type"] != _PROJECT:
        raise AssemblyError(f"action {raw['Name']}: its CodeBuild project is not a resource of this stack")
    properties = resources[logical_id]["Properties"]
    spec_text = resolver.resolve(properties.get("Source", {}).get("BuildSpec"))
    if not isinstance(spec_text, str):
        raise AssemblyError(f"action {raw['Name']}: the project has no inline buildspec")
    environment = properties.get("Environment", {})
    variables = {
        item["Name"]: str(resolver.resolve(item["Value"])) for item in environment.get("EnvironmentVariables", [])
    }
    variables.update(_action_variables(resolver, base["configuration"]))
    return Action(
        **base,
        project=logical_id,
        buildspec=json.loads(spec_text),
        image=str(environment.get("Image", "")),
        variables=variables,
    )


def _action(resolver: _Resolver, resources: Mapping[str, Any], raw: Mapping[str, Any]) -> Action:
    kind = raw["ActionTypeId"]
    base: dict[str, Any] = {
        "name": raw["Name"],
        "category": kind["Category"],
        "provider": kind["Provider"],
        "configuration": resolver.resolve(raw.get("Configuration", {})),
        "inputs": tuple(item["Name"] for item in raw.get("InputArtifacts", [])),
        "outputs": tuple(item["Name"] for item in raw.get("OutputArtifacts", [])),
        "run_order": int(raw.get("RunOrder", 1)),
        "namespace": raw.get("Namespace"),
    }
    if kind["Provider"] == "CodeBuild":
        return _project_action(resolver, resources, raw, base)
    return Action(**base)


def _validated(stages: Sequence[Stage]) -> bool:
    """Built by ValidatedS3Pipeline: one of its CodeBuild projects runs the pinned checker."""
    return any(set(CHECKER_VARIABLES) <= set(a.variables) for stage in stages for a in stage.actions)


def find_pipelines(directory: Path) -> list[Pipeline]:
    """Every pipeline built by ``ValidatedS3Pipeline`` in the cloud assembly at ``directory``."""
    if not (directory / "manifest.json").is_file():
        raise AssemblyError(f"{directory} is not a cloud assembly: it has no manifest.json")
    pipelines = []
    stacks = [
        (stack, folder, artifact, _load(folder / artifact["properties"]["templateFile"]))
        for stack, folder, artifact in _stacks(directory)
    ]
    # A pipeline on a foundation imports the foundation's bucket and keys from another stack's outputs.
    exports: dict[str, tuple[_Resolver, Any]] = {}
    resolvers = {stack: _Resolver(stack, exports) for stack, _, _, _ in stacks}
    for stack, _, _, template in stacks:
        for output in template.get("Outputs", {}).values():
            if "Export" in output:
                exports[str(resolvers[stack].resolve(output["Export"]["Name"]))] = (resolvers[stack], output["Value"])
    for stack, folder, artifact, template in stacks:
        resources = template.get("Resources", {})
        paths = _paths(folder, artifact)
        resolver = resolvers[stack]
        for logical_id, resource in resources.items():
            if resource.get("Type") != _PIPELINE:
                continue
            stages = tuple(
                Stage(
                    raw["Name"],
                    tuple(sorted((_action(resolver, resources, a) for a in raw["Actions"]), key=lambda a: a.run_order)),
                )
                for raw in resource["Properties"]["Stages"]
            )
            if _validated(stages):
                raw_path = resource.get("Metadata", {}).get("aws:cdk:path") or paths.get(logical_id, logical_id)
                pipelines.append(Pipeline(_construct_path(raw_path), logical_id, stack, stages, folder))
    return pipelines


def choose(pipelines: Sequence[Pipeline], wanted: str | None) -> Pipeline:
    """The pipeline ``wanted`` names (a construct path or a prefix of one, by whole segments)."""
    if not pipelines:
        raise AssemblyError("the cloud assembly holds no pipeline built by ValidatedS3Pipeline")
    matches = list(pipelines)
    if wanted is not None:
        prefix = wanted.strip("/")
        matches = [p for p in pipelines if p.path == prefix or p.path.startswith(prefix + "/")]
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(p.path for p in pipelines)
    if not matches:
        raise AssemblyError(f"no pipeline at {wanted}; the cloud assembly holds: {listed}")
    raise AssemblyError(f"several pipelines: pass --pipeline with one of {listed}")


def find_asset(pipeline: Pipeline, object_key: str) -> Path:
    """The file of the asset the template stores at ``object_key``, from the assembly's asset manifests."""
    for manifest in sorted(pipeline.assembly_dir.glob("*.assets.json")):
        for entry in _load(manifest).get("files", {}).values():
            keys = {destination.get("objectKey") for destination in entry.get("destinations", {}).values()}
            if object_key in keys and entry.get("source", {}).get("packaging", "file") == "file":
                return manifest.parent / str(entry["source"]["path"])
    raise AssemblyError(f"the cloud assembly holds no file asset for the checker key {object_key}")


def synthesize(command: str, outdir: Path, cwd: Path, context: Mapping[str, Any], log: Path) -> Path:
    """Run a CDK app ``command`` as ``cdk synth`` does (``CDK_OUTDIR``, ``CDK_CONTEXT_JSON``) into ``outdir``."""
    env = dict(os.environ)
    env["CDK_OUTDIR"] = str(outdir)
    env["CDK_CONTEXT_JSON"] = json.dumps({**context, "aws:cdk:enable-path-metadata": True})
    with log.open("w", encoding="utf-8") as out:
        result = subprocess.run(  # noqa: S602  # the user's own app command, as the CDK CLI runs it
            command, shell=True, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
        raise AssemblyError(f"the app ({shlex.quote(command)}) failed with exit code {result.returncode}:\n{tail}")
    return outdir
