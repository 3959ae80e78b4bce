#!/usr/bin/env bash
# test_run_origin: what SPEC §10 records with every run, end to end: run_history's trigger,
# logical_time, parent_run_id, parent_task_id and error (a manual run: trigger manual, its
# creation time as logical time, no parent, no error; a timed-out run: its error), the same keys in
# `status --json` and `history --json`, and the run-context templates ${run.logical_time},
# ${run.logical_date}, ${run.started_at} and ${run.trigger}.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell

cat >ctx.json <<'EOF2'
{"name": "ctx", "tasks": [
  {"id": "show", "plugin": "shell", "params": {"script":
    "echo \"${run.logical_time}|${run.logical_date}|${run.started_at}|${run.trigger}\""}}
]}
EOF2
run_wf ctx.json
expect_rc 0 "a run printing its context"
run=$(last_run)
row=$(q "SELECT trigger || '|' || logical_time || '|' || started_at || '|'
         || COALESCE(CAST(parent_run_id AS TEXT), 'none') || '|' || COALESCE(parent_task_id, 'none') || '|'
         || COALESCE(error, 'none') FROM run_history WHERE run_id = $run")
IFS='|' read -r trig lt st parent ptask err <<<"$row"
assert_eq manual "$trig" "trigger of dagflow run"
assert_eq "$st" "$lt" "a manual run's logical time is its creation time"
assert_eq none "$parent" "no parent run"
assert_eq none "$ptask" "no parent task"
assert_eq none "$err" "no run error"

dfx status "$run" --json
out=$(jq -r '.tasks[0].result.stdout' <<<"$DF_OUT")
IFS='|' read -r c_lt c_date c_st c_trig <<<"$out"
assert_match "$c_lt" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' \
    "\${run.logical_time} is ISO-8601 UTC"
assert_eq "${c_lt:0:10}" "$c_date" "\${run.logical_date} is the logical time's UTC date"
assert_eq "$c_lt" "$c_st" "\${run.started_at} of a manual run is its logical time"
assert_eq manual "$(echo "$c_trig" | tr -d '[:space:]')" "\${run.trigger}"
assert_eq "manual|null|null|null" \
    "$(jq -r '[.trigger, .parent_run_id, .parent_task_id, .error] | map(tostring) | join("|")' \
        <<<"$DF_OUT")" "status --json origin keys"
assert_eq "$c_lt" "$(jq -r '.logical_time' <<<"$DF_OUT")" \
    "status --json logical_time"
dfx history --json
assert_eq "manual" "$(jq -r '.[0].trigger' <<<"$DF_OUT")" "history --json trigger"

note "a run that times out records its error on the run"
cat >slow.json <<'EOF2'
{"name": "slow", "timeout_ms": 300, "tasks": [
  {"id": "sleep", "plugin": "shell", "params": {"script": "sleep 5"}}
]}
EOF2
run_wf slow.json
expect_rc 1 "a run that timed out"
run=$(last_run)
assert_eq "FAILED|run timed out after 300 ms" \
    "$(q "SELECT state || '|' || error FROM run_history WHERE run_id = $run")" "run error column"
dfx status "$run" --json
assert_eq "run timed out after 300 ms" "$(jq -r '.error' <<<"$DF_OUT")" "status --json error"

note "an unknown run-context key is a load error"
cat >bad.json <<'EOF2'
{"name": "bad", "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "echo ${run.nope}"}}]}
EOF2
run_wf bad.json
expect_rc 2 "unknown \${run.nope}"
assert_contains "$DF_ERR" 'run.logical_time' "the message lists the run keys"
df_done
