#!/usr/bin/env bash
# test_run_history: the history a run leaves (SPEC §6 status/history, §7): the five views have
# exactly the documented columns, times are ISO-8601 UTC with milliseconds, durations integers
# that match the times, run ids increase, `status --json` and `run --json` have exactly the
# documented keys, `history` lists the runs (filter, limit), the database file is private (0600)
# and in WAL mode, and four `dagflow run` processes started together on a new database all
# succeed with distinct run ids and an intact file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_plugin fail
need_plugin flaky
need_builtin noop
need_builtin sleep

ISO_MS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'

# columns VIEW: the view's column names, comma-separated, in order.
columns() {
    q "SELECT group_concat(name, ',') FROM pragma_table_info('$1')"
}

cat >mixed.json <<'EOF'
{"name": "mixed",
 "alerts": [{"type": "file", "path": "alerts.jsonl"}],
 "tasks": [
  {"id": "ok", "plugin": "sleep", "params": {"ms": 30}},
  {"id": "wobbly", "plugin": "flaky", "params": {"fail_times": 1}, "retries": 1, "retry_delay_ms": 20},
  {"id": "bad", "plugin": "fail", "depends_on": ["ok"], "params": {"message": "bad \"quoted\" | piped"}},
  {"id": "never", "plugin": "noop", "depends_on": ["bad"]},
  {"id": "skipped", "plugin": "noop", "depends_on": ["ok"], "trigger_rule": "all_failed"}
 ]}
EOF
cat >good.json <<'EOF'
{"name": "good", "tasks": [
  {"id": "a", "plugin": "noop", "params": {"x": 1}},
  {"id": "b", "plugin": "sleep", "params": {"ms": 20}, "depends_on": ["a"]}
]}
EOF

note "a first run creates the database: mode 0600, WAL"
run_wf mixed.json
expect_rc 1
assert_eq 600 "$(stat -c %a "$DB")" "mode of the database file"
assert_eq wal "$(q "PRAGMA journal_mode")" "journal mode"
run_wf good.json
expect_rc 0
run_wf mixed.json
expect_rc 1
assert_eq "1 2 3" "$(q "SELECT group_concat(run_id, ' ') FROM (SELECT run_id FROM run_history
                       ORDER BY started_at, run_id)")" "run ids increase with each run"
for f in "$DB"-wal "$DB"-shm; do
    [[ ! -e "$f" ]] || assert_eq 600 "$(stat -c %a "$f")" "mode of $(basename "$f")"
done

note "the five views have exactly the SPEC §7 columns (and §10's map_index)"
assert_eq "run_id,workflow,state,started_at,ended_at,duration_ms,tasks_total,tasks_succeeded,tasks_failed,trigger,logical_time,parent_run_id,parent_task_id,error" \
    "$(columns run_history)" "run_history columns"
assert_eq "run_id,workflow,task_id,plugin,state,attempts,started_at,ended_at,duration_ms,error,map_index" \
    "$(columns task_history)" "task_history columns"
assert_eq "seq,run_id,task_id,from_state,to_state,at,attempt,detail,map_index" \
    "$(columns task_events)" "task_events columns"
assert_eq "run_id,task_id,attempt,outcome,started_at,ended_at,duration_ms,error,log,map_index" \
    "$(columns attempt_history)" "attempt_history columns"
assert_eq "alert_id,run_id,task_id,event,sink,status,tries,created_at,delivered_at,error" \
    "$(columns alert_history)" "alert_history columns"
# The same through a plain SELECT header.
assert_eq "run_id|workflow|state|started_at|ended_at|duration_ms|tasks_total|tasks_succeeded|tasks_failed|trigger|logical_time|parent_run_id|parent_task_id|error" \
    "$(sqlite3 -header "$DB" "SELECT * FROM run_history LIMIT 1" | head -n1)" "run_history header"
for v in run_history task_history task_events attempt_history alert_history; do
    assert_eq view "$(q "SELECT type FROM sqlite_master WHERE name = '$v'")" "$v is a view"
