"""A strict fake of the AWS CLI calls a CloudFormation deployment's change-set step makes, for running
``CHANGE_SET_SCRIPT`` for real in bash. Standard library only.

Run as ``python fake_cloudformation.py STATE.json ARGS...`` (the tests put a two-line ``aws`` first on PATH); it keeps
its state in ``STATE.json`` and logs every call, answered or not, to ``STATE.calls.jsonl`` (``args``, the ``caller``
identity, the access ``key`` used, the ``exit`` code). Served, and nothing else (any other call, option or query
exits 252 naming it):

    sts assume-role --role-arn A --role-session-name S [--query Credentials] [--output json]
    cloudformation describe-stacks --stack-name S [--query Stacks[0].StackStatus] [--output text|json]
    cloudformation describe-change-set --stack-name S --change-set-name N [--query Status] [--output text|json]
    cloudformation create-change-set --stack-name S --change-set-name N --change-set-type CREATE|UPDATE
        (--template-body file://F | --template-url https://B.s3.R.amazonaws.com/K) [--role-arn R]
        [--parameters file://F] [--capabilities C...] [--description D]
    cloudformation delete-change-set / execute-change-set --stack-name S --change-set-name N
    cloudformation get-template --stack-name S [--change-set-name N] [--template-stage Original] [--output json]
    cloudformation wait change-set-create-complete --stack-name S --change-set-name N
    cloudformation wait stack-create-complete / stack-update-complete --stack-name S
    s3 cp [--quiet] SRC DEST  (one of them s3://BUCKET/KEY)

Callers are told apart as the CLI finds credentials: ``AWS_ACCESS_KEY_ID`` (it must be one this fake issued, with
its secret and session token) is the role it was issued for; else ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` (as in
CodeBuild) is the build's role. Each call is allowed or denied as the state says: ``may_assume`` (role -> identities
that may assume it: its trust policy and theirs together), ``cloudformation`` (identities that may call it),
``buckets`` (bucket -> identities that may ``read`` and ``write``; CloudFormation reads a
``--template-url`` with its caller's rights). Execution starts a stack's update; the matching ``wait`` completes it
(or, with ``execution_result`` ``ROLLBACK``, sees it roll back); the wrong waiter times out, as the real one would.
Templates must be JSON: changes are computed resource by resource, property by property, as describe-change-set
lists them.

Why not the stand-in of ``s3vp run`` (``cli/_local/aws.py``)? It is the product's promise that a local run never
calls AWS: it serves the checker and the package and refuses everything else, so that a buildspec reaching for AWS
is reported, not imitated. A CloudFormation that creates and executes change sets there would turn that refusal
into a pretended deployment; so this fake lives with the tests that need it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

USAGE, NO_CREDENTIALS, SERVICE_ERROR, WAITER_ERROR = 252, 253, 254, 255
"""The AWS CLI's exit codes: a call it cannot parse, no credentials, an error from the service, a failed waiter."""
TEMPLATE_BODY_BYTES = 51_200
NO_CHANGES = "The submitted information didn't contain changes. Submit different information to create a change set."
BUILD_KEY = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"


class Refused(Exception):
    """A call the fake answers with an error: ``code`` is the exit code, the message goes to stderr."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _service_error(operation: str, error: str, message: str) -> Refused:
    return Refused(SERVICE_ERROR, f"\nAn error occurred ({error}) when calling the {operation} operation: {message}")


def _unknown(why: str) -> Refused:
    return Refused(USAGE, f"fake aws: {why}")


# --- The state ----------------------------------------------------------------------------------------------------


def new_state(*, build_role: str, region: str) -> dict[str, Any]:
    """A world with nothing in it but the build's role: no role it may assume, no stack, no bucket."""
    return {
        "build_role": build_role,
        "region": region,
        "may_assume": {},
        "cloudformation": [],
        "buckets": {},
        "objects": {},
        "credentials": {},
        "stacks": {},
        "counter": 0,
        "execution_result": "COMPLETE",
    }


def load(path: Path) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state


def save(path: Path, state: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(state, indent=1), encoding="utf-8")


def calls_path(path: Path) -> Path:
    return path.with_name(path.stem + ".calls.jsonl")


