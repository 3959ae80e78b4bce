#!/usr/bin/env bash
# test_views_golden: the SPEC §7 views return the same rows for the same workload as before the
# write path changed (issue 14: multi-row INSERTs when a run is created, no savepoint per
# transition inside the group commit). data/views/golden.txt was written by dagflow at 8ce98d3
# (before those changes) from data/views/wf.json run with --concurrency 1: run_history,
# task_history, every task's task_events in seq order, attempt_history, with the times reduced to
# whether they are set. Also checks that seq orders each upstream's final event before its
# downstream's QUEUED one.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
command -v sqlite3 >/dev/null || skip "the sqlite3 shell is not installed"
data="$DF_SOURCE_DIR/tests/e2e/data/views"
cp "$data/wf.json" wf.json

run_df run --db df.db --plugin-dir "$DF_TEST_PLUGIN_DIR" --concurrency 1 wf.json
expect_rc 1 "the run fails (task d fails)"

sqlite3 -separator '|' df.db "
SELECT 'run', workflow, state, tasks_total, tasks_succeeded, tasks_failed, started_at IS NOT NULL,
       ended_at IS NOT NULL, duration_ms IS NOT NULL FROM run_history ORDER BY run_id;
SELECT 'task', task_id, plugin, state, attempts, started_at IS NOT NULL, ended_at IS NOT NULL,
       duration_ms IS NOT NULL, error FROM task_history ORDER BY run_id, task_id;
SELECT 'event', task_id, ifnull(from_state,'-'), to_state, attempt, ifnull(detail,'-'),
       at IS NOT NULL FROM task_events ORDER BY run_id, task_id, seq;
SELECT 'attempt', task_id, attempt, outcome, started_at IS NOT NULL, ended_at IS NOT NULL,
       duration_ms IS NOT NULL, ifnull(error,'-'), ifnull(log,'-') FROM attempt_history
       ORDER BY run_id, task_id, attempt;" >views.txt
diff "$data/golden.txt" views.txt >diff.txt || fail "the views differ from the golden rows: $(cat diff.txt)"
DF_ASSERTS=$((DF_ASSERTS + 1))

note "seq: an upstream's final event comes before its downstream is QUEUED"
bad=$(sqlite3 df.db "
WITH e(up, down) AS (VALUES ('a','b'), ('a','c'), ('b','d'), ('d','f'), ('b','g'), ('c','g')),
     q AS (SELECT task_id, min(seq) s FROM task_events WHERE to_state = 'QUEUED' GROUP BY task_id),
     f AS (SELECT task_id, max(seq) s FROM task_events
           WHERE to_state IN ('SUCCESS', 'FAILED') GROUP BY task_id)
SELECT count(*) FROM e JOIN q ON q.task_id = e.down JOIN f ON f.task_id = e.up WHERE f.s > q.s")
assert_eq 0 "$bad" "edges whose downstream was queued before the upstream ended"
df_done
