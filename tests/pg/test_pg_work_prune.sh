#!/usr/bin/env bash
# test_pg_work_prune: the worker queue's rows of runs whose engine is gone (SPEC §11, issue 13;
# store/work.h df_store_work_claim and df_store_work_prune):
#   - a run whose engine was killed (kill -9: still RUNNING, its lease of 1 s ends): no worker
#     claims its queued attempts (nothing of it runs) until `resume`, which drops them and runs
#     each task once on the worker; the run ends SUCCESS with the store's invariants, the queue
#     is empty and work_history names the worker of each attempt;
#   - rows of a run that ended without its engine collecting them (made here by ending a killed
#     engine's run in SQL, as an engine of an older dagflow could leave them) are dropped when a
#     worker starts ("dropped N queued attempts" in its log) and when an engine with
#     --executor workers starts.
# Before, a worker ran the dead engine's attempts at once (no engine would ever record them) and
# the rows stayed in work_queue.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/run_lib.sh"
source "$(dirname "$0")/../e2e/data/durability/dur_lib.sh"
df_test_pg || export DAGFLOW_TEST_DB=pg
dur_setup
df_is_pg_uri "$DB" || fail "DB is not a PostgreSQL URI: $DB"

# wf NAME: a workflow of three shell tasks, each leaving a file ran.NAME.TASK in $WORK/marks.
mkdir -p marks
wf() {
    python3 -c '
import json, sys
name, marks = sys.argv[1], sys.argv[2]
t = [{"id": "t%d" % i, "plugin": "shell",
      "params": {"script": "echo x >>%s/ran.%s.t%d" % (marks, name, i)}} for i in range(3)]
print(json.dumps({"name": name, "tasks": t}))' "$1" "$WORK/marks" >"$1.json"
}
wf stopped
wf killed
wf later

# queued RUN: how many rows of RUN the queue holds.
queued() {
    q "SELECT count(*) FROM work_queue WHERE run_id = $1"
}

# dead NAME RUN: runs NAME.json with --executor workers (run lease 1 s) and no worker, and kills
# the engine (kill -9) once the 3 attempts of run RUN are queued.
dead() {
    local e
    bg "$1" run "$1.json" --executor workers --run-lease-ms 1000
    e=$BG_PID
    wait_sql "SELECT count(*) = 3 FROM work_queue WHERE run_id = $2 AND state = 0" 20 \
        "3 queued rows of run $2"
    kill -9 "$e"
    bg_wait "$e" 10 "$1"
    assert_eq RUNNING "$(q "SELECT state FROM runs WHERE run_id = $2")" "stored state of run $2"
}

# ended RUN: ends run RUN in the store (FAILED) without touching its queue rows.
ended() {
    q "UPDATE runs SET state = 'FAILED', ended_at = heartbeat_at WHERE run_id = $1" >/dev/null
    assert_eq 3 "$(queued "$1")" "run $1's rows left behind"
}

note "run 1: its engine is killed (its lease of 1 s ends)"
dead killed 1
note "run 2: its engine is killed and the run ended without collecting its rows"
dead stopped 2
ended 2
sleep 1.5

note "a worker starts"
bg w1 worker --lease-ms 3000
W=$BG_PID
wait_sql "SELECT count(*) = 0 FROM work_queue WHERE run_id = 2" 10 "run 2's rows dropped"
grep -q "dropped 3 queued attempts of runs that are no longer running" "$WORK/w1.err" ||
    fail "the worker did not say it dropped the rows: $(cat "$WORK/w1.err")"
sleep 3
assert_eq "" "$(ls marks)" "nothing of the dead engines' runs ran"
assert_eq "3|0" "$(q "SELECT count(*), count(claim) FROM work_queue WHERE run_id = 1")" \
    "run 1's rows stay queued, unclaimed"

note "resume runs the killed engine's run on the worker"
dfg resume 1 --executor workers
expect_rc 0 "resume of run 1"
assert_eq SUCCESS "$(run_state 1)" "run 1 after resume"
assert_eq "ran.killed.t0 ran.killed.t1 ran.killed.t2" "$(ls marks | tr '\n' ' ' | sed 's/ $//')" \
    "each task of run 1 ran once"
for i in 0 1 2; do
    assert_eq x "$(cat "marks/ran.killed.t$i")" "t$i of run 1 ran once"
done
expect_invariants 1 finished
assert_eq 0 "$(q "SELECT count(*) FROM work_queue")" "the queue is empty"
assert_eq 3 "$(q "SELECT count(*) FROM work_history WHERE run_id = 1 AND NOT lost
                  AND worker LIKE '%:$W'")" "work_history: the worker ran run 1's attempts"

note "an engine with --executor workers drops the rows of ended runs when it starts"
kill -TERM "$W"
bg_wait "$W" 20 w1
expect_bg_rc 0 w1 "the worker after SIGTERM"
dead stopped 3
ended 3
bg later run later.json --executor workers
e=$BG_PID
wait_sql "SELECT count(*) = 0 FROM work_queue WHERE run_id = 3" 20 "run 3's rows dropped by the engine"
bg w2 worker --lease-ms 3000
W=$BG_PID
bg_wait "$e" 30 later
expect_bg_rc 0 later "a run with --executor workers"
assert_eq 0 "$(q "SELECT count(*) FROM work_queue")" "the queue is empty after it"
kill -TERM "$W"
bg_wait "$W" 20 w2
expect_bg_rc 0 w2 "the second worker after SIGTERM"
df_done
