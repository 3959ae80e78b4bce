#!/usr/bin/env bash
# test_netns_worker_cut: a `dagflow worker` cut off from PostgreSQL by a network fault (issue 13,
# SPEC §11). Each round: worker A runs in test host 1 (a network namespace, netns_lib.sh) and
# claims the attempt of task `long` (a shell task sleeping 8 s); worker B starts in test host 2;
# the engine (--executor workers, lease 2 s) runs on the host. A's link is taken down. Then:
#   - the attempt is re-claimed and runs again on B within the lease + 2 s (+ slack for load);
#   - A cancels its attempt by its own clock although its renewal hangs in the cut: the task's
#     process group is gone within the lease + 2 s, and A logs it;
#   - A, unable to renew or reconnect (DAGFLOW_PG_RETRY_MS=2000), stops with exit 3 and a
#     `dagflow: store: ...` message (its connection times out after its lease, not after the
#     system's ~15 minutes of TCP retransmissions);
#   - the run ends SUCCESS; `long` has attempts "1 LOST, 2 SUCCESS", attempt 1 closed before
#     attempt 2 started (nothing recorded for it after its lease was lost), and the store's
#     invariants hold (tests/crash/invariants.sh: no double SUCCESS, attempts contiguous, every
#     task final); the queue is empty.
# Rounds: DF_NETNS_ROUNDS (default 3). Everything (namespaces, cluster, processes) is removed at
# exit, on failure too.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/run_lib.sh"
source "$(dirname "$0")/../crash/invariants.sh"
source "$(dirname "$0")/netns_lib.sh"
df_setup
netns_setup 2
PGIDS_FILES=()
cut_cleanup() {
    local f p
    for f in "${PGIDS_FILES[@]}"; do
        [[ -f "$f" ]] || continue
        while read -r p; do
            [[ "$p" =~ ^[0-9]+$ ]] && kill -9 -- "-$p" 2>/dev/null || true
        done <"$f"
    done
    netns_cleanup
}
trap cut_cleanup EXIT
netns_cluster
need_builtin shell
need_builtin noop
"$DF_BIN" history --db "$DB" >/dev/null || fail "cannot open the test database"
LEASE=2000
ROUNDS="${DF_NETNS_ROUNDS:-3}"
SLACK=1500

# wait_log FILE TEXT SECONDS
wait_log() {
    local t0
    t0=$(now_ms)
    until grep -qF -- "$2" "$1" 2>/dev/null; do
        (($(now_ms) - t0 < $3 * 1000)) || fail "no \"$2\" in $1 within $3 s: $(tail -20 "$1" 2>/dev/null)"
        sleep 0.05
    done
}

# wait_q SECONDS SQL WHAT: polls until SQL gives a non-empty, non-zero first row.
wait_q() {
    local t0 out
    t0=$(now_ms)
    while :; do
        out="$(q "$2" 2>/dev/null || true)"
        out="${out%%$'\n'*}"
        [[ -n "$out" && "$out" != 0 ]] && return 0
        (($(now_ms) - t0 < $1 * 1000)) || fail "waited $1 s for: $3"
        sleep 0.05
    done
}

# group_alive PGID: a process of that group is alive (zombies do not count).
group_alive() {
    ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'
}

# worker_in NS NAME: a worker in namespace NS (lease $LEASE, 2 s of reconnection), NAME_PID set.
worker_in() {
    netns_bg "$1" "$2" env DAGFLOW_PG_RETRY_MS=2000 "$DF_BIN" worker --db "$(netns_uri "$1")" \
        --lease-ms "$LEASE" --plugin-dir "$DF_TEST_PLUGIN_DIR"
    wait_log "$WORK/$2.log" "started" 30
}

# exit_code PID SECONDS: waits for the background PID to exit; EXIT_RC is its exit code
# ("timeout" when it is still running after SECONDS).
exit_code() {
    local t0
    t0=$(now_ms)
    while kill -0 "$1" 2>/dev/null && [[ "$(ps -o stat= -p "$1" 2>/dev/null)" != Z* ]]; do
        (($(now_ms) - t0 < $2 * 1000)) || { EXIT_RC=timeout; return 0; }
        sleep 0.05
    done
    set +e
    wait "$1"
    EXIT_RC=$?
    set -e
}

