"""``s3vp``: the developer's command line for a ValidatedS3Pipeline (``pip install 's3-validated-pipeline[cli]'``).

Libraries, and why:

- **click** for commands and options: mature, typed (mypy --strict needs no stubs), one small dependency, and
  explicit decorators whose behaviour does not depend on reading type annotations at run time (typer builds on click
  and adds rich and shellingham to every start; what it offers over click, inferring options from annotations, we do
  not need for a handful of commands). Its usage errors exit 2, as the package checker's do, and ``click.secho``
  drops colour when the output is not a terminal.
- **rich** only for the upload progress bar, imported only when standard error is a terminal.
- **pathspec** for ``.s3vpignore``: a gitignore implementation (negation, anchoring, ``dir/``, ``**``) that is
  tested against git's own rules; a hand-written matcher would differ in the corners users know from ``.gitignore``.
- **boto3** for AWS, imported only by the commands that call AWS, so ``s3vp package`` and ``s3vp check`` start
  quickly. aws-cdk-lib is never imported: the package checker (``s3_validated_pipeline.check``) is standard library.
- **cryptography** for ``s3vp verify``'s ECDSA check of the signed provenance (the standard library has none),
  imported only by that command: the pyca project's maintained bindings to OpenSSL, not a hand-written verifier.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Run ``s3vp`` (the console script's entry point)."""
    from ._app import cli

    cli(prog_name="s3vp")
