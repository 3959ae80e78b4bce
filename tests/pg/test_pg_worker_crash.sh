#!/usr/bin/env bash
# test_pg_worker_crash: SPEC §12 across hosts (issue 15 item 6) — a crash is charged to the task
# whose own code caused it whichever host resumes, and never to a task that did not:
#   1. a task whose plugin segfaults in `dagflow worker` (in-process, --executor workers): each
#      worker dies of SIGSEGV after its reporter marked the claim in the store ("recorded in the
#      store"), the engine records the attempt LOST and charged at once (well before the worker's
#      15 s lease could expire), and the workers the test restarts crash exactly three times: the
#      task ends FAILED ("own plugin code crashed"), attempts 1-3 LOST and charged, no fourth;
#      the independent task SUCCESS; the run FAILED (exit 1); invariants.
#   2. kill -9 of a worker from outside in the middle of an attempt charges nothing: the attempt
#      is LOST uncharged after the lease ("did not renew its lease"), runs again on the next
#      worker, the run SUCCESS.
#   3. an engine crashed by a task's own code (executor local) and resumed as from another host
#      (another XDG_RUNTIME_DIR: the crash record file is not there): the store holds the charge
#      (attempts.charged on the open attempt before the resume), so the third crash fails the task
#      with three charged LOST attempts, as on the crashing host.
#   4. a plugin that calls exit() in the engine: the open attempt is charged in the store too.
#   5. a plugin that calls exit() in `dagflow worker`: as 1 (the worker's exit guard reports it;
#      each worker exits with 3).
# Parts 1, 3, 4 and 5 need the CLI's crash handler, which a sanitizer build does not install.
set -euo pipefail
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/run_lib.sh"
source "$(dirname "$0")/../e2e/data/durability/dur_lib.sh"
df_test_pg || export DAGFLOW_TEST_DB=pg
dur_setup
need_plugin crash
df_is_pg_uri "$DB" || fail "DB is not a PostgreSQL URI: $DB"

# wait_file_contains FILE TEXT SECONDS
wait_file_contains() {
    local t0
    t0=$(now_ms)
    until grep -q -- "$2" "$1" 2>/dev/null; do
        (($(now_ms) - t0 < $3 * 1000)) || fail "no \"$2\" in $1 within $3 s: $(cat "$1" 2>/dev/null)"
        sleep 0.05
    done
}

# attempts RUN TASK: "N OUTCOME CHARGED,..." of the task's attempts (charged 0 when not).
attempts() {
    q "SELECT string_agg(attempt || ' ' || outcome || ' ' || COALESCE(charged, 0), ','
       ORDER BY attempt) FROM attempts WHERE run_id = $1 AND task_id = '$2'"
}

