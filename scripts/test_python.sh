#!/usr/bin/env bash
# `make test-pythons` runs this for 3.10 (the oldest supported Python) and 3.13 (the newest): the locked dependencies
# into .venv-py<VERSION>/ with `uv sync --frozen`, then the whole test suite. aws-cdk-lib, jsii and every test tool
# install on both, and the suite takes about 1-2 minutes, so nothing is left out. (Lint and types run once, in
# `make test`: ruff and mypy read the code as Python 3.10 whatever runs them.)
#
# The interpreter: `python<VERSION>` on PATH if it runs, else pyenv's newest <VERSION>.x (pyenv's shims only run the
# versions pyenv has selected, so they are looked past), else $PYTHON_<VERSION with _> (e.g. PYTHON_3_10=/path).
set -euo pipefail
cd "$(dirname "$0")/.."
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 UV_PYTHON_DOWNLOADS=never
version="${1:?usage: scripts/test_python.sh 3.10}"
override="PYTHON_${version//./_}"

find_python() {
  if [ -n "${!override:-}" ]; then
    echo "${!override}"
  elif "python$version" -c '' 2> /dev/null; then
    command -v "python$version"
  elif command -v pyenv > /dev/null && latest="$(pyenv latest "$version" 2> /dev/null)" \
    && [ -x "$(pyenv root)/versions/$latest/bin/python$version" ]; then
    echo "$(pyenv root)/versions/$latest/bin/python$version"
  else
    return 1
  fi
}

if ! python="$(find_python)"; then
  echo "test_python: no Python $version found (tried \$$override, python$version on PATH, pyenv)." >&2
  echo "Install it (e.g. pyenv install $version) or set $override to its interpreter." >&2
  exit 1
fi
venv=".venv-py$version"
echo "== test-pythons: Python $version ($python) into $venv/, locked dependencies (uv sync --frozen)"
UV_PROJECT_ENVIRONMENT="$venv" .tools/bin/uv sync --quiet --frozen --extra cli --python "$python"
echo "== test-pythons: the whole test suite on $("$venv/bin/python" --version), on every core (a few minutes)"
"$venv/bin/pytest" -q -p no:cacheprovider -n auto
