"""Apps written only from the README and the reference pages (docs/*.md) synthesize, on the locked aws-cdk-lib and,
through ``make test-floor``, on the lowest one the package allows.

Which ``python`` blocks are apps, and how each is built:

- A block that calls ``ValidatedS3Pipeline(`` is an app: a complete usage example, written as the body of a stack's
  ``__init__`` (``self`` is the stack). The README's blocks are self-contained (their own imports: a reader on PyPI
  has nothing else); a docs page's block runs after the one import block of docs/index.md ("these imports").
- A block that does not build a pipeline is a fragment. One that uses names an app above it on the same page defines
  (``pipeline.add_build_stage(...)``) runs in that app's stack, after it. One that needs no such name (an options
  expression) runs on its own, and its value must have no problems. Any other name it needs is an error.
- A name an app uses that nothing defines is an error, unless it is in ``READER_SUPPLIED``: the values the docs leave
  to the reader (an alarm of their own), each with the stand-in used here. A stand-in no app uses is an error too.

Every app is one stack of one ``cdk.App``, synthesized once per session (jsii takes seconds per synthesis). Each stack
must hold exactly one pipeline with the documented outputs and no synthesis error; what its code says must show in
its template: each stage ``add_build_stage`` names is in the pipeline, an acknowledged warning is not given, a retired
environment asked for is warned about, and a validate stage given no environment runs on the maintained image.
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from tests.conftest import ROOT
from tests.test_pipeline import OUTPUT_IDS

README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,4} (.+)$", re.MULTILINE)
APP_MARKER = "ValidatedS3Pipeline("
MAINTAINED_IMAGE = "aws/codebuild/standard:7.0"
RETIRED = "retiredBuildEnvironment"

READER_SUPPLIED: dict[str, str] = {
    # stages.md, "A pipeline with every stage": the alarm watched after the production deployment is the reader's own.
    "production_errors": (
        'production_errors = cloudwatch.Alarm(self, "ProductionErrors", metric=cloudwatch.Metric(namespace="MyApp",'
        ' metric_name="Errors"), threshold=1, evaluation_periods=1)'
    ),
}
"""Names the docs leave to the reader, and the stand-in statement (run in the stack, before the block)."""


@dataclass(frozen=True)
class Block:
    """One fenced ``python`` block of a page."""

    page: str  # relative to the repository: README.md, docs/stages.md
    line: int  # of the opening fence, 1-based
    section: str  # the nearest heading above it
    code: str

    @property
    def label(self) -> str:
        return f"{Path(self.page).stem}-line{self.line}"

    @property
    def is_app(self) -> bool:
        return APP_MARKER in self.code


def page_blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    headings = [(m.start(), m.group(1).strip()) for m in HEADING.finditer(text)]
    blocks = []
    for match in FENCE.finditer(text):
        section = next((title for start, title in reversed(headings) if start < match.start()), "top")
        page = path.relative_to(ROOT).as_posix()
        blocks.append(Block(page, text.count("\n", 0, match.start()) + 1, section, match.group(1)))
    return blocks


def is_import_block(block: Block) -> bool:
    return all(isinstance(s, ast.Import | ast.ImportFrom) for s in ast.parse(block.code).body)


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


BLOCKS = [block for page in PAGES for block in page_blocks(page)]
[IMPORTS] = [b for b in BLOCKS if b.page == "docs/index.md" and is_import_block(b)]


def prelude(block: Block) -> str:
    """What runs before a block: nothing for the README's, docs/index.md's imports for a page's."""
    return "" if block.page == "README.md" else IMPORTS.code


def free_names(code: str, block: Block) -> set[str]:
    """Names ``code`` (a block, or an app with its fragments) uses that neither it nor its prelude defines."""
    known = defined_names(code) | defined_names(prelude(block)) | set(dir(builtins)) | {"self"}
    return used_names(code) - known


@dataclass(frozen=True)
class Example:
    """An app block and the fragments after it on its page that use what it defines: one stack."""

    app: Block
    fragments: tuple[Block, ...] = ()

    @property
    def code(self) -> str:
        return "\n".join([self.app.code, *(fragment.code for fragment in self.fragments)])

    @property
    def label(self) -> str:
        return self.app.label


def group(blocks: list[Block]) -> tuple[list[Example], list[Block], list[Block]]:
    """The examples, the standalone fragments, and the fragments that use names no app above them defines."""
    examples: list[Example] = []
    standalone: list[Block] = []
    orphans: list[Block] = []
    for block in blocks:
        if block is IMPORTS:
            continue
        if block.is_app:
            examples.append(Example(block))
            continue
        needed = free_names(block.code, block)
        if not needed:
            standalone.append(block)
            continue
        hosts = [i for i, e in enumerate(examples) if e.app.page == block.page and needed <= defined_names(e.app.code)]
        if not hosts:
            orphans.append(block)
            continue
        host = examples[hosts[-1]]
        examples[hosts[-1]] = Example(host.app, (*host.fragments, block))
    return examples, standalone, orphans


