#!/usr/bin/env bash
# test_expr_failed_result: SPEC §10's kept results of failed tasks and array indexes in
# references, end to end: a failed shell task keeps {exit_code, stdout, stderr} (status --json,
# logs, a downstream all_done task's templates, a `when`), and ${params.xs.N} /
# ${tasks.ID.result.KEY.N.KEY} index arrays.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
need_builtin noop

note "a failed shell task keeps its result"
cat >failres.json <<'EOF2'
{"name": "failres", "tasks": [
  {"id": "fails", "plugin": "shell", "params": {"script": "echo partial; echo broken >&2; exit 3"}},
  {"id": "report", "plugin": "noop", "depends_on": ["fails"], "trigger_rule": "all_done",
   "params": {"code": "${tasks.fails.result.exit_code}", "said": "got ${tasks.fails.result.stdout}/${tasks.fails.result.stderr}"}},
  {"id": "on_code", "plugin": "noop", "depends_on": ["fails"], "trigger_rule": "all_done",
   "when": ".tasks.fails.state == \"FAILED\" and .tasks.fails.result.exit_code == 3"},
  {"id": "on_other", "plugin": "noop", "depends_on": ["fails"], "trigger_rule": "all_done",
   "when": ".tasks.fails.result.exit_code != 3"}
]}
EOF2
run_wf failres.json
expect_rc 1 "a run with a failed task"
run=$(last_run)
expect_task "$run" fails FAILED
expect_task "$run" report SUCCESS
expect_task "$run" on_code SUCCESS
expect_task "$run" on_other SKIPPED
dfx status "$run" --json
assert_eq '3|partial|broken' \
    "$(jq -r '.tasks[] | select(.id == "fails") | .result | "\(.exit_code)|\(.stdout)|\(.stderr)"' <<<"$DF_OUT")" \
    "status --json shows the failed task's result"
assert_eq '3|got partial/broken' \
    "$(jq -r '.tasks[] | select(.id == "report") | .result | "\(.code)|\(.said)"' <<<"$DF_OUT")" \
    "a downstream all_done task reads the failed result with its type"
dfx logs "$run" fails
assert_contains "$DF_OUT" "partial" "logs shows the failed attempt's stdout"

note "each failed attempt of a retried task keeps its own result; the last one is the task's"
cat >retried.json <<'EOF2'
{"name": "retried", "tasks": [
  {"id": "flaky", "plugin": "shell", "retries": 1, "retry_delay_ms": 10,
   "params": {"script": "echo \"attempt $DAGFLOW_ATTEMPT\"; exit $((DAGFLOW_ATTEMPT + 1))"}}
]}
EOF2
run_wf retried.json
expect_rc 1 "retries exhausted"
run=$(last_run)
dfx status "$run" --json
assert_eq '3|attempt 2' "$(jq -r '.tasks[0].result | "\(.exit_code)|\(.stdout)"' <<<"$DF_OUT")" \
    "the last attempt's result"

note "a shell command killed by a signal has exit_code null"
cat >killed.json <<'EOF2'
{"name": "killed", "tasks": [
  {"id": "k", "plugin": "shell", "params": {"script": "echo before; kill -9 $$"}}
]}
EOF2
run_wf killed.json
expect_rc 1 "killed"
run=$(last_run)
dfx status "$run" --json
assert_eq 'null|before' "$(jq -r '.tasks[0].result | "\(.exit_code)|\(.stdout)"' <<<"$DF_OUT")" \
    "killed by a signal"

note "array indexes in references"
cat >idx.json <<'EOF2'
{"name": "idx", "params": {"xs": ["zero", "one"]}, "tasks": [
  {"id": "list", "plugin": "noop", "params": {"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}},
  {"id": "use", "plugin": "noop", "depends_on": ["list"],
   "params": {"second": "${params.xs.1}", "third": "${tasks.list.result.items.2.name}",
              "whole": "${tasks.list.result.items.0}"}},
  {"id": "bad", "plugin": "noop", "depends_on": ["list"],
   "params": {"x": "${tasks.list.result.items.3.name}"}}
]}
EOF2
run_wf idx.json --param 'xs:=["p0","p1","p2"]'
expect_rc 1 "one reference out of range"
run=$(last_run)
expect_task "$run" use SUCCESS
expect_task "$run" bad FAILED
dfx status "$run" --json
assert_eq 'p1|c|a' \
    "$(jq -r '.tasks[] | select(.id == "use") | .result | "\(.second)|\(.third)|\(.whole.name)"' <<<"$DF_OUT")" \
    "indexes into a typed param and into an upstream's result"
assert_contains "$(jq -r '.tasks[] | select(.id == "bad") | .error' <<<"$DF_OUT")" \
    "has no index 3 (it has 3 elements)" "an index out of range names the reference"

run_done
