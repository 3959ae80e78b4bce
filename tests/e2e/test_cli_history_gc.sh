#!/usr/bin/env bash
# `dagflow history --state S --since TIME --before RUN_ID` and `dagflow gc --older-than DAYS
# [--dry-run]` (SPEC §10) through the real CLI: filters alone and together, paging with
# --before, bad values exit 2; gc's dry run deletes nothing, gc deletes finished runs with every
# row of theirs (the views hold nothing of them afterwards) and says how much it freed, and never
# touches an unfinished run. Runs on PostgreSQL too (pg label).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell

cat >ok.json <<'JSON'
{"name": "ok", "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "echo hi"}}]}
JSON
cat >bad.json <<'JSON'
{"name": "bad", "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "exit 3"}}]}
JSON
run_wf ok.json; expect_rc 0 "run 1"
run_wf bad.json; expect_rc 1 "run 2"
run_wf ok.json; expect_rc 0 "run 3"
r3=$(last_run)
r1=$((r3 - 2))
r2=$((r3 - 1))

note "history --state"
dfx history --state SUCCESS --json
expect_rc 0 "history --state SUCCESS"
assert_eq "$r3,$r1" "$(json_q '[.[].run_id] | map(tostring) | join(",")' "$DF_OUT" | tr -d '"')" "SUCCESS runs"
dfx history --state FAILED --json
assert_eq "$r2" "$(json_q '[.[].run_id] | map(tostring) | join(",")' "$DF_OUT" | tr -d '"')" "FAILED runs"
dfx history --state done
expect_rc 2 "unknown state"
assert_contains "$DF_ERR" 'dagflow: unknown run state "done"' "state message"

note "history --before pages, --since bounds the start"
dfx history --before "$r3" --limit 1 --json
assert_eq "$r2" "$(json_q '.[0].run_id' "$DF_OUT")" "first page after r3"
assert_eq "1" "$(json_q 'length' "$DF_OUT")" "limit 1"
dfx history --before "$r1" --json
assert_eq "0" "$(json_q 'length' "$DF_OUT")" "nothing before the first run"
dfx history --since 2099-01-01 --json
assert_eq "0" "$(json_q 'length' "$DF_OUT")" "nothing since 2099"
dfx history --since 2000-01-01T00:00:00Z --state SUCCESS --workflow ok --before "$r3" --json
assert_eq "$r1" "$(json_q '[.[].run_id] | map(tostring) | join(",")' "$DF_OUT" | tr -d '"')" "all filters"
dfx history --since yesterday
expect_rc 2 "bad --since"
assert_contains "$DF_ERR" "dagflow: history: --since needs an ISO-8601 time" "since message"
dfx history --before 0
expect_rc 2 "bad --before"

note "gc needs --older-than, a number >= 0"
dfx gc
expect_rc 2 "gc without --older-than"
dfx gc --older-than -1
expect_rc 2 "negative days"
dfx gc --older-than ten
expect_rc 2 "not a number"
# The upper bound is named (newuser finding 7: "needs a number of days >= 0" for 3650000).
dfx gc --older-than 36526
expect_rc 2 "over 100 years"
assert_contains "$DF_ERR" "from 0 to 36525"
dfx gc --older-than 36525 --dry-run
expect_rc 0 "100 years"

note "gc --older-than 1: these runs are newer, nothing deleted"
dfx gc --older-than 1
expect_rc 0 "gc 1 day"
assert_contains "$DF_OUT" "deleted 0 runs" "nothing old"

note "a RUNNING run (a live engine's) is never deleted"
cat >slow.json <<'JSON'
{"name": "slow", "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "sleep 30"}}]}
JSON
"$DF_BIN" run slow.json --db "$DB" >/dev/null 2>&1 &
slow_pid=$!
for _ in $(seq 1 100); do
    [[ "$(q "SELECT count(*) FROM run_history WHERE workflow = 'slow' AND state = 'RUNNING'")" == 1 ]] && break
    sleep 0.1
done
r4=$(last_run)
assert_eq "RUNNING" "$(run_state "$r4")" "the slow run is running"

note "gc --dry-run says what it would do and deletes nothing"
dfx gc --older-than 0 --dry-run --json
expect_rc 0 "dry run"
assert_eq "3 true" "$(json_q '"\(.runs) \(.dry_run)"' "$DF_OUT" | tr -d '"')" "would delete 3 runs"
assert_eq "4" "$(q "SELECT count(*) FROM run_history")" "nothing deleted"

note "gc --older-than 0 deletes the three finished runs with all their rows"
dfx gc --older-than 0
expect_rc 0 "gc 0"
assert_match "$DF_OUT" "^deleted 3 runs \([0-9]+ rows\), freed " "summary line"
assert_eq "1 $r4" "$(q "SELECT count(*) || ' ' || max(run_id) FROM run_history")" "only the running run is left"
for v in task_history attempt_history task_events; do
    assert_eq "0" "$(q "SELECT count(*) FROM $v WHERE run_id <> $r4")" "$v emptied"
done
kill -INT "$slow_pid" 2>/dev/null || true
wait "$slow_pid" 2>/dev/null || true
dfx gc --older-than 0 --json
assert_eq "0" "$(json_q '.runs' "$DF_OUT")" "an INTERRUPTED run is kept"

note "gc on a database that does not exist creates nothing"
if ! df_test_pg; then
    run_df gc --older-than 0 --db "$WORK/none.db"
    expect_rc 0 "gc of a missing database"
    assert_file_absent "$WORK/none.db" "not created"
fi
df_done
