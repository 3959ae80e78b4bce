#!/usr/bin/env bash
# Backpressure without serialising: with --queue-capacity 1 the pool's submission queue refuses
# all but one waiting job, but it drains as soon as a worker starts each one, so six 1 s sleeps
# still run side by side (the engine retries refused submissions shortly instead of waiting for
# the next completion).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
df_db_setup
python3 -c '
import json
print(json.dumps({"name": "qcap", "tasks": [
    {"id": "s%d" % i, "plugin": "sleep", "params": {"ms": 1000}} for i in range(6)]}))' >wf.json
start=$(date +%s%N)
run_df run --db "$DB" --queue-capacity 1 wf.json
ms=$((($(date +%s%N) - start) / 1000000))
expect_rc 0 "six sleeps through a queue of capacity 1"
[[ $ms -lt 3000 ]] || fail "took $ms ms: the tasks ran one after another (six 1 s sleeps)"
DF_ASSERTS=$((DF_ASSERTS + 1))
assert_eq 6 "$(df_sqlite "$DB" "SELECT count(*) FROM task_history WHERE state = 'SUCCESS'")" "tasks"
df_done
