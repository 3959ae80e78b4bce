# lib.sh: shared helpers of the end-to-end tests (sourced by tests/e2e/test_*.sh).
#
# Each test script does:   set -euo pipefail; source "$(dirname "$0")/lib.sh"; df_setup
# and then runs the real `dagflow` binary ($DF_BIN) inside a fresh temporary folder ($WORK, also the
# current directory), removed on exit. ctest provides DF_BIN, DF_BUILD_DIR, DF_SOURCE_DIR,
# DF_TEST_PLUGIN_DIR and DF_PLUGIN_DIR; when run by hand, they default from ./build.

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${DF_SOURCE_DIR:=$(cd "$E2E_DIR/../.." && pwd)}"
: "${DF_BUILD_DIR:=$DF_SOURCE_DIR/build}"
: "${DF_BIN:=$DF_BUILD_DIR/dagflow}"
: "${DF_TEST_PLUGIN_DIR:=$DF_BUILD_DIR/tests/plugins}"
: "${DF_PLUGIN_DIR:=$DF_BUILD_DIR/plugins}"
export DF_SOURCE_DIR DF_BUILD_DIR DF_BIN DF_TEST_PLUGIN_DIR DF_PLUGIN_DIR

# Fixtures of the CLI tests.
CLI_DATA="$E2E_DIR/data/cli"

# Number of assertions that passed (printed by df_done).
DF_ASSERTS=0

# fail MSG...: prints the failure (with the last command's output when there is one) and exits 1.
fail() {
    echo "FAIL: $*" >&2
    if [[ -n "${DF_RC:-}" ]]; then
        echo "  last command: dagflow ${DF_LAST_ARGS:-}" >&2
        echo "  exit code: $DF_RC" >&2
        echo "  stdout: $(head -c 2000 "$WORK/.stdout" 2>/dev/null)" >&2
        echo "  stderr: $(head -c 2000 "$WORK/.stderr" 2>/dev/null)" >&2
    fi
    exit 1
}

# skip MSG...: ends the whole test as skipped, saying why: exit code 77, which ctest reports as
# "Skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt), not as passed.
skip() {
    echo "SKIP: $*"
    exit 77
}

# note MSG...: a line of progress in the test's log.
note() {
    echo "--- $*"
}

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
    if [[ "$1" != "$2" ]]; then
        fail "${3:-value}: expected [$1], got [$2]"
    fi
    DF_ASSERTS=$((DF_ASSERTS + 1))
}

# assert_contains HAYSTACK NEEDLE [WHAT]: fixed-string search.
assert_contains() {
    if [[ "$1" != *"$2"* ]]; then
        fail "${3:-text} does not contain [$2]; it is: [$1]"
    fi
    DF_ASSERTS=$((DF_ASSERTS + 1))
}

# assert_not_contains HAYSTACK NEEDLE [WHAT]
assert_not_contains() {
    if [[ "$1" == *"$2"* ]]; then
        fail "${3:-text} contains [$2] but should not; it is: [$1]"
    fi
    DF_ASSERTS=$((DF_ASSERTS + 1))
}

# assert_match HAYSTACK ERE [WHAT]: extended regular expression (grep -E), any line.
assert_match() {
    if ! grep -Eq -- "$2" <<<"$1"; then
        fail "${3:-text} does not match /$2/; it is: [$1]"
    fi
    DF_ASSERTS=$((DF_ASSERTS + 1))
}

# assert_file_absent PATH [WHAT]
assert_file_absent() {
    if [[ -e "$1" ]]; then
        fail "${2:-file} $1 exists but should not"
    fi
    DF_ASSERTS=$((DF_ASSERTS + 1))
}

# run_df ARGS...: runs dagflow without stopping the test on failure; sets DF_OUT (stdout), DF_ERR
# (stderr) and DF_RC (exit code).
run_df() {
    DF_LAST_ARGS="$*"
    set +e
    "$DF_BIN" "$@" >"$WORK/.stdout" 2>"$WORK/.stderr"
    DF_RC=$?
    set -e
    DF_OUT="$(cat "$WORK/.stdout")"
    DF_ERR="$(cat "$WORK/.stderr")"
}

