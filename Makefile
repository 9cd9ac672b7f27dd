.PHONY: all
all: report

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet 'uv>=0.9,<1'

.venv/.synced: pyproject.toml uv.lock .tools/bin/uv
	.tools/bin/uv sync --frozen --python python3
	touch .venv/.synced

.PHONY: report
report: .venv/.synced
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python -m scripts.synth_report examples/seed_pipeline

.PHONY: test
test: .venv/.synced
	.venv/bin/ruff check src tests examples scripts
	.venv/bin/ruff format --check src tests examples scripts
	.venv/bin/mypy
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/pytest

.PHONY: projen
projen: .venv/.synced
	PATH=.tools/bin:$$PATH JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python .projenrc.py

.PHONY: package
package: .venv/.synced
	rm -rf dist/python
	.tools/bin/uv build --out-dir dist/python

.PHONY: release
release: test package
	npx --yes --package publib@^0.2 publib-pypi dist/python

.PHONY: bench-check
bench-check: .venv/.synced
	.venv/bin/python -m scripts.bench_check

.PHONY: bench
bench: .venv/.synced
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python -m scripts.bench_synth
