#!/usr/bin/env bash
# test_run_crash_message: a plugin that crashes the engine (coroutine stack overflow, SIGSEGV,
# abort) gets one clear line on stderr naming the task, its run, attempt and plugin and the
# `dagflow resume` command to continue; the process still dies of that signal; nothing recorded is
# lost, and `dagflow resume` with the suggested --stack-size finishes the overflowed run (the
# crashed attempts recorded LOST). A signal from outside, while no task runs, gets no message.
# Many tasks crashing at once still give exactly one line, matching the signal the process dies
# of.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_plugin overflow
need_builtin sleep
need_builtin noop
if grep -q '^DF_SANITIZE:BOOL=ON' "$DF_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    skip "sanitizer build: AddressSanitizer reports these faults itself (engine/cli/crash.c is off)"
fi
dirs=(--plugin-dir "$DF_TEST_PLUGIN_DIR" --plugin-dir "$DF_PLUGIN_DIR")

# crash_line: the one `dagflow: ` line of DF_ERR; any other line must be a progress line (`run N:
# ...`, written out before the crash: stderr is flushed every 200 ms, so whether one made it
# depends on timing).
crash_line() {
    local line
    while IFS= read -r line; do
        [[ -z "$line" || "$line" == "dagflow: "* || "$line" =~ ^run\ [0-9]+:\  ]] ||
            fail "unexpected stderr line: [$line]"
    done <<<"$DF_ERR"
    grep '^dagflow: ' <<<"$DF_ERR" || true
}

# 1. Stack overflow: 2 MiB of frames in a 256 KiB coroutine stack.
cat >deep.json <<'JSON'
{"name": "deep", "tasks": [
 {"id": "first", "plugin": "sleep", "params": {"ms": 10}},
 {"id": "deep", "plugin": "overflow", "params": {"mode": "stack", "kib": 2048},
  "depends_on": ["first"]},
 {"id": "after", "plugin": "noop", "depends_on": ["deep"]}
]}
JSON
run_wf deep.json "${dirs[@]}"
assert_eq "$DF_RC" 139 "exit status of a run killed by SIGSEGV"
run=$(last_run)
args="--db '$DB' --plugin-dir '$DF_TEST_PLUGIN_DIR' --plugin-dir '$DF_TEST_PLUGIN_DIR' --plugin-dir '$DF_PLUGIN_DIR'"
assert_eq "dagflow: task \"deep\" (run $run, attempt 1, plugin \"overflow\") overflowed its 256 KiB coroutine stack and the engine stopped; continue the run with bigger stacks: dagflow resume $run $args --stack-size 1024K" \
    "$(crash_line)" "the overflow message"
expect_task "$run" first SUCCESS
assert_eq RUNNING "$(task_state "$run" deep)" "the crashed task as recorded"

# The advice, run as written: 1 MiB is not enough for 2 MiB of frames, so it overflows again
# with a new advice, which, run as written, finishes the run.
advice() { sed -n 's/.*continue the run with bigger stacks: dagflow \(.*\)$/\1/p' <<<"$DF_ERR"; }
cmd=$(advice)
[[ -n "$cmd" ]] || fail "no resume command in: $DF_ERR"
set +e
eval "\"\$DF_BIN\" $cmd" >/dev/null 2>"$WORK/.stderr"
DF_RC=$?
set -e
DF_ERR="$(cat "$WORK/.stderr")"
assert_eq 139 "$DF_RC" "exit status of the second overflow"
assert_contains "$DF_ERR" "(run $run, attempt 2, plugin \"overflow\") overflowed its 1024 KiB" \
    "second overflow"
assert_contains "$DF_ERR" "dagflow resume $run $args --stack-size 4096K" "second advice"
cmd=$(advice)
set +e
eval "\"\$DF_BIN\" $cmd" >/dev/null 2>"$WORK/.stderr"
DF_RC=$?
set -e
expect_rc 0
assert_eq "$(run_state "$run")" SUCCESS "run after resume with bigger stacks"
expect_task "$run" deep SUCCESS
expect_task "$run" after SUCCESS
assert_eq "$(q "SELECT group_concat(outcome, ',') FROM (SELECT outcome FROM attempt_history
                 WHERE run_id = $run AND task_id = 'deep' ORDER BY attempt)")" \
    "LOST,LOST,SUCCESS" "attempts of the overflowing task"

# 2. A plain fault and an abort() in plugin code.
for mode in segv abort; do
    echo "{\"name\": \"$mode\", \"tasks\": [{\"id\": \"bad\", \"plugin\": \"overflow\",
           \"params\": {\"mode\": \"$mode\"}}]}" >$mode.json
    run_wf $mode.json "${dirs[@]}"
    run=$(last_run)
    sig=SIGSEGV rc=139
    [[ $mode == abort ]] && sig=SIGABRT rc=134
    assert_eq "$DF_RC" "$rc" "exit status after $sig"
    assert_eq "dagflow: task \"bad\" (run $run, attempt 1, plugin \"overflow\") crashed the engine with $sig in the plugin's code; once the plugin is fixed, continue the run: dagflow resume $run $args" \
        "$(crash_line)" "the $mode message"
done

# 3. SIGSEGV sent from outside while the only task sleeps: no task code faulted, no message.
echo '{"name": "calm", "tasks": [{"id": "nap", "plugin": "sleep", "params": {"ms": 5000}}]}' \
    >calm.json
set +e
"$DF_BIN" run calm.json --db "$DB" "${dirs[@]}" >calm.out 2>calm.err &
pid=$!
for _ in $(seq 100); do
    [[ "$(q "SELECT count(*) FROM task_history WHERE workflow = 'calm' AND state = 'RUNNING'")" == 1 ]] &&
        break
    sleep 0.05
done
kill -SEGV $pid
wait $pid
rc=$?
set -e
assert_eq "$rc" 139 "exit status after an outside SIGSEGV"
assert_not_contains "$(cat calm.err)" "crashed the engine" "message for an outside signal"
# 4. Many tasks crashing at once, on several workers: exactly one line, and the process dies of
#    the signal that line names.
python3 - >many.json <<'PY'
import json
modes = ["segv", "abort"]
tasks = [{"id": "c%02d" % i, "plugin": "overflow", "params": {"mode": modes[i % 2]}} for i in range(40)]
print(json.dumps({"name": "many", "tasks": tasks}))
PY
for round in $(seq 10); do
    set +e
    "$DF_BIN" run many.json --db "many$round.db" "${dirs[@]}" --workers-min 4 >/dev/null 2>many.err
    rc=$?
    set -e
    lines=$(grep -c 'crashed the engine' many.err || true)
    assert_eq 1 "$lines" "crash lines when 40 tasks crash at once (round $round)"
    case "$rc" in
    134) assert_contains "$(cat many.err)" "with SIGABRT" "message of a SIGABRT exit" ;;
    139) assert_contains "$(cat many.err)" "with SIGSEGV" "message of a SIGSEGV exit" ;;
    *) fail "exit status $rc after 40 crashing tasks" ;;
    esac
done

df_done
