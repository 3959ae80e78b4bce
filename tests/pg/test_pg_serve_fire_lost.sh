#!/usr/bin/env bash
# test_pg_serve_fire_lost: a fire time decided in a transaction that PostgreSQL loses (server
# restarted inside it) is decided again, so that no fire time is lost (SPEC §9: "every fire time
# is decided exactly once ... no fire time is lost"). A trigger holds the transaction that records
# one chosen fire time for 4 s (pg_sleep); the server is stopped fast while serve waits in it and
# started again a second later. Before the fix, that fire time stayed undecided (a gap in
# schedule_log) until the next serve's catch-up. On a cluster of its own (the shared one cannot be
# stopped).
set -euo pipefail
source "$(dirname "$0")/own_cluster_lib.sh"

# A fire time a second after 3 s from now (start_at itself may not be one); the one 2 s after
# start_at is held in its transaction.
mkdir wf
first=$(($(date +%s) + 3))
start=$(date -u -d "@$first" +%Y-%m-%dT%H:%M:%SZ)
held=$(((first + 2) * 1000))
cat >wf/tick.json <<JSON
{"name": "tick", "schedule": {"interval_ms": 1000, "start_at": "$start", "catchup": "all",
 "max_active_runs": 100}, "tasks": [{"id": "a", "plugin": "noop"}]}
JSON
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" >/dev/null <<SQL || fail "cannot create the trigger"
CREATE FUNCTION df_test_hold() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.logical_time = $held THEN PERFORM pg_sleep(4); END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER df_test_hold BEFORE INSERT ON schedule_log
    FOR EACH ROW EXECUTE FUNCTION df_test_hold();
SQL
export DAGFLOW_PG_RETRY_MS=30000
serve_start
PIDS+=("$SERVE_PID")
for ((i = 0; i < 300; i++)); do
    [[ $(psql -X -A -t -d "$DB" -c "SELECT count(*) FROM pg_stat_activity
                                    WHERE wait_event = 'PgSleep'") -ge 1 ]] && break
    sleep 0.1
done
((i < 300)) || fail "serve never reached the held fire time"

note "fast shutdown of the server while serve records the held fire time, back a second later"
pg_stop
sleep 1
pg_start
psql -X -q -d "$DB" -c "DROP TRIGGER df_test_hold ON schedule_log" >/dev/null

# Wait until fire times well after the held one are decided.
for ((i = 0; i < 600; i++)); do
    last=$(q "SELECT COALESCE(max(logical_time), 0) FROM schedule_log WHERE workflow = 'tick'")
    ((last >= held + 4000)) && break
    sleep 0.1
done
((last >= held + 4000)) || fail "serve decided no fire time after the restart: $(tail -20 "$SERVE_LOG")"
first_ms=$(q "SELECT min(logical_time) FROM schedule_log WHERE workflow = 'tick'")
n=$(q "SELECT count(*) FROM schedule_log WHERE workflow = 'tick' AND logical_time <= $last")
span=$(((last - first_ms) / 1000 + 1))
note "schedule_log: $(q "SELECT logical_time - $first_ms, decision FROM schedule_log
    WHERE workflow = 'tick' ORDER BY logical_time" | tr '\n' ' ')"
assert_eq 1 "$(q "SELECT count(*) FROM schedule_log WHERE workflow = 'tick' AND logical_time = $held")" \
    "the held fire time is decided (once)"
assert_eq "$span" "$n" "every fire time from the first to $((last - first_ms)) ms decided, none missing"
assert_eq "" "$(q "SELECT logical_time FROM runs WHERE workflow = 'tick' GROUP BY logical_time
                   HAVING count(*) > 1")" "one run per logical time"
kill -0 "$SERVE_PID" 2>/dev/null || fail "serve died: $(tail -20 "$SERVE_LOG")"
serve_stop TERM
assert_eq 0 "$SERVE_RC" "SIGTERM, exit 0"
df_done
