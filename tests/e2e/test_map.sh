#!/usr/bin/env bash
# test_map: dynamic mapping end to end (SPEC §8, §10), checked in the history: for_each over 0,
# 1 and 10,000 elements, over a typed param and over an upstream's result (downstream reads the
# array of the instances' results in index order); ${item}, ${item_index}, ${task.map_index} and
# DAGFLOW_MAP_INDEX; max_parallel (never more instances in flight, from attempt_history's
# overlaps); a retry of one instance; a failed instance (the others still finish, the task
# FAILED, downstream UPSTREAM_FAILED); `retry` re-running only the instance that failed, and
# `retry --task` expanding again; a for_each value that is not an array; status (one line with
# counts, --expand, --json's instances), status --task ID[N] and logs RUN ID[N]; load errors.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$E2E_DIR/../crash/invariants.sh"
run_setup
need_builtin shell
need_builtin noop

# inst RUN TASK: the instances' "map_index:state:attempts" in index order, space-separated.
inst() {
    q "SELECT group_concat(m, ' ') FROM (SELECT map_index || ':' || state || ':' || attempts AS m
         FROM task_history WHERE run_id = $1 AND task_id = '$2' AND map_index IS NOT NULL
         ORDER BY map_index) x"
}

note "over an upstream's result and a typed param: items, indexes, results in order"
cat >up.json <<'EOF2'
{"name": "up", "params": {"xs": [1, {"a": "b c"}, "s"]}, "tasks": [
  {"id": "gen", "plugin": "shell",
   "params": {"script": "echo '[\"x\",\"y\",\"z\",\"w\"]'", "parse_json_stdout": true}},
  {"id": "each", "plugin": "shell", "depends_on": ["gen"], "for_each": "${tasks.gen.result.json}",
   "params": {"script": "echo \"${item}-${item_index}-${task.map_index}-$DAGFLOW_MAP_INDEX\""}},
  {"id": "typed", "plugin": "shell", "for_each": "${params.xs}",
   "params": {"argv": ["echo", "v=${item}"]}},
  {"id": "join", "plugin": "shell", "depends_on": ["each", "typed"],
   "params": {"argv": ["echo", "e=${tasks.each.result}", "t=${tasks.typed.result}"]}}
]}
EOF2
run_wf up.json
expect_rc 0 "a run with mapped tasks"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" each SUCCESS
assert_eq "0:SUCCESS:1 1:SUCCESS:1 2:SUCCESS:1 3:SUCCESS:1" "$(inst "$run" each)" "instances of each"
out=$(dfx status "$run" --json >/dev/null; printf '%s' "$DF_OUT")
assert_eq '["x-0-0-0","y-1-1-1","z-2-2-2","w-3-3-3"]' \
    "$(jv '[.tasks[] | select(.id == "each") | .instances[].result.stdout]' "$out")" \
    "each instance's item, item_index, task.map_index, DAGFLOW_MAP_INDEX"
assert_eq '[0,1,2,3]' "$(jv '[.tasks[] | select(.id == "each") | .instances[].map_index]' "$out")" \
    "status --json: map_index per instance"
assert_eq '["v=1","v={\"a\":\"b c\"}","v=s"]' \
    "$(jv '[.tasks[] | select(.id == "typed") | .result[].stdout]' "$out")" \
    "typed items (an object as JSON text in argv), the task's result in index order"
assert_contains "$(jv '.tasks[] | select(.id == "join") | .result.stdout' "$out" -r)" \
    '"stdout":"x-0-0-0"' "downstream reads the array of instance results"
assert_eq "0" "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'each'
                   AND map_index IS NULL")" "the mapped task itself has no attempt"
assert_eq ">PENDING PENDING>RUNNING RUNNING>SUCCESS" \
    "$(q "SELECT group_concat(ifnull(from_state, '') || '>' || to_state, ' ') FROM
            (SELECT from_state, to_state FROM task_events WHERE run_id = $run AND task_id = 'each'
             AND map_index IS NULL ORDER BY seq) x")" "the mapped task's own events"
assert_eq ">PENDING PENDING>QUEUED QUEUED>RUNNING RUNNING>SUCCESS" \
    "$(q "SELECT group_concat(ifnull(from_state, '') || '>' || to_state, ' ') FROM
            (SELECT from_state, to_state FROM task_events WHERE run_id = $run AND task_id = 'each'
             AND map_index = 2 ORDER BY seq) x")" "an instance's events"
