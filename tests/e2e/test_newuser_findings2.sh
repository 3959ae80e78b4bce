#!/usr/bin/env bash
# test_newuser_findings2: what a new user (and an attacker) met in dagflow, second round
# (/work/notes/newuser_findings.md and newuser_findings2.md):
#   16. a `shell` command too long for the kernel (E2BIG) fails once, permanently (its retries
#       would build the same command), and the error points to stdin.
#    8. POST /api/v1/workflows/NAME/runs with a bad param: the error names the request's
#       "params" and the JSON to send, not the CLI's `--param`.
#  new: a workflow file whose name is not UTF-8 in serve's folder killed serve (SIGSEGV) at the
#       first GET /api/v1/workflows (the UI's first page); now listed with U+FFFD for the byte,
#       and `validate --json` of such an invalid file lists its errors (it gave "errors": []).
#  new: a `workflow` task whose `file` is a template (`${params.f}`) escaped the load-time check
#       for a workflow running itself: self.json started 3,437 child runs in 30 s, without end;
#       now the child start is refused (permanently) when its file already runs above it.
#  new: a `when` that does not end (`last(range(1e12)) > 0`) froze the engine thread for good;
#       it is stopped after 5 s and fails its task. `logs RUN 'each[99999999999999999999]'` quoted
#       the index clamped to 9223372036854775807.
#    4. `history` (and the API's run list) showed a run whose `dagflow run` was killed RUNNING for
#       30 s while `status` said INTERRUPTED; now both say INTERRUPTED, and --state follows.
#   14. serve writes one line per event: a workflow file name holding a newline cannot forge a
#       log line (control characters are escaped in every serve log line).
# Runs on PostgreSQL too (pg label).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/serve_lib.sh"
run_setup
need_builtin shell
command -v curl >/dev/null || skip "curl is not installed"

note "16. a command over the kernel's 128 KiB per argument: one attempt, a permanent failure"
cat >big.json <<'EOF'
{"name": "big",
 "tasks": [{"id": "gen", "plugin": "shell", "params": {"script": "head -c 200000 /dev/zero | tr '\\0' x"}},
           {"id": "use", "plugin": "shell", "depends_on": ["gen"], "retries": 3, "retry_delay_ms": 10,
            "params": {"script": "echo ${tasks.gen.result.stdout} | wc -c"}}]}
EOF
run_wf big.json
expect_rc 1 "run of a command too long for the kernel"
assert_eq "1" "$(q "SELECT attempts FROM task_history WHERE task_id = 'use'")" "attempts of the too-long command"
err=$(q "SELECT error FROM task_history WHERE task_id = 'use'")
assert_contains "$err" "argument list too long" "its error"
assert_contains "$err" '"stdin"' "its error points to stdin"

note "new: a workflow that runs itself through a templated file: refused at run time"
cat >self.json <<'EOF'
{"name": "self", "params": {"f": "self.json"},
 "tasks": [{"id": "child", "plugin": "workflow", "params": {"file": "${params.f}"}}]}
EOF
cat >a.json <<'EOF'
{"name": "a", "params": {"next": "b.json"},
 "tasks": [{"id": "down", "plugin": "workflow", "params": {"file": "${params.next}"}}]}
EOF
cat >b.json <<'EOF'
{"name": "b", "tasks": [{"id": "up", "plugin": "workflow", "params": {"file": "a.json"}}]}
EOF
RUN_LIMIT=60 run_wf self.json
expect_rc 1 "run of a workflow that runs itself (it started child runs without end)"
assert_eq "1" "$(q "SELECT count(*) FROM run_history WHERE workflow = 'self'")" "runs of self"
assert_contains "$(q "SELECT error FROM task_history WHERE task_id = 'child'")" \
    "a workflow that runs itself: $(realpath "$WORK")/self.json already runs as run" "the task's error"
assert_eq "1" "$(q "SELECT attempts FROM task_history WHERE task_id = 'child'")" "attempts (permanent)"
RUN_LIMIT=60 run_wf a.json
expect_rc 1 "a -> b -> a"
assert_eq "1 1" "$(q "SELECT count(*) FROM run_history WHERE workflow = 'a'") $(q "SELECT count(*) FROM run_history WHERE workflow = 'b'")" \
    "runs of a and b"
assert_contains "$(q "SELECT error FROM task_history WHERE task_id = 'up'")" "/a.json already runs as run" \
    "b's task refused to start a again"

