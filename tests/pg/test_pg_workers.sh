#!/usr/bin/env bash
# test_pg_workers: `dagflow worker` and `--executor workers` on PostgreSQL (SPEC §11; README
# "More than one machine"), with real processes on the test cluster:
#   - a run with --executor workers and two workers: every task SUCCESS, both workers ran some,
#     a task's `queue` only goes to a worker of that queue, the queue is empty afterwards;
#   - a task's timeout and a `dagflow cancel` reach the worker through its lease renewals (the
#     attempts TIMED_OUT within the grace, the run CANCELLED);
#   - kill -9 of the worker holding an attempt: the attempt is LOST and runs again on the other
#     worker within the lease + 2 s, without using a retry;
#   - SIGSTOP of the worker holding an attempt past its lease, then SIGCONT: the attempt runs
#     again elsewhere, and the paused worker's late result is refused (and logged);
# and after each, the store's invariants (tests/crash/invariants.sh: no double SUCCESS, attempts
# numbered 1..N, one RUNNING per attempt, every task final, nothing recorded for an attempt after
# it was LOST). Rounds of the two fault cases: DF_WORKER_ROUNDS (default 2).
# Also: SQLite refuses both (exit 2), and `worker --help` documents it.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/run_lib.sh"
source "$(dirname "$0")/../e2e/data/durability/dur_lib.sh"
df_test_pg || export DAGFLOW_TEST_DB=pg
dur_setup
df_is_pg_uri "$DB" || fail "DB is not a PostgreSQL URI: $DB"
LEASE=1500
ROUNDS="${DF_WORKER_ROUNDS:-2}"

note "SQLite refuses the worker and the executor"
run_df worker --db "$WORK/x.db"
expect_rc 2 "worker on SQLite"
assert_contains "$DF_ERR" "dagflow: worker: --db must be a PostgreSQL URI" "worker on SQLite"
echo '{"name": "n", "tasks": [{"id": "a", "plugin": "noop"}]}' >n.json
run_df run n.json --db "$WORK/x.db" --executor workers
expect_rc 2 "run --executor workers on SQLite"
assert_contains "$DF_ERR" "--executor workers needs a PostgreSQL --db" "executor on SQLite"
run_df run n.json --db "$WORK/x.db" --executor elsewhere
expect_rc 2 "a bad --executor"
run_df worker --help
expect_rc 0 "worker --help"
assert_contains "$DF_OUT" "--lease-ms MS" "worker --help"

# start_worker NAME [ARGS...]: a worker in the background (bg), its pid in W_PID.
start_worker() {
    local name="$1"
    shift
    bg "$name" worker --lease-ms "$LEASE" "$@"
    W_PID=$BG_PID
    wait_file_contains "$WORK/$name.err" "started" 10
}

# wait_file_contains FILE TEXT SECONDS
wait_file_contains() {
    local t0
    t0=$(now_ms)
    until grep -q -- "$2" "$1" 2>/dev/null; do
        (($(now_ms) - t0 < $3 * 1000)) || fail "no \"$2\" in $1 within $3 s: $(cat "$1" 2>/dev/null)"
        sleep 0.05
    done
}

# stop_worker PID NAME: SIGTERM, then its exit 0.
stop_worker() {
    kill -TERM "$1"
    bg_wait "$1" 20 "$2"
    expect_bg_rc 0 "$2"
}

# claimed NAME: how many attempts the stopped worker NAME says it claimed.
claimed() {
    sed -nE 's/.*stopped: ([0-9]+) attempts claimed.*/\1/p' "$WORK/$1.err"
}

