"""SECURITY.md lists every acknowledgement and checkov skip the code makes; this keeps the two from drifting."""

from __future__ import annotations

import pytest
from scripts import security_doc

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def generated() -> str:
    return security_doc.render(security_doc.seed_app())


def test_security_md_lists_exactly_the_acknowledgements_in_the_code(generated: str) -> None:
    written = security_doc.generated_section((ROOT / "SECURITY.md").read_text(encoding="utf-8"))
    assert written == generated, "SECURITY.md is out of date: run `python -m scripts.security_doc --write`"


def test_generated_section_holds_the_acknowledgements_that_matter(generated: str) -> None:
    # A spot check that the generator reads real metadata, so an empty table cannot pass the test above.
    assert "| `Trigger/DeadLetterQueue` | `AwsSolutions-SQS3` |" in generated
    assert "| `AccessLogs/Resource` | `CKV_AWS_18` |" in generated
    assert generated.count("\n| `") >= 40
