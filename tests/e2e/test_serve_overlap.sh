#!/usr/bin/env bash
# test_serve_overlap: a slow scheduled workflow (each run 2.5 s, a fire time every second,
# max_active_runs 1) with overlap skip records the fire times reached while a run is in flight as
# skipped and never has two runs at once; with overlap queue it records them queued and starts
# them one after the other, oldest first (no skip, never two at once); with overlap
# cancel_running each fire time cancels the run in flight (CANCELLED) and starts once it has ended
# (never two at once); and a pool of 1 slot
# declared by two workflows is shared: their tasks never run at the same time (SPEC §9).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/serve_lib.sh"
run_setup
need_builtin shell

mkdir wf
for o in skip queue cancel_running; do
    cat >"wf/slow_$o.json" <<EOF2
{"name": "slow_$o", "schedule": {"cron": "* * * * * *", "overlap": "$o", "catchup": "none"},
 "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "sleep 2.5"}}]}
EOF2
done
for p in p1 p2; do
    cat >"wf/$p.json" <<EOF2
{"name": "$p", "pools": {"one": 1}, "schedule": {"cron": "*/2 * * * * *", "max_active_runs": 2},
 "tasks": [{"id": "a", "plugin": "shell", "pool": "one", "params": {"script": "sleep 0.4"}},
           {"id": "b", "plugin": "shell", "pool": "one", "params": {"script": "sleep 0.4"}}]}
EOF2
done

serve_start
sleep 9
serve_stop TERM
assert_eq 0 "$SERVE_RC" "serve exits 0"

decisions() { q "SELECT count(*) FROM schedule_log WHERE workflow = '$1' AND decision = '$2'"; }
# Runs of one workflow that overlap in time (ended ones; a run cut by the stop has no end).
overlaps() {
    q "SELECT count(*) FROM runs a JOIN runs b ON a.workflow = b.workflow AND a.run_id < b.run_id
       WHERE a.workflow = '$1' AND b.started_at < COALESCE(a.ended_at, 9223372036854775807)"
}
skipped=$(decisions slow_skip skipped)
note "slow_skip: $(decisions slow_skip run) run, $skipped skipped"
((skipped >= 3)) || fail "overlap skip recorded only $skipped skipped fire times"
assert_eq 0 "$(decisions slow_skip queued)" "overlap skip queues nothing"
assert_eq 0 "$(overlaps slow_skip)" "overlap skip: never two runs at once"

runs=$(decisions slow_queue run)
queued=$(decisions slow_queue queued)
note "slow_queue: $runs run, $queued still queued"
((runs >= 3)) || fail "overlap queue started only $runs runs in 9 s"
((queued >= 2)) || fail "overlap queue left $queued queued fire times (each run is 2.5 s)"
assert_eq 0 "$(decisions slow_queue skipped)" "overlap queue skips nothing"
assert_eq 0 "$(overlaps slow_queue)" "overlap queue: never two runs at once"
assert_eq 0 "$(q "SELECT count(*) FROM schedule_log a JOIN schedule_log b
                  ON a.workflow = b.workflow AND a.logical_time < b.logical_time
                  JOIN runs ra ON ra.run_id = a.run_id JOIN runs rb ON rb.run_id = b.run_id
                  WHERE a.workflow = 'slow_queue' AND ra.started_at > rb.started_at")" \
    "queued fire times start oldest first"

cancelled=$(q "SELECT count(*) FROM runs WHERE workflow = 'slow_cancel_running'
               AND state = 'CANCELLED'")
note "slow_cancel_running: $(decisions slow_cancel_running run) run, $cancelled cancelled"
((cancelled >= 2)) || fail "overlap cancel_running cancelled only $cancelled runs"
assert_eq 0 "$(decisions slow_cancel_running skipped)" "overlap cancel_running skips nothing"
assert_eq 0 "$(overlaps slow_cancel_running)" "overlap cancel_running: never two runs at once"
assert_contains "$(q "SELECT t.error FROM task_instances t JOIN runs r ON r.run_id = t.run_id
                      WHERE r.workflow = 'slow_cancel_running' AND r.state = 'CANCELLED'
                      ORDER BY r.run_id LIMIT 1")" "schedule overlap cancel_running" \
    "the cancelled task says why"

note "a pool of one slot shared by two workflows"
n=$(q "SELECT count(*) FROM attempts a JOIN runs r ON r.run_id = a.run_id
       WHERE r.workflow IN ('p1', 'p2') AND a.ended_at IS NOT NULL")
((n >= 6)) || fail "only $n attempts in the pool"
assert_eq 0 "$(q "SELECT count(*) FROM attempts a JOIN runs ra ON ra.run_id = a.run_id
                  JOIN attempts b ON (b.run_id, b.task_id) <> (a.run_id, a.task_id)
                  JOIN runs rb ON rb.run_id = b.run_id
                  WHERE ra.workflow IN ('p1', 'p2') AND rb.workflow IN ('p1', 'p2')
                  AND b.started_at >= a.started_at
                  AND b.started_at < COALESCE(a.ended_at, 9223372036854775807)")" \
    "never two attempts in the pool at once ($n attempts)"
((($(q "SELECT count(DISTINCT r.run_id) FROM runs r WHERE r.workflow IN ('p1','p2')") >= 4))) ||
    fail "too few runs of the pool workflows"
df_done
