#!/usr/bin/env bash
# test_durability_lost3: a task that takes the engine down on every attempt (the crash test
# plugin, params.really true: raise(SIGKILL)) — SPEC §3 "an attempt that is LOST three times in a
# row fails the task":
#   run (dies), resume (dies), resume (dies), resume -> the task FAILED with an error saying it
#   kept taking the engine down, its three attempts LOST; its downstream UPSTREAM_FAILED; an
#   all_done task after it and the independent tasks SUCCESS; exit 1 (run FAILED).
# Then `retry` gives the task a fresh budget (SPEC §3: the retry command gives a fresh retry
# budget; LOST streaks are part of it): retry (dies) and the next resume must re-run the task
# (dies again) rather than fail it at once for the LOST attempts of before the retry.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup
need_plugin crash

# ind1 -> ind2 and gate run (and end) before boom starts, so that only boom's attempt is ever in
# flight when the engine dies.
cat >wf.json <<'EOF'
{"name": "durability_lost3", "tasks": [
  {"id": "ind1", "plugin": "counter", "params": {"path": "runs.log"}},
  {"id": "ind2", "plugin": "counter", "depends_on": ["ind1"], "params": {"path": "runs.log"}},
  {"id": "gate", "plugin": "sleep", "depends_on": ["ind2"], "params": {"ms": 100}},
  {"id": "boom", "plugin": "crash", "depends_on": ["gate"], "params": {"really": true}},
  {"id": "after", "plugin": "counter", "depends_on": ["boom"], "params": {"path": "runs.log"}},
  {"id": "cleanup", "plugin": "counter", "depends_on": ["boom"], "trigger_rule": "all_done",
   "params": {"path": "runs.log"}}
]}
EOF

note "run: the crash plugin kills the engine"
dfg run wf.json
expect_rc 137 "run killed by its own task (SIGKILL)"
run=$(last_run)
expect_task "$run" ind1 SUCCESS
expect_task "$run" ind2 SUCCESS
expect_task "$run" gate SUCCESS
expect_task "$run" boom RUNNING
expect_invariants "$run" dead

for k in 1 2; do
    note "resume $k: dies again"
    resume_fg "$run"
    expect_rc 137 "resume $k (the task kills the engine again)"
    assert_eq $((k + 1)) "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'boom'")" \
        "attempts of boom after resume $k"
    assert_eq "$k" "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 'boom'
                         AND outcome = 'LOST'")" "LOST attempts of boom after resume $k"
    expect_invariants "$run" dead
done

note "resume 3: the third LOST attempt fails the task; the rest of the run finishes"
resume_fg "$run"
expect_rc 1 "resume 3 (run FAILED)"
expect_run "$run" FAILED
expect_task "$run" boom FAILED
err=$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'boom'")
assert_match "$err" "lost 3 times in a row" "error of boom"
assert_match "$err" "taking the engine down" "error of boom"
assert_eq "1 LOST,2 LOST,3 LOST" \
    "$(q "SELECT group_concat(attempt || ' ' || outcome, ',') FROM
            (SELECT attempt, outcome FROM attempt_history WHERE run_id = $run AND task_id = 'boom'
             ORDER BY attempt)")" "attempts of boom"
assert_eq 3 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'boom'")" \
    "no fourth attempt of boom"
expect_task "$run" after UPSTREAM_FAILED
expect_task "$run" cleanup SUCCESS
expect_task "$run" ind1 SUCCESS
expect_task "$run" ind2 SUCCESS
expect_invariants "$run" finished
# The independent tasks ran once each, and nothing ran "after".
assert_eq "cleanup 1,ind1 1,ind2 1" "$(sort runs.log | paste -sd,)" "executions (runs.log)"
assert_contains "$(dfx status "$run" --json; echo "$DF_OUT")" "taking the engine down" "status --json"

note "retry: a fresh budget, LOST streak included"
retry_fg "$run"
expect_rc 137 "retry (boom kills the engine again)"
assert_eq 4 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'boom'")" \
    "attempts of boom after retry"
expect_invariants "$run" dead
resume_fg "$run"
# One LOST attempt since the retry: boom must run again (and kill the engine), not fail at once.
if [[ $DF_RC == 1 ]]; then
    fail "resume after retry failed boom at once: $(q "SELECT error FROM task_history WHERE run_id = $run
          AND task_id = 'boom'") (the LOST attempts before the retry were counted in the streak)"
fi
expect_rc 137 "resume after retry (boom runs again)"
assert_eq 5 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'boom'")" \
    "attempts of boom after resume"

df_done
