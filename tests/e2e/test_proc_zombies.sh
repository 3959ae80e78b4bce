#!/usr/bin/env bash
# test_proc_zombies: the engine is a child subreaper (SPEC §12), so a task's background processes
# are re-parented to it when the task's shell exits; once they end, the engine must reap them, or
# a long-running `serve` collects a zombie for every such process (seen: one per cancelled shell
# task). A later task of the same run counts the zombie children of its engine ($PPID).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
command -v ps >/dev/null || skip "ps is not installed"

cat >zombies.json <<JSON
{"name": "zombies", "tasks": [
  {"id": "spawn", "plugin": "shell", "params": {"script":
    "for i in 1 2 3; do sleep 0.2 & done; echo left three sleeps behind"}},
  {"id": "count", "plugin": "shell", "depends_on": ["spawn"], "params": {"script":
    "sleep 4; ps -o pid=,stat=,args= --ppid \$PPID > $WORK/children; awk '\$2 ~ /^Z/' $WORK/children | wc -l > $WORK/zombies"}}
]}
JSON
RUN_LIMIT=60 run_wf zombies.json
expect_rc 0
[[ -s "$WORK/zombies" ]] || fail "the count task wrote nothing"
note "children of the engine 4 s after the sleeps ended: $(tr '\n' ';' <"$WORK/children")"
assert_eq 0 "$(cat "$WORK/zombies")" "zombie children of the engine (the spawn task's three sleeps)"
df_done
