#!/usr/bin/env bash
# test_cli_signals_output: no output is lost to Ctrl-C (issue 15, item 14). stderr, fully buffered
# when it is not a terminal, still reaches its file or pipe within a moment of each line (a reader
# such as `tee` dies with the same Ctrl-C, so lines held back until exit would never reach it); a
# second SIGINT leaves with 130 with every line printed before it, and its own message.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
test_plugin sleepy >/dev/null || skip "test plugin sleepy.so not built"

cat >twice.json <<'JSON'
{"name": "twice", "tasks": [{"id": "first", "plugin": "noop"},
  {"id": "nap", "plugin": "sleepy", "depends_on": ["first"],
   "params": {"ms": 60000, "ignore_cancel": true}}]}
JSON
"$DF_BIN" run twice.json --db t.db --plugin-dir "$DF_TEST_PLUGIN_DIR" >out.txt 2>err.txt &
pid=$!
trap 'kill -9 "$pid" 2>/dev/null || true; df_remove_work' EXIT

note "a progress line reaches its file while the run goes on"
for _ in $(seq 200); do
    grep -q "run 1: first SUCCESS" err.txt && break
    sleep 0.05
done
assert_contains "$(cat err.txt)" "run 1: first SUCCESS (attempt 1)" "stderr while the run goes on"
kill -0 "$pid" 2>/dev/null || fail "dagflow ended before the signals: $(cat err.txt)"
DF_ASSERTS=$((DF_ASSERTS + 1))

note "two SIGINTs: exit 130, nothing printed before is lost"
kill -INT "$pid"
sleep 0.3
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
assert_eq 130 "$rc" "exit code after two SIGINTs"
err="$(cat err.txt)"
assert_contains "$err" "run 1: first SUCCESS (attempt 1)" "earlier progress line"
assert_contains "$err" "dagflow: run 1: second signal: stopped at once; continue it with \`dagflow resume 1 --db 't.db' --plugin-dir '$DF_TEST_PLUGIN_DIR'\`"
assert_eq 1 "$(grep -c 'first SUCCESS' err.txt)" "the line once, not twice"

df_done
