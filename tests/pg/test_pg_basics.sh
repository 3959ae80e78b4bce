#!/usr/bin/env bash
# test_pg_basics: the PostgreSQL store (SPEC §11) on the test cluster (ctest's `pg` fixture):
# a run recorded and shown by `status` and `history` as with SQLite; the SPEC §7 views answer in
# psql with the same names and columns as SQLite's, ids and durations bigint, times timestamptz
# (exact to the millisecond), the rest text; the closing line names psql, without the password;
# engines opening a new database at once migrate it once; a database whose schema is newer than
# this build's is refused (exit 3).
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/run_lib.sh"
df_test_pg || export DAGFLOW_TEST_DB=pg
run_setup
df_is_pg_uri "$DB" || fail "DB is not a PostgreSQL URI: $DB"

cat >wf.json <<'EOF'
{"name": "basics", "tasks": [
  {"id": "a", "plugin": "noop", "params": {"x": 1}},
  {"id": "b", "plugin": "flaky", "depends_on": ["a"], "params": {"fail_times": 1}, "retries": 1,
   "retry_delay_ms": 10},
  {"id": "c", "plugin": "noop", "depends_on": ["b"]}]}
EOF
need_plugin flaky
run_wf wf.json
expect_rc 0 "run on PostgreSQL"
assert_match "$DF_OUT" "^run 1 \(basics\): SUCCESS in [0-9.]+m?s: 3 tasks, 3 succeeded" "summary"
assert_match "$DF_OUT" "^history: psql 'postgresql:///dft_[a-z0-9_]+\?host=" "closing line"
expect_run 1 SUCCESS
expect_task 1 b SUCCESS
assert_eq "1 FAILED,2 SUCCESS" "$(q "SELECT group_concat(attempt || ' ' || outcome, ',' ORDER BY attempt)
    FROM attempt_history WHERE run_id = 1 AND task_id = 'b'")" "attempts of b"
assert_eq ">PENDING PENDING>QUEUED QUEUED>RUNNING RUNNING>UP_FOR_RETRY UP_FOR_RETRY>QUEUED QUEUED>RUNNING RUNNING>SUCCESS" \
    "$(events 1 b)" "events of b"

dfx status --json
expect_rc 0 "status --json"
assert_eq '"SUCCESS"' "$(jv .state "$DF_OUT")" "status state"
assert_eq '[1,2,1]' "$(jv '[.tasks[].attempts]' "$DF_OUT")" "status attempts"
dfx history --json
expect_rc 0 "history --json"
assert_eq '[1,3,3,0]' "$(jv '.[0] | [.run_id, .tasks_total, .tasks_succeeded, .tasks_failed]' "$DF_OUT")" \
    "history row"

# The views: same names and columns as SQLite's, SPEC §11's types.
SQLITE_DB="$WORK/ref.db"
"$DF_BIN" run wf.json --db "$SQLITE_DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" >/dev/null 2>&1 ||
    fail "the same run on SQLite"
for view in run_history task_history task_events attempt_history alert_history breaker_history; do
    want="$(sqlite3 "$SQLITE_DB" "SELECT group_concat(name, ',') FROM pragma_table_info('$view')")"
    got="$(q "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
              WHERE attrelid = '$view'::regclass AND attnum > 0")"
    assert_eq "$want" "$got" "columns of $view"
    types="$(q "SELECT string_agg(DISTINCT format_type(atttypid, atttypmod), ',') FROM pg_attribute
                WHERE attrelid = '$view'::regclass AND attnum > 0")"
    while IFS= read -r -d, t; do
        case "$t" in
        bigint | text | "timestamp with time zone") ;;
        "double precision") [[ "$view" == breaker_history ]] || fail "$view has a $t column" ;;
        *) fail "$view has a column of type $t" ;;
        esac
    done <<<"$types,"
done
assert_eq "bigint|bigint|timestamp with time zone|bigint" \
    "$(q "SELECT pg_typeof(run_id), pg_typeof(duration_ms), pg_typeof(started_at), pg_typeof(tasks_total)
          FROM run_history WHERE run_id = 1")" "run_history types"
# Times exact to the millisecond: the view's time is the stored ms.
assert_eq "0" "$(q "SELECT count(*) FROM task_events e JOIN task_event_log l USING (seq)
                    WHERE (extract(epoch FROM e.at) * 1000)::bigint <> l.at")" "times to the ms"
# this build's schema version: one migration per store/pg/NNN_*.sql
PG_V=$(find "$E2E_DIR/../../store/pg" -maxdepth 1 -name '[0-9][0-9][0-9]_*.sql' | wc -l)
assert_eq "$PG_V" "$(q "SELECT max(version) FROM dagflow_schema")" "schema version"
# runs' JSON columns are checked when written (012: triggers, not CHECKs that every UPDATE of the
# row re-evaluated, parsing the whole DAG at each lease renewal)
assert_eq "1" "$(q "UPDATE runs SET heartbeat_at = heartbeat_at WHERE run_id = 1 RETURNING 1")" \
    "an UPDATE not naming the JSON columns"
for col in dag params plugins metrics; do
    bad=$(psql -X -q -At -d "$DB" -c "UPDATE runs SET $col = '{' WHERE run_id = 1" 2>&1 || true)
    assert_contains "$bad" "invalid input syntax for type json" "$col checked as JSON on UPDATE"
done

# 015: a task instance's events and attempts go with it (a statement-level trigger in place of
# the per-row foreign keys), as when a run row is deleted by hand
run="$(q "SELECT max(run_id) FROM runs")"
counts="SELECT (SELECT count(*) > 0 FROM task_event_log WHERE run_id = $run),
    (SELECT count(*) > 0 FROM attempts WHERE run_id = $run)"
assert_eq "t|t" "$(q "$counts")" "run $run has events and attempts"
assert_eq "1" "$(q "DELETE FROM runs WHERE run_id = $run RETURNING 1")" "run $run deleted by hand"
assert_eq "f|f" "$(q "$counts")" "its events and attempts went with it"

# Four engines open a new database at once: one migration, four runs.
df_pg_new_db
DB2="$DF_PG_NEW"
pids=()
for i in 1 2 3 4; do
    "$DF_BIN" run wf.json --db "$DB2" --plugin-dir "$DF_TEST_PLUGIN_DIR" >"out$i" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do
    wait "$p" || fail "a concurrent first run failed: $(cat out*)"
done
assert_eq "$PG_V|4|4" "$(df_sqlite "$DB2" "SELECT (SELECT count(*) FROM dagflow_schema),
    (SELECT count(*) FROM runs), (SELECT count(DISTINCT run_id) FROM runs)")" "schema rows, runs"

# A newer schema is refused.
df_sqlite "$DB2" "INSERT INTO dagflow_schema (version) VALUES (99)" >/dev/null
run_df history --db "$DB2"
expect_rc 3 "history on a newer schema"
assert_contains "$DF_ERR" "schema version 99, newer than this dagflow's ($PG_V)" "newer schema message"

df_done
