#!/usr/bin/env bash
# test_proc_background: a `shell` task that leaves a process running in the background (a server
# started with `&`, `nohup` or `setsid`) ends when its shell exits, as in a terminal; before, the
# attempt waited for every holder of its stdout and stderr pipes to close them, so it stayed
# RUNNING for as long as the background process lived (newuser finding 10: `(setsid sleep 776 &);
# echo ok` ended SUCCESS after 10 min 10 s). What the shell wrote before it exited is kept whole,
# also when it was still in the pipe at the exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell

# The background processes record their pids; whatever the assertions, they are ended here by
# those pids (dagflow kills them itself only where it has control groups, at the engine's end).
kill_background() {
    local f
    for f in "$WORK"/bg*.pid; do
        [[ -f "$f" ]] && kill "$(cat "$f")" 2>/dev/null || true
    done
    df_remove_work
}
trap kill_background EXIT

cat >bg.json <<'JSON'
{"name": "bg", "tasks": [
  {"id": "amp", "plugin": "shell",
   "params": {"script": "sleep 300 & echo $! > bg1.pid; echo started"}},
  {"id": "detached", "plugin": "shell",
   "params": {"script": "(setsid sh -c 'echo $$ > bg2.pid; exec sleep 301' &); sleep 0.2; echo detached"}},
  {"id": "bulk", "plugin": "shell",
   "params": {"script": "sleep 302 & echo $! > bg3.pid; head -c 300000 /dev/zero | tr '\\0' x; echo; echo tail >&2"}},
  {"id": "after", "plugin": "noop", "depends_on": ["amp", "detached", "bulk"]}
]}
JSON

note "the run ends while the background processes live"
run_wf bg.json
expect_rc 0 "run with background processes"
# Before the fix the run took 300 s (the run_wf limit of 40 s failed it); now the shells exit at
# once and the attempts end within a short drain (30 s is a generous bound for a loaded machine).
((RUN_MS < 30000)) || fail "the run took $RUN_MS ms"
for t in amp detached bulk after; do
    assert_eq SUCCESS "$(q "SELECT state FROM task_history WHERE run_id = 1 AND task_id = '$t'")" "$t"
done
for f in bg1.pid bg2.pid bg3.pid; do
    [[ -s "$f" ]] || fail "$f was not written"
done
kill -0 "$(cat bg1.pid)" 2>/dev/null || note "bg1 is gone (a control group's end of the engine)"

note "the output written before the exit is whole"
run_df logs 1 amp --db "$DB" --json
expect_rc 0 "logs amp"
assert_eq '"started"' "$(json_q .stdout "$DF_OUT")" "amp's stdout"
run_df logs 1 detached --db "$DB" --json
assert_eq '"detached"' "$(json_q .stdout "$DF_OUT")" "detached's stdout"
run_df logs 1 bulk --db "$DB" --json
assert_eq 300000 "$(json_q '.stdout | length' "$DF_OUT")" "bulk's stdout length"
assert_eq '"tail"' "$(json_q .stderr "$DF_OUT")" "bulk's stderr"
df_done
