#!/usr/bin/env bash
# test_run_durations: durations count time running only (SPEC §12; issue 15 item 16). A run whose
# task b fails is retried 6 s later (the idle gap); the run and task b then succeed quickly. The
# run's duration (run_history, history --json, the closing summary) and b's (task_history,
# status --json) must not include the gap: each stays well under it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
need_builtin noop

cat >wf.json <<'EOF2'
{"name": "durations", "tasks": [
  {"id": "a", "plugin": "noop"},
  {"id": "b", "plugin": "shell", "depends_on": ["a"], "params": {"script": "test -f ok"}}
]}
EOF2

note "run: b fails"
run_wf wf.json
expect_rc 1 "run with b failing"
run=$(last_run)
note "retry 6 s later: b succeeds"
sleep 6
touch ok
DF_LAST_ARGS="retry $run"
set +e
"$DF_BIN" retry "$run" --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" >"$WORK/.stdout" 2>"$WORK/.stderr"
DF_RC=$?
set -e
DF_OUT="$(cat "$WORK/.stdout")"
expect_rc 0 "retry"
retry_out=$DF_OUT
expect_run "$run" SUCCESS

gap_free() { # VALUE WHAT: a duration in ms well under the 6 s gap
    [[ "$1" =~ ^[0-9]+$ ]] || fail "$2: not a number of ms: [$1]"
    (($1 < 4000)) || fail "$2: ${1} ms counts the 6 s idle gap before the retry"
    note "$2: $1 ms"
}
gap_free "$(q "SELECT duration_ms FROM run_history WHERE run_id = $run")" "run_history.duration_ms"
gap_free "$(q "SELECT duration_ms FROM task_history WHERE run_id = $run AND task_id = 'b'")" \
    "task_history.duration_ms of b"
dfx history --json
gap_free "$(jv ".[] | select(.run_id == $run) | .duration_ms" "$DF_OUT")" "history --json"
dfx status "$run" --json
gap_free "$(jv '.tasks[] | select(.id == "b") | .duration_ms' "$DF_OUT")" "status --json, task b"
dfx status "$run"
assert_match "$DF_OUT" "Duration: +([0-9]+ms|[0-3]\.[0-9]+s)" "status's run duration"
# The retry's closing summary: "run N (durations): SUCCESS in D: ..."
assert_match "$retry_out" "SUCCESS in ([0-9]+ms|[0-3]\.[0-9]+s)" "the retry's closing summary"
df_done
