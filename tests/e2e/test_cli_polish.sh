#!/usr/bin/env bash
# test_cli_polish: what a new user's review found, end to end:
# 1. the installed layout (`cmake --install --prefix P`): P/bin/dagflow finds its built-in plugins
#    in P/lib/dagflow/plugins (even after P is moved), `pkg-config --cflags dagflow` works with
#    P/lib/pkgconfig, and a plugin built with those flags runs through --plugin-dir;
# 2. --help states the engine options' real defaults;
# 3. task output (errors with ESC sequences, \r, \t, BEL) never reaches the terminal raw from
#    `status` or the run's summary table, and UTF-8 in it stays intact;
# 4. `status` shows "-" as the duration of a task without an end in an INTERRUPTED run (and
#    "running for X" only while the run is RUNNING with a fresh heartbeat);
# 5. `graph --json` prints {"workflow", "format", "text"};
# 6. `validate` / `graph` on a directory or a missing file say so up front (exit 2).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

# ---- 1. installed layout ------------------------------------------------------------------------
note "cmake --install into a temporary prefix"
command -v cmake >/dev/null || skip "cmake is not installed"
[[ -f "$DF_BUILD_DIR/cmake_install.cmake" ]] || skip "$DF_BUILD_DIR is not a CMake build folder"
P="$WORK/prefix"
cmake --install "$DF_BUILD_DIR" --prefix "$P" >install.log 2>&1 || fail "cmake --install: $(cat install.log)"
[[ -x "$P/bin/dagflow" ]] || fail "no $P/bin/dagflow after install"
[[ -f "$P/include/dagflow/taskunit.h" ]] || fail "no $P/include/dagflow/taskunit.h after install"
[[ -f "$P/lib/pkgconfig/dagflow.pc" ]] || fail "no $P/lib/pkgconfig/dagflow.pc after install"

note "the installed binary lists the built-in plugins from P/lib/dagflow/plugins"
REAL_BIN="$DF_BIN"
DF_BIN="$P/bin/dagflow"
run_df plugins
expect_rc 0 "installed dagflow plugins"
for p in noop sleep shell http sqlite file_sensor; do
    assert_match "$DF_OUT" "^$p +[0-9]" "plugins listing ($p)"
done
assert_contains "$DF_OUT" "$P/lib/dagflow/plugins/shell.so" "plugin path inside the prefix"

note "the installed binary runs a workflow with built-in plugins"
cat >builtin.json <<'EOF'
{"name": "installed", "tasks": [
  {"id": "a", "plugin": "shell", "params": {"argv": ["echo", "hi"]}},
  {"id": "b", "plugin": "sleep", "depends_on": ["a"], "params": {"ms": 10}}]}
EOF
run_df run --db "$WORK/installed.db" builtin.json
expect_rc 0 "installed dagflow run"

note "the prefix can move: plugins are found relative to the binary"
mv "$P" "$WORK/moved"
P="$WORK/moved"
DF_BIN="$P/bin/dagflow"
run_df plugins
expect_rc 0
assert_contains "$DF_OUT" "$P/lib/dagflow/plugins/noop.so" "plugin path after the move"
run_df validate builtin.json
expect_rc 0 "validate with the moved install"
mv "$P" "$WORK/prefix"
P="$WORK/prefix"
DF_BIN="$P/bin/dagflow"

note "pkg-config --cflags dagflow"
if ! command -v pkg-config >/dev/null; then
    skip "pkg-config is not installed (the install checks above passed)"
fi
cflags="$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --cflags dagflow)" ||
    fail "pkg-config --cflags dagflow failed"
assert_contains "$cflags" "-I$P/include" "pkg-config --cflags"
plugindir="$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --variable=plugindir dagflow)"
assert_eq "$P/lib/dagflow/plugins" "$plugindir" "pkg-config --variable=plugindir"
version="$(PKG_CONFIG_PATH="$P/lib/pkgconfig" pkg-config --modversion dagflow)"
assert_match "$version" '^[0-9]+\.[0-9]+\.[0-9]+$' "pkg-config --modversion"

note "a plugin built out of tree with those flags runs through --plugin-dir"
command -v cc >/dev/null || skip "no C compiler (cc)"
mkdir -p myplugins
cat >hello.c <<'EOF'
#include <dagflow/taskunit.h>

