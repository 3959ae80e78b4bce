#!/usr/bin/env bash
# test_store_deleted: a database file deleted, moved away or replaced during a run is noticed at
# the next heartbeat (every 5 s), and the engine stops (SPEC §6 exit code 3) saying so, instead of
# writing into a file no one can open again (issue 15 item 8: the run used to go on to its end and
# then fail with "no run 1", leaving an empty database behind).
#   1. rm of the database while a sleep task runs: exit 3 within the heartbeat interval and a
#      margin, "the database file ... was deleted while dagflow was using it", how to resume, and
#      no new (empty) database left at the path.
#   2. mv of the database away, then back after the engine stopped: `resume` finishes the run
#      SUCCESS without running again the task that had succeeded.
#   3. mv of another file over the database: "... was replaced by another file ...", exit 3, and
#      the new file is left as it was.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup

# A noop, then a sleep task of MS milliseconds.
sleep_wf() {
    cat >"$1" <<EOF
{"name": "deleted", "tasks": [
  {"id": "a", "plugin": "noop"},
  {"id": "s", "plugin": "sleep", "depends_on": ["a"], "params": {"ms": $2}}
]}
EOF
}
sleep_wf long.json 60000
sleep_wf short.json 8000

# start_run NAME FILE: starts `run FILE` in the background and waits until its sleep task runs.
start_run() {
    rm -f "$DB" "$DB-wal" "$DB-shm"
    bg "$1" run "$2"
    wait_sql "SELECT count(*) FROM task_history WHERE task_id = 's' AND state = 'RUNNING'" 20 \
        "the sleep task RUNNING"
}

# check_stopped NAME WHAT: the engine NAME exited 3 within 5 s (the heartbeat) + 10 s of margin,
# saying the database was WHAT and how to resume run 1.
check_stopped() {
    bg_wait "$BG_PID" 15 "$1"
    expect_bg_rc 3 "$1" "exit code when the database is $2"
    note "stopped ${BG_MS} ms after the database was $2"
    local err
    err="$(cat "$WORK/$1.err")"
    assert_contains "$err" "dagflow: store: the database file $DB was $2 while dagflow was using it" \
        "stderr"
    assert_contains "$err" "dagflow: run 1 stopped; fix the cause, then \`dagflow resume 1 --db '$DB' --plugin-dir '$DF_TEST_PLUGIN_DIR'\`" \
        "stderr says how to continue"
    assert_not_contains "$err" "no run 1" "stderr"
}

note "1. rm of the database during a run"
start_run run1 long.json
rm "$DB"
check_stopped run1 deleted
assert_file_absent "$DB" "a database at the path after the engine stopped"

note "2. mv away, engine stops, mv back, resume"
start_run run2 short.json
mv "$DB" "$WORK/moved.db"
check_stopped run2 deleted
assert_file_absent "$DB" "a database at the path after the engine stopped"
mv "$WORK/moved.db" "$DB"
resume_fg 1
expect_rc 0 "resume once the database is back"
expect_run 1 SUCCESS
assert_eq 1 "$(q "SELECT attempts FROM task_history WHERE run_id = 1 AND task_id = 'a'")" \
    "attempts of task a (SUCCESS before the move)"

note "3. another file moved over the database"
start_run run3 long.json
printf 'not a database\n' >"$WORK/other"
mv "$WORK/other" "$DB"
check_stopped run3 "replaced by another file"
assert_eq "not a database" "$(cat "$DB")" "the file moved over the database"

df_done
