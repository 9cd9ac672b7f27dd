"""Names that the constructs give and the command line looks for: one definition each. Standard library only, so
the command line imports it without aws-cdk-lib."""

SOURCE = "Source"
"""The pipeline's first stage and its S3 source action, whose revision is the uploaded object version."""
VALIDATE = "Validate"
"""The validate stage and its CodeBuild action."""
VALIDATED = "Validated"
"""The validate action's output artifact: what Attest hashes and signs."""
ATTESTED = "Attested"
"""The Attest action's output artifact, which every later stage receives: the validated files and their signed
provenance."""
WAIT_NAMESPACE = "S3ValidatedPipeline"
"""The CloudWatch namespace of the metrics the library derives from its builds' logs."""
WAIT_METRIC = "UploadWaitTime"
"""Seconds from an upload to its check in Validate, by ``Pipeline`` (a metric filter on Validate's log group): how
long it waited behind other executions, and for the build to start."""
WAIT_FIELD = "s3vpWaitedSeconds"
"""The field of the JSON line Validate prints, which the metric filter reads."""
ATTEST = "Attest"
"""The Attest action, second in the validate stage, and the namespace of the variables it exports."""
