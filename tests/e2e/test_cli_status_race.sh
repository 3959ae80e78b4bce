#!/usr/bin/env bash
# test_cli_status_race: `status` of a run whose engine ends it and exits while status looks
# (found by pgpipe2: `cancel --wait` exited 2 "has finished" once). status reads the run RUNNING,
# then finds its engine's pid gone; an engine that committed CANCELLED and exited in between was
# shown INTERRUPTED, a state the run never had. status now reads the run again once the pid is
# found dead. Made deterministic with gdb: status stops in its pid check (df_engine_owner_gone)
# while the run is cancelled and its engine exits. Skipped where gdb is missing or may not trace.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
command -v gdb >/dev/null || skip "gdb is not installed"
gdb -batch -ex run --args /bin/true >/dev/null 2>&1 || skip "gdb may not trace a process here"

cat >long.json <<'JSON'
{"name": "long", "tasks": [{"id": "nap", "plugin": "sleep", "params": {"ms": 60000}}]}
JSON
# Not this shell's child: once it exits it is reaped at once, not left a zombie whose pid lives.
("$DF_BIN" run long.json --db long.db >long.out 2>long.err &)
trap 'p=$(df_sqlite long.db "SELECT engine_pid FROM runs" 2>/dev/null || true); [[ -z "$p" ]] || kill -9 "$p" 2>/dev/null || true; df_remove_work' EXIT
for _ in $(seq 400); do
    state="$(df_sqlite long.db "SELECT state FROM task_history WHERE task_id = 'nap'" 2>/dev/null || true)"
    [[ "$state" == RUNNING ]] && break
    sleep 0.05
done
[[ "${state:-}" == RUNNING ]] || fail "task nap never ran: $(cat long.err)"
pid=$(df_sqlite long.db "SELECT engine_pid FROM runs WHERE run_id = 1")
[[ "$pid" =~ ^[0-9]+$ ]] || fail "no engine pid recorded: $pid"

note "status stopped in its pid check while the run is cancelled and its engine exits"
{
    echo "\"$DF_BIN\" cancel 1 --db long.db >cancel.out 2>&1"
    echo "for _ in \$(seq 600); do kill -0 $pid 2>/dev/null || exit 0; sleep 0.05; done"
    echo "echo \"engine $pid still alive 30 s after the cancel\" >>cancel.out"
} >ender.sh
set +e
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" timeout -k 5 120 gdb -batch -nx \
    -ex 'set breakpoint pending on' -ex 'set pagination off' \
    -ex 'break df_engine_owner_gone' -ex run -ex 'delete' \
    -ex 'shell bash ender.sh' -ex continue \
    --args "$DF_BIN" status 1 --db long.db >gdb.out 2>&1
set -e
cat gdb.out cancel.out >&2
grep -q "Breakpoint 1, " gdb.out || skip "gdb did not stop at df_engine_owner_gone (inlined away?)"
kill -0 "$pid" 2>/dev/null && fail "the engine did not exit after the cancel: $(cat cancel.out)"
assert_eq "CANCELLED" "$(df_sqlite long.db "SELECT state FROM run_history WHERE run_id = 1")" "the stored state"
out=$(cat gdb.out)
assert_match "$out" 'State: +CANCELLED' "status after the engine ended the run"
assert_not_contains "$out" "INTERRUPTED" "status after the engine ended the run"
df_done
