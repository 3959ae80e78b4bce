#!/usr/bin/env bash
# test_expr_ported: the public examples ported to workflows/ported/ (issue 12), each run end to
# end and every task's final state checked against what the original system documents:
# - Airflow example_branch_operator: BranchPythonOperator follows the returned task id and skips
#   the other paths (their follow_ tasks are skipped by all_success), and each
#   none_failed_min_one_success join runs.
# - Airflow example_short_circuit_operator: a False condition skips its downstream tasks; with
#   ignore_downstream_trigger_rules=False only the direct ones, the rest by trigger rules, so
#   task_7 (all_done) runs while task_6 is skipped.
# - Argo exit-handlers: the entrypoint fails, the exit handler's notify and cry run, celebrate
#   (when status == Succeeded) is skipped, the workflow fails.
# - Argo retry-backoff: retried with backoff until it succeeds, at most 10 retries, and none
#   once maxDuration (retry_max_total_ms) has passed since the first attempt.
# - Dagu example_2: the precondition holds for "foo", the continued failure lets print done run,
#   the failure and exit handlers run, success and cancel do not; a precondition that does not
#   hold skips every step.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
need_builtin noop
P="$DF_SOURCE_DIR/workflows/ported"

# expect_states RUN "id=STATE ...": the listed tasks have these states.
expect_states() {
    local t
    for t in $2; do
        expect_task "$1" "${t%%=*}" "${t#*=}"
    done
}

note "every ported file names its source"
for f in "$P"/*.json; do
    assert_match "$(jq -r .description "$f")" '^Ported from .*[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+.* [^ ]+\.(py|yaml)' "$(basename "$f")"
done

note "Airflow example_branch_operator"
run_wf "$P/example_branch_operator.json" --param pick=c --param pick_ext_python=a --param pick_venv=d
expect_rc 0 "branch operator"
run=$(last_run)
expect_run "$run" SUCCESS
expect_states "$run" "run_this_first=SUCCESS branching=SUCCESS
    branch_a=SKIPPED follow_a=SKIPPED branch_b=SKIPPED follow_b=SKIPPED
    branch_c=SUCCESS follow_c=SUCCESS branch_d=SKIPPED follow_d=SKIPPED join=SUCCESS
    branching_ext_python=SUCCESS ext_py_a=SUCCESS ext_py_b=SKIPPED ext_py_c=SKIPPED ext_py_d=SKIPPED
    join_ext_python=SUCCESS branching_venv=SUCCESS venv_a=SKIPPED venv_b=SKIPPED venv_c=SKIPPED
    venv_d=SUCCESS join_venv=SUCCESS"
note "random choices (as the original): one path of each stage runs"
run_wf "$P/example_branch_operator.json"
expect_rc 0 "random branches"
run=$(last_run)
assert_eq "3|9" "$(q "SELECT sum(CASE WHEN state = 'SUCCESS' THEN 1 ELSE 0 END),
    sum(CASE WHEN state = 'SKIPPED' THEN 1 ELSE 0 END) FROM task_history WHERE run_id = $run
    AND (task_id LIKE 'follow%' OR task_id LIKE 'ext_py%' OR task_id LIKE 'venv%')")" \
    "one of four paths per stage"

note "Airflow example_short_circuit_operator"
run_wf "$P/example_short_circuit_operator.json"
expect_rc 0 "short circuit"
run=$(last_run)
expect_run "$run" SUCCESS
expect_states "$run" "condition_is_True=SUCCESS true_1=SUCCESS true_2=SUCCESS
    condition_is_False=SUCCESS false_1=SKIPPED false_2=SKIPPED
    task_1=SUCCESS task_2=SUCCESS short_circuit=SUCCESS task_3=SUCCESS task_4=SKIPPED
    task_5=SUCCESS task_6=SKIPPED task_7=SUCCESS"

note "Argo exit-handlers"
run_wf "$P/exit-handlers.json"
expect_rc 1 "the workflow fails on purpose"
run=$(last_run)
expect_run "$run" FAILED
expect_states "$run" "intentional-fail=FAILED notify=SUCCESS celebrate=SKIPPED cry=SUCCESS"
dfx status "$run" --json
assert_eq 'send e-mail: exit-handlers FAILED. Failed steps ["intentional-fail"]' \
    "$(jq -r '.tasks[] | select(.id == "notify") | .result.stdout' <<<"$DF_OUT")" "notify's message"
note "the same handlers after a success"
jq '.tasks[0].params.script = "echo fine"' "$P/exit-handlers.json" >exit-ok.json
run_wf exit-ok.json
expect_rc 0 "success"
expect_states "$(last_run)" "intentional-fail=SUCCESS notify=SUCCESS celebrate=SUCCESS cry=SKIPPED"

note "Argo retry-backoff"
run_wf "$P/retry-backoff.json" --param 'outcomes=1 1 0'
expect_rc 0 "succeeds on the third attempt"
run=$(last_run)
expect_task "$run" retry-backoff SUCCESS
assert_eq 3 "$(q "SELECT attempts FROM task_history WHERE run_id = $run")" "attempts"
# backoff 1 s then 2 s between the attempts
gap=$(ms_between "$(q "SELECT ended_at FROM attempt_history WHERE run_id = $run AND attempt = 2")" \
    "$(q "SELECT started_at FROM attempt_history WHERE run_id = $run AND attempt = 3")")
((gap >= 1900)) || fail "second backoff was $gap ms (want 2000)"
note "maxDuration: the same file with its times divided by 10 (0.1 s, cap 0.5 s, 6 s)"
jq '.tasks[0] += {"retry_delay_ms": 100, "retry_max_delay_ms": 500, "retry_max_total_ms": 1000}' \
    "$P/retry-backoff.json" >rb-fast.json
run_wf rb-fast.json --param 'outcomes=1 1 1 1 1 1 1 1 1 1 1'
expect_rc 1 "always fails"
run=$(last_run)
n=$(q "SELECT attempts FROM task_history WHERE run_id = $run")
# attempts start at about 0, 0.1, 0.3, 0.7 and 1.2 s: the one after 1 s is the last
((n >= 3 && n < 11)) || fail "maxDuration: $n attempts (want fewer than 11)"
assert_eq "retry_max_total_ms reached" \
    "$(q "SELECT detail FROM task_events WHERE run_id = $run AND to_state = 'FAILED'")" "why it stopped"

note "Dagu example_2"
run_wf "$P/example_2.json"
expect_rc 0 "continued failure (dagflow's run does not count it)"
run=$(last_run)
expect_states "$run" "check_precondition=SUCCESS print_foo=SUCCESS print_bar=SUCCESS
    failure_and_continue=FAILED print_done=SUCCESS on_exit=SUCCESS on_success=SKIPPED
    on_failure=SUCCESS on_cancel=SKIPPED"
dfx status "$run" --json
assert_eq 'foo|bar' "$(jq -r '[.tasks[] | select(.id == "print_foo" or .id == "print_bar") | .result.stdout] | join("|")' <<<"$DF_OUT")" "positional params"
note "a precondition that does not hold"
run_wf "$P/example_2.json" --param p1=baz
expect_rc 0 "all skipped"
run=$(last_run)
expect_states "$run" "check_precondition=SKIPPED print_foo=SKIPPED print_bar=SKIPPED
    failure_and_continue=SKIPPED print_done=SKIPPED on_exit=SUCCESS on_success=SUCCESS
    on_failure=SKIPPED on_cancel=SKIPPED"

run_done
