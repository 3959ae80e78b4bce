#!/usr/bin/env bash
# test_expr_on_exit: SPEC §8/§10's on_exit handlers end to end, checked in the history: they run
# after a run that succeeded, one that failed, one that timed out and one cancelled, reading ${run.state},
# ${run.failed_tasks} and the tasks' results (null for a task without one) in templates and in
# `when`; a failed handler fails the run; status, history and graph show them; `retry` runs them
# again; a handler id that collides with a task id is a load error.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
need_builtin noop

cat >wf.json <<'EOF2'
{"name": "exits", "params": {"fail": false}, "tasks": [
  {"id": "work", "plugin": "shell", "params": {"env": {"FAIL": "${params.fail}"},
   "script": "echo working; if [ \"$FAIL\" = true ]; then echo bad >&2; exit 4; fi"}},
  {"id": "after", "plugin": "noop", "depends_on": ["work"]}
],
"on_exit": [
  {"id": "report", "plugin": "shell",
   "params": {"script": "echo \"${run.state} ${run.failed_tasks} ${tasks.work.result.exit_code} ${tasks.after.result}\""}},
  {"id": "celebrate", "plugin": "noop", "when": ".run.state == \"SUCCESS\""},
  {"id": "page", "plugin": "noop", "when": ".run.state == \"FAILED\" and (.run.failed_tasks | index(\"work\"))",
   "params": {"stderr": "${tasks.work.result.stderr}"}}
]}
EOF2

note "after a run that succeeded"
run_wf wf.json
expect_rc 0 "success"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" report SUCCESS
expect_task "$run" celebrate SUCCESS
expect_task "$run" page SKIPPED
dfx status "$run" --json
assert_eq 'SUCCESS [] 0 {}' "$(jq -r '.tasks[] | select(.id == "report") | .result.stdout' <<<"$DF_OUT")" \
    "the handler's view of a run that succeeded"
# the handlers started after every task ended
t_after=$(q "SELECT ended_at FROM task_history WHERE run_id = $run AND task_id = 'after'")
t_report=$(q "SELECT started_at FROM task_history WHERE run_id = $run AND task_id = 'report'")
[[ "$t_report" > "$t_after" || "$t_report" == "$t_after" ]] || fail "report started at $t_report, before after ended at $t_after"
assert_eq 5 "$(q "SELECT tasks_total FROM run_history WHERE run_id = $run")" "handlers count as tasks"

note "after a run that failed"
run_wf wf.json --param fail:=true
expect_rc 1 "failure"
run=$(last_run)
expect_run "$run" FAILED
expect_task "$run" work FAILED
expect_task "$run" after UPSTREAM_FAILED
expect_task "$run" celebrate SKIPPED
expect_task "$run" page SUCCESS
dfx status "$run" --json
assert_eq 'FAILED ["work"] 4 null' "$(jq -r '.tasks[] | select(.id == "report") | .result.stdout' <<<"$DF_OUT")" \
    "the handler's view of a run that failed (null for a task without a result)"
assert_eq bad "$(jq -r '.tasks[] | select(.id == "page") | .result.stderr' <<<"$DF_OUT")" \
    "a handler reads the failed task's result"
assert_contains "$(cat .stdout)" "page" "the run summary lists handlers"

note "retry runs the handlers again"
sed -i 's/exit 4/exit 0/' wf.json # the stored DAG is used, not the file: the retry fails again
run_df retry "$run" --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR"
expect_rc 1 "retry of the failed run"
assert_eq 2 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'report'")" \
    "report ran again"
assert_eq 2 "$(q "SELECT count(*) FROM task_events WHERE run_id = $run AND task_id = 'celebrate' AND to_state = 'SKIPPED'")" \
    "celebrate was decided again"

note "a failed handler fails the run"
cat >badh.json <<'EOF2'
{"name": "badh", "tasks": [{"id": "ok", "plugin": "noop"}],
 "on_exit": [{"id": "broken", "plugin": "shell", "params": {"argv": ["false"]}}]}
