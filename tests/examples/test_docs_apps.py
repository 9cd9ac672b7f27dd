"""Apps written only from the README synthesize (issue 12), on the locked aws-cdk-lib and, through
``make test-floor``, on the lowest one the package allows.

Which README blocks are apps, and how each is built:

- Every fenced ``python`` block must parse.
- A block that calls ``ValidatedS3Pipeline(`` is an app: a complete usage example, written as the body of a stack's
  ``__init__`` (``self`` is the scope). Each runs, as a user would paste it, inside a ``cdk.Stack`` subclass in a
  fresh ``cdk.App``, after the README's import block ("Every name the examples and this README use, imported": the
  one block made only of imports). A block of its own imports keeps them; they run inside ``__init__``.
  Blocks that do not build a pipeline (``pipeline.add_build_stage(...)``, ``ValidationOptions(...)``, an
  acknowledgement) are fragments of another app and are only parsed.
- A name an app uses that neither the block nor the import block defines is an error, unless it is in
  ``READER_SUPPLIED``: the values the README deliberately leaves to the reader (an alarm of their own), each with
  the stand-in used here. A stand-in no app uses any more is an error too, so the list stays honest.

Each app is synthesized once (a module-scoped fixture; jsii takes ~3-6 s per app), then must contain exactly one
pipeline, the stack outputs the README lists and no synthesis error; the "Use" section's apps must also grant an
uploader (no ``noUploader`` warning), as the README says.
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
from dataclasses import dataclass
from functools import cache
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from tests.conftest import ROOT

README = ROOT / "README.md"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{2,4} (.+)$", re.MULTILINE)
APP_MARKER = "ValidatedS3Pipeline("
OUTPUT_IDS = ("SourceBucketName", "ObjectKey", "SourceKeyArn", "PipelineName", "DeadLetterQueueUrl", "UploadCommand")

READER_SUPPLIED: dict[str, str] = {
    # "Test, deploy, approve, roll back": the alarm watched after the production deployment is the reader's own.
    "production_errors": (
        'production_errors = cloudwatch.Alarm(self, "ProductionErrors", metric=cloudwatch.Metric(namespace="MyApp",'
        ' metric_name="Errors"), threshold=1, evaluation_periods=1)'
    ),
}
"""Names the README leaves to the reader, and the stand-in statement (run in the stack, before the block)."""


@dataclass(frozen=True)
class Block:
    """One fenced ``python`` block of the README."""

    line: int  # of the opening fence, 1-based
    section: str  # the nearest heading above it
    code: str

    @property
    def label(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.section.lower()).strip("-")
        return f"{slug}-line{self.line}"


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    headings = [(m.start(), m.group(1).strip()) for m in HEADING.finditer(text)]
    blocks = []
    for match in FENCE.finditer(text):
        section = next((title for start, title in reversed(headings) if start < match.start()), "top")
        blocks.append(Block(text.count("\n", 0, match.start()) + 1, section, match.group(1)))
    return blocks


def import_block(blocks: list[Block]) -> Block:
    """The README's one block made only of imports: what every app may use."""
    found = [b for b in blocks if all(isinstance(s, ast.Import | ast.ImportFrom) for s in ast.parse(b.code).body)]
    assert len(found) == 1, f"expected one import-only python block in the README, found {[b.line for b in found]}"
    return found[0]


def defined_names(code: str) -> set[str]:
    """Names a block binds: assignments, imports (as bound), functions and classes."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def used_names(code: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def free_names(block: Block, imports: Block) -> set[str]:
    """Names the block uses that nothing in the README defines for it."""
    known = defined_names(block.code) | defined_names(imports.code) | set(dir(builtins)) | {"self"}
    return used_names(block.code) - known


BLOCKS = readme_blocks()
IMPORTS = import_block(BLOCKS)
APPS = [b for b in BLOCKS if APP_MARKER in b.code]


def app_source(block: Block) -> str:
    """The module a user would write from the README: the import block, then the example as a stack's body."""
    stand_ins = [READER_SUPPLIED[name] for name in sorted(free_names(block, IMPORTS)) if name in READER_SUPPLIED]
    body = "\n".join([*stand_ins, block.code])
    return (
        f"{IMPORTS.code}\n\n"
        "class ReadmeApp(cdk.Stack):\n"
        "    def __init__(self, scope, construct_id):\n"
        "        super().__init__(scope, construct_id)\n"
        f"{textwrap.indent(body, ' ' * 8)}\n"
    )


@dataclass(frozen=True)
class SynthesizedApp:
    template: dict[str, Any]
    errors: list[str]
    warnings: list[str]