# crash_workers WF FILE RC LINE: runs FILE (workflow WF, whose task "boom" ends every worker that
# runs it) with --executor workers, starting workers one after the other (15 s leases) until the
# run ends; each crashed worker must exit with RC, say LINE and that its reporter marked the claim,
# and its attempt must be LOST within 10 s of its death (well before the lease). Sets ENGINE and
# crashes (how many workers boom ended).
crash_workers() {
    local wf="$1" file="$2" want_rc="$3" line="$4" k W t0 t_dead
    bg "engine-$wf" run "$file" --executor workers
    ENGINE=$BG_PID
    # (under load the engine may take a while to record the run: no worker before that)
    wait_sql "SELECT count(*) FROM run_history WHERE workflow = '$wf'" 60 "the run recorded"
    crashes=0
    for k in 1 2 3 4; do
        [[ "$(q "SELECT state FROM run_history WHERE workflow = '$wf'")" == RUNNING ]] || break
        bg "$wf-w$k" worker --lease-ms 15000
        W=$BG_PID
        t0=$(now_ms)
        # the worker claims boom and dies of it, or (after the third) finds nothing to claim
        while kill -0 "$W" 2>/dev/null && [[ "$(ps -o stat= -p "$W" 2>/dev/null)" != Z* ]]; do
            [[ "$(q "SELECT state FROM run_history WHERE workflow = '$wf'")" == RUNNING ]] || break
            (($(now_ms) - t0 < 30000)) || fail "worker $k neither crashed nor saw the run end in 30 s"
            sleep 0.05
        done
        if ! kill -0 "$W" 2>/dev/null || [[ "$(ps -o stat= -p "$W" 2>/dev/null)" == Z* ]]; then
            bg_wait "$W" 5 "$wf-w$k"
            expect_bg_rc "$want_rc" "$wf-w$k" "worker $k ended by its task"
            crashes=$((crashes + 1))
            assert_contains "$(cat "$WORK/$wf-w$k.err")" "$line" "worker $k's last line"
            assert_contains "$(cat "$WORK/$wf-w$k.err")" "the crash is recorded in the store: attempt $k of task \"boom\"" \
                "worker $k's reporter"
            t_dead=$(now_ms)
            wait_sql "SELECT count(*) FROM attempts a JOIN runs r ON r.run_id = a.run_id
                      WHERE r.workflow = '$wf' AND a.task_id = 'boom' AND a.attempt = $k
                      AND a.outcome = 'LOST'" 10 "attempt $k of boom LOST within 10 s of the crash (lease 15 s)"
            note "attempt $k LOST $(($(now_ms) - t_dead)) ms after worker $k died (its lease: 15 s)"
        else
            kill -TERM "$W"
            bg_wait "$W" 20 "$wf-w$k"
            expect_bg_rc 0 "$wf-w$k" "worker $k after SIGTERM"
        fi
    done
}

SANITIZE=0
grep -q '^DF_SANITIZE:BOOL=ON' "$DF_BUILD_DIR/CMakeCache.txt" 2>/dev/null && SANITIZE=1

if ((SANITIZE)); then
    note "sanitizer build: parts 1, 3, 4 and 5 are left out (no crash handler to attribute the fault)"
else
    note "1. a plugin that segfaults its worker every time: three charged losses fail the task"
    cat >boom.json <<'JSON'
{"name": "boom", "tasks": [
  {"id": "boom", "plugin": "crash", "params": {"segv": true}},
  {"id": "calm", "plugin": "noop"}
]}
JSON
    crash_workers boom boom.json 139 "crashed this worker with SIGSEGV"
    bg_wait "$ENGINE" 30 engine-boom
    expect_bg_rc 1 engine-boom "the run ended FAILED"
    run=$(q "SELECT run_id FROM run_history WHERE workflow = 'boom'")
    assert_eq 3 "$crashes" "workers crashed by boom"
    expect_run "$run" FAILED
    expect_task "$run" boom FAILED
    expect_task "$run" calm SUCCESS
    err=$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'boom'")
    assert_match "$err" "lost 3 times in a row" "error of boom"
    assert_match "$err" "own plugin code crashed" "error of boom"
    assert_eq "1 LOST 1,2 LOST 1,3 LOST 1" "$(attempts "$run" boom)" "attempts of boom (charged)"
    assert_contains "$(q "SELECT error FROM attempts WHERE run_id = $run AND task_id = 'boom'
                          AND attempt = 1")" "this task's plugin code crashed its worker" \
        "the LOST attempt's error"
    expect_invariants "$run" finished
    assert_eq 0 "$(q "SELECT count(*) FROM work_queue")" "the queue is empty"
fi

note "2. kill -9 of a worker from outside charges nothing"
cat >calm.json <<JSON
{"name": "calm", "tasks": [
  {"id": "nap", "plugin": "shell", "params": {"script": "echo \$\$ >>$WORK/pgids; sleep 3"}}
]}
JSON
bg engine2 run calm.json --executor workers
ENGINE=$BG_PID
bg k1 worker --lease-ms 2000
W=$BG_PID
wait_sql "SELECT count(*) FROM work_queue WHERE task_id = 'nap' AND state = 1
          AND worker LIKE '%:$W'" 30 "worker k1 claimed nap"