out="$(inv_check "$DB" "$run" finished)" || fail "invariants: $out"
assert_contains "$DF_ERR" "each[3] SUCCESS (attempt 1)" "progress names instances ID[N]"

note "status, status --expand, status --task ID[N], logs RUN ID[N]"
dfx status "$run"
assert_match "$DF_OUT" "each +SUCCESS \(4 instances: 4 SUCCESS\)" "a mapped task is one line with counts"
assert_not_contains "$DF_OUT" "each[0]" "no instance lines without --expand"
dfx status "$run" --expand
assert_match "$DF_OUT" $'\n''each\[2\] +SUCCESS +1 ' "--expand lists instances as ID[N]"
dfx status "$run" --task 'each[1]' --json
expect_rc 0 "status --task ID[N]"
assert_eq 1 "$(jv .map_index "$DF_OUT")" "status --task ID[N] --json: map_index"
dfx logs "$run" 'each[1]'
expect_rc 0 "logs RUN ID[N]"
assert_contains "$DF_OUT" "y-1-1-1" "logs RUN ID[N] shows that instance's stdout"
assert_contains "$DF_OUT" "task each[1]" "logs names the instance"
dfx logs "$run" 'each[7]'
expect_rc 2 "logs of an instance that does not exist"
assert_contains "$DF_ERR" 'run '"$run"' has no task "each[7]"' "unknown instance message"

note "for_each over 0 and 1 elements, and a value that is not an array"
cat >sizes.json <<'EOF2'
{"name": "sizes", "params": {"none": [], "one": ["only"], "str": "abc"}, "tasks": [
  {"id": "zero", "plugin": "noop", "for_each": "${params.none}"},
  {"id": "after_zero", "plugin": "noop", "depends_on": ["zero"], "trigger_rule": "all_done"},
  {"id": "one", "plugin": "shell", "for_each": "${params.one}", "params": {"argv": ["echo", "${item}"]}},
  {"id": "bad", "plugin": "noop", "for_each": "${params.str}"}
]}
EOF2
run_wf sizes.json
expect_rc 1 "a run with a for_each that is not an array"
run=$(last_run)
expect_task "$run" zero SKIPPED
assert_eq "" "$(inst "$run" zero)" "an empty for_each has no instances"
expect_task "$run" after_zero SUCCESS
expect_task "$run" one SUCCESS
assert_eq "0:SUCCESS:1" "$(inst "$run" one)" "one element, one instance"
expect_task "$run" bad FAILED
assert_eq "0" "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 'bad'")" \
    "a for_each that is not an array fails without an attempt"
assert_contains "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'bad'")" \
    "for_each: the value is a string, not an array" "its error"

note "for_each over 10,000 elements"
jq -n '{name: "big", params: {xs: [range(10000)]},
        tasks: [{id: "m", plugin: "noop", for_each: "${params.xs}", params: {i: "${item}"}},
                {id: "after", plugin: "noop", depends_on: ["m"]}]}' >big.json
RUN_LIMIT=120 run_wf big.json
expect_rc 0 "10,000 instances"
run=$(last_run)
assert_eq "10000|10000" "$(q "SELECT count(*),
           sum(CASE WHEN state = 'SUCCESS' AND attempts = 1 THEN 1 ELSE 0 END)
    FROM task_history WHERE run_id = $run AND task_id = 'm' AND map_index IS NOT NULL")" \
    "10,000 instances, each SUCCESS at its first attempt"
expect_task "$run" after SUCCESS
assert_eq "2" "$(q "SELECT tasks_total FROM run_history WHERE run_id = $run")" \
    "run_history counts tasks, not instances"

note "max_parallel: never more instances in flight, from attempt_history's overlaps"
cat >par.json <<'EOF2'
{"name": "par", "params": {"xs": [1, 2, 3, 4, 5, 6, 7, 8]}, "tasks": [
  {"id": "p", "plugin": "shell", "for_each": "${params.xs}", "max_parallel": 2,
   "params": {"script": "sleep 0.3"}}
]}
EOF2
run_wf par.json
expect_rc 0 "max_parallel run"
run=$(last_run)
most=$(q "SELECT max(c) FROM (SELECT (SELECT count(*) FROM attempt_history b
            WHERE b.run_id = a.run_id AND b.task_id = 'p' AND b.started_at <= a.started_at
              AND b.ended_at > a.started_at) AS c
          FROM attempt_history a WHERE a.run_id = $run AND a.task_id = 'p') x")
