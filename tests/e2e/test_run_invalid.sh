#!/usr/bin/env bash
# test_run_invalid: runs that must not run (SPEC §3 INVALID, §6 run): a workflow whose task a
# plugin's validate rejects is recorded as an INVALID run (exit 2) with that task INVALID, the
# others SKIPPED and nothing executed; a validate rejection before an attempt (references
# resolved) fails that task permanently instead; a file that cannot be loaded (unknown key, cycle,
# unknown plugin, malformed JSON, missing file) exits 2 and records nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_plugin rejects
need_plugin counter
need_builtin noop
need_builtin sleep

run_count() {
    if df_is_pg_uri "$DB" || [[ -f "$DB" ]]; then q "SELECT count(*) FROM run_history"; else echo 0; fi
}

note "a task rejected by its plugin's validate: INVALID run, exit 2, nothing ran"
cat >invalid.json <<EOF
{"name": "invalid", "tasks": [
  {"id": "first", "plugin": "counter", "params": {"path": "$WORK/counter.log"}},
  {"id": "picky", "plugin": "rejects", "depends_on": ["first"], "params": {"x": 1}},
  {"id": "after", "plugin": "counter", "depends_on": ["picky"], "params": {"path": "$WORK/counter.log"}},
  {"id": "alone", "plugin": "counter", "params": {"path": "$WORK/counter.log"}},
  {"id": "always", "plugin": "counter", "depends_on": ["picky"], "trigger_rule": "always",
   "params": {"path": "$WORK/counter.log"}}
]}
EOF
run_wf invalid.json
expect_rc 2 "a run with a task its plugin rejects"
# stderr also carries progress lines; the error itself is a "dagflow: " line.
assert_match "$DF_ERR" '^dagflow: .*rejected by test' "the plugin's message, as an error line"
assert_contains "$DF_ERR" "picky" "the rejected task is named"
assert_file_absent "$WORK/counter.log" "counter output (no task may run in an INVALID run)"
assert_eq 1 "$(run_count)" "runs recorded"
run=$(last_run)
expect_run "$run" INVALID
expect_task "$run" picky INVALID
for t in first after alone always; do
    expect_task "$run" "$t" SKIPPED
done
assert_eq 0 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run")" "attempts of an INVALID run"
assert_eq 0 "$(q "SELECT count(*) FROM task_events WHERE run_id = $run
                  AND to_state IN ('QUEUED', 'RUNNING')")" "tasks queued or run in an INVALID run"
assert_eq ">PENDING PENDING>INVALID" "$(events "$run" picky)" "transitions of the rejected task"
assert_eq ">PENDING PENDING>SKIPPED" "$(events "$run" alone)" "transitions of another task"
err=$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'picky'")
soft_contains "$err" "rejected by test" "task_history error of the rejected task"
assert_eq "INVALID|5|0" "$(q "SELECT state, tasks_total, tasks_succeeded FROM run_history
                            WHERE run_id = $run")" "run_history row"
ended=$(q "SELECT ifnull(ended_at, '') FROM run_history WHERE run_id = $run")
[[ -n "$ended" ]] || fail "an INVALID run has no ended_at"
dfx status "$run" --json
expect_rc 0 "status of an INVALID run"
assert_eq '"INVALID"' "$(jv .state "$DF_OUT")"
assert_eq '{"picky":"INVALID","first":"SKIPPED","after":"SKIPPED","alone":"SKIPPED","always":"SKIPPED"}' \
    "$(jv '[.tasks[] | {(.id): .state}] | add | {picky, first, after, alone, always}' "$DF_OUT")" \
    "task states in status --json"
dfx history --json
assert_eq '"INVALID"' "$(jv '.[0].state' "$DF_OUT")" "history shows the INVALID run"

note "validate rejecting resolved params before an attempt fails the task permanently"
cat >late.json <<'EOF'
{"name": "late", "tasks": [
  {"id": "src", "plugin": "noop", "params": {"ms": "not a number"}},
  {"id": "nap", "plugin": "sleep", "depends_on": ["src"], "retries": 3, "retry_delay_ms": 50,
   "params": {"ms": "${tasks.src.result.ms}"}},
  {"id": "after", "plugin": "noop", "depends_on": ["nap"]}
]}
EOF
run_wf late.json
expect_rc 1 "a run whose task's resolved params are rejected"
run=$(last_run)
expect_run "$run" FAILED
expect_task "$run" src SUCCESS
expect_task "$run" nap FAILED
expect_task "$run" after UPSTREAM_FAILED
assert_eq 0 "$(q "SELECT count(*) FROM task_events WHERE run_id = $run AND task_id = 'nap'
                  AND to_state = 'UP_FOR_RETRY'")" "retries after a late rejection"
n=$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 'nap'")
((n <= 1)) || fail "the rejected task was attempted $n times"
err=$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'nap'")
assert_contains "$err" "ms" "the error carries sleep's validate message"

note "files that cannot be loaded: exit 2, nothing recorded"
before=$(run_count)
cat >unknown_key.json <<EOF
{"name": "unknown_key", "tasks": [
  {"id": "a", "plugin": "counter", "params": {"path": "$WORK/counter.log"}},
  {"id": "b", "plugin": "counter", "depend_on": ["a"], "params": {"path": "$WORK/counter.log"}}
]}
EOF
run_wf unknown_key.json
expect_rc 2 "unknown key"
expect_stderr_lines_prefixed
assert_match "$DF_ERR" 'unknown key "depend_on".*did you mean "depends_on"' "the error"
assert_contains "$DF_ERR" "unknown_key.json" "the error names the file"
cat >cycle.json <<'EOF'
{"name": "cycle", "tasks": [
  {"id": "a", "plugin": "noop", "depends_on": ["b"]},
  {"id": "b", "plugin": "noop", "depends_on": ["a"]}
]}
EOF
run_wf cycle.json
expect_rc 2 "cycle"
assert_contains "$DF_ERR" "cycle"
cat >noplugin.json <<'EOF'
{"name": "noplugin", "tasks": [{"id": "a", "plugin": "no_such_plugin_xyz"}]}
EOF
run_wf noplugin.json
expect_rc 2 "unknown plugin"
assert_contains "$DF_ERR" "no_such_plugin_xyz"
printf '{"name": "broken", "tasks": [\n  {"id": "a", "plugin": "noop",}\n]}\n' >malformed.json
run_wf malformed.json
expect_rc 2 "malformed JSON"
assert_match "$DF_ERR" 'line 2|2:' "the error gives the line"
run_wf "$WORK/does_not_exist.json"
expect_rc 2 "a missing file"
expect_stderr_lines_prefixed
assert_file_absent "$WORK/counter.log" "counter output after load errors"
assert_eq "$before" "$(run_count)" "runs recorded by files that cannot be loaded"
assert_eq 0 "$(q "SELECT count(*) FROM run_history WHERE workflow IN ('unknown_key', 'cycle', 'noplugin', 'broken')")" \
    "runs of the unloadable files"

note "a load error on a new database path records nothing, not even the file"
NEW="$WORK/fresh.db"
DB="$NEW" run_wf unknown_key.json
expect_rc 2
DB="$NEW" run_wf invalid.json --param nosuch=1
expect_rc 2 "a --param the workflow does not declare"
[[ ! -e "$NEW" ]] || soft_fail "a run whose file could not be loaded created the database $NEW"

run_done
