#!/usr/bin/env bash
# Circuit breakers end to end (SPEC §3a): a breaker opens after the configured failures, holds the
# tasks naming it in QUEUED for open_ms without using their attempts, half-opens for one probe,
# closes on the probe's success (and reopens on a failed probe), raises breaker_opened and
# breaker_closed alerts, and records every change in the breaker_history view.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
df_db_setup
test_plugin fail >/dev/null || skip "test plugin fail.so not built"

cat >wf.json <<'JSON'
{"name": "breakers",
 "breakers": {"api": {"failure_rate": 0.5, "window": 4, "min_calls": 2, "open_ms": 700}},
 "alerts": [{"type": "file", "path": "alerts.jsonl", "on": ["breaker_opened", "breaker_closed"]}],
 "tasks": [
  {"id": "bad1", "plugin": "fail", "priority": 10, "breaker": "api", "params": {"message": "api down"}},
  {"id": "bad2", "plugin": "fail", "priority": 9, "breaker": "api", "params": {"message": "api down"}},
  {"id": "good1", "plugin": "noop", "priority": 5, "breaker": "api", "params": {}},
  {"id": "good2", "plugin": "noop", "priority": 4, "breaker": "api", "params": {}},
  {"id": "free", "plugin": "noop", "priority": 1, "params": {}}
 ]}
JSON
start=$(date +%s%N)
run_df run --db "$DB" --concurrency 1 --plugin-dir "$DF_TEST_PLUGIN_DIR" wf.json
end=$(date +%s%N)
expect_rc 1 "run with two failing tasks"
elapsed_ms=$(((end - start) / 1000000))
[[ $elapsed_ms -ge 650 ]] || fail "the breaker held the run for only ${elapsed_ms} ms (open_ms 700)"

changes=$(df_sqlite "$DB" "SELECT task_id || ':' || from_state || '>' || to_state FROM breaker_history ORDER BY seq" | tr '\n' ' ')
assert_eq "bad2:CLOSED>OPEN good1:OPEN>HALF_OPEN good1:HALF_OPEN>CLOSED " "$changes" "breaker changes"
# (In percent: SQLite prints the real 1.0, PostgreSQL 1.)
rate=$(df_sqlite "$DB" "SELECT CAST(round(failure_rate * 100) AS INTEGER) || '%/' || calls FROM breaker_history WHERE seq = (SELECT min(seq) FROM breaker_history)")
assert_eq "100%/2" "$rate" "failure rate when it opened"

# Held tasks used no attempt: each good task has exactly one attempt, started after open_ms.
assert_eq "1|1" "$(df_sqlite "$DB" "SELECT (SELECT attempts FROM task_history WHERE task_id='good1'), (SELECT attempts FROM task_history WHERE task_id='good2')")" "attempts of held tasks"
gap=$(df_sqlite "$DB" "SELECT (SELECT started_at FROM attempts WHERE task_id='good1') - (SELECT ended_at FROM attempts WHERE task_id='bad2')")
[[ $gap -ge 650 ]] || fail "good1 started ${gap} ms after the breaker opened (open_ms 700)"
# A task without a breaker is not held: with --concurrency 1 and the lowest priority it still runs.
assert_eq "SUCCESS" "$(df_sqlite "$DB" "SELECT state FROM task_history WHERE task_id='free'")" "task without breaker"
# The QUEUED wait is not an attempt: no task went through UP_FOR_RETRY.
assert_eq "0" "$(df_sqlite "$DB" "SELECT count(*) FROM task_events WHERE to_state='UP_FOR_RETRY'")" "no retries"

have_jq || skip "jq not installed"
assert_eq '"breaker_opened"' "$(json_q '.event' "$(sed -n 1p alerts.jsonl)")" "first alert"
assert_eq '"bad2"' "$(json_q '.task_id' "$(sed -n 1p alerts.jsonl)")" "opening task"
assert_eq '"breaker_closed"' "$(json_q '.event' "$(sed -n 2p alerts.jsonl)")" "second alert"
assert_eq '"good1"' "$(json_q '.task_id' "$(sed -n 2p alerts.jsonl)")" "closing task"
assert_eq 2 "$(wc -l <alerts.jsonl | tr -d ' ')" "alert lines"

# A failed probe opens the breaker again.
cat >wf2.json <<'JSON'
{"name": "breakers2",
 "breakers": {"db": {"failure_rate": 1.0, "window": 2, "min_calls": 1, "open_ms": 300}},
 "tasks": [
  {"id": "a", "plugin": "fail", "priority": 3, "breaker": "db", "params": {}},
  {"id": "b", "plugin": "fail", "priority": 2, "breaker": "db", "params": {}},
  {"id": "c", "plugin": "noop", "priority": 1, "breaker": "db", "params": {}}
 ]}
JSON
run_df run --db "$DB" --concurrency 1 --plugin-dir "$DF_TEST_PLUGIN_DIR" wf2.json
expect_rc 1 "second run"
changes=$(df_sqlite "$DB" "SELECT task_id || ':' || from_state || '>' || to_state FROM breaker_history WHERE run_id = 2 ORDER BY seq" | tr '\n' ' ')
assert_eq "a:CLOSED>OPEN b:OPEN>HALF_OPEN b:HALF_OPEN>OPEN c:OPEN>HALF_OPEN c:HALF_OPEN>CLOSED " "$changes" "reopen on failed probe"

# A task naming an unknown breaker is a load error.
sed 's/"breaker": "db"/"breaker": "dbx"/' wf2.json >bad.json
run_df validate bad.json --plugin-dir "$DF_TEST_PLUGIN_DIR"
expect_rc 2 "unknown breaker"
assert_contains "$DF_ERR" "dbx" "unknown breaker message"
df_done
