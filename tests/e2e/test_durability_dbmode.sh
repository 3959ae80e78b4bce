#!/usr/bin/env bash
# test_durability_dbmode: the history database holds params, results and logs, so it is created
# readable by its owner only (store.h: mode 0600), whatever the umask, and so are the -wal and
# -shm files SQLite makes next to it while an engine runs; an existing database keeps the mode its
# owner gave it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup

cat >wf.json <<'EOF'
{"name": "durability_mode", "tasks": [
  {"id": "a", "plugin": "noop"},
  {"id": "s", "plugin": "sleep", "depends_on": ["a"], "params": {"ms": 800}}
]}
EOF
mode() {
    stat -c %a "$1"
}

for um in 022 000 077; do
    note "umask $um"
    DB="$WORK/mode_$um.db"
    (
        umask "$um"
        exec "$DF_BIN" run wf.json --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" >/dev/null 2>&1
    ) &
    pid=$!
    DUR_PIDS+=("$pid")
    wait_sql "SELECT count(*) FROM task_history WHERE task_id = 's' AND state = 'RUNNING'" 20 "s RUNNING"
    assert_eq 600 "$(mode "$DB")" "mode of the database while the run is going (umask $um)"
    for f in "$DB-wal" "$DB-shm"; do
        [[ -e "$f" ]] || fail "$f does not exist while the engine runs (WAL mode, SPEC §7)"
        assert_eq 600 "$(mode "$f")" "mode of $(basename "$f") (umask $um)"
    done
    wait "$pid" || fail "the run with umask $um failed"
    assert_eq 600 "$(mode "$DB")" "mode of the database after the run (umask $um)"
    assert_eq wal "$(sqlite3 "$DB" 'PRAGMA journal_mode')" "journal mode"
done

note "a database created by a command other than run"
DB="$WORK/other.db"
dfx history
expect_rc 0 "history on a new database"
if [[ -e "$DB" ]]; then
    assert_eq 600 "$(mode "$DB")" "mode of a database created by history"
fi

note "an existing database keeps its mode"
DB="$WORK/mode_022.db"
chmod 0640 "$DB"
dfg run wf.json
expect_rc 0 "a second run in the same database"
assert_eq 640 "$(mode "$DB")" "mode chosen by the owner"

df_done
