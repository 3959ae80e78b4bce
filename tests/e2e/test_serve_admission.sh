#!/usr/bin/env bash
# test_serve_admission: resource-aware admission in `dagflow serve` (issue 10). With a memory
# limit below serve's own resident set (--max-memory 1K: over it all the time, so the test does
# not depend on the machine's load), serve keeps firing and creating runs but starts no attempt:
# its log says the pause once, the first run's tasks stay QUEUED without an attempt, and SIGTERM
# leaves that run INTERRUPTED with the pause recorded (status --json "admission": the pause began
# with the run, since the run came during it). A serve without the limit then resumes the run to
# SUCCESS: nothing failed for the pause.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/serve_lib.sh"
run_setup
need_builtin noop

mkdir -p wf
cat >wf/held.json <<'EOF2'
{"name": "held", "schedule": {"cron": "* * * * * *", "catchup": "none", "overlap": "skip"},
 "tasks": [{"id": "a", "plugin": "noop"},
           {"id": "b", "plugin": "noop", "depends_on": ["a"]}]}
EOF2

note "serve --max-memory 1K: runs are created, no attempt starts"
serve_start --max-memory 1K
wait_log 10 "admission paused: memory "
assert_contains "$(cat "$SERVE_LOG")" "over --max-memory 1.0 KiB" "the log names the limit"
for ((i = 0; i < 100; i++)); do
    run_df status 1 --json --db "$DB"
    [[ $DF_RC == 0 ]] && break
    sleep 0.1
done
expect_rc 0 "a run was created within 10 s"
sleep 2 # well past the first fire time's dispatch: nothing may start
dfx status 1 --json
assert_eq '"RUNNING"' "$(json_q '.state' "$DF_OUT")" "the run is in flight"
assert_eq '"QUEUED PENDING"' "$(json_q '[.tasks[].state] | join(" ")' "$DF_OUT")" \
    "its first task waits, ready, with no attempt"
assert_eq 0 "$(json_q '[.tasks[].attempts] | add' "$DF_OUT")" "no attempt"
serve_stop TERM
assert_eq 0 "$SERVE_RC" "serve exits 0"
assert_not_contains "$(cat "$SERVE_LOG")" "admission resumed" "never resumed"

dfx status 1 --json
assert_eq '"INTERRUPTED"' "$(json_q '.state' "$DF_OUT")" "resumable"
assert_eq 1 "$(json_q '.admission.pauses' "$DF_OUT")" "the pause is recorded with the run"
assert_contains "$(json_q '.admission.events[0].reason' "$DF_OUT")" "over --max-memory 1.0 KiB" \
    "with its reason"
assert_match "$(json_q '.admission.events[0].resumed_at' "$DF_OUT")" '^"20[0-9-]+T' \
    "ended with the run's interruption"
ms=$(json_q '.admission.paused_ms' "$DF_OUT")
((ms >= 1500)) || fail "paused_ms $ms: the run waited 2 s at least"

note "serve without the limit resumes it to SUCCESS"
serve_start
for ((i = 0; i < 150; i++)); do
    dfx status 1 --json
    [[ $(json_q '.state' "$DF_OUT") == '"SUCCESS"' ]] && break
    sleep 0.2
done
assert_eq '"SUCCESS"' "$(json_q '.state' "$DF_OUT")" "run 1 finished after the pause"
assert_eq 1 "$(json_q '.admission.pauses' "$DF_OUT")" "the record stays"
serve_stop TERM
assert_eq 0 "$SERVE_RC" "serve exits 0"
df_done
