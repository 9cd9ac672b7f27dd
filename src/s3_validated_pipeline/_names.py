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
