#!/usr/bin/env bash
# test_durability_lost3: a task whose own code crashes the engine on every attempt (the crash test
# plugin, params.segv true: a segmentation fault, which the crash handler attributes to it) —
# SPEC §12 "three charged LOST attempts in a row fail the task":
#   run (dies), resume (dies), resume (dies), resume -> the task FAILED with an error saying its
#   plugin crashed the engine each time, its three attempts LOST; its downstream UPSTREAM_FAILED;
#   an all_done task after it and the independent tasks SUCCESS; exit 1 (run FAILED). A bystander
#   running in parallel during each crash is not charged: it is not failed, it succeeds.
# Then `retry` gives the task a fresh budget (SPEC §3: the retry command gives a fresh retry
# budget; LOST streaks are part of it): retry (dies) and the next resume must re-run the task
# (dies again) rather than fail it at once for the LOST attempts of before the retry.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup
need_plugin crash

# ind1 -> ind2 and gate run (and end) before boom starts; bystander (a long sleep) is in flight
# whenever boom crashes the engine.
cat >wf.json <<'EOF'
{"name": "durability_lost3", "tasks": [
  {"id": "ind1", "plugin": "counter", "params": {"path": "runs.log"}},
  {"id": "ind2", "plugin": "counter", "depends_on": ["ind1"], "params": {"path": "runs.log"}},
  {"id": "gate", "plugin": "sleep", "depends_on": ["ind2"], "params": {"ms": 100}},
  {"id": "boom", "plugin": "crash", "depends_on": ["gate"], "params": {"segv": true}},
  {"id": "bystander", "plugin": "sleep", "depends_on": ["ind2"], "params": {"ms": 20000}},
  {"id": "after", "plugin": "counter", "depends_on": ["boom"], "params": {"path": "runs.log"}},
  {"id": "cleanup", "plugin": "counter", "depends_on": ["boom"], "trigger_rule": "all_done",
   "params": {"path": "runs.log"}}
]}
EOF

# The segv part needs the CLI's crash handler (engine/cli/crash.c), which a sanitizer build does
# not install (AddressSanitizer/UBSan report the fault themselves): there only the SIGKILL part runs.
if grep -q '^DF_SANITIZE:BOOL=ON' "$DF_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    note "sanitizer build: the segv part is left out (no crash handler to attribute the fault)"
else
    note "run: the crash plugin kills the engine"
    dfg run wf.json
    expect_rc 139 "run killed by its own task (SIGSEGV)"
    run=$(last_run)
    expect_task "$run" ind1 SUCCESS
    expect_task "$run" ind2 SUCCESS
    expect_task "$run" gate SUCCESS
    expect_task "$run" boom RUNNING
    expect_invariants "$run" dead

    for k in 1 2; do
        note "resume $k: dies again"
        resume_fg "$run"
        expect_rc 139 "resume $k (the task crashes the engine again)"
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
    assert_match "$err" "own plugin code crashed the engine" "error of boom"
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
    assert_contains "$(dfx status "$run" --json; echo "$DF_OUT")" "own plugin code crashed" "status --json"
    # The bystander lost three attempts too, none charged to it: it ran on and succeeded.
    assert_eq "1 LOST 0,2 LOST 0,3 LOST 0,4 SUCCESS 0" \
        "$(q "SELECT group_concat(attempt || ' ' || outcome || ' ' || ifnull(charged, 0), ',') FROM
                (SELECT attempt, outcome, charged FROM attempts WHERE run_id = $run
                 AND task_id = 'bystander' ORDER BY attempt)")" "attempts of bystander (charged)"
    assert_eq "1,1,1" "$(q "SELECT group_concat(charged, ',') FROM (SELECT charged FROM attempts
            WHERE run_id = $run AND task_id = 'boom' ORDER BY attempt)")" "boom's losses charged"

    note "retry: a fresh budget, LOST streak included"
    retry_fg "$run"
    expect_rc 139 "retry (boom crashes the engine again)"
    assert_eq 4 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'boom'")" \
        "attempts of boom after retry"
    expect_invariants "$run" dead
    resume_fg "$run"
    # One LOST attempt since the retry: boom must run again (and kill the engine), not fail at once.
    if [[ $DF_RC == 1 ]]; then
        fail "resume after retry failed boom at once: $(q "SELECT error FROM task_history WHERE run_id = $run
              AND task_id = 'boom'") (the LOST attempts before the retry were counted in the streak)"
    fi
    expect_rc 139 "resume after retry (boom runs again)"
    assert_eq 5 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'boom'")" \
        "attempts of boom after resume"
fi

note "a task killing the engine with SIGKILL (no culprit known): fails only after ten losses"
cat >wf2.json <<'EOF'
{"name": "durability_lost10", "tasks": [
  {"id": "killer", "plugin": "crash", "params": {"really": true}}
]}
EOF
dfg run wf2.json
expect_rc 137 "run killed by SIGKILL"
run2=$(last_run)
for k in $(seq 1 9); do
    resume_fg "$run2"
    expect_rc 137 "resume $k of the SIGKILLed run (not failed after $k uncharged losses)"
done
resume_fg "$run2"
expect_rc 1 "resume 10 (run FAILED)"
expect_task "$run2" killer FAILED
assert_match "$(q "SELECT error FROM task_history WHERE run_id = $run2 AND task_id = 'killer'")" \
    "lost 10 times in a row" "error of killer"
expect_invariants "$run2" finished

df_done
