#!/usr/bin/env bash
# test_expr_example: workflows/expressive.json runs as it is (issue 12's keys together): lint fails
# with continue_on_failure, build succeeds, the soft sensor is SKIPPED at its timeout, when skips
# deploy_prod and runs deploy_staging (the workflow's env read by ${env.BUILD_LABEL}), the
# none_failed_min_one_success report runs, and the run succeeds; --param target=prod flips them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
WF="$WORK/wf"
mkdir -p "$WF"
cp -r "$DF_SOURCE_DIR/workflows/." "$WF/"
cd "$WF"
run_df run expressive.json --db "$DB" --plugin-dir "$DF_PLUGIN_DIR"
expect_rc 0 "workflows/expressive.json"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" lint FAILED
expect_task "$run" build SUCCESS
expect_task "$run" wait_approval SKIPPED
expect_task "$run" deploy_prod SKIPPED
expect_task "$run" deploy_staging SUCCESS
expect_task "$run" report SUCCESS
dfx status "$run" --json
assert_eq "app-nightly.tar|nightly" \
    "$(jq -r '.tasks[] | select(.id == "report") | .result.staging | "\(.artifact)|\(.label)"' <<<"$DF_OUT")" \
    "the staging deploy's result reaches the report"
run_df run expressive.json --db "$DB" --plugin-dir "$DF_PLUGIN_DIR" --param target=prod
expect_rc 0 "target=prod without approval: nothing deploys, nothing fails"
run=$(last_run)
expect_task "$run" deploy_prod SKIPPED
expect_task "$run" deploy_staging SKIPPED
expect_task "$run" report SKIPPED
run_done