EXAMPLES, STANDALONE, ORPHANS = group(BLOCKS)


def stack_source(example: Example) -> str:
    """The module a user would write from the docs: the prelude, then the example as a stack's body."""
    needed = free_names(example.code, example.app)
    body = "\n".join([*(READER_SUPPLIED[name] for name in sorted(needed & READER_SUPPLIED.keys())), example.code])
    return (
        f"import aws_cdk as _harness_cdk\n{prelude(example.app)}\n\n"
        "class DocsApp(_harness_cdk.Stack):\n"
        "    def __init__(self, scope, construct_id):\n"
        "        super().__init__(scope, construct_id)\n"
        f"{textwrap.indent(body, ' ' * 8)}\n"
    )


@dataclass(frozen=True)
class SynthesizedApp:
    built: str | None  # the exception building the stack raised, if any
    template: dict[str, Any]
    errors: list[str]
    warnings: list[str]


@cache
def synthesized_examples() -> dict[str, SynthesizedApp]:
    """Every example as a stack of one ``cdk.App``, synthesized once: one synthesis for all of them."""
    app = cdk.App()
    stacks: dict[str, cdk.Stack] = {}
    failed: dict[str, str] = {}
    for number, example in enumerate(EXAMPLES):
        namespace: dict[str, Any] = {"__name__": f"docs_app_{example.label}"}
        where = f"<{example.app.page} python block at line {example.app.line}>"
        try:
            exec(compile(stack_source(example), where, "exec"), namespace)  # noqa: S102  # the docs' own example
            stacks[example.label] = namespace["DocsApp"](app, f"DocsApp{number}")
        except Exception as error:  # reported by the test of that example, the others still run
            failed[example.label] = f"{type(error).__name__}: {error}"
    assembly = app.synth()
    levels = cdk.cx_api.SynthesisMessageLevel
    result = {label: SynthesizedApp(error, {}, [], []) for label, error in failed.items()}
    for label, stack in stacks.items():
        artifact = assembly.get_stack_by_name(stack.stack_name)

        def texts(level: Any, artifact: Any = artifact) -> list[str]:
            return [f"{m.id}: {m.entry.data}" for m in artifact.messages if m.level == level]

        result[label] = SynthesizedApp(None, artifact.template, texts(levels.ERROR), texts(levels.WARNING))
    return result


@pytest.fixture(params=EXAMPLES, ids=[e.label for e in EXAMPLES])
def example(request: pytest.FixtureRequest) -> tuple[Example, SynthesizedApp]:
    """Each example, from the one synthesis of them all."""
    chosen: Example = request.param
    return chosen, synthesized_examples()[chosen.label]


def where(example: Example) -> str:
    return f"{example.app.page} line {example.app.line} ({example.app.section})"


def pipeline_of(app: SynthesizedApp) -> dict[str, Any]:
    [pipeline] = [r for r in app.template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    return pipeline


def validate_project(app: SynthesizedApp) -> dict[str, Any]:
    """The CodeBuild project of the pipeline's Validate stage."""
    stages = {stage["Name"]: stage for stage in pipeline_of(app)["Properties"]["Stages"]}
    [action] = [action for action in stages["Validate"]["Actions"] if action["Name"] == "Validate"]
    project: dict[str, Any] = app.template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]
    return project


def call_arguments(code: str, method: str) -> list[str]:
    """The first argument, when a string, of every call of ``method`` in ``code``."""
    return [
        node.args[0].value
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == method
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]


# --- Which blocks: found, closed over -------------------------------------------------------------------------


def test_the_apps_of_the_readme_and_the_reference_are_found() -> None:
    # GIVEN the pages  THEN the apps include the README's one statement and seed example, and the reference's
    # pipeline with every stage and foundation (a rewrite that drops the marker fails here instead of testing nothing)
    found = {(e.app.page, e.app.section) for e in EXAMPLES}
    assert {("README.md", "Use"), ("README.md", "The seed example")} <= found
    assert {
        ("docs/stages.md", "A pipeline with every stage"),
        ("docs/foundation.md", "Many pipelines: a shared foundation"),
    } <= found
    # AND every python block is an app, a fragment joined to one, the docs' import block or a standalone fragment
    joined = [fragment for e in EXAMPLES for fragment in e.fragments]
    assert len(BLOCKS) == len(EXAMPLES) + len(joined) + len(STANDALONE) + 1


def test_every_fragment_runs_somewhere() -> None:
    # GIVEN a block that is not an app  THEN it uses only names an app above it on its page defines, or none
    assert not ORPHANS, [
        f"{b.page} line {b.line} uses {sorted(free_names(b.code, b))}, which no app above it defines" for b in ORPHANS
    ]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.label for e in EXAMPLES])
