#!/usr/bin/env bash
# test_expr_skipped: DF_TASK_SKIPPED end to end (SPEC §8, §10), checked in the history: an ABI-3
# plugin that skips (task SKIPPED with its result kept, attempt outcome SKIPPED, RUNNING ->
# SKIPPED, no retry), its downstream following the trigger rules, the run SUCCESS; an ABI-2
# plugin returning the same value fails (an unknown status for it), beside an ABI-1 plugin that
# still runs; file_sensor's soft_fail turns its timeout into SKIPPED.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_plugin skipper
need_plugin abi2_skip
need_plugin abi1_spawn
need_builtin noop
need_builtin file_sensor

cat >skip.json <<'EOF2'
{"name": "skip", "tasks": [
  {"id": "check", "plugin": "skipper", "params": {"why": "holiday"}, "retries": 3},
  {"id": "strict", "plugin": "noop", "depends_on": ["check"]},
  {"id": "tolerant", "plugin": "noop", "depends_on": ["check"], "trigger_rule": "none_failed"},
  {"id": "report", "plugin": "noop", "depends_on": ["check"], "trigger_rule": "all_done",
   "params": {"why": "${tasks.check.result.why}"}}
]}
EOF2
run_wf skip.json
expect_rc 0 "a run with a skipped task"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" check SKIPPED
expect_task "$run" strict SKIPPED
expect_task "$run" tolerant SUCCESS
expect_task "$run" report SUCCESS
assert_eq "SKIPPED" "$(q "SELECT group_concat(outcome) FROM attempt_history WHERE run_id = $run
                         AND task_id = 'check'")" "one attempt, outcome SKIPPED (no retry)"
assert_eq "RUNNING>SKIPPED" "$(q "SELECT from_state || '>' || to_state FROM task_events
    WHERE run_id = $run AND task_id = 'check' ORDER BY seq DESC LIMIT 1")" "check's last transition"
dfx status "$run" --json
assert_eq holiday "$(jq -r '.tasks[] | select(.id == "report") | .result.why' <<<"$DF_OUT")" \
    "the skipped task's result reaches its downstream"

note "ABI 2 returning 3 fails; ABI 1 beside it still runs"
cat >abi.json <<'EOF2'
{"name": "abi_mix", "tasks": [
  {"id": "old", "plugin": "abi2_skip"},
  {"id": "older", "plugin": "abi1_spawn", "params": {"argv": ["true"]}}
]}
EOF2
run_wf abi.json
expect_rc 1 "an ABI-2 plugin returning 3"
run=$(last_run)
expect_task "$run" old FAILED
assert_contains "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'old'")" \
    "DF_TASK_SKIPPED needs ABI 3" "the error says why"
expect_task "$run" older SUCCESS

note "file_sensor soft_fail"
cat >sensor.json <<'EOF2'
{"name": "sensor", "tasks": [
  {"id": "wait", "plugin": "file_sensor", "timeout_ms": 500, "retries": 2,
   "params": {"path": "never.txt", "poke_interval_ms": 50, "soft_fail": true}},
  {"id": "after", "plugin": "noop", "depends_on": ["wait"], "trigger_rule": "none_failed"}
]}
EOF2
run_wf sensor.json
expect_rc 0 "a soft-failing sensor"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" wait SKIPPED
expect_task "$run" after SUCCESS
assert_eq "SKIPPED" "$(q "SELECT group_concat(outcome) FROM attempt_history WHERE run_id = $run
                         AND task_id = 'wait'")" "the sensor's one attempt"
jq '.tasks[0].params.soft_fail = false' sensor.json >hard.json
run_wf hard.json
expect_rc 1 "without soft_fail the timeout fails the sensor"
expect_task "$(last_run)" wait FAILED
jq '.tasks[0].params.soft_fail = "yes"' sensor.json >bad.json
run_df validate bad.json
expect_rc 2 "soft_fail must be a boolean"
assert_contains "$DF_ERR" '"soft_fail" must be a boolean' "the message"

run_done
