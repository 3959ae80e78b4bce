#!/usr/bin/env bash
# test_store_old_release: a database written by the previous release (schema version 9, before
# the append layout of issue 14) is migrated when opened, its views give the same rows as before,
# and its INTERRUPTED run resumes. data/old_release/v9.db was written by dagflow at 889ed38 from
# done.json (a FAILED run with a mapped task, a retry, an upstream failure) and stop.json (run 2,
# interrupted by SIGINT while its task "nap" slept); views_v9.txt is views.sql's output on that
# file as written (the sqlite3 shell does not migrate).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
command -v sqlite3 >/dev/null || skip "the sqlite3 shell is not installed"
data="$DF_SOURCE_DIR/tests/e2e/data/old_release"
cp "$data/v9.db" df.db
chmod 600 df.db
assert_eq 9 "$(sqlite3 df.db 'PRAGMA user_version')" "the fixture's schema version"

note "opening it migrates it; the views give the same rows"
run_df status 1 --db df.db
expect_rc 0 "status of the old FAILED run"
# this build's schema version: schema.sql (1) and one migration per store/sqlite/NNN_*.sql
sq_v=$(($(find "$DF_SOURCE_DIR/store/sqlite" -maxdepth 1 -name '[0-9][0-9][0-9]_*.sql' | wc -l) + 1))
assert_eq "$sq_v" "$(sqlite3 df.db 'PRAGMA user_version')" "schema version after opening"
assert_eq ok "$(sqlite3 df.db 'PRAGMA integrity_check')" "integrity"
assert_eq "" "$(sqlite3 df.db 'PRAGMA foreign_key_check')" "foreign keys"
assert_eq "2|0" "$(sqlite3 df.db "SELECT count(*), sum(json_extract(d.dag, '$.name') <> r.workflow)
                                  FROM run_dags d JOIN runs r USING (run_id)")" \
    "the DAG snapshots moved to run_dags"
sqlite3 -separator '|' df.db <"$data/views.sql" >views.txt
diff "$data/views_v9.txt" views.txt >diff.txt || fail "the views changed: $(cat diff.txt)"
DF_ASSERTS=$((DF_ASSERTS + 1))

note "the interrupted run resumes to SUCCESS"
run_df resume 2 --db df.db
expect_rc 0 "resume of the old INTERRUPTED run: $DF_ERR"
assert_eq "SUCCESS|4|4" "$(sqlite3 df.db "SELECT state, tasks_total, tasks_succeeded FROM run_history
                                          WHERE run_id = 2")" "run 2 after resume"
assert_eq "1" "$(sqlite3 df.db "SELECT attempts FROM task_history WHERE run_id = 2 AND task_id = 'last'")" \
    "last ran once"
# run 2's events: the old ones unchanged and first, then the resumed engine's, seq increasing.
awk -F'|' '$1 == "event" && $3 == 2' "$data/views_v9.txt" >old2.txt
old_n=$(wc -l <old2.txt)
sqlite3 -separator '|' df.db "SELECT 'event', * FROM task_events WHERE run_id = 2 ORDER BY seq" >ev2.txt
diff old2.txt <(head -n "$old_n" ev2.txt) >diff.txt ||
    fail "run 2's old events changed: $(cat diff.txt)"
DF_ASSERTS=$((DF_ASSERTS + 1))
assert_eq "SUCCESS" "$(tail -n 1 ev2.txt | cut -d'|' -f6)" "run 2's last event"
assert_eq "0" "$(sqlite3 df.db "SELECT count(*) FROM (SELECT seq, lag(seq) OVER (ORDER BY seq) p
                                FROM task_events WHERE run_id = 2) WHERE seq <= p")" "seq increases"

note "a new run in the migrated file: creation events from the task rows, after every older seq"
cp "$data/stop.json" stop.json
sed -i 's/"ms": 4000/"ms": 10/' stop.json
run_df run stop.json --db df.db
expect_rc 0 "a new run"
assert_eq "0|0" "$(sqlite3 df.db "SELECT (SELECT count(*) FROM run_edges WHERE run_id = 3),
    (SELECT count(*) FROM task_event_log WHERE run_id = 3 AND from_state IS NULL)")" \
    "run 3 stores no edge and no creation event"
assert_eq "4|4" "$(sqlite3 df.db "SELECT count(*), count(DISTINCT seq) FROM task_events
    WHERE run_id = 3 AND from_state IS NULL AND to_state = 'PENDING'")" "run 3's creation events"
assert_eq "1" "$(sqlite3 df.db "SELECT (SELECT min(seq) FROM task_events WHERE run_id = 3)
    > (SELECT max(seq) FROM task_events WHERE run_id < 3)")" "run 3's seqs above the older runs'"
assert_eq "16" "$(sqlite3 df.db "SELECT count(*) FROM task_events WHERE run_id = 3")" \
    "4 tasks x 4 events"
assert_eq "0" "$(sqlite3 df.db "SELECT count(*) FROM (SELECT task_id, to_state, seq,
    lag(seq) OVER (PARTITION BY task_id ORDER BY seq) p FROM task_events WHERE run_id = 3)
    WHERE p IS NULL AND to_state <> 'PENDING'")" "each task's first event is its creation"
df_done