def test_an_app_uses_only_names_the_docs_define(example: Example) -> None:
    # GIVEN an app and its fragments  THEN every name comes from them, their prelude or READER_SUPPLIED
    missing = free_names(example.code, example.app) - READER_SUPPLIED.keys()
    assert not missing, (
        f"{where(example)} uses {sorted(missing)}, which the page never defines: import it (the README's blocks "
        "import their own names; a docs page's come from docs/index.md), define it, or add a stand-in to "
        "READER_SUPPLIED"
    )


def test_every_reader_supplied_name_is_still_used() -> None:
    used = set().union(*(free_names(e.code, e.app) for e in EXAMPLES))
    assert set(READER_SUPPLIED) <= used, f"READER_SUPPLIED names no app uses: {set(READER_SUPPLIED) - used}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.label for e in EXAMPLES])
def test_an_app_is_a_stack_body(example: Example) -> None:
    assert "self" in used_names(example.app.code), (
        f"{where(example)}: an example that builds a ValidatedS3Pipeline is written as a stack's body, with `self` "
        "as the scope (see this module's docstring)"
    )


@pytest.mark.parametrize("block", STANDALONE, ids=[b.label for b in STANDALONE])
def test_a_standalone_fragment_builds_options_without_problems(block: Block) -> None:
    # GIVEN a fragment that needs no app (an options expression)  WHEN it runs after its prelude
    namespace: dict[str, Any] = {}
    exec(compile(prelude(block), "<prelude>", "exec"), namespace)  # noqa: S102  # the docs' own imports
    value = eval(compile(block.code, f"<{block.page} python block at line {block.line}>", "eval"), namespace)  # noqa: S307
    # THEN it builds an options object of the library that finds nothing wrong with itself
    assert type(value).__module__.startswith("s3_validated_pipeline."), f"{block.page} line {block.line}: {value!r}"
    assert value.problems("options") == []


# --- Each app synthesizes, and does what its code says ---------------------------------------------------------


def test_an_app_synthesizes_one_pipeline(example: tuple[Example, SynthesizedApp]) -> None:
    # GIVEN an app written from the docs alone  WHEN it is synthesized
    written, app = example
    # THEN it was built, synthesis reports no error and the template holds one pipeline and its projects
    assert app.built is None, f"{where(written)}: {app.built}"
    assert app.errors == [], f"{where(written)}: {app.errors}"
    pipeline_of(app)
    assert sum(r["Type"] == "AWS::CodeBuild::Project" for r in app.template["Resources"].values()) >= 1


def test_an_app_has_the_documented_outputs(example: tuple[Example, SynthesizedApp]) -> None:
    # THEN the stack has the outputs docs/options.md lists, under the pipeline's id
    written, app = example
    output_names = {re.sub(r"[0-9A-F]{8}$", "", key) for key in app.template.get("Outputs", {})}
    assert {f"Pipeline{name}" for name in OUTPUT_IDS} <= output_names, where(written)


def test_an_apps_own_stages_are_in_its_pipeline(example: tuple[Example, SynthesizedApp]) -> None:
    # GIVEN the stages the app's code adds with add_build_stage  THEN each is a stage of the synthesized pipeline
    written, app = example
    stages = [stage["Name"] for stage in pipeline_of(app)["Properties"]["Stages"]]
    assert set(call_arguments(written.code, "add_build_stage")) <= set(stages), (where(written), stages)


def test_an_acknowledged_warning_is_not_given(example: tuple[Example, SynthesizedApp]) -> None:
    # GIVEN the warnings the app's code acknowledges  THEN synthesis gives none of them
    written, app = example
    for warning_id in call_arguments(written.code, "acknowledge_warning"):
        assert not [w for w in app.warnings if warning_id in w], (where(written), warning_id)


def test_a_retired_environment_asked_for_is_warned_about(example: tuple[Example, SynthesizedApp]) -> None:
    # GIVEN an app asking for Ubuntu 20.04 with Node.js 16 without acknowledging it  THEN synthesis warns
    written, app = example
    acknowledged = any(RETIRED in w for w in call_arguments(written.code, "acknowledge_warning"))
    warned = any(RETIRED in w for w in app.warnings)
    assert warned == ("UBUNTU_20_04_NODE_16" in written.code and not acknowledged), (where(written), app.warnings)


def test_a_validate_stage_given_no_environment_runs_on_the_maintained_image(
    example: tuple[Example, SynthesizedApp],
) -> None:
    # GIVEN an app whose validation names no build environment  THEN Validate runs on standard:7.0, as the docs say
    written, app = example
    image = validate_project(app)["Properties"]["Environment"]["Image"]
    if "build_environment" not in written.code:
        assert image == MAINTAINED_IMAGE, where(written)


def test_the_readmes_apps_grant_an_uploader() -> None:
    # GIVEN the README's apps (the one statement, the seed example), which grant uploads as the README says
    readme = [e for e in EXAMPLES if e.app.page == "README.md"]
    assert readme
    for written in readme:
        # THEN none warns that nobody but the root user may upload
        assert not [w for w in synthesized_examples()[written.label].warnings if "noUploader" in w], where(written)
