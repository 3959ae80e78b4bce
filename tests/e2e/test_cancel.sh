#!/usr/bin/env bash
# test_cancel: `dagflow cancel RUN_ID [--wait]` end to end (SPEC §10), checked in the history:
# a running `dagflow run` cancelled from another shell (its shell task's process group gone
# within 3 s, the run CANCELLED with exit 1, task_events RUNNING>CANCELLED and PENDING>CANCELLED,
# the attempt CANCELLED, the alert run_cancelled raised); --wait returning once the run is
# CANCELLED; an INTERRUPTED run and a dead engine's run (kill -9) cancelled by the command itself;
# a finished run and an unknown run (exit 2); `retry` reopening the CANCELLED tasks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell

# The first task writes its process group id (the shell plugin makes its shell the leader) and
# sleeps, unless the file "fast" exists.
cat >wf.json <<'EOF2'
{"name": "cancel_me",
 "alerts": [{"type": "file", "path": "alerts.jsonl", "on": ["run_cancelled", "run_failed"]}],
 "tasks": [
  {"id": "slow", "plugin": "shell",
   "params": {"script": "echo $$ > slow.pgid; [ -f fast ] || sleep 60"}},
  {"id": "after", "plugin": "shell", "depends_on": ["slow"], "params": {"script": "true"}},
  {"id": "quick", "plugin": "shell", "params": {"script": "true"}}
]}
EOF2

# start_run NAME: starts `dagflow run wf.json` in the background (pid in RUN_PID, output in
# NAME.out / NAME.err) and waits until task slow is RUNNING with its process group written.
start_run() {
    rm -f slow.pgid
    "$DF_BIN" run wf.json --db "$DB" >"$1.out" 2>"$1.err" &
    RUN_PID=$!
    for _ in $(seq 300); do
        [[ -s slow.pgid && "$(q "SELECT count(*) FROM task_history
            WHERE run_id = (SELECT max(run_id) FROM run_history) AND task_id = 'slow'
            AND state = 'RUNNING'" 2>/dev/null)" == 1 ]] && return 0
        sleep 0.05
    done
    fail "task slow of the background run never started; stderr: $(cat "$1.err")"
}

# group_gone_within MS: true once no process is left in slow's process group, polling up to MS.
group_gone_within() {
    local t0
    t0=$(now_ms)
    while pgrep -g "$(cat slow.pgid)" >/dev/null; do
        (($(now_ms) - t0 > $1)) && return 1
        sleep 0.05
    done
    return 0
}

# wait_rc PID: waits for the background run (60 s at most); its exit code in WAIT_RC.
wait_rc() {
    for _ in $(seq 600); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    WAIT_RC=0
    wait "$1" || WAIT_RC=$?
}

note "cancel of a running run from another shell"
start_run r1
run=$(last_run)
t0=$(now_ms)
dfx cancel "$run"
expect_rc 0 "cancel of a running run"
assert_contains "$DF_OUT" "cancel requested" "cancel's message"
group_gone_within 3000 || fail "slow's process group was still there 3 s after the cancel"
note "process group gone $(($(now_ms) - t0)) ms after the cancel"
wait_rc "$RUN_PID"
assert_eq 1 "$WAIT_RC" "exit code of the cancelled run"
assert_contains "$(cat r1.out)" "CANCELLED" "the run's summary"
assert_contains "$(cat r1.out)" "2 cancelled" "the summary counts the cancelled tasks"
expect_run "$run" CANCELLED
expect_task "$run" slow CANCELLED
expect_task "$run" after CANCELLED
expect_task "$run" quick SUCCESS
assert_eq ">PENDING PENDING>QUEUED QUEUED>RUNNING RUNNING>CANCELLED" "$(events "$run" slow)" \
    "slow's transitions"
assert_eq ">PENDING PENDING>CANCELLED" "$(events "$run" after)" "after's transitions"
assert_eq CANCELLED "$(q "SELECT outcome FROM attempt_history WHERE run_id = $run
                          AND task_id = 'slow'")" "the running attempt's outcome"
assert_eq "run cancelled: dagflow cancel" \
    "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'after'")" \
    "the error of a task cancelled before it started"
assert_eq "run_cancelled|delivered" "$(q "SELECT event || '|' || status FROM alert_history
                                         WHERE run_id = $run")" "the alert"
assert_contains "$(cat alerts.jsonl)" '"event":"run_cancelled"' "the alert sink's line"
assert_contains "$(cat alerts.jsonl)" '"error":"run cancelled: dagflow cancel"' "its error"

note "a finished run, an unknown run: exit 2"
dfx cancel "$run"
expect_rc 2 "cancel of a finished run"
assert_contains "$DF_ERR" "has finished (CANCELLED)" "the message"
dfx cancel 9999
expect_rc 2 "cancel of an unknown run"
assert_contains "$DF_ERR" "no run 9999" "the message"
dfx cancel nope
expect_rc 2 "a run id that is not a number"

note "retry reopens the cancelled tasks"
touch fast
dfx retry "$run"
expect_rc 0 "retry of the cancelled run"
expect_run "$run" SUCCESS
expect_task "$run" after SUCCESS
rm -f fast

note "--wait returns once the run is CANCELLED"
start_run r2
run=$(last_run)
dfx cancel "$run" --wait
expect_rc 0 "cancel --wait"
assert_eq CANCELLED "$(run_state "$run")" "the run's state when cancel --wait returned"
assert_contains "$DF_OUT" "CANCELLED" "cancel --wait's message"
wait_rc "$RUN_PID"
assert_eq 1 "$WAIT_RC" "exit code of the cancelled run"

note "an INTERRUPTED run is cancelled by the command itself"
start_run r3
run=$(last_run)
kill -INT "$RUN_PID"
wait_rc "$RUN_PID"
assert_eq 130 "$WAIT_RC" "exit code of the interrupted run"
expect_run "$run" INTERRUPTED
dfx cancel "$run" --json
expect_rc 0 "cancel of an INTERRUPTED run"
assert_eq CANCELLED "$(jv .state "$DF_OUT" -r)" "the status printed by cancel --json"
expect_run "$run" CANCELLED
expect_task "$run" slow CANCELLED
expect_task "$run" after CANCELLED
assert_eq "QUEUED>CANCELLED" "$(q "SELECT from_state || '>' || to_state FROM task_events
    WHERE run_id = $run AND task_id = 'slow' ORDER BY seq DESC LIMIT 1")" "slow's last transition"
assert_eq "run_cancelled" "$(q "SELECT event FROM alert_history WHERE run_id = $run")" "the alert"

note "a dead engine's run (kill -9) is cancelled by the command itself"
start_run r4
run=$(last_run)
pgid=$(cat slow.pgid)
kill -9 "$RUN_PID"
wait_rc "$RUN_PID"
kill -9 -- "-$pgid" 2>/dev/null || true # the dead engine's task, left behind
dfx cancel "$run" --wait
expect_rc 0 "cancel of a dead engine's run"
expect_run "$run" CANCELLED
expect_task "$run" slow CANCELLED
assert_eq "LOST" "$(q "SELECT outcome FROM attempt_history WHERE run_id = $run
                       AND task_id = 'slow' AND attempt = 1")" "the attempt the kill left open"
assert_eq 1 "$(q "SELECT count(*) FROM alert_history WHERE run_id = $run
                  AND event = 'run_cancelled'")" "the alert"

run_done