done
v=$(q "PRAGMA user_version")
((v >= 1)) || fail "PRAGMA user_version is $v; the schema should carry a version"

note "times are ISO-8601 UTC with milliseconds, durations integers matching them"
bad_times=$(q "SELECT t FROM (
    SELECT started_at t FROM run_history UNION ALL SELECT ended_at FROM run_history
    UNION ALL SELECT started_at FROM task_history WHERE started_at IS NOT NULL
    UNION ALL SELECT ended_at FROM task_history WHERE ended_at IS NOT NULL
    UNION ALL SELECT at FROM task_events
    UNION ALL SELECT started_at FROM attempt_history UNION ALL SELECT ended_at FROM attempt_history
    UNION ALL SELECT created_at FROM alert_history
    UNION ALL SELECT delivered_at FROM alert_history WHERE delivered_at IS NOT NULL)" |
    grep -Ev "$ISO_MS" || true)
assert_eq "" "$bad_times" "times not in the ISO-8601 UTC millisecond format"
n=$(q "SELECT count(*) FROM task_events")
((n > 20)) || fail "only $n task events recorded"
assert_eq "" "$(q "SELECT typeof(duration_ms) FROM run_history WHERE typeof(duration_ms) != 'integer'
                   UNION ALL SELECT typeof(duration_ms) FROM task_history
                     WHERE duration_ms IS NOT NULL AND typeof(duration_ms) != 'integer'
                   UNION ALL SELECT typeof(duration_ms) FROM attempt_history
                     WHERE typeof(duration_ms) != 'integer'")" "non-integer durations"
assert_eq "" "$(q "SELECT run_id || ':' || duration_ms FROM run_history
    WHERE abs(duration_ms - round((julianday(ended_at) - julianday(started_at)) * 86400000)) > 1
    UNION ALL SELECT task_id || ':' || duration_ms FROM task_history WHERE ended_at IS NOT NULL
      AND abs(duration_ms - round((julianday(ended_at) - julianday(started_at)) * 86400000)) > 1
    UNION ALL SELECT task_id || '#' || attempt FROM attempt_history
      WHERE abs(duration_ms - round((julianday(ended_at) - julianday(started_at)) * 86400000)) > 1")" \
    "durations that do not match their times"
d=$(q "SELECT duration_ms FROM attempt_history WHERE run_id = 2 AND task_id = 'b'")
((d >= 15 && d < 2000)) || fail "a 20 ms sleep's attempt lasted $d ms"
assert_eq 0 "$(q "SELECT count(*) FROM task_history WHERE ended_at < started_at")" "tasks ending before they start"
assert_eq 0 "$(q "SELECT count(*) FROM run_history WHERE ended_at < started_at")"
# Never-run tasks have no start time.
assert_eq "|0" "$(q "SELECT ifnull(started_at, ''), attempts FROM task_history
                     WHERE run_id = 1 AND task_id = 'never'")" "a task that never ran"
# Counters of run 1: 5 tasks; ok and wobbly succeeded; bad and never failed.
assert_eq "mixed|FAILED|5|2|2" "$(q "SELECT workflow, state, tasks_total, tasks_succeeded,
                                     tasks_failed FROM run_history WHERE run_id = 1")" "run_history row"
assert_eq "mixed|fail|FAILED|1" "$(q "SELECT workflow, plugin, state, attempts FROM task_history
                                    WHERE run_id = 1 AND task_id = 'bad'")" "task_history row"
assert_eq 'bad "quoted" | piped' "$(q "SELECT error FROM task_history WHERE run_id = 1 AND task_id = 'bad'")" \
    "an error with quotes and a pipe"
# Each run's seq values are increasing and events of one task come in order.
assert_eq 0 "$(q "SELECT count(*) FROM task_events a JOIN task_events b ON b.seq > a.seq
                  AND b.at < a.at")" "events whose time goes backwards along seq"
assert_eq "$(q "SELECT count(*) FROM task_events")" "$(q "SELECT count(DISTINCT seq) FROM task_events")" \
    "seq is unique"