note "a run on two workers"
python3 -c '
import json
t = [{"id": "t%d" % i, "plugin": "sleep", "params": {"ms": 40}} for i in range(40)]
t.append({"id": "join", "plugin": "noop", "depends_on": ["t%d" % i for i in range(40)]})
t.append({"id": "special", "plugin": "noop", "queue": "special", "depends_on": ["join"]})
print(json.dumps({"name": "two", "tasks": t}))' >two.json
start_worker w1 --concurrency 8
P1=$W_PID
start_worker w2 --concurrency 8 --queue default --queue special
P2=$W_PID
dfg run two.json --executor workers
expect_rc 0 "run on two workers"
assert_match "$DF_OUT" "SUCCESS in [0-9.]+m?s: 42 tasks, 42 succeeded" "summary"
expect_invariants 1 finished
assert_eq 0 "$(q "SELECT count(*) FROM work_queue")" "the queue is empty after the run"
stop_worker "$P1" w1
stop_worker "$P2" w2
c1="$(claimed w1)" c2="$(claimed w2)"
((c1 >= 1 && c2 >= 1)) || fail "both workers ran attempts: w1 $c1, w2 $c2"
assert_eq 42 "$((c1 + c2))" "attempts claimed by the two workers"
assert_eq 1 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = 1 AND task_id = 'special'")" \
    "the special queue's task ran once"
# only w2 listens to `special`: w1 never claimed it (w1 ran no more than the 41 default ones)
((c1 <= 41)) || fail "w1 claimed $c1 attempts: more than the default queue's"

note "an attempt's started_at is when a worker claimed it, not when it was queued"
echo '{"name": "late", "tasks": [{"id": "a", "plugin": "noop", "queue": "late"}]}' >late.json
bg runl run late.json --executor workers
engine=$BG_PID
wait_sql "SELECT count(*) FROM work_queue WHERE queue = 'late' AND state = 0" 20 "a queued"
sleep 2 # no worker of the queue yet
start_worker wl --queue late
bg_wait "$engine" 30 runl
expect_bg_rc 0 runl "the run whose attempt waited for a worker"
run="$(q "SELECT max(run_id) FROM run_history")"
claimed_at="$(q "SELECT claimed_at FROM work_history WHERE run_id = $run AND task_id = 'a'")"
queued_at="$(q "SELECT enqueued_at FROM work_history WHERE run_id = $run AND task_id = 'a'")"
assert_eq "$claimed_at" "$(q "SELECT started_at FROM attempts WHERE run_id = $run AND task_id = 'a'")" \
    "the attempt's started_at is its claim time"
((claimed_at - queued_at >= 1900)) || fail "claimed $((claimed_at - queued_at)) ms after queued"
expect_invariants "$run" finished
stop_worker "$W_PID" wl

# A sleep of 3 s on a worker that then dies or stops; the other worker runs it again.
cat >long.json <<'EOF'
{"name": "long", "tasks": [
  {"id": "pre", "plugin": "noop"},
  {"id": "long", "plugin": "sleep", "params": {"ms": 3000}, "depends_on": ["pre"]},
  {"id": "post", "plugin": "noop", "depends_on": ["long"]}]}
EOF

