#!/usr/bin/env bash
# test_map_ported: the two ported dynamic-mapping examples (workflows/ported/) end in the states
# their originals document. Airflow's example_dynamic_task_mapping.py: add_one mapped over
# [1, 2, 3] (three mapped task instances, all success), sum_it success printing "Total was 9".
# Argo's loops-param-result.yaml: generate succeeds with [20, ..., 30], and sleep runs once per
# element (eleven children, all Succeeded), each saying how long it sleeps (shortened here by the
# workflow's seconds_scale param).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
PORTED="$E2E_DIR/../../workflows/ported"

note "Airflow example_dynamic_task_mapping"
run_wf "$PORTED/airflow_dynamic_task_mapping.json"
expect_rc 0 "airflow_dynamic_task_mapping"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" add_one SUCCESS
expect_task "$run" sum_it SUCCESS
assert_eq "0:SUCCESS 1:SUCCESS 2:SUCCESS" \
    "$(q "SELECT group_concat(m, ' ') FROM (SELECT map_index || ':' || state AS m FROM task_history
           WHERE run_id = $run AND task_id = 'add_one' AND map_index IS NOT NULL
           ORDER BY map_index) x")" "add_one's three mapped instances"
dfx logs "$run" sum_it
assert_contains "$DF_OUT" "Total was 9" "sum_it's output"

note "Argo loops-param-result"
run_wf "$PORTED/argo_loops_param_result.json" --param seconds_scale:=0.01
expect_rc 0 "argo_loops_param_result"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" generate SUCCESS
expect_task "$run" sleep SUCCESS
assert_eq "11|11" "$(q "SELECT count(*), sum(CASE WHEN state = 'SUCCESS' THEN 1 ELSE 0 END)
    FROM task_history WHERE run_id = $run AND task_id = 'sleep' AND map_index IS NOT NULL")" \
    "one sleep per generated number, all succeeded"
dfx status "$run" --json
assert_eq '["sleeping for 20 seconds\ndone","sleeping for 30 seconds\ndone"]' \
    "$(jv '[.tasks[] | select(.id == "sleep") | .instances[0, 10].result.stdout]' "$DF_OUT")" \
    "the first and last children's items, in order"
run_done
