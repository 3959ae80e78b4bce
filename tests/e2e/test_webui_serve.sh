#!/usr/bin/env bash
# The web UI against a real `dagflow serve --token-file` (issue 11's acceptance: "run now" starts
# a run), in headless Chromium (tests/browser/webui_check.py serve): the token asked once; a
# scheduled workflow's schedule and next fire time on the workflows page; "run now" with params
# starts a run (trigger api) whose page follows it to SUCCESS and whose task got the params; on a
# longer run started the same way, the cancel button cancels it (CANCELLED, its tasks too) and
# the retry button reopens it to SUCCESS, the page following all of it live. Screenshots
# build/tests/artifacts/webui_serve_workflows.png and webui_cancelled.png. Skipped (77) only where
# chromium is not installed. Runs on PostgreSQL too (pg label).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/serve_lib.sh"
run_setup
need_builtin shell
command -v python3 >/dev/null || skip "python3 is not installed"
command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
    skip "chromium is not installed (Debian package chromium, in .ci/packages)"

mkdir -p wf
cat >wf/greet.json <<'JSON'
{"name": "greet", "params": {"who": "nobody"},
 "tasks": [{"id": "hello", "plugin": "shell", "params": {"script": "echo hello ${params.who}"}}]}
JSON
cat >wf/long.json <<'JSON'
{"name": "long", "tasks": [
  {"id": "nap", "plugin": "shell", "params": {"script": "if [ -e again.mark ]; then true; else touch again.mark; sleep 60; fi"}},
  {"id": "after", "plugin": "shell", "depends_on": ["nap"], "params": {"script": "true"}}]}
JSON
cat >wf/sched.json <<'JSON'
{"name": "sched", "schedule": {"cron": "0 3 * * *", "catchup": "none"},
 "tasks": [{"id": "a", "plugin": "noop"}]}
JSON
# a file that does not load and has no usable name: shown without a link (it had an empty
# "#runs?workflow=null" link)
printf '{"name": 5, "tasks": []}\n' >wf/noname.json
printf 'serve-ui-%s\n' "$$" >token
chmod 600 token
trap 'kill -TERM "${SERVE_PID:-}" 2>/dev/null || true' EXIT
serve_start --token-file "$WORK/token"
[[ -n "$SERVE_URL" ]] || fail "serve did not say its URL: $(cat "$SERVE_LOG")"

note "the UI in headless Chromium against serve at $SERVE_URL"
mkdir -p "$DF_BUILD_DIR/tests/artifacts"
UI_URL="$SERVE_URL" UI_TOKEN="serve-ui-$$" UI_RUN_NOW=greet UI_CANCEL_WF=long \
    UI_ART="$DF_BUILD_DIR/tests/artifacts" \
    timeout 280 python3 "$DF_SOURCE_DIR/tests/browser/webui_check.py" serve >check.out 2>&1 ||
    { cat check.out; fail "webui_check.py serve failed"; }
cat check.out
assert_contains "$(cat check.out)" "PASS:" "the checks ran to the end"
assert_eq "api" "$(q "SELECT DISTINCT trigger FROM run_history")" "every run was started by the API"
assert_eq "2" "$(q "SELECT count(*) FROM run_history WHERE state = 'SUCCESS'")" "both runs ended SUCCESS"
assert_eq "1" "$(q "SELECT count(*) FROM task_history t JOIN run_history r USING (run_id) WHERE r.workflow = 'long' AND t.task_id = 'nap' AND t.attempts = 2")" \
    "nap: cancelled once, then retried"
serve_stop
assert_eq "0" "$SERVE_RC" "serve exits 0"
for f in webui_serve_workflows webui_cancelled; do
    [[ -s "$DF_BUILD_DIR/tests/artifacts/$f.png" ]] || fail "no screenshot $f.png"
done
df_done
