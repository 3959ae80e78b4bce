#!/usr/bin/env bash
# test_expr_run_timeout: the workflow's own timeout_ms end to end (SPEC §8, §10), checked in the
# history: at the deadline the running shell task is stopped (attempt TIMED_OUT), every
# unfinished task becomes CANCELLED with the error "run timed out after N ms", finished tasks
# keep their state, the run ends FAILED (exit 1) and run_failed carries the error; a run that
# ends in time is untouched; an interrupted run resumed after its deadline (time spent
# INTERRUPTED counts) is cancelled at once.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
need_builtin noop
need_builtin sleep

cat >slow.json <<'EOF2'
{"name": "run_timeout", "timeout_ms": 1500,
 "alerts": [{"type": "file", "path": "alerts.jsonl", "on": ["run_failed"]}],
 "tasks": [
  {"id": "quick", "plugin": "noop"},
  {"id": "slow", "plugin": "shell", "params": {"script": "sleep 30"}, "depends_on": ["quick"]},
  {"id": "flaky", "plugin": "shell", "params": {"argv": ["false"]}, "retries": 5,
   "retry_delay_ms": 60000},
  {"id": "after", "plugin": "noop", "depends_on": ["slow"]},
  {"id": "cleanup", "plugin": "noop", "depends_on": ["slow"], "trigger_rule": "all_done"}
]}
EOF2
run_wf slow.json
expect_rc 1 "a run that times out"
run=$(last_run)
expect_run "$run" FAILED
expect_task "$run" quick SUCCESS
for t in slow flaky after cleanup; do
    expect_task "$run" "$t" CANCELLED
    assert_eq "run timed out after 1500 ms" \
        "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = '$t'")" \
        "error of $t"
done
assert_eq TIMED_OUT "$(q "SELECT outcome FROM attempt_history WHERE run_id = $run
                          AND task_id = 'slow'")" "the running attempt's outcome"
assert_eq "RUNNING>CANCELLED" "$(q "SELECT from_state || '>' || to_state FROM task_events
    WHERE run_id = $run AND task_id = 'slow' ORDER BY seq DESC LIMIT 1")" "slow's last transition"
assert_eq "UP_FOR_RETRY>CANCELLED" "$(q "SELECT from_state || '>' || to_state FROM task_events
    WHERE run_id = $run AND task_id = 'flaky' ORDER BY seq DESC LIMIT 1")" "flaky's last transition"
((RUN_MS < 15000)) || fail "the run took $RUN_MS ms (its timeout is 1500 ms)"
assert_contains "$(cat alerts.jsonl)" '"error":"run timed out after 1500 ms"' "run_failed's error"
((RUN_MS >= 1400)) || fail "the run ended after $RUN_MS ms, before its 1500 ms timeout"
assert_contains "$DF_OUT" "4 cancelled" "the summary counts the cancelled tasks"

note "a run that ends in time"
jq '.timeout_ms = 60000 | .tasks = [.tasks[0]]' slow.json >fast.json
run_wf fast.json
expect_rc 0 "a run within its timeout"
expect_run "$(last_run)" SUCCESS

note "resumed after its deadline"
cat >nap.json <<'EOF2'
{"name": "nap", "timeout_ms": 3000, "tasks": [
  {"id": "nap", "plugin": "sleep", "params": {"ms": 20000}},
  {"id": "next", "plugin": "noop", "depends_on": ["nap"]}
]}
EOF2
"$DF_BIN" run nap.json --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
    [[ "$(q "SELECT count(*) FROM task_history WHERE workflow = 'nap' AND state = 'RUNNING'" 2>/dev/null)" == 1 ]] && break
    sleep 0.1
done
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
assert_eq 130 "$rc" "run interrupted"
run=$(last_run)
sleep 3
t0=$(now_ms)
dfx resume "$run"
expect_rc 1 "resume after the deadline"
(($(now_ms) - t0 < 10000)) || fail "the resumed run was not cancelled at once"
expect_run "$run" FAILED
expect_task "$run" nap CANCELLED
expect_task "$run" next CANCELLED

run_done