def calls(path: Path) -> list[dict[str, Any]]:
    """The calls logged so far, in order."""
    log = calls_path(path)
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def add_stack(
    state: dict[str, Any], name: str, template: str | None, *, account: str, status: str = "UPDATE_COMPLETE"
) -> dict[str, Any]:
    """A stack (by default one already deployed from ``template``), without change sets."""
    stack: dict[str, Any] = {
        "StackId": f"arn:aws:cloudformation:{state['region']}:{account}:stack/{name}/{_next_id(state)}",
        "StackName": name,
        "StackStatus": status,
        "Template": template,
        "Parameters": [],
        "change_sets": {},
    }
    state["stacks"][name] = stack
    return stack


def _next_id(state: dict[str, Any]) -> str:
    state["counter"] += 1
    return "{:08x}-0000-4000-8000-{:012x}".format(state["counter"], state["counter"])


def _account(role_arn: str) -> str:
    return role_arn.split(":")[4]


# --- Parsing ------------------------------------------------------------------------------------------------------


def _options(
    args: Sequence[str], *, required: Sequence[str], optional: Sequence[str] = (), lists: Sequence[str] = ()
) -> dict[str, Any]:
    """``--name value`` pairs (``lists``: one or more values), each at most once, every required one present."""
    options: dict[str, Any] = {}
    index = 0
    while index < len(args):
        name = args[index]
        if name not in (*required, *optional, *lists):
            raise _unknown(f"unknown option {name!r}")
        if name in options:
            raise _unknown(f"{name} given twice")
        values = []
        index += 1
        while index < len(args) and not args[index].startswith("--"):
            values.append(args[index])
            index += 1
        if not values or (len(values) > 1 and name not in lists):
            raise _unknown(f"{name} takes {'values' if name in lists else 'one value'}, got {values}")
        options[name] = values if name in lists else values[0]
    missing = [name for name in required if name not in options]
    if missing:
        raise _unknown(f"missing {', '.join(missing)}")
    return options


_QUERIES = {
    "Credentials": ("Credentials",),
    "Stacks[0].StackStatus": ("Stacks", 0, "StackStatus"),
    "Status": ("Status",),
}
"""The ``--query`` expressions this fake evaluates: exactly those the script uses."""


def _output(answer: Any, options: Mapping[str, Any], args: Sequence[str]) -> str:
    value = answer
    if "--query" in options:
        path = _QUERIES.get(options["--query"])
        if path is None:
            raise _unknown(f"unknown --query {options['--query']!r}")
        for step in path:
            value = value[step]
    style = options.get("--output", "json")
    if style == "json":
        return json.dumps(value, indent=4)
    if style == "text" and isinstance(value, str):
        return value
    raise _unknown(f"--output {style} of {type(value).__name__} is not served")


def _read_file_argument(value: str, args: Sequence[str]) -> str:
    if not value.startswith("file://"):
        raise _unknown(f"only file:// is served, got {value!r}")
    with open(value[len("file://") :], encoding="utf-8", newline="") as fh:
        return fh.read()


# --- STS ----------------------------------------------------------------------------------------------------------


def assume_role(state: dict[str, Any], caller: str, args: Sequence[str]) -> str:
    options = _options(args, required=("--role-arn", "--role-session-name"), optional=("--query", "--output"))
    role = options["--role-arn"]
    if caller not in state["may_assume"].get(role, []):
        raise _service_error(
            "AssumeRole",
            "AccessDenied",
            f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role}",
        )
    serial = _next_id(state)
    digest = hashlib.sha256(f"{role}/{serial}".encode()).hexdigest()
    credentials = {
        "AccessKeyId": "ASIA" + digest[:16].upper(),
        "SecretAccessKey": digest[16:56],
        # Real session tokens hold '+', '/' and '=': the script must quote them.
        "SessionToken": "IQoJb3JpZ2luX2Vj+/" + digest[:40] + "==",
        "Expiration": "2030-01-01T00:00:00+00:00",
    }
    state["credentials"][credentials["AccessKeyId"]] = {
        "secret": credentials["SecretAccessKey"],
        "token": credentials["SessionToken"],
        "role": role,
    }
    name = role.rsplit("/", 1)[-1]
    answer = {
        "Credentials": credentials,
        "AssumedRoleUser": {
            "AssumedRoleId": f"AROA{digest[:17].upper()}:{options['--role-session-name']}",
            "Arn": f"arn:aws:sts::{_account(role)}:assumed-role/{name}/{options['--role-session-name']}",
        },
    }
    return _output(answer, options, args)


# --- S3 -----------------------------------------------------------------------------------------------------------


