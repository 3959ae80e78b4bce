#!/usr/bin/env bash
# test_cli_plan: `dagflow plan FILE` end to end (SPEC §10): the order tasks would become ready in
# if every task succeeded (steps; priority, then file order within one; one_success after its
# first upstream; on_exit handlers last; tasks that would not run at the end), params resolved as
# far as they can be before running (--param typed values, env, ${task.id}; results and
# ${run.id} as written), --json, standard input, exit 2 for a file that does not load, and no
# database created.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
command -v jq >/dev/null || skip "jq is not installed"

cat >wf.json <<'EOF2'
{"name": "planned", "params": {"day": "2026-01-01", "n": 1}, "env": {"WHERE": "eu"},
 "tasks": [
  {"id": "late", "plugin": "noop", "depends_on": ["extract"], "priority": 0},
  {"id": "extract", "plugin": "shell", "params": {"argv": ["echo", "${params.day}", "${task.id}", "${env.WHERE}"]}},
  {"id": "urgent", "plugin": "noop", "depends_on": ["extract"], "priority": 5,
   "params": {"rows": "${tasks.extract.result.stdout}", "run": "${run.id}", "n": "${params.n}"}},
  {"id": "either", "plugin": "noop", "depends_on": ["late", "deep"], "trigger_rule": "one_success"},
  {"id": "deep", "plugin": "noop", "depends_on": ["urgent"]},
  {"id": "on_failure", "plugin": "noop", "depends_on": ["deep"], "trigger_rule": "all_failed"},
  {"id": "after_failure", "plugin": "noop", "depends_on": ["on_failure"]},
  {"id": "gate", "plugin": "noop", "depends_on": ["deep"], "when": ".params.n > 0"}
 ],
 "on_exit": [{"id": "bye", "plugin": "noop", "params": {"s": "${run.state}"}}]}
EOF2

note "the order and the resolved params"
run_df plan wf.json --param n:=7 --json --db never.db
expect_rc 0 "plan --json"
assert_file_absent never.db "plan records nothing"
assert_eq 'extract:1 urgent:2 late:2 either:3 deep:3 gate:4 bye:5 on_failure:null after_failure:null' \
    "$(jq -r '[.tasks[] | "\(.id):\(.step)"] | join(" ")' <<<"$DF_OUT")" "steps and order"
assert_eq '["echo","2026-01-01","extract","eu"]' \
    "$(jq -c '.tasks[] | select(.id == "extract") | .params.argv' <<<"$DF_OUT")" "params resolved"
assert_eq '{"rows":"${tasks.extract.result.stdout}","run":"${run.id}","n":7}' \
    "$(jq -c '.tasks[] | select(.id == "urgent") | .params' <<<"$DF_OUT")" \
    "results and the run id as written, a typed --param with its type"
assert_eq '.params.n > 0' "$(jq -r '.tasks[] | select(.id == "gate") | .when' <<<"$DF_OUT")" "when shown"
assert_eq 'true|${run.state}' \
    "$(jq -r '.tasks[] | select(.id == "bye") | "\(.on_exit)|\(.params.s)"' <<<"$DF_OUT")" "handler"
assert_contains "$(jq -r '.tasks[] | select(.id == "on_failure") | .skipped' <<<"$DF_OUT")" \
    "would not be met" "why a task would not run"

note "the table, and standard input"
run_df plan - <wf.json
expect_rc 0 "plan from stdin"
assert_contains "$DF_OUT" "plan of planned: 9 tasks" "header"
assert_match "$DF_OUT" '^1 +extract +shell +\{"argv":\["echo","2026-01-01","extract","eu"\]' "first row"
assert_match "$DF_OUT" '^- +after_failure +noop' "a task that would not run"
assert_match "$DF_OUT" '^5 +bye +noop .*on_exit' "handler row"

note "a file that does not load"
echo '{"name": "bad", "tasks": [{"id": "a", "plugin": "noop", "depend_on": []}]}' >bad.json
run_df plan bad.json
expect_rc 2 "unknown key"
assert_contains "$DF_ERR" 'did you mean "depends_on"' "the load error"
run_df plan missing.json
expect_rc 2 "missing file"
assert_file_absent dagflow.db "no default database either"

df_done
