#!/usr/bin/env bash
# test_store_links: the database path is never followed through a symbolic link, and every file
# dagflow creates (the database, its -wal and -shm, alert files) has mode 0600 (SPEC §12, issue 15
# item 11: a dangling --db link used to create its target, a victim file became a database, and
# -wal/-shm were made 0644).
#   1. --db a link to a file: `run` and `status` are refused (exit 3) with a message, the file is
#      untouched, and no -wal/-shm appears beside the link or the file.
#   2. --db a dangling link: refused; its target is not created.
#   3. With umask 000, a run creates the database, its -wal and -shm and its alert file 0600.
#   4. An alert file sink whose path is a link: the alert is not written through it (the delivery
#      fails, the link's target is untouched).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup

cat >wf.json <<'EOF'
{"name": "links", "tasks": [{"id": "a", "plugin": "noop"}],
 "alerts": [{"type": "file", "path": "out/alerts.jsonl", "on": ["run_succeeded"]}]}
EOF
LINK_MSG="is a symbolic link; dagflow does not follow links for its database (use the real path)"

# expect_refused LINK: the last command exited 3 with the link message naming LINK.
expect_refused() {
    expect_rc 3 "exit code for --db $1"
    assert_contains "$DF_ERR" "dagflow: store: --db $1 $LINK_MSG" "stderr"
    expect_stderr_lines_prefixed
}

note "1. --db a symbolic link to a file"
printf 'precious\n' >victim.txt
chmod 0644 victim.txt
ln -s victim.txt link.db
run_df run wf.json --db link.db
expect_refused link.db
run_df status --db link.db
expect_refused link.db
run_df history --db link.db
expect_refused link.db
assert_eq "precious" "$(cat victim.txt)" "the link's target"
assert_eq 644 "$(stat -c %a victim.txt)" "the mode of the link's target"
for f in victim.txt-wal victim.txt-shm link.db-wal link.db-shm out; do
    assert_file_absent "$f"
done

note "2. --db a dangling symbolic link"
ln -s target.db dangling.db
run_df run wf.json --db dangling.db
expect_refused dangling.db
run_df status --db dangling.db
expect_refused dangling.db
assert_file_absent target.db "the dangling link's target"
# Through DAGFLOW_DB as well.
set +e
DAGFLOW_DB=dangling.db "$DF_BIN" run wf.json >"$WORK/.stdout" 2>"$WORK/.stderr"
DF_RC=$?
set -e
DF_ERR="$(cat "$WORK/.stderr")"
expect_refused dangling.db
assert_file_absent target.db "the dangling link's target (DAGFLOW_DB)"

note "3. files created 0600 whatever the umask"
(
    umask 000
    exec "$DF_BIN" run wf.json --db new.db >"$WORK/.stdout" 2>"$WORK/.stderr"
) || fail "run with umask 000: $(cat "$WORK/.stderr")"
for f in new.db new.db-wal new.db-shm out/alerts.jsonl; do
    [[ -e "$f" ]] || fail "$f was not created"
    assert_eq 600 "$(stat -c %a "$f")" "mode of $f"
done
assert_contains "$(cat out/alerts.jsonl)" '"run_succeeded"' "the alert file"

note "4. an alert file that is a symbolic link is not written through"
printf 'keep\n' >victim2.txt
rm -f out/alerts.jsonl
ln -s ../victim2.txt out/alerts.jsonl
run_df run wf.json --db new.db
expect_rc 0 "the run itself succeeds"
assert_eq "keep" "$(cat victim2.txt)" "the alert link's target"
assert_contains "$(df_sqlite new.db "SELECT status || ' ' || error FROM alerts WHERE run_id = 2")" \
    "out/alerts.jsonl is a symbolic link" "the alert's delivery error"

df_done
