#!/usr/bin/env bash
# test_cli_db_postgres: --db picks the store by what it names; a postgresql:// or postgres:// URI
# (scheme in any case, or DAGFLOW_DB) names PostgreSQL. A server that cannot be reached is an
# error of the store: every command that uses it says so and exits 3, after retrying for
# DAGFLOW_PG_RETRY_MS (0 here), without repeating the URI's password, and nothing is created in
# the current folder (the URI is not taken for a file). The PostgreSQL-only tests (tests/pg/)
# cover a working server.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
command -v psql >/dev/null || true

echo '{"name": "pg", "tasks": [{"id": "a", "plugin": "noop"}]}' >wf.json
export DAGFLOW_PG_RETRY_MS=0
MSG="cannot connect to PostgreSQL"

for uri in "postgresql://user:s3cret@/dagflow?host=$WORK/nowhere&port=5" \
    "postgres:///dagflow?host=$WORK/nowhere" "PostgreSQL:///x?host=$WORK/nowhere"; do
    for cmd in "status" "status 4" "history" "history --json"; do
        # shellcheck disable=SC2086
        run_df $cmd --db "$uri"
        expect_rc 3 "$cmd --db $uri"
        assert_contains "$DF_ERR" "dagflow: store: open: $MSG" "stderr of $cmd --db $uri"
        assert_contains "$DF_ERR" "$WORK/nowhere/.s.PGSQL" "stderr of $cmd (the socket tried)"
        assert_not_contains "$DF_ERR" "s3cret" "stderr of $cmd (no password)"
        assert_eq "" "$DF_OUT" "stdout of $cmd --db $uri"
    done
    for cmd in "run wf.json" "resume 1" "retry 1"; do
        # shellcheck disable=SC2086
        run_df $cmd --db "$uri" --plugin-dir "$DF_TEST_PLUGIN_DIR"
        expect_rc 3 "$cmd --db $uri"
        assert_contains "$DF_ERR" "$MSG" "stderr of $cmd --db $uri"
        assert_not_contains "$DF_ERR" "s3cret" "stderr of $cmd (no password)"
        expect_stderr_lines_prefixed
    done
done
assert_eq "wf.json" "$(ls -A | grep -v '^\.std' | tr '\n' ' ' | sed 's/ $//')" \
    "files in the folder (no store created)"

# DAGFLOW_DB names the store the same way.
DAGFLOW_DB="postgres:///x?host=$WORK/nowhere" run_df history
expect_rc 3 "history with DAGFLOW_DB set to a PostgreSQL URI"
assert_contains "$DF_ERR" "dagflow: store: open: $MSG" "stderr of history with DAGFLOW_DB"

# A URI libpq cannot read fails at once, whatever the retry time.
DAGFLOW_PG_RETRY_MS=60000 run_df history --db "postgresql://[bad"
expect_rc 3 "a URI libpq cannot read"
assert_contains "$DF_ERR" "$MSG" "stderr for a URI libpq cannot read"

df_done
