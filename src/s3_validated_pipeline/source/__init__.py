"""Where packages arrive: the locked-down upload bucket and the trigger that starts the pipeline for each upload.

``bucket`` owns the bucket, its options and the one object-upload grant (``_checks``, the checks of what a source
takes: a bucket name, an object key, an uploader);
``trigger`` owns the EventBridge rule that starts the pipeline, directly or through a function (code in
``_handler/``), as ``TriggerMode`` chooses.
"""

from __future__ import annotations

from .bucket import SourceBucket, SourceBucketOptions
from .trigger import TriggerMode, UploadTrigger

__all__ = ["SourceBucket", "SourceBucketOptions", "TriggerMode", "UploadTrigger"]
