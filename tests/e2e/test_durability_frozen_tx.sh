#!/usr/bin/env bash
# test_durability_frozen_tx: an engine frozen (SIGSTOP) inside a write transaction must not block
# the engine that takes its run over (SPEC §12; issue 15 item 5). The engine runs a long chain of
# quick tasks; it is stopped at a moment it holds the database's write lock (checked: another
# writer gets "database is locked" at once). Readers are not blocked (status works). Once its
# heartbeat is stale (30 s), `dagflow resume` from another process kills the frozen engine (same
# host, its pid's start time checked) and ends the run SUCCESS, without "database is locked".
# About 40 s (the heartbeat limit). SQLite only (PostgreSQL's row locks are another matter).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup
df_test_pg && skip "SQLite's write lock"

{
    echo '{"name": "frozen_tx", "tasks": ['
    for i in $(seq 0 11999); do
        dep=""
        ((i > 0)) && dep="\"t$((i - 1))\""
        printf '  {"id": "t%d", "plugin": "noop", "depends_on": [%s]}%s\n' "$i" "$dep" \
            "$( ((i < 11999)) && echo ,)"
    done
    echo ']}'
} >wf.json

# locked: whether another connection cannot take the write lock right now.
locked() { ! sqlite3 -cmd ".timeout 0" "$DB" "BEGIN IMMEDIATE; ROLLBACK;" >/dev/null 2>&1; }

note "run 12000 chained tasks; freeze the engine while it holds the write lock"
bg old run wf.json
old=$BG_PID
wait_sql "SELECT count(*) FROM task_history WHERE state = 'SUCCESS'" 20 "a task SUCCESS"
trap 'kill -CONT "$old" 2>/dev/null || true; dur_cleanup' EXIT
caught=0
for try in $(seq 2000); do
    kill -STOP "$old"
    sleep 0.05
    if locked; then
        caught=1
        break
    fi
    kill -CONT "$old"
    sleep 0.0$((RANDOM % 9 + 1))
done
((caught)) || fail "could not stop the engine inside a write transaction in 2000 tries"
note "frozen inside a write transaction (try $try)"
run=$(last_run)
dfg status "$run"
expect_rc 0 "status (a reader) while the frozen engine holds the write lock"

note "waiting for the heartbeat to go stale (30 s)"
wait_sql "SELECT state = 'INTERRUPTED' FROM run_history WHERE run_id = $run" 45 \
    "run_history showing the run INTERRUPTED"
note "resume from another process"
# The resume may have almost all of the 12,000 tasks to run (the engine may be caught at once):
# about 170 tasks/s in the sanitizer build on a loaded machine, so a bound far above that.
RUN_LIMIT=300
resume_fg "$run"
expect_rc 0 "resume of the frozen engine's run"
assert_not_contains "$DF_ERR" "locked" "resume's messages"
expect_run "$run" SUCCESS
bg_wait "$old" 10 old
expect_bg_rc 137 old "the frozen engine (killed by the resume)"
# (No invariants check: on 12,000 tasks it takes minutes; test_durability_stale_engine has one.)
assert_eq 12000 "$(q "SELECT count(*) FROM task_history WHERE run_id = $run AND state = 'SUCCESS'")" \
    "tasks SUCCESS"
df_done
