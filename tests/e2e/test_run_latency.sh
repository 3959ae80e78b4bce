#!/usr/bin/env bash
# test_run_latency: every attempt's ready->running wait (from the commit that made its task ready
# to the start of its execute) is kept with the run as a histogram (issue 14): `status` shows
# p50, p99 and max, `status --json` has "ready_to_running" with one count per attempt that ran
# (a retried task counts each attempt), on SQLite and PostgreSQL.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_plugin flaky
need_builtin noop

cat >wf.json <<'EOF2'
{"name": "latency",
 "tasks": [{"id": "a", "plugin": "noop"},
           {"id": "b", "plugin": "noop", "depends_on": ["a"]},
           {"id": "c", "plugin": "noop", "depends_on": ["a"]},
           {"id": "d", "plugin": "flaky", "params": {"fail_times": 1}, "retries": 1,
            "retry_delay_ms": 10, "depends_on": ["b", "c"]}]}
EOF2
run_wf wf.json
expect_rc 0 "the run succeeds"

note "status --json: one wait per attempt (4 tasks, d twice), p50 <= p99 <= max"
dfx status 1 --json
expect_rc 0 "status --json"
assert_eq 5 "$(json_q '.ready_to_running.count' "$DF_OUT")" "attempts counted"
p50=$(json_q '.ready_to_running.p50_us' "$DF_OUT")
p99=$(json_q '.ready_to_running.p99_us' "$DF_OUT")
max=$(json_q '.ready_to_running.max_us' "$DF_OUT")
((p50 <= p99 && p99 <= max)) || fail "p50 $p50, p99 $p99, max $max are not in order"
# generous: the machine is shared; a wait counted from the run's start or the upstream's
# dispatch would still be far below this, so the order above is the real check.
((max < 10000000)) || fail "max wait $max us"
assert_eq "null" "$(json_q '.ready_to_running.buckets' "$DF_OUT")" "buckets only in the store"

note "status shows it"
dfx status 1
expect_rc 0 "status"
assert_match "$DF_OUT" '^Latency: +ready->running p50 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms \(5 attempts\)' "status"
df_done
