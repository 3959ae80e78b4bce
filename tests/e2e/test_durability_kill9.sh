#!/usr/bin/env bash
# test_durability_kill9: the engine killed with SIGKILL in the middle of a run, then `dagflow
# resume` (SPEC §3 LOST attempts, §6 resume, §7): 30 shell, sleep and counter tasks in a DAG
# (data/durability/kill9.json, at most 4 at once) are killed once 8 of them have succeeded and
# others are running. Then: the store passes integrity_check and the SPEC §3 invariants
# (tests/crash/invariants.sh); resume ends the run SUCCESS with exit 0; every task has exactly
# one SUCCESS attempt; the attempts open at the kill are LOST and their tasks went RUNNING ->
# QUEUED without using a retry (retries is 0); every shell and counter task ran at least once
# (each appends "<task> <attempt>" to runs.log when it starts), and no task whose SUCCESS was
# committed before the kill ran again. A resume that cannot find a plugin is refused without
# touching the run, and the resume works from the stored DAG while the workflow file is broken.
# Then two engines run two workflows in the same database;
# one is killed: the other one's run ends SUCCESS untouched, and the killed one resumes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup

cp "$DUR_DATA/kill9.json" wf.json
note "run 30 tasks, SIGKILL once 8 have succeeded while others run"
bg run run wf.json
wait_sql "SELECT (SELECT count(*) FROM task_history WHERE state = 'SUCCESS') >= 8 AND
                 (SELECT count(*) FROM task_history WHERE state = 'RUNNING') >= 1" 30 \
    "8 tasks SUCCESS and one RUNNING"
kill -9 "$BG_PID"
bg_wait "$BG_PID" 10 run
expect_bg_rc 137 run "exit status of the killed engine"
run=$(last_run)
assert_eq 1 "$run" "run id"

# What the kill left: the committed SUCCESS tasks (with their attempt counts and runs.log lines),
# the open attempts.
before_success="$(q "SELECT task_id || ' ' || attempts FROM task_history
                     WHERE run_id = $run AND state = 'SUCCESS' ORDER BY task_id")"
open_attempts="$(q "SELECT task_id || ' ' || attempt FROM attempt_history
                    WHERE run_id = $run AND outcome = 'RUNNING' ORDER BY task_id")"
n_before=$(wc -l <<<"$before_success")
note "at the kill: $n_before tasks SUCCESS, open attempts: ${open_attempts//$'\n'/, }"
((n_before >= 8)) || fail "expected at least 8 SUCCESS tasks at the kill, got $n_before"
[[ -n "$open_attempts" ]] || fail "expected attempts open at the kill"
cp runs.log runs.before
expect_invariants "$run" dead
# The stored run still says RUNNING (its engine died without a word); the view shows it RUNNING
# until the heartbeat is 30 s old.
assert_eq RUNNING "$(q "SELECT state FROM runs WHERE run_id = $run")" "stored state after the kill"

note "resume without the test plugins: refused, nothing changed"
events_before=$(q "SELECT count(*) FROM task_events WHERE run_id = $run")
DF_LAST_ARGS="resume $run (no --plugin-dir)"
set +e
"$DF_BIN" resume "$run" --db "$DB" >"$WORK/.stdout" 2>"$WORK/.stderr"
DF_RC=$?
set -e
DF_ERR="$(cat "$WORK/.stderr")"
expect_rc 2 "resume when a plugin of the run cannot be found"
assert_contains "$DF_ERR" "counter" "the message names the missing plugin"
assert_eq "$events_before" "$(q "SELECT count(*) FROM task_events WHERE run_id = $run")" \
    "events written by the refused resume"
assert_eq "$open_attempts" "$(q "SELECT task_id || ' ' || attempt FROM attempt_history
                                 WHERE run_id = $run AND outcome = 'RUNNING' ORDER BY task_id")" \
    "attempts still open after the refused resume"

note "resume (the workflow file is broken meanwhile: the stored DAG is used)"
mv wf.json wf.saved
echo '{"broken' >wf.json
resume_fg "$run"
mv wf.saved wf.json
expect_rc 0 "resume of the killed run"
expect_run "$run" SUCCESS
expect_invariants "$run" finished
assert_eq 30 "$(q "SELECT count(*) FROM task_history WHERE run_id = $run AND state = 'SUCCESS'")" \
    "tasks SUCCESS"
