#!/usr/bin/env bash
# Two ways a run can end abruptly: a plugin calling exit() (dagflow must not exit 0, which means
# "run SUCCESS", with the run unfinished), and a second SIGINT (dagflow leaves at once with 130,
# takes the task's process group down with it, and the run stays resumable).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
df_db_setup
test_plugin exiter >/dev/null || skip "test plugin exiter.so not built"

cat >exit.json <<'JSON'
{"name": "exits", "tasks": [{"id": "bye", "plugin": "exiter", "params": {"code": 0}}]}
JSON
run_df run --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" exit.json
expect_rc 3 "a plugin calling exit(0)"
assert_contains "$DF_ERR" "dagflow: a plugin called exit() during run 1" "exit guard message"
# The hint works as printed: the same --db and --plugin-dir (issue 15, item 15).
assert_contains "$DF_ERR" "(continue it with \`dagflow resume 1 --db '$DB' --plugin-dir '$DF_TEST_PLUGIN_DIR'\`)" \
    "exit guard's resume command"
assert_eq "RUNNING" "$(df_sqlite "$DB" "SELECT state FROM runs WHERE run_id = 1")" "run left unfinished"

# A task whose shell ignores SIGTERM and SIGINT, with a child of its own.
cat >defiant.json <<'JSON'
{"name": "defiant", "tasks": [{"id": "s", "plugin": "shell",
  "params": {"script": "if [ \"$DAGFLOW_ATTEMPT\" = 1 ]; then trap '' TERM INT; echo $$ > group.pid; sleep 30 & wait; wait; fi; echo done"}}]}
JSON
"$DF_BIN" run --db "$DB" defiant.json >out.txt 2>err.txt &
pid=$!
for _ in $(seq 100); do [[ -s group.pid ]] && break; sleep 0.05; done
[[ -s group.pid ]] || fail "the task did not start"
pgid=$(cat group.pid)
kill -INT "$pid"
sleep 0.3
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
assert_eq 130 "$rc" "exit code after a second SIGINT"
assert_contains "$(cat err.txt)" "second signal: stopped at once; continue it with \`dagflow resume 2 --db '$DB'\`" \
    "message on the second signal"
# live members of the group (zombies waiting for init do not count)
alive() { ps -eo pgid=,stat= | awk -v g="$pgid" '$1 == g && $2 !~ /^Z/' | grep -c . || true; }
for _ in $(seq 30); do [[ $(alive) == 0 ]] && break; sleep 0.1; done
if [[ $(alive) != 0 ]]; then
    kill -KILL -- "-$pgid" 2>/dev/null || true
    fail "the task's process group $pgid was left behind"
fi
DF_ASSERTS=$((DF_ASSERTS + 1))
assert_eq "RUNNING" "$(df_sqlite "$DB" "SELECT state FROM runs WHERE run_id = 2")" "run left resumable"
run_df resume 2 --db "$DB"
expect_rc 0 "resume after the second SIGINT"
assert_eq "LOST SUCCESS " "$(df_sqlite "$DB" "SELECT outcome FROM attempts WHERE run_id = 2 ORDER BY attempt" | tr '\n' ' ')" "attempts"
df_done
