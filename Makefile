.PHONY: all
all: report

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet 'uv>=0.9,<1'

.venv/.synced: pyproject.toml uv.lock .tools/bin/uv
	.tools/bin/uv sync --frozen --extra cli --python python3
	touch .venv/.synced

.PHONY: report
report: .venv/.synced
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python -m scripts.synth_report examples/seed_pipeline

.PHONY: test
test: .venv/.synced
	@echo "== make test 1/3: lint (ruff check, ruff format --check)"
	.venv/bin/ruff check src tests examples scripts
	.venv/bin/ruff format --check src tests examples scripts
	@echo "== make test 2/3: types (mypy --strict on src/, about 15 s on a first run, later runs reuse .mypy_cache)"
	.venv/bin/mypy
	@echo "== make test 3/3: tests (pytest -n auto: on every core, each synthesis on one worker)"
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/pytest -n auto

.PHONY: projen
projen: .venv/.synced
	PATH=.tools/bin:$$PATH JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python .projenrc.py
	.tools/bin/uv sync --quiet --frozen --extra cli --python python3
	touch .venv/.synced

.PHONY: package
package: .venv/.synced
	rm -rf dist/python
	.tools/bin/uv build --out-dir dist/python

.PHONY: release
release: test package
	npx --yes --package publib@^0.2 publib-pypi dist/python

.PHONY: release-dry-run
release-dry-run: package
	@echo "== release dry run: twine check --strict dist/python/*"
	.tools/bin/uv tool run --quiet --from 'twine>=6.1,<8' twine check --strict dist/python/*
	@echo "== release dry run: publib-pypi with PUBLIB_DRYRUN=true (publib@^0.2, uploads nothing)"
	PUBLIB_DRYRUN=true TWINE_USERNAME=__token__ TWINE_PASSWORD=dry-run-placeholder PYTHONUSERBASE=$(CURDIR)/dist/publib-user PIP_DISABLE_PIP_VERSION_CHECK=1 npx --yes --package publib@^0.2 publib-pypi dist/python > dist/publib-dry-run.log 2>&1 || { cat dist/publib-dry-run.log; exit 1; }
	tail -n 3 dist/publib-dry-run.log

.PHONY: docs
docs: .venv/.synced
	@echo "== docs: docs/*.md as HTML, and the API reference by pdoc into docs/api/ (warnings are errors)"
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python -W error -m scripts.build_docs

.PHONY: test-floor
test-floor: .tools/bin/uv
	bash scripts/test_floor.sh

.PHONY: test-pythons
test-pythons: .tools/bin/uv
	bash scripts/test_python.sh 3.10
	bash scripts/test_python.sh 3.13

.PHONY: diagram
diagram:
	python3 -m scripts.render_diagram

.PHONY: run-seed
run-seed: .venv/.synced
	rm -rf dist/run-seed && mkdir -p dist/run-seed
	@echo "== run-seed 1/2: synthesize examples/seed_pipeline and run its good sample (Validate, Test)"
	cd examples/seed_pipeline && PATH=$(CURDIR)/.venv/bin:$$PATH JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 ../../.venv/bin/s3vp run sample/good --keep ../../dist/run-seed/good
	@echo "== run-seed 2/2: a package with a .env holding a key id stops at Validate (exit 1 expected)"
	.venv/bin/python examples/seed_pipeline/sample/rejected/make_zip.py dist/run-seed/rejected.zip
	.venv/bin/s3vp run dist/run-seed/rejected.zip --app dist/run-seed/good/cdk.out --keep dist/run-seed/rejected; test $$? -eq 1

.PHONY: bench-check
bench-check: .venv/.synced
	.venv/bin/python -m scripts.bench_check

.PHONY: bench-run
bench-run: .venv/.synced
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python -m scripts.bench_run

.PHONY: bench-fleet
bench-fleet: .venv/.synced
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python -m scripts.bench_fleet

.PHONY: bench
bench: .venv/.synced
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python -m scripts.bench_synth
