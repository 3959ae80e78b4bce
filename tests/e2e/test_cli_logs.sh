#!/usr/bin/env bash
# `dagflow logs RUN_ID TASK [--attempt N]` and `dagflow status RUN_ID --task TASK` (SPEC §10):
# an attempt's log lines, then its own stdout and stderr (every attempt keeps them, a flaky
# task's three attempts are checked); the latest attempt by default; one task's
# attempts as a table and as JSON; unknown run, task (with "did you mean") and attempt exit 2;
# what is shown is what attempt_history holds. Runs on PostgreSQL too (pg label).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_plugin logger
need_builtin shell

cat >wf.json <<'JSON'
{"name": "logs", "tasks": [
  {"id": "ok", "plugin": "shell", "params": {"script": "echo hello; echo oops >&2"}},
  {"id": "bad", "plugin": "shell", "retries": 1, "retry_delay_ms": 10,
   "params": {"script": "echo out; echo boom >&2; exit 3"}},
  {"id": "talk", "plugin": "logger", "params": {"lines": 3, "width": 5}},
  {"id": "flaky", "plugin": "shell", "retries": 2, "retry_delay_ms": 10,
   "params": {"script": "n=$(($(cat COUNT 2>/dev/null || echo 0) + 1)); echo $n >COUNT; echo out $n; echo err $n >&2; [ $n -ge 3 ] || exit $((10 + n))"}}
]}
JSON
# the flaky task counts its attempts in a file of the test's own
sed -i "s|COUNT|$WORK/flaky.count|g" wf.json
run_wf wf.json
expect_rc 1 "the run fails (task bad)"
run=$(last_run)

note "logs of a succeeded shell task: log, then stdout, then stderr"
dfx logs "$run" ok
expect_rc 0 "logs ok"
assert_contains "$DF_OUT" "attempt 1 of 1: SUCCESS, exit code 0" "header"
order=$(grep -nE '^(--- log ---|exit code 0|--- stdout ---|hello|--- stderr ---|oops)$' <<<"$DF_OUT" | cut -d: -f2 | tr '\n' ',')
assert_eq "--- log ---,exit code 0,--- stdout ---,hello,--- stderr ---,oops," "$order" "sections in order"

note "the plugin's log lines"
dfx logs "$run" talk
expect_rc 0 "logs talk"
assert_contains "$DF_OUT" $'line 1 xxxxx\nline 2 xxxxx\nline 3 xxxxx' "logger lines"
assert_contains "$DF_OUT" $'--- stdout ---\n(not kept for this attempt)' "no stdout for a non-shell plugin"

note "latest attempt by default, --attempt N picks one"
dfx logs "$run" bad
expect_rc 0 "logs bad"
assert_contains "$DF_OUT" "attempt 2 of 2: FAILED" "latest attempt"
assert_contains "$DF_OUT" "Error: exit code 3: boom" "error line"
dfx logs "$run" bad --attempt 1
expect_rc 0 "logs bad --attempt 1"
assert_contains "$DF_OUT" "attempt 1 of 2: FAILED" "first attempt"
assert_contains "$DF_OUT" $'--- stdout ---\nout\n--- stderr ---\nboom' "the first attempt's own stdout and stderr"
dfx logs "$run" bad --attempt 3
expect_rc 2 "no attempt 3"
assert_contains "$DF_ERR" "dagflow: task \"bad\" of run $run has no attempt 3 (its attempts are 1 to 2)" "attempt message"
dfx logs "$run" bad --attempt 0
expect_rc 2 "--attempt 0"

note "every attempt keeps its own stdout, stderr and exit code (a task failing twice, then succeeding)"
for n in 1 2 3; do
    dfx logs "$run" flaky --attempt $n
    expect_rc 0 "logs flaky --attempt $n"
    if ((n < 3)); then
        assert_contains "$DF_OUT" "attempt $n of 3: FAILED, exit code $((10 + n))" "attempt $n header"
    else
        assert_contains "$DF_OUT" "attempt 3 of 3: SUCCESS, exit code 0" "attempt 3 header"
    fi
    assert_contains "$DF_OUT" $'--- stdout ---\nout '$n$'\n--- stderr ---\nerr '$n "attempt $n's own output"
