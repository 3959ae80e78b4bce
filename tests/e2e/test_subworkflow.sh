#!/usr/bin/env bash
# test_subworkflow: the built-in `workflow` plugin end to end (SPEC §10): a parent whose task runs
# a child workflow (file relative to the parent's folder, params typed and templated) succeeds
# with the child's result {"run_id", "state", "tasks"} (child run recorded with trigger
# `workflow`, the parent's logical time and parent_run_id/parent_task_id; --concurrency 1 does not
# deadlock: the waiting task holds no slot); a failing child fails the parent's task; cancelling
# the parent cancels the child (its shell task's process group gone within 3 s); kill -9 in the
# middle of the child, then `resume` of the parent takes the same child run over and finishes
# both; kill -9, then `cancel` of the parent cancels both; a workflow that runs itself is a load
# error.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
need_builtin noop
need_builtin workflow

mkdir -p sub
cat >sub/child.json <<'EOF2'
{"name": "child", "params": {"n": 1, "fail": false},
 "tasks": [
  {"id": "a", "plugin": "shell", "params": {"script": "echo ${params.n}"}},
  {"id": "b", "plugin": "shell", "depends_on": ["a"],
   "params": {"script": "echo $$ > child.pgid; [ -f go ] || sleep 60; test ${params.fail} = false"}}
]}
EOF2
cat >parent.json <<'EOF2'
{"name": "parent", "params": {"fail": false},
 "tasks": [
  {"id": "pre", "plugin": "noop", "params": {"x": 1}},
  {"id": "sub", "plugin": "workflow", "depends_on": ["pre"],
   "params": {"file": "sub/child.json", "params": {"n": 42, "fail": "${params.fail}"}}},
  {"id": "post", "plugin": "noop", "depends_on": ["sub"],
   "params": {"child_state": "${tasks.sub.result.state}"}}
]}
EOF2

note "a child run that succeeds (--concurrency 1)"
touch sub/go
run_wf parent.json --concurrency 1
expect_rc 0 "parent run"
parent=$(q "SELECT run_id FROM run_history WHERE workflow = 'parent' ORDER BY run_id DESC LIMIT 1")
child=$(q "SELECT run_id FROM run_history WHERE workflow = 'child' ORDER BY run_id DESC LIMIT 1")
expect_run "$parent" SUCCESS
expect_run "$child" SUCCESS
assert_eq "workflow|$parent|sub" "$(q "SELECT trigger || '|' || parent_run_id || '|' || parent_task_id
    FROM run_history WHERE run_id = $child")" "the child's origin"
assert_eq "$(q "SELECT logical_time FROM run_history WHERE run_id = $parent")" \
    "$(q "SELECT logical_time FROM run_history WHERE run_id = $child")" "the child's logical time"
dfx status "$parent" --json
res="$(jv '.tasks[] | select(.id == "sub") | .result' "$DF_OUT")"
assert_eq "$child" "$(jv .run_id "$res")" "result.run_id"
assert_eq '"SUCCESS"' "$(jv .state "$res")" "result.state"
assert_eq '"42"' "$(jv .tasks.a.stdout "$res")" "result.tasks.a (the child's params)"
assert_eq '{"child_state":"SUCCESS"}' \
    "$(jv '.tasks[] | select(.id == "post") | .result' "$DF_OUT")" "the result seen downstream"

note "a child run that fails"
run_wf parent.json --param fail:=true
expect_rc 1 "parent of a failing child"
parent=$(q "SELECT run_id FROM run_history WHERE workflow = 'parent' ORDER BY run_id DESC LIMIT 1")
child=$(q "SELECT run_id FROM run_history WHERE workflow = 'child' ORDER BY run_id DESC LIMIT 1")
expect_run "$child" FAILED
expect_task "$parent" sub FAILED
expect_task "$parent" post UPSTREAM_FAILED
assert_eq "child run $child ended FAILED" \
    "$(q "SELECT error FROM task_history WHERE run_id = $parent AND task_id = 'sub'")" "the error"
rm -f sub/go

