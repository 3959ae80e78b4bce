#!/usr/bin/env bash
# test_run_admission: resource-aware admission (issue 10). `--max-memory` counts the engine and
# its task processes: a task ("hog") that holds 256 MiB for a few seconds puts dagflow over a
# 128 MiB limit, so the task that becomes ready meanwhile ("after") starts only once the hog has
# exited and its memory is gone; every task succeeds, the pause is said on stderr and recorded
# with the run (status, status --json). Deterministic: the pause comes from the test's own task,
# not from the machine's load. Also: a limit never reached records nothing, bad values are
# refused, and resume/retry/serve take the options.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
command -v python3 >/dev/null || skip "python3 is not installed"

cat >wf.json <<EOF2
{"name": "admission",
 "tasks": [
  {"id": "hog", "plugin": "shell", "params": {"argv": ["python3", "-c",
     "import time\nb = b'x' * (256 << 20)\nopen('$WORK/hog.ready', 'w').close()\ntime.sleep(5)\nopen('$WORK/hog.end', 'w').write(str(time.time_ns() // 1000000))"]}},
  {"id": "waiter", "plugin": "shell", "params": {"argv": ["sh", "-c",
     "while [ ! -e '$WORK/hog.ready' ]; do sleep 0.05; done; sleep 2.5"]}},
  {"id": "after", "plugin": "shell", "depends_on": ["waiter"], "params": {"argv": ["python3", "-c",
     "import time; open('$WORK/after.start', 'w').write(str(time.time_ns() // 1000000))"]}}]}
EOF2

note "--max-memory 128M: 'after' waits for the hog to end"
run_wf wf.json --max-memory 128M
expect_rc 0 "every task succeeds; a pause fails none"
assert_contains "$DF_ERR" "admission paused: memory " "the pause is said on stderr"
assert_contains "$DF_ERR" "over --max-memory 128.0 MiB" "with the limit"
assert_contains "$DF_ERR" "admission resumed after " "and its end"
hog_end=$(cat hog.end)
after_start=$(cat after.start)
((after_start >= hog_end)) ||
    fail "'after' started at $after_start, before the hog ended at $hog_end (no pause)"

dfx status 1 --json
expect_rc 0 "status --json"
pauses=$(json_q '.admission.pauses' "$DF_OUT")
((pauses >= 1)) || fail "admission.pauses is $pauses"
assert_contains "$(json_q '.admission.events[0].reason' "$DF_OUT")" "over --max-memory 128.0 MiB" \
    "the recorded reason"
ms=$(json_q '.admission.paused_ms' "$DF_OUT")
((ms >= 250)) || fail "paused_ms $ms"
assert_eq '"SUCCESS SUCCESS SUCCESS"' "$(json_q '[.tasks[].state] | join(" ")' "$DF_OUT")" "tasks"
dfx status 1
assert_match "$DF_OUT" '^Admission: paused [0-9]+ times?, [0-9.]+ s in all' "status shows the pause"

note "a limit never reached: no pause, nothing recorded"
run_wf wf.json --max-memory 4G --max-load 1000000
expect_rc 0 "second run"
assert_not_contains "$DF_ERR" "admission" "no notice"
dfx status 2 --json
assert_eq "null" "$(json_q '.admission' "$DF_OUT")" "no admission record"

note "bad values are refused (exit 2)"
for bad in "--max-load 0" "--max-load -1" "--max-load abc" "--max-memory 0" "--max-memory 12Q"; do
    # shellcheck disable=SC2086
    run_df run wf.json --db "$DB" $bad
    expect_rc 2 "run $bad"
    assert_contains "$DF_ERR" "dagflow: run: --max-" "the message names the option"
done

note "resume, retry, cancel and serve take them"
for cmd in resume retry cancel serve; do
    run_df "$cmd" --help
    assert_contains "$DF_OUT" "--max-memory SIZE" "$cmd --help"
    assert_contains "$DF_OUT" "--max-load X" "$cmd --help"
done
df_done
