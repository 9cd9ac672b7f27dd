"""Fail when a public name of ``s3_validated_pipeline`` has no docstring of its own.

The public names are the ``__all__`` of the package and of the sub-packages whose types a pipeline gives back
(``PACKAGES``; the API reference documents the same). A class must have its own docstring: not one it inherits, not the
signature ``@dataclass`` writes into ``__doc__`` when there is none, not Python 3.10's "An enumeration." of an
``Enum``. ``make docs`` runs this before pdoc, and ``tests/project/test_api_docs.py`` runs it with the suite.
Run from the repository root::

    python -m scripts.check_docstrings
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import sys
from types import ModuleType

PACKAGES = (
    "s3_validated_pipeline",
    "s3_validated_pipeline.source",
    "s3_validated_pipeline.stages",
    "s3_validated_pipeline.operations",
    "s3_validated_pipeline.foundation",
)
"""The public API: what users write (the package) and where the types they receive live (the sub-packages)."""


def own_docstring(obj: object) -> str | None:
    """Return ``obj``'s own docstring, or None when it has none (or only an inherited or generated one)."""
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
        if dataclasses.is_dataclass(obj) and isinstance(doc, str) and doc.startswith(f"{obj.__name__}("):
            return None  # what @dataclass writes when the class has no docstring
        if issubclass(obj, enum.Enum) and doc == "An enumeration.":
            return None  # what Python 3.10's Enum writes when the class has no docstring
    else:
        doc = getattr(obj, "__doc__", None)
    return (doc.strip() or None) if isinstance(doc, str) else None


def undocumented(package: ModuleType) -> list[str]:
    """Return the names in ``package.__all__`` that have no docstring of their own, sorted."""
    return sorted(name for name in package.__all__ if own_docstring(getattr(package, name)) is None)


def main() -> int:
    packages = [importlib.import_module(name) for name in PACKAGES]
    missing = [f"{package.__name__}.{name}" for package in packages for name in undocumented(package)]
    if missing:
        print(f"check_docstrings: {len(missing)} public name(s) without a docstring:", file=sys.stderr)
        for name in missing:
            print(f"  {name}", file=sys.stderr)
        return 1
    count = sum(len(package.__all__) for package in packages)
    print(f"check_docstrings: all {count} public names of {', '.join(PACKAGES)} have a docstring")
    return 0


if __name__ == "__main__":
    sys.exit(main())
