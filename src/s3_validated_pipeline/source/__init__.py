"""Where packages arrive: the locked-down upload bucket and the trigger that starts the pipeline for each upload.

``bucket`` owns the bucket, its options, the checks of what a source takes and the one object-upload grant;
``trigger`` owns the EventBridge rule and the function (code in ``_handler/``) that start the pipeline.
"""

from __future__ import annotations

from .bucket import SourceBucket, SourceBucketOptions, grant_object_upload
from .trigger import UploadTrigger

__all__ = ["SourceBucket", "SourceBucketOptions", "UploadTrigger", "grant_object_upload"]
