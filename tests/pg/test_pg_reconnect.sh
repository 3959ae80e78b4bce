#!/usr/bin/env bash
# test_pg_reconnect: connection loss on the PostgreSQL store (README "PostgreSQL"), on a cluster of
# its own (tests/pg/pg_cluster.sh; the shared one cannot be stopped). A server restarted in the
# middle of a run (fast shutdown: every connection is cut) is reconnected to and the run ends
# SUCCESS with its whole history; a server that stays down longer than DAGFLOW_PG_RETRY_MS stops
# the engine with exit 3 and a message naming the lost connection; once the server is back,
# `resume` finishes the run, and the store's invariants hold.
set -euo pipefail
source "$(dirname "$0")/own_cluster_lib.sh"
source "$(dirname "$0")/../e2e/data/durability/dur_lib.sh"
need_builtin noop

# 12 sleeps of 300 ms one after another: about 4 s of run with a write every 300 ms. (Run 2 uses
# 12 of 800 ms, so that it is surely still running when the server goes down, even when a loaded
# machine makes the test see its second task late.)
python3 -c '
import json
t = [{"id": "s0", "plugin": "sleep", "params": {"ms": 300}}]
for i in range(1, 12):
    t.append({"id": "s%d" % i, "plugin": "sleep", "params": {"ms": 300}, "depends_on": ["s%d" % (i - 1)]})
print(json.dumps({"name": "chain", "tasks": t}))' >chain.json
sed 's/"ms": 300/"ms": 800/g' chain.json >chain800.json

note "the server restarts in the middle of a run: the engine reconnects, the run ends SUCCESS"
# The retry time is long: on a loaded machine the stop and start of the server alone can take
# more than 20 s, and the point here is the reconnection, not its speed.
DAGFLOW_PG_RETRY_MS=120000 bg run run chain.json
wait_sql "SELECT count(*) >= 3 FROM task_history WHERE state = 'SUCCESS'" 20 "3 tasks SUCCESS"
pg_stop
sleep 1
pg_start
bg_wait "$BG_PID" 150 run
if [[ $BG_RC == 3 ]] && grep -q "lost the connection to PostgreSQL during a transaction" "$WORK/run.err"; then
    # The README's one exception: a connection cut inside a transaction (more likely on a loaded
    # machine, where transactions last longer) stops the engine, and resume continues the run.
    note "the cut fell inside a transaction (exit 3, as documented): resume continues the run"
    dfg resume 1
    assert_eq 0 "$DF_RC" "exit code of resume after a cut inside a transaction"
else
    expect_bg_rc 0 run "exit code of the run across a restart"
fi
expect_run 1 SUCCESS
assert_eq 12 "$(q "SELECT count(*) FROM task_history WHERE run_id = 1 AND state = 'SUCCESS'")" \
    "tasks SUCCESS after the restart"
expect_invariants 1 finished

note "the server stays down past DAGFLOW_PG_RETRY_MS: exit 3, then resume once it is back"
DAGFLOW_PG_RETRY_MS=1500 bg run2 run chain800.json
wait_sql "SELECT count(*) >= 2 FROM task_history WHERE run_id = 2 AND state = 'SUCCESS'" 20 \
    "2 tasks of run 2 SUCCESS"
pg_stop
t0=$(now_ms)
bg_wait "$BG_PID" 60 run2
waited=$(($(now_ms) - t0))
expect_bg_rc 3 run2 "exit code when the server stays down"
err="$(cat "$WORK/run2.err")"
note "gave up after $waited ms: $(grep '^dagflow: ' <<<"$err" | head -2)"
assert_contains "$err" "dagflow: " "the error line"
assert_match "$err" "lost the connection to PostgreSQL|cannot connect to PostgreSQL" \
    "the message names the lost connection"
# (generous: a loaded machine; without the retry time the engine would wait 30 s, and forever
# without the give-up)
((waited < 28000)) || fail "the engine took $waited ms to give up (retry time 1.5 s)"
DF_ASSERTS=$((DF_ASSERTS + 1))
pg_start
dfg resume 2
assert_eq 0 "$DF_RC" "exit code of resume after the server came back"
expect_run 2 SUCCESS
expect_invariants 2 finished

df_done