note "status --json: exactly the SPEC §6 keys, and the run's ready->running latency (issue 14)"
dfx status 1 --json
expect_rc 0
soft_eq '["ended_at","error","logical_time","parent_run_id","parent_task_id","ready_to_running","run_id","started_at","state","tasks","trigger","workflow"]' \
    "$(jv 'keys' "$DF_OUT")" "keys of status --json"
assert_eq '["attempts","duration_ms","ended_at","error","id","result","started_at","state"]' \
    "$(jv '[.tasks[] | keys] | unique | .[]' "$DF_OUT")" "keys of each task in status --json"
assert_eq 1 "$(jv .run_id "$DF_OUT")"
assert_eq '"mixed"' "$(jv .workflow "$DF_OUT")"
assert_eq '"FAILED"' "$(jv .state "$DF_OUT")"
assert_match "$(jv .started_at "$DF_OUT" -r)" "$ISO_MS" "started_at"
assert_match "$(jv .ended_at "$DF_OUT" -r)" "$ISO_MS" "ended_at"
assert_eq '["ok","wobbly","bad","never","skipped"]' "$(jv '[.tasks[].id]' "$DF_OUT")" \
    "tasks in file order"
assert_eq '{"id":"wobbly","state":"SUCCESS","attempts":2,"error":null,"result":{"attempt":2}}' \
    "$(jv '.tasks[1] | {id, state, attempts, error, result}' "$DF_OUT")" "a retried task"
assert_eq '{"state":"FAILED","attempts":1,"error":"bad \"quoted\" | piped","result":null}' \
    "$(jv '.tasks[2] | {state, attempts, error, result}' "$DF_OUT")" "a failed task"
assert_eq '{"state":"UPSTREAM_FAILED","attempts":0,"started_at":null,"duration_ms":null}' \
    "$(jv '.tasks[3] | {state, attempts, started_at, duration_ms}' "$DF_OUT")" "a task that never ran"
assert_eq '"number"' "$(jv '.tasks[0].duration_ms | type' "$DF_OUT")" "duration_ms is a number"
dfx status --json
expect_rc 0
assert_eq 3 "$(jv .run_id "$DF_OUT")" "status without a run id shows the latest run"
dfx status 99
expect_rc 2 "status of an unknown run"
expect_stderr_lines_prefixed
run_df status --db "$WORK/none.db"
expect_rc 2 "status with no runs"

note "run --json prints the same object"
run_wf good.json --json
expect_rc 0
soft_eq '["ended_at","error","logical_time","parent_run_id","parent_task_id","run_id","started_at","state","tasks","trigger","workflow"]' "$(jv 'keys' "$DF_OUT")" \
    "keys of run --json"
assert_eq '[4,"SUCCESS",1]' "$(jv '[.run_id, .state, .tasks[0].result.x]' "$DF_OUT")" "run --json content"
assert_eq '["attempts","duration_ms","ended_at","error","id","result","started_at","state"]' \
    "$(jv '[.tasks[] | keys] | unique | .[]' "$DF_OUT")" "keys of each task in run --json"

note "history lists the runs, newest first; --workflow and --limit"
dfx history
expect_rc 0
for r in 1 2 3 4; do
    assert_match "$DF_OUT" "^ *$r +(mixed|good) " "history line of run $r"
done
dfx history --json
expect_rc 0
assert_eq "[4,3,2,1]" "$(jv '[.[].run_id]' "$DF_OUT")" "history --json run ids, newest first"
assert_eq '["duration_ms","ended_at","error","logical_time","parent_run_id","parent_task_id","run_id","started_at","state","tasks_failed","tasks_succeeded","tasks_total","trigger","workflow"]' \
    "$(jv '[.[] | keys] | unique | .[]' "$DF_OUT")" "keys of history --json (the run_history columns)"
dfx history --workflow mixed --json
expect_rc 0
assert_eq "[3,1]" "$(jv '[.[].run_id]' "$DF_OUT")" "history --workflow mixed"
dfx history --limit 2 --json
expect_rc 0
assert_eq "[4,3]" "$(jv '[.[].run_id]' "$DF_OUT")" "history --limit 2"
dfx history --workflow nosuch
expect_rc 0 "history of a workflow without runs"

