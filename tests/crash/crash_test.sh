#!/usr/bin/env bash
# crash_test.sh: kills the dagflow engine with SIGKILL at random moments, many times in a row, and
# checks after every kill that nothing was lost or done twice.
#
# What it does: generates a workflow of several hundred tasks (noop, sleep, shell, counter and
# flaky tasks in a layered DAG with fan-out and fan-in, and a mapped task of 12 instances whose
# invariants are checked instance by instance, ID[N]; shell and counter tasks append
# "<task> <attempt>" to runs.log when they start; flaky tasks fail their first attempt and are
# retried after a delay; a file alert sink records task_retry and run_succeeded), starts
# `dagflow run` on it, and then, over and
# over: waits a random time (from a few milliseconds, i.e. during start-up or resume, to a second
# and more), kills the engine with SIGKILL, checks the store, and continues the run with
# `dagflow resume`. When a run ends it is checked and a new one starts, until the number of kills
# asked for is reached; then the last run is resumed to its end without kills.
#
# After every kill (store checked with the sqlite3 shell, see invariants.sh):
#   - PRAGMA integrity_check is ok;
#   - every transition in task_events is allowed by SPEC §3's table, each one starts where the
#     previous one of its task ended, and the latest one ends in the task's state;
#   - no task has two SUCCESS attempts; attempts are numbered 1..N per task, one RUNNING event each;
#   - an attempt is open exactly when its task is RUNNING (at that attempt);
#   - a task that was SUCCESS at the previous check is still SUCCESS, with the same number of
#     attempts and of executions in runs.log (a committed SUCCESS is never re-run);
#   - an attempt open at the previous kill is now LOST, or still open (the next engine died before
#     taking the run over), never anything else;
#   - one task_retry alert row per transition to UP_FOR_RETRY (an alert is written with the state
#     change that raises it, SPEC §5).
# At the end of every run: it is SUCCESS, every task SUCCESS, no attempt open, invariants hold,
# and every alert of the run delivered (after a `resume` of the finished run when the engine was
# killed between the run's last commit and the delivery: SPEC §5 "an alert still pending when the
# engine dies is delivered on resume"), with a run_succeeded line in alerts.jsonl.
# Some tasks (about 1 in 40; none with a sanitizer build) are `segv` tasks: the crash plugin segfaults in their own code on
# their first 1 to 4 executions, which takes the engine down (exit 139) as a buggy plugin would;
# the run is then resumed like after a kill. SPEC §12: such a crash is charged to the task whose
# code crashed (the crash handler records it), never to the bystanders in flight; three charged
# LOST attempts in a row fail a task, ten uncharged ones. So the engine may end a run FAILED only
# because a segv task's own code crashed it three times in a row: such a failure is checked (its
# last three attempts LOST and charged, the error saying so), counted, and the run is continued
# with `dagflow retry`. Any other task FAILED (an innocent one blamed) is a failure of the test.
#
# Built with -DDF_SANITIZE=ON (--build of an ASan+UBSan build folder), a sanitizer report on an
# engine's stderr counts as a failure too.
#
# Usage: tests/crash/crash_test.sh [--kills N] [--short] [--tasks N] [--seed N] [--build DIR]
#                                  [--max-delay MS] [--keep] [--keep-going]
#   --kills N       kills to survive (default 50)
#   --short         CI mode: 5 kills over 120 tasks (well under 60 s)
#   --tasks N       tasks in the generated workflow (default 300)
#   --seed N        seed of bash's $RANDOM (default: from the clock; printed, to replay a failure)
#   --build DIR     build folder with dagflow, plugins/ and tests/plugins/ (default: $DF_BUILD_DIR,
#                   else build/ of the source tree)
#   --max-delay MS  longest wait before a kill (default 1500)
#   --keep          keep the work folder (the database, runs.log, the engines' output)
#   --keep-going    on a violated invariant, record it and go on (default: stop at the first)
# Exit status: 0 when every check passed, 1 otherwise (the failures are listed at the end),
# 2 on bad usage or a missing build.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
source "$HERE/invariants.sh"