static int validate(const json_t *params, char *err, size_t errlen)
{
    if (!json_is_string(json_object_get(params, "who"))) {
        snprintf(err, errlen, "\"who\" must be a string");
        return 1;
    }
    return 0;
}

static int execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    if (df_task_sleep(ctx, 10))
        return DF_TASK_FAILED;
    df_task_log(ctx, "attempt %u", df_task_attempt(ctx));
    *result = json_pack("{s:s, s:O}", "hello", df_task_id(ctx), "who",
                        json_object_get(params, "who"));
    return *result ? DF_TASK_OK : DF_TASK_FAILED;
}

DF_TASKUNIT_DEFINE(.name = "hello", .version = "1.0.0", .description = "says hello",
                   .validate = validate, .execute = execute);
EOF
# shellcheck disable=SC2086 # the flags are words
cc -shared -fPIC -Wall -Wextra -Werror $cflags hello.c -o myplugins/hello.so 2>cc.log ||
    fail "building the plugin with pkg-config's flags: $(cat cc.log)"
cat >hello.json <<'EOF'
{"name": "hello_plugin", "tasks": [{"id": "greet", "plugin": "hello", "params": {"who": "you"}}]}
EOF
run_df plugins --plugin-dir myplugins
expect_rc 0
assert_match "$DF_OUT" '^hello +1\.0\.0 +says hello' "the new plugin is listed"
run_df validate hello.json --plugin-dir myplugins
expect_rc 0 "validate with the new plugin"
run_df run hello.json --plugin-dir myplugins --db "$WORK/hello.db" --json
expect_rc 0 "run with the new plugin"
if have_jq; then
    assert_eq '{"hello":"greet","who":"you"}' "$(json_q '.tasks[0].result' "$DF_OUT")" "result"
else
    assert_contains "$DF_OUT" '"who": "you"'
fi
echo '{"name": "bad", "tasks": [{"id": "g", "plugin": "hello", "params": {"who": 3}}]}' >bad.json
run_df validate bad.json --plugin-dir myplugins
expect_rc 2 "the plugin's validate rejects a bad param"
assert_contains "$DF_ERR" '"who" must be a string'

DF_BIN="$REAL_BIN"

# ---- 2. --help states the real defaults ---------------------------------------------------------
note "engine options' defaults in --help"
for cmd in run resume retry; do
    run_df "$cmd" --help
    expect_rc 0
    # The help is wrapped: compare it as one line with single spaces.
    flat="$(tr -s ' \n' '  ' <<<"$DF_OUT")"
    assert_not_contains "$flat" "the engine's" "$cmd --help"
    assert_contains "$flat" "--workers-min N OS threads the coroutine pool keeps at least, 1 to 1024 (default: the number of online CPUs, at least 2, at most --workers-max)" "$cmd --workers-min"
    assert_contains "$flat" "(default: 2 x the number of online CPUs, at least --workers-min)" "$cmd --workers-max"
    assert_contains "$flat" "(default: 65536)" "$cmd --queue-capacity"
    assert_contains "$flat" "16K to 1G, K, M or G suffix allowed (default: 256K)" "$cmd --stack-size"
    assert_contains "$flat" "(default: 256)" "$cmd --concurrency"
done

# ---- 2b. engine options: ranges, and a default never overrides a value given --------------------
note "engine option ranges"
echo '{"name": "one", "tasks": [{"id": "a", "plugin": "noop"}]}' >one.json
for bad in "--workers-max 1025" "--workers-min 5000" "--stack-size 2G" "--stack-size 4096" \
    "--stack-size 8796093022207M" "--stack-size 1T"; do
    # shellcheck disable=SC2086
    run_df run one.json --db opts.db --plugin-dir "$DF_PLUGIN_DIR" $bad
    expect_rc 2 "run $bad"
    assert_match "$DF_ERR" '^dagflow: run: --(workers-(min|max) is at most 1024 worker threads|stack-size (must be between 16K and 1G|needs a number of bytes))' "run $bad"
done
assert_file_absent opts.db "a refused option records nothing"
for good in "--stack-size 1G" "--stack-size 16K" "--stack-size 512k" "--workers-max 1024"; do
    # shellcheck disable=SC2086
    run_df run one.json --db opts.db --plugin-dir "$DF_PLUGIN_DIR" $good
    expect_rc 0 "run $good"