# expect_rc CODE [WHAT]: the last run_df ended with this exit code.
expect_rc() {
    if [[ "$DF_RC" != "$1" ]]; then
        fail "${2:-exit code}: expected exit code $1, got $DF_RC"
    fi
    DF_ASSERTS=$((DF_ASSERTS + 1))
}

# expect_stderr_lines_prefixed: every line the last run_df wrote to stderr starts with "dagflow: ".
expect_stderr_lines_prefixed() {
    local line
    while IFS= read -r line; do
        [[ -z "$line" || "$line" == "dagflow: "* ]] || fail "stderr line without 'dagflow: ': [$line]"
    done <<<"$DF_ERR"
    DF_ASSERTS=$((DF_ASSERTS + 1))
}

# df_sqlite DB SQL: runs SQL with the sqlite3 shell (read-only use; a busy timeout as a second
# process would need), printing rows separated by '|'. When DB is a PostgreSQL URI (the
# DAGFLOW_TEST_DB=pg runs), with psql instead, printing the same way (no header, '|' between
# columns, NULL as empty; booleans print as t/f).
df_sqlite() {
    if df_is_pg_uri "$1"; then
        # A boolean result prints as t/f: shown as SQLite's 1/0 when it is a whole row.
        PGTZ=UTC psql -X -q -A -t -F '|' -v ON_ERROR_STOP=1 -d "$1" -c "$(df_pg_sql "$2")" |
            sed -e 's/^t$/1/' -e 's/^f$/0/'
        return "${PIPESTATUS[0]}"
    fi
    command -v sqlite3 >/dev/null || skip "the sqlite3 shell is not installed"
    sqlite3 -batch -bail -cmd '.timeout 5000' "$1" "$2"
}

# ---- PostgreSQL (DAGFLOW_TEST_DB=pg) ----
# With DAGFLOW_TEST_DB=pg (ctest's `pg` label), tests whose store is $DB (run_setup) get a fresh
# PostgreSQL database of their own instead of a SQLite file, created in the shared throwaway
# cluster (tests/pg/pg_cluster.sh, ctest's `pg` fixture: its URI in DAGFLOW_TEST_PG_URI or in
# the file $DAGFLOW_TEST_PG_STATE/uri) and dropped at exit.

# df_pg_sql SQL: SQLite's SQL as PostgreSQL 15 takes it: a subquery in FROM gets an alias (SQLite
# and PostgreSQL 16 do without); the SQLite functions the tests use are data/pg_compat.sql's.
df_pg_sql() {
    local from_sub='[Ff][Rr][Oo][Mm][[:space:]]*\('
    if [[ "$1" =~ $from_sub ]]; then
        perl "$E2E_DIR/data/pg_sql.pl" <<<"$1"
    else
        printf '%s' "$1"
    fi
}

# df_test_pg: true in a DAGFLOW_TEST_DB=pg run.
df_test_pg() {
    [[ "${DAGFLOW_TEST_DB:-sqlite}" == pg ]]
}

