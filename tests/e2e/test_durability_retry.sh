#!/usr/bin/env bash
# test_durability_retry: `dagflow retry` (SPEC §6, §3 FAILED | UPSTREAM_FAILED | SKIPPED -> PENDING
# with a fresh retry budget, attempt numbers counting up):
#   - a run FAILED because a shell task fails unless the file "fixed" exists (retries 1); create
#     the file; `retry RUN` -> exit 0, run SUCCESS; the failed task's attempts go on 3, 4 (it fails
#     once more after the fix, so only a fresh budget lets it succeed); its UPSTREAM_FAILED
#     downstream and the SKIPPED one go back to PENDING and are decided again; the SUCCESS tasks
#     do not run again;
#   - `retry RUN` of a run with nothing to retry -> exit 2;
#   - `retry RUN --task X` re-runs X (SUCCESS) and everything downstream of it, nothing else;
#     an unknown --task -> exit 2;
#   - retry of an INTERRUPTED run and of an unknown run -> exit 2 (a RUNNING one:
#     test_durability_resume_refused).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup

# needs: logs its start, and succeeds only once "fixed" exists and it has run 4 times.
NEEDS='echo \"$DAGFLOW_TASK_ID $DAGFLOW_ATTEMPT\" >> runs.log; [ -f fixed ] && [ $(grep -c ^needs runs.log) -ge 4 ]'
cat >wf.json <<EOF
{"name": "durability_retry", "tasks": [
  {"id": "ind", "plugin": "counter", "params": {"path": "runs.log"}},
  {"id": "ind_down", "plugin": "counter", "depends_on": ["ind"], "params": {"path": "runs.log"}},
  {"id": "prep", "plugin": "counter", "params": {"path": "runs.log"}},
  {"id": "needs", "plugin": "shell", "depends_on": ["prep"], "retries": 1, "retry_delay_ms": 100,
   "params": {"script": "$NEEDS"}},
  {"id": "down", "plugin": "counter", "depends_on": ["needs"], "params": {"path": "runs.log"}},
  {"id": "down2", "plugin": "counter", "depends_on": ["down"], "params": {"path": "runs.log"}},
  {"id": "alt", "plugin": "counter", "depends_on": ["needs"], "trigger_rule": "all_skipped",
   "params": {"path": "runs.log"}}
]}
EOF
# outcomes RUN TASK: "1 FAILED,2 SUCCESS,..." in attempt order.
outcomes() {
    q "SELECT group_concat(attempt || ' ' || outcome, ',') FROM
         (SELECT attempt, outcome FROM attempt_history WHERE run_id = $1 AND task_id = '$2'
          ORDER BY attempt)"
}
# runs_of TASK: lines of runs.log for TASK.
runs_of() {
    grep -c "^$1 " runs.log || true
}

note "run: needs fails twice (retries 1)"
dfg run wf.json
expect_rc 1 "a run whose task fails"
run=$(last_run)
expect_run "$run" FAILED
assert_eq "1 FAILED,2 FAILED" "$(outcomes "$run" needs)" "attempts of needs"
expect_task "$run" needs FAILED
expect_task "$run" down UPSTREAM_FAILED
expect_task "$run" down2 UPSTREAM_FAILED
expect_task "$run" alt SKIPPED
for t in ind ind_down prep; do expect_task "$run" "$t" SUCCESS; done
expect_invariants "$run" finished

note "fix the cause, retry: fresh budget (attempt 3 fails, 4 succeeds), SUCCESS tasks not re-run"
touch fixed
retry_fg "$run"
expect_rc 0 "retry after the fix"
expect_run "$run" SUCCESS
assert_eq "1 FAILED,2 FAILED,3 FAILED,4 SUCCESS" "$(outcomes "$run" needs)" "attempts of needs after retry"
expect_task "$run" needs SUCCESS
assert_eq 4 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'needs'")" \
    "attempt count of needs"
assert_eq "" "$(q "SELECT ifnull(error, '') FROM task_history WHERE run_id = $run AND task_id = 'needs'")" \
    "error of needs cleared"
assert_contains "$(events "$run" needs)" "RUNNING>FAILED FAILED>PENDING PENDING>QUEUED QUEUED>RUNNING RUNNING>UP_FOR_RETRY" \
    "transitions of needs"
assert_eq 2 "$(q "SELECT attempt FROM task_events WHERE run_id = $run AND task_id = 'needs'
                  AND from_state = 'FAILED' AND to_state = 'PENDING'")" "attempt number kept by the retry"