assert_eq 2 "$most" "attempts in flight at once with max_parallel 2"

note "a retry of one instance; a failed instance; retry re-runs only that one"
cat >fail.json <<'EOF2'
{"name": "fail", "params": {"xs": ["a", "b", "c", "d"]}, "tasks": [
  {"id": "f", "plugin": "shell", "for_each": "${params.xs}", "retries": 1, "retry_delay_ms": 10,
   "params": {"script": "if [ ${item_index} = 2 ] && [ ! -e m2 ]; then touch m2; exit 1; fi; if [ ${item} = b ] && [ ! -e fixed ]; then exit 3; fi; echo ok ${item}"}},
  {"id": "down", "plugin": "noop", "depends_on": ["f"]}
]}
EOF2
run_wf fail.json
expect_rc 1 "a run with a failed instance"
run=$(last_run)
expect_run "$run" FAILED
expect_task "$run" f FAILED
assert_eq "0:SUCCESS:1 1:FAILED:2 2:SUCCESS:2 3:SUCCESS:1" "$(inst "$run" f)" \
    "instance 2 retried once and succeeded, instance 1 failed twice, the others finished"
expect_task "$run" down UPSTREAM_FAILED
assert_contains "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'f'
                      AND map_index IS NULL")" "1 of 4 mapped instances failed" "the task's error"
touch fixed
dfx retry "$run" --plugin-dir "$DF_TEST_PLUGIN_DIR"
expect_rc 0 "retry after fixing instance 1"
expect_run "$run" SUCCESS
assert_eq "0:SUCCESS:1 1:SUCCESS:3 2:SUCCESS:2 3:SUCCESS:1" "$(inst "$run" f)" \
    "retry re-ran only the instance that failed"
expect_task "$run" down SUCCESS
DF_ALLOWED_EXTRA="SUCCESS>PENDING"
out="$(inv_check "$DB" "$run" finished)" || fail "invariants after retry: $out"

note "retry --task on a mapped task expands it again"
dfx retry "$run" --task f --plugin-dir "$DF_TEST_PLUGIN_DIR"
expect_rc 0 "retry --task f"
assert_eq "0:SUCCESS:2 1:SUCCESS:4 2:SUCCESS:3 3:SUCCESS:2" "$(inst "$run" f)" \
    "every instance ran again"
DF_ALLOWED_EXTRA=""

note "load errors"
cat >le.json <<'EOF2'
{"name": "le", "tasks": [
  {"id": "a", "plugin": "noop"},
  {"id": "b", "plugin": "noop", "for_each": "${tasks.a.result}"},
  {"id": "c", "plugin": "noop", "for_each": "${tasks.zz.result}", "depends_on": ["a"]},
  {"id": "d", "plugin": "noop", "for_each": [1], "max_parallel": 0},
  {"id": "e", "plugin": "noop", "max_parallel": 2},
  {"id": "f", "plugin": "noop", "params": {"x": "${item}"}},
  {"id": "g", "plugin": "noop", "for_each": 3},
  {"id": "h", "plugin": "noop", "for_each": "x ${params.a}"},
  {"id": "i", "plugin": "noop", "for_each": [1], "max_paralel": 2}
]}
EOF2
dfx validate le.json
expect_rc 2 "invalid mapped tasks"
assert_contains "$DF_ERR" 'le.json: task "b": for_each: ${tasks.a.result} references task "a", which is not an upstream (add it to depends_on)' "non-upstream"
assert_contains "$DF_ERR" 'task "c": for_each: ${tasks.zz.result} references task "zz", which does not exist' "unknown task"
assert_contains "$DF_ERR" 'task "d": max_parallel: must be an integer >= 1, got 0' "max_parallel range"
assert_contains "$DF_ERR" 'task "e": max_parallel: only a task with for_each may have it' "max_parallel alone"
assert_contains "$DF_ERR" 'task "f": params.x: ${item} is only known in a task with for_each' "item outside a mapped task"
assert_contains "$DF_ERR" 'task "g": for_each: must be an array or a string that is one reference' "for_each type"
assert_contains "$DF_ERR" 'task "h": for_each: "x ${params.a}" must be exactly one reference' "one reference"
assert_contains "$DF_ERR" 'unknown key "max_paralel"; did you mean "max_parallel"?' "did you mean"

run_done
