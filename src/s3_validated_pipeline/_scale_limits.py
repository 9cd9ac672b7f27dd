"""Fail synthesis when a stack holding pipelines would exceed CloudFormation's per-stack limits, and say what to do.

CloudFormation rejects a stack of more than 500 resources, or a template over 1 MB, only when it is deployed. A
construct calls ``check_scale_limits(self)`` and its stack is checked once, however many constructs call it:

- resources are counted by a validation on the stack, before any template is written; aws-cdk-lib fails a stack
  over 500 resources too, but later and without saying which of our constructs to move;
- the template's bytes are measured after it is written, by a policy validation plugin: aws-cdk-lib only warns
  about them, and the size of the file CloudFormation is given is only known once it exists.

A stack that no construct of this library is in is left to aws-cdk-lib's own checks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import jsii
from aws_cdk import (
    CfnResource,
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Stack,
    Stage,
    Token,
    Validations,
)
from constructs import Construct, IValidation

from . import __version__

MAX_RESOURCES = 500
"""The most resources CloudFormation accepts in one stack; a nested stack counts as one in its parent."""
MAX_TEMPLATE_BYTES = 1_000_000
"""The largest template, in bytes, CloudFormation accepts from S3 (1 MB), where the CDK CLI uploads templates.

aws-cdk-lib and cfn-lint read 1 MB as 1,000,000 bytes; aws-cdk-lib warns from there
(``@aws-cdk/core:Stack.templateSize``).
"""

TOO_MANY_RESOURCES = "S3VP_TOO_MANY_RESOURCES"
"""The code that starts the message of a stack over ``MAX_RESOURCES``."""
TEMPLATE_TOO_LARGE = "S3VP_TEMPLATE_TOO_LARGE"
"""The rule name the validation report gives a template over ``MAX_TEMPLATE_BYTES``."""
PLUGIN_NAME = "s3-validated-pipeline"
"""The plugin name the validation report shows, and so the namespace of ``TEMPLATE_TOO_LARGE``."""

FIX = "Move some of them to another stack, or let them share one PipelineFoundation."
# The id of the one _ScaleLimits per stack; distinctive, as a user's construct of this id would hide the check.
_CHECK_ID = "S3ValidatedPipelineScaleLimits"
# A message names this many holders and counts the rest, so twenty pipelines do not bury the advice.
_NAMED_HOLDERS = 3


def check_scale_limits(scope: Construct) -> None:
    """Make synthesis fail when the stack holding ``scope`` would exceed ``MAX_RESOURCES`` or ``MAX_TEMPLATE_BYTES``.

    Call it from a construct's ``__init__`` with the construct itself: the message names it among the constructs
    to move. Later calls for the same stack add their construct to the message but no second check.
    """
    stack = Stack.of(scope)
    check = stack.node.try_find_child(_CHECK_ID)
    if not isinstance(check, _ScaleLimits):
        check = _ScaleLimits(stack, _CHECK_ID)
    check.scale.add_holder(type(scope).__name__, scope.node.path)


@dataclass
class _Scale:
    """What a message says about one stack: its name and the constructs of this library in it, in call order."""

    stack: str
    holders: dict[str, list[str]] = field(default_factory=dict)  # class name -> construct paths

    def add_holder(self, kind: str, path: str) -> None:
        paths = self.holders.setdefault(kind, [])
        if path not in paths:
            paths.append(path)

    def over(self, found: str, limit: str) -> str:
        """What every message says first: e.g. ``found`` "612 resources", ``limit`` "500 per stack"."""
        held = "; ".join(f"{len(paths)} {kind}: {_some(paths)}" for kind, paths in self.holders.items())
        # No closing full stop: the validation report appends the plugin's name in parentheses.
        return (
            f"Stack {self.stack} has {found}; CloudFormation accepts at most {limit} and would reject it at deploy "
            f"time. It holds {held}"
        )


def _some(paths: list[str]) -> str:
    named = ", ".join(paths[:_NAMED_HOLDERS])
    rest = len(paths) - _NAMED_HOLDERS
    return f"{named} and {rest} more" if rest > 0 else named


def _describe(stack: Stack) -> str:
    """``'Path'``, and the deployed name too when it differs (a nested stack's name is only known at deploy time)."""
    path = stack.node.path
    name = stack.stack_name
    if Token.is_unresolved(name) or name == path:
        return f"'{path}'"
    return f"'{path}' (stack name '{name}')"


class _ScaleLimits(Construct):
    """Holds the checks of one stack; it defines no resource."""

    def __init__(self, stack: Stack, id: str) -> None:
        super().__init__(stack, id)
        self.scale = _Scale(_describe(stack))
        # On the stack rather than on this construct, so the error is reported at the stack's path.
        stack.node.add_validation(_ResourceCount(stack, self.scale))
        # Each stack has a plugin of its own that measures only its template, so a stack is never reported twice.
        # Only a Stage runs plugins; a stack outside any is never written, so there is no template to measure.
        stage = Stage.of(stack)
        if stage is not None:
            template = os.path.join(stage.outdir, stack.template_file)
            Validations.of(stack).add_plugins(_TemplateSize(stack, template, self.scale))


def _resource_count(stack: Stack) -> int:
    """The resources ``stack``'s template declares: those below it, a nested stack's own left out.

    ``isinstance`` rather than ``CfnResource.is_cfn_resource`` and ``Stack.of``: jsii gives every L1 its Python class,
    and two jsii calls per construct made the count ten times slower. Should the count ever be short, aws-cdk-lib's
    own limit (counted on the written template) still fails the stack, only with less advice.
    """
    below = [construct for construct in stack.node.find_all() if construct is not stack]
    # A nested stack's resources are in its own template; the AWS::CloudFormation::Stack standing for it in this
    # one is created beside it, outside it, and is counted.
    nested = tuple(f"{construct.node.path}/" for construct in below if isinstance(construct, Stack))
    return sum(
        1
        for construct in below
        if isinstance(construct, CfnResource) and not (nested and construct.node.path.startswith(nested))
    )


@jsii.implements(IValidation)
class _ResourceCount:
    """Fails validation when the stack declares more than ``MAX_RESOURCES`` resources."""

    def __init__(self, stack: Stack, scale: _Scale) -> None:
        self._stack = stack
        self._scale = scale

    def validate(self) -> list[str]:
        found = _resource_count(self._stack)
        if found <= MAX_RESOURCES:
            return []
        over = self._scale.over(f"{found} resources", f"{MAX_RESOURCES} per stack")
        return [f"[{TOO_MANY_RESOURCES}] {over}. {FIX}"]


@jsii.implements(IPolicyValidationPlugin)
class _TemplateSize:
    """Reports the stack's written template when it is over ``MAX_TEMPLATE_BYTES``."""

    def __init__(self, stack: Stack, template: str, scale: _Scale) -> None:
        self._stack = stack
        self._template = template
        self._scale = scale

    @property
    def name(self) -> str:
        return PLUGIN_NAME

    @property
    def version(self) -> str:
        return __version__

    @property
    def rule_ids(self) -> list[str]:
        return [TEMPLATE_TOO_LARGE]

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        try:
            size = os.path.getsize(self._template)
        except FileNotFoundError:  # a synthesizer that writes no template gives CloudFormation nothing to reject
            return PolicyValidationPluginReport(success=True, violations=[])
        if size <= MAX_TEMPLATE_BYTES:
            return PolicyValidationPluginReport(success=True, violations=[])
        violation = PolicyViolation(
            rule_name=TEMPLATE_TOO_LARGE,
            description=self._scale.over(
                f"a template of {size:,} bytes ({self._stack.template_file})", f"{MAX_TEMPLATE_BYTES:,} bytes (1 MB)"
            ),
            fix=FIX,
            # Fatal, because acknowledging cannot make CloudFormation accept the template; the CDK lets no one
            # acknowledge a fatal violation.
            severity="fatal",
            violating_resources=[
                PolicyViolatingResource(
                    construct_path=self._stack.node.path, template_path=self._template, locations=[]
                )
            ],
        )
        return PolicyValidationPluginReport(success=False, violations=[violation])
