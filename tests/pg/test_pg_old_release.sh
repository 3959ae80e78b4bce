#!/usr/bin/env bash
# test_pg_old_release: a PostgreSQL database written by the previous release (schema version 9,
# before the append layout of issue 14) is migrated when dagflow opens it, its views give the
# same rows as before, and its INTERRUPTED run resumes. data/old_release_v9.sql is pg_dump's
# output (--no-owner --no-privileges, its \restrict lines removed) of a database in which dagflow
# at 889ed38 ran tests/e2e/data/old_release/done.json and stop.json (run 2 interrupted by SIGINT
# while "nap" slept); data/old_release_views_v9.txt is what the views gave on it then.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
df_setup
df_pg_new_db
DB="$DF_PG_NEW"
data="$DF_SOURCE_DIR/tests/pg/data"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -f "$data/old_release_v9.sql" >restore.txt 2>&1 ||
    fail "cannot restore the version 9 dump: $(cat restore.txt)"
pq() { psql -X -q -d "$DB" -At -F'|' "$@"; }
views() {
    pq -c "SELECT 'run', * FROM run_history ORDER BY run_id" \
        -c "SELECT 'task', * FROM task_history ORDER BY run_id, task_id, map_index" \
        -c "SELECT 'event', * FROM task_events ORDER BY run_id, seq" \
        -c "SELECT 'attempt', run_id, task_id, attempt, outcome, started_at, ended_at, duration_ms,
                   error, map_index FROM attempt_history ORDER BY run_id, task_id, map_index, attempt"
}
assert_eq 9 "$(pq -c 'SELECT max(version) FROM dagflow_schema')" "the dump's schema version"
# The views' times are timestamptz, shown in the session's zone: the dump's rows were taken in UTC.
export PGTZ=UTC
views >before.txt
diff "$data/old_release_views_v9.txt" before.txt >diff.txt ||
    fail "the restored dump's views differ from the recorded ones: $(cat diff.txt)"
DF_ASSERTS=$((DF_ASSERTS + 1))

note "opening it migrates it; the views give the same rows"
run_df status 1 --db "$DB"
expect_rc 0 "status of the old FAILED run: $DF_ERR"
# this build's schema version: one migration per store/pg/NNN_*.sql
pg_v=$(find "$DF_SOURCE_DIR/store/pg" -maxdepth 1 -name '[0-9][0-9][0-9]_*.sql' | wc -l)
assert_eq "$pg_v" "$(pq -c 'SELECT max(version) FROM dagflow_schema')" "schema version after opening"
views >after.txt
diff "$data/old_release_views_v9.txt" after.txt >diff.txt || fail "the views changed: $(cat diff.txt)"
DF_ASSERTS=$((DF_ASSERTS + 1))

note "the interrupted run resumes to SUCCESS"
run_df resume 2 --db "$DB"
expect_rc 0 "resume of the old INTERRUPTED run: $DF_ERR"
assert_eq "SUCCESS|4|4" "$(pq -c "SELECT state, tasks_total, tasks_succeeded FROM run_history
                                  WHERE run_id = 2")" "run 2 after resume"
assert_eq "0" "$(pq -c "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY seq) p
                        FROM task_events WHERE run_id = 2) s WHERE seq <= p")" "seq increases"

note "a new run in the migrated database: creation events from the task rows"
sed 's/"ms": 4000/"ms": 10/' "$DF_SOURCE_DIR/tests/e2e/data/old_release/stop.json" >stop.json
run_df run stop.json --db "$DB"
expect_rc 0 "a new run: $DF_ERR"
assert_eq "0|0" "$(pq -c "SELECT (SELECT count(*) FROM run_edges WHERE run_id = 3),
    (SELECT count(*) FROM task_event_log WHERE run_id = 3 AND from_state IS NULL)")" \
    "run 3 stores no edge and no creation event"
assert_eq "4|4" "$(pq -c "SELECT count(*), count(DISTINCT seq) FROM task_events
    WHERE run_id = 3 AND from_state IS NULL AND to_state = 'PENDING'")" "run 3's creation events"
assert_eq "t" "$(pq -c "SELECT (SELECT min(seq) FROM task_events WHERE run_id = 3)
    > (SELECT max(seq) FROM task_events WHERE run_id < 3)")" "run 3's seqs above the older runs'"
assert_eq "16" "$(pq -c "SELECT count(*) FROM task_events WHERE run_id = 3")" "4 tasks x 4 events"
df_pg_drop_dbs
df_done
