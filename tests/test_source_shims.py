"""The source modules moved to ``s3_validated_pipeline.source``; the old module paths still work, with a warning."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import pytest

from s3_validated_pipeline import SourceBucket, SourceBucketOptions, UploadTrigger, source
from s3_validated_pipeline.source import bucket, trigger


def fresh_import(name: str) -> ModuleType:
    """Import ``name`` as if for the first time, so its module-level warning is given again."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_package_exports_the_source_parts() -> None:
    # GIVEN the top-level package and the source package
    # WHEN their names are compared
    # THEN they are the same objects, defined in the new modules
    assert (source.SourceBucket, source.SourceBucketOptions, source.UploadTrigger) == (
        SourceBucket,
        SourceBucketOptions,
        UploadTrigger,
    )
    assert SourceBucket.__module__ == SourceBucketOptions.__module__ == "s3_validated_pipeline.source.bucket"
    assert UploadTrigger.__module__ == "s3_validated_pipeline.source.trigger"


def test_old_source_bucket_path_works_and_warns() -> None:
    # GIVEN code that imports the old module path
    # WHEN it is imported
    with pytest.deprecated_call(
        match=r"s3_validated_pipeline\.source_bucket is deprecated.*s3_validated_pipeline\.source"
    ):
        old = fresh_import("s3_validated_pipeline.source_bucket")

    # THEN every name it offered is still there, and is the new module's object
    for name in (
        "SourceBucket",
        "SourceBucketOptions",
        "ACCESS_LOGS_DISABLED_WARNING",
        "REMOVAL_POLICY_WARNING",
        "bucket_name_problems",
        "grantee_problems",
        "object_key_problems",
    ):
        assert getattr(old, name) is getattr(bucket, name), name


def test_old_upload_trigger_path_works_and_warns() -> None:
    # GIVEN code that imports the old module path
    # WHEN it is imported
    with pytest.deprecated_call(
        match=r"s3_validated_pipeline\.upload_trigger is deprecated.*s3_validated_pipeline\.source"
    ):
        old = fresh_import("s3_validated_pipeline.upload_trigger")

    # THEN every name it offered is still there, and is the new module's object
    assert old.object_key_problems is bucket.object_key_problems
    for name in (
        "UploadTrigger",
        "UNRESERVED_CONCURRENCY_WARNING",
        "reserved_concurrency_problems",
        "latest_python_runtime",
    ):
        assert getattr(old, name) is getattr(trigger, name), name


def test_warning_ids_kept_their_values() -> None:
    # GIVEN the warning ids users acknowledge
    # THEN they are the ids of before the move
    assert bucket.ACCESS_LOGS_DISABLED_WARNING == "s3-validated-pipeline:sourceAccessLogsDisabled"
    assert bucket.REMOVAL_POLICY_WARNING == "s3-validated-pipeline:sourceBucketNotRetained"
    assert trigger.UNRESERVED_CONCURRENCY_WARNING == "s3-validated-pipeline:triggerConcurrencyUnreserved"


def test_trigger_function_code_is_the_handler_directory() -> None:
    # GIVEN the directory the trigger function's asset is made from
    # THEN it holds the handler and nothing else but caches, so the asset (and its hash) is the handler alone
    files = sorted(p.name for p in trigger._HANDLER_DIR.iterdir() if p.name != "__pycache__")
    assert files == ["index.py"]
