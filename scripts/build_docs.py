"""Build the HTML API reference of ``s3_validated_pipeline`` into ``docs/api/`` with pdoc.

``make docs`` runs it as ``python -W error -m scripts.build_docs``, so any warning (from pdoc: a name in ``__all__``
that does not resolve, a docstring it cannot parse; or from an import) fails the build. It first runs
``scripts.check_docstrings``: every public name must have a docstring of its own. The package's page documents
its ``__all__``; the package checker (``python -m s3_validated_pipeline.check``) gets a page too.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pdoc
import pdoc.render

import s3_validated_pipeline

from . import check_docstrings

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "api"


def resolve_lazy_names() -> None:
    """Bind every name of ``__all__`` in the package's namespace.

    The package imports its names on first use (a module ``__getattr__``, so that the stdlib-only package checker
    starts without aws-cdk-lib). pdoc only looks in the module's ``__dict__``, so it would report each name as not
    resolving; binding them here, in this process only, lets it document each name where the package exports it.
    """
    package = s3_validated_pipeline
    for name in package.__all__:
        setattr(package, name, getattr(package, name))


def main() -> int:
    if check_docstrings.main() != 0:
        return 1
    resolve_lazy_names()
    shutil.rmtree(OUTPUT, ignore_errors=True)
    pdoc.render.configure(docformat="restructuredtext", footer_text=f"s3-validated-pipeline {_version()}")
    # The package's page documents __all__; the package checker's command line gets a page of its own.
    modules = [
        "s3_validated_pipeline",
        "s3_validated_pipeline.check",
    ]
    pdoc.pdoc(*modules, output_directory=OUTPUT)
    pages = sum(1 for _ in OUTPUT.rglob("*.html"))
    print(f"build_docs: {pages} pages in {OUTPUT.relative_to(ROOT)}/ (open index.html)")
    return 0


def _version() -> str:
    return str(getattr(s3_validated_pipeline, "__version__", ""))


if __name__ == "__main__":
    sys.exit(main())
