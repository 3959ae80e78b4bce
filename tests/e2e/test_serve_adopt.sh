#!/usr/bin/env bash
# test_serve_adopt: run leases (SPEC §11, issue 13). Two `serve` on one database (SQLite here;
# PostgreSQL in the pg label), each with --run-lease-ms 2000:
#  - kill -9 of the serve that started the runs: the other adopts every one of them within the
#    lease (plus its look every quarter of it, and a generous margin for a loaded machine), the
#    attempt in flight is LOST and runs again, and the runs end SUCCESS;
#  - SIGSTOP of the owner past its lease, then SIGCONT: the other adopted its runs meanwhile; the
#    paused one, woken, finds its lease lost, says so, writes nothing more for those runs (no
#    second SUCCESS of any task, attempts numbered without gaps) and keeps serving.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/serve_lib.sh"
run_setup
need_builtin shell
LEASE=2000
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
    df_remove_work
}
trap cleanup EXIT
mkdir wf

# window NAME: a workflow NAME firing three times, one second apart, from 2 s from now on.
window() {
    local start end
    start=$(date -u -d "@$(($(date +%s) + 2))" +%Y-%m-%dT%H:%M:%SZ)
    end=$(date -u -d "@$(($(date +%s) + 5))" +%Y-%m-%dT%H:%M:%SZ)
    cat >"wf/$1.json" <<EOF2
{"name": "$1", "schedule": {"interval_ms": 1000, "start_at": "$start", "end_at": "$end",
  "max_active_runs": 5, "catchup": "all"},
 "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "sleep 3"}},
           {"id": "b", "plugin": "shell", "depends_on": ["a"], "params": {"script": "sleep 1"}}]}
EOF2
}

# start NAME: a serve; NAME_PID and NAME_LOG.
start() {
    serve_start --run-lease-ms "$LEASE"
    PIDS+=("$SERVE_PID")
    printf -v "$1_PID" '%s' "$SERVE_PID"
    printf -v "$1_LOG" '%s' "$SERVE_LOG"
}

# invariants WORKFLOW: no task instance SUCCESS twice, attempts numbered 1..n without gaps.
invariants() {
    assert_eq "" "$(q "SELECT e.run_id, e.task_id FROM task_events e JOIN runs r ON r.run_id = e.run_id
                       WHERE r.workflow = '$1' AND e.to_state = 'SUCCESS'
                       GROUP BY e.run_id, e.task_id HAVING count(*) > 1")" "$1: no double SUCCESS"
    assert_eq "" "$(q "SELECT a.run_id, a.task_id FROM attempt_history a JOIN runs r
                       ON r.run_id = a.run_id WHERE r.workflow = '$1'
                       GROUP BY a.run_id, a.task_id HAVING count(*) <> max(a.attempt)")" \
        "$1: attempts contiguous"
}

# adopted_within LOG IDS SECONDS: every run of IDS is logged adopted in LOG within SECONDS.
adopted_within() {
    local id i
    for id in $2; do
        for ((i = 0; i < $3 * 10; i++)); do
            grep -qF "run $id (" "$1" && grep -F "run $id (" "$1" | grep -q adopted && break
            sleep 0.1
        done
        grep -F "run $id (" "$1" | grep -q adopted ||
            fail "run $id not adopted within $3 s: $(tail -20 "$1")"
    done
}

note "kill -9 of the owner: the other serve adopts its runs within the lease, they finish"
window one
start A
wait_for 20 "SELECT count(*) FROM runs WHERE workflow = 'one'" 3
wait_for 20 "SELECT count(*) >= 1 FROM task_instances t JOIN runs r ON r.run_id = t.run_id
             WHERE r.workflow = 'one' AND t.task_id = 'a' AND t.state = 'RUNNING'" 1
start B
ids=$(q "SELECT run_id FROM runs WHERE workflow = 'one' AND state = 'RUNNING' ORDER BY run_id")
[[ -n "$ids" ]] || fail "no run of A left running"
t0=$(now_ms)
kill -9 "$A_PID"
# the lease (2 s), B's look every 500 ms, the adoption itself: 10 s of margin on a loaded machine
adopted_within "$B_LOG" "$ids" 12
took=$(($(now_ms) - t0))
note "adopted ${took} ms after the kill (lease ${LEASE} ms)"
((took >= LEASE - 500)) || fail "adopted after ${took} ms: before the lease of ${LEASE} ms ended"
for id in $ids; do
    wait_for 40 "SELECT state FROM run_history WHERE run_id = $id" SUCCESS
    assert_eq "$B_PID" "$(q "SELECT engine_pid FROM runs WHERE run_id = $id")" "run $id: B owns it"
done
invariants one
(($(q "SELECT count(*) FROM attempt_history a JOIN runs r ON r.run_id = a.run_id
       WHERE r.workflow = 'one' AND a.outcome = 'LOST'") >= 1)) || fail "no attempt LOST by the kill"
serve_stop TERM
assert_eq 0 "$SERVE_RC" "B: SIGTERM, exit 0"

note "SIGSTOP of the owner past its lease, SIGCONT: its late writes refused, it keeps serving"
window two
start C
wait_for 20 "SELECT count(*) FROM runs WHERE workflow = 'two'" 3
wait_for 20 "SELECT count(*) >= 1 FROM task_instances t JOIN runs r ON r.run_id = t.run_id
             WHERE r.workflow = 'two' AND t.task_id = 'a' AND t.state = 'RUNNING'" 1
start D
ids=$(q "SELECT run_id FROM runs WHERE workflow = 'two' AND state = 'RUNNING' ORDER BY run_id")
[[ -n "$ids" ]] || fail "no run of C left running"
kill -STOP "$C_PID"
adopted_within "$D_LOG" "$ids" 20
for id in $ids; do
    wait_for 40 "SELECT state FROM run_history WHERE run_id = $id" SUCCESS
done
kill -CONT "$C_PID"
for ((i = 0; i < 100; i++)); do
    grep -q "lost its lease" "$C_LOG" && break
    sleep 0.1
done
assert_contains "$(cat "$C_LOG")" "lost its lease on the run" "C says it lost the lease"
sleep 2
kill -0 "$C_PID" 2>/dev/null || fail "C died after SIGCONT: $(tail -20 "$C_LOG")"
for id in $ids; do
    assert_eq SUCCESS "$(q "SELECT state FROM run_history WHERE run_id = $id")" "run $id stays SUCCESS"
    assert_eq "$D_PID" "$(q "SELECT engine_pid FROM runs WHERE run_id = $id")" "run $id: D owns it"
done
invariants two
serve_stop TERM
assert_eq 0 "$SERVE_RC" "D: SIGTERM, exit 0"
SERVE_PID=$C_PID
SERVE_LOG=$C_LOG
serve_stop TERM
assert_eq 0 "$SERVE_RC" "C: SIGTERM after its lease was lost, exit 0"
df_done
