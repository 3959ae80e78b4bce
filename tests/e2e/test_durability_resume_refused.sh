#!/usr/bin/env bash
# test_durability_resume_refused: when `dagflow resume` must refuse (SPEC §6: exit 2 and a clear
# message, nothing changed): a run whose engine is alive (a long run in the background; `retry`
# of it is refused too), a finished run (SUCCESS and FAILED), an unknown run id, a run id that is
# not a number, and a database that does not exist (not created). Then two resumes started at the
# same moment on one killed run: one of them takes the run over, the other must not run it too
# (exit 2, or exit 3 on a conflict, with a message naming the run), and no task runs twice.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup
need_plugin fail

cat >long.json <<'EOF'
{"name": "durability_long", "tasks": [
  {"id": "first", "plugin": "counter", "params": {"path": "runs.log"}},
  {"id": "slow", "plugin": "sleep", "depends_on": ["first"], "params": {"ms": 2500}},
  {"id": "last", "plugin": "counter", "depends_on": ["slow"], "params": {"path": "runs.log"}}
]}
EOF

note "a live engine's run"
bg run run long.json
wait_sql "SELECT count(*) FROM task_history WHERE task_id = 'slow' AND state = 'RUNNING'" 20 "slow RUNNING"
run=$(last_run)
dfg resume "$run"
expect_rc 2 "resume of a run whose engine is alive"
assert_match "$DF_ERR" "^dagflow: .*run $run is still being run by a live engine \(pid $BG_PID on " \
    "message for a live engine"
expect_stderr_lines_prefixed
dfg retry "$run"
expect_rc 2 "retry of a RUNNING run"
# Not `resume`, which would refuse it too (issue 15, item 15): wait for it, or stop it.
assert_contains "$DF_ERR" "dagflow: retry: run $run is still running and its engine is alive (see \`dagflow status $run --db '$DB'\`): wait for it to end, or stop that engine" \
    "message of retry for a RUNNING run"
assert_not_contains "$DF_ERR" "dagflow resume" "retry's message for a run whose engine is alive"
kill -0 "$BG_PID" 2>/dev/null || fail "the engine stopped while resume/retry were refused"
bg_wait "$BG_PID" 20 run
expect_bg_rc 0 run "the live engine's run after the refused resume"
expect_run "$run" SUCCESS
assert_eq 1 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'slow'")" \
    "attempts of slow (the refused resume did not touch it)"
assert_eq "first 1,last 1" "$(sort runs.log | paste -sd,)" "executions"
expect_invariants "$run" finished

note "finished runs"
events_before=$(q "SELECT count(*) FROM task_events")
dfg resume "$run"
expect_rc 2 "resume of a SUCCESS run"
assert_match "$DF_ERR" "^dagflow: .*run $run has finished \(SUCCESS\); nothing to resume" \
    "message for a finished run"
cat >failing.json <<'EOF'
{"name": "durability_failing", "tasks": [{"id": "f", "plugin": "fail"}]}
EOF
dfg run failing.json
expect_rc 1 "a failing run"
frun=$(last_run)
dfg resume "$frun"
expect_rc 2 "resume of a FAILED run"
assert_match "$DF_ERR" "run $frun has finished \(FAILED\); nothing to resume" "message for a FAILED run"
assert_eq $((events_before + 4)) "$(q "SELECT count(*) FROM task_events")" \
    "task events (the refused resumes wrote none; the failing run wrote 4)"
expect_run "$run" SUCCESS
expect_run "$frun" FAILED

note "unknown run ids"
dfg resume 999
expect_rc 2 "resume of an unknown run"
assert_contains "$DF_ERR" "no run 999" "message for an unknown run"
expect_stderr_lines_prefixed
dfg resume abc
expect_rc 2 "resume of a run id that is not a number"
assert_contains "$DF_ERR" "RUN_ID must be a positive integer" "message for a malformed run id"
set +e
"$DF_BIN" resume 1 --db "$WORK/nowhere.db" >/dev/null 2>"$WORK/.stderr"
DF_RC=$?
set -e
expect_rc 2 "resume with a database that does not exist"
assert_file_absent "$WORK/nowhere.db" "database created by a refused resume"

note "two resumes at once of one killed run"
cat >race.json <<'EOF'
{"name": "durability_race", "tasks": [
  {"id": "c1", "plugin": "counter", "params": {"path": "race.log"}},
  {"id": "s1", "plugin": "sleep", "depends_on": ["c1"], "params": {"ms": 1500}},
  {"id": "c2", "plugin": "counter", "depends_on": ["s1"], "params": {"path": "race.log"}},
  {"id": "s2", "plugin": "sleep", "depends_on": ["c2"], "params": {"ms": 300}},
  {"id": "c3", "plugin": "counter", "depends_on": ["s2"], "params": {"path": "race.log"}}
]}
EOF
for round in 1 2 3 4; do
    rm -f race.log
    bg race run race.json
    wait_sql "SELECT count(*) FROM task_history WHERE task_id = 's1' AND state = 'RUNNING'
              AND run_id = (SELECT max(run_id) FROM runs)" 20 "s1 RUNNING"
    rrun=$(last_run)
    kill -9 "$BG_PID"
    bg_wait "$BG_PID" 10 race
    gate_new gate
    BG_GATE=gate bg resume_a resume "$rrun"
    BG_GATE=gate bg resume_b resume "$rrun"
    gate_open gate
    bg_collect resume_a
    pa=$BG_PID
    bg_collect resume_b
    pb=$BG_PID
    bg_wait "$pa" 30 resume_a
    rc_a=$BG_RC
    bg_wait "$pb" 30 resume_b
    rc_b=$BG_RC
    note "round $round: exit codes $rc_a and $rc_b"
    codes="$(printf '%s\n' "$rc_a" "$rc_b" | sort | paste -sd' ')"
    [[ "$codes" == "0 2" || "$codes" == "0 3" ]] ||
        fail "two resumes of run $rrun at once: exit codes $rc_a and $rc_b (expected one 0, the other 2 or 3); stderr: $(cat "$WORK/resume_a.err" "$WORK/resume_b.err")"
    DF_ASSERTS=$((DF_ASSERTS + 1))
    # The one that did not run it says why, in a message that names the run.
    if [[ $rc_a == 0 ]]; then loser=resume_b; else loser=resume_a; fi
    first_err="$(grep -m1 '^dagflow: ' "$WORK/$loser.err" || true)"
    assert_match "$first_err" "^dagflow: .*run $rrun" \
        "first error line of the resume that lost the race (exit ${rc_a}/${rc_b}; its stderr: $(head -c 1500 "$WORK/$loser.err"))"
    expect_run "$rrun" SUCCESS
    expect_invariants "$rrun" finished
    assert_eq "c1 1,c2 1,c3 1" "$(sort race.log | paste -sd,)" "executions in round $round"
    assert_eq "1 LOST,2 SUCCESS" "$(q "SELECT group_concat(attempt || ' ' || outcome, ',') FROM
            (SELECT attempt, outcome FROM attempt_history WHERE run_id = $rrun AND task_id = 's1'
             ORDER BY attempt)")" "attempts of s1 in round $round"
done

df_done
