#!/usr/bin/env bash
# test_map_resume: the engine killed with SIGKILL in the middle of a mapped task (SPEC §8, §10),
# then `dagflow resume`: the store passes the invariants with each instance checked as a task of
# its own; the resume finishes the instances that had not succeeded, each instance has exactly
# one SUCCESS attempt, the attempts open at the kill are LOST, the instances that had succeeded
# before the kill do not run again (runs.log), and the task and the run end SUCCESS.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup

cat >wf.json <<'EOF2'
{"name": "mapkill", "params": {"xs": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]},
 "tasks": [
  {"id": "m", "plugin": "shell", "for_each": "${params.xs}", "max_parallel": 3,
   "params": {"script": "echo \"m[${item_index}] ${task.attempt}\" >>runs.log; ps -o pgid= $$ >>pgids; sleep 0.4"}},
  {"id": "after", "plugin": "noop", "depends_on": ["m"]}
 ]}
EOF2
note "kill -9 once 4 instances have succeeded while others run"
bg run run wf.json
wait_sql "SELECT (SELECT count(*) FROM task_history WHERE task_id = 'm' AND map_index IS NOT NULL
                   AND state = 'SUCCESS') >= 4 AND
                 (SELECT count(*) FROM task_history WHERE task_id = 'm' AND state = 'RUNNING'
                   AND map_index IS NOT NULL) >= 1" 30 "4 instances SUCCESS and one RUNNING"
kill -9 "$BG_PID"
bg_wait "$BG_PID" 10 run
expect_bg_rc 137 run "exit status of the killed engine"
run=$(last_run)
before="$(q "SELECT map_index FROM task_history WHERE run_id = $run AND task_id = 'm'
             AND state = 'SUCCESS' AND map_index IS NOT NULL ORDER BY map_index")"
open="$(q "SELECT map_index || ' ' || attempt FROM attempt_history WHERE run_id = $run
           AND outcome = 'RUNNING' ORDER BY map_index")"
[[ -n "$open" ]] || fail "expected instance attempts open at the kill"
assert_eq RUNNING "$(q "SELECT state FROM task_history WHERE run_id = $run AND task_id = 'm'
                        AND map_index IS NULL")" "the mapped task at the kill"
expect_invariants "$run" dead

note "resume"
resume_fg "$run"
expect_rc 0 "resume of the run killed mid-map"
expect_run "$run" SUCCESS
expect_task "$run" m SUCCESS
expect_task "$run" after SUCCESS
assert_eq "16|16" "$(q "SELECT count(*), sum(CASE WHEN state = 'SUCCESS' THEN 1 ELSE 0 END)
    FROM task_history WHERE run_id = $run AND task_id = 'm' AND map_index IS NOT NULL")" \
    "every instance SUCCESS"
assert_eq "" "$(q "SELECT map_index FROM attempt_history WHERE run_id = $run AND task_id = 'm'
                  GROUP BY map_index HAVING sum(CASE WHEN outcome = 'SUCCESS' THEN 1 ELSE 0 END) != 1")" \
    "exactly one SUCCESS attempt per instance"
while read -r mi at; do
    assert_eq LOST "$(q "SELECT outcome FROM attempt_history WHERE run_id = $run AND task_id = 'm'
                        AND map_index = $mi AND attempt = $at")" "attempt $at of m[$mi] open at the kill"
done <<<"$open"
for mi in $before; do
    assert_eq 1 "$(grep -c "^m\[$mi\] " runs.log)" "m[$mi], SUCCESS before the kill, ran once"
done
expect_invariants "$run" finished
run_done