@cache
def synthesize_block(block: Block) -> SynthesizedApp:
    """Build the block's app in a fresh ``cdk.App`` and synthesize it, once per test session."""
    namespace: dict[str, Any] = {"__name__": f"readme_app_line{block.line}"}
    exec(compile(app_source(block), f"<README.md python block at line {block.line}>", "exec"), namespace)  # noqa: S102  # the README's own example
    app = cdk.App()
    stack = namespace["ReadmeApp"](app, "ReadmeApp")
    artifact = app.synth().get_stack_by_name(stack.stack_name)
    levels = cdk.cx_api.SynthesisMessageLevel

    def texts(level: Any) -> list[str]:
        return [f"{m.id}: {m.entry.data}" for m in artifact.messages if m.level == level]

    return SynthesizedApp(artifact.template, texts(levels.ERROR), texts(levels.WARNING))


@pytest.fixture(scope="module", params=APPS, ids=[b.label for b in APPS])
def readme_app(request: pytest.FixtureRequest) -> tuple[Block, SynthesizedApp]:
    """Each README app, synthesized once."""
    block: Block = request.param
    return block, synthesize_block(block)


# --- Which blocks: found, parsed, closed over ------------------------------------------------------------------


def test_readme_apps_are_found() -> None:
    # GIVEN the README  THEN its apps include the "Use" section's one statement, the seed system and the
    # test-and-deploy example (a README rewrite that drops the marker fails here instead of testing nothing)
    sections = [b.section for b in APPS]
    assert len(APPS) >= 3, sections
    assert "Use" in sections
    assert "Test, deploy, approve, roll back" in sections


@pytest.mark.parametrize("block", BLOCKS, ids=[b.label for b in BLOCKS])
def test_readme_python_block_parses(block: Block) -> None:
    ast.parse(block.code, filename=f"README.md line {block.line}")


@pytest.mark.parametrize("block", APPS, ids=[b.label for b in APPS])
def test_readme_app_uses_only_names_the_readme_defines(block: Block) -> None:
    # GIVEN an app block  THEN every name it uses comes from the block, the README's import block or READER_SUPPLIED
    missing = free_names(block, IMPORTS) - READER_SUPPLIED.keys()
    assert not missing, (
        f"README.md line {block.line} ({block.section}) uses {sorted(missing)}, which the README never defines: "
        "import it in the README's import block, define it in the example, or add a stand-in to READER_SUPPLIED"
    )


def test_every_reader_supplied_name_is_still_used() -> None:
    used = set().union(*(free_names(b, IMPORTS) for b in APPS))
    assert set(READER_SUPPLIED) <= used, f"READER_SUPPLIED names no README app uses: {set(READER_SUPPLIED) - used}"


@pytest.mark.parametrize("block", APPS, ids=[b.label for b in APPS])
def test_readme_app_is_a_stack_body(block: Block) -> None:
    assert "self" in used_names(block.code), (
        f"README.md line {block.line}: an example that builds a ValidatedS3Pipeline is written as a stack's body, "
        "with `self` as the scope (see this module's docstring)"
    )


# --- Each app synthesizes -------------------------------------------------------------------------------------


def test_readme_app_synthesizes_a_pipeline(readme_app: tuple[Block, SynthesizedApp]) -> None:
    # GIVEN an app written from the README alone  WHEN it is synthesized
    block, app = readme_app
    # THEN synthesis reports no error and the template holds the pipeline
    assert app.errors == [], f"README.md line {block.line}: {app.errors}"
    Template.from_json(app.template).resource_count_is("AWS::CodePipeline::Pipeline", 1)
    assert sum(r["Type"] == "AWS::CodeBuild::Project" for r in app.template["Resources"].values()) >= 1


def test_readme_app_has_the_documented_outputs(readme_app: tuple[Block, SynthesizedApp]) -> None:
    # THEN the stack has the outputs the README lists ("Use", "Upload a package"), under the pipeline's id
    block, app = readme_app
    output_names = {re.sub(r"[0-9A-F]{8}$", "", key) for key in app.template.get("Outputs", {})}
    assert {f"Pipeline{name}" for name in OUTPUT_IDS} <= output_names, f"README.md line {block.line}"


def test_use_section_apps_grant_an_uploader() -> None:
    # GIVEN the "Use" section's apps (the one statement, the seed system), which the README says grant uploads
    use = [b for b in APPS if b.section == "Use"]
    assert use
    for block in use:
        # THEN none warns that nobody but the root user may upload
        assert not [w for w in synthesize_block(block).warnings if "noUploader" in w], f"README.md line {block.line}"
