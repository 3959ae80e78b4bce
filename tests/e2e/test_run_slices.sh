#!/usr/bin/env bash
# test_run_slices: a run with thousands of ready tasks is started a slice at a time (engine.c
# DF_TICK_SLICE): the first tasks are RUNNING before the last ones are even QUEUED, every task
# still goes PENDING -> QUEUED -> RUNNING -> SUCCESS in that order with one attempt, a downstream
# task waits for all of its thousands of upstreams, and the tasks ready at the start still start
# in priority order (SPEC §1), however far down the file the high-priority ones are.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin noop

N=3000
python3 - "$N" >wide.json <<'PY'
import json, sys
n = int(sys.argv[1])
tasks = [{"id": "t%d" % i, "plugin": "noop"} for i in range(n)]
tasks.append({"id": "join", "plugin": "noop", "depends_on": ["t%d" % i for i in range(n)]})
print(json.dumps({"name": "wide", "tasks": tasks}))
PY

run_wf wide.json --plugin-dir "$DF_PLUGIN_DIR" --concurrency "$N"
expect_rc 0
run=$(last_run)
assert_eq "$(run_state "$run")" SUCCESS "run state"
assert_eq "$(q "SELECT count(*) FROM task_history WHERE run_id = $run AND state = 'SUCCESS'")" \
    $((N + 1)) "tasks that succeeded"
assert_eq "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND outcome = 'SUCCESS'")" \
    $((N + 1)) "attempts"

# Sliced: some task started before the last of the others was queued.
first_running=$(q "SELECT min(seq) FROM task_events WHERE run_id = $run AND to_state = 'RUNNING'")
last_queued=$(q "SELECT max(seq) FROM task_events WHERE run_id = $run AND to_state = 'QUEUED'
                  AND task_id <> 'join'")
((first_running < last_queued)) ||
    fail "all $N tasks were queued (last at seq $last_queued) before the first started (seq $first_running)"

# Each task's own history is still in order, once each.
# (Each state's seq, compared: group_concat's order is not SQL's to promise.)
assert_eq "$(q "SELECT count(*) FROM (SELECT task_id, count(*) AS n,
                  max(CASE WHEN to_state = 'PENDING' THEN seq END) AS p,
                  max(CASE WHEN to_state = 'QUEUED' THEN seq END) AS qd,
                  max(CASE WHEN to_state = 'RUNNING' THEN seq END) AS r,
                  max(CASE WHEN to_state = 'SUCCESS' THEN seq END) AS s
                  FROM task_events WHERE run_id = $run GROUP BY task_id) AS t
                  WHERE n <> 4 OR p IS NULL OR qd IS NULL OR r IS NULL OR s IS NULL
                     OR NOT (p < qd AND qd < r AND r < s)")" 0 \
    "tasks whose events are not PENDING>QUEUED>RUNNING>SUCCESS"

# The join task was queued only after its last upstream succeeded.
assert_eq "$(q "SELECT (SELECT seq FROM task_events WHERE run_id = $run AND task_id = 'join'
                          AND to_state = 'QUEUED')
                     > (SELECT max(seq) FROM task_events WHERE run_id = $run AND task_id <> 'join'
                          AND to_state = 'SUCCESS')")" 1 "join queued after every upstream"
# Priority across slices: the 10 highest-priority tasks are the last of 1,000 in the file.
python3 - >prio.json <<'PY'
import json
tasks = [{"id": "p%04d" % i, "plugin": "noop"} for i in range(1000)]
for i in range(990, 1000):
    tasks[i]["priority"] = 10
print(json.dumps({"name": "prio", "max_active_tasks": 4, "tasks": tasks}))
PY
run_wf prio.json --plugin-dir "$DF_PLUGIN_DIR"
expect_rc 0
run=$(last_run)
assert_eq "$(q "SELECT group_concat(task_id, ' ') FROM (SELECT task_id FROM task_events
                  WHERE run_id = $run AND to_state = 'RUNNING' ORDER BY seq LIMIT 10)")" \
    "p0990 p0991 p0992 p0993 p0994 p0995 p0996 p0997 p0998 p0999" "the first ten tasks started"
df_done