sleep 0.5
kill -9 "$W"
bg_wait "$W" 5 k1
bg k2 worker --lease-ms 2000
W2=$BG_PID
bg_wait "$ENGINE" 60 engine2
expect_bg_rc 0 engine2 "the run ended SUCCESS"
run=$(q "SELECT run_id FROM run_history WHERE workflow = 'calm'")
assert_eq "1 LOST 0,2 SUCCESS 0" "$(attempts "$run" nap)" "attempts of nap (not charged)"
assert_contains "$(q "SELECT error FROM attempts WHERE run_id = $run AND task_id = 'nap'
                      AND attempt = 1")" "did not renew its lease" "the LOST attempt's error"
expect_invariants "$run" finished
kill -TERM "$W2"
bg_wait "$W2" 20 k2
expect_bg_rc 0 k2 "worker k2 after SIGTERM"

if ((SANITIZE == 0)); then
    note "3. an engine crashed by a task, resumed as from another host: charged from the store"
    mkdir -m 700 hostA hostB
    cat >eng.json <<'JSON'
{"name": "eng", "tasks": [{"id": "boom", "plugin": "crash", "params": {"segv": true}}]}
JSON
    XDG_RUNTIME_DIR="$WORK/hostA" dfg run eng.json
    expect_rc 139 "run killed by its own task (SIGSEGV)"
    assert_eq 1 "$(grep -c . <<<"$DF_ERR")" "one line on stderr (the reporter adds none): $DF_ERR"
    run=$(q "SELECT run_id FROM run_history WHERE workflow = 'eng'")
    assert_eq "1 RUNNING 1" "$(attempts "$run" boom)" "the open attempt is charged in the store"
    for k in 1 2; do
        XDG_RUNTIME_DIR="$WORK/hostB" resume_fg "$run"
        expect_rc 139 "resume $k from host B (the task crashes the engine again)"
    done
    XDG_RUNTIME_DIR="$WORK/hostB" resume_fg "$run"
    expect_rc 1 "resume 3 from host B (run FAILED)"
    expect_task "$run" boom FAILED
    assert_eq "1 LOST 1,2 LOST 1,3 LOST 1" "$(attempts "$run" boom)" "attempts of boom (charged)"
    assert_match "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'boom'")" \
        "own plugin code crashed" "error of boom"
    expect_invariants "$run" finished
fi

if ((SANITIZE == 0)); then
    note "4. a plugin's exit() in the engine: charged in the store too (the exit guard reports it)"
    need_plugin exiter
    mkdir -m 700 -p hostC
    echo '{"name": "quit", "tasks": [{"id": "bye", "plugin": "exiter", "params": {"code": 0}}]}' >quit.json
    XDG_RUNTIME_DIR="$WORK/hostC" dfg run quit.json
    expect_rc 3 "run ended by its plugin's exit()"
    run=$(q "SELECT run_id FROM run_history WHERE workflow = 'quit'")
    assert_eq "1 RUNNING 1" "$(attempts "$run" bye)" "the open attempt is charged in the store"

    note "5. a plugin that calls exit() in every worker: charged as a crash, FAILED after three"
    echo '{"name": "bye", "tasks": [{"id": "boom", "plugin": "exiter", "params": {"code": 0}}]}' >bye.json
    crash_workers bye bye.json 3 "called exit() in its plugin's code and ended this worker"
    bg_wait "$ENGINE" 30 engine-bye
    expect_bg_rc 1 engine-bye "the run ended FAILED"
    run=$(q "SELECT run_id FROM run_history WHERE workflow = 'bye'")
    assert_eq 3 "$crashes" "workers ended by boom's exit()"
    expect_task "$run" boom FAILED
    assert_eq "1 LOST 1,2 LOST 1,3 LOST 1" "$(attempts "$run" boom)" "attempts of boom (charged)"
    expect_invariants "$run" finished
fi
df_done
