#!/usr/bin/env bash
# test_crash_outside_signal: SPEC §12 "a crash is charged to a task only when it is attributed to
# that task's own code" — a fatal signal sent by another process (here SIGABRT, aimed with
# tgkill(2) at the very thread that runs a spinning task's plugin code) is not that code's fault:
# the engine dies of it (exit 134) without the "crashed the engine" line, leaves no crash record,
# and after `resume` the lost attempt is not charged (attempts.charged), the task runs again and
# the run ends SUCCESS. Before the handler looked at who sent the signal (siginfo's si_code and
# si_pid), this charged the spinning task.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup
need_plugin spin
if grep -q '^DF_SANITIZE:BOOL=ON' "$DF_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    skip "sanitizer build: no crash handler (engine/cli/crash.c is off)"
fi
command -v python3 >/dev/null || skip "python3 is needed to send a signal to one thread"
mkdir -m 700 rt
export XDG_RUNTIME_DIR="$WORK/rt"

cat >wf.json <<'JSON'
{"name": "outside", "tasks": [{"id": "busy", "plugin": "spin", "params": {"ms": 4000}}]}
JSON
bg engine run wf.json
ENGINE=$BG_PID
wait_sql "SELECT count(*) FROM task_history WHERE workflow = 'outside' AND task_id = 'busy'
          AND state = 'RUNNING'" 30 "busy RUNNING"
sleep 0.7
# The thread that has used the most CPU is the one spinning in the plugin's code.
tid=$(for t in /proc/"$ENGINE"/task/*; do
    awk -v t="${t##*/}" '{ sub(/^.*\) /, ""); print $12 + $13, t }' "$t/stat" 2>/dev/null
done | sort -n | tail -1 | cut -d' ' -f2)
[[ -n "$tid" && "$tid" != "$ENGINE" ]] || fail "no spinning thread found in engine $ENGINE"
python3 -c 'import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True)
sys.exit(libc.tgkill(int(sys.argv[1]), int(sys.argv[2]), 6) != 0)' "$ENGINE" "$tid"
bg_wait "$ENGINE" 20 engine
expect_bg_rc 134 engine "the engine dies of the SIGABRT"
assert_not_contains "$(cat "$WORK/engine.err")" "crashed the engine" "no culprit named"
assert_file_absent "$WORK/rt/dagflow/crash.$ENGINE"
run=$(last_run)

resume_fg "$run"
expect_rc 0 "resume: the run ends SUCCESS"
assert_eq "1 LOST 0,2 SUCCESS 0" "$(q "SELECT group_concat(attempt || ' ' || outcome || ' ' ||
    COALESCE(charged, 0), ',') FROM (SELECT attempt, outcome, charged FROM attempts
    WHERE run_id = $run AND task_id = 'busy' ORDER BY attempt) x")" "attempts of busy (not charged)"
assert_contains "$(q "SELECT error FROM attempts WHERE run_id = $run AND task_id = 'busy'
                      AND attempt = 1")" "the engine died during this attempt" "the LOST attempt's error"
expect_invariants "$run" finished
df_done
