#!/usr/bin/env bash
# test_expr_when: the task key `when` end to end (SPEC §8, §10), checked in the history: a jq
# condition over the params, the run and the upstreams' states and results; true runs the task,
# false/null skip it (PENDING -> SKIPPED, no attempt, "when is false") and its all_success
# downstream, a none_failed_min_one_success join still runs; a run-time error fails the task
# without an attempt (PENDING -> FAILED, jq's message); a `when` that does not compile is a load
# error naming the file, the task and the key.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin noop
need_builtin shell

cat >when.json <<'EOF2'
{"name": "when", "params": {"env": "prod", "threshold": 10},
 "tasks": [
  {"id": "count", "plugin": "shell", "params": {"script": "echo 42", "parse_json_stdout": true}},
  {"id": "big", "plugin": "noop", "depends_on": ["count"],
   "when": ".tasks.count.result.json > .params.threshold"},
  {"id": "small", "plugin": "noop", "depends_on": ["count"],
   "when": ".tasks.count.result.json <= .params.threshold"},
  {"id": "after_small", "plugin": "noop", "depends_on": ["small"]},
  {"id": "prod_only", "plugin": "noop", "when": ".params.env == \"prod\" and .run.workflow == \"when\""},
  {"id": "join", "plugin": "noop", "depends_on": ["big", "small"],
   "trigger_rule": "none_failed_min_one_success"}
]}
EOF2
run_wf when.json
expect_rc 0 "a run with when"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" big SUCCESS
expect_task "$run" small SKIPPED
expect_task "$run" after_small SKIPPED
expect_task "$run" prod_only SUCCESS
expect_task "$run" join SUCCESS
assert_eq "PENDING>SKIPPED|when is false" "$(q "SELECT from_state || '>' || to_state || '|' || detail
    FROM task_events WHERE run_id = $run AND task_id = 'small' ORDER BY seq DESC LIMIT 1")" \
    "small's transition"
assert_eq 0 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 'small'")" \
    "a skipped task has no attempt"

note "--param changes the decision"
run_wf when.json --param env=dev
expect_rc 0
expect_task "$(last_run)" prod_only SKIPPED

note "a run-time error fails the task"
cat >err.json <<'EOF2'
{"name": "when_err", "tasks": [
  {"id": "a", "plugin": "noop", "when": "error(\"no luck\")"},
  {"id": "b", "plugin": "noop", "depends_on": ["a"]}
]}
EOF2
run_wf err.json
expect_rc 1 "a when that fails"
run=$(last_run)
expect_task "$run" a FAILED
expect_task "$run" b UPSTREAM_FAILED
assert_contains "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'a'")" \
    "no luck" "jq's message"
assert_eq 0 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 'a'")" \
    "no attempt"

note "a when that does not compile is a load error"
cat >bad.json <<'EOF2'
{"name": "when_bad", "tasks": [{"id": "a", "plugin": "noop", "when": ".x =="},
                                {"id": "b", "plugin": "noop", "whn": ".x"}]}
EOF2
run_df validate bad.json
expect_rc 2 "validate"
expect_stderr_lines_prefixed
assert_contains "$DF_ERR" 'bad.json: task "a": when: the jq expression does not compile' "the message"
assert_contains "$DF_ERR" 'unknown key "whn"' "a misspelt when"
assert_contains "$DF_ERR" 'did you mean "when"?' "its suggestion"

run_done
