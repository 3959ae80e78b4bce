#!/usr/bin/env bash
# A plugin may set a huge error (here 1 MiB): it is stored cut to 64 KiB, and alerts carry at most
# 4 KiB of it, so a command sink (which gets it in DAGFLOW_ERROR) is still delivered.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
df_db_setup
test_plugin fail >/dev/null || skip "test plugin fail.so not built"
cat >sink.sh <<'SH'
#!/bin/sh
printf '%s' "$DAGFLOW_ERROR" | wc -c > env_error_bytes
SH
chmod +x sink.sh
python3 - <<'PY'
import json
json.dump({"name": "long_error",
           "alerts": [{"type": "command", "argv": ["./sink.sh"], "on": ["task_failed"]}],
           "tasks": [{"id": "huge", "plugin": "fail", "params": {"message": "x" * (1 << 20)}}]},
          open("wf.json", "w"))
PY
run_df run --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" wf.json
expect_rc 1 "failing run"
stored=$(df_sqlite "$DB" "SELECT length(error) FROM attempt_history WHERE task_id = 'huge'")
[[ $stored -le 65536 && $stored -gt 60000 ]] || fail "stored error length $stored, expected about 64 KiB"
DF_ASSERTS=$((DF_ASSERTS + 1))
assert_eq "delivered" "$(df_sqlite "$DB" "SELECT status FROM alert_history WHERE event = 'task_failed'")" "alert status"
bytes=$(tr -d ' ' <env_error_bytes)
[[ $bytes -le 4096 && $bytes -gt 4000 ]] || fail "DAGFLOW_ERROR had $bytes bytes, expected about 4 KiB"
DF_ASSERTS=$((DF_ASSERTS + 1))
df_done
