"""The validate stage: the package check, then the user's commands, on exactly the uploaded object version."""

from __future__ import annotations

from .options import PackageCheckOptions, ValidationOptions

__all__ = ["PackageCheckOptions", "ValidationOptions"]
