"""The shell a CloudFormation deployment's CodeBuild project runs: create a change set from the template it has just
verified, prove the change set holds exactly that template, summarize it, and (when deploying) execute it.

One project does it all, so nothing reads the artifact again after the manifest was verified: CodePipeline's own
CloudFormation actions would fetch the template from S3 a second time. The summary and the comparison are the
pinned checker's (``check.py change-set``, standard library only); the AWS calls are the CLI's, made as the target's
deploy role (the CDK bootstrap's, or ``DeployTarget.action_role_arn``).

``S3VP_MODE`` chooses what the action does:

* ``plan``: create the change set ``s3vp-<execution id>`` and export its summary for the approval that follows;
* ``deploy``: execute that change set after checking it still holds the verified template; when there is none (a
  target without an approval, or a rollback, which runs as a new execution), create one first from this action's
  own verified copy.
"""

from __future__ import annotations

from .._buildspec import WORK_DIR
from ..check import REPORT_PATH

EXPORTED_VARIABLES = (
    "CHANGE_SET_NAME",
    "CHANGE_SET_SUMMARY",
    "CHANGE_SET_LINK",
    "PERMISSIONS_BROADENED",
    "PACKAGE_SHA256",
)
"""What the plan action exports (``#{<namespace>.<name>}``) for the approval's message and the stage condition."""

# Always as the build's own role (its container credentials, not a role assumed before): CDK's deploy role may not
# assume the file-publishing role, the build's role may assume both.
_ASSUME = f"""assume() {{
  local creds
  if ! creds=$(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN aws sts assume-role \\
      --role-arn "$1" --role-session-name "s3vp-${{CODEBUILD_BUILD_NUMBER:-local}}" --query Credentials --output json \\
      2> {WORK_DIR}/assume.err); then
    cat {WORK_DIR}/assume.err >&2
    echo "Cannot assume $1. Bootstrap the target once with 'cdk bootstrap aws://<account>/<region>' (add" \\
      "'--trust <pipeline account>' when it is another account) using the qualifier the target names." >&2
    exit 1
  fi
  eval "$(python3 -I -c 'import json, shlex, sys; c = json.load(sys.stdin); print("export " + " ".join(k + "=" + \\
shlex.quote(c[v]) for k, v in (("AWS_ACCESS_KEY_ID", "AccessKeyId"), ("AWS_SECRET_ACCESS_KEY", "SecretAccessKey"), \\
("AWS_SESSION_TOKEN", "SessionToken"))))' <<< "$creds")"
}}"""

_CREATE = f"""create_change_set() {{
  local type=UPDATE stack_status body
  stack_status=$(aws cloudformation describe-stacks --stack-name "$S3VP_STACK" \\
    --query 'Stacks[0].StackStatus' --output text 2> /dev/null || echo NONE)
  case "$stack_status" in NONE|REVIEW_IN_PROGRESS) type=CREATE ;; esac
  body=(--template-body "file://$S3VP_TEMPLATE")
  if [ "$(wc -c < "$S3VP_TEMPLATE")" -gt 51200 ]; then
    # Too large to send inline: staged in the bootstrap's bucket by its file-publishing role, then compared below.
    local key="s3vp/$(sha256sum "$S3VP_TEMPLATE" | cut -d' ' -f1).json"
    ( assume "$S3VP_FILE_ROLE_ARN"; aws s3 cp --quiet "$S3VP_TEMPLATE" "s3://$S3VP_STAGING_BUCKET/$key" )
    body=(--template-url "https://$S3VP_STAGING_BUCKET.s3.$AWS_REGION.amazonaws.com/$key")
  fi
  printf '%s' "$S3VP_PARAMETERS" > {WORK_DIR}/parameters.json
  aws cloudformation create-change-set --stack-name "$S3VP_STACK" --change-set-name "$name" \\
    --change-set-type "$type" "${{body[@]}}" --role-arn "$S3VP_EXECUTION_ROLE_ARN" \\
    --parameters "file://{WORK_DIR}/parameters.json" ${{S3VP_CAPABILITIES:+--capabilities $S3VP_CAPABILITIES}} \\
    --description "s3-validated-pipeline execution $S3VP_EXECUTION_ID" > /dev/null
  # A change set without changes ends FAILED; the checker reads that as "nothing to deploy".
  aws cloudformation wait change-set-create-complete --stack-name "$S3VP_STACK" --change-set-name "$name" || true
}}"""  # noqa: S608  # shell, not SQL

CHANGE_SET_SCRIPT = f"""# The change set of $S3VP_STACK ($S3VP_MODE): made from the verified template, proven, run
(
set -euo pipefail
{_ASSUME}
{_CREATE}
if [ ! -f "$S3VP_TEMPLATE" ]; then
  echo "The template $S3VP_TEMPLATE is not in the validated artifact: check CloudFormationDeployment.template_path." >&2
  exit 1
fi
name="s3vp-$S3VP_EXECUTION_ID"
assume "$S3VP_DEPLOY_ROLE_ARN"
status=$(aws cloudformation describe-change-set --stack-name "$S3VP_STACK" --change-set-name "$name" \\
  --query Status --output text 2> /dev/null || echo NONE)
if [ "$S3VP_MODE" = plan ] && [ "$status" != NONE ]; then
  # A retried plan starts again from its own verified copy.
  aws cloudformation delete-change-set --stack-name "$S3VP_STACK" --change-set-name "$name"
  status=NONE
fi
[ "$status" = NONE ] && create_change_set
aws cloudformation describe-change-set --stack-name "$S3VP_STACK" --change-set-name "$name" --output json \\
  > {WORK_DIR}/change-set.json
# Without a template, the checker accepts only a change set without changes (nothing to compare, nothing to run).
aws cloudformation get-template --stack-name "$S3VP_STACK" --change-set-name "$name" --template-stage Original \\
  --output json > {WORK_DIR}/change-set-template.json || echo '{{}}' > {WORK_DIR}/change-set-template.json
python3 {WORK_DIR}/check.py change-set {WORK_DIR}/change-set.json --template "$S3VP_TEMPLATE" \\
  --change-set-template {WORK_DIR}/change-set-template.json --report {REPORT_PATH} > {WORK_DIR}/change-set.env
. {WORK_DIR}/change-set.env
cat {WORK_DIR}/change-set.env
if [ "$S3VP_MODE" = deploy ] && [ "$CHANGE_SET_NAME" != none ]; then
  before=$(aws cloudformation describe-stacks --stack-name "$S3VP_STACK" --query 'Stacks[0].StackStatus' --output text)
  aws cloudformation execute-change-set --stack-name "$S3VP_STACK" --change-set-name "$name"
  if [ "$before" = REVIEW_IN_PROGRESS ]; then
    aws cloudformation wait stack-create-complete --stack-name "$S3VP_STACK"
  else
    aws cloudformation wait stack-update-complete --stack-name "$S3VP_STACK"
  fi
fi
)
code=$?
if [ "$code" -eq 0 ]; then . {WORK_DIR}/change-set.env; fi
(exit "$code")"""
"""One buildspec command: the whole change-set step, in a subshell that stops at the first failure; when it succeeded
its exports are read again outside it, so that CodeBuild exports them as variables. The subshell's status is read on
the next line, not with ``( ... ) && ...``: bash ignores ``set -e`` inside a command whose status is tested."""
