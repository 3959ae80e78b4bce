#!/usr/bin/env bash
# test_run_big_stream: a workflow file big enough to be loaded as a stream (4 MiB or more:
# engine/workflow_stream.c, issue 14) runs: 40,000 tasks in layers of 100, each depending on two
# tasks of the layer before, one of which fails on its first run. The run's stored DAG is the
# file's bytes; `retry` rebuilds the run from that stored DAG (streamed too) and finishes it.
# Also the memory: the whole process stays under a generous 600 MB (~80 MB here; the
# document alone, as jansson nodes, would be ~0.35 GB). Speed is tests/bench's, not this test's.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
command -v sqlite3 >/dev/null || skip "the sqlite3 shell is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
python3 - <<'PY'
import json
n, w = 40000, 100
tasks = []
for i in range(n):
    layer, k = divmod(i, w)
    t = {"id": "t%d_%d" % (layer, k), "plugin": "noop", "params": {"pad": "x" * 40}}
    if layer:
        t["depends_on"] = ["t%d_%d" % (layer - 1, k), "t%d_%d" % (layer - 1, (k + 1) % w)]
    tasks.append(t)
tasks[n // 2]["plugin"] = "shell"
tasks[n // 2]["params"] = {"script": "test -f ok"}
json.dump({"name": "big", "tasks": tasks, "defaults": {"retries": 0}}, open("wf.json", "w"))
PY
size=$(stat -c %s wf.json)
((size >= 4194304)) || fail "the file is $size bytes, under the 4 MiB the stream starts at"

/usr/bin/time -f "%M" -o rss.txt "$DF_BIN" run --db df.db wf.json >out.txt 2>err.txt && rc=0 || rc=$?
assert_eq 1 "$rc" "the first run fails (one task fails)"
rss_kb=$(tail -1 rss.txt)
if grep -q '^DF_SANITIZE:BOOL=ON' "$DF_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    note "sanitizer build: $rss_kb kB (the memory bound is left out: ASan's redzones and quarantine)"
else
    ((rss_kb < 600000)) || fail "the run took $rss_kb kB of memory"
    DF_ASSERTS=$((DF_ASSERTS + 1))
fi
assert_eq 40000 "$(sqlite3 df.db "SELECT count(*) FROM task_instances")" "task instances"
assert_eq "FAILED" "$(sqlite3 df.db "SELECT state FROM task_instances WHERE task_id = 't200_0'")" \
    "the failing task"
assert_eq 1 "$(sqlite3 df.db "SELECT dag = CAST(readfile('wf.json') AS TEXT) FROM run_dags")" \
    "the stored DAG is the file's bytes"

touch ok
run_df retry 1 --db df.db
expect_rc 0 "retry finishes the run from its stored DAG"
assert_eq 40000 "$(sqlite3 df.db "SELECT count(*) FROM task_instances WHERE state = 'SUCCESS'")" \
    "every task succeeded"
assert_eq "SUCCESS" "$(sqlite3 df.db "SELECT state FROM run_history")" "the run"
df_done
