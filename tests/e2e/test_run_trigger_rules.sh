#!/usr/bin/env bash
# test_run_trigger_rules: `dagflow run` end to end for every trigger rule of SPEC §3 — each rule
# against upstreams that succeed, fail or are skipped; UPSTREAM_FAILED vs SKIPPED when a rule can
# no longer be met; one_* rules and `always` firing before the other upstreams finish;
# propagation along chains; the run's state and exit code (SUCCESS 0 when every task is SUCCESS or
# SKIPPED, FAILED 1), all read from task_history, task_events, attempt_history and run_history.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_plugin fail
need_builtin noop
need_builtin sleep

# The cases: "ID RULE UPSTREAMS EXPECTED". Upstreams: s1, s2 succeed (noop); f1, f2 fail
# permanently (fail plugin); k1, k2 are SKIPPED (one_failed / all_failed over succeeded tasks);
# u1 is UPSTREAM_FAILED (below f1), which counts as a failure for its own downstream.
cases='
as_ok      all_success                 s1,s2    SUCCESS
as_fail    all_success                 s1,f1    UPSTREAM_FAILED
as_skip    all_success                 s1,k1    SKIPPED
af_ok      all_failed                  f1,f2    SUCCESS
af_succ    all_failed                  s1,f1    SKIPPED
af_skip    all_failed                  f1,k1    SKIPPED
ad_mix     all_done                    s1,f1,k1 SUCCESS
ak_ok      all_skipped                 k1,k2    SUCCESS
ak_succ    all_skipped                 k1,s1    SKIPPED
ak_fail    all_skipped                 k1,f1    SKIPPED
os_ok      one_success                 s1,f1    SUCCESS
os_fail    one_success                 f1,f2    UPSTREAM_FAILED
os_failsk  one_success                 f1,k1    UPSTREAM_FAILED
os_skip    one_success                 k1,k2    SKIPPED
of_ok      one_failed                  s1,f1    SUCCESS
of_succ    one_failed                  s1,s2    SKIPPED
of_skip    one_failed                  s1,k1    SKIPPED
od_succ    one_done                    s1,k1    SUCCESS
od_fail    one_done                    f1,k1    SUCCESS
od_skip    one_done                    k1,k2    SKIPPED
nf_ok      none_failed                 s1,k1    SUCCESS
nf_skip    none_failed                 k1,k2    SUCCESS
nf_fail    none_failed                 s1,f1    UPSTREAM_FAILED
nfm_ok     none_failed_min_one_success s1,k1    SUCCESS
nfm_skip   none_failed_min_one_success k1,k2    SKIPPED
nfm_fail   none_failed_min_one_success s1,f1    UPSTREAM_FAILED
ns_ok      none_skipped                s1,f1    SUCCESS
ns_skip    none_skipped                s1,k1    SKIPPED
al_fail    always                      f1       SUCCESS
al_skip    always                      k1,f2    SUCCESS
af_uf      all_failed                  u1,f2    SUCCESS
of_uf      one_failed                  u1,s1    SUCCESS
as_uf      all_success                 u1,s1    UPSTREAM_FAILED
nf_uf      none_failed                 u1,k1    UPSTREAM_FAILED
od_uf      one_done                    u1,k1    SUCCESS
ak_uf      all_skipped                 u1,k1    SKIPPED
ns_uf      none_skipped                u1,s1    SUCCESS
ad_uf      all_done                    u1,k1    SUCCESS
os_uf      one_success                 u1,s1    SUCCESS
'

# One JSON task per case, all noop.
tasks_json() {
    local id rule ups exp
    while read -r id rule ups exp; do
        [[ -n "$id" ]] || continue
        jq -cn --arg id "$id" --arg rule "$rule" --arg ups "$ups" \
            '{id: $id, plugin: "noop", trigger_rule: $rule, depends_on: ($ups | split(",")),
              params: {rule: $rule}}'
    done <<<"$cases"
}

