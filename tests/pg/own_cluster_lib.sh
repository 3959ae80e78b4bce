# own_cluster_lib: sourced by the PostgreSQL tests that stop and start the server: the e2e helpers,
# a throwaway cluster of the test's own (pg_cluster.sh; the shared one cannot be stopped), a
# cleanup trap (kills $PIDS, stops the cluster, then runs dur_cleanup when the test sourced
# dur_lib.sh, else removes $WORK), a fresh database $DB, DATA, BINDIR, PORT, SOCK and as_owner for
# pg_ctl, and pg_stop / pg_start (a fast shutdown, every connection cut; a start on the same
# socket and port).
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/run_lib.sh"
source "$(dirname "$0")/../e2e/serve_lib.sh"
PG_SH="$(cd "$(dirname "$0")" && pwd)/pg_cluster.sh"
df_setup
command -v psql >/dev/null || skip "psql is not installed"
STATE="$WORK/cluster"
DAGFLOW_TEST_PG_URI="$(bash "$PG_SH" start "$STATE")" || {
    rc=$?
    [[ $rc == 77 ]] && skip "no PostgreSQL server binaries"
    fail "cannot start a cluster"
}
export DAGFLOW_TEST_PG_URI
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    bash "$PG_SH" stop "$STATE"
    if declare -F dur_cleanup >/dev/null; then dur_cleanup; else df_remove_work; fi
}
trap cleanup EXIT
need_builtin sleep
df_pg_new_db
DB="$DF_PG_NEW"
DATA="$(cat "$STATE/dir")/data"
BINDIR="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | tail -1)")"
PORT="$(sed -E 's/.*port=([0-9]+).*/\1/' <<<"$DAGFLOW_TEST_PG_URI")"
SOCK="$(cat "$STATE/dir")"
as_owner() {
    if [[ $(id -u) == 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}
pg_stop() {
    as_owner "$BINDIR/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null
}
pg_start() {
    as_owner "$BINDIR/pg_ctl" -D "$DATA" -l "$SOCK/server.log" -w -t 60 \
        -o "-c listen_addresses='' -k $SOCK -p $PORT -c fsync=off" start </dev/null >/dev/null 2>&1
}
"$DF_BIN" history --db "$DB" >/dev/null || fail "cannot open the test database"
