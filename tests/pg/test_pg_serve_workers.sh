#!/usr/bin/env bash
# test_pg_serve_workers: `dagflow serve --executor workers` on PostgreSQL (SPEC §9 and §11, issue
# 13): the serve fires a scheduled run and hands its tasks to `dagflow worker` processes; the
# worker holding the first task's attempt is killed (kill -9) in the middle of it, and:
#   - the attempt is recorded LOST and runs again on a second worker within the lease + 2 s
#     (+ slack for load), without using a retry;
#   - the run ends SUCCESS, the serve recorded it (schedule_log), work_history names the killed
#     worker for attempt 1 (lost) and the second worker for attempt 2 and the downstream task;
#   - the store's invariants hold (tests/crash/invariants.sh), the queue is empty, and the serve
#     and the worker stop with exit 0 on SIGTERM.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/run_lib.sh"
source "$(dirname "$0")/../e2e/serve_lib.sh"
source "$(dirname "$0")/../e2e/data/durability/dur_lib.sh"
df_test_pg || export DAGFLOW_TEST_DB=pg
dur_setup
df_is_pg_uri "$DB" || fail "DB is not a PostgreSQL URI: $DB"
LEASE=2000
SLACK=1500

# wait_file_contains FILE TEXT SECONDS
wait_file_contains() {
    local t0
    t0=$(now_ms)
    until grep -q -- "$2" "$1" 2>/dev/null; do
        (($(now_ms) - t0 < $3 * 1000)) || fail "no \"$2\" in $1 within $3 s: $(cat "$1" 2>/dev/null)"
        sleep 0.05
    done
}

# One fire time, 3 s from now (interval 60 s anchored at start_at, 57 s ago).
mkdir wf
start=$(date -u -d "@$(($(date +%s) - 57))" +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d "@$(($(date +%s) + 30))" +%Y-%m-%dT%H:%M:%SZ)
cat >wf/sw.json <<EOF
{"name": "sw", "schedule": {"interval_ms": 60000, "start_at": "$start", "end_at": "$end",
  "catchup": "none"},
 "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "echo \$\$ >>$WORK/pgids; sleep 4"}},
           {"id": "b", "plugin": "noop", "depends_on": ["a"]}]}
EOF

bg w1 worker --lease-ms "$LEASE"
W1=$BG_PID
wait_file_contains "$WORK/w1.err" "started" 20
serve_start --executor workers --listen off
DUR_PIDS+=("$SERVE_PID")

note "the serve fires the run; worker 1 claims task a"
wait_sql "SELECT count(*) FROM work_queue WHERE task_id = 'a' AND state = 1
          AND worker LIKE '%:$W1'" 40 "worker 1 claimed a"
run="$(q "SELECT max(run_id) FROM run_history WHERE workflow = 'sw'")"
assert_eq "schedule" "$(q "SELECT trigger FROM run_history WHERE run_id = $run")" "the run's trigger"
sleep 0.5
kill -9 "$W1"
t_kill=$(now_ms)
bg_wait "$W1" 5 w1
bg w2 worker --lease-ms "$LEASE"
W2=$BG_PID
wait_sql "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 'a'
          AND attempt = 2" 30 "attempt 2 of a"
t_rerun=$(now_ms)
note "attempt 2 of a started $((t_rerun - t_kill)) ms after the kill -9 of worker 1 (lease $LEASE ms)"
((t_rerun - t_kill <= LEASE + 2000 + SLACK)) ||
    fail "attempt 2 started $((t_rerun - t_kill)) ms after the kill (lease $LEASE ms)"

wait_sql "SELECT count(*) FROM run_history WHERE run_id = $run AND state <> 'RUNNING'" 60 \
    "the end of run $run"
assert_eq SUCCESS "$(run_state "$run")" "run $run"
assert_eq "1 LOST,2 SUCCESS" "$(q "SELECT group_concat(attempt || ' ' || outcome, ',' ORDER BY attempt)
    FROM attempt_history WHERE run_id = $run AND task_id = 'a'")" "attempts of a"
assert_eq ">PENDING PENDING>QUEUED QUEUED>RUNNING RUNNING>QUEUED QUEUED>RUNNING RUNNING>SUCCESS" \
    "$(events "$run" a)" "events of a (queued again without a retry)"
assert_eq "1 $W1 t,2 $W2 f" "$(q "SELECT group_concat(attempt || ' ' || regexp_replace(worker, '.*:', '')
    || ' ' || CASE WHEN lost THEN 't' ELSE 'f' END, ',' ORDER BY attempt)
    FROM work_history WHERE run_id = $run AND task_id = 'a'")" "work_history of a"
assert_eq "$W2" "$(q "SELECT regexp_replace(worker, '.*:', '') FROM work_history
    WHERE run_id = $run AND task_id = 'b'")" "work_history of b"
assert_eq "1" "$(q "SELECT count(*) FROM schedule_log WHERE workflow = 'sw' AND run_id = $run")" \
    "the serve recorded its fire time"
expect_invariants "$run" finished
assert_eq 0 "$(q "SELECT count(*) FROM work_queue")" "the queue is empty"

serve_stop TERM
assert_eq 0 "$SERVE_RC" "the serve's exit code after SIGTERM"
kill -TERM "$W2"
bg_wait "$W2" 20 w2
expect_bg_rc 0 w2 "worker 2 after SIGTERM"
df_done
