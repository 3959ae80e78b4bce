#!/usr/bin/env bash
# test_security_caps: sizes are capped (SPEC §12, issue 15 item 13): run params (default 1 MiB of
# JSON; a 50 MB param is refused before anything is recorded), a task's result (default 4 MiB: a
# bigger one fails the attempt permanently, naming the task and the cap, and is not stored), an
# attempt's log (default 64 KiB, its newest lines, with a line saying older ones were dropped).
# --max-params-bytes, --max-result-bytes and --max-log-bytes change them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin noop
need_plugin logger
command -v python3 >/dev/null || skip "python3 is not installed"

note "a 50 MB param is refused, nothing recorded"
python3 - <<'EOF'
import json
json.dump({"name": "big_param", "params": {"blob": "a" * (50 * 1024 * 1024), "n": 1},
           "tasks": [{"id": "t", "plugin": "noop", "params": {"n": "${params.n}"}}]},
          open("big50.json", "w"))
EOF
run_wf big50.json
expect_rc 2 "a 50 MB param"
assert_contains "$DF_ERR" 'big50.json: the run params are 52428' "message: the size"
assert_contains "$DF_ERR" 'over the cap of 1048576 bytes (--max-params-bytes); the largest is "blob" (52428802 bytes)' "message: the cap and the param"
[[ ! -f "$DB" ]] || [[ "$(q "SELECT count(*) FROM run_history")" == 0 ]] || fail "a run was recorded"
db_bytes=$(cat "$DB" "$DB-wal" 2>/dev/null | wc -c || true)
((db_bytes < 1048576)) || fail "the database grew to $db_bytes bytes"

note "--max-params-bytes raises the cap"
python3 - <<'EOF'
import json
json.dump({"name": "mid_param", "params": {"blob": "b" * (2 * 1024 * 1024)},
           "tasks": [{"id": "t", "plugin": "noop", "params": {"len": "ok"}}]},
          open("mid.json", "w"))
EOF
run_wf mid.json
expect_rc 2 "a 2 MiB param under the default cap"
run_wf mid.json --max-params-bytes 3M
expect_rc 0 "a 2 MiB param under --max-params-bytes 3M"
run_wf mid.json --max-params-bytes 3X
expect_rc 2 "a bad --max-params-bytes"
assert_contains "$DF_ERR" "--max-params-bytes needs a number of bytes" "bad size message"

note "a huge result fails its task, naming it and the cap"
python3 - <<'EOF'
import json
blob = "c" * (900 * 1024)
json.dump({"name": "big_result", "params": {"blob": blob},
           "tasks": [{"id": "huge", "plugin": "noop", "retries": 2, "retry_delay_ms": 10,
                      "params": {k: "${params.blob}" for k in "abcde"}},
                     {"id": "after", "plugin": "noop", "depends_on": ["huge"], "params": {}}]},
          open("bigres.json", "w"))
EOF
run_wf bigres.json
expect_rc 1 "a result over 4 MiB"
run=$(last_run)
expect_task "$run" huge FAILED
expect_task "$run" after UPSTREAM_FAILED
err=$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'huge'")
assert_contains "$err" 'task "huge": its result is 46' "error: the task and the size"
assert_contains "$err" 'over the cap of 4194304 bytes (--max-result-bytes)' "error: the cap"
assert_eq 1 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'huge'")" "a capped result is not retried"
dfx status "$run" --json
((${#DF_OUT} < 1048576)) || fail "status --json is ${#DF_OUT} bytes: the result was kept"
run_wf bigres.json --max-result-bytes 8M --max-params-bytes 2M
expect_rc 0 "the same result under --max-result-bytes 8M"
run_wf bigres.json --max-result-bytes 1K --max-params-bytes 2M
expect_rc 1 "--max-result-bytes 1K"
assert_contains "$(q "SELECT error FROM task_history WHERE run_id = $(last_run) AND task_id = 'huge'")" 'over the cap of 1024 bytes' "--max-result-bytes 1K named"

note "a long log keeps its newest lines and says so"
cat >log.json <<'EOF'
{"name": "long_log", "tasks": [{"id": "talk", "plugin": "logger", "params": {"lines": 2000, "width": 100}}]}
EOF
run_wf log.json
expect_rc 0 "a long log"
log=$(q "SELECT log FROM attempt_history WHERE run_id = $(last_run) AND task_id = 'talk'")
((${#log} <= 65536 + 200)) || fail "the log is ${#log} bytes, over the 64 KiB cap"
assert_contains "$log" "[dagflow: earlier log lines dropped: the log keeps its last 65536 bytes (--max-log-bytes)]" "the cut is said"
assert_contains "$log" "line 2000 " "the newest line is kept"
assert_not_contains "$log" "line 1 x" "the oldest line is dropped"
run_wf log.json --max-log-bytes 1K
log=$(q "SELECT log FROM attempt_history WHERE run_id = $(last_run) AND task_id = 'talk'")
((${#log} <= 1024 + 200)) || fail "the log is ${#log} bytes, over --max-log-bytes 1K"
assert_contains "$log" "keeps its last 1024 bytes" "--max-log-bytes named"
cat >short.json <<'EOF'
{"name": "short_log", "tasks": [{"id": "talk", "plugin": "logger", "params": {"lines": 3}}]}
EOF
run_wf short.json
log=$(q "SELECT log FROM attempt_history WHERE run_id = $(last_run) AND task_id = 'talk'")
assert_not_contains "$log" "dropped" "a short log is not cut"

df_done
