#!/usr/bin/env bash
# test_expr_branch: SPEC §8's `branch` end to end: a noop branch choosing by a run parameter
# (one task, several, none), a shell branch choosing with its stdout, a join with
# none_failed_min_one_success after the branches, an invalid choice failing the branch task,
# and the load error of a branch without downstream tasks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
need_builtin noop

cat >br.json <<'EOF2'
{"name": "br", "params": {"pick": "fast"}, "tasks": [
  {"id": "choose", "plugin": "noop", "branch": true, "params": {"branch": "${params.pick}"}},
  {"id": "fast", "plugin": "noop", "depends_on": ["choose"]},
  {"id": "slow", "plugin": "shell", "depends_on": ["choose"], "params": {"argv": ["true"]}},
  {"id": "after_slow", "plugin": "noop", "depends_on": ["slow"]},
  {"id": "join", "plugin": "noop", "depends_on": ["fast", "after_slow"],
   "trigger_rule": "none_failed_min_one_success"}
]}
EOF2

note "branch to one"
run_wf br.json
expect_rc 0 "branch to fast"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" fast SUCCESS
expect_task "$run" slow SKIPPED
expect_task "$run" after_slow SKIPPED
expect_task "$run" join SUCCESS
assert_eq 'not chosen by branch "choose"' \
    "$(q "SELECT detail FROM task_events WHERE run_id = $run AND task_id = 'slow' AND to_state = 'SKIPPED'")" \
    "the skip says which branch"

note "branch to several"
run_wf br.json --param 'pick:=["fast","slow"]'
expect_rc 0 "branch to both"
run=$(last_run)
expect_task "$run" fast SUCCESS
expect_task "$run" after_slow SUCCESS
expect_task "$run" join SUCCESS

note "branch to none"
for none in 'pick:=null' 'pick:=[]'; do
    run_wf br.json --param "$none"
    expect_rc 0 "branch to none ($none)"
    run=$(last_run)
    expect_run "$run" SUCCESS
    expect_task "$run" fast SKIPPED
    expect_task "$run" slow SKIPPED
    expect_task "$run" join SKIPPED
done

note "an invalid choice fails the branch task permanently"
run_wf br.json --param pick=join
expect_rc 1 "branch to a task that is not a direct downstream"
run=$(last_run)
expect_run "$run" FAILED
expect_task "$run" choose FAILED
expect_task "$run" fast UPSTREAM_FAILED
assert_eq 1 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'choose'")" \
    "no retry"
assert_contains "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'choose'")" \
    'the result names "join", which is not a direct downstream task of "choose"' "the error"

note "a shell branch chooses with its stdout"
cat >shbr.json <<'EOF2'
{"name": "shbr", "params": {"n": 7}, "tasks": [
  {"id": "parity", "plugin": "shell", "branch": true,
   "params": {"env": {"N": "${params.n}"},
              "script": "if [ $((N % 2)) -eq 0 ]; then echo even; else echo odd; echo always; fi"}},
  {"id": "even", "plugin": "noop", "depends_on": ["parity"]},
  {"id": "odd", "plugin": "noop", "depends_on": ["parity"]},
  {"id": "always", "plugin": "noop", "depends_on": ["parity"]}
]}
EOF2
run_wf shbr.json
expect_rc 0 "shell branch"
run=$(last_run)
expect_task "$run" even SKIPPED
expect_task "$run" odd SUCCESS
expect_task "$run" always SUCCESS

note "load errors"
cat >nodown.json <<'EOF2'
{"name": "nodown", "tasks": [{"id": "lonely", "plugin": "noop", "branch": true}]}
EOF2
run_df validate nodown.json
expect_rc 2 "a branch without downstream tasks"
assert_contains "$DF_ERR" 'nodown.json: task "lonely": branch: a branch task needs downstream tasks' \
    "names file, task and key"

run_done
