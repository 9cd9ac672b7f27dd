"""Read a cloud assembly (``cdk.out``): find the pipelines a ``ValidatedS3Pipeline`` built and describe each stage's
actions with the buildspecs and variables exactly as synthesized.

CloudFormation references cannot be resolved without a deployment, so each becomes a stable local value: a
resource's ``Ref`` is ``local-<logical id>``, an attribute ``arn:aws:local:::<logical id>.<attribute>``, and the
pseudo parameters are account ``000000000000``, Region ``local``, partition ``aws``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
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
_PYTHON = re.compile(r"python[\d.]*")
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
    in_vpc: bool = False
    """Whether the project runs in a VPC (its ``VpcConfig``), which a local run cannot reproduce."""
    region: str | None = None
    """The other Region the action runs in (its project is in that Region's stack); None for the pipeline's."""


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
    name: str = ""
    """The pipeline's name, as ``Ref`` of it resolves: its ``Name`` property, else ``local-<logical id>``."""


class Resolver:
    """Resolves the intrinsic functions of a cloud assembly's templates (by stack name) to plain values.

    ``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``, and ``Fn::ImportValue``
    through the output of the stack that exports the name; any other intrinsic raises. Pseudo parameters take
    ``pseudo``'s values. What a resource or parameter stands for is ``reference``'s and ``attribute``'s choice: here
    the local stand-ins of the module's docstring; a subclass may choose others (the tests' IAM evaluator gives
    ARNs shaped like the real ones).
    """

    pseudo: Mapping[str, str] = PSEUDO

    def __init__(self, templates: Mapping[str, Mapping[str, Any]]) -> None:
        self.templates = templates
        """Each stack's template, by stack name."""
        self._exports: dict[str, tuple[str, Any]] = {}
        for stack, template in templates.items():
            for output in template.get("Outputs", {}).values():
                if "Export" in output:
                    self._exports[str(self.resolve(stack, output["Export"]["Name"]))] = (stack, output["Value"])

    def reference(self, stack: str, name: str) -> str:
        """What ``Ref`` of the resource or parameter ``name`` of ``stack`` stands for."""
        return f"local-{name.lower()}"

    def attribute(self, stack: str, logical_id: str, attribute: str) -> str:
        """What ``Fn::GetAtt`` of a resource of ``stack`` stands for."""
        return f"arn:aws:local:::{logical_id}.{attribute}"

    def resolve(self, stack: str, value: Any) -> Any:
        """``value``, from ``stack``'s template, with every intrinsic resolved; lists and mappings deeply."""
        if isinstance(value, list):
            return [self.resolve(stack, item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
            return {key: self.resolve(stack, item) for key, item in value.items()}
        ((function, argument),) = value.items()
        return self._function(stack, function, argument)

    def _ref(self, stack: str, name: str) -> str:
        if name == "AWS::StackName":
            return stack
        return self.pseudo[name] if name in self.pseudo else self.reference(stack, name)

    def _function(self, stack: str, function: str, argument: Any) -> Any:
        if function == "Ref":
            return self._ref(stack, str(argument))
        if function == "Fn::GetAtt":
            target = argument if isinstance(argument, list) else str(argument).split(".", 1)
            return self.attribute(stack, str(target[0]), str(target[1]))
        if function == "Fn::Join":
            return str(argument[0]).join(str(item) for item in self.resolve(stack, argument[1]))
        if function == "Fn::Select":
            return self.resolve(stack, argument[1])[int(self.resolve(stack, argument[0]))]
        if function == "Fn::Split":
            return str(self.resolve(stack, argument[1])).split(str(argument[0]))
        if function == "Fn::ImportValue":
            name = str(self.resolve(stack, argument))
            if name not in self._exports:
                raise AssemblyError(f"Fn::ImportValue of {name!r}: no stack of the cloud assembly exports it")
            exporter, value = self._exports[name]
            return self.resolve(exporter, value)
        if function == "Fn::Sub":
            text, names = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
            return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(stack, m.group(1), names), text)
        raise AssemblyError(f"{function} cannot be resolved in a local run: {json.dumps(argument)[:200]}")

    def _sub(self, stack: str, name: str, names: Mapping[str, Any]) -> str:
        if name.startswith("!"):
            return "${" + name[1:] + "}"  # ${!Literal} is Fn::Sub's escape for a literal ${Literal}
        if name in names:
            return str(self.resolve(stack, names[name]))
        if "." in name and not name.startswith("AWS::"):
            return str(self._function(stack, "Fn::GetAtt", name))
        return self._ref(stack, name)


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


def _action_variables(configuration: Mapping[str, Any]) -> dict[str, str]:
    raw = configuration.get("EnvironmentVariables")
    if raw is None:
        return {}
    entries = json.loads(raw) if isinstance(raw, str) else raw
    return {entry["name"]: str(entry["value"]) for entry in entries}


@dataclass(frozen=True)
class _Projects:
    """Where an action's CodeBuild project is: a resource of the pipeline's stack (by ``Ref``), or, for an action in
    another Region, of that Region's stack (by the name it is given there)."""

    resolver: Resolver
    named: Mapping[str, tuple[str, str]]
    """A project's name, for projects that have one: its stack and logical id."""

    @classmethod
    def of(cls, resolver: Resolver) -> _Projects:
        named = {
            resource["Properties"]["Name"]: (stack, logical_id)
            for stack, template in resolver.templates.items()
            for logical_id, resource in template.get("Resources", {}).items()
            if resource.get("Type") == _PROJECT and isinstance(resource.get("Properties", {}).get("Name"), str)
        }
        return cls(resolver, named)

    def find(self, stack: str, reference: Any) -> tuple[Callable[[Any], Any], Mapping[str, Any], str]:
        """The project's stack's resolver and resources, and its logical id ("" when it is nowhere)."""
        if isinstance(reference, str) and reference in self.named:
            stack, logical_id = self.named[reference]
        else:
            logical_id = str(reference.get("Ref")) if isinstance(reference, dict) else ""
        resources = self.resolver.templates[stack].get("Resources", {})
        return functools.partial(self.resolver.resolve, stack), resources, logical_id


def _project_action(projects: _Projects, stack: str, raw: Mapping[str, Any], base: dict[str, Any]) -> Action:
    resolve, resources, logical_id = projects.find(stack, raw.get("Configuration", {}).get("ProjectName"))
    if logical_id not in resources or resources[logical_id]["Type"] != _PROJECT:
        raise AssemblyError(f"action {raw['Name']}: its CodeBuild project is not a resource of this stack")
    properties = resources[logical_id]["Properties"]
    spec_text = resolve(properties.get("Source", {}).get("BuildSpec"))
    if not isinstance(spec_text, str):
        raise AssemblyError(f"action {raw['Name']}: the project has no inline buildspec")
    environment = properties.get("Environment", {})
    variables = {item["Name"]: str(resolve(item["Value"])) for item in environment.get("EnvironmentVariables", [])}
    variables.update(_action_variables(base["configuration"]))
    return Action(
        **base,
        project=logical_id,
        buildspec=json.loads(spec_text),
        image=str(environment.get("Image", "")),
        variables=variables,
        in_vpc="VpcConfig" in properties,
        region=raw.get("Region"),
    )


def _action(projects: _Projects, stack: str, raw: Mapping[str, Any]) -> Action:
    resolve = functools.partial(projects.resolver.resolve, stack)
    kind = raw["ActionTypeId"]
    base: dict[str, Any] = {
        "name": raw["Name"],
        "category": kind["Category"],
        "provider": kind["Provider"],
        "configuration": resolve(raw.get("Configuration", {})),
        "inputs": tuple(item["Name"] for item in raw.get("InputArtifacts", [])),
        "outputs": tuple(item["Name"] for item in raw.get("OutputArtifacts", [])),
        "run_order": int(raw.get("RunOrder", 1)),
        "namespace": raw.get("Namespace"),
    }
    if kind["Provider"] == "CodeBuild":
        return _project_action(projects, stack, raw, base)
    return Action(**base, region=raw.get("Region"))


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
    resolver = Resolver({stack: template for stack, _, _, template in stacks})
    projects = _Projects.of(resolver)
    for stack, folder, artifact, template in stacks:
        resources = template.get("Resources", {})
        paths = _paths(folder, artifact)
        resolve = functools.partial(resolver.resolve, stack)
        for logical_id, resource in resources.items():
            if resource.get("Type") != _PIPELINE:
                continue
            stages = tuple(
                Stage(
                    raw["Name"],
                    tuple(sorted((_action(projects, stack, a) for a in raw["Actions"]), key=lambda a: a.run_order)),
                )
                for raw in resource["Properties"]["Stages"]
            )
            if _validated(stages):
                raw_path = resource.get("Metadata", {}).get("aws:cdk:path") or paths.get(logical_id, logical_id)
                name = resolve(resource["Properties"].get("Name")) or resolver.reference(stack, logical_id)
                pipelines.append(Pipeline(_construct_path(raw_path), logical_id, stack, stages, folder, str(name)))
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
        text = log.read_text(encoding="utf-8", errors="replace")
        tail = "\n".join(text.splitlines()[-20:])
        message = f"the app ({shlex.quote(command)}) failed with exit code {result.returncode}:\n{tail}"
        if "No module named 'aws_cdk'" in text:
            message += f"\n{_no_cdk_hint(command, cwd, env.get('PATH', os.defpath))}"
        raise AssemblyError(message)
    return outdir


def _no_cdk_hint(command: str, cwd: Path, path: str) -> str:
    """Which Python the app command ran (its first word, as the shell finds it), and how to give it aws-cdk-lib."""
    words = command.split()
    first = words[0] if words else ""
    fix = "activate the virtual environment that has aws-cdk-lib (e.g. source .venv/bin/activate), or install it"
    if not _PYTHON.fullmatch(Path(first).name):
        return f"The app's Python (started by {first}) cannot import aws_cdk: {fix} (pip install aws-cdk-lib)."
    if "/" in first:
        python = where = os.path.normpath(cwd / first)
    else:
        python = shutil.which(first, path=path) or first
        where = f"{python} (the {first} first on PATH)"
    return f"The app ran {where}, which cannot import aws_cdk: {fix}: {shlex.quote(python)} -m pip install aws-cdk-lib"
