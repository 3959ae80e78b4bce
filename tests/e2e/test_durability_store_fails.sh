#!/usr/bin/env bash
# test_durability_store_fails: the store stops accepting writes in the middle of a run (SPEC §6
# exit code 3 "store or internal error"); the engine must stop with exit 3 and a clear message,
# leave the history consistent, and `resume` must finish the run SUCCESS once the cause is fixed.
# Root ignores file modes, and a file already open stays writable after chmod, so the store is
# made unwritable in ways that reach an engine already running:
#   1. read-only: `chattr +i` on the database and its -wal file (ext4 and most local file systems;
#      skipped where chattr is refused, e.g. tmpfs);
#   2. disk full: RLIMIT_FSIZE lowered to 0 with prlimit on the running engine (started with
#      SIGXFSZ ignored, so its writes fail with EFBIG as they would on a full disk);
#   3. read-only before a resume: as an unprivileged user (setpriv, uid 65534) the database is
#      chmod 0400: resume exits 3 with SQLite's reason, and resumes once it is 0600 again.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/data/durability/dur_lib.sh"
dur_setup

# A chain of 12 sleep tasks (150 ms each) after a counter.
{
    echo '{"name": "durability_store", "tasks": ['
    echo '  {"id": "c0", "plugin": "counter", "params": {"path": "runs.log"}},'
    prev=c0
    for i in $(seq 1 12); do
        sep=","
        ((i == 12)) && sep=""
        echo "  {\"id\": \"s$i\", \"plugin\": \"sleep\", \"depends_on\": [\"$prev\"], \"params\": {\"ms\": 150}}$sep"
        prev=s$i
    done
    echo ']}'
} >wf.json

IMMUTABLE=()
immutable_off() {
    local f
    for f in "${IMMUTABLE[@]}"; do
        chattr -i "$f" 2>/dev/null || true
    done
    IMMUTABLE=()
}
trap 'immutable_off; dur_cleanup' EXIT

# check_stopped NAME RUN: the engine NAME ended with exit 3, a clear message, and a run that
# resume can finish.
check_stopped() {
    expect_bg_rc 3 "$1" "exit code when the store fails"
    local err
    err="$(cat "$WORK/$1.err")"
    assert_match "$err" "^dagflow: store: " "stderr names the store"
    assert_contains "$err" "dagflow: run $2 stopped; fix the cause, then \`dagflow resume $2 --db '$DB' --plugin-dir '$DF_TEST_PLUGIN_DIR'\`" \
        "stderr says how to continue"
    while IFS= read -r line; do
        [[ -z "$line" || "$line" == "dagflow: "* || "$line" == "run $2: "* ]] ||
            fail "unexpected stderr line: [$line]"
    done <<<"$err"
}

# resume_ok RUN: resume ends the run SUCCESS; tasks SUCCESS before the failure are not re-run.
resume_ok() {
    local run="$1" before
    before="$(q "SELECT task_id || ' ' || attempts FROM task_history WHERE run_id = $run
                 AND state = 'SUCCESS' ORDER BY task_id")"
    expect_invariants "$run" dead
    resume_fg "$run"
    expect_rc 0 "resume once the store is writable again"
    expect_run "$run" SUCCESS
    expect_invariants "$run" finished
    assert_eq 13 "$(q "SELECT count(*) FROM task_history WHERE run_id = $run AND state = 'SUCCESS'")" \
        "tasks SUCCESS"
    while read -r task attempts; do
        [[ -n "$task" ]] || continue
        assert_eq "$attempts" "$(q "SELECT attempts FROM task_history WHERE run_id = $run
                                    AND task_id = '$task'")" "attempts of $task (SUCCESS before)"
    done <<<"$before"
}

note "1. chattr +i on the database mid-run"
bg run1 run wf.json
wait_sql "SELECT count(*) >= 3 FROM task_history WHERE state = 'SUCCESS'
          AND run_id = (SELECT max(run_id) FROM runs)" 20 "3 tasks SUCCESS"
run1=$(last_run)
chattr_ok=1
for f in "$DB" "$DB-wal"; do
    if chattr +i "$f" 2>/dev/null; then
        IMMUTABLE+=("$f")
    else
        chattr_ok=0
    fi
