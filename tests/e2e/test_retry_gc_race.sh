#!/usr/bin/env bash
# test_retry_gc_race: `retry N` racing `gc --older-than 0` that deletes run N (newuser finding 9).
# retry reads the finished run, then claims it in a transaction of its own; a gc committed in
# between leaves nothing to claim. The loser said "run N was taken over by another engine just
# now", which sent the user looking for an engine that never existed; it now says the run was
# deleted. The race is made deterministic with gdb: retry stops at its claim (take_over, before
# its transaction begins), gc runs to its end, retry goes on. Skipped where gdb is missing or
# may not trace. Nothing is left behind: no rows of run N in any table.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
command -v gdb >/dev/null || skip "gdb is not installed"
gdb -batch -ex run --args /bin/true >/dev/null 2>&1 || skip "gdb may not trace a process here"

cat >fails.json <<'EOF'
{"name": "fails", "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "exit 3"}}]}
EOF
run_wf fails.json
expect_rc 1 "the first run fails"
assert_eq "FAILED" "$(q "SELECT state FROM run_history WHERE run_id = 1")" "run 1"

note "retry 1 stopped at its claim while gc deletes run 1"
set +e
# LeakSanitizer cannot work under ptrace (the sanitizer build): no leak check for this retry
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" timeout -k 5 120 gdb -batch -nx \
    -ex 'set breakpoint pending on' -ex 'set pagination off' \
    -ex 'break take_over' -ex run \
    -ex "shell \"$DF_BIN\" gc --older-than 0 --db \"$DB\" >gc.out 2>&1" \
    -ex continue \
    --args "$DF_BIN" retry 1 --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" >gdb.out 2>&1
set -e
cat gdb.out >&2
grep -q "Breakpoint 1, " gdb.out || skip "gdb did not stop at take_over (inlined away?)"
assert_contains "$(cat gc.out)" "deleted 1 run" "gc while retry waits"
out=$(cat gdb.out)
assert_contains "$out" "dagflow: run 1 was deleted just now" "retry's message"
assert_not_contains "$out" "taken over by another engine" "retry's message"
assert_match "$out" "exited with code 0?2" "retry's exit code (2: refused)"
assert_eq "0" "$(q "SELECT count(*) FROM run_history")" "runs left"
assert_eq "0" "$(q "SELECT count(*) FROM task_history")" "tasks left"
df_done
