# netns_lib.sh: the project's own test hosts (issue 13) — network namespaces, each joined to the
# host by a veth pair, a PostgreSQL cluster of the test's own listening on the host side of every
# pair (TCP, trust for the test's subnet), dagflow processes run inside a namespace, and a link
# taken down for a fault. Everything is removed at exit, on failure too (trap). Needs root and
# iproute2; where namespaces cannot be made (not root, a container without CAP_NET_ADMIN), the
# test skips (exit 77). Source it after e2e/lib.sh and e2e/run_lib.sh, then:
#     netns_setup N         # N namespaces: NETNS_NS[i], NETNS_HOST_IP[i], NETNS_IP[i] (i = 1..N)
#     netns_cluster         # the cluster; DB: a fresh database, netns_uri i: its URI from ns i
#     netns_bg i NAME CMD.. # CMD inside ns i in the background: NAME_PID, stderr in NAME.log
#     netns_link i down|up  # the host side of ns i's link
NETNS_NS=()
NETNS_HOST_IP=()
NETNS_IP=()
NETNS_HOSTIF=()
NETNS_PG_STATE=""
NETNS_PG_PORT=""
NETNS_BGPIDS=()
NETNS_PG_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")/../pg" && pwd)/pg_cluster.sh"

# netns_cleanup: kills what runs in the namespaces, removes them (their veth pairs go with them)
# and stops the cluster. Never fails.
netns_cleanup() {
    local p ns
    for p in "${NETNS_BGPIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
    for ns in "${NETNS_NS[@]}"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    for p in "${NETNS_HOSTIF[@]}"; do ip link del "$p" 2>/dev/null || true; done
    [[ -n "$NETNS_PG_STATE" ]] && bash "$NETNS_PG_SH" stop "$NETNS_PG_STATE" 2>/dev/null
    df_remove_work
}

# netns_setup N: makes N namespaces with a veth pair each: host side 10.S.i.1/24, namespace side
# 10.S.i.2/24 (S from the test's pid, so that tests running at once differ).
netns_setup() {
    [[ $(id -u) == 0 ]] || skip "network namespaces need root"
    command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
    local probe="dfp$$"
    ip netns add "$probe" 2>/dev/null || skip "network namespaces are not permitted here"
    ip netns del "$probe"
    trap netns_cleanup EXIT
    local s=$((100 + $$ % 150)) i
    for ((i = 1; i <= $1; i++)); do
        NETNS_NS[i]="dfn$$x$i"
        NETNS_HOSTIF[i]="dfh$$x$i"
        NETNS_HOST_IP[i]="10.$s.$i.1"
        NETNS_IP[i]="10.$s.$i.2"
        ip netns add "${NETNS_NS[i]}" || fail "ip netns add ${NETNS_NS[i]}"
        ip link add "${NETNS_HOSTIF[i]}" type veth peer name eth0 netns "${NETNS_NS[i]}" ||
            fail "cannot make the veth pair of ${NETNS_NS[i]}"
        ip addr add "${NETNS_HOST_IP[i]}/24" dev "${NETNS_HOSTIF[i]}"
        ip link set "${NETNS_HOSTIF[i]}" up
        ip netns exec "${NETNS_NS[i]}" ip addr add "${NETNS_IP[i]}/24" dev eth0
        ip netns exec "${NETNS_NS[i]}" ip link set eth0 up
        ip netns exec "${NETNS_NS[i]}" ip link set lo up
    done
    NETNS_SUBNET="10.$s.0.0/16"
}

# netns_cluster: a cluster of the test's own listening on every host-side address (TCP, trust
# for the namespaces' subnet) and its Unix socket; DB is a fresh database on it (Unix socket).
netns_cluster() {
    command -v psql >/dev/null || skip "psql is not installed"
    NETNS_PG_STATE="$WORK/netns-cluster"
    local uri rc
    uri="$(bash "$NETNS_PG_SH" start "$NETNS_PG_STATE")" || {
        rc=$?
        [[ $rc == 77 ]] && skip "no PostgreSQL server binaries"
        fail "cannot start a cluster"
    }
    local dir data bindir addrs
    dir="$(cat "$NETNS_PG_STATE/dir")"
    data="$dir/data"
    bindir="$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | tail -1)")"
    NETNS_PG_PORT="$(sed -E 's/.*port=([0-9]+).*/\1/' <<<"$uri")"
    addrs="$(IFS=,; echo "${NETNS_HOST_IP[*]}")"
    echo "host all all $NETNS_SUBNET trust" >>"$data/pg_hba.conf"
    runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null
    runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='$addrs' -k $dir -p $NETNS_PG_PORT -c fsync=off \
            -c synchronous_commit=off -c max_connections=200" start </dev/null >/dev/null 2>&1 ||
        fail "cannot restart the cluster on $addrs: $(tail -5 "$dir/server.log")"
    DAGFLOW_TEST_PG_URI="$uri"
    export DAGFLOW_TEST_PG_URI
    df_pg_new_db
    DB="$DF_PG_NEW"
    NETNS_DBNAME="$(sed -E 's#^postgresql:///([^?]*)\?.*#\1#' <<<"$DB")"
}

# netns_uri i: the test database's URI as seen from namespace i (TCP to the host side).
netns_uri() {
    printf 'postgresql://postgres@%s:%s/%s' "${NETNS_HOST_IP[$1]}" "$NETNS_PG_PORT" "$NETNS_DBNAME"
}

# netns_bg i NAME CMD...: runs CMD inside namespace i in the background; NAME_PID is its pid,
# its stderr goes to $WORK/NAME.log, its stdout to $WORK/NAME.out.
netns_bg() {
    local i="$1" name="$2"
    shift 2
    ip netns exec "${NETNS_NS[i]}" "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
    printf -v "${name}_PID" '%s' "$!"
    NETNS_BGPIDS+=("$!")
}

# netns_link i down|up: takes the host side of namespace i's link down (the namespace is cut off:
# packets to and from it are lost, no connection is reset) or brings it up again.
netns_link() {
    ip link set "${NETNS_HOSTIF[$1]}" "$2" || fail "ip link set ${NETNS_HOSTIF[$1]} $2"
}
