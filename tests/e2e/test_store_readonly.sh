#!/usr/bin/env bash
# test_store_readonly: a database dagflow may not write is reported with its path and the cause
# (issue 15 item 22: the messages said "attempt to write a readonly database" and nothing more).
# Root ignores file modes, so when running as root the commands run with the capabilities that let
# root do so dropped (setpriv --bounding-set -dac_override,-dac_read_search,-fowner: still uid 0,
# so the plugins' ownership checks are unchanged, but file modes apply); as another user they run
# as they are. A read-only file system is a read-only bind mount in a private mount namespace
# (unshare -m), where that is allowed. Each variant is skipped, saying so, where it cannot be set up.
#   1. the database file read-only (0444): `run` exits 3 naming the file and its mode; `resume`
#      too; `status` still reads it.
#   2. the folder read-only (0555) and no -wal file: the -wal file cannot be created.
#   3. the folder read-only and no database: it cannot be created.
#   4. a read-only file system, with and without a database.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup

cat >wf.json <<'EOF'
{"name": "readonly", "tasks": [{"id": "a", "plugin": "noop"}, {"id": "b", "plugin": "noop", "depends_on": ["a"]}]}
EOF

# unpriv CMD...: runs CMD without root's power over file modes (see above).
if [[ $(id -u) == 0 ]]; then
    unpriv() {
        setpriv --bounding-set=-dac_override,-dac_read_search,-fowner "$@"
    }
else
    unpriv() {
        "$@"
    }
fi
mkdir probe && chmod 0555 probe
if ! command -v setpriv >/dev/null && [[ $(id -u) == 0 ]]; then
    skip "running as root without setpriv: file modes cannot be made to apply"
fi
if unpriv touch probe/x 2>/dev/null; then
    skip "file modes do not apply even with setpriv (a capability could not be dropped)"
fi

# urun ARGS...: dagflow ARGS... through unpriv, setting DF_OUT, DF_ERR and DF_RC like run_df.
urun() {
    DF_LAST_ARGS="$* (without DAC override)"
    set +e
    unpriv "$DF_BIN" "$@" --plugin-dir "$DF_TEST_PLUGIN_DIR" >"$WORK/.stdout" 2>"$WORK/.stderr"
    DF_RC=$?
    set -e
    DF_OUT="$(cat "$WORK/.stdout")"
    DF_ERR="$(cat "$WORK/.stderr")"
}

# fresh_db DIR: a database DIR/d.db holding one finished run (run 1) and, with "bare", without
# its -wal and -shm files (the -wal is empty after the run, so nothing is lost).
fresh_db() {
    rm -rf "$1"
    mkdir -p "$1"
    "$DF_BIN" run wf.json --db "$1/d.db" --plugin-dir "$DF_TEST_PLUGIN_DIR" >/dev/null 2>&1 ||
        fail "setting up $1/d.db"
    if [[ "${2:-}" == bare ]]; then
        [[ ! -s "$1/d.db-wal" ]] || fail "the -wal of $1/d.db is not empty after the run"
        rm -f "$1/d.db-wal" "$1/d.db-shm"
    fi
}

note "1. the database file read-only"
D="$WORK/ro1"
fresh_db "$D"
chmod 0444 "$D/d.db"
urun run wf.json --db "$D/d.db"
expect_rc 3
assert_contains "$DF_ERR" "dagflow: store: create run: cannot write $D/d.db: the file is read-only (mode 0444)" \
    "stderr of run"
urun status 1 --db "$D/d.db"
expect_rc 0 "status of a read-only database"
assert_contains "$DF_OUT" "SUCCESS" "status"
# A run left RUNNING by a dead engine, then the file made read-only: resume names the cause too.
chmod 0644 "$D/d.db"
sqlite3 "$D/d.db" "UPDATE runs SET state = 'RUNNING', ended_at = NULL, engine_pid = 999999999
                   WHERE run_id = 1; UPDATE task_instances SET state = 'PENDING', attempt = 0,
                   ended_at = NULL WHERE run_id = 1 AND task_id = 'b'"
chmod 0444 "$D/d.db"
urun resume 1 --db "$D/d.db"
expect_rc 3
assert_match "$DF_ERR" "^dagflow: store: [a-z ]+: cannot write $D/d\.db: the file is read-only \(mode 0444\)$" \
    "stderr of resume"

note "2. the folder read-only, no -wal file"
D="$WORK/ro2"
fresh_db "$D" bare
chmod 0555 "$D"
urun run wf.json --db "$D/d.db"
expect_rc 3
assert_contains "$DF_ERR" "cannot write $D/d.db: the folder $D is not writable (the -wal file cannot be created)" \
    "stderr of run"
expect_stderr_lines_prefixed
urun status --db "$D/d.db"
assert_contains "$DF_ERR" "cannot write $D/d.db: the folder $D is not writable (the -wal file cannot be created)" \
    "stderr of status"
chmod 0755 "$D"

note "3. the folder read-only, no database"
D="$WORK/ro3"
mkdir "$D"
chmod 0555 "$D"
urun run wf.json --db "$D/d.db"
expect_rc 3
assert_contains "$DF_ERR" "dagflow: store: cannot create $D/d.db: the folder $D is not writable" \
    "stderr of run"
assert_file_absent "$D/d.db"
chmod 0755 "$D"

note "4. a read-only file system"
D="$WORK/ro4"
fresh_db "$D"
mkdir "$WORK/ro5"
cat >rofs.sh <<EOF
set -e
mount --bind -o ro "$D" "$D"
mount --bind -o ro "$WORK/ro5" "$WORK/ro5"
"$DF_BIN" run wf.json --db "$D/d.db" --plugin-dir "$DF_TEST_PLUGIN_DIR" >rofs1.out 2>rofs1.err || echo \$? >rofs1.rc
"$DF_BIN" run wf.json --db "$WORK/ro5/d.db" --plugin-dir "$DF_TEST_PLUGIN_DIR" >rofs2.out 2>rofs2.err || echo \$? >rofs2.rc
EOF
if command -v unshare >/dev/null && unshare -m sh rofs.sh 2>rofs.setup; then
    assert_eq 3 "$(cat rofs1.rc 2>/dev/null)" "exit code on a read-only file system"
    assert_contains "$(cat rofs1.err)" \
        "dagflow: store: create run: cannot write $D/d.db: the file system it is on is mounted read-only" \
        "stderr on a read-only file system"
    assert_eq 3 "$(cat rofs2.rc 2>/dev/null)" "exit code for a new database on a read-only file system"
    assert_contains "$(cat rofs2.err)" \
        "dagflow: store: cannot create $WORK/ro5/d.db: the file system $WORK/ro5 is on is mounted read-only" \
        "stderr for a new database on a read-only file system"
else
    note "no private read-only bind mount here ($(head -c 200 rofs.setup)): variant 4 skipped"
fi

df_done