def _may(state: Mapping[str, Any], caller: str, bucket: str, right: str) -> bool:
    return caller in state["buckets"].get(bucket, {}).get(right, [])


def s3_cp(state: dict[str, Any], caller: str, args: Sequence[str], objects_dir: Path) -> str:
    rest = [arg for arg in args if arg != "--quiet"]
    if len(rest) != 2 or any(arg.startswith("-") for arg in rest) or len(args) - len(rest) > 1:
        raise _unknown("expected s3 cp [--quiet] SRC DEST")
    source, target = rest
    if source.startswith("s3://") == target.startswith("s3://"):
        raise _unknown("exactly one of SRC and DEST must be s3://BUCKET/KEY")
    if source.startswith("s3://"):
        bucket = source[len("s3://") :].split("/", 1)[0]
        path = state["objects"].get(source)
        if not _may(state, caller, bucket, "read"):
            raise Refused(1, "fatal error: An error occurred (403) when calling the HeadObject operation: Forbidden")
        if path is None:
            raise Refused(1, "fatal error: An error occurred (404) when calling the HeadObject operation: Not Found")
        shutil.copyfile(path, target)
        return "" if "--quiet" in args else f"download: {source} to {target}"
    bucket = target[len("s3://") :].split("/", 1)[0]
    if not _may(state, caller, bucket, "write"):
        raise Refused(
            1,
            f"upload failed: {source} to {target} An error occurred (AccessDenied) when calling the "
            "PutObject operation: Access Denied",
        )
    objects_dir.mkdir(exist_ok=True)
    stored = objects_dir / f"{_next_id(state)}.bin"
    shutil.copyfile(source, stored)
    state["objects"][target] = str(stored)
    return "" if "--quiet" in args else f"upload: {source} to {target}"


# --- CloudFormation -----------------------------------------------------------------------------------------------


def _stack(state: Mapping[str, Any], name: str, operation: str) -> dict[str, Any]:
    stack: dict[str, Any] | None = state["stacks"].get(name)
    if stack is None:
        raise _service_error(operation, "ValidationError", f"Stack with id {name} does not exist")
    return stack


def _change_set(state: Mapping[str, Any], stack_name: str, name: str, operation: str) -> dict[str, Any]:
    stack = state["stacks"].get(stack_name)
    change_set: dict[str, Any] | None = None if stack is None else stack["change_sets"].get(name)
    if change_set is None:
        raise _service_error(operation, "ChangeSetNotFound", f"ChangeSet [{name}] does not exist")
    return change_set


def _resource_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """describe-change-set's ``Changes`` from one template's resources to another's."""
    changes = []
    for logical_id in sorted(set(old) | set(new)):
        before, after = old.get(logical_id), new.get(logical_id)
        if before == after:
            continue
        resource: Mapping[str, Any] = after or before or {}
        change: dict[str, Any] = {"LogicalResourceId": logical_id, "ResourceType": resource["Type"]}
        if before is None:
            change.update(Action="Add", Scope=[], Details=[])
        elif after is None:
            change.update(Action="Remove", PhysicalResourceId=f"{logical_id}-physical", Scope=[], Details=[])
        else:
            old_props, new_props = before.get("Properties", {}), after.get("Properties", {})
            names = sorted(n for n in set(old_props) | set(new_props) if old_props.get(n) != new_props.get(n))
            change.update(
                Action="Modify",
                PhysicalResourceId=f"{logical_id}-physical",
                Replacement="False",
                Scope=["Properties"] if names else [],
                Details=[
                    {
                        "Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": "Never"},
                        "Evaluation": "Static",
                        "ChangeSource": "DirectModification",
                    }
                    for name in names
                ],
            )
        changes.append({"Type": "Resource", "ResourceChange": change})
    return changes


