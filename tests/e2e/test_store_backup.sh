#!/usr/bin/env bash
# test_store_backup: when a run ends, its history is in the database file itself (SPEC §12,
# issue 15 item 7): a copy of the .db file alone, without its -wal, holds the run; the checkpoint
# that puts it there never keeps a run from ending while a reader holds a read transaction; and
# the README's backup during a run (`sqlite3 DB ".backup COPY"`) gives a copy that holds the run
# so far.
#   1. `run`, then `cp` of the .db alone: task_history and run_history of the copy show the run.
#   2. A reader (the sqlite3 shell in a read transaction that began mid-run) holds its snapshot
#      across the run's end: the run still ends at once (exit 0); a later run's end completes the
#      file, and a copy alone then holds both runs.
#   3. `.backup` during a run (a sleep task running): the copy holds the run and its first task.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup

# copy_alone NAME: copies $DB alone (no -wal, no -shm) to $WORK/NAME.db.
copy_alone() {
    rm -f "$WORK/$1.db" "$WORK/$1.db-wal" "$WORK/$1.db-shm"
    cp "$DB" "$WORK/$1.db"
}

# A chain of 30 tasks: enough history for the -wal file to hold many pages.
{
    echo '{"name": "backup", "tasks": [{"id": "t0", "plugin": "noop"}'
    for i in $(seq 1 29); do
        echo ", {\"id\": \"t$i\", \"plugin\": \"noop\", \"depends_on\": [\"t$((i - 1))\"]}"
    done
    echo ']}'
} >chain.json

note "1. a copy of the .db file alone after a run holds the run"
run_wf chain.json
expect_rc 0
copy_alone c1
assert_file_absent "$WORK/c1.db-wal" "the copy's -wal"
assert_eq 30 "$(df_sqlite "$WORK/c1.db" "SELECT count(*) FROM task_history WHERE run_id = 1
                                          AND state = 'SUCCESS'")" "tasks SUCCESS in the copy"
assert_eq "SUCCESS" "$(df_sqlite "$WORK/c1.db" "SELECT state FROM run_history WHERE run_id = 1")" \
    "run state in the copy"
assert_eq 0 "$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)" "size of the -wal file after the run"

note "2. a reader holding a read transaction across the run's end does not block it"
cat >slow.json <<'EOF'
{"name": "slow", "tasks": [
  {"id": "a", "plugin": "noop"},
  {"id": "s", "plugin": "sleep", "depends_on": ["a"], "params": {"ms": 1500}},
  {"id": "b", "plugin": "noop", "depends_on": ["s"]}
]}
EOF
bg run2 run slow.json
wait_sql "SELECT count(*) FROM task_history WHERE run_id = 2 AND task_id = 's'
          AND state = 'RUNNING'" 20 "run 2's sleep task RUNNING"
# The reader: BEGIN and a SELECT take a snapshot of run 2 while it runs; the shell then waits on
# its input (a FIFO this test holds open) with the read transaction open.
mkfifo reader.in
sqlite3 -batch "$DB" <reader.in >reader.out 2>&1 &
reader=$!
DUR_PIDS+=("$reader")
exec {rfd}>reader.in
echo "BEGIN; SELECT 'snapshot', count(*) FROM task_history WHERE run_id = 2 AND state = 'SUCCESS';" >&$rfd
for _ in $(seq 200); do
    grep -q snapshot reader.out 2>/dev/null && break
    sleep 0.05
done
assert_contains "$(cat reader.out)" "snapshot|1" "the reader's snapshot (task a SUCCESS)"
bg_wait "$BG_PID" 15 run2
expect_bg_rc 0 run2 "exit code of a run ending under a reader"
note "run 2 ended; the reader still holds its snapshot"
assert_eq "" "$(sed -n '2p' reader.out)" "nothing more from the reader (it did not fail)"
kill -0 "$reader" || fail "the reader ended before the test let it"
echo "SELECT 'still', count(*) FROM task_history WHERE run_id = 2 AND state = 'SUCCESS'; COMMIT;" >&$rfd
exec {rfd}>&-
wait "$reader" || true
assert_contains "$(cat reader.out)" "still|1" "the reader read its own snapshot to the end"
# The next run's end completes the file.
run_wf chain.json
expect_rc 0
copy_alone c2
assert_eq "1|SUCCESS 2|SUCCESS 3|SUCCESS" \
    "$(df_sqlite "$WORK/c2.db" "SELECT group_concat(run_id || '|' || state, ' ') FROM
                                 (SELECT run_id, state FROM run_history ORDER BY run_id)")" \
    "runs in a copy alone after the next run"

note "3. sqlite3 .backup during a run"
cat >long.json <<'EOF'
{"name": "long", "tasks": [
  {"id": "a", "plugin": "noop"},
  {"id": "s", "plugin": "sleep", "depends_on": ["a"], "params": {"ms": 3000}}
]}
EOF
bg run4 run long.json
wait_sql "SELECT count(*) FROM task_history WHERE run_id = 4 AND task_id = 's'
          AND state = 'RUNNING'" 20 "run 4's sleep task RUNNING"
sqlite3 -batch -cmd '.timeout 5000' "$DB" ".backup '$WORK/b.db'"
assert_eq "SUCCESS RUNNING" \
    "$(df_sqlite "$WORK/b.db" "SELECT group_concat(state, ' ') FROM
                                (SELECT state FROM task_history WHERE run_id = 4 ORDER BY task_id)")" \
    "run 4's tasks in the backup made during the run"
bg_wait "$BG_PID" 20 run4
expect_bg_rc 0 run4

df_done
