#!/usr/bin/env bash
# test_serve_resume: SIGTERM leaves serve's runs resumable (SPEC §9): runs in flight end
# INTERRUPTED and serve exits 0; the next serve resumes them to SUCCESS; a run interrupted under
# `dagflow run` of the same workflow is left to its owner (still INTERRUPTED). A serve killed with
# SIGKILL leaves RUNNING runs whose engine is dead: the next serve resumes them too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/serve_lib.sh"
run_setup
need_builtin shell

mkdir wf
cat >wf/slow.json <<'EOF2'
{"name": "slow", "schedule": {"cron": "* * * * * *", "max_active_runs": 2, "catchup": "none"},
 "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "sleep 3"}},
           {"id": "b", "plugin": "shell", "depends_on": ["a"], "params": {"script": "true"}}]}
EOF2

note "a run of dagflow run, interrupted"
"$DF_BIN" run wf/slow.json --db "$DB" >/dev/null 2>&1 &
manual=$!
wait_for 20 "SELECT count(*) FROM task_instances t JOIN runs r ON r.run_id = t.run_id
             WHERE r.workflow = 'slow' AND t.task_id = 'a' AND t.state = 'RUNNING'" 1
kill -INT "$manual"
wait "$manual" || true
manual_run=$(q "SELECT max(run_id) FROM runs")
assert_eq INTERRUPTED "$(run_state "$manual_run")" "the manual run is interrupted"

serve_start
wait_for 20 "SELECT count(*) >= 1 FROM runs WHERE workflow = 'slow' AND trigger = 'schedule'" 1
sleep 1
serve_stop TERM
assert_eq 0 "$SERVE_RC" "SIGTERM: exit 0"
cut=$(q "SELECT count(*) FROM run_history WHERE trigger = 'schedule' AND state = 'INTERRUPTED'")
((cut >= 1)) || fail "no scheduled run was left INTERRUPTED by SIGTERM"
assert_eq 0 "$(q "SELECT count(*) FROM run_history WHERE state = 'RUNNING'")" "none left RUNNING"
ids=$(q "SELECT run_id FROM run_history WHERE trigger = 'schedule' AND state = 'INTERRUPTED'")

note "the next serve resumes them, not the manual one"
serve_start
for id in $ids; do
    wait_log 10 "run $id (slow) resumed"
    wait_for 30 "SELECT state FROM run_history WHERE run_id = $id" SUCCESS
done
assert_not_contains "$(cat "$SERVE_LOG")" "run $manual_run (slow) resumed" "dagflow run's run"
assert_eq INTERRUPTED "$(run_state "$manual_run")" "the manual run is left to its owner"

note "kill -9 leaves runs RUNNING; the next serve resumes them"
wait_for 20 "SELECT count(*) >= 1 FROM task_instances t JOIN runs r ON r.run_id = t.run_id
             WHERE r.workflow = 'slow' AND r.trigger = 'schedule' AND t.task_id = 'a'
             AND t.state = 'RUNNING'" 1
kill -9 "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
dead=$(q "SELECT run_id FROM runs WHERE state = 'RUNNING' AND trigger = 'schedule'")
[[ -n "$dead" ]] || fail "no run left RUNNING by kill -9"
serve_start
for id in $dead; do
    wait_log 10 "run $id (slow) resumed"
    wait_for 30 "SELECT state FROM run_history WHERE run_id = $id" SUCCESS
done
serve_stop TERM
assert_eq 0 "$SERVE_RC"
df_done