KILLS=50
TASKS=300
SEED=""
BUILD="${DF_BUILD_DIR:-$SRC/build}"
MAX_DELAY=1500
KEEP=0
KEEP_GOING=0
while (($#)); do
    case "$1" in
    --kills) KILLS="$2"; shift 2 ;;
    --short) KILLS=5; TASKS=120; MAX_DELAY=800; shift ;;
    --tasks) TASKS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    --build) BUILD="$2"; shift 2 ;;
    --max-delay) MAX_DELAY="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --keep-going) KEEP_GOING=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "crash_test: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ "$KILLS" =~ ^[0-9]+$ && "$TASKS" =~ ^[0-9]+$ && "$MAX_DELAY" =~ ^[0-9]+$ && $TASKS -ge 10 ]] || {
    echo "crash_test: --kills, --max-delay and --tasks (>= 10) take numbers" >&2
    exit 2
}
DF_BIN="${DF_BIN:-$BUILD/dagflow}"
PLUGINS="${DF_TEST_PLUGIN_DIR:-$BUILD/tests/plugins}"
for f in "$DF_BIN" "$PLUGINS/counter.so" "$PLUGINS/flaky.so" "$PLUGINS/crash.so" "$BUILD/plugins/shell.so" "$BUILD/plugins/sleep.so"; do
    [[ -e "$f" ]] || { echo "crash_test: $f is missing: build first (or --build DIR)" >&2; exit 2; }
done
command -v sqlite3 >/dev/null || { echo "crash_test: the sqlite3 shell is needed" >&2; exit 2; }
# segv tasks need the CLI's crash handler, which a sanitizer build does not install.
SEGV=1
grep -q __asan_init "$DF_BIN" && SEGV=0
[[ -n "$SEED" ]] || SEED=$(($(date +%s%N) % 1000000))
RANDOM=$SEED

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dagflow-crash.XXXXXX")"
DB="$WORK/crash.db"
ENGINE_PID=""
cleanup() {
    [[ -z "$ENGINE_PID" ]] || kill -9 "$ENGINE_PID" 2>/dev/null || true
    if ((KEEP)); then
        echo "crash_test: work folder kept: $WORK"
    else
        rm -rf -- "$WORK"
    fi
}
trap cleanup EXIT
cd "$WORK"

now_ms() { date +%s%3N; }
log() { echo "crash_test: $*"; }

# ---- the workflow ------------------------------------------------------------------------------

# Layers of about 16 tasks; a task of layer L > 0 depends on 1 to 3 tasks of the two layers
# before it (fan-in), and a task is often the upstream of several (fan-out). Plugins by turn:
# noop, sleep 20-250 ms, shell (logs, then sleeps 20-200 ms), counter (logs), flaky (fails its
# first attempt; retries 2 after 20-300 ms).
gen_workflow() {
    local n="$1" width=16 i layer lo hi deps k d plugin params extra
    echo '{"name": "crash_test", "max_active_tasks": 24,'
    echo ' "alerts": [{"type": "file", "path": "alerts.jsonl", "on": ["task_retry", "run_succeeded"]}],'
    echo ' "tasks": ['
    for ((i = 0; i < n; i++)); do
        layer=$((i / width))
        deps=""
        if ((layer > 0)); then
            lo=$(((layer >= 2 ? layer - 2 : 0) * width))
            hi=$((layer * width))
            for ((k = 0; k < 1 + RANDOM % 3; k++)); do
                d="t$((lo + RANDOM % (hi - lo)))"
                [[ ",$deps," == *",\"$d\","* ]] || deps+="${deps:+,}\"$d\""
            done
        fi
        extra=""
        if ((SEGV && RANDOM % 40 == 0)); then
            plugin=crash params='{"segv": true, "path": "segv-t'$i'.log", "times": '$((1 + RANDOM % 4))'}'
            printf '  {"id": "t%d", "plugin": "%s", "depends_on": [%s], "params": %s%s}%s\n' \
                "$i" "$plugin" "$deps" "$params" "$extra" "$([[ $i -lt $((n - 1)) ]] && echo ,)"
            continue
        fi
        case $((RANDOM % 11)) in
        0 | 1 | 2) plugin=noop params='{"i": '$i'}' ;;
        10)
            plugin=flaky params='{"fail_times": 1}'
            extra=', "retries": 2, "retry_delay_ms": '$((20 + RANDOM % 281))
            ;;
        3 | 4 | 5) plugin=sleep params='{"ms": '$((20 + RANDOM % 231))'}' ;;
        6 | 7)
            plugin=shell
            params='{"script": "echo \"$DAGFLOW_TASK_ID $DAGFLOW_ATTEMPT\" >> runs.log; sleep 0.'$(printf '%02d' $((2 + RANDOM % 19)))'"}'
            ;;
        *) plugin=counter params='{"path": "runs.log"}' ;;
        esac
        printf '  {"id": "t%d", "plugin": "%s", "depends_on": [%s], "params": %s%s},\n' \
            "$i" "$plugin" "$deps" "$params" "$extra"
    done
    # A mapped task (SPEC §8) over the result of a task half-way: 12 instances, at most 4 at a
    # time, each logging "tmap[N] ATTEMPT" as shell tasks do; one of them flaky.
    printf '  {"id": "tmap", "plugin": "shell", "depends_on": ["t%d"], "for_each": [%s],\n' \
        $((n / 2)) "$(seq -s, 0 11)"
    printf '   "max_parallel": 4, "retries": 2, "retry_delay_ms": 50, "params": {"script": %s}}\n' \
        '"echo \"$DAGFLOW_TASK_ID[$DAGFLOW_MAP_INDEX] $DAGFLOW_ATTEMPT\" >> runs.log; if [ ${item} = 5 ] && [ $DAGFLOW_ATTEMPT = 1 ]; then exit 1; fi; sleep 0.1"'
    echo ']}'
}
gen_workflow "$TASKS" >wf.json

