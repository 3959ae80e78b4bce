#!/usr/bin/env bash
# test_embed_readme: the README's "Embedding dagflow" example is real. Its C program, taken from
# the README and built with the README's command against this build's engine library, runs
# workflows/hello.json to SUCCESS in its own store (which `dagflow status` then reads), reports
# every error of a file that does not load (recording nothing), and SIGINT interrupts its run
# through df_engine_stop (the run INTERRUPTED, then resumed to SUCCESS by `dagflow resume`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

command -v cc >/dev/null || skip "no C compiler"
pkg-config --exists libuv jansson sqlite3 libcurl libpq glib-2.0 libmicrohttpd yajl || skip "pkg-config does not know the libraries"
lib="$DF_BUILD_DIR/libdagflow_core.a"
[[ -f "$lib" ]] || skip "no $lib"

note "the README's example builds as the README says"
awk '/^## Embedding dagflow/ { s = 1 } s && /^```c$/ { c = 1; next } c && /^```$/ { exit } c' \
    "$DF_SOURCE_DIR/README.md" >embed.c
assert_contains "$(cat embed.c)" "df_engine_run_file" "the example taken from the README"
san=()
if grep -q '^DF_SANITIZE:BOOL=ON' "$DF_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
    san=(-fsanitize=address,undefined)
fi
# The README's command, with this tree's paths.
# shellcheck disable=SC2046
cc "${san[@]}" -Wall -Wextra -Werror -I"$DF_SOURCE_DIR/include" embed.c -o embed -rdynamic \
    -Wl,--whole-archive "$lib" -Wl,--no-whole-archive \
    $(pkg-config --libs libuv jansson sqlite3 libcurl libpq glib-2.0 libmicrohttpd yajl) -ljq -lpthread -ldl -lm ||
    fail "the README's example does not build"
mkdir -p build workflows
ln -s "$DF_PLUGIN_DIR" build/plugins # the example's plugin folder, relative to where it runs
cp "$DF_SOURCE_DIR/workflows/hello.json" workflows/

note "it runs workflows/hello.json to SUCCESS in its own store"
set +e
out="$(./embed workflows/hello.json 2>embed.err)"
rc=$?
set -e
assert_eq 0 "$rc" "exit code of the example"
assert_eq "greet SUCCESS
wait SUCCESS
done SUCCESS
run 1: SUCCESS" "$out" "output of the example"
assert_eq "" "$(cat embed.err)" "stderr of the example"
run_df status --db embed.db --json
expect_rc 0 "dagflow status on the example's store"
assert_contains "$DF_OUT" '"state": "SUCCESS"' "status of the example's run"

note "a file that does not load: every error, nothing recorded"
printf '{"name": "bad", "tasks": [{"id": "a", "plugin": "noop", "depend_on": []},\n {"id": "a"}]}\n' >bad.json
set +e
out="$(./embed bad.json 2>embed.err)"
rc=$?
set -e
assert_eq 1 "$rc" "exit code for a bad file"
assert_eq "run 0: unusable input" "$out" "output for a bad file"
assert_contains "$(cat embed.err)" 'embed: bad.json: task "a": unknown key "depend_on"' "errors"
assert_match "$(cat embed.err)" 'embed: bad.json: .*duplicate' "every error reported"
run_df history --db embed.db --json
assert_eq 1 "$(grep -c '"run_id"' <<<"$DF_OUT")" "runs recorded"

note "SIGINT: df_engine_stop interrupts the run, which dagflow resumes"
cat >slow.json <<'JSON'
{"name": "slow", "tasks": [
  {"id": "a", "plugin": "noop"},
  {"id": "b", "plugin": "file_sensor", "depends_on": ["a"],
   "params": {"path": "go", "poke_interval_ms": 20}}
]}
JSON
./embed slow.json >slow.out 2>slow.err &
pid=$!
for _ in $(seq 200); do
    [[ "$(df_sqlite embed.db "SELECT state FROM task_history WHERE run_id = 2 AND task_id = 'b'" 2>/dev/null)" == RUNNING ]] && break
    sleep 0.05
done
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
assert_eq 1 "$rc" "exit code of the interrupted example"
assert_contains "$(cat slow.out)" "run 2: interrupted: the engine was stopped" "output after SIGINT"
assert_eq INTERRUPTED "$(df_sqlite embed.db "SELECT state FROM runs WHERE run_id = 2")" "run state"
touch go
run_df resume 2 --db embed.db --plugin-dir "$DF_PLUGIN_DIR"
expect_rc 0 "dagflow resume of the example's run"
assert_eq SUCCESS "$(df_sqlite embed.db "SELECT state FROM runs WHERE run_id = 2")" "run state"
df_done