note "a run in progress: RUNNING in the views and in status, readable by sqlite3 meanwhile"
cat >live.json <<'EOF'
{"name": "live", "tasks": [
  {"id": "quick", "plugin": "noop"},
  {"id": "slow", "plugin": "sleep", "params": {"ms": 1500}, "depends_on": ["quick"]},
  {"id": "last", "plugin": "noop", "depends_on": ["slow"]}
]}
EOF
timeout 30 "$DF_BIN" run live.json --db "$DB" >live.out 2>live.err &
live_pid=$!
live_run=""
for _ in $(seq 1 100); do
    live_run=$(q "SELECT run_id FROM run_history WHERE workflow = 'live'
                  AND state = 'RUNNING'" 2>/dev/null || true)
    [[ -z "$live_run" ]] || break
    sleep 0.02
done
[[ -n "$live_run" ]] || fail "the live run never showed as RUNNING in run_history"
for _ in $(seq 1 100); do
    [[ "$(task_state "$live_run" slow)" == RUNNING ]] && break
    sleep 0.02
done
expect_task "$live_run" slow RUNNING
expect_task "$live_run" quick SUCCESS
expect_task "$live_run" last PENDING
assert_eq "|" "$(q "SELECT ifnull(ended_at, '') || '|' || ifnull(duration_ms, '') FROM run_history
                    WHERE run_id = $live_run")" "ended_at and duration_ms of a running run"
dfx status "$live_run" --json
expect_rc 0 "status of a running run"
assert_eq '"RUNNING"' "$(jv .state "$DF_OUT")" "status of a running run"
assert_eq null "$(jv .ended_at "$DF_OUT")" "ended_at of a running run"
assert_eq '{"slow":"RUNNING","last":"PENDING"}' \
    "$(jv '[.tasks[] | {(.id): .state}] | add | {slow, last}' "$DF_OUT")" "task states of a running run"
set +e
wait "$live_pid"
rc=$?
set -e
assert_eq 0 "$rc" "exit code of the live run"
expect_run "$live_run" SUCCESS

note "four runs started together on a new database"
CDB="$WORK/concurrent.db"
cat >conc.json <<'EOF'
{"name": "conc", "tasks": [
  {"id": "a", "plugin": "noop"},
  {"id": "b", "plugin": "sleep", "params": {"ms": 100}, "depends_on": ["a"]},
  {"id": "c", "plugin": "sleep", "params": {"ms": 50}, "depends_on": ["a"]},
  {"id": "d", "plugin": "noop", "depends_on": ["b", "c"]}
]}
EOF
pids=()
for i in 1 2 3 4; do
    (
        while [[ ! -e go ]]; do sleep 0.005; done
        exec timeout 30 "$DF_BIN" run conc.json --db "$CDB" --json >"conc$i.out" 2>"conc$i.err"
    ) &
    pids+=($!)
done
sleep 0.3
touch go
for i in 1 2 3 4; do
    set +e
    wait "${pids[i - 1]}"
    rc=$?
    set -e
    [[ $rc == 0 ]] || fail "concurrent run $i exited $rc: $(cat "conc$i.err")"
    DF_ASSERTS=$((DF_ASSERTS + 1))
done
ids=$(for i in 1 2 3 4; do jq .run_id "conc$i.out"; done | sort -n | tr '\n' ' ')
assert_eq "1 2 3 4 " "$ids" "run ids of the concurrent runs"
assert_eq ok "$(df_sqlite "$CDB" "PRAGMA integrity_check")" "integrity_check"
assert_eq "4|SUCCESS" "$(df_sqlite "$CDB" "SELECT count(*), group_concat(DISTINCT state) FROM run_history")" \
    "concurrent runs in run_history"
assert_eq 16 "$(df_sqlite "$CDB" "SELECT count(*) FROM task_history WHERE state = 'SUCCESS'")" \
    "succeeded tasks of the concurrent runs"
assert_eq 600 "$(stat -c %a "$CDB")" "mode of the concurrently created database"

run_done
