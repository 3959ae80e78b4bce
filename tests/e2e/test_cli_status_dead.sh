#!/usr/bin/env bash
# test_cli_status_dead: `status` of a run whose engine died on this host (issue 15, item 18): shown
# INTERRUPTED at once (the pid is checked, and its start time: a pid reused by a later process is
# not the engine), not RUNNING until its heartbeat is 30 s old; a live engine's run stays RUNNING;
# `retry` of either says what to do.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

cat >long.json <<'JSON'
{"name": "long", "tasks": [{"id": "nap", "plugin": "sleep", "params": {"ms": 60000}}]}
JSON
"$DF_BIN" run long.json --db long.db >long.out 2>long.err &
pid=$!
helper=
trap 'kill -9 "$pid" $helper 2>/dev/null || true; df_remove_work' EXIT
for _ in $(seq 200); do
    state="$(df_sqlite long.db "SELECT state FROM task_history WHERE task_id = 'nap'" 2>/dev/null || true)"
    [[ "$state" == RUNNING ]] && break
    sleep 0.05
done
[[ "${state:-}" == RUNNING ]] || fail "task nap never ran: $(cat long.err)"

note "a live engine: RUNNING"
run_df status 1 --db long.db
expect_rc 0
assert_match "$DF_OUT" '^State: +RUNNING' "state while the engine lives"

note "the engine killed: INTERRUPTED at once, its heartbeat still fresh"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
run_df status 1 --db long.db
expect_rc 0
assert_match "$DF_OUT" '^State: +INTERRUPTED' "state right after the engine died"
run_df status 1 --db long.db --json
assert_contains "$DF_OUT" '"state": "INTERRUPTED"' "status --json"
run_df retry 1 --db long.db
expect_rc 2 "retry of the interrupted run"
assert_contains "$DF_ERR" "continue it with \`dagflow resume 1 --db 'long.db'\`"

note "a pid taken by a later process is not the engine"
sleep 60 &
helper=$!
df_sqlite long.db "UPDATE runs SET engine_pid = $helper, heartbeat_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
                   engine_started_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) - 600000" >/dev/null
run_df status 1 --db long.db
assert_match "$DF_OUT" '^State: +INTERRUPTED' "state when the pid is another, later process"

note "that process as the engine (started before the engine recorded itself): RUNNING"
df_sqlite long.db "UPDATE runs SET engine_started_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) + 5000" >/dev/null
run_df status 1 --db long.db
assert_match "$DF_OUT" '^State: +RUNNING' "state when the recorded engine may be alive"
run_df retry 1 --db long.db
expect_rc 2 "retry of a run whose engine is alive"
assert_contains "$DF_ERR" "retry: run 1 is still running and its engine is alive (see \`dagflow status 1 --db 'long.db'\`)"
assert_not_contains "$DF_ERR" "dagflow resume" "retry's advice for a live engine"
kill -9 "$helper" 2>/dev/null || true
wait "$helper" 2>/dev/null || true

df_done
