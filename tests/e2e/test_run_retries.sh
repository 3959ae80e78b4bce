#!/usr/bin/env bash
# test_run_retries: retries end to end (SPEC §1 retry keys, §3 states and outcomes): a flaky task
# succeeding on its third attempt, retries exhausted, the delay formula
# min(retry_max_delay_ms, retry_delay_ms × retry_backoff^(k−1)) counted from the end of the failed
# attempt, jitter bounds, defaults, a permanent failure not retried, the transitions recorded in
# task_events (RUNNING -> UP_FOR_RETRY -> QUEUED -> RUNNING, seq increasing), and the downstream
# waiting for the final success.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_plugin flaky
need_plugin fail
need_builtin noop

# gaps RUN TASK: for each retry, the milliseconds between the end of the previous attempt and the
# start of the next one, space-separated.
gaps() {
    local prev_end="" start end out=""
    while IFS='|' read -r start end; do
        [[ -z "$prev_end" ]] || out+="$(ms_between "$prev_end" "$start") "
        prev_end="$end"
    done < <(q "SELECT started_at, ended_at FROM attempt_history WHERE run_id = $1 AND task_id = '$2'
                ORDER BY attempt")
    printf '%s' "${out% }"
}

# in_range VALUE LOW HIGH WHAT: LOW <= VALUE < HIGH.
in_range() {
    ((($1) >= ($2) && ($1) < ($3))) || fail "$4: $1 ms is not in [$2, $3)"
    DF_ASSERTS=$((DF_ASSERTS + 1))
}

note "flaky task failing twice with retries 2: SUCCESS on attempt 3, delays ~300 then ~600 ms"
cat >flaky.json <<'EOF'
{"name": "flaky", "tasks": [
  {"id": "f", "plugin": "flaky", "params": {"fail_times": 2},
   "retries": 2, "retry_delay_ms": 300, "retry_backoff": 2},
  {"id": "after", "plugin": "noop", "depends_on": ["f"], "params": {"n": "${tasks.f.result}"}}
]}
EOF
run_wf flaky.json
expect_rc 0 "a run whose flaky task eventually succeeds"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" f SUCCESS
expect_task "$run" after SUCCESS
assert_eq 3 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'f'")" "attempts"
assert_eq "1 FAILED,2 FAILED,3 SUCCESS" \
    "$(q "SELECT group_concat(attempt || ' ' || outcome, ',') FROM
            (SELECT attempt, outcome FROM attempt_history WHERE run_id = $run AND task_id = 'f'
             ORDER BY attempt)")" "attempt outcomes"
# The failed attempts carry an error, the successful one none.
assert_eq 2 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 'f'
                  AND outcome = 'FAILED' AND error IS NOT NULL AND error != ''")" "errors of failed attempts"
assert_eq "" "$(q "SELECT ifnull(error, '') FROM attempt_history WHERE run_id = $run AND task_id = 'f'
                   AND attempt = 3")" "error of the successful attempt"
read -r g1 g2 <<<"$(gaps "$run" f)"
note "retry gaps: ${g1} ms, ${g2} ms"
in_range "$g1" 250 1500 "delay before retry 1 (300 ms)"
in_range "$g2" 500 1500 "delay before retry 2 (600 ms)"
((g2 > g1)) || fail "the second delay ($g2 ms) should be longer than the first ($g1 ms) with backoff 2"
assert_eq ">PENDING PENDING>QUEUED QUEUED>RUNNING RUNNING>UP_FOR_RETRY UP_FOR_RETRY>QUEUED QUEUED>RUNNING RUNNING>UP_FOR_RETRY UP_FOR_RETRY>QUEUED QUEUED>RUNNING RUNNING>SUCCESS" \
    "$(events "$run" f)" "transitions of the flaky task"
# seq strictly increases over the run, and time never goes backwards along it.
assert_eq 0 "$(q "SELECT count(*) FROM task_events a JOIN task_events b
                  ON b.run_id = a.run_id AND b.seq > a.seq AND b.at < a.at WHERE a.run_id = $run")" \
    "events whose time goes backwards along seq"
assert_eq "$(q "SELECT count(*) FROM task_events WHERE run_id = $run")" \
    "$(q "SELECT count(DISTINCT seq) FROM task_events WHERE run_id = $run")" "distinct seq values"
# Each transition to RUNNING carries the attempt number it starts.
assert_eq "1,2,3" "$(q "SELECT group_concat(attempt, ',') FROM (SELECT attempt FROM task_events
                        WHERE run_id = $run AND task_id = 'f' AND to_state = 'RUNNING' ORDER BY seq)")" \
    "attempt numbers of the RUNNING transitions"
# The downstream started after the final success, and got its result.
f_end=$(q "SELECT ended_at FROM task_history WHERE run_id = $run AND task_id = 'f'")
a_start=$(q "SELECT started_at FROM task_history WHERE run_id = $run AND task_id = 'after'")
[[ ! "$a_start" < "$f_end" ]] || fail "downstream started ($a_start) before the flaky task ended ($f_end)"
dfx status "$run" --json
expect_rc 0
assert_eq 3 "$(jv '.tasks[] | select(.id == "f") | .attempts' "$DF_OUT")" "status --json attempts"

note "retries exhausted: FAILED after 1 + retries attempts, exit 1"
cat >exhaust.json <<'EOF'
{"name": "exhaust", "tasks": [
  {"id": "f", "plugin": "flaky", "params": {"fail_times": 10}, "retries": 2, "retry_delay_ms": 50},
  {"id": "after", "plugin": "noop", "depends_on": ["f"]}
]}
EOF
run_wf exhaust.json
expect_rc 1
run=$(last_run)
expect_run "$run" FAILED
expect_task "$run" f FAILED
expect_task "$run" after UPSTREAM_FAILED
assert_eq "FAILED,FAILED,FAILED" \
    "$(q "SELECT group_concat(outcome, ',') FROM (SELECT outcome FROM attempt_history
            WHERE run_id = $run AND task_id = 'f' ORDER BY attempt)")" "outcomes"
assert_eq 3 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'f'")"
err=$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'f'")
[[ -n "$err" ]] || fail "a FAILED task has no error in task_history"
assert_eq "RUNNING>FAILED" "$(q "SELECT from_state || '>' || to_state FROM task_events
                             WHERE run_id = $run AND task_id = 'f' ORDER BY seq DESC LIMIT 1")" \
    "last transition"
assert_eq 2 "$(q "SELECT count(*) FROM task_events WHERE run_id = $run AND task_id = 'f'
                  AND to_state = 'UP_FOR_RETRY'")" "UP_FOR_RETRY transitions"

note "retry_max_delay_ms caps the delay (200 ms x 10^(k-1), capped at 400 ms)"
cat >capped.json <<'EOF'
{"name": "capped", "tasks": [
  {"id": "f", "plugin": "flaky", "params": {"fail_times": 2},
   "retries": 2, "retry_delay_ms": 200, "retry_backoff": 10, "retry_max_delay_ms": 400}
]}
EOF
run_wf capped.json
expect_rc 0
run=$(last_run)
read -r g1 g2 <<<"$(gaps "$run" f)"
note "capped gaps: ${g1} ms, ${g2} ms"
in_range "$g1" 170 1000 "delay before retry 1 (200 ms)"
in_range "$g2" 350 1200 "delay before retry 2 (capped at 400 ms, not 2000)"

note "retry_jitter: each delay within [d/2, d], and different from one process to the next"
cat >jitter.json <<'EOF2'
{"name": "jitter", "tasks": [
  {"id": "f", "plugin": "flaky", "params": {"fail_times": 6},
   "retries": 6, "retry_delay_ms": 400, "retry_backoff": 1, "retry_jitter": true}
]}
EOF2
declare -a jg
for i in 1 2; do
    run_wf jitter.json
    expect_rc 0
    run=$(last_run)
    jg[i]=$(gaps "$run" f)
    note "jittered gaps of run $run: ${jg[i]}"
    for g in ${jg[i]}; do
        in_range "$g" 180 1000 "jittered delay (400 ms, jitter to [200, 400])"
    done
    assert_eq 6 "$(wc -w <<<"${jg[i]}" | tr -d ' ')" "number of retries"
done
# Two processes must not draw the same delays (an unseeded generator would make every engine
# retry in lockstep, which jitter is meant to avoid). Two uniform draws over [200, 400] agree
# within 15 ms with probability ~0.14, so at least 2 of 6 pairs differ by more, except with
# probability < 0.001; timing noise alone rarely moves two of them that far.
read -r -a j1 <<<"${jg[1]}"
read -r -a j2 <<<"${jg[2]}"
differ=0
for i in 0 1 2 3 4 5; do
    d=$((j1[i] - j2[i]))
    d=${d#-}
    ((d <= 15)) || differ=$((differ + 1))
done
((differ >= 2)) || soft_fail "retry_jitter draws the same delays in two processes (${jg[1]} vs ${jg[2]}): the random generator is not seeded"
DF_ASSERTS=$((DF_ASSERTS + 1))

note "a permanent failure is not retried"
cat >permanent.json <<'EOF'
{"name": "permanent", "tasks": [
  {"id": "perm", "plugin": "fail", "params": {"message": "bad input, do not retry"},
   "retries": 3, "retry_delay_ms": 50},
  {"id": "again", "plugin": "fail", "params": {"message": "try again", "retryable": true},
   "retries": 2, "retry_delay_ms": 50}
]}
EOF
run_wf permanent.json
expect_rc 1
run=$(last_run)
expect_task "$run" perm FAILED
assert_eq 1 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 'perm'")" \
    "attempts of a permanent failure"
assert_eq 0 "$(q "SELECT count(*) FROM task_events WHERE run_id = $run AND task_id = 'perm'
                  AND to_state = 'UP_FOR_RETRY'")" "retries of a permanent failure"
assert_eq "bad input, do not retry" \
    "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'perm'")" "its error"
expect_task "$run" again FAILED
assert_eq 3 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = 'again'")" \
    "attempts of a retryable failure"
assert_eq "try again" "$(q "SELECT error FROM attempt_history WHERE run_id = $run AND task_id = 'again'
                           AND attempt = 2")" "error of attempt 2"

note "defaults: retries from the workflow's defaults, a task's own value wins"
cat >defaults.json <<'EOF'
{"name": "defaults", "defaults": {"retries": 1, "retry_delay_ms": 50},
 "tasks": [
  {"id": "inherits", "plugin": "flaky", "params": {"fail_times": 1}},
  {"id": "overrides", "plugin": "flaky", "params": {"fail_times": 1}, "retries": 0}
]}
EOF
run_wf defaults.json
expect_rc 1
run=$(last_run)
expect_task "$run" inherits SUCCESS
assert_eq 2 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'inherits'")"
expect_task "$run" overrides FAILED
assert_eq 1 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = 'overrides'")"

note "retry delay is 1000 ms by default"
cat >default_delay.json <<'EOF'
{"name": "default_delay", "tasks": [
  {"id": "f", "plugin": "flaky", "params": {"fail_times": 1}, "retries": 1}
]}
EOF
run_wf default_delay.json
expect_rc 0
run=$(last_run)
g=$(gaps "$run" f)
in_range "$g" 900 2500 "default retry delay (1000 ms)"

run_done