def _template_text(state: Mapping[str, Any], caller: str, options: Mapping[str, Any], args: Sequence[str]) -> str:
    if ("--template-body" in options) == ("--template-url" in options):
        raise _unknown("give exactly one of --template-body and --template-url")
    if "--template-body" in options:
        text = _read_file_argument(options["--template-body"], args)
        if len(text.encode("utf-8")) > TEMPLATE_BODY_BYTES:
            raise _service_error(
                "CreateChangeSet",
                "ValidationError",
                "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have "
                f"length less than or equal to {TEMPLATE_BODY_BYTES}",
            )
        return text
    url = options["--template-url"]
    match = re.fullmatch(r"https://([a-z0-9.-]+)\.s3\.([a-z0-9-]+)\.amazonaws\.com/(.+)", url)
    if match is None or match.group(2) != state["region"]:
        raise _service_error("CreateChangeSet", "ValidationError", f"TemplateURL must be a supported URL, got {url}")
    bucket, key = match.group(1), match.group(3)
    path = state["objects"].get(f"s3://{bucket}/{key}")
    if path is None or not _may(state, caller, bucket, "read"):
        raise _service_error("CreateChangeSet", "ValidationError", f"S3 error: Access Denied reading {url}")
    return Path(path).read_text(encoding="utf-8")


def _check_parameters(template: Mapping[str, Any], parameters: Sequence[Mapping[str, str]]) -> None:
    declared = template.get("Parameters", {})
    given = [p["ParameterKey"] for p in parameters]
    unknown = [key for key in given if key not in declared]
    if unknown:
        raise _service_error(
            "CreateChangeSet", "ValidationError", f"Parameters: [{', '.join(unknown)}] do not exist in the template"
        )
    missing = [key for key, spec in declared.items() if key not in given and "Default" not in spec]
    if missing:
        raise _service_error(
            "CreateChangeSet", "ValidationError", f"Parameters: [{', '.join(missing)}] must have values"
        )


