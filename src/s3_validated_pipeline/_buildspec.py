"""The validate stage's buildspec. Its shell lines are real code: tests run them in bash against sample packages."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any

MANIFEST_FILE = "MANIFEST.sha256"
"""Written at the artifact's root in `sha256sum` format, so `sha256sum --check --strict` verifies it."""

SOURCE_VARIABLES = ("SOURCE_BUCKET", "SOURCE_OBJECT_KEY", "SOURCE_OBJECT_VERSION_ID")
"""Environment variables the pipeline's build action sets; the diagnostics print them."""


def required_files_check(patterns: Sequence[str]) -> str:
    """Fail, listing every pattern that matches nothing, unless each required path or glob matches a file."""
    quoted = " ".join(shlex.quote(pattern) for pattern in patterns)
    return "\n".join(
        [
            # globstar makes '**' cross folders; dotglob lets 'config/*' match '.env'-style names too.
            "shopt -s globstar dotglob",
            "missing=0",
            f"for pattern in {quoted}; do",
            "  found=0",
            # Unquoted, $pattern is globbed; with IFS empty it is never split, so patterns may hold spaces.
            # (compgen -G would be shorter but ignores dotglob until some other glob has run.)
            "  IFS=",
            "  for match in $pattern; do",
            '    if [ -e "$match" ]; then found=1; break; fi',
            "  done",
            "  unset IFS",
            '  if [ "$found" -eq 0 ]; then',
            '    echo "Required file missing from the package: $pattern" >&2',
            "    missing=$((missing + 1))",
            "  fi",
            "done",
            'if [ "$missing" -gt 0 ]; then',
            '  echo "Package rejected: $missing required file(s) missing." >&2',
            "  exit 1",
            "fi",
            f'echo "Package holds all {len(patterns)} required file(s)."',
        ]
    )


def manifest_command() -> str:
    """Write the SHA-256 of every file in the working tree, sorted by path, to the manifest."""
    return (
        f"find . -type f ! -path ./{MANIFEST_FILE} ! -path ./{MANIFEST_FILE}.tmp -print0 | LC_ALL=C sort -z "
        f"| xargs -0 --no-run-if-empty sha256sum > {MANIFEST_FILE}.tmp && mv {MANIFEST_FILE}.tmp {MANIFEST_FILE}"
        f' && echo "Manifest: $(wc -l < {MANIFEST_FILE}) file(s) hashed into {MANIFEST_FILE}"'
    )


def diagnostics_command() -> str:
    """Print what a reader of the log needs to reproduce the build: never secrets or the whole environment."""
    return "\n".join(
        [
            'echo "== Diagnostics =="',
            'echo "Source object: s3://${SOURCE_BUCKET:-?}/${SOURCE_OBJECT_KEY:-?} '
            'version ${SOURCE_OBJECT_VERSION_ID:-?}"',
            'echo "Build: ${CODEBUILD_BUILD_ID:-local} on ${CODEBUILD_BUILD_IMAGE:-local image}"',
            'echo "Validation succeeded: ${CODEBUILD_BUILD_SUCCEEDING:-unknown}"',
            '[ -r /etc/os-release ] && . /etc/os-release && echo "OS: $PRETTY_NAME"',
            "for tool in node npm python3 java go; do",
            '  if command -v "$tool" > /dev/null; then echo "$tool: $("$tool" --version 2>&1 | head -n 1)"; fi',
            "done",
            "true",
        ]
    )


def validation_buildspec(
    *,
    commands: Sequence[str],
    required_files: Sequence[str],
    runtime_versions: Mapping[str, str],
) -> dict[str, Any]:
    """Return the buildspec (version 0.2) that checks, validates and packages one uploaded package."""
    phases: dict[str, Any] = {}
    if runtime_versions:
        phases["install"] = {"runtime-versions": dict(runtime_versions)}
    pre_build_commands = [required_files_check(required_files)] if required_files else []
    return {
        "version": "0.2",
        "env": {"shell": "bash"},
        "phases": {
            **phases,
            "pre_build": {
                "on-failure": "ABORT",
                "commands": [*pre_build_commands, 'echo "Validating the package"'],
            },
            "build": {"on-failure": "ABORT", "commands": [*commands, manifest_command()]},
            "post_build": {"commands": [diagnostics_command()]},
        },
        "artifacts": {"files": ["**/*"]},
    }