round() {
    local n="$1" a b engine run t_cut t_rerun t_gone t_stop pgid i out
    local pgids="$WORK/pgids.$n"
    PGIDS_FILES+=("$pgids")
    note "round $n: worker A$n in test host 1 claims the attempt"
    sed "s#PGIDS#$pgids#" "$WORK/cut.json.in" >"$WORK/cut$n.json"
    worker_in 1 "A$n"
    a="A${n}_PID"
    a="${!a}"
    "$DF_BIN" run "$WORK/cut$n.json" --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" \
        --executor workers >"$WORK/run$n.out" 2>"$WORK/run$n.err" &
    engine=$!
    NETNS_BGPIDS+=("$engine")
    wait_q 30 "SELECT count(*) FROM work_queue WHERE task_id = 'long' AND state = 1
               AND worker LIKE '%:$a'" "A$n claimed long"
    for ((i = 0; i < 200; i++)); do
        [[ -s "$pgids" ]] && break
        sleep 0.05
    done
    pgid="$(head -1 "$pgids" 2>/dev/null || true)"
    [[ "$pgid" =~ ^[0-9]+$ ]] || fail "the task's shell did not start on A$n"
    group_alive "$pgid" || fail "the task's process group $pgid is not alive before the cut"
    run="$(q "SELECT max(run_id) FROM run_history")"
    worker_in 2 "B$n"
    b="B${n}_PID"
    b="${!b}"

    note "round $n: the link of test host 1 goes down"
    t_cut=$(now_ms)
    netns_link 1 down
    t_gone=""
    t_rerun=""
    while :; do
        if [[ -z "$t_gone" ]] && ! group_alive "$pgid"; then t_gone=$(now_ms); fi
        if [[ -z "$t_rerun" && "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run
                AND task_id = 'long' AND attempt = 2")" == 1 ]]; then
            t_rerun=$(now_ms)
        fi
        [[ -n "$t_gone" && -n "$t_rerun" ]] && break
        (($(now_ms) - t_cut < 30000)) || break
        sleep 0.05
    done
    [[ -n "$t_rerun" ]] || fail "round $n: attempt 2 of long did not start within 30 s of the cut"
    [[ -n "$t_gone" ]] || fail "round $n: A$n did not stop the attempt's processes within 30 s:
$(ps -e -o pid=,pgid=,stat=,args= | awk -v g="$pgid" '$2 == g'); A$n: $(tail -5 "$WORK/A$n.log")"
    note "round $n: attempt 2 started $((t_rerun - t_cut)) ms after the cut, A's task processes gone after $((t_gone - t_cut)) ms (lease $LEASE ms)"
    ((t_rerun - t_cut <= LEASE + 2000 + SLACK)) ||
        fail "round $n: attempt 2 started $((t_rerun - t_cut)) ms after the cut (lease $LEASE ms)"
    ((t_gone - t_cut <= LEASE + 2000 + SLACK)) ||
        fail "round $n: A's task processes lived $((t_gone - t_cut)) ms after the cut (lease $LEASE ms)"
    assert_eq "$b" "$(q "SELECT regexp_replace(worker, '.*:', '') FROM work_queue
                         WHERE run_id = $run AND task_id = 'long'")" "attempt 2 is B$n's"

    exit_code "$a" 60
    t_stop=$(now_ms)
    assert_eq 3 "$EXIT_RC" "exit code of the cut-off worker A$n ($(tail -3 "$WORK/A$n.log"))"
    note "round $n: A$n stopped (exit 3) $((t_stop - t_cut)) ms after the cut"
    assert_contains "$(cat "$WORK/A$n.log")" "lease of run $run task long attempt 1 not renewed by its expiry" \
        "A$n's log"
    assert_contains "$(cat "$WORK/A$n.log")" "dagflow: store: " "A$n's last words"
    netns_link 1 up

    exit_code "$engine" 60
    assert_eq 0 "$EXIT_RC" "the engine's exit code ($(tail -3 "$WORK/run$n.err"))"
    assert_eq SUCCESS "$(q "SELECT state FROM run_history WHERE run_id = $run")" "run $run"
    assert_eq "1 LOST,2 SUCCESS" "$(q "SELECT group_concat(attempt || ' ' || outcome, ',' ORDER BY attempt)
        FROM attempt_history WHERE run_id = $run AND task_id = 'long'")" "attempts of long"
    assert_eq 1 "$(q "SELECT count(*) FROM attempt_history x JOIN attempt_history y
        ON y.run_id = x.run_id AND y.task_id = x.task_id AND y.attempt = 2
        WHERE x.run_id = $run AND x.task_id = 'long' AND x.attempt = 1
        AND x.ended_at <= y.started_at")" "attempt 1 closed before attempt 2 started"
    out="$(inv_check "$DB" "$run" finished)" || fail "store invariants violated: $out"
    kill -TERM "$b"
    exit_code "$b" 30
    assert_eq 0 "$EXIT_RC" "B$n's exit code after SIGTERM"
    assert_eq 0 "$(q "SELECT count(*) FROM work_queue")" "the queue is empty after round $n"
}

cat >"$WORK/cut.json.in" <<'EOF'
{"name": "cut", "tasks": [
  {"id": "pre", "plugin": "noop"},
  {"id": "long", "plugin": "shell", "depends_on": ["pre"],
   "params": {"script": "echo $$ >>PGIDS; sleep 8"}},
  {"id": "post", "plugin": "noop", "depends_on": ["long"]}]}
EOF
for ((r = 1; r <= ROUNDS; r++)); do
    round "$r"
done
assert_eq "" "$(q "SELECT run_id, task_id FROM task_events WHERE to_state = 'SUCCESS'
                   GROUP BY run_id, task_id HAVING count(*) > 1")" "no double SUCCESS"
df_done