EOF2
run_wf badh.json
expect_rc 1 "a failed handler"
run=$(last_run)
expect_run "$run" FAILED
expect_task "$run" ok SUCCESS
expect_task "$run" broken FAILED
note "retry of a run whose only failure is a handler re-runs just that handler"
run_df retry "$run" --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR"
expect_rc 1 "the handler fails again"
assert_eq 1 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'ok'")" "ok kept"
assert_eq 2 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'broken'")" "broken again"

note "after a run that timed out"
cat >tmo.json <<'EOF2'
{"name": "tmo", "timeout_ms": 700, "tasks": [
  {"id": "quick", "plugin": "noop"},
  {"id": "slow", "plugin": "shell", "params": {"script": "sleep 30"}, "depends_on": ["quick"]},
  {"id": "never", "plugin": "noop", "depends_on": ["slow"]}
],
"on_exit": [
  {"id": "cleanup", "plugin": "shell", "timeout_ms": 20000,
   "params": {"script": "sleep 1; echo \"${run.state} ${run.failed_tasks}\""}}
]}
EOF2
run_wf tmo.json
expect_rc 1 "timed out"
run=$(last_run)
expect_run "$run" FAILED
expect_task "$run" slow CANCELLED
expect_task "$run" never CANCELLED
expect_task "$run" cleanup SUCCESS
dfx status "$run" --json
assert_eq 'FAILED []' "$(jq -r '.tasks[] | select(.id == "cleanup") | .result.stdout' <<<"$DF_OUT")" \
    "the handler ran past the run's deadline (bound by its own timeout) and saw FAILED"

note "after a run that was cancelled"
cat >cnl.json <<'EOF2'
{"name": "cnl", "tasks": [
  {"id": "slow", "plugin": "shell", "params": {"script": "touch started; sleep 30"}},
  {"id": "never", "plugin": "noop", "depends_on": ["slow"]}
],
"on_exit": [
  {"id": "report", "plugin": "shell", "params": {"script": "echo \"${run.state} ${run.failed_tasks}\""}},
  {"id": "on_cancel", "plugin": "noop", "when": ".run.state == \"CANCELLED\""},
  {"id": "on_success", "plugin": "noop", "when": ".run.state == \"SUCCESS\""}
]}
EOF2
rm -f started
"$DF_BIN" run cnl.json --db "$DB" >cnl.out 2>cnl.err &
cnl_pid=$!
for _ in $(seq 300); do [[ -f started ]] && break; sleep 0.05; done
[[ -f started ]] || fail "the task to cancel never started: $(cat cnl.err)"
run=$(last_run)
dfx cancel "$run" --wait
expect_rc 0 "cancel --wait"
cnl_rc=0
wait "$cnl_pid" || cnl_rc=$?
assert_eq 1 "$cnl_rc" "run exits 1 for CANCELLED"
expect_run "$run" CANCELLED
expect_task "$run" slow CANCELLED
expect_task "$run" never CANCELLED
expect_task "$run" report SUCCESS
expect_task "$run" on_cancel SUCCESS
expect_task "$run" on_success SKIPPED
dfx status "$run" --json
assert_eq 'CANCELLED []' "$(jq -r '.tasks[] | select(.id == "report") | .result.stdout' <<<"$DF_OUT")" \
    "the handler saw the run CANCELLED"

note "graph and load errors"
run_df graph wf.json
expect_rc 0 "graph"
assert_contains "$DF_OUT" '"report" [label="report\nshell\n(on_exit)", style=dashed];' "a handler node"
assert_not_contains "$DF_OUT" '-> "report"' "no edges to handlers"
cat >clash.json <<'EOF2'
{"name": "clash", "tasks": [{"id": "work", "plugin": "noop"}],
 "on_exit": [{"id": "work", "plugin": "noop", "depends_on": ["work"]}]}
EOF2
run_df validate clash.json
expect_rc 2 "collision"
assert_contains "$DF_ERR" 'clash.json: on_exit handler "work" (on_exit[0]): id: duplicate task id "work"' "collision error"
assert_contains "$DF_ERR" 'depends_on: an on_exit handler cannot have depends_on' "refused key"

run_done