note "every trigger rule over succeeded, failed and skipped upstreams"
{
    jq -cn '[{id: "s1", plugin: "noop", params: {}},
             {id: "s2", plugin: "noop", params: {}},
             {id: "f1", plugin: "fail", params: {message: "f1 broke"}},
             {id: "f2", plugin: "fail", params: {message: "f2 broke"}},
             {id: "k1", plugin: "noop", depends_on: ["s1"], trigger_rule: "one_failed", params: {}},
             {id: "k2", plugin: "noop", depends_on: ["s2"], trigger_rule: "all_failed", params: {}},
             {id: "u1", plugin: "noop", depends_on: ["f1"], params: {}}]
             | .[]'
    tasks_json
} | jq -s '{name: "rules", tasks: .}' >rules.json
run_wf rules.json
expect_rc 1 "a run with failed tasks"
run=$(last_run)
assert_eq 1 "$run" "first run id"
expect_run "$run" FAILED
expect_task "$run" s1 SUCCESS
expect_task "$run" s2 SUCCESS
expect_task "$run" f1 FAILED
expect_task "$run" f2 FAILED
expect_task "$run" k1 SKIPPED
expect_task "$run" k2 SKIPPED
expect_task "$run" u1 UPSTREAM_FAILED
while read -r id rule ups exp; do
    [[ -n "$id" ]] || continue
    assert_eq "$exp" "$(task_state "$run" "$id")" "task $id ($rule over $ups)"
done <<<"$cases"
total=$(q "SELECT count(*) FROM task_history WHERE run_id = $run")
assert_eq $((7 + $(grep -c . <<<"$cases"))) "$total" "tasks recorded"

note "tasks that never ran have no attempt and went PENDING -> final directly"
for id in k1 k2 u1 as_uf ak_uf as_fail as_skip af_succ os_fail os_skip ns_skip; do
    assert_eq 0 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = '$id'")" \
        "attempts of $id"
    assert_eq 0 "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = '$id'")" \
        "attempt rows of $id"
    st=$(task_state "$run" "$id")
    assert_eq ">PENDING PENDING>$st" "$(events "$run" "$id")" "transitions of $id"
done
# Ran ones went through QUEUED and RUNNING.
assert_eq ">PENDING PENDING>QUEUED QUEUED>RUNNING RUNNING>SUCCESS" "$(events "$run" af_ok)" \
    "transitions of af_ok"
assert_eq ">PENDING PENDING>QUEUED QUEUED>RUNNING RUNNING>FAILED" "$(events "$run" f1)" \
    "transitions of f1"
assert_eq "f1 broke" "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'f1'")" \
    "error of f1"
# The run's counters.
assert_eq "$total" "$(q "SELECT tasks_total FROM run_history WHERE run_id = $run")" "tasks_total"
succeeded=$(q "SELECT count(*) FROM task_history WHERE run_id = $run AND state = 'SUCCESS'")
assert_eq "$succeeded" "$(q "SELECT tasks_succeeded FROM run_history WHERE run_id = $run")" \
    "tasks_succeeded"
