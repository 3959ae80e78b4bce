#!/usr/bin/env bash
# test_cli_db_postgres: --db picks the store by what it names; a postgresql:// or postgres:// URI
# names PostgreSQL, which is not built yet: every command that uses the store says so and exits 3
# (store error), and nothing is created in the current folder (the URI is not taken for a file).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

echo '{"name": "pg", "tasks": [{"id": "a", "plugin": "noop"}]}' >wf.json
MSG="store: PostgreSQL support is not built yet; use a SQLite file path"

for uri in "postgresql://user:secret@localhost/dagflow" "postgres://localhost/dagflow" \
    "PostgreSQL://localhost"; do
    for cmd in "status" "status 4" "history" "history --json"; do
        # shellcheck disable=SC2086
        run_df $cmd --db "$uri"
        expect_rc 3 "$cmd --db $uri"
        assert_eq "dagflow: $MSG" "$DF_ERR" "stderr of $cmd --db $uri"
        assert_eq "" "$DF_OUT" "stdout of $cmd --db $uri"
    done
    for cmd in "run wf.json" "resume 1" "retry 1"; do
        # shellcheck disable=SC2086
        run_df $cmd --db "$uri" --plugin-dir "$DF_TEST_PLUGIN_DIR"
        expect_rc 3 "$cmd --db $uri"
        assert_contains "$DF_ERR" "$MSG" "stderr of $cmd --db $uri"
        expect_stderr_lines_prefixed
    done
done
assert_eq "wf.json" "$(ls -A | grep -v '^\.std' | tr '\n' ' ' | sed 's/ $//')" \
    "files in the folder (no store created)"

# DAGFLOW_DB names the store the same way.
DAGFLOW_DB="postgres://localhost/x" run_df history
expect_rc 3 "history with DAGFLOW_DB set to a PostgreSQL URI"
assert_eq "dagflow: $MSG" "$DF_ERR" "stderr of history with DAGFLOW_DB"

df_done