done
# --workers-max under the default minimum (2) lowers the minimum instead of being overridden
run_df run one.json --db opts.db --plugin-dir "$DF_PLUGIN_DIR" --workers-max 1
expect_rc 0 "run --workers-max 1"
run_df status --db opts.db
assert_contains "$DF_OUT" "1 worker at most (1 started" "pool of one worker"

# A pool that cannot start (here: too few file descriptors for 200 workers' event loops) is an
# internal error that records no run.
set +e
(
    ulimit -n 64
    "$DF_BIN" run one.json --db nopool.db --plugin-dir "$DF_PLUGIN_DIR" --workers-min 200 \
        >nopool.out 2>nopool.err
)
rc=$?
set -e
assert_eq 3 "$rc" "exit code when the pool cannot start"
assert_match "$(cat nopool.err)" '^dagflow: pool: cannot start' "message when the pool cannot start"
run_df history --db nopool.db --json
expect_rc 0 "history after the pool failed"
assert_eq "[]" "$(jq -c . <<<"$DF_OUT")" "runs recorded when the pool could not start"

# ---- 3. terminal safety -------------------------------------------------------------------------
note "a task whose error carries control characters"
cat >evil.json <<'EOF'
{"name": "evil", "tasks": [
  {"id": "ok", "plugin": "noop"},
  {"id": "bad", "plugin": "shell",
   "params": {"script": "printf '\\033[2J\\033]0;pwned\\007A\\rB\\tC\\bD h\\303\\251llo \\342\\234\\223\\302\\233E\\377F' >&2; exit 3"}}]}
EOF
run_df run evil.json --db "$WORK/evil.db"
expect_rc 1 "the evil run fails"
# The summary table on stdout (stderr's progress lines are cmd_run.c's own).
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$WORK/.stdout"; then
    fail "run's summary contains control characters: $(od -c "$WORK/.stdout" | head -20)"
fi
DF_ASSERTS=$((DF_ASSERTS + 1))
assert_match "$DF_OUT" '^bad +FAILED +1 ' "the summary has the failed task"
run_df status --db "$WORK/evil.db"
expect_rc 0 "status of the evil run"
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$WORK/.stdout"; then
    fail "status output contains control characters: $(od -c "$WORK/.stdout" | head -20)"
fi
DF_ASSERTS=$((DF_ASSERTS + 1))
bad_line="$(grep '^bad ' <<<"$DF_OUT")" || fail "no row for task bad in: $DF_OUT"
# ESC, BEL, backspace -> '?'; \r and \t -> ' '; UTF-8 kept; the C1 CSI (U+009B) -> '?'; the
# invalid byte 0xff reaches the store as U+FFFD (or would be shown as '?').
assert_contains "$bad_line" "?[2J?]0;pwned?A B C?D héllo ✓?E" "sanitized error in status"
assert_match "$bad_line" '✓\?E(\?|�)F' "the invalid byte"
if have_jq; then
    run_df status --db "$WORK/evil.db" --json
    expect_rc 0
    err="$(jq -r '.tasks[] | select(.id == "bad") | .error' <<<"$DF_OUT")"
    assert_contains "$err" $'\033[2J' "status --json keeps the raw error (JSON-escaped)"
fi
note "an error line from a plugin's validate is sanitized too"
printf '%s\n' '{"name": "evil2", "tasks": [{"id": "t", "plugin": "shell",' \
    '"params": {"argv": ["true"], "x\u001b[31mred": 1}}]}' >evil2.json
run_df validate evil2.json
expect_rc 2
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$WORK/.stderr"; then
    fail "validate's error contains control characters: $(od -c "$WORK/.stderr" | head)"
fi
assert_contains "$DF_ERR" "x?[31mred" "sanitized key in the validate error"

# ---- 4. status durations ------------------------------------------------------------------------
note "status of a RUNNING run, then of the same run INTERRUPTED (engine killed, heartbeat stale)"
command -v sqlite3 >/dev/null || skip "the sqlite3 shell is not installed"
cat >long.json <<'EOF'
{"name": "long", "tasks": [
  {"id": "quick", "plugin": "noop"},
  {"id": "nap", "plugin": "sleep", "params": {"ms": 60000}},
  {"id": "after", "plugin": "noop", "depends_on": ["nap"]}]}