# ---- failures ----------------------------------------------------------------------------------

FAILURES=()
# failure MSG: records a violated check; stops unless --keep-going (a copy of the database is
# kept as failure-N.db either way).
failure() {
    local n=$((${#FAILURES[@]} + 1))
    FAILURES+=("$*")
    echo "crash_test: FAILURE $n: $*" >&2
    sqlite3 "$DB" ".backup '$WORK/failure-$n.db'" 2>/dev/null || true
    KEEP=1
    if ((!KEEP_GOING)); then
        finish
    fi
}

# ---- engines -----------------------------------------------------------------------------------

# start_engine ARGS...: dagflow ARGS in the background (ENGINE_PID); output in engine.out/err.
start_engine() {
    "$DF_BIN" "$@" --db "$DB" --plugin-dir "$PLUGINS" >"$WORK/engine.out" 2>"$WORK/engine.err" &
    ENGINE_PID=$!
}

# wait_engine: waits for ENGINE_PID; sets ENGINE_RC. A sanitizer report in its stderr (a build
# with -DDF_SANITIZE=ON) is a failure.
wait_engine() {
    set +e
    wait "$ENGINE_PID" 2>/dev/null
    ENGINE_RC=$?
    set -e
    ENGINE_PID=""
    if grep -aqE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$WORK/engine.err"; then
        cp "$WORK/engine.err" "$WORK/sanitizer-$KILLED.err"
        failure "sanitizer report from the engine (kept in sanitizer-$KILLED.err): $(grep -aE -m3 'ERROR:|runtime error:|#[0-3] ' "$WORK/engine.err" | head -c 1500)"
    fi
}

# random_delay_ms: a third of the kills within 60 ms of the start (start-up, loading the run,
# taking it over), the rest uniform up to MAX_DELAY.
random_delay_ms() {
    if ((RANDOM % 3 == 0)); then
        echo $((1 + RANDOM % 60))
    else
        echo $((1 + (RANDOM * 32768 + RANDOM) % MAX_DELAY))
    fi
}

# sleep_ms MS
sleep_ms() {
    sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# ---- checks ------------------------------------------------------------------------------------

RUN=""            # the run being crashed
declare -A DONE   # task -> "attempts executions" of tasks SUCCESS at the previous check
OPEN_BEFORE=""    # "task attempt" lines of attempts open at the previous kill

# executions TASK: lines of runs.log for TASK (a mapped instance: ID[N]).
executions() {
    [[ -f runs.log ]] || { echo 0; return; }
    awk -v t="$1" '$1 == t { n++ } END { print n + 0 }' runs.log
}

# check_after_kill: every invariant of the header, for RUN.
check_after_kill() {
    local out task attempts ex line outcome
    out="$(inv_check "$DB" "$RUN" dead)" || failure "after kill $KILLED: $out"
    # Committed SUCCESS tasks stay as they were.
    for task in "${!DONE[@]}"; do
        line="$(inv_isql "$DB" "SELECT state || ' ' || attempts FROM task_history h0
                               WHERE run_id = $RUN AND task_id = '$task'")"
        read -r attempts ex <<<"${DONE[$task]}"
        [[ "$line" == "SUCCESS $attempts" ]] ||
            failure "after kill $KILLED: task $task was SUCCESS with $attempts attempts, now: $line"
        [[ "$(executions "$task")" == "$ex" ]] ||
            failure "after kill $KILLED: task $task was SUCCESS and ran again ($ex executions before, $(executions "$task") now)"
    done
    # Attempts open at the previous kill: now LOST, or still open.
    while read -r task attempts; do
        [[ -n "$task" ]] || continue
        outcome="$(inv_isql "$DB" "SELECT outcome FROM attempt_history a0 WHERE run_id = $RUN
                                  AND task_id = '$task' AND attempt = $attempts")"
        [[ "$outcome" == LOST || "$outcome" == RUNNING ]] ||
            failure "after kill $KILLED: attempt $attempts of $task was open at the kill before; now $outcome (expected LOST)"
    done <<<"$OPEN_BEFORE"
    OPEN_BEFORE="$(inv_isql "$DB" "SELECT task_id || ' ' || attempt FROM attempt_history a0
                                  WHERE run_id = $RUN AND outcome = 'RUNNING'")"
    check_retry_alerts "after kill $KILLED"
    remember_done
}

# check_retry_alerts WHEN: one task_retry alert per transition to UP_FOR_RETRY, task by task.
check_retry_alerts() {
    local bad
    bad="$(inv_isql "$DB" "SELECT task_id, sum(ev), sum(al) FROM (
              SELECT task_id, 1 AS ev, 0 AS al FROM task_events e0
               WHERE run_id = $RUN AND to_state = 'UP_FOR_RETRY'
              UNION ALL
              SELECT task_id, 0, 1 FROM alert_history WHERE run_id = $RUN AND event = 'task_retry')
           GROUP BY task_id HAVING sum(ev) != sum(al) LIMIT 10")"
    [[ -z "$bad" ]] ||
        failure "$1: task_retry alerts do not match the UP_FOR_RETRY events (task|events|alerts): ${bad//$'\n'/; }"
}

# check_alerts_delivered: every alert of RUN delivered; a pending one (engine killed after the
# run's last commit) is delivered by `dagflow resume`.
check_alerts_delivered() {
    local pending bad
    pending="$(inv_sql "$DB" "SELECT count(*) FROM alert_history WHERE run_id = $RUN AND status = 'pending'")"
    if ((pending > 0)); then
        start_engine resume "$RUN"
        wait_engine
        [[ "$ENGINE_RC" == 0 ]] ||
            failure "run $RUN: resume to deliver $pending pending alerts exited $ENGINE_RC: $(tail -c 800 engine.err)"
        PENDING_REDELIVERED=$((PENDING_REDELIVERED + pending))
    fi
    bad="$(inv_sql "$DB" "SELECT alert_id || ' ' || event || ' ' || status || ' ' || ifnull(error, '')
             FROM alert_history WHERE run_id = $RUN AND status != 'delivered' LIMIT 5")"
    [[ -z "$bad" ]] || failure "run $RUN: alerts not delivered: ${bad//$'\n'/; }"
    grep -q "\"event\": *\"run_succeeded\".*\"run_id\": *$RUN[,}]\|\"run_id\": *$RUN[,}].*\"event\": *\"run_succeeded\"" \
        alerts.jsonl 2>/dev/null || failure "run $RUN: no run_succeeded line in alerts.jsonl"
    check_retry_alerts "end of run $RUN"
}

# remember_done: records the SUCCESS tasks of RUN (attempts, executions).
remember_done() {
    local task attempts
    DONE=()
    while IFS='|' read -r task attempts; do
        [[ -n "$task" ]] || continue
        DONE[$task]="$attempts $(executions "$task")"
    done < <(inv_isql "$DB" "SELECT task_id, attempts FROM task_history h0 WHERE run_id = $RUN
                            AND state = 'SUCCESS'")
}

# check_lost3_failures: a FAILED run is acceptable only when each FAILED task is a segv task
# whose own code crashed the engine on three attempts since its last attempt that was not LOST
# (LOST, charged to it: SPEC §12; uncharged losses in between do not break the streak), or a
# mapped task failed through such instances (each instance is checked as a task ID[N]); prints
# how many such tasks there are. Any other FAILED task or instance (an innocent one blamed for a
# kill or another task's crash) is a failure, counted in INNOCENT_FAILED.
INNOCENT_FAILED=0
check_lost3_failures() {
    local bad
    bad="$(inv_sql "$DB" "SELECT h.task_id || coalesce('[' || h.map_index || ']', '') || ': ' ||
                 ifnull(h.error, '') FROM task_history h
             WHERE h.run_id = $RUN AND h.state = 'FAILED'
               AND NOT (h.attempts = 0 AND h.error LIKE '% mapped instances failed') AND (
                   h.plugin != 'crash' OR
                   h.error NOT LIKE '%own plugin code crashed the engine%' OR
                   (SELECT count(*) FROM attempts a WHERE a.run_id = h.run_id
                      AND a.task_id = h.task_id AND a.map_index = ifnull(h.map_index, -1)
                      AND a.outcome = 'LOST' AND a.charged = 1
                      AND a.attempt > ifnull((SELECT max(b.attempt) FROM attempts b
                            WHERE b.run_id = h.run_id AND b.task_id = h.task_id
                              AND b.map_index = ifnull(h.map_index, -1)
                              AND b.outcome NOT IN ('LOST', 'RUNNING')), 0)) < 3)")"
    if [[ -n "$bad" ]]; then
        INNOCENT_FAILED=$((INNOCENT_FAILED + $(wc -l <<<"$bad")))
        failure "run $RUN: tasks FAILED for another reason than their own code crashing the engine three times: $bad"
    fi
    inv_sql "$DB" "SELECT count(*) FROM task_history WHERE run_id = $RUN AND state = 'FAILED'"
}

# check_run_end: the run ended (engine exit ENGINE_RC): SUCCESS with every task SUCCESS, or FAILED
# only through LOST attempts (then NEXT=retry).
RUNS_DONE=0
LOST3=0
SEGV_CRASHES=0
PENDING_REDELIVERED=0
check_run_end() {
    local out state n
    out="$(inv_check "$DB" "$RUN" finished)" || failure "end of run $RUN: $out"
    state="$(inv_sql "$DB" "SELECT state FROM run_history WHERE run_id = $RUN")"
    case "$ENGINE_RC:$state" in
    0:SUCCESS)
        n="$(inv_sql "$DB" "SELECT count(*) FROM task_history WHERE run_id = $RUN AND state != 'SUCCESS'")"
        [[ "$n" == 0 ]] || failure "run $RUN SUCCESS with $n tasks not SUCCESS"
        n="$(inv_sql "$DB" "SELECT count(*) FROM task_history WHERE run_id = $RUN
                            AND map_index IS NULL")"
        [[ "$n" == "$((TASKS + 1))" ]] || failure "run $RUN has $n tasks, not $((TASKS + 1))"
        n="$(inv_sql "$DB" "SELECT count(*) FROM task_history WHERE run_id = $RUN
                            AND task_id = 'tmap' AND map_index IS NOT NULL AND state = 'SUCCESS'")"
        [[ "$n" == 12 ]] || failure "run $RUN: $n instances of tmap SUCCESS, not 12"
        check_alerts_delivered
        RUNS_DONE=$((RUNS_DONE + 1))
        log "run $RUN SUCCESS after $((KILLED - RUN_FIRST_KILL)) kills"
        NEXT=run
        ;;
    1:FAILED)
        n="$(check_lost3_failures)"
        LOST3=$((LOST3 + n))
        log "run $RUN FAILED: $n task(s) crashed the engine with their own code three times in a row; retrying"
        NEXT=retry
        ;;
    *)
        failure "run $RUN: the engine exited $ENGINE_RC with the run $state; stderr: $(tail -c 1500 engine.err)"
        NEXT=resume
        ;;
    esac
}

# ---- the loop ----------------------------------------------------------------------------------

START_MS=$(now_ms)
finish() {
    local secs=$((($(now_ms) - START_MS) / 1000))
    trap - EXIT
    if ((${#FAILURES[@]})); then
        log "seed $SEED: $KILLED kills, $RUNS_DONE runs completed, ${#FAILURES[@]} FAILURES in ${secs}s:"
        local f
        for f in "${FAILURES[@]}"; do echo "  - $f"; done
        cleanup
        exit 1
    fi
    log "seed $SEED: $KILLED kills survived (plus $SEGV_CRASHES engine crashes by segv tasks' own code), $RUNS_DONE runs completed ($TASKS tasks each), $LOST3 tasks failed by three charged LOST attempts (their own plugin crashed) and retried, $INNOCENT_FAILED tasks failed by LOST without their own plugin crashing, $PENDING_REDELIVERED pending alerts delivered by resume, 0 failures, ${secs}s"
    cleanup
    exit 0
}

log "seed $SEED, $TASKS tasks, $KILLS kills, work folder $WORK"
KILLED=0
NEXT=run
RUN_FIRST_KILL=0
last_run_id() {
    local id
    id="$(inv_sql "$DB" "SELECT ifnull(max(run_id), 0) FROM runs" 2>/dev/null || echo 0)"
    echo "${id:-0}"
}
while ((KILLED < KILLS)); do
    case "$NEXT" in
    run) before_id=$( [[ -s "$DB" ]] && last_run_id || echo 0 ); start_engine run wf.json ;;
    resume) start_engine resume "$RUN" ;;
    retry) start_engine retry "$RUN" ;;
    esac
    delay=$(random_delay_ms)
    sleep_ms "$delay"
    if kill -9 "$ENGINE_PID" 2>/dev/null; then
        wait_engine
        KILLED=$((KILLED + 1))
        if [[ "$NEXT" == run ]]; then
            id=$(last_run_id)
            if ((id > before_id)); then
                RUN=$id RUN_FIRST_KILL=$((KILLED - 1)) DONE=() OPEN_BEFORE=""
                NEXT=resume
            else
                continue # killed before the run was recorded: start it again
            fi
        fi
        check_after_kill
        # What the killed engine left decides how to go on: a retry killed before it reopened
        # the run leaves it FAILED; an engine killed right after the run's last commit, SUCCESS.
        case "$(inv_sql "$DB" "SELECT state FROM runs WHERE run_id = $RUN")" in
        SUCCESS | FAILED)
            ENGINE_RC=$([[ "$(inv_sql "$DB" "SELECT state FROM runs WHERE run_id = $RUN")" == SUCCESS ]] &&
                echo 0 || echo 1)
            check_run_end
            ;;
        *) NEXT=resume ;;
        esac
        if ((KILLED % 10 == 0)); then
            log "$KILLED kills, run $RUN: $(inv_sql "$DB" "SELECT count(*) FROM task_history
                    WHERE run_id = $RUN AND state = 'SUCCESS' AND map_index IS NULL") of \
                    $((TASKS + 1)) tasks SUCCESS"
        fi
    else
        # The engine ended before the kill.
        wait_engine
        if [[ "$NEXT" == run ]]; then
            RUN=$(last_run_id) RUN_FIRST_KILL=$KILLED DONE=() OPEN_BEFORE=""
        fi
        if [[ "$ENGINE_RC" == 139 ]] && grep -q 'crashed the engine with SIGSEGV' "$WORK/engine.err"; then
            # A segv task's own code took the engine down: checked like a kill, then resumed.
            SEGV_CRASHES=$((SEGV_CRASHES + 1))
            check_after_kill
            case "$(inv_sql "$DB" "SELECT state FROM runs WHERE run_id = $RUN")" in
            SUCCESS) ENGINE_RC=0 && check_run_end ;;
            FAILED) ENGINE_RC=1 && check_run_end ;;
            *) NEXT=resume ;;
            esac
            continue
        fi
        check_run_end
    fi
done

# Finish the last run without kills.
if [[ "$NEXT" != run ]]; then
    for _ in $(seq 40); do
        start_engine "$NEXT" "$RUN"
        wait_engine
        if [[ "$ENGINE_RC" == 139 ]] && grep -q 'crashed the engine with SIGSEGV' "$WORK/engine.err"; then
            SEGV_CRASHES=$((SEGV_CRASHES + 1))
            NEXT=resume
            continue
        fi
        check_run_end
        [[ "$NEXT" == retry ]] || break
    done
    [[ "$NEXT" == run ]] || failure "run $RUN did not finish SUCCESS after the kills"
fi
finish
