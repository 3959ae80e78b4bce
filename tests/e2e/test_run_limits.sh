#!/usr/bin/env bash
# test_run_limits: dispatch order and concurrency limits end to end (SPEC §1 priority,
# max_active_tasks, pools; §6 --concurrency): with one slot, ready tasks start by priority (higher
# first, ties in file order); max_active_tasks, a named pool and --concurrency are never exceeded
# (replayed from task_events in seq order) and are actually used.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin noop
need_builtin sleep

# start_order RUN: task ids in the order of their transitions to RUNNING (seq order).
start_order() {
    q "SELECT group_concat(task_id, ' ') FROM (SELECT task_id FROM task_events
       WHERE run_id = $1 AND to_state = 'RUNNING' ORDER BY seq)"
}

# sleep_tasks PREFIX N MS [EXTRA_JSON]: N sleep tasks PREFIX1..PREFIXN as JSON objects, one a line.
sleep_tasks() {
    local i
    for i in $(seq 1 "$2"); do
        jq -cn --arg id "$1$i" --argjson ms "$3" --argjson extra "${4:-{\}}" \
            '{id: $id, plugin: "sleep", params: {ms: $ms}} + $extra'
    done
}

note "priority with --concurrency 1: higher first, ties in file order"
cat >prio.json <<'EOF'
{"name": "prio", "tasks": [
  {"id": "zero_a", "plugin": "sleep", "params": {"ms": 20}},
  {"id": "low", "plugin": "sleep", "params": {"ms": 20}, "priority": 1},
  {"id": "high", "plugin": "sleep", "params": {"ms": 20}, "priority": 5},
  {"id": "mid", "plugin": "sleep", "params": {"ms": 20}, "priority": 3},
  {"id": "mid_tie", "plugin": "sleep", "params": {"ms": 20}, "priority": 3},
  {"id": "neg", "plugin": "sleep", "params": {"ms": 20}, "priority": -2},
  {"id": "zero_b", "plugin": "sleep", "params": {"ms": 20}}
]}
EOF
run_wf prio.json --concurrency 1
expect_rc 0
run=$(last_run)
assert_eq "high mid mid_tie low zero_a zero_b neg" "$(start_order "$run")" \
    "start order with --concurrency 1"
assert_eq 1 "$(max_concurrent "$run")" "tasks running at once with --concurrency 1"
# attempt_history agrees.
assert_eq "high mid mid_tie low zero_a zero_b neg" \
    "$(q "SELECT group_concat(task_id, ' ') FROM (SELECT task_id FROM attempt_history
          WHERE run_id = $run ORDER BY started_at, (SELECT min(seq) FROM task_events e
                WHERE e.run_id = attempt_history.run_id AND e.task_id = attempt_history.task_id
                AND e.to_state = 'RUNNING'))")" "start order in attempt_history"

note "priority with max_active_tasks 1"
jq '. + {max_active_tasks: 1}' prio.json >prio_mat.json
run_wf prio_mat.json
expect_rc 0
run=$(last_run)
assert_eq "high mid mid_tie low zero_a zero_b neg" "$(start_order "$run")" \
    "start order with max_active_tasks 1"
assert_eq 1 "$(max_concurrent "$run")"

note "priority among tasks made ready by the same upstream"
cat >prio_down.json <<'EOF'
{"name": "prio_down", "max_active_tasks": 1, "tasks": [
  {"id": "root", "plugin": "noop"},
  {"id": "d1", "plugin": "sleep", "params": {"ms": 10}, "depends_on": ["root"], "priority": 1},
  {"id": "d2", "plugin": "sleep", "params": {"ms": 10}, "depends_on": ["root"], "priority": 9},
  {"id": "d3", "plugin": "sleep", "params": {"ms": 10}, "depends_on": ["root"], "priority": 4}
]}
EOF
run_wf prio_down.json
expect_rc 0
assert_eq "root d2 d3 d1" "$(start_order "$(last_run)")" "downstream start order"

note "max_active_tasks 2 with 6 sleep tasks: at most 2 running, and 2 are used"
sleep_tasks t 6 300 | jq -s '{name: "mat2", max_active_tasks: 2, tasks: .}' >mat2.json
run_wf mat2.json
expect_rc 0
run=$(last_run)
assert_eq 2 "$(max_concurrent "$run")" "most tasks running at once (max_active_tasks 2)"
((RUN_MS >= 850)) || fail "6 x 300 ms two at a time took only $RUN_MS ms"
assert_eq 6 "$(q "SELECT count(*) FROM task_history WHERE run_id = $run AND state = 'SUCCESS'")"
# Waiting tasks wait in QUEUED (ready, no slot), not RUNNING.
assert_eq ">PENDING PENDING>QUEUED QUEUED>RUNNING RUNNING>SUCCESS" "$(events "$run" t6)" \
    "transitions of a task that waited for a slot"