done
dfx status "$run" --task flaky --json
expect_rc 0 "status --task flaky --json"
assert_eq '[["FAILED","FAILED","SUCCESS"],["out 1","out 2","out 3"],["err 1","err 2","err 3"],[11,12,0],[false,false,false]]' \
    "$(json_q '[[.attempts[].outcome], [.attempts[].stdout], [.attempts[].stderr], [.attempts[].exit_code], [.attempts[].stdout_truncated]]' "$DF_OUT")" \
    "status --task shows every attempt's output"
dfx status "$run" --task flaky
expect_rc 0 "status --task flaky"
assert_match "$DF_OUT" '^2 +FAILED +[0-9T:.-]+Z +[0-9.]+m?s +12 +exit code 12: err 2$' "attempt 2 row with its exit code"
if ! df_is_pg_uri "$DB"; then
    assert_eq '12|out 2' "$(q "SELECT json_extract(output, '$.exit_code') || '|' || json_extract(output, '$.stdout') FROM attempts WHERE run_id = $run AND task_id = 'flaky' AND attempt = 2")" \
        "attempts.output holds attempt 2's"
fi

note "--json: the attempt's object, as attempt_history holds it"
dfx logs "$run" ok --json
expect_rc 0 "logs --json"
assert_eq '[1,"SUCCESS","hello","oops",0,"exit code 0"]' \
    "$(json_q '[.attempt, .outcome, .stdout, .stderr, .exit_code, .log]' "$DF_OUT")" "json keys"
dfx logs "$run" bad --attempt 1 --json
expect_rc 0 "logs bad --json"
assert_eq "$(q "SELECT outcome || '|' || error || '|' || log || '|' || duration_ms FROM attempt_history WHERE run_id = $run AND task_id = 'bad' AND attempt = 1")" \
    "$(jv '"\(.outcome)|\(.error)|\(.log)|\(.duration_ms)"' "$DF_OUT" -r)" "same as attempt_history"

note "unknown run, task, bad operands: exit 2 with a clear message"
dfx logs "$run" bda
expect_rc 2 "unknown task"
assert_eq "dagflow: run $run has no task \"bda\"; did you mean \"bad\"?" "$DF_ERR" "did you mean"
dfx logs 999 ok
expect_rc 2 "unknown run"
assert_contains "$DF_ERR" "dagflow: unknown run 999" "unknown run message"
dfx logs x ok
expect_rc 2 "bad run id"
dfx logs "$run"
expect_rc 2 "missing TASK"
expect_stderr_lines_prefixed
if ! df_is_pg_uri "$DB"; then
    run_df logs 1 ok --db "$WORK/none.db"
    expect_rc 2 "no database"
    assert_file_absent "$WORK/none.db" "logs creates no database"
fi

note "status RUN --task TASK: the task's attempts"
dfx status "$run" --task bad
expect_rc 0 "status --task"
assert_contains "$DF_OUT" "State:     FAILED" "task state"
assert_match "$DF_OUT" '^1 +FAILED +[0-9T:.-]+Z +[0-9.]+m?s +3 +exit code 3: boom$' "attempt 1 row (its own exit code)"
assert_match "$DF_OUT" '^2 +FAILED ' "attempt 2 row"
dfx status "$run" --task ok --json
expect_rc 0 "status --task --json"
assert_eq '["ok","SUCCESS",[1],["SUCCESS"],[0]]' \
    "$(json_q '[.task_id, .state, [.attempts[].attempt], [.attempts[].outcome], [.attempts[].exit_code]]' "$DF_OUT")" "status --task --json"
dfx status --task talk --json
expect_rc 0 "status --task of the latest run"
assert_eq "$run" "$(json_q .run_id "$DF_OUT")" "latest run"
dfx status "$run" --task nope
expect_rc 2 "status --task unknown"
assert_contains "$DF_ERR" "run $run has no task \"nope\"" "unknown task message"

note "help"
run_df logs --help
expect_rc 0 "logs --help"
assert_contains "$DF_OUT" "--attempt N" "help lists --attempt"
run_done
