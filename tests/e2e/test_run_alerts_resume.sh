#!/usr/bin/env bash
# An alert still pending when the engine died is delivered by `resume`, also for a run that had
# already finished (SPEC §5); once everything is delivered, resume refuses the finished run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
df_db_setup

cat >sink.sh <<'SH'
#!/bin/sh
# One write per alert: deliveries run concurrently, and one small O_APPEND write stays whole.
payload=$(cat)
printf '%s\n' "$payload" >> received.jsonl
SH
chmod +x sink.sh
cat >wf.json <<'JSON'
{"name": "pending_alerts",
 "alerts": [{"type": "command", "argv": ["./sink.sh"]}],
 "tasks": [{"id": "boom", "plugin": "shell", "params": {"script": "exit 4"}}]}
JSON
run_df run --db "$DB" wf.json
expect_rc 1 "failing run"
assert_eq "2" "$(grep -c . received.jsonl)" "alerts delivered by run (task_failed, run_failed)"

# Pretend the engine died before delivering the run_failed alert.
df_sqlite "$DB" "UPDATE alerts SET status='pending', tries=0, delivered_at=NULL WHERE event='run_failed'"
run_df resume 1 --db "$DB"
expect_rc 1 "resume of a FAILED run with a pending alert delivers it and reports FAILED"
assert_eq "3" "$(grep -c . received.jsonl)" "the pending alert was delivered once more"
assert_eq "delivered" "$(df_sqlite "$DB" "SELECT status FROM alert_history WHERE event='run_failed'")" "status"
assert_contains "$(tail -1 received.jsonl)" '"event":"run_failed"' "redelivered payload"

run_df resume 1 --db "$DB"
expect_rc 2 "nothing left to resume"
assert_contains "$DF_ERR" "has finished" "refusal message"
df_done
