# dur_lib.sh: helpers of the durability end-to-end tests (tests/e2e/test_durability_*.sh), on top
# of lib.sh and run_lib.sh: dagflow processes in the background (to kill or interrupt them mid-run),
# polling the store while an engine writes it, and clean-up of everything a test started
# (engines and the process groups of their shell tasks). Each such script does:
#     set -euo pipefail; source "$(dirname "$0")/lib.sh"; source "$(dirname "$0")/run_lib.sh"
#     source "$(dirname "$0")/data/durability/dur_lib.sh"; dur_setup
# The SPEC §3/§7 invariants come from tests/crash/invariants.sh (inv_check).

DUR_DATA="$E2E_DIR/data/durability"
source "$E2E_DIR/../crash/invariants.sh"

# Pids of background engines, and a file where shell tasks write their process group ids.
DUR_PIDS=()

# dur_cleanup: kills what the test left running (the engines it started, by pid, and the process
# groups recorded in $WORK/pgids), then removes $WORK.
dur_cleanup() {
    local p
    for p in "${DUR_PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null || true
    done
    if [[ -n "${WORK:-}" && -f "$WORK/pgids" ]]; then
        while read -r p; do
            [[ "$p" =~ ^[0-9]+$ ]] && kill -9 -- "-$p" 2>/dev/null || true
        done <"$WORK/pgids"
    fi
    df_pg_drop_dbs
    [[ -z "${WORK:-}" ]] || rm -rf -- "$WORK"
}

# dur_setup: run_setup (a fresh $WORK, $DB), the plugins these tests use, and the clean-up trap.
dur_setup() {
    run_setup
    trap dur_cleanup EXIT
    need_builtin sleep
    need_builtin shell
    need_builtin noop
    need_plugin counter
}

# bg NAME ARGS...: starts `dagflow ARGS... --db $DB --plugin-dir $DF_TEST_PLUGIN_DIR` in the
# background with stdout/stderr in $WORK/NAME.out and NAME.err; sets BG_PID to dagflow's pid.
# dagflow runs under a small wrapper subshell that reports its exit code (so that bash prints no
# "Killed" notice when a test kills it); a background dagflow starts with SIGINT ignored, as
# every asynchronous command of a non-interactive shell does, and installs its own handler.
# With BG_GATE set to a FIFO (made by gate_new), dagflow starts only when gate_open is called,
# so that several of them start at the same moment. With BG_IGNORE_XFSZ=1, dagflow starts with
# SIGXFSZ ignored (a write past RLIMIT_FSIZE then fails with EFBIG instead of killing it).
declare -A DUR_WRAPPER
bg() {
    local name="$1" pidfile="$WORK/$1.pid"
    shift
    rm -f "$pidfile"
    (
        [[ -z "${BG_GATE:-}" ]] || cat "$BG_GATE" >/dev/null
        out="$WORK/$name.out" err="$WORK/$name.err" copier=""
        if [[ -n "${BG_IGNORE_XFSZ:-}" ]]; then
            trap '' XFSZ
            # The output goes through pipes: a file limit on dagflow must not hide its messages.
            mkfifo "$WORK/$name.out.fifo" "$WORK/$name.err.fifo"
            cat "$WORK/$name.out.fifo" >"$out" &
            copier="$copier $!"
            cat "$WORK/$name.err.fifo" >"$err" &
            copier="$copier $!"
            out="$WORK/$name.out.fifo" err="$WORK/$name.err.fifo"
        fi
        "$DF_BIN" "$@" --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" >"$out" 2>"$err" &
        pid=$!
        echo $pid >"$pidfile.tmp"
        mv "$pidfile.tmp" "$pidfile"
        wait $pid
        rc=$?
        [[ -z "$copier" ]] || wait $copier
        exit $rc
    ) 2>/dev/null &
    DUR_WRAPPER[$name]=$!
    [[ -n "${BG_GATE:-}" ]] || bg_collect "$name"
}

# bg_collect NAME: waits until the dagflow started by `bg NAME` is running; sets BG_PID (done by
# bg itself unless BG_GATE was set).
bg_collect() {
    local pidfile="$WORK/$1.pid"
    while [[ ! -s "$pidfile" ]]; do
        sleep 0.01
    done
    BG_PID=$(cat "$pidfile")
    DUR_WRAPPER[$BG_PID]=${DUR_WRAPPER[$1]}
    DUR_PIDS+=("$BG_PID")
}

# gate_new PATH: makes the FIFO PATH for BG_GATE. gate_open PATH: lets everything waiting on it go
# (opening the FIFO for writing completes every reader's open at once).
gate_new() {
    rm -f "$1"
    mkfifo "$1"
}
gate_open() {
    sleep 0.3 # every reader is blocked in its open by now
    exec {gate_fd}>"$1"
    exec {gate_fd}>&-
}