note "a pool with 1 slot shared by 3 tasks, beside 2 tasks outside the pool"
{
    sleep_tasks p 3 250 '{"pool": "narrow"}'
    sleep_tasks free 2 400
} | jq -s '{name: "pool1", pools: {narrow: 1}, tasks: .}' >pool1.json
run_wf pool1.json
expect_rc 0
run=$(last_run)
assert_eq 1 "$(max_concurrent "$run" "task_id LIKE 'p%'")" "pool tasks running at once (1 slot)"
all=$(max_concurrent "$run")
((all >= 2)) || fail "tasks outside the pool should run beside it (at most $all at once)"
DF_ASSERTS=$((DF_ASSERTS + 1))
((RUN_MS >= 700)) || fail "3 x 250 ms one at a time took only $RUN_MS ms"

note "tasks waiting for a pool slot start by priority"
cat >pool_prio.json <<'EOF'
{"name": "pool_prio", "pools": {"one": 1}, "tasks": [
  {"id": "low", "plugin": "sleep", "params": {"ms": 30}, "pool": "one", "priority": 1},
  {"id": "high", "plugin": "sleep", "params": {"ms": 30}, "pool": "one", "priority": 9},
  {"id": "free", "plugin": "sleep", "params": {"ms": 30}},
  {"id": "mid", "plugin": "sleep", "params": {"ms": 30}, "pool": "one", "priority": 5}
]}
EOF
run_wf pool_prio.json
expect_rc 0
run=$(last_run)
assert_eq "high mid low" "$(q "SELECT group_concat(task_id, ' ') FROM (SELECT task_id FROM task_events
    WHERE run_id = $run AND to_state = 'RUNNING' AND task_id != 'free' ORDER BY seq)")" \
    "start order in a one-slot pool"

note "a pool with 2 slots and max_active_tasks 3"
{
    sleep_tasks w 5 250 '{"pool": "wide"}'
    sleep_tasks o 3 250
} | jq -s '{name: "pool2", pools: {wide: 2}, max_active_tasks: 3, tasks: .}' >pool2.json
run_wf pool2.json
expect_rc 0
run=$(last_run)
assert_eq 2 "$(max_concurrent "$run" "task_id LIKE 'w%'")" "pool tasks at once (2 slots)"
assert_eq 3 "$(max_concurrent "$run")" "tasks at once (max_active_tasks 3)"

note "--concurrency 3 with 8 sleep tasks"
sleep_tasks c 8 250 | jq -s '{name: "conc3", tasks: .}' >conc3.json
run_wf conc3.json --concurrency 3
expect_rc 0
run=$(last_run)
assert_eq 3 "$(max_concurrent "$run")" "tasks at once with --concurrency 3"

note "without limits, independent sleep tasks overlap"
run_wf conc3.json
expect_rc 0
run=$(last_run)
all=$(max_concurrent "$run")
((all >= 6)) || fail "8 independent sleep tasks ran at most $all at once without any limit"
DF_ASSERTS=$((DF_ASSERTS + 1))
((RUN_MS < 2000)) || fail "8 x 250 ms in parallel took $RUN_MS ms"

note "a wide fan-out and fan-in: 300 tasks, then a join"
jq -n '{name: "fan", tasks: ([range(300) | {id: "n\(.)", plugin: "noop", params: {i: .}}]
        + [{id: "join", plugin: "noop", depends_on: [range(300) | "n\(.)"],
            params: {last: "${tasks.n299.result.i}"}}])}' >fan.json
run_wf fan.json
expect_rc 0 "300 tasks and a join"
run=$(last_run)
assert_eq "SUCCESS|301|301|0" "$(q "SELECT state, tasks_total, tasks_succeeded, tasks_failed
                                  FROM run_history WHERE run_id = $run")" "the fan-out run"
assert_eq 301 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND outcome = 'SUCCESS'")"
join_start=$(q "SELECT started_at FROM task_history WHERE run_id = $run AND task_id = 'join'")
assert_eq 0 "$(q "SELECT count(*) FROM task_history WHERE run_id = $run AND task_id != 'join'
                  AND ended_at > '$join_start'")" "tasks ending after the join started"
((RUN_MS < 20000)) || fail "300 noop tasks took $RUN_MS ms"

note "the smaller of --concurrency and max_active_tasks applies"
jq '. + {max_active_tasks: 4}' conc3.json >conc_mat4.json
run_wf conc_mat4.json --concurrency 2
expect_rc 0
assert_eq 2 "$(max_concurrent "$(last_run)")" "--concurrency 2 under max_active_tasks 4"
run_wf conc_mat4.json --concurrency 6
expect_rc 0
assert_eq 4 "$(max_concurrent "$(last_run)")" "max_active_tasks 4 under --concurrency 6"

run_done
