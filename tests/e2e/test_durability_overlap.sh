#!/usr/bin/env bash
# test_durability_overlap: an attempt never runs twice at once (SPEC §2, §12; issue 15 item 4).
# A `sleep 50` shell task is running when the engine is killed with SIGKILL; `dagflow resume`
# follows at once. The processes of the lost attempt must be gone before the attempt runs again:
# resume kills the process group the store recorded for it (on this host, after checking the
# process's start time). Checked: while attempt 2 runs, exactly one sleep of the task is alive,
# and attempt 1's process is gone. The store recorded attempt 1's process group and start time.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup

# A distinctive duration, so that the test counts only its own sleeps.
NAP=50.$((RANDOM % 900 + 100))
cat >wf.json <<EOF2
{"name": "durability_overlap", "tasks": [
  {"id": "s", "plugin": "shell",
   "params": {"script": "echo \$\$ >> pgids; echo \$\$ >> s.pids; exec sleep $NAP"}}
]}
EOF2

# Sleeps of this test still running (a killed one whose parent is gone may stay a zombie until
# a reaper takes it: not counted).
sleeps() { pgrep -r R,S,D,T -f "^sleep $NAP\$" | wc -l; }
alive() { [[ -r /proc/$1/stat ]] && ! awk '{ sub(/.*\) /, ""); exit !($1 == "Z" || $1 == "X") }' "/proc/$1/stat" 2>/dev/null; }

note "run a 50 s sleep, SIGKILL the engine while it runs"
bg run run wf.json
wait_sql "SELECT count(*) FROM attempt_history WHERE task_id = 's' AND outcome = 'RUNNING'" 20 \
    "s RUNNING"
for _ in $(seq 100); do (($(sleeps) >= 1)) && break; sleep 0.1; done
sleep 0.5 # the engine records the process group within 100 ms of the spawn
run=$(last_run)
kill -9 "$BG_PID"
bg_wait "$BG_PID" 10 run
first=$(head -1 s.pids)
assert_eq 1 "$(sleeps)" "sleeps alive after the kill (the engine's death does not end them)"

if ! df_test_pg; then
    assert_eq "$first" "$(q "SELECT pgid FROM attempt_processes WHERE run_id = $run AND task_id = 's'
                            AND attempt = 1")" "the process group recorded for attempt 1"
fi

note "resume at once"
bg new resume "$run"
new=$BG_PID
wait_sql "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 's' AND attempt = 2" \
    20 "attempt 2 of s"
for _ in $(seq 100); do [[ $(wc -l <s.pids) -ge 2 ]] && break; sleep 0.1; done
sleep 0.5
n=$(sleeps)
note "sleeps of s alive while attempt 2 runs: $n"
assert_eq 1 "$n" "sleeps of s alive at once (two would be the attempt running twice)"
if alive "$first"; then
    fail "attempt 1's process $first is still alive while attempt 2 runs"
fi
assert_eq LOST "$(q "SELECT outcome FROM attempt_history WHERE run_id = $run AND task_id = 's'
                    AND attempt = 1")" "outcome of attempt 1"
kill -9 "$new" 2>/dev/null || true
df_done
