"""The permission plan (``tests/permissions/plan.py``) holds in every example: each call a principal makes at run time
is allowed by the synthesized policies, and each call it must not be able to make is denied.

Every example's templates come from the session's synthesis (``conftest.synthesized_example_stacks``); nothing is
synthesized here. One test per example, entry and action; a failure names the example, the principal as found in the
templates (its pipeline and role, or the service and what it acts for), the action, the resource and why IAM would
decide otherwise. An entry marked with a known gap is expected to fail, strictly: fixing the gap makes it pass, which
fails the suite until the mark is removed.
"""

from __future__ import annotations

import pytest

from tests.conftest import EXAMPLE_NAMES
from tests.permissions import plan

site = plan.example_site


def _case(example: str, entry: plan.Entry, action: str) -> object:
    marks = [pytest.mark.xfail(reason=entry.gap, strict=True)] if entry.gap else []
    return pytest.param(example, entry, action, id=f"{example}-{entry.principal.id}-{action}-{entry.slug}", marks=marks)


CASES = [
    _case(example, entry, action) for example in sorted(plan.EXAMPLES) for entry, action in plan.applicable(example)
]


@pytest.mark.parametrize(("example", "entry", "action"), CASES)
def test_plan(example: str, entry: plan.Entry, action: str) -> None:
    # GIVEN the example's synthesized templates and what the plan says of one principal's calls
    # WHEN each call is evaluated against every policy that applies
    count, findings = plan.check(site(example), entry, action)
    # THEN there was something to evaluate, and each needed call is allowed, each forbidden one denied
    assert count, f"examples/{example}: {entry.principal.title} {action} on {entry.resource}: nothing to evaluate"
    assert not findings, "\n".join(str(finding) for finding in findings)


@pytest.mark.parametrize("example", sorted(plan.EXAMPLES))
def test_each_example_has_the_principals_the_plan_expects(example: str) -> None:
    # GIVEN the principals the plan finds in the example's templates
    found = {principal.id for principal in plan.PRINCIPALS if plan.instances(site(example), principal)}
    # THEN they are those it expects there: none missing (its entries would have nothing to check), none unplanned
    assert found == plan.PRESENT[example]


def test_the_plan_covers_every_example() -> None:
    assert sorted(plan.EXAMPLES) == EXAMPLE_NAMES == sorted(plan.PRESENT)


def test_every_entry_is_evaluated_in_some_example_and_names_its_source() -> None:
    # GIVEN every entry of the plan
    for entry in plan.ENTRIES:
        # THEN some example has its principal (and its condition, if it has one)
        examples = [example for example in plan.EXAMPLES if any(e is entry for e, _ in plan.applicable(example))]
        assert examples, f"{entry.principal.id} {entry.actions} on {entry.resource}: no example evaluates it"
        assert bool(entry.when) == bool(entry.where), f"{entry.resource}: a condition needs the examples it holds in"
        # AND it cites an AWS documentation page and says why
        assert entry.doc.url.startswith("https://docs.aws.amazon.com/"), entry.doc
        assert entry.why.endswith("."), entry.why
    ids = [(entry.principal.id, action, entry.slug) for entry in plan.ENTRIES for action in entry.actions]
    assert len(ids) == len(set(ids)), "two entries would share a test id"


@pytest.mark.xdist_group("example-cross_account")
@pytest.mark.parametrize("name", ["cross_account", "multi_region"])
def test_cloudformation_targets_deploy_through_the_declared_targets_bootstrap_roles(name: str) -> None:
    # GIVEN an example's CloudFormation targets (in other accounts; in another Region), as the template configures
    # their actions
    example = site(name)
    variables = [
        (pipeline, action)
        for pipeline in example.pipelines
        for action in pipeline.of("CodeBuild")
        if "S3VP_MODE" in action.variables
    ]
    assert variables
    for pipeline, action in variables:
        account, region = example.target_of(pipeline, action)
        # THEN each deploys through the bootstrap roles of the account and Region its DeployTarget names
        assert action.variables["S3VP_DEPLOY_ROLE_ARN"] == plan.bootstrap_role("deploy", account, region)
        assert action.variables["S3VP_FILE_ROLE_ARN"] == plan.bootstrap_role("file-publishing", account, region)
        assert action.variables["S3VP_EXECUTION_ROLE_ARN"] == plan.bootstrap_role("cfn-exec", account, region)