failed=$(q "SELECT count(*) FROM task_history WHERE run_id = $run
             AND state IN ('FAILED', 'UPSTREAM_FAILED')")
assert_eq "$failed" "$(q "SELECT tasks_failed FROM run_history WHERE run_id = $run")" "tasks_failed"

note "propagation: a fails -> b UPSTREAM_FAILED -> c UPSTREAM_FAILED"
cat >chain.json <<'EOF'
{"name": "chain", "tasks": [
  {"id": "a", "plugin": "fail", "params": {"message": "a is down"}},
  {"id": "b", "plugin": "noop", "depends_on": ["a"]},
  {"id": "c", "plugin": "noop", "depends_on": ["b"]},
  {"id": "d", "plugin": "noop", "depends_on": ["c"], "trigger_rule": "all_done"},
  {"id": "e", "plugin": "noop", "depends_on": ["c"], "trigger_rule": "none_failed"}
]}
EOF
run_wf chain.json
expect_rc 1
run=$(last_run)
assert_eq 2 "$run" "second run id"
expect_run "$run" FAILED
expect_task "$run" a FAILED
expect_task "$run" b UPSTREAM_FAILED
expect_task "$run" c UPSTREAM_FAILED
expect_task "$run" d SUCCESS
expect_task "$run" e UPSTREAM_FAILED

note "propagation: all_failed over succeeded upstreams -> SKIPPED -> its all_success downstream SKIPPED; run SUCCESS"
cat >skipchain.json <<'EOF'
{"name": "skipchain", "tasks": [
  {"id": "ok", "plugin": "noop"},
  {"id": "on_failure", "plugin": "noop", "depends_on": ["ok"], "trigger_rule": "all_failed"},
  {"id": "after", "plugin": "noop", "depends_on": ["on_failure"]},
  {"id": "after2", "plugin": "noop", "depends_on": ["after"]},
  {"id": "report", "plugin": "noop", "depends_on": ["after2", "ok"], "trigger_rule": "none_failed_min_one_success"}
]}
EOF
run_wf skipchain.json
expect_rc 0 "a run of SUCCESS and SKIPPED tasks"
run=$(last_run)
expect_run "$run" SUCCESS
expect_task "$run" ok SUCCESS
expect_task "$run" on_failure SKIPPED
expect_task "$run" after SKIPPED
expect_task "$run" after2 SKIPPED
expect_task "$run" report SUCCESS

note "a run whose tasks all succeed: SUCCESS, exit 0"
cat >allok.json <<'EOF'
{"name": "allok", "tasks": [
  {"id": "a", "plugin": "noop"}, {"id": "b", "plugin": "noop", "depends_on": ["a"]},
  {"id": "c", "plugin": "noop", "depends_on": ["a"]},
  {"id": "d", "plugin": "noop", "depends_on": ["b", "c"]}
]}
EOF
run_wf allok.json
expect_rc 0
run=$(last_run)
expect_run "$run" SUCCESS
assert_eq "4|4|0" "$(q "SELECT tasks_total, tasks_succeeded, tasks_failed FROM run_history
                        WHERE run_id = $run")" "counters of an all-success run"
# Downstream tasks start only after their upstreams ended.
d_start=$(q "SELECT started_at FROM task_history WHERE run_id = $run AND task_id = 'd'")
for up in b c; do
    up_end=$(q "SELECT ended_at FROM task_history WHERE run_id = $run AND task_id = '$up'")
    [[ ! "$d_start" < "$up_end" ]] || fail "d started ($d_start) before $up ended ($up_end)"
done

note "one_success, one_failed, one_done and always fire without waiting for a slow upstream"
cat >early.json <<'EOF'
{"name": "early", "tasks": [
  {"id": "slow", "plugin": "sleep", "params": {"ms": 2000}},
  {"id": "quick_ok", "plugin": "noop"},
  {"id": "quick_bad", "plugin": "fail", "params": {"message": "quick failure"}},
  {"id": "os", "plugin": "noop", "depends_on": ["slow", "quick_ok"], "trigger_rule": "one_success"},
  {"id": "of", "plugin": "noop", "depends_on": ["slow", "quick_bad"], "trigger_rule": "one_failed"},
  {"id": "od", "plugin": "noop", "depends_on": ["slow", "quick_bad"], "trigger_rule": "one_done"},
  {"id": "al", "plugin": "noop", "depends_on": ["slow"], "trigger_rule": "always"},
  {"id": "ad", "plugin": "noop", "depends_on": ["slow", "quick_ok"], "trigger_rule": "all_done"}
]}
EOF
run_wf early.json
expect_rc 1
run=$(last_run)
slow_end=$(q "SELECT ended_at FROM task_history WHERE run_id = $run AND task_id = 'slow'")
for id in os of od al; do
    expect_task "$run" "$id" SUCCESS
    t=$(q "SELECT ended_at FROM task_history WHERE run_id = $run AND task_id = '$id'")
    gap=$(ms_between "$t" "$slow_end")
    ((gap > 1000)) || fail "$id ended only ${gap} ms before the slow upstream did; it should not wait for it"
    DF_ASSERTS=$((DF_ASSERTS + 1))
done
expect_task "$run" ad SUCCESS
ad_start=$(q "SELECT started_at FROM task_history WHERE run_id = $run AND task_id = 'ad'")
[[ ! "$ad_start" < "$slow_end" ]] || fail "all_done task started ($ad_start) before slow ended ($slow_end)"

note "an always task may not reference its upstreams' results (it does not wait for them)"
cat >always_ref.json <<'EOF'
{"name": "always_ref", "tasks": [
  {"id": "a", "plugin": "noop"},
  {"id": "b", "plugin": "noop", "depends_on": ["a"], "trigger_rule": "always",
   "params": {"x": "${tasks.a.result}"}}
]}
EOF
before=$(last_run)
run_wf always_ref.json
expect_rc 2 "an always task referencing an upstream's result"
assert_contains "$DF_ERR" '"b"' "the error names the task"
assert_eq "$before" "$(last_run)" "runs recorded"

run_done