# start_parent NAME: runs parent.json in the background (RUN_PID) and waits until the child's
# task b is RUNNING with its process group written.
start_parent() {
    rm -f sub/child.pgid
    "$DF_BIN" run parent.json --db "$DB" >"$1.out" 2>"$1.err" &
    RUN_PID=$!
    for _ in $(seq 300); do
        [[ -s sub/child.pgid && "$(q "SELECT count(*) FROM task_history t JOIN run_history r
            ON r.run_id = t.run_id WHERE r.workflow = 'child' AND t.task_id = 'b'
            AND t.state = 'RUNNING'" 2>/dev/null)" == 1 ]] && break
        sleep 0.05
    done
    [[ -s sub/child.pgid ]] || fail "the child's task never started: $(cat "$1.err")"
    PARENT=$(q "SELECT run_id FROM run_history WHERE workflow = 'parent' ORDER BY run_id DESC
                LIMIT 1")
    CHILD=$(q "SELECT run_id FROM run_history WHERE workflow = 'child' ORDER BY run_id DESC
               LIMIT 1")
}

wait_pid() {
    for _ in $(seq 600); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    WAIT_RC=0
    wait "$1" || WAIT_RC=$?
}

note "cancelling the parent cancels the child"
start_parent c1
dfx cancel "$PARENT"
expect_rc 0 "cancel of the parent"
t0=$(now_ms)
while pgrep -g "$(cat sub/child.pgid)" >/dev/null; do
    (($(now_ms) - t0 < 3000)) || fail "the child's process group was there 3 s after the cancel"
    sleep 0.05
done
wait_pid "$RUN_PID"
assert_eq 1 "$WAIT_RC" "exit code of the cancelled parent"
expect_run "$PARENT" CANCELLED
expect_run "$CHILD" CANCELLED
expect_task "$PARENT" sub CANCELLED
expect_task "$CHILD" b CANCELLED
assert_eq CANCELLED "$(q "SELECT outcome FROM attempt_history WHERE run_id = $PARENT
                          AND task_id = 'sub'")" "the parent's attempt"

note "kill -9 in the middle of the child, then resume of the parent finishes both"
start_parent k1
kill -9 "$RUN_PID"
wait_pid "$RUN_PID"
kill -9 -- "-$(cat sub/child.pgid)" 2>/dev/null || true
touch sub/go
runs_before=$(q "SELECT count(*) FROM run_history")
dfx resume "$PARENT"
expect_rc 0 "resume of the parent"
expect_run "$PARENT" SUCCESS
expect_run "$CHILD" SUCCESS
assert_eq "$runs_before" "$(q "SELECT count(*) FROM run_history")" \
    "runs after the resume (the child was taken over, not started again)"
assert_eq "LOST SUCCESS" "$(q "SELECT group_concat(outcome, ' ') FROM (SELECT outcome FROM
    attempt_history WHERE run_id = $CHILD AND task_id = 'b' ORDER BY attempt)")" \
    "the child's task b attempts"
dfx status "$PARENT" --json
assert_eq "$CHILD" "$(jv '.tasks[] | select(.id == "sub") | .result.run_id' "$DF_OUT")" \
    "the parent's result names the same child"
rm -f sub/go

note "kill -9 in the middle of the child, then cancel of the parent cancels both"
start_parent k2
kill -9 "$RUN_PID"
wait_pid "$RUN_PID"
kill -9 -- "-$(cat sub/child.pgid)" 2>/dev/null || true
dfx cancel "$PARENT" --wait
expect_rc 0 "cancel of the dead engine's parent"
expect_run "$PARENT" CANCELLED
expect_run "$CHILD" CANCELLED

note "a workflow that runs itself is a load error"
cat >loop_a.json <<'EOF2'
{"name": "loop_a", "tasks": [{"id": "x", "plugin": "workflow", "params": {"file": "loop_b.json"}}]}
EOF2
cat >loop_b.json <<'EOF2'
{"name": "loop_b", "tasks": [{"id": "y", "plugin": "workflow", "params": {"file": "loop_a.json"}}]}
EOF2
runs_before=$(q "SELECT count(*) FROM run_history")
run_wf loop_a.json
expect_rc 2 "run of a workflow that runs itself"
assert_contains "$DF_ERR" "a workflow that runs itself" "the message"
assert_contains "$DF_ERR" "loop_b.json -> " "the chain"
assert_eq "$runs_before" "$(q "SELECT count(*) FROM run_history")" "runs recorded"
dfx validate loop_b.json
expect_rc 2 "validate of a workflow that runs itself"
cat >self.json <<'EOF2'
{"name": "self", "tasks": [{"id": "x", "plugin": "workflow", "params": {"file": "self.json"}}]}
EOF2
dfx validate self.json
expect_rc 2 "validate of a workflow that runs itself directly"
assert_contains "$DF_ERR" "a workflow that runs itself" "the message"
cat >missing.json <<'EOF2'
{"name": "missing", "tasks": [{"id": "x", "plugin": "workflow", "params": {"file": "nope.json"}}]}
EOF2
dfx validate missing.json
expect_rc 2 "validate of a workflow whose child file is missing"
assert_contains "$DF_ERR" "cannot read the child workflow" "the message"

run_done