# fault_round KIND N: KIND kill9 or stop.
fault_round() {
    local kind="$1" n="$2" run t_fault t_rerun a b
    note "round $n: $kind of the worker holding an attempt"
    start_worker "a$n"
    a=$W_PID
    bg "run$n" run long.json --executor workers
    local engine=$BG_PID
    wait_sql "SELECT count(*) FROM work_queue WHERE task_id = 'long' AND state = 1" 20 \
        "worker a$n claimed long"
    run="$(q "SELECT max(run_id) FROM run_history")"
    if [[ "$kind" == kill9 ]]; then
        kill -9 "$a"
    else
        kill -STOP "$a"
    fi
    t_fault=$(now_ms)
    start_worker "b$n"
    b=$W_PID
    wait_sql "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 'long'
              AND attempt = 2" 20 "attempt 2 of long"
    t_rerun=$(now_ms)
    ((t_rerun - t_fault <= LEASE + 2000 + 1500)) ||
        fail "attempt 2 started $((t_rerun - t_fault)) ms after the $kind (lease $LEASE ms)"
    if [[ "$kind" == stop ]]; then
        sleep 0.5
        kill -CONT "$a"
        # its lease is gone: it cancels the attempt, and its result is refused
        wait_file_contains "$WORK/a$n.err" "refused: the result of run $run task long attempt 1" 15
        stop_worker "$a" "a$n"
    else
        bg_wait "$a" 5 "a$n"
    fi
    bg_wait "$engine" 30 "run$n"
    expect_bg_rc 0 "run$n" "the run after the $kind"
    assert_eq "SUCCESS" "$(run_state "$run")" "run $run after the $kind"
    assert_eq "1 LOST,2 SUCCESS" "$(q "SELECT group_concat(attempt || ' ' || outcome, ',' ORDER BY attempt)
        FROM attempt_history WHERE run_id = $run AND task_id = 'long'")" "attempts of long"
    assert_eq ">PENDING PENDING>QUEUED QUEUED>RUNNING RUNNING>QUEUED QUEUED>RUNNING RUNNING>SUCCESS" \
        "$(events "$run" long)" "events of long (queued again without a retry)"
    # nothing recorded for attempt 1 after it was LOST: its end is before attempt 2's start
    assert_eq 1 "$(q "SELECT count(*) FROM attempt_history x JOIN attempt_history y
        ON y.run_id = x.run_id AND y.task_id = x.task_id AND y.attempt = 2
        WHERE x.run_id = $run AND x.task_id = 'long' AND x.attempt = 1
        AND x.ended_at <= y.started_at")" "attempt 1 closed before attempt 2 started"
    expect_invariants "$run" finished
    stop_worker "$b" "b$n"
    assert_eq 0 "$(q "SELECT count(*) FROM work_queue")" "the queue is empty after round $n"
}

note "a timeout and a cancel request reach the worker through its renewals"
cat >to.json <<'EOF'
{"name": "to", "tasks": [
  {"id": "slow", "plugin": "sleep", "params": {"ms": 30000}, "timeout_ms": 1000},
  {"id": "sh", "plugin": "shell", "params": {"script": "echo $$ >>PGIDS; sleep 30"},
   "timeout_ms": 1000}]}
EOF
sed -i "s#PGIDS#$WORK/pgids#" to.json
start_worker wt
P=$W_PID
dfg run to.json --executor workers
expect_rc 1 "a run whose tasks time out"
((FG_MS < 10000)) || fail "the timed-out run took $FG_MS ms"
run="$(q "SELECT max(run_id) FROM run_history")"
assert_eq "sh TIMED_OUT,slow TIMED_OUT" "$(q "SELECT group_concat(task_id || ' ' || outcome, ',' ORDER BY task_id)
    FROM attempt_history WHERE run_id = $run")" "the attempts timed out on the worker"
expect_invariants "$run" finished
echo '{"name": "c", "tasks": [{"id": "slow", "plugin": "sleep", "params": {"ms": 30000}},
  {"id": "after", "plugin": "noop", "depends_on": ["slow"]}]}' >c.json
bg runc run c.json --executor workers
engine=$BG_PID
wait_sql "SELECT count(*) FROM work_queue WHERE task_id = 'slow' AND state = 1" 20 "slow claimed"
run="$(q "SELECT max(run_id) FROM run_history")"
# SPEC §10's cancel transitions, which invariants.sh's SPEC §3 table predates
DF_ALLOWED_EXTRA="PENDING>CANCELLED RUNNING>CANCELLED QUEUED>CANCELLED"
dfg cancel "$run" --wait
expect_rc 0 "cancel --wait of a run on a worker"
bg_wait "$engine" 20 runc
assert_eq "CANCELLED" "$(run_state "$run")" "the cancelled run"
assert_eq "CANCELLED" "$(task_state "$run" slow)" "the attempt on the worker"
expect_invariants "$run" finished
DF_ALLOWED_EXTRA=""
stop_worker "$P" wt
assert_eq 0 "$(q "SELECT count(*) FROM work_queue")" "the queue is empty"

for ((i = 1; i <= ROUNDS; i++)); do
    fault_round kill9 "k$i"
    fault_round stop "s$i"
done
df_done
