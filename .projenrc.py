"""Project definition: run `python .projenrc.py` (or `npx projen`) after editing, never edit generated files."""

from projen import Makefile, Rule
from projen.python import BuildSystem, PyprojectTomlProject, PythonProject, UvOptions

# The declared floor, the oldest aws-cdk-lib that synthesizes every example: `make test-floor` installs it (uv's
# lowest-direct resolution) and runs the examples and the compliance gate on it. 2.257-2.268 reject acknowledgement
# ids holding "::" (InvalidValidationId), and cdk-nag's own finding ids hold it: `AwsSolutions-IAM5[Resource::arn:...]`.
CDK_VERSION = "2.269.0"

# The aws-cdk-lib modules src/ imports and the reference interfaces their signatures name: the only ones mypy reads
# (see tool.mypy below).
AWS_CDK_MODULES_TYPED = (
    "aws_cdk",
    "aws_cdk.aws_chatbot",
    "aws_cdk.aws_cloudtrail",
    "aws_cdk.aws_cloudwatch",
    "aws_cdk.aws_cloudwatch_actions",
    "aws_cdk.aws_codebuild",
    "aws_cdk.aws_codepipeline",
    "aws_cdk.aws_codepipeline_actions",
    "aws_cdk.aws_ec2",
    "aws_cdk.aws_events",
    "aws_cdk.aws_events_targets",
    "aws_cdk.aws_iam",
    "aws_cdk.aws_kms",
    "aws_cdk.aws_lambda",
    "aws_cdk.aws_lambda_destinations",
    "aws_cdk.aws_logs",
    "aws_cdk.aws_s3",
    "aws_cdk.aws_s3_assets",
    "aws_cdk.aws_sns",
    "aws_cdk.aws_sns_subscriptions",
    "aws_cdk.aws_sqs",
    "aws_cdk.interfaces.*",
    "aws_cdk.region_info",
)

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
        "moto[server,s3,cloudformation]@^5.2",  # `s3vp` tests: S3, CloudFormation, and moto_server over HTTP
        "mypy@^2.0",
        "pdoc@^16.0",  # `make docs`: the API reference, from the docstrings
        "projen@^0.104.17",
        "pytest@^9.0",
        "pytest-xdist@^3.8",  # `make test` runs the suite on every core (-n auto), each synthesis on one worker
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
# The developer command line `s3vp`: its dependencies are an extra, so the construct library's stay aws-cdk-lib
# and constructs. click parses arguments and writes help, rich draws the upload progress bar (on a terminal only),
# pathspec reads `.s3vpignore` in .gitignore syntax, boto3 talks to AWS, cryptography checks the ECDSA signature of
# the provenance in `s3vp verify` (the standard library has no ECDSA).
pyproject.add_override(
    "project.optional-dependencies",
    {
        "cli": [
            "boto3>=1.40,<2.0.0",
            "click>=8.5,<9.0.0",
            "cryptography>=50.0,<51.0.0",
            "pathspec>=1.1,<2.0.0",
            "rich>=15.0,<16.0.0",
        ]
    },
)
pyproject.add_override("project.scripts", {"s3vp": "s3_validated_pipeline.cli:main"})
# PEP 639: the SPDX expression and the licence file it ships (no deprecated licence classifier).
pyproject.add_override("project.license-files", ["LICENSE"])
pyproject.add_override("tool.hatch.build.targets.wheel.packages", ["src/s3_validated_pipeline"])
pyproject.add_override("tool.uv.python-downloads", "never")
# .pyc files at install: without them (PYTHONDONTWRITEBYTECODE, read-only site-packages) every Python process that
# imports aws_cdk compiles its sources again, about 6 s each: each test worker, each synthesis, checkov.
pyproject.add_override("tool.uv.compile-bytecode", True)
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
        "overrides": [
            {"module": ["boto3", "botocore.*"], "ignore_missing_imports": True},
            # aws-cdk-lib's 300 service modules cost mypy a minute on a cold cache, though src/ uses 20 of them:
            # the rest are read as Any. tests/project/test_types.py keeps this list equal to src/'s imports.
            {"module": ["aws_cdk.*"], "follow_imports": "skip"},
            {"module": list(AWS_CDK_MODULES_TYPED), "follow_imports": "normal"},
        ],
    },
)
pyproject.add_override(
    "tool.pytest.ini_options",
    # --dist loadgroup: with -n (make test), the tests of one synthesis share a worker (tests/conftest.py groups them)
    {"testpaths": ["tests"], "addopts": "-ra --strict-markers --dist loadgroup", "xfail_strict": True},
)