def create_change_set(state: dict[str, Any], caller: str, args: Sequence[str]) -> str:
    options = _options(
        args,
        required=("--stack-name", "--change-set-name", "--change-set-type"),
        optional=("--template-body", "--template-url", "--role-arn", "--parameters", "--description"),
        lists=("--capabilities",),
    )
    stack_name, name, kind = options["--stack-name"], options["--change-set-name"], options["--change-set-type"]
    if kind not in ("CREATE", "UPDATE"):
        raise _unknown(f"--change-set-type {kind!r} is not served")
    text = _template_text(state, caller, options, args)
    try:
        template = json.loads(text)
    except ValueError:
        raise _unknown("the fake reads JSON templates only") from None
    parameters = json.loads(_read_file_argument(options["--parameters"], args)) if "--parameters" in options else []
    _check_parameters(template, parameters)
    capabilities = options.get("--capabilities", [])
    iam = any(r.get("Type", "").startswith("AWS::IAM::") for r in template.get("Resources", {}).values())
    if iam and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(capabilities):
        raise _service_error(
            "CreateChangeSet", "InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]"
        )
    stack = state["stacks"].get(stack_name)
    if kind == "CREATE" and stack is not None and stack["StackStatus"] != "REVIEW_IN_PROGRESS":
        raise _service_error(
            "CreateChangeSet",
            "ValidationError",
            f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{name}].",
        )
    if kind == "UPDATE" and (stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS"):
        raise _service_error("CreateChangeSet", "ValidationError", f"Stack [{stack_name}] does not exist")
    if (
        stack is not None
        and not stack["StackStatus"].endswith("_COMPLETE")
        and stack["StackStatus"] != "REVIEW_IN_PROGRESS"
    ):
        raise _service_error(
            "CreateChangeSet",
            "ValidationError",
            f"Stack:{stack['StackId']} is in {stack['StackStatus']} state and can not be updated.",
        )
    account = _account(caller)
    if stack is None:
        stack = add_stack(state, stack_name, None, account=account, status="REVIEW_IN_PROGRESS")
    if name in stack["change_sets"]:
        raise _service_error("CreateChangeSet", "AlreadyExistsException", f"ChangeSet {name} already exists")
    current = json.loads(stack["Template"]) if stack["Template"] is not None else {}
    unchanged = stack["Template"] is not None and current == template and stack["Parameters"] == parameters
    change_set_id = f"arn:aws:cloudformation:{state['region']}:{account}:changeSet/{name}/{_next_id(state)}"
    stack["change_sets"][name] = {
        "ChangeSetName": name,
        "ChangeSetId": change_set_id,
        "StackId": stack["StackId"],
        "StackName": stack_name,
        "Description": options.get("--description"),
        "Parameters": parameters,
        "ExecutionStatus": "UNAVAILABLE" if unchanged else "AVAILABLE",
        "Status": "FAILED" if unchanged else "CREATE_COMPLETE",
        **({"StatusReason": NO_CHANGES} if unchanged else {}),
        "NotificationARNs": [],
        "RollbackConfiguration": {},
        "Capabilities": capabilities,
        "IncludeNestedStacks": False,
        "Changes": [] if unchanged else _resource_changes(current.get("Resources", {}), template.get("Resources", {})),
        # Not in describe-change-set's answer: what the change set holds and runs as.
        "template": text,
        "role_arn": options.get("--role-arn"),
        "type": kind,
        "created_by": caller,
    }
    return json.dumps({"Id": change_set_id, "StackId": stack["StackId"]}, indent=4)


def _public(change_set: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in change_set.items() if k[0].isupper() and v is not None}


def describe_change_set(state: dict[str, Any], args: Sequence[str]) -> str:
    options = _options(args, required=("--stack-name", "--change-set-name"), optional=("--query", "--output"))
    change_set = _change_set(state, options["--stack-name"], options["--change-set-name"], "DescribeChangeSet")
    return _output(_public(change_set), options, args)


def delete_change_set(state: dict[str, Any], args: Sequence[str]) -> str:
    options = _options(args, required=("--stack-name", "--change-set-name"))
    _change_set(state, options["--stack-name"], options["--change-set-name"], "DeleteChangeSet")
    del state["stacks"][options["--stack-name"]]["change_sets"][options["--change-set-name"]]
    return ""


def describe_stacks(state: dict[str, Any], args: Sequence[str]) -> str:
    options = _options(args, required=("--stack-name",), optional=("--query", "--output"))
    stack = _stack(state, options["--stack-name"], "DescribeStacks")
    answer = {
        "Stacks": [{k: v for k, v in stack.items() if k in ("StackId", "StackName", "StackStatus", "Parameters")}]
    }
    return _output(answer, options, args)


def get_template(state: dict[str, Any], args: Sequence[str]) -> str:
    options = _options(args, required=("--stack-name",), optional=("--change-set-name", "--template-stage", "--output"))
    if options.get("--template-stage", "Original") != "Original":
        raise _unknown("only --template-stage Original is served")
    if "--change-set-name" in options:
        text = _change_set(state, options["--stack-name"], options["--change-set-name"], "GetTemplate")["template"]
    else:
        text = _stack(state, options["--stack-name"], "GetTemplate")["Template"]
    try:  # as botocore does (json_decode_template_body): a JSON template is given parsed, any other as text
        body: Any = json.loads(text)
    except ValueError:
        body = text
    return _output({"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}, options, args)


def execute_change_set(state: dict[str, Any], caller: str, args: Sequence[str]) -> str:
    options = _options(args, required=("--stack-name", "--change-set-name"))
    stack_name, name = options["--stack-name"], options["--change-set-name"]
    change_set = _change_set(state, stack_name, name, "ExecuteChangeSet")
    if change_set["ExecutionStatus"] != "AVAILABLE":
        raise _service_error(
            "ExecuteChangeSet",
            "InvalidChangeSetStatus",
            f"ChangeSet [{change_set['ChangeSetId']}] cannot be executed in its current status of "
            f"[{change_set['ExecutionStatus']}]",
        )
    stack = state["stacks"][stack_name]
    creating = stack["StackStatus"] == "REVIEW_IN_PROGRESS"
    stack.update(
        StackStatus="CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS",
        Template=change_set["template"],
        Parameters=change_set["Parameters"],
        executed_by=caller,
        executed_as=change_set["role_arn"],
        executed=name,
    )
    # CloudFormation removes a stack's change sets once one of them is executed: none applies any more.
    stack["change_sets"] = {}
    return ""


_WAITERS = {
    "stack-create-complete": ("StackCreateComplete", ("CREATE_COMPLETE", "UPDATE_COMPLETE")),
    "stack-update-complete": ("StackUpdateComplete", ("UPDATE_COMPLETE",)),
}


def wait(state: dict[str, Any], args: Sequence[str]) -> str:
    if args[:1] == ["change-set-create-complete"]:
        options = _options(args[1:], required=("--stack-name", "--change-set-name"))
        change_set = _change_set(state, options["--stack-name"], options["--change-set-name"], "DescribeChangeSet")
        if change_set["Status"] == "FAILED":
            raise Refused(
                WAITER_ERROR,
                "\nWaiter ChangeSetCreateComplete failed: Waiter encountered a terminal failure state: For expression "
                '"Status" we matched expected path: "FAILED"',
            )
        return ""
    if not args or args[0] not in _WAITERS:
        raise _unknown("unknown waiter")
    waiter, success = _WAITERS[args[0]]
    options = _options(args[1:], required=("--stack-name",))
    stack = _stack(state, options["--stack-name"], "DescribeStacks")
    # The deployment ends while someone waits for it: completed, or rolled back when the state says so.
    if stack["StackStatus"].endswith("_IN_PROGRESS") and stack["StackStatus"] != "REVIEW_IN_PROGRESS":
        started = stack["StackStatus"].split("_")[0]
        rolled_back = state["execution_result"] == "ROLLBACK"
        stack["StackStatus"] = {
            ("CREATE", False): "CREATE_COMPLETE",
            ("CREATE", True): "ROLLBACK_COMPLETE",
            ("UPDATE", False): "UPDATE_COMPLETE",
            ("UPDATE", True): "UPDATE_ROLLBACK_COMPLETE",
        }[(started, rolled_back)]
    if stack["StackStatus"] in success:
        return ""
    if stack["StackStatus"] in ("ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "CREATE_FAILED", "UPDATE_FAILED"):
        raise Refused(
            WAITER_ERROR,
            f"\nWaiter {waiter} failed: Waiter encountered a terminal failure state: For expression "
            f'"Stacks[].StackStatus" we matched expected path: "{stack["StackStatus"]}" at least once',
        )
    raise Refused(WAITER_ERROR, f"\nWaiter {waiter} failed: Max attempts exceeded")


# --- The command line ---------------------------------------------------------------------------------------------


def _caller(state: Mapping[str, Any], env: Mapping[str, str], args: Sequence[str]) -> str:
    key = env.get("AWS_ACCESS_KEY_ID")
    if key:
        issued = state["credentials"].get(key)
        if issued is None or (issued["secret"], issued["token"]) != (
            env.get("AWS_SECRET_ACCESS_KEY"),
            env.get("AWS_SESSION_TOKEN"),
        ):
            raise Refused(
                SERVICE_ERROR,
                f"\nAn error occurred (InvalidClientTokenId) when calling {args[:2]}: "
                "The security token included in the request is invalid.",
            )
        role: str = issued["role"]
        return role
    if env.get(BUILD_KEY):
        build: str = state["build_role"]
        return build
    raise Refused(
        NO_CREDENTIALS, 'Unable to locate credentials. You can configure credentials by running "aws configure".'
    )


def answer(state: dict[str, Any], caller: str, args: Sequence[str], objects_dir: Path) -> str:
    """What ``aws ARGS`` prints, as ``caller``; raises ``Refused`` for an error."""
    service, command, rest = (args[0] if args else ""), (args[1] if len(args) > 1 else ""), list(args[2:])
    if (service, command) == ("sts", "assume-role"):
        return assume_role(state, caller, rest)
    if (service, command) == ("s3", "cp"):
        return s3_cp(state, caller, rest, objects_dir)
    if service != "cloudformation":
        raise _unknown("unknown service or command")
    if caller not in state["cloudformation"]:
        operation = "".join(part.title() for part in command.split("-"))
        raise _service_error(
            operation, "AccessDenied", f"User: {caller} is not authorized to perform: cloudformation:{operation}"
        )
    if command == "create-change-set":
        return create_change_set(state, caller, rest)
    if command == "execute-change-set":
        return execute_change_set(state, caller, rest)
    served = {
        "describe-change-set": describe_change_set,
        "delete-change-set": delete_change_set,
        "describe-stacks": describe_stacks,
        "get-template": get_template,
        "wait": wait,
    }
    if command not in served:
        raise _unknown("unknown cloudformation command")
    return served[command](state, rest)


def main(argv: Sequence[str], env: Mapping[str, str]) -> int:
    path, args = Path(argv[0]), list(argv[1:])
    state = load(path)
    caller: str | None = None
    code = 0
    try:
        caller = _caller(state, env, args)
        printed = answer(state, caller, args, path.with_name(path.stem + ".objects"))
        save(path, state)  # only a call that succeeded changes anything
        if printed:
            print(printed)
    except Refused as refused:
        code = refused.code
        print(str(refused) + (f", in: aws {' '.join(args)}" if code == USAGE else ""), file=sys.stderr)
    with calls_path(path).open("a", encoding="utf-8") as log:
        log.write(
            json.dumps({"args": args, "caller": caller, "key": env.get("AWS_ACCESS_KEY_ID"), "exit": code}) + "\n"
        )
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], os.environ))
