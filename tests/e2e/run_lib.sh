# run_lib.sh: helpers of the `dagflow run` end-to-end tests (tests/e2e/test_run_*.sh), on top of
# lib.sh. Each such script does:
#     set -euo pipefail; source "$(dirname "$0")/lib.sh"; source "$(dirname "$0")/run_lib.sh"
#     run_setup
# and then writes workflows into $WORK, runs them with run_wf against the database $DB, and checks
# the SPEC §7 views with q.

# run_setup: df_setup, then the database ($DB: a SQLite path, or with DAGFLOW_TEST_DB=pg the URI
# of a fresh PostgreSQL database) and the tools the run tests need.
run_setup() {
    df_setup
    DB="$WORK/run.db"
    if df_test_pg; then
        df_pg_new_db
        DB="$DF_PG_NEW"
        # Migrated now, so that a test's first run does not pay for creating the schema (tests
        # time their runs as they would with SQLite).
        "$DF_BIN" history --db "$DB" >/dev/null || fail "cannot open the test database $DB"
    fi
    command -v sqlite3 >/dev/null || skip "the sqlite3 shell is not installed"
    command -v jq >/dev/null || skip "jq is not installed"
}

# need_plugin NAME: fails the test unless the test-only plugin NAME.so is built.
need_plugin() {
    [[ -f "$DF_TEST_PLUGIN_DIR/$1.so" ]] ||
        fail "test plugin $1.so is not built in $DF_TEST_PLUGIN_DIR (tests/plugins/$1.c)"
}

# need_builtin NAME: fails the test unless the built-in plugin NAME.so is built.
need_builtin() {
    [[ -f "$DF_PLUGIN_DIR/$1.so" ]] || fail "built-in plugin $1.so is not built in $DF_PLUGIN_DIR"
}

# run_wf FILE [ARGS...]: `dagflow run FILE --db $DB --plugin-dir $DF_TEST_PLUGIN_DIR ARGS...` under
# a time limit of $RUN_LIMIT seconds (default 40; a hang fails the test instead of blocking ctest);
# sets DF_OUT, DF_ERR, DF_RC like run_df, and RUN_MS (wall time in milliseconds).
run_wf() {
    local file="$1"
    shift
    DF_LAST_ARGS="run $file --db $DB --plugin-dir $DF_TEST_PLUGIN_DIR $*"
    local t0
    t0=$(now_ms)
    set +e
    timeout -k 5 "${RUN_LIMIT:-40}" "$DF_BIN" run "$file" --db "$DB" \
        --plugin-dir "$DF_TEST_PLUGIN_DIR" "$@" >"$WORK/.stdout" 2>"$WORK/.stderr"
    DF_RC=$?
    set -e
    RUN_MS=$(($(now_ms) - t0))
    DF_OUT="$(cat "$WORK/.stdout")"
    DF_ERR="$(cat "$WORK/.stderr")"
    if [[ $DF_RC == 124 || $DF_RC == 137 ]]; then
        fail "dagflow run $file did not finish within ${RUN_LIMIT:-40} s"
    fi
}

# dfx ARGS...: run_df with --db $DB (status, history, ...).
dfx() {
    run_df "$@" --db "$DB"
}

# now_ms: wall clock in milliseconds.
now_ms() {
    date +%s%3N
}

# q SQL: the rows of SQL on $DB ('|' between columns).
q() {
    df_sqlite "$DB" "$1"
}

# last_run: the highest run id in $DB.
last_run() {
    q "SELECT max(run_id) FROM run_history"
}

# run_state RUN_ID
run_state() {
    q "SELECT state FROM run_history WHERE run_id = $1"
}

# task_state RUN_ID TASK_ID: the task's own state (a mapped task's, not its instances').
task_state() {
    q "SELECT state FROM task_history WHERE run_id = $1 AND task_id = '$2' AND map_index IS NULL"
}

# expect_task RUN_ID TASK_ID STATE: the task's final state in task_history.
expect_task() {
    assert_eq "$3" "$(task_state "$1" "$2")" "state of task $2 in run $1"
}

# expect_run RUN_ID STATE: the run's state in run_history.
expect_run() {
    assert_eq "$2" "$(run_state "$1")" "state of run $1"
}

# ms_between T1 T2: T2 - T1 in milliseconds, for two ISO-8601 times of the views.
ms_between() {
    if df_is_pg_uri "$DB"; then
        q "SELECT round(extract(epoch FROM '$2'::timestamptz - '$1'::timestamptz) * 1000)::bigint"
        return
    fi
    sqlite3 :memory: "SELECT CAST(round((julianday('$2') - julianday('$1')) * 86400000) AS INTEGER)"
}

# events RUN_ID TASK_ID: the task's transitions in seq order, "FROM>TO" separated by spaces (the
# first one's FROM is empty).
events() {
    q "SELECT group_concat(ifnull(from_state, '') || '>' || to_state, ' ') FROM
         (SELECT from_state, to_state FROM task_events WHERE run_id = $1 AND task_id = '$2'
          ORDER BY seq)"
}

# max_concurrent RUN_ID [TASK_FILTER_SQL]: the most task instances of the run that were RUNNING at
# once, replayed from task_events in seq order (+1 on a transition to RUNNING, -1 on one from
# RUNNING). TASK_FILTER_SQL is an extra condition on task_id (e.g. "task_id LIKE 'p%'").
max_concurrent() {
    local filter="${2:-TRUE}"
    q "SELECT from_state, to_state FROM task_events WHERE run_id = $1 AND ($filter) ORDER BY seq" |
        awk -F'|' '$2 == "RUNNING" { n++; if (n > m) m = n } $1 == "RUNNING" { n-- }
                   END { print m + 0 }'
}

# jv FILTER JSON_TEXT [-r]: jq's compact output of FILTER over JSON_TEXT (raw strings with -r);
# fails the test when the text is not JSON. Like lib.sh's json_q, plus the raw option.
jv() {
    local out
    out="$(jq -c ${3:-} "$1" <<<"$2")" || fail "not valid JSON for jq filter $1: [$2]"
    printf '%s' "$out"
}

# Failures recorded by the soft_* checks, reported (and failing the test) by run_done.
RUN_SOFT_FAILS=()

# soft_fail MSG: records a failure without stopping the test, so that the checks after it still
# run (for known product defects); run_done fails the test at the end.
soft_fail() {
    echo "FAIL (continuing): $*" >&2
    RUN_SOFT_FAILS+=("$*")
}

# soft_eq EXPECTED ACTUAL [WHAT]: assert_eq that records instead of stopping.
soft_eq() {
    if [[ "$1" != "$2" ]]; then
        soft_fail "${3:-value}: expected [$1], got [$2]"
    else
        DF_ASSERTS=$((DF_ASSERTS + 1))
    fi
}

# soft_contains HAYSTACK NEEDLE [WHAT]: assert_contains that records instead of stopping.
soft_contains() {
    if [[ "$1" != *"$2"* ]]; then
        soft_fail "${3:-text} does not contain [$2]; it is: [$1]"
    else
        DF_ASSERTS=$((DF_ASSERTS + 1))
    fi
}

# run_done: df_done when every check passed; otherwise lists the recorded failures and exits 1.
run_done() {
    if ((${#RUN_SOFT_FAILS[@]} > 0)); then
        echo "FAIL: $(basename "$0"): ${#RUN_SOFT_FAILS[@]} check(s) failed:" >&2
        local m
        for m in "${RUN_SOFT_FAILS[@]}"; do
            echo "  - $m" >&2
        done
        exit 1
    fi
    df_done
}