# The two commands at the top of the README. `make` bootstraps its own uv into .tools/
# so both work on a fresh clone with nothing but Python 3.10+ and Node.js (jsii needs it) installed.
env = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20"
PUBLIB = "publib@^0.2"
# twine is not a dev dependency: checkov pins packaging<24, and twine >= 6.1 (the first to read the Metadata-Version
# 2.4 that hatchling writes, with License-Expression) needs packaging>=24.2. uv runs it in an environment of its own.
TWINE = "twine>=6.1,<8"
Makefile(
    project,
    "Makefile",
    all=["report"],
    rules=[
        Rule(
            targets=[".tools/bin/uv"], recipe=["python3 -m venv .tools", ".tools/bin/pip install --quiet 'uv>=0.9,<1'"]
        ),
        Rule(
            targets=[".venv/.synced"],
            prerequisites=["pyproject.toml", "uv.lock", ".tools/bin/uv"],
            recipe=[
                ".tools/bin/uv sync --frozen --extra cli --python python3",
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
                '@echo "== make test 1/3: lint (ruff check, ruff format --check)"',
                ".venv/bin/ruff check src tests examples scripts",
                ".venv/bin/ruff format --check src tests examples scripts",
                '@echo "== make test 2/3: types (mypy --strict on src/, about 15 s on a first run, later runs'
                ' reuse .mypy_cache)"',
                ".venv/bin/mypy",
                '@echo "== make test 3/3: tests (pytest -n auto: on every core, each synthesis on one worker)"',
                f"{env} .venv/bin/pytest -n auto",
            ],
            phony=True,
        ),
        Rule(
            targets=["projen"],
            prerequisites=[".venv/.synced"],
            # projen's own install step runs `uv sync` without the cli extra, which uninstalls rich and click:
            # synced again afterwards, so .venv/.synced stays true.
            recipe=[
                f"PATH=.tools/bin:$$PATH {env} .venv/bin/python .projenrc.py",
                ".tools/bin/uv sync --quiet --frozen --extra cli --python python3",
                "touch .venv/.synced",
            ],
            phony=True,
        ),
        Rule(
            targets=["package"],
            prerequisites=[".venv/.synced"],
            recipe=["rm -rf dist/python", ".tools/bin/uv build --out-dir dist/python"],
            phony=True,
        ),
        # Publishes dist/python to PyPI with publib (the npm package; PyPI's "publib" is unrelated).
        # Needs TWINE_USERNAME=__token__ and TWINE_PASSWORD set to a PyPI token. See CONTRIBUTING.md, "Releasing".
        Rule(
            targets=["release"],
            prerequisites=["test", "package"],
            recipe=[f"npx --yes --package {PUBLIB} publib-pypi dist/python"],
            phony=True,
        ),
        # Everything `make release` does but the upload: build, `twine check --strict`, then publib-pypi with its own
        # dry run (PUBLIB_DRYRUN=true: it checks its inputs, installs twine as it would and lists the wheels it would
        # upload). publib checks that credentials are set before its dry run, so placeholders are passed, and it
        # installs twine with `pip install --user`: PYTHONUSERBASE keeps that in dist/ (log: dist/publib-dry-run.log).
        Rule(
            targets=["release-dry-run"],
            prerequisites=["package"],
            recipe=[
                '@echo "== release dry run: twine check --strict dist/python/*"',
                f".tools/bin/uv tool run --quiet --from '{TWINE}' twine check --strict dist/python/*",
                f'@echo "== release dry run: publib-pypi with PUBLIB_DRYRUN=true ({PUBLIB}, uploads nothing)"',
                "PUBLIB_DRYRUN=true TWINE_USERNAME=__token__ TWINE_PASSWORD=dry-run-placeholder"
                " PYTHONUSERBASE=$(CURDIR)/dist/publib-user PIP_DISABLE_PIP_VERSION_CHECK=1"
                f" npx --yes --package {PUBLIB} publib-pypi dist/python > dist/publib-dry-run.log 2>&1"
                " || { cat dist/publib-dry-run.log; exit 1; }",
                "tail -n 3 dist/publib-dry-run.log",
            ],
            phony=True,
        ),
        # The reference pages docs/*.md as HTML beside them, and the API reference: every public name must have a
        # docstring of its own (checked first), then pdoc renders the package and the sub-packages whose types users
        # receive into docs/api/; Python warnings and broken links are errors. See scripts/build_docs.py.
        Rule(
            targets=["docs"],
            prerequisites=[".venv/.synced"],
            recipe=[
                '@echo "== docs: docs/*.md as HTML, and the API reference by pdoc into docs/api/ (warnings are errors)"',
                f"{env} .venv/bin/python -W error -m scripts.build_docs",
            ],
            phony=True,
        ),
        # The declared floor, proven: a second environment, .venv-floor/, with aws-cdk-lib and constructs at the
        # oldest versions pyproject.toml allows (uv's lowest-direct resolution) and the test tools at their locked
        # versions; it synthesizes every example and runs the snapshot and compliance tests there.
        Rule(
            targets=["test-floor"],
            prerequisites=[".tools/bin/uv"],
            recipe=["bash scripts/test_floor.sh"],
            phony=True,
        ),
        # The whole suite (the locked dependencies) on the oldest and the newest supported Python, in .venv-py3.10/
        # and .venv-py3.13/. aws-cdk-lib, jsii and every test tool install on both, and the suite takes about
        # 1-2 minutes, so no subset is needed. scripts/test_python.sh finds the interpreter (PATH, then pyenv).
        Rule(
            targets=["test-pythons"],
            prerequisites=[".tools/bin/uv"],
            recipe=["bash scripts/test_python.sh 3.10", "bash scripts/test_python.sh 3.13"],
            phony=True,
        ),
        # The "How it works" Mermaid diagram of docs/architecture.md as docs/how-it-works.svg, for viewers that do not
        # render Mermaid: mermaid-cli (npx, pinned in the script) in the system's Chromium (apt-get install chromium),
        # the source's SHA-256 stamped into the SVG. tests/project/test_diagram.py fails, without a browser, when the
        # page's block changes and this was not re-run. Standard library only, so no .venv is needed.
        Rule(
            targets=["diagram"],
            recipe=["python3 -m scripts.render_diagram"],
            phony=True,
        ),
        # The main job with no AWS account: the seed example's pipeline run on this machine (`s3vp run`), on a
        # package that passes Validate and Test, then on one the package check rejects (exit 1 expected).
        Rule(
            targets=["run-seed"],
            prerequisites=[".venv/.synced"],
            recipe=[
                "rm -rf dist/run-seed && mkdir -p dist/run-seed",
                '@echo "== run-seed 1/2: synthesize examples/seed_pipeline and run its good sample (Validate, Test)"',
                f"cd examples/seed_pipeline && PATH=$(CURDIR)/.venv/bin:$$PATH {env} "
                "../../.venv/bin/s3vp run sample/good --keep ../../dist/run-seed/good",
                '@echo "== run-seed 2/2: a package with a .env holding a key id stops at Validate (exit 1 expected)"',
                ".venv/bin/python examples/seed_pipeline/sample/rejected/make_zip.py dist/run-seed/rejected.zip",
                ".venv/bin/s3vp run dist/run-seed/rejected.zip --app dist/run-seed/good/cdk.out "
                "--keep dist/run-seed/rejected; test $$? -eq 1",
            ],
            phony=True,
        ),
        Rule(
            targets=["bench-check"],
            prerequisites=[".venv/.synced"],
            recipe=[".venv/bin/python -m scripts.bench_check"],
            phony=True,
        ),
        # The local run's overhead over running the same commands directly (synthesis excluded).
        Rule(
            targets=["bench-run"],
            prerequisites=[".venv/.synced"],
            recipe=[f"{env} .venv/bin/python -m scripts.bench_run"],
            phony=True,
        ),
        # 24 pipelines on one foundation (examples/fleet) against 24 standalone ones, in one run.
        Rule(
            targets=["bench-fleet"],
            prerequisites=[".venv/.synced"],
            recipe=[f"{env} .venv/bin/python -m scripts.bench_fleet"],
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
# .venv-floor/ and .venv-py3.*/: `make test-floor` and `make test-pythons`; docs/api/ and docs/*.html: `make docs`.
project.gitignore.add_patterns(".tools/", "cdk.out/", ".venv/", ".venv-*/", "docs/api/", "/docs/*.html", "*.zip")
# The seed sample is a TypeScript project whose sources live in lib/, which the Python template above ignores.
project.gitignore.add_patterns("!examples/seed_pipeline/sample/good/lib/")
project.synth()
