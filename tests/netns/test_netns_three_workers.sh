#!/usr/bin/env bash
# test_netns_three_workers: three `dagflow worker` processes on three test hosts (network
# namespaces joined to the host by veth pairs, netns_lib.sh; each reaches PostgreSQL over TCP)
# run one 3,000-task layered DAG together (issue 13), the engine on the host with
# --executor workers: the run ends SUCCESS with every task SUCCESS once, each worker ran at least
# a fifth of the attempts (work_history, store/pg/013_work_history.sql, names each attempt's
# worker), no attempt was lost, no double SUCCESS, attempts contiguous, the queue is empty, and each worker
# stops with exit 0 on SIGTERM.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/run_lib.sh"
source "$(dirname "$0")/netns_lib.sh"
df_setup
netns_setup 3
netns_cluster
need_builtin sleep
"$DF_BIN" history --db "$DB" >/dev/null || fail "cannot open the test database"

# 30 layers of 100 tasks; each task after two of the layer before (a sleep of 5 ms each, so
# that a worker finishing at once does not take all of a layer).
python3 -c '
import json
L, W = 30, 100
t = []
for l in range(L):
    for i in range(W):
        d = {"id": "l%d_%d" % (l, i), "plugin": "sleep", "params": {"ms": 5}}
        if l:
            d["depends_on"] = ["l%d_%d" % (l - 1, i), "l%d_%d" % (l - 1, (i + 1) % W)]
        t.append(d)
print(json.dumps({"name": "three", "tasks": t}))' >"$WORK/three.json"

pids=()
for i in 1 2 3; do
    netns_bg "$i" "w$i" "$DF_BIN" worker --db "$(netns_uri "$i")" --concurrency 8 \
        --lease-ms 10000 --plugin-dir "$DF_TEST_PLUGIN_DIR"
    p="w${i}_PID"
    pids+=("${!p}")
done
for i in 1 2 3; do
    for ((k = 0; k < 300; k++)); do
        grep -q "started" "$WORK/w$i.log" 2>/dev/null && break
        sleep 0.1
    done
    grep -q "started" "$WORK/w$i.log" || fail "worker $i did not start: $(cat "$WORK/w$i.log")"
done

note "the engine on the host runs the 3,000-task DAG with --executor workers"
t0=$(now_ms)
set +e
timeout -k 5 300 "$DF_BIN" run "$WORK/three.json" --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" \
    --executor workers >"$WORK/run.out" 2>"$WORK/run.err"
rc=$?
set -e
ms=$(($(now_ms) - t0))
assert_eq 0 "$rc" "the run's exit code ($(tail -3 "$WORK/run.err"))"
note "3,000 tasks on 3 workers in $ms ms"
assert_contains "$(cat "$WORK/run.out")" "3000 tasks, 3000 succeeded" "the run's summary"
run="$(q "SELECT max(run_id) FROM run_history")"
assert_eq SUCCESS "$(q "SELECT state FROM run_history WHERE run_id = $run")" "run $run"
assert_eq "3000|3000" "$(q "SELECT count(*), count(*) FILTER (WHERE state = 'SUCCESS' AND attempts = 1)
                            FROM task_history WHERE run_id = $run")" "every task SUCCESS at its first attempt"
assert_eq "3000|0" "$(q "SELECT count(*), count(*) FILTER (WHERE lost) FROM work_history
                         WHERE run_id = $run")" "attempts in work_history, none lost"
shares="$(q "SELECT regexp_replace(worker, '.*:', '') || ' ' || count(*) FROM work_history
             WHERE run_id = $run GROUP BY worker ORDER BY 1")"
note "attempts per worker (pid count): $(tr '\n' ',' <<<"$shares")"
for i in 0 1 2; do
    n="$(awk -v p="${pids[i]}" '$1 == p { print $2 }' <<<"$shares")"
    [[ -n "$n" ]] || fail "worker $((i + 1)) (pid ${pids[i]}) ran no attempt: $shares"
    ((n >= 600)) || fail "worker $((i + 1)) ran $n of the 3000 attempts, less than a fifth: $shares"
done
# The invariants of tests/crash/invariants.sh that matter here, in three queries (inv_check takes
# minutes over 3,000 tasks through psql on a loaded machine).
assert_eq "" "$(q "SELECT task_id FROM task_events WHERE run_id = $run AND to_state = 'SUCCESS'
                   GROUP BY task_id HAVING count(*) > 1")" "no double SUCCESS"
assert_eq "" "$(q "SELECT task_id FROM attempt_history WHERE run_id = $run GROUP BY task_id
                   HAVING count(*) <> max(attempt)")" "attempts contiguous"
assert_eq "3000|0" "$(q "SELECT count(*), count(*) FILTER (WHERE outcome <> 'SUCCESS')
                         FROM attempt_history WHERE run_id = $run")" "one attempt per task, SUCCESS"
assert_eq "" "$(q "SELECT task_id FROM task_events WHERE run_id = $run AND to_state = 'RUNNING'
                   GROUP BY task_id HAVING count(*) <> 1")" "one RUNNING per task"
assert_eq 0 "$(q "SELECT count(*) FROM work_queue")" "the queue is empty"
for i in 0 1 2; do
    kill -TERM "${pids[i]}"
done
for i in 0 1 2; do
    set +e
    wait "${pids[i]}"
    rc=$?
    set -e
    assert_eq 0 "$rc" "worker $((i + 1))'s exit code after SIGTERM"
done
df_done