assert_eq 30 "$(q "SELECT count(*) FROM (SELECT task_id FROM attempt_history WHERE run_id = $run
                   AND outcome = 'SUCCESS' GROUP BY task_id HAVING count(*) = 1)")" \
    "tasks with exactly one SUCCESS attempt"

# The attempts open at the kill are LOST, and their tasks went back to QUEUED (no retry used).
while read -r task attempt; do
    assert_eq LOST "$(q "SELECT outcome FROM attempt_history WHERE run_id = $run
                         AND task_id = '$task' AND attempt = $attempt")" "outcome of $task attempt $attempt"
    assert_eq "the engine died during this attempt" \
        "$(q "SELECT error FROM attempt_history WHERE run_id = $run AND task_id = '$task'
              AND attempt = $attempt")" "error of the LOST attempt of $task"
    assert_contains "$(events "$run" "$task")" "RUNNING>QUEUED QUEUED>RUNNING RUNNING>SUCCESS" \
        "transitions of $task"
    assert_eq $((attempt + 1)) "$(q "SELECT attempts FROM task_history WHERE run_id = $run
                                     AND task_id = '$task'")" "attempts of $task"
done <<<"$open_attempts"
assert_eq "$(wc -l <<<"$open_attempts")" \
    "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND outcome = 'LOST'")" \
    "LOST attempts (exactly the ones open at the kill)"

# Tasks committed SUCCESS before the kill did not run again: same attempts, same runs.log lines.
while read -r task attempts; do
    assert_eq "$attempts" "$(q "SELECT attempts FROM task_history WHERE run_id = $run
                                AND task_id = '$task'")" "attempts of $task (SUCCESS before the kill)"
    assert_eq "$(grep -c "^$task " runs.before || true)" "$(grep -c "^$task " runs.log || true)" \
        "executions of $task (SUCCESS before the kill) in runs.log"
done <<<"$before_success"

# Every shell and counter task ran at least once, and never more often than it has attempts.
for task in $(jq -r '.tasks[] | select(.plugin != "sleep") | .id' wf.json); do
    n=$(grep -c "^$task " runs.log || true)
    attempts=$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = '$task'")
    ((n >= 1)) || fail "task $task never ran (runs.log has no line for it)"
    ((n <= attempts)) || fail "task $task ran $n times but has $attempts attempts"
    DF_ASSERTS=$((DF_ASSERTS + 1))
done
# Attempt numbers in runs.log are the attempts' numbers: no line names an attempt that does not
# exist.
while read -r task attempt; do
    assert_eq 1 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run
                      AND task_id = '$task' AND attempt = $attempt")" "attempt $attempt of $task in runs.log"
done <runs.log

note "two engines share the database; one is killed, the other goes on"
rm -f runs.log
cp "$DUR_DATA/kill9.json" wf_b.json
sed -i 's/"durability_kill9"/"durability_kill9_b"/' wf_b.json
bg a run wf.json
pid_a=$BG_PID
bg b run wf_b.json
pid_b=$BG_PID
wait_sql "SELECT count(*) = 2 FROM runs WHERE run_id > $run" 20 "both runs recorded"
run_a=$(q "SELECT run_id FROM runs WHERE run_id > $run AND workflow = 'durability_kill9'")
run_b=$(q "SELECT run_id FROM runs WHERE run_id > $run AND workflow = 'durability_kill9_b'")
wait_sql "SELECT count(*) >= 5 FROM task_history WHERE run_id = $run_a AND state = 'SUCCESS'" 30 \
    "5 tasks of run $run_a SUCCESS"
kill -9 "$pid_a"
bg_wait "$pid_a" 10 a
expect_bg_rc 137 a
expect_invariants "$run_a" dead
bg_wait "$pid_b" 30 b
expect_bg_rc 0 b "the engine that was not killed"
expect_run "$run_b" SUCCESS
expect_invariants "$run_b" finished
resume_fg "$run_a"
expect_rc 0 "resume of the killed engine's run"
expect_run "$run_a" SUCCESS
expect_invariants "$run_a" finished
assert_eq 0 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run_b AND outcome != 'SUCCESS'")" \
    "attempts of the other run that did not succeed"

df_done
