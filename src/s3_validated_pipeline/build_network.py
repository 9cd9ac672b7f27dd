"""The network CodeBuild projects run in: a VPC, its subnets and security groups (docs/options.md, Builds in a VPC)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2

from ._inputs import looks_like, options_problems
from .errors import Problem, Shown, wrong_type

MAX_SECURITY_GROUPS = 5
"""The most security groups CodeBuild takes in a project's ``VpcConfig``."""
_PUBLIC_FIX = (
    "CodeBuild gives a build no public IP address, so in a public subnet it reaches neither the internet nor AWS. "
    "Choose private subnets (outbound through a NAT gateway) or, for builds that run untrusted code, isolated subnets "
    "with VPC endpoints: subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)."
)


@dataclass(frozen=True, kw_only=True)
class BuildNetwork:
    """Run CodeBuild projects in a VPC, so that a build reaches only what the VPC lets it reach.

    Builds run the package's own code. In isolated subnets with the VPC endpoints docs/options.md lists, and no NAT
    gateway, they reach AWS and your package mirror and nothing else. Each project's role gets the EC2 permissions
    AWS documents for CodeBuild in a VPC; it may attach a network interface only in the project's subnets.

    Args:
        vpc: the VPC the builds run in.
        subnets: which of its subnets. Default: its private subnets with egress (through a NAT gateway) when it has
            any, else its isolated subnets. Public subnets are refused: CodeBuild gives a build no public IP address.
        security_groups: the builds' security groups, one to five. Default: one the pipeline creates for its builds
            in this VPC, allowing no inbound traffic and outbound HTTPS (TCP 443) only.
    """

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection | None = None
    security_groups: Sequence[ec2.ISecurityGroup] | None = None

    def subnet_selection(self) -> ec2.SubnetSelection:
        """The subnets the builds run in: ``subnets``, or the default described above."""
        if self.subnets is not None:
            return self.subnets
        kind = ec2.SubnetType.PRIVATE_WITH_EGRESS if self.vpc.private_subnets else ec2.SubnetType.PRIVATE_ISOLATED
        return ec2.SubnetSelection(subnet_type=kind)

    def problems(self, argument: str) -> list[Problem]:
        """Return what is wrong with this network, naming it as ``argument``."""
        if not looks_like(self.vpc, "vpc_id", "select_subnets", "public_subnets", "private_subnets"):
            example = "ec2.Vpc.from_lookup(self, 'Vpc', vpc_id='vpc-0123456789abcdef0')"
            return [wrong_type(f"{argument}.vpc", self.vpc, "an ec2.IVpc", example), *self._group_problems(argument)]
        return [*self._subnet_problems(argument), *self._group_problems(argument)]

    def _subnet_problems(self, argument: str) -> list[Problem]:
        name = f"{argument}.subnets"
        if self.subnets is not None and not isinstance(self.subnets, ec2.SubnetSelection):
            example = "ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)"
            return [wrong_type(name, self.subnets, "an ec2.SubnetSelection or None", example)]
        if self.subnets is None and not (self.vpc.private_subnets or self.vpc.isolated_subnets):
            return [
                Problem(
                    name,
                    None,
                    f"The VPC {self.vpc.node.path} has no private or isolated subnets to default to. {_PUBLIC_FIX}",
                )
            ]
        shown = Shown(_selection_text(self.subnets)) if self.subnets is not None else None
        selection = self.subnet_selection()
        try:
            selected = self.vpc.select_subnets(
                availability_zones=selection.availability_zones,
                one_per_az=selection.one_per_az,
                subnet_filters=selection.subnet_filters,
                subnet_group_name=selection.subnet_group_name,
                subnets=selection.subnets,
                subnet_type=selection.subnet_type,
            ).subnets
        except RuntimeError as error:  # how jsii raises aws-cdk-lib's errors: the message says what the VPC lacks
            return [Problem(name, shown, f"The VPC {self.vpc.node.path} cannot give these subnets: {error}.")]
        public = {subnet.subnet_id for subnet in self.vpc.public_subnets}
        if selection.subnet_type == ec2.SubnetType.PUBLIC or any(subnet.subnet_id in public for subnet in selected):
            return [Problem(name, shown, f"These are public subnets. {_PUBLIC_FIX}")]
        if not selected:
            return [Problem(name, shown, "They select no subnet of the VPC: select at least one.")]
        return []

    def _group_problems(self, argument: str) -> list[Problem]:
        name = f"{argument}.security_groups"
        groups: object = self.security_groups
        if groups is None:
            return []
        if isinstance(groups, str) or not isinstance(groups, Sequence):
            example = "[ec2.SecurityGroup.from_security_group_id(self, 'Builds', 'sg-0123456789abcdef0')]"
            return [wrong_type(name, groups, "a list of ec2.ISecurityGroup or None", example)]
        if not 1 <= len(groups) <= MAX_SECURITY_GROUPS:
            return [
                Problem(
                    name,
                    groups,
                    f"CodeBuild takes one to {MAX_SECURITY_GROUPS} security groups: pass None for the pipeline's own "
                    "(no inbound, outbound HTTPS only), or between one and five of yours.",
                )
            ]
        return [
            wrong_type(f"{name}[{index}]", group, "an ec2.ISecurityGroup", "ec2.SecurityGroup(self, 'Builds', vpc=vpc)")
            for index, group in enumerate(groups)
            if not looks_like(group, "security_group_id", "connections")
        ]


def network_problems(argument: str, network: object) -> list[Problem]:
    """A ``BuildNetwork``, or None (a stage then runs in the pipeline's)."""
    return options_problems(argument, network, BuildNetwork, "BuildNetwork(vpc=vpc)", optional=True)


def _selection_text(selection: object) -> str:
    """A SubnetSelection as written (jsii structs have no readable ``repr``)."""
    if not isinstance(selection, ec2.SubnetSelection):
        return repr(selection)
    parts = [
        f"subnet_type=SubnetType.{selection.subnet_type.name}" if selection.subnet_type is not None else "",
        f"subnet_group_name={selection.subnet_group_name!r}" if selection.subnet_group_name is not None else "",
        f"subnets=[{len(selection.subnets)} subnet(s)]" if selection.subnets is not None else "",
    ]
    return f"SubnetSelection({', '.join(part for part in parts if part)})"
