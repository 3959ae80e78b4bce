#!/usr/bin/env bash
# test_netns_serve_adopt: two `serve` on two test hosts (network namespaces, netns_lib.sh) sharing
# the host's PostgreSQL over TCP, --run-lease-ms 3000. The link of the host whose serve started
# three runs is taken down in the middle of them: that serve can no longer renew its lease, and
# the other serve adopts the runs (within the lease plus a generous margin), which end SUCCESS with
# no task instance SUCCESS twice and attempts numbered without gaps. The link comes back: the cut
# serve then finds its lease lost (or its connection gone) and writes nothing over the adopter.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/run_lib.sh"
source "$(dirname "$0")/../e2e/serve_lib.sh"
source "$(dirname "$0")/netns_lib.sh"
df_setup
netns_setup 2
netns_cluster
need_builtin shell
"$DF_BIN" history --db "$DB" >/dev/null || fail "cannot open the test database"
LEASE=3000

mkdir wf
start=$(date -u -d "@$(($(date +%s) + 3))" +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d "@$(($(date +%s) + 6))" +%Y-%m-%dT%H:%M:%SZ)
cat >wf/cut.json <<EOF2
{"name": "cut", "schedule": {"interval_ms": 1000, "start_at": "$start", "end_at": "$end",
  "max_active_runs": 5, "catchup": "all"},
 "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "sleep 4"}},
           {"id": "b", "plugin": "shell", "depends_on": ["a"], "params": {"script": "sleep 1"}}]}
EOF2

# serving NAME: waits until the serve NAME says it serves.
serving() {
    local i log="$WORK/$1.log"
    for ((i = 0; i < 300; i++)); do
        grep -q 'dagflow serve: serving' "$log" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "serve $1 did not start: $(tail -5 "$log")"
}

netns_bg 1 A "$DF_BIN" serve --workflows "$WORK/wf" --db "$(netns_uri 1)" \
    --plugin-dir "$DF_TEST_PLUGIN_DIR" --run-lease-ms "$LEASE"
serving A
wait_for 30 "SELECT count(*) FROM runs WHERE workflow = 'cut'" 3
wait_for 30 "SELECT count(*) >= 1 FROM task_instances WHERE task_id = 'a' AND state = 'RUNNING'" 1
netns_bg 2 B "$DF_BIN" serve --workflows "$WORK/wf" --db "$(netns_uri 2)" \
    --plugin-dir "$DF_TEST_PLUGIN_DIR" --run-lease-ms "$LEASE"
serving B
ids=$(q "SELECT run_id FROM runs WHERE workflow = 'cut' AND state = 'RUNNING' ORDER BY run_id")
[[ -n "$ids" ]] || fail "no run of A left running"
assert_eq "$A_PID" "$(q "SELECT DISTINCT engine_pid FROM runs WHERE workflow = 'cut'")" "A owns the runs"

note "the link of A's host goes down"
t0=$(now_ms)
netns_link 1 down
# The runs to adopt are those A had not ended when its link went down: a run RUNNING when ids was
# read may have ended (its last task done) in the moment before the cut, under load (seen: run 1
# of 3 ended by A, then waited for in vain). A commits nothing more now, and B adopts no run
# before A's lease (3 s) has run out, so what is RUNNING now is what B must take over.
ids=$(q "SELECT run_id FROM runs WHERE workflow = 'cut' AND state = 'RUNNING' ORDER BY run_id")
[[ -n "$ids" ]] || fail "no run of A left running at the cut"
note "runs left to adopt: $(echo $ids)"
for id in $ids; do
    for ((i = 0; i < 300; i++)); do
        grep -q "run $id (cut) adopted" "$WORK/B.log" && break
        sleep 0.1
    done
    grep -q "run $id (cut) adopted" "$WORK/B.log" ||
        fail "run $id not adopted by B within 30 s of the cut: $(tail -20 "$WORK/B.log")"
done
note "B adopted every run $(($(now_ms) - t0)) ms after the cut (lease $LEASE ms)"
for id in $ids; do
    wait_for 60 "SELECT state FROM run_history WHERE run_id = $id" SUCCESS
    assert_eq "$B_PID" "$(q "SELECT engine_pid FROM runs WHERE run_id = $id")" "run $id: B owns it"
done

note "the link comes back"
netns_link 1 up
for ((i = 0; i < 400; i++)); do
    grep -qE "lost its lease|lost the connection|lost with the connection" "$WORK/A.log" && break
    kill -0 "$A_PID" 2>/dev/null || break
    sleep 0.1
done
note "A afterwards: $(grep -oE "lost its lease on the run|lost the connection[^;]*|lost with the connection" "$WORK/A.log" | sort | uniq -c | tr '\n' ' ')"
sleep 2
for id in $ids; do
    assert_eq SUCCESS "$(q "SELECT state FROM run_history WHERE run_id = $id")" "run $id stays SUCCESS"
    assert_eq "$B_PID" "$(q "SELECT engine_pid FROM runs WHERE run_id = $id")" "run $id: still B's"
done
assert_eq "" "$(q "SELECT run_id, task_id FROM task_events WHERE to_state = 'SUCCESS'
                   GROUP BY run_id, task_id HAVING count(*) > 1")" "no double SUCCESS"
assert_eq "" "$(q "SELECT run_id, task_id FROM attempt_history GROUP BY run_id, task_id
                   HAVING count(*) <> max(attempt)")" "attempts contiguous"
df_done