note "new: a when condition that does not end is stopped after 5 s (it froze the engine)"
cat >jqloop.json <<'EOF'
{"name": "jqloop", "tasks": [{"id": "a", "plugin": "noop"},
 {"id": "b", "plugin": "noop", "depends_on": ["a"], "when": "last(range(1e12)) > 0"}]}
EOF
RUN_LIMIT=120 run_wf jqloop.json
expect_rc 1 "run with an endless when (it never ended, not even on SIGTERM)"
assert_contains "$(q "SELECT error FROM task_history WHERE task_id = 'b'")" \
    "when: jq: the condition did not finish within 5000 ms and was stopped" "the task's error"

note "new: an instance index too large is quoted as typed"
cat >mapped.json <<'EOF'
{"name": "mapped", "tasks": [{"id": "each", "plugin": "noop", "for_each": [1, 2]}]}
EOF
run_wf mapped.json
expect_rc 0 "mapped run"
dfx logs "$(q "SELECT max(run_id) FROM run_history")" 'each[99999999999999999999]'
expect_rc 2 "logs of an instance past the int64 range"
assert_contains "$DF_ERR" 'has no task "each[99999999999999999999]"' "its message (it said each[9223372036854775807])"

note "4. history shows a run whose engine was killed INTERRUPTED at once, as status does"
cat >long.json <<'EOF'
{"name": "long", "tasks": [{"id": "nap", "plugin": "sleep", "params": {"ms": 120000}}]}
EOF
# running_ids: the ids of the runs of long.json the store has RUNNING, one line
running_ids() {
    q "SELECT run_id FROM run_history WHERE workflow = 'long' AND state = 'RUNNING' ORDER BY run_id" | paste -sd' ' -
}
"$DF_BIN" run long.json --db "$DB" >dead.out 2>&1 &
DEAD_PID=$!
for ((i = 0; i < 300; i++)); do [[ -n "$(running_ids)" ]] && break; sleep 0.1; done
DEAD_RUN=$(running_ids)
[[ -n "$DEAD_RUN" ]] || fail "the first run did not start: $(cat dead.out)"
"$DF_BIN" run long.json --db "$DB" >live.out 2>&1 &
LIVE_PID=$!
trap 'kill -TERM "${SERVE_PID:-}" "${LIVE_PID:-}" 2>/dev/null || true' EXIT
for ((i = 0; i < 300; i++)); do [[ "$(running_ids)" == *" "* ]] && break; sleep 0.1; done
LIVE_RUN=$(running_ids)
LIVE_RUN=${LIVE_RUN#"$DEAD_RUN "}
[[ -n "$LIVE_RUN" && "$LIVE_RUN" != *" "* ]] || fail "the second run did not start: $(cat live.out)"
kill -9 "$DEAD_PID"
wait "$DEAD_PID" 2>/dev/null || true
dfx history --json
assert_eq "INTERRUPTED" "$(jq -r ".[] | select(.run_id == $DEAD_RUN) | .state" <<<"$DF_OUT")" \
    "history: the run whose engine was killed (it showed RUNNING for 30 s)"
assert_eq "RUNNING" "$(jq -r ".[] | select(.run_id == $LIVE_RUN) | .state" <<<"$DF_OUT")" "history: the live run"
dfx history --state RUNNING --json
assert_eq "$LIVE_RUN" "$(jq -r '[.[].run_id] | join(" ")' <<<"$DF_OUT")" "history --state RUNNING"
dfx history --state INTERRUPTED --json
assert_eq "$DEAD_RUN" "$(jq -r '[.[].run_id] | join(" ")' <<<"$DF_OUT")" "history --state INTERRUPTED"
dfx history --state RUNNING --limit 1 --json
assert_eq "$LIVE_RUN" "$(jq -r '[.[].run_id] | join(" ")' <<<"$DF_OUT")" "history --state RUNNING --limit 1"
dfx status "$DEAD_RUN" --json
assert_eq "INTERRUPTED" "$(jq -r .state <<<"$DF_OUT")" "status agrees"
kill -TERM "$LIVE_PID"
wait "$LIVE_PID" 2>/dev/null || true

mkdir -p wf
cat >wf/typed.json <<'EOF'
{"name": "typed", "params": {"ms": 1, "flags": [1]},
 "tasks": [{"id": "nap", "plugin": "sleep", "params": {"ms": "${params.ms}"}}]}
EOF
# a file whose name holds a newline and a fake log line, and which does not load
printf '{"name": 5, "tasks": []}\n' >"wf/evil
dagflow serve: run 77 (forged) ended SUCCESS
x.json"
# a valid workflow in a file whose name is not UTF-8 (JSON text is)
printf '{"name": "latin1", "tasks": [{"id": "a", "plugin": "noop"}]}\n' >"wf/caf"$'\xe9'".json"
trap 'kill -TERM "${SERVE_PID:-}" 2>/dev/null || true' EXIT
serve_start

note "new: a workflow file whose name is not UTF-8"
code=$(curl -s -o list.json -w '%{http_code}' "${SERVE_URL}api/v1/workflows")
assert_eq "200" "$code" "GET /api/v1/workflows (serve died of a segfault before)"
assert_eq "3" "$(jq length list.json)" "workflows listed"
assert_eq "wf/caf"$'\xef\xbf\xbd'".json" "$(jq -r '.[] | select(.name == "latin1") | .file' list.json | sed "s|^$WORK/||")" \
    "its file name, the byte that is not UTF-8 as U+FFFD"
assert_eq "true" "$(jq '.[] | select(.name == "latin1") | .valid' list.json)" "and it is served"
kill -0 "$SERVE_PID" || fail "serve died: $(cat "$SERVE_LOG")"
DF_ASSERTS=$((DF_ASSERTS + 1))
run_df validate "wf/caf"$'\xe9'".json" --json
expect_rc 0 "validate of the file whose name is not UTF-8"
printf '{"name": 5, "tasks": []}\n' >"bad"$'\xe9'".json"
run_df validate "bad"$'\xe9'".json" --json
expect_rc 2 "validate of an invalid file whose name is not UTF-8"
assert_eq "2" "$(jq '.errors | length' <<<"$DF_OUT")" "validate --json lists its errors (it listed none)"
assert_contains "$(jq -r '.errors[0]' <<<"$DF_OUT")" "bad?.json: name: must be a string" "the first error"

note "8. the API's bad params are worded for the API"
# http_code ARGS...: curl's status code for a request to this serve; its body in api.json.
http_code() { curl -s -o api.json -w '%{http_code}' "$@"; }
post_run() {
    http_code -X POST -H 'Content-Type: application/json' -d "$2" "${SERVE_URL}api/v1/workflows/$1/runs"
}
assert_eq "400" "$(post_run typed '{"params": {"nope": 1}}')" "POST with an undeclared param"
msg=$(jq -r .error api.json)
assert_contains "$msg" 'param "nope" given in the request'"'"'s "params": the workflow declares no param "nope"' "its error"
assert_not_contains "$msg" "--param" "its error"
assert_eq "400" "$(post_run typed '{"params": {"ms": "5"}}')" "POST with a string for an integer param"
msg=$(jq -r .error api.json)
assert_contains "$msg" 'param "ms" given in the request'"'"'s "params" is the string "5", but its default is an integer' "its error"
assert_contains "$msg" '{"params":{"ms":5}}' "its error gives the JSON to send"
assert_not_contains "$msg" "--param" "its error"
assert_eq "400" "$(post_run typed '{"params": {"flags": "abc"}}')" "POST with a string for an array param"
assert_contains "$(jq -r .error api.json)" "give an array as JSON" "its error"
assert_eq "201" "$(post_run typed '{"params": {"ms": 5}}')" "POST with the typed param starts a run"

note "14. control characters in what a log line names are escaped"
log=$(cat "$SERVE_LOG")
if grep -q '^dagflow serve: run 77 (forged)' "$SERVE_LOG" || grep -q '^x.json' "$SERVE_LOG"; then
    fail "a file name forged a log line: $log"
fi
assert_contains "$log" 'wf/evil\ndagflow serve: run 77 (forged) ended SUCCESS\nx.json' "the file name, escaped"
while IFS= read -r line; do
    [[ "$line" =~ ^[0-9T:.-]+Z\ dagflow\ serve:\  ]] ||
        fail "a serve log line not from serve: [$line] in $log"
done <"$SERVE_LOG"
DF_ASSERTS=$((DF_ASSERTS + 1))

serve_stop
assert_eq "0" "$SERVE_RC" "serve exits 0"
df_done
