#!/usr/bin/env bash
# pg_cluster.sh: a throwaway PostgreSQL cluster for the test suite, started by the suite itself.
#
#   pg_cluster.sh start STATE_DIR   initdb into a new temporary folder (as the `postgres` user when
#                                   run as root: PostgreSQL refuses to run as root), start it
#                                   listening only on a Unix socket in that folder on a free port
#                                   number, no TCP; writes STATE_DIR/uri (the connection URI) and
#                                   STATE_DIR/dir, and prints the URI. A cluster left behind in
#                                   STATE_DIR by an interrupted earlier run is stopped first.
#   pg_cluster.sh stop STATE_DIR    stops that cluster and removes its folder (and STATE_DIR/uri).
#   pg_cluster.sh run CMD [ARG...]  start, run CMD with DAGFLOW_TEST_PG_URI set to the URI, stop
#                                   (a trap stops and removes the cluster even when CMD fails or
#                                   the script is interrupted); exits with CMD's status.
#
# ctest runs `start` as the setup of the `pg` fixture and `stop` as its cleanup
# (tests/CMakeLists.txt), so that the cluster starts once for all the PostgreSQL tests. Exit 77
# from start means "no PostgreSQL server binaries here" (the pg tests then skip).
# The PostgreSQL server binaries are Debian's (/usr/lib/postgresql/VERSION/bin); PG_BINDIR
# overrides. The cluster trusts local connections (it listens on nothing else).
set -euo pipefail

find_bindir() {
    if [[ -n "${PG_BINDIR:-}" ]]; then
        printf '%s' "$PG_BINDIR"
        return
    fi
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && best="$d"
    done
    [[ -n "$best" ]] || return 1
    printf '%s' "$best"
}

# as_owner CMD...: runs CMD as the cluster's owner (postgres when we are root, else ourselves).
as_owner() {
    if [[ $(id -u) == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# free_port: a port number no local listener uses (its number also names the socket file).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stop_dir DIR: stops the cluster in DIR (if running) and removes DIR.
stop_dir() {
    local dir="$1" bindir
    [[ -n "$dir" && -d "$dir" ]] || return 0
    if bindir=$(find_bindir) && [[ -f "$dir/data/postmaster.pid" ]]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf -- "$dir"
}

cmd_start() {
    local state="$1" bindir dir port
    mkdir -p "$state"
    if [[ -f "$state/dir" ]]; then
        stop_dir "$(cat "$state/dir")"
        rm -f "$state/dir" "$state/uri"
    fi
    bindir=$(find_bindir) || {
        echo "pg_cluster: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); install postgresql" >&2
        exit 77
    }
    dir=$(mktemp -d "${TMPDIR:-/tmp}/dagflow-pg.XXXXXX")
    # Until the cluster is recorded, any failure removes what was made.
    trap 'stop_dir "$dir"' EXIT
    if [[ $(id -u) == 0 ]]; then
        chown postgres: "$dir"
    fi
    chmod 0700 "$dir"
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port)
    # Tuned for a test cluster: no durability to disk (fsync off), small memory, enough
    # connections for parallel tests.
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -k $dir -p $port -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB" \
        start </dev/null >/dev/null 2>&1 ||
        { cat "$dir/server.log" >&2; exit 1; }
    local uri="postgresql:///postgres?host=$dir&port=$port&user=postgres"
    printf '%s' "$dir" >"$state/dir"
    printf '%s\n' "$uri" >"$state/uri"
    trap - EXIT
    printf '%s\n' "$uri"
}

cmd_stop() {
    local state="$1"
    if [[ -f "$state/dir" ]]; then
        stop_dir "$(cat "$state/dir")"
    fi
    rm -f "$state/dir" "$state/uri"
}

case "${1:-}" in
start)
    [[ $# == 2 ]] || { echo "usage: $0 start STATE_DIR" >&2; exit 2; }
    cmd_start "$2"
    ;;
stop)
    [[ $# == 2 ]] || { echo "usage: $0 stop STATE_DIR" >&2; exit 2; }
    cmd_stop "$2"
    ;;
run)
    shift
    [[ $# -ge 1 ]] || { echo "usage: $0 run CMD [ARG...]" >&2; exit 2; }
    STATE=$(mktemp -d "${TMPDIR:-/tmp}/dagflow-pg-state.XXXXXX")
    trap 'cmd_stop "$STATE"; rm -rf -- "$STATE"' EXIT INT TERM
    DAGFLOW_TEST_PG_URI=$(cmd_start "$STATE")
    export DAGFLOW_TEST_PG_URI
    set +e
    "$@"
    rc=$?
    exit $rc
    ;;
*)
    echo "usage: $0 start STATE_DIR | stop STATE_DIR | run CMD [ARG...]" >&2
    exit 2
    ;;
esac