for t in down down2; do
    expect_task "$run" "$t" SUCCESS
    assert_eq "1 SUCCESS" "$(outcomes "$run" "$t")" "attempts of $t"
    assert_contains "$(events "$run" "$t")" "UPSTREAM_FAILED>PENDING PENDING>QUEUED" "transitions of $t"
done
expect_task "$run" alt SKIPPED
assert_eq ">PENDING PENDING>SKIPPED SKIPPED>PENDING PENDING>SKIPPED" "$(events "$run" alt)" \
    "transitions of alt"
for t in ind ind_down prep; do
    assert_eq "1 SUCCESS" "$(outcomes "$run" "$t")" "attempts of $t (SUCCESS before the retry)"
    assert_eq 1 "$(runs_of "$t")" "executions of $t"
done
assert_eq 4 "$(runs_of needs)" "executions of needs"
expect_invariants "$run" finished
assert_eq SUCCESS "$(dfx status "$run" --json && jq -r .state <<<"$DF_OUT")" "status --json state"

note "nothing left to retry"
events_before=$(q "SELECT count(*) FROM task_events WHERE run_id = $run")
retry_fg "$run"
expect_rc 2 "retry of a SUCCESS run"
assert_match "$DF_ERR" "^dagflow: .*run $run has no failed tasks to retry" "message"
expect_stderr_lines_prefixed
assert_eq "$events_before" "$(q "SELECT count(*) FROM task_events WHERE run_id = $run")" \
    "events written by a refused retry"
expect_run "$run" SUCCESS

note "retry --task prep: prep and everything downstream of it, even though SUCCESS"
retry_fg "$run" --task prep
expect_rc 0 "retry --task prep"
expect_run "$run" SUCCESS
assert_eq "1 SUCCESS,2 SUCCESS" "$(outcomes "$run" prep)" "attempts of prep"
assert_eq "1 FAILED,2 FAILED,3 FAILED,4 SUCCESS,5 SUCCESS" "$(outcomes "$run" needs)" "attempts of needs"
assert_eq "1 SUCCESS,2 SUCCESS" "$(outcomes "$run" down)" "attempts of down"
assert_eq "1 SUCCESS,2 SUCCESS" "$(outcomes "$run" down2)" "attempts of down2"
expect_task "$run" alt SKIPPED
assert_eq "1 SUCCESS" "$(outcomes "$run" ind)" "attempts of ind (not downstream of prep)"
assert_eq "1 SUCCESS" "$(outcomes "$run" ind_down)" "attempts of ind_down"
assert_eq "ind 1|ind_down 1|prep 2|down 2|down2 2" \
    "$(for t in ind ind_down prep down down2; do printf '%s %s|' "$t" "$(runs_of "$t")"; done | sed 's/|$//')" \
    "executions after retry --task"
assert_contains "$(events "$run" prep)" "RUNNING>SUCCESS SUCCESS>PENDING PENDING>QUEUED" "transitions of prep"
DF_ALLOWED_EXTRA="SUCCESS>PENDING"
out="$(inv_check "$DB" "$run" finished)" || true
# With --task, two SUCCESS attempts per re-run task are expected; everything else must hold.
out="$(grep -v '^run [0-9]*: tasks with two SUCCESS attempts' <<<"$out" | grep -v '^tasks with two SUCCESS' || true)"
[[ -z "$out" ]] || fail "store invariants after retry --task: $out"
unset DF_ALLOWED_EXTRA

retry_fg "$run" --task nope
expect_rc 2 "retry --task of an unknown task"
assert_contains "$DF_ERR" "run $run has no task \"nope\"" "message"

note "retry of an INTERRUPTED run, and of an unknown run"
cat >slow.json <<'EOF'
{"name": "durability_slow", "tasks": [{"id": "s", "plugin": "sleep", "params": {"ms": 20000}}]}
EOF
bg slow run slow.json
wait_sql "SELECT count(*) FROM task_history WHERE task_id = 's' AND state = 'RUNNING'" 20 "s RUNNING"
srun=$(last_run)
kill -INT "$BG_PID"
bg_wait "$BG_PID" 10 slow
expect_bg_rc 130 slow
expect_run "$srun" INTERRUPTED
retry_fg "$srun"
expect_rc 2 "retry of an INTERRUPTED run"
assert_contains "$DF_ERR" "dagflow: retry: run $srun has not finished (INTERRUPTED); continue it with \`dagflow resume $srun --db '$DB' --plugin-dir '$DF_TEST_PLUGIN_DIR'\`" "message"
expect_run "$srun" INTERRUPTED
retry_fg 4242
expect_rc 2 "retry of an unknown run"
assert_contains "$DF_ERR" "no run 4242" "message"

df_done
