#!/usr/bin/env bash
# `make test-floor`: prove the declared floor. Builds .venv-floor/ with the library's run-time dependencies
# (aws-cdk-lib, constructs) at the oldest versions pyproject.toml allows, by uv's lowest-direct resolution, and the
# test tools at their locked versions (uv.lock's dev group, less whatever the floor already pinned), then synthesizes
# every example and runs the snapshot and compliance tests there, and the docs' apps (tests/examples/test_docs_apps.py:
# each README and docs example that builds a ValidatedS3Pipeline, run in a stack and synthesized). Rebuilt from scratch on
# every run, so it is idempotent and never reuses a stale environment. Takes about 1 minute with a warm uv cache (2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
# UV_COMPILE_BYTECODE: .pyc files at install, as tool.uv.compile-bytecode gives `uv sync` (why: .projenrc.py)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1
uv=.tools/bin/uv
venv=.venv-floor
python="$venv/bin/python"

echo "== test-floor 1/4: $venv/ with aws-cdk-lib and constructs at their declared floors (uv --resolution lowest-direct)"
rm -rf "$venv"
"$uv" venv --quiet --python python3 "$venv"
"$uv" pip install --quiet --python "$python" --resolution lowest-direct -e .
floor_pins="$venv/floor-pins.txt"
"$python" - "$floor_pins" <<'EOF'
import re
import sys
from importlib.metadata import requires, version

pins = []
for requirement in requires("s3-validated-pipeline") or []:
    if re.search(r";.*\bextra\s*==", requirement):
        continue  # an extra's (the s3vp command line's), not installed by `-e .`
    name = re.split(r"[<>=!~ ;]", requirement, maxsplit=1)[0]
    floor = re.search(r">=\s*([0-9.]+)", requirement)
    installed = version(name)
    print(f"   {name} {installed} installed; the package declares {requirement}")
    if name == "aws-cdk-lib" and (floor is None or installed != floor.group(1)):
        raise SystemExit(f"test-floor: expected aws-cdk-lib {floor and floor.group(1)}, the declared floor")
    if name == "aws-cdk-lib":
        pins.append(f"{name}=={installed}\n")
with open(sys.argv[1], "w") as out:
    out.writelines(pins)
EOF
echo "== test-floor 2/4: the test tools at their locked versions (uv.lock's dev group)"
# The locked versions of the test tools, less every package the floor installed (aws-cdk-lib's own dependencies
# among them), resolved with aws-cdk-lib held at its floor. constructs is not held: the floor's lowest-direct pick
# (whatever aws-cdk-lib's floor demands) may be older than the locked cdk-nag needs, and constructs is printed.
installed="$venv/floor-installed.txt"
"$uv" pip freeze --quiet --python "$python" --exclude-editable > "$installed"
no_emit=()
while IFS='=' read -r name _; do no_emit+=(--no-emit-package "$name"); done < "$installed"
"$uv" export --quiet --frozen --only-group dev --no-emit-project --no-hashes --no-header --no-annotate \
  "${no_emit[@]}" --output-file "$venv/dev-tools.txt"
"$uv" pip install --quiet --python "$python" -r "$venv/dev-tools.txt" -c "$floor_pins"
"$python" -c 'from importlib.metadata import version as v
print("   now:", ", ".join(f"{n} {v(n)}" for n in ("aws-cdk-lib", "constructs", "cdk-nag", "jsii", "pytest")))'

echo "== test-floor 3/4: synthesizing every example on the floor (about 15 s each)"
for example in examples/*/app.py; do
  folder="$(dirname "$example")"
  "$python" -m scripts.synth_report "$folder" --outdir "cdk.out/floor-$(basename "$folder")" > /dev/null
  echo "   $folder: synthesized"
done

echo "== test-floor 4/4: snapshot, compliance (cdk-nag, checkov, cfn-lint) and docs-app tests on the floor (about 1 minute)"
"$venv/bin/pytest" -q -p no:cacheprovider tests/examples