# df_is_pg_uri DB: true when DB is a postgresql:// or postgres:// URI.
df_is_pg_uri() {
    [[ "${1,,}" == postgresql://* || "${1,,}" == postgres://* ]]
}

# df_pg_cluster_uri: prints the shared cluster's URI (its `postgres` database); skips the test
# when there is none.
df_pg_cluster_uri() {
    if [[ -n "${DAGFLOW_TEST_PG_URI:-}" ]]; then
        printf '%s' "$DAGFLOW_TEST_PG_URI"
    elif [[ -n "${DAGFLOW_TEST_PG_STATE:-}" && -s "$DAGFLOW_TEST_PG_STATE/uri" ]]; then
        cat "$DAGFLOW_TEST_PG_STATE/uri"
    else
        skip "no PostgreSQL test cluster (tests/pg/pg_cluster.sh; DAGFLOW_TEST_PG_URI)"
    fi
}

# Databases this test created (dropped by df_pg_drop_dbs).
DF_PG_DBS=()

# df_pg_new_db: creates a fresh, empty database in the cluster and sets DF_PG_NEW to its URI.
df_pg_new_db() {
    command -v psql >/dev/null || skip "psql is not installed"
    local base name
    base="$(df_pg_cluster_uri)"
    name="dft_$(basename "$0" .sh | tr -c 'a-z0-9_\n' _ | cut -c1-40)_$$_${#DF_PG_DBS[@]}"
    psql -X -q -v ON_ERROR_STOP=1 -d "$base" -c "CREATE DATABASE \"$name\"" >/dev/null ||
        fail "cannot create the test database $name"
    DF_PG_DBS+=("$name")
    DF_PG_NEW="$(sed -E "s#^(postgres(ql)?://[^/?]*)/[^?]*#\1/$name#" <<<"$base")"
    psql -X -q -v ON_ERROR_STOP=1 -d "$DF_PG_NEW" -f "$E2E_DIR/data/pg_compat.sql" >/dev/null ||
        fail "cannot install data/pg_compat.sql in $name"
    DF_PG_NEW="$(sed -E "s#^(postgres(ql)?://[^/?]*)/[^?]*#\1/$name#" <<<"$base")"
}

# df_pg_drop_dbs: drops the databases this test created (at exit; never fails).
df_pg_drop_dbs() {
    local name base
    ((${#DF_PG_DBS[@]})) || return 0
    base="$(df_pg_cluster_uri 2>/dev/null)" || return 0
    for name in "${DF_PG_DBS[@]}"; do
        psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" \
            >/dev/null 2>&1 || true
    done
    DF_PG_DBS=()
}

# have_jq: true when jq is available for JSON checks.
have_jq() {
    command -v jq >/dev/null
}

# json_q FILTER JSON_TEXT: prints jq's output (compact) for the filter; fails the test when the
# text is not JSON. Callers check have_jq first.
json_q() {
    local out
    out="$(jq -c "$1" <<<"$2")" || fail "not valid JSON for jq filter $1: [$2]"
    printf '%s' "$out"
}

# test_plugin NAME: prints the path of test plugin NAME.so, or returns 1 when it was not built.
test_plugin() {
    local p="$DF_TEST_PLUGIN_DIR/$1.so"
    [[ -f "$p" ]] || return 1
    printf '%s' "$p"
}

# df_remove_work: removes $WORK at exit. A process the test started may still be writing into it
# for a moment (a killed server, a sink command), which can make one rm fail: try again, and never
# let the clean-up change the test's exit code.
df_remove_work() {
    df_pg_drop_dbs
    rm -rf -- "$WORK" 2>/dev/null || { sleep 0.3; rm -rf -- "$WORK" 2>/dev/null; } || true
}

# df_setup: checks the binary, creates $WORK, cd's into it, and removes it on exit. Clears the
# environment variables that would change dagflow's behaviour.
df_setup() {
    [[ -x "$DF_BIN" ]] || fail "DF_BIN ($DF_BIN) is not an executable; build first"
    unset DAGFLOW_DB DAGFLOW_PLUGIN_PATH
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/dagflow-e2e.XXXXXX")"
    trap df_remove_work EXIT
    cd "$WORK"
}

# df_db_setup: sets DB to the store of a test that names its own (df.db in $WORK), or, with
# DAGFLOW_TEST_DB=pg, to the URI of a fresh PostgreSQL database (as run_setup does).
df_db_setup() {
    DB="$WORK/df.db"
    if df_test_pg; then
        df_pg_new_db
        DB="$DF_PG_NEW"
    fi
}

# df_done: the closing line of a passing test.
df_done() {
    echo "PASS: $(basename "$0") ($DF_ASSERTS assertions)"
}
