"""A secure AWS CodePipeline that validates every zip uploaded to S3.

``ValidatedS3Pipeline`` is the one statement most users need; its parts are exported for use on their own.
"""

from .build_environment import BuildEnvironment
from .errors import InputError, Problem
from .pipeline import ValidatedS3Pipeline
from .source_bucket import SourceBucket, SourceBucketOptions
from .upload_trigger import UploadTrigger
from .validation_project import ValidationOptions, ValidationProject

__all__ = [
    "BuildEnvironment",
    "InputError",
    "Problem",
    "SourceBucket",
    "SourceBucketOptions",
    "UploadTrigger",
    "ValidatedS3Pipeline",
    "ValidationOptions",
    "ValidationProject",
]
