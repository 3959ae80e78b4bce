#!/usr/bin/env bash
# test_pg_serve_restart: PostgreSQL restarted in the middle of runs of two `serve` engines (issue
# 13 acceptance), on a cluster of its own (tests/pg/pg_cluster.sh; the shared one cannot be
# stopped): a fast shutdown cuts every connection, the server comes back a second later; both
# serves reconnect and keep serving (a serve whose transaction the cut lost drops the runs it
# wrote in it and takes them up again from the store), every run ends SUCCESS, no task instance
# SUCCESS twice, attempts numbered without gaps. So that the cut surely falls inside a
# transaction, a trigger holds the transaction recording task s5's start for 4 s (pg_sleep), and
# the server is stopped while a serve waits in it: that serve must drop the runs it wrote in the
# lost transaction and take them up again.
set -euo pipefail
source "$(dirname "$0")/own_cluster_lib.sh"

# Four runs (a fire time a second, from 2 s from now on) of 12 sleeps of 300 ms one after another:
# about 4 s each, a write every 300 ms.
mkdir wf
start=$(date -u -d "@$(($(date +%s) + 2))" +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d "@$(($(date +%s) + 6))" +%Y-%m-%dT%H:%M:%SZ)
python3 -c '
import json, sys
t = [{"id": "s0", "plugin": "sleep", "params": {"ms": 300}}]
for i in range(1, 12):
    t.append({"id": "s%d" % i, "plugin": "sleep", "params": {"ms": 300}, "depends_on": ["s%d" % (i - 1)]})
print(json.dumps({"name": "chain", "schedule": {"interval_ms": 1000, "start_at": sys.argv[1],
      "end_at": sys.argv[2], "max_active_runs": 10, "catchup": "all"}, "tasks": t}))' \
    "$start" "$end" >wf/chain.json

export DAGFLOW_PG_RETRY_MS=30000
serve_start --run-lease-ms 3000
A_PID=$SERVE_PID A_LOG=$SERVE_LOG
PIDS+=("$A_PID")
serve_start --run-lease-ms 3000
B_PID=$SERVE_PID B_LOG=$SERVE_LOG
PIDS+=("$B_PID")
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<'SQL' || fail "cannot create the trigger"
CREATE FUNCTION df_test_hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.task_id = 's5' AND NEW.to_state = 'RUNNING' THEN PERFORM pg_sleep(4); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER df_test_hold BEFORE INSERT ON task_event_log
    FOR EACH ROW EXECUTE FUNCTION df_test_hold();
SQL
wait_for 30 "SELECT count(*) FROM runs WHERE workflow = 'chain'" 4
for ((i = 0; i < 300; i++)); do
    [[ $(psql -X -A -t -d "$DB" -c "SELECT count(*) FROM pg_stat_activity
                                    WHERE wait_event = 'PgSleep'") -ge 1 ]] && break
    sleep 0.1
done
((i < 300)) || fail "no serve reached task s5's start"

note "fast shutdown of the server while a serve is inside a transaction, back a second later"
pg_stop
sleep 1
pg_start
psql -X -q -d "$DB" -c "DROP TRIGGER df_test_hold ON task_event_log" >/dev/null

for id in $(q "SELECT run_id FROM runs WHERE workflow = 'chain' ORDER BY run_id"); do
    wait_for 60 "SELECT state FROM run_history WHERE run_id = $id" SUCCESS
    assert_eq 12 "$(q "SELECT count(*) FROM task_history WHERE run_id = $id AND state = 'SUCCESS'")" \
        "run $id: every task SUCCESS"
done
assert_eq "" "$(q "SELECT run_id, task_id FROM task_events WHERE to_state = 'SUCCESS'
                   GROUP BY run_id, task_id HAVING count(*) > 1")" "no double SUCCESS"
assert_eq "" "$(q "SELECT run_id, task_id FROM attempt_history GROUP BY run_id, task_id
                   HAVING count(*) <> max(attempt)")" "attempts contiguous"
dropped=$(cat "$A_LOG" "$B_LOG" | grep -c 'last changes were lost with the connection' || true)
adopted=$(cat "$A_LOG" "$B_LOG" | grep -c ') adopted' || true)
note "runs dropped with the lost transaction: $dropped, taken up again: $adopted"
((dropped >= 1)) || fail "no serve dropped a run: $(cat "$A_LOG" "$B_LOG" | tail -30)"
((adopted >= dropped)) || fail "runs dropped but not taken up again"
kill -0 "$A_PID" 2>/dev/null || fail "serve A died: $(tail -20 "$A_LOG")"
kill -0 "$B_PID" 2>/dev/null || fail "serve B died: $(tail -20 "$B_LOG")"
serve_stop TERM
assert_eq 0 "$SERVE_RC" "B: SIGTERM, exit 0"
SERVE_PID=$A_PID
SERVE_LOG=$A_LOG
serve_stop TERM
assert_eq 0 "$SERVE_RC" "A: SIGTERM, exit 0"
df_done