# bg_wait PID SECONDS NAME: waits for the background dagflow PID to exit, at most SECONDS
# (fractions allowed); sets BG_RC to its exit code (137 when killed by SIGKILL) and BG_MS to the
# milliseconds waited; fails the test (after killing it) when it does not exit in time.
bg_wait() {
    local pid="$1" limit_ms t0
    limit_ms=$(awk -v s="$2" 'BEGIN { printf "%d", s * 1000 }')
    t0=$(now_ms)
    while kill -0 "$pid" 2>/dev/null; do
        # A zombie is done: its wrapper collects it.
        [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == Z* ]] && break
        if (($(now_ms) - t0 > limit_ms)); then
            kill -9 "$pid" 2>/dev/null || true
            fail "dagflow $3 (pid $pid) did not exit within $2 s; stderr: $(head -c 2000 "$WORK/$3.err" 2>/dev/null)"
        fi
        sleep 0.02
    done
    set +e
    wait "${DUR_WRAPPER[$pid]}"
    BG_RC=$?
    set -e
    BG_MS=$(($(now_ms) - t0))
}

# expect_bg_rc CODE NAME [WHAT]: the last bg_wait ended with this exit code.
expect_bg_rc() {
    if [[ "$BG_RC" != "$1" ]]; then
        fail "${3:-exit code of dagflow $2}: expected $1, got $BG_RC; stderr: $(head -c 3000 "$WORK/$2.err" 2>/dev/null)"
    fi
    DF_ASSERTS=$((DF_ASSERTS + 1))
}

# wait_sql SQL SECONDS WHAT: polls the store until SQL returns a non-empty, non-zero first row;
# fails the test after SECONDS. Reading while an engine writes is what WAL mode promises (SPEC §7).
wait_sql() {
    local limit_ms t0 out
    limit_ms=$(awk -v s="$2" 'BEGIN { printf "%d", s * 1000 }')
    t0=$(now_ms)
    while :; do
        out=""
        # Never let the sqlite3 shell create the database (it would be root's, mode 0644).
        if df_is_pg_uri "$DB"; then
            out="$(df_sqlite "$DB" "$1" 2>/dev/null || true)"
        elif [[ -s "$DB" ]]; then
            out="$(sqlite3 -batch -cmd '.timeout 2000' "$DB" "$1" 2>/dev/null || true)"
        fi
        out="${out%%$'\n'*}"
        [[ -n "$out" && "$out" != 0 ]] && return 0
        (($(now_ms) - t0 > limit_ms)) && fail "timed out after $2 s waiting for: $3"
        sleep 0.03
    done
}

# expect_invariants RUN MODE: tests/crash/invariants.sh's inv_check passes (MODE dead|finished).
expect_invariants() {
    local out
    out="$(inv_check "$DB" "$1" "$2")" || fail "store invariants violated: $out"
    DF_ASSERTS=$((DF_ASSERTS + 1))
}

# pg_alive PGID: true while a process of that process group is alive (zombies, dead and waiting
# for their new parent to reap them, do not count).
pg_alive() {
    ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# pg_show PGID: the processes of that group, for failure messages.
pg_show() {
    ps -e -o pid=,pgid=,stat=,args= | awk -v g="$1" '$2 == g'
}

# dfg COMMAND ARGS...: `dagflow COMMAND ARGS... --db $DB --plugin-dir $DF_TEST_PLUGIN_DIR` in the
# foreground under a 60 s limit; sets DF_OUT, DF_ERR, DF_RC like run_df (137 when the engine was
# killed by SIGKILL, e.g. by the crash plugin) and FG_MS (wall time in milliseconds).
dfg() {
    DF_LAST_ARGS="$*"
    local t0
    t0=$(now_ms)
    set +e
    # In a subshell whose stderr is /dev/null, so that bash's "Killed" notice stays out of the
    # log (the `exit` keeps bash from exec'ing timeout in place of the subshell).
    (
        timeout -k 5 60 "$DF_BIN" "$@" --db "$DB" --plugin-dir "$DF_TEST_PLUGIN_DIR" \
            >"$WORK/.stdout" 2>"$WORK/.stderr"
        exit $?
    ) 2>/dev/null
    DF_RC=$?
    set -e
    FG_MS=$(($(now_ms) - t0))
    DF_OUT="$(cat "$WORK/.stdout")"
    DF_ERR="$(cat "$WORK/.stderr")"
    ((FG_MS < 60000)) || fail "dagflow $* did not finish within 60 s"
}

# resume_fg RUN [ARGS...] and retry_fg RUN [ARGS...]: dfg resume / dfg retry.
resume_fg() {
    dfg resume "$@"
}
retry_fg() {
    dfg retry "$@"
}
