# serve_lib.sh: helpers of the `dagflow serve` end-to-end tests (tests/e2e/test_serve_*.sh), on
# top of lib.sh and run_lib.sh. Each such script does:
#     set -euo pipefail; source lib.sh; source run_lib.sh; source serve_lib.sh; run_setup
# then writes workflow files into $WORK/wf, starts `dagflow serve` in the background with
# serve_start, and checks the views (q) and the log ($WORK/serve.N.log).

SERVE_N=0

# serve_start [ARGS...]: starts `dagflow serve --workflows $WORK/wf --db $DB` in the background;
# SERVE_PID is its pid, SERVE_LOG its stderr. Waits until it says it is serving (at most 30 s).
# Without --listen in ARGS its HTTP API listens on a free loopback port (--listen 127.0.0.1:0, so
# that serves started at once never fight for 8080); SERVE_URL is its URL
# (http://127.0.0.1:PORT/), "" with --listen off.
serve_start() {
    SERVE_N=$((SERVE_N + 1))
    SERVE_LOG="$WORK/serve.$SERVE_N.log"
    local listen=(--listen 127.0.0.1:0) a
    for a in "$@"; do
        if [[ "$a" == --listen ]]; then listen=(); fi
    done
    "$DF_BIN" serve --workflows "$WORK/wf" --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" \
        "${listen[@]}" "$@" >"$WORK/serve.$SERVE_N.out" 2>"$SERVE_LOG" &
    SERVE_PID=$!
    SERVE_URL=""
    local i
    for ((i = 0; i < 300; i++)); do
        if grep -q 'dagflow serve: serving' "$SERVE_LOG" 2>/dev/null; then
            SERVE_URL=$(grep -o 'HTTP API and web UI on http://[^ ]*' "$SERVE_LOG" | head -1 |
                sed 's/.* on //' || true)
            return 0
        fi
        kill -0 "$SERVE_PID" 2>/dev/null || fail "serve exited at start: $(cat "$SERVE_LOG")"
        sleep 0.1
    done
    fail "serve did not start within 30 s: $(cat "$SERVE_LOG")"
}

# serve_stop [SIGNAL]: sends SIGNAL (default TERM) to the serve started last and waits for it;
# SERVE_RC is its exit code. A serve still alive 60 s later fails the test.
serve_stop() {
    local sig="${1:-TERM}" i
    kill -s "$sig" "$SERVE_PID" 2>/dev/null || true
    for ((i = 0; i < 600; i++)); do
        kill -0 "$SERVE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVE_PID" 2>/dev/null; then
        serve_stuck_diag "$SERVE_PID"
        fail "serve $SERVE_PID did not stop within 60 s after SIG$sig: $(tail -30 "$SERVE_LOG")"
    fi
    set +e
    wait "$SERVE_PID"
    SERVE_RC=$?
    set -e
}

# serve_stuck_diag PID: what a serve that did not stop is doing, on stderr: every thread's
# backtrace, then, 3 s later, its main thread's again and the transactions the test database
# committed meanwhile. A serve waiting in libpq for good shows the same frames and commits
# nothing; one that loops (a run that never ends, a timer re-armed) moves and commits: a single
# backtrace inside PQgetResult cannot tell the two apart, nor can pg_stat_activity alone (a
# connection idle after a COMMIT 2 ms old is a live one).
serve_stuck_diag() {
    local pid=$1 c0 c1
    local have_gdb=false
    command -v gdb >/dev/null && have_gdb=true
    $have_gdb && gdb -p "$pid" -batch -ex 'thread apply all bt 8' 2>/dev/null |
        grep -E '^#|^Thread' | head -60 >&2
    serve_pg_diag
    df_is_pg_uri "$DB" && c0=$(serve_db_commits)
    sleep 3
    if df_is_pg_uri "$DB"; then
        c1=$(serve_db_commits)
        echo "--- transactions committed in the test database in the last 3 s (psql's own" \
            "included): $((${c1:-0} - ${c0:-0}))" >&2
    fi
    if $have_gdb; then
        echo "--- its main thread 3 s later" >&2
        gdb -p "$pid" -batch -ex 'thread apply 1 bt 12' 2>/dev/null | grep -E '^#' >&2 || true
    fi
    echo "--- its open descriptors" >&2
    ls -l "/proc/$pid/fd" 2>/dev/null | awk 'NR > 1 {print $(NF-2), $NF}' | head -40 >&2 || true
}

# serve_db_commits: the test database's committed transactions so far (statistics as of now).
serve_db_commits() {
    psql -X -q -A -t -d "$DB" -c "SELECT pg_stat_clear_snapshot();
        SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()" 2>/dev/null |
        tail -1 || true
}

# serve_pg_diag: on PostgreSQL, what every connection to the test's database is doing and the
# locks they hold or wait for (pg_stat_activity, pg_locks), on stderr: what a serve that seems
# stuck waits for.
serve_pg_diag() {
    df_is_pg_uri "$DB" || return 0
    {
        echo "--- pg_stat_activity of the test database"
        psql -X -q -A -F ' | ' -d "$DB" -c "SELECT pid, application_name, state, wait_event_type,
            wait_event, now() - xact_start AS xact_age, now() - state_change AS state_age,
            left(regexp_replace(query, '\s+', ' ', 'g'), 160) AS query FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()" 2>&1
        echo "--- pg_locks not granted, and who blocks them"
        psql -X -q -A -F ' | ' -d "$DB" -c "SELECT l.pid, l.locktype, l.mode, l.relation::regclass,
            pg_blocking_pids(l.pid) AS blocked_by FROM pg_locks l WHERE NOT l.granted" 2>&1
    } >&2 || true
}

# wait_for SECONDS SQL EXPECTED: polls q SQL until it prints EXPECTED (every 0.2 s); fails after
# SECONDS.
wait_for() {
    local limit=$(($1 * 5)) i got=""
    for ((i = 0; i < limit; i++)); do
        got=$(q "$2" 2>/dev/null || true)
        [[ "$got" == "$3" ]] && return 0
        sleep 0.2
    done
    serve_pg_diag
    fail "waited $1 s for [$2] to give [$3]; last [$got]"
}

# wait_log SECONDS TEXT: waits until the current serve log holds TEXT.
wait_log() {
    local limit=$(($1 * 10)) i
    for ((i = 0; i < limit; i++)); do
        grep -qF -- "$2" "$SERVE_LOG" && return 0
        sleep 0.1
    done
    fail "waited $1 s for \"$2\" in the serve log: $(tail -20 "$SERVE_LOG")"
}
