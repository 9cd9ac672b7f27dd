"""Project definition: run `python .projenrc.py` (or `npx projen`) after editing, never edit generated files."""

from projen import Makefile, Rule
from projen.python import BuildSystem, PyprojectTomlProject, PythonProject, UvOptions

CDK_VERSION = "2.257.0"  # the floor we build and test on; see CHANGELOG.md

project = PythonProject(
    name="s3-validated-pipeline",
    module_name="s3_validated_pipeline",
    version="0.1.0",
    description="AWS CDK construct: a secure CodePipeline that validates every zip uploaded to S3.",
    author_name="s3-validated-pipeline maintainers",
    author_email="maintainers@s3-validated-pipeline.dev",
    license="Apache-2.0",
    uv=True,
    uv_options=UvOptions(
        build_system=BuildSystem(requires=["hatchling>=1.27"], build_backend="hatchling.build"),
        project=PyprojectTomlProject(name="s3-validated-pipeline", requires_python=">=3.10"),
    ),
    deps=[
        f"aws-cdk-lib@^{CDK_VERSION}",
        "constructs@^10.0.0",
    ],
    dev_deps=[
        "boto3@^1.40",  # the trigger's handler is tested against botocore's Stubber
        "cdk-nag@^3.0",  # the compliance gate; never a runtime dependency
        "cfn-lint@^1.40",
        "checkov@^3.2",
        "hypothesis@^6.100",  # property-based tests of the package checker
        "jsii@^1.100",
        "mypy@^2.0",
        "projen@^0.104.17",
        "pytest@^9.0",
        "ruff@^0.17",
        "syrupy@^5.0",
        "vermin@^1.6",  # the package checker runs on CodeBuild's Python 3.8: checked statically
    ],
    sample=False,
    pytest=False,  # pytest is run by the Makefile's `test` target, with lint and types first
    github=False,
)

pyproject = project.try_find_object_file("pyproject.toml")
assert pyproject is not None
pyproject.add_override(
    "project.classifiers",
    [
        "Framework :: AWS CDK",
        "Framework :: AWS CDK :: 2",
        "Programming Language :: Python :: 3 :: Only",
        "Typing :: Typed",
    ],
)
# PEP 639: the SPDX expression and the licence file it ships (no deprecated licence classifier).
pyproject.add_override("project.license-files", ["LICENSE"])
pyproject.add_override("tool.hatch.build.targets.wheel.packages", ["src/s3_validated_pipeline"])
pyproject.add_override("tool.uv.python-downloads", "never")
pyproject.add_override(
    "tool.ruff",
    {
        "line-length": 120,
        "target-version": "py310",
        "src": ["src", "tests"],
        "lint": {"select": ["E", "F", "W", "I", "B", "UP", "SIM", "RUF", "S", "PT"], "ignore": ["S101"]},
    },
)
pyproject.add_override(
    "tool.mypy",
    {
        "strict": True,
        "python_version": "3.10",
        "files": ["src"],
        "mypy_path": "src",
        # boto3 ships no types; it is only used by the trigger's Lambda handler, which its tests cover.
        "overrides": [{"module": ["boto3", "botocore.*"], "ignore_missing_imports": True}],
    },
)
pyproject.add_override(
    "tool.pytest.ini_options",
    {"testpaths": ["tests"], "addopts": "-ra --strict-markers", "xfail_strict": True},
)

# The two commands at the top of the README. `make` bootstraps its own uv into .tools/
# so both work on a fresh clone with nothing but Python 3.10+ and Node.js (jsii needs it) installed.
env = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20"
Makefile(
    project,
    "Makefile",
    all=["report"],
    rules=[
        Rule(targets=[".tools/bin/uv"], recipe=["python3 -m venv .tools", ".tools/bin/pip install --quiet 'uv>=0.9,<1'"]),
        Rule(
            targets=[".venv/.synced"],
            prerequisites=["pyproject.toml", "uv.lock", ".tools/bin/uv"],
            recipe=[
                ".tools/bin/uv sync --frozen --python python3",
                "touch .venv/.synced",
            ],
        ),
        Rule(
            targets=["report"],
            prerequisites=[".venv/.synced"],
            recipe=[f"{env} .venv/bin/python -m scripts.synth_report examples/seed_pipeline"],
            phony=True,
        ),
        Rule(
            targets=["test"],
            prerequisites=[".venv/.synced"],
            recipe=[
                ".venv/bin/ruff check src tests examples scripts",
                ".venv/bin/ruff format --check src tests examples scripts",
                ".venv/bin/mypy",
                f"{env} .venv/bin/pytest",
            ],
            phony=True,
        ),
        Rule(
            targets=["projen"],
            prerequisites=[".venv/.synced"],
            recipe=[f"PATH=.tools/bin:$$PATH {env} .venv/bin/python .projenrc.py"],
            phony=True,
        ),
        Rule(
            targets=["package"],
            prerequisites=[".venv/.synced"],
            recipe=["rm -rf dist/python", ".tools/bin/uv build --out-dir dist/python"],
            phony=True,
        ),
        # Publishes dist/python to PyPI with publib (the npm package; PyPI's "publib" is unrelated).
        # Needs TWINE_USERNAME=__token__ and TWINE_PASSWORD set to a PyPI token.
        Rule(
            targets=["release"],
            prerequisites=["test", "package"],
            recipe=["npx --yes --package publib@^0.2 publib-pypi dist/python"],
            phony=True,
        ),
        Rule(
            targets=["bench-check"],
            prerequisites=[".venv/.synced"],
            recipe=[".venv/bin/python -m scripts.bench_check"],
            phony=True,
        ),
        Rule(
            targets=["bench"],
            prerequisites=[".venv/.synced"],
            recipe=[f"{env} .venv/bin/python -m scripts.bench_synth"],
            phony=True,
        ),
    ],
)
project.gitignore.add_patterns(".tools/", "cdk.out/", ".venv/", "*.zip")
project.synth()