EOF
"$DF_BIN" run long.json --db "$WORK/long.db" >long.out 2>long.err &
pid=$!
trap 'kill -9 "$pid" 2>/dev/null || true; df_remove_work' EXIT
for _ in $(seq 1 100); do
    state="$(df_sqlite "$WORK/long.db" "SELECT state FROM task_history WHERE task_id = 'nap'" 2>/dev/null || true)"
    [[ "$state" == RUNNING ]] && break
    sleep 0.1
done
[[ "${state:-}" == RUNNING ]] || fail "task nap never ran: $(cat long.err)"
sleep 1.2
run_df status --db "$WORK/long.db"
expect_rc 0
assert_match "$DF_OUT" '^State: +RUNNING' "live run state"
assert_match "$DF_OUT" '^nap +RUNNING +1 +running for [0-9.]+s' "a live RUNNING task's duration"
assert_match "$DF_OUT" '^Duration: +running for ' "a live run's duration"
assert_match "$DF_OUT" '^after +PENDING +0 +- ' "a PENDING task's duration"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
# The engine is gone; make its heartbeat 60 s old (as if 60 s had passed).
df_sqlite "$WORK/long.db" "UPDATE runs SET heartbeat_at = heartbeat_at - 60000" >/dev/null
run_df status --db "$WORK/long.db"
expect_rc 0
assert_match "$DF_OUT" '^State: +INTERRUPTED' "stale run state"
assert_match "$DF_OUT" '^nap +RUNNING +1 +- ' "no growing duration for a task of an INTERRUPTED run"
assert_match "$DF_OUT" '^Duration: +-$' "no growing duration for an INTERRUPTED run"
assert_match "$DF_OUT" '^quick +SUCCESS +1 +[0-9]+ms' "a finished task keeps its duration"
assert_not_contains "$DF_OUT" "running for" "status of the INTERRUPTED run"

# ---- 5. graph --json ----------------------------------------------------------------------------
note "graph --json"
cp "$DF_SOURCE_DIR/workflows/hello.json" .
run_df graph hello.json
expect_rc 0
dot="$DF_OUT"
run_df graph hello.json --json
expect_rc 0 "graph --json"
if have_jq; then
    assert_eq '"dot"' "$(json_q .format "$DF_OUT")" "format"
    assert_eq '"hello"' "$(json_q .workflow "$DF_OUT")" "workflow"
    assert_eq "$dot" "$(jq -r .text <<<"$DF_OUT" | sed -e '$ { /^$/ d }')" "text = the DOT output"
    run_df graph hello.json --json --format mermaid
    expect_rc 0
    assert_eq '"mermaid"' "$(json_q .format "$DF_OUT")" "mermaid format"
    assert_match "$(jq -r .text <<<"$DF_OUT")" '^flowchart TD$' "mermaid text"
else
    assert_contains "$DF_OUT" '"format": "dot"'
fi

# ---- 6. a directory or a missing file as FILE ---------------------------------------------------
note "validate and graph on a directory, a missing file, an unreadable file"
mkdir adir
for cmd in validate graph; do
    run_df "$cmd" adir
    expect_rc 2 "$cmd on a directory"
    assert_eq "dagflow: adir: is a directory" "$DF_ERR" "$cmd on a directory"
    assert_eq "" "$DF_OUT" "$cmd stdout"
    run_df "$cmd" missing.json
    expect_rc 2 "$cmd on a missing file"
    assert_eq "dagflow: missing.json: cannot open: No such file or directory" "$DF_ERR" \
        "$cmd on a missing file"
done
run_df validate adir --json
expect_rc 2
if have_jq; then
    assert_eq '{"valid":false,"errors":["adir: is a directory"]}' "$(json_q . "$DF_OUT")" \
        "validate --json on a directory"
fi
if [[ "$(id -u)" != 0 ]]; then
    echo '{}' >secret.json
    chmod 000 secret.json
    run_df validate secret.json
    expect_rc 2 "unreadable file"
    assert_eq "dagflow: secret.json: cannot open: Permission denied" "$DF_ERR"
fi
assert_file_absent dagflow.db

df_done
