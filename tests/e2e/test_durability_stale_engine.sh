#!/usr/bin/env bash
# test_durability_stale_engine: an engine that is alive but frozen (SIGSTOP) for longer than the
# 30 s heartbeat limit (SPEC §7) is taken for dead: run_history shows its run INTERRUPTED and
# `resume` takes the run over. On the same host, resume kills the frozen engine first (SPEC §12:
# its pid's start time checked), so it can never wake up and run anything again; the new owner
# ends the run SUCCESS, the store invariants hold, and no task that the new owner committed
# SUCCESS ran twice. (An engine frozen on another host, which resume cannot kill, learns at its
# next write that it lost the run: every state change is a compare-and-set; see test_store.)
# About 40 s (the heartbeat limit).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup

# The frozen engine's attempt of s sleeps 60 s: on a loaded machine the test may see s RUNNING
# (a sqlite3 poll) a second or two late, and with a short sleep the engine could finish s before
# it is frozen. The new owner's attempt takes 2 s.
SH='echo $$ >> pgids; echo \"$DAGFLOW_TASK_ID $DAGFLOW_ATTEMPT\" >> runs.log; if [ \"$DAGFLOW_ATTEMPT\" = 1 ]; then sleep 60; else sleep 2; fi'
cat >wf.json <<EOF
{"name": "durability_stale", "tasks": [
  {"id": "a", "plugin": "counter", "params": {"path": "runs.log"}},
  {"id": "s", "plugin": "shell", "depends_on": ["a"], "params": {"script": "$SH"}},
  {"id": "b", "plugin": "counter", "depends_on": ["s"], "params": {"path": "runs.log"}},
  {"id": "c", "plugin": "sleep", "depends_on": ["b"], "params": {"ms": 500}},
  {"id": "d", "plugin": "counter", "depends_on": ["c"], "params": {"path": "runs.log"}}
]}
EOF

note "freeze the engine while s runs"
bg old run wf.json
old=$BG_PID
wait_sql "SELECT count(*) FROM task_history WHERE task_id = 's' AND state = 'RUNNING'" 20 "s RUNNING"
run=$(last_run)
kill -STOP "$old"
# From now on the test must wake it before leaving, whatever happens.
trap 'kill -CONT "$old" 2>/dev/null || true; dur_cleanup' EXIT
assert_eq RUNNING "$(run_state "$run")" "run_history while the heartbeat is fresh"
dfg resume "$run"
expect_rc 2 "resume while the frozen engine's heartbeat is fresh"
note "waiting for the heartbeat to go stale (30 s)"
wait_sql "SELECT state = 'INTERRUPTED' FROM run_history WHERE run_id = $run" 45 \
    "run_history showing the run INTERRUPTED"

note "resume by a new engine, which kills the frozen one"
bg new resume "$run"
new=$BG_PID
wait_sql "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 's' AND attempt = 2" 20 \
    "the new engine running s again"
assert_eq LOST "$(q "SELECT outcome FROM attempt_history WHERE run_id = $run AND task_id = 's' AND attempt = 1")" \
    "outcome of the frozen engine's attempt"
bg_wait "$old" 15 old
expect_bg_rc 137 old "exit status of the frozen engine (SIGKILLed by the resume)"
bg_wait "$new" 20 new
expect_bg_rc 0 new "the new owner"
expect_run "$run" SUCCESS
expect_invariants "$run" finished
assert_eq "1 LOST,2 SUCCESS" "$(q "SELECT group_concat(attempt || ' ' || outcome, ',') FROM
        (SELECT attempt, outcome FROM attempt_history WHERE run_id = $run AND task_id = 's'
         ORDER BY attempt)")" "attempts of s"
# Tasks after s ran once each, by the new owner.
for t in b d; do
    assert_eq 1 "$(grep -c "^$t " runs.log || true)" "executions of $t"
done
assert_eq "$(q "SELECT engine_pid FROM runs WHERE run_id = $run")" "$new" "the run's recorded engine"

df_done