done
if ((chattr_ok)); then
    bg_wait "$BG_PID" 15 run1
    immutable_off
    note "stopped ${BG_MS} ms after the store became read-only: $(grep -m1 'dagflow: store' "$WORK/run1.err")"
    check_stopped run1 "$run1"
    assert_eq RUNNING "$(q "SELECT state FROM runs WHERE run_id = $run1")" \
        "stored state (the engine could not write INTERRUPTED)"
    resume_ok "$run1"
else
    immutable_off
    note "chattr +i is not supported here ($(df -T "$WORK" | awk 'NR == 2 { print $2 }')): variant 1 skipped"
    bg_wait "$BG_PID" 20 run1
fi

note "2. disk full (RLIMIT_FSIZE 0) mid-run"
if command -v prlimit >/dev/null; then
    BG_IGNORE_XFSZ=1 bg run2 run wf.json
    wait_sql "SELECT count(*) >= 3 FROM task_history WHERE state = 'SUCCESS'
              AND run_id = (SELECT max(run_id) FROM runs) AND run_id > ${run1:-0}" 20 \
        "3 tasks of the new run SUCCESS"
    run2=$(last_run)
    prlimit --pid "$BG_PID" --fsize=0: || fail "prlimit --fsize on the engine failed"
    bg_wait "$BG_PID" 15 run2
    note "stopped ${BG_MS} ms after the disk filled up: $(grep -m1 'dagflow: store' "$WORK/run2.err" || true)"
    check_stopped run2 "$run2"
    resume_ok "$run2"
else
    note "prlimit (util-linux) is not installed: variant 2 skipped"
fi

note "3. read-only database for an unprivileged user's resume"
nobody_ok=0
if command -v setpriv >/dev/null && [[ $(id -u) == 0 ]]; then
    mkdir -p "$WORK/u"
    chmod 711 "$WORK"
    chown 65534:65534 "$WORK/u"
    as_nobody() {
        setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
    }
    if as_nobody test -x "$DF_BIN" && as_nobody test -r "$DF_TEST_PLUGIN_DIR/counter.so" &&
        as_nobody test -w "$WORK/u"; then
        nobody_ok=1
    fi
fi
if ((nobody_ok)); then
    cp wf.json "$WORK/u/wf.json"
    chown 65534:65534 "$WORK/u/wf.json"
    UDB="$WORK/u/u.db"
    # Run as nobody, killed once 3 tasks succeeded.
    (
        cd "$WORK/u"
        exec setpriv --reuid=65534 --regid=65534 --clear-groups "$DF_BIN" run wf.json --db "$UDB" \
            --plugin-dir "$DF_TEST_PLUGIN_DIR" >"$WORK/run3.out" 2>"$WORK/run3.err"
    ) &
    pid3=$!
    DUR_PIDS+=("$pid3")
    DB_SAVED="$DB"
    DB="$UDB"
    wait_sql "SELECT count(*) >= 3 FROM task_history WHERE state = 'SUCCESS'" 20 "3 tasks SUCCESS"
    kill -9 "$pid3"
    wait "$pid3" 2>/dev/null || true
    run3=$(last_run)
    chmod 0400 "$UDB"
    set +e
    as_nobody "$DF_BIN" resume "$run3" --db "$UDB" --plugin-dir "$DF_TEST_PLUGIN_DIR" \
        >"$WORK/.stdout" 2>"$WORK/.stderr"
    DF_RC=$?
    set -e
    DF_LAST_ARGS="resume $run3 (as uid 65534, database 0400)"
    expect_rc 3 "resume of a read-only database"
    assert_match "$(cat "$WORK/.stderr")" "^dagflow: .*(read-only|readonly)" "message for a read-only database"
    chmod 0600 "$UDB"
    set +e
    as_nobody "$DF_BIN" resume "$run3" --db "$UDB" --plugin-dir "$DF_TEST_PLUGIN_DIR" \
        >"$WORK/.stdout" 2>"$WORK/.stderr"
    DF_RC=$?
    set -e
    DF_LAST_ARGS="resume $run3 (as uid 65534, database 0600)"
    expect_rc 0 "resume once the database is writable"
    expect_run "$run3" SUCCESS
    expect_invariants "$run3" finished
    DB="$DB_SAVED"
else
    note "no setpriv, not root, or uid 65534 cannot reach the build: variant 3 skipped"
fi

df_done
