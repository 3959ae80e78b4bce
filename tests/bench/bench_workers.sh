#!/usr/bin/env bash
# bench_workers.sh: `dagflow run --executor workers` with 1 and 3 `dagflow worker` processes on
# PostgreSQL, side by side with graphile-worker on the same PostgreSQL cluster (not part of the
# pass/fail suite; README "More than one machine"). Workloads (../shared/peers shapes):
#   noop-N      N independent noop tasks
#   noop-dag-N  the layered DAG of N noop tasks, width 100, two upstreams each
# One line per case: system, workload, workers, tasks, wall s, tasks/s, ready->running p50 and
# p99 (ms; graphile-worker: none), CPU s (user+sys of every dagflow process, or of the node
# processes), peak RSS MB (sum over processes; PostgreSQL's own not counted for either), rc.
# dagflow keeps every transition as history; graphile-worker deletes completed jobs.
# Also the same workloads on SQLite with the local executor, for reference.
# Usage: tests/bench/bench_workers.sh [BUILD_DIR] [WORKLOAD...]   (default: noop-10000
#   noop-dag-10000). PostgreSQL: $DF_BENCH_PG (a URI of a cluster's postgres database), else a
#   throwaway cluster (tests/pg/pg_cluster.sh). graphile-worker: $GW_NODE_DIR (default
#   /tmp/gw-node, made by ../shared/peers/graphile/install_gw.sh); skipped when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
shift || true
bin=$(cd "$build" && pwd)/dagflow
work=$(mktemp -d /tmp/dagflow-bench-workers.XXXXXX)
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(noop-10000 noop-dag-10000)
GW_DIR=${GW_DIR:-$here/../../../shared/peers/graphile}
[ -f "$GW_DIR/gw_bench.js" ] || GW_DIR=$here/../../../../shared/peers/graphile # from a worktree
GW_NODE_DIR=${GW_NODE_DIR:-/tmp/gw-node}
pids=()
own_cluster=""
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    [ -z "$own_cluster" ] || bash "$here/../pg/pg_cluster.sh" stop "$work/cluster" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${DF_BENCH_PG:-}" ]; then
    base=$DF_BENCH_PG
else
    base=$(bash "$here/../pg/pg_cluster.sh" start "$work/cluster")
    own_cluster=1
fi
db_uri() { sed -E "s#^(postgres(ql)?://[^/?]*)/[^?]*#\1/$1#" <<<"$base"; }
new_db() {
    psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
}

gen() { # gen N WIDTH OUT
    python3 - "$@" <<'PY'
import json, sys
n, w, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
tasks = []
for k in range(n):
    l, i = divmod(k, w)
    t = {"id": "t%d_%d" % (l, i), "plugin": "noop"}
    if l > 0:
        t["depends_on"] = ["t%d_%d" % (l - 1, i), "t%d_%d" % (l - 1, (i + 1) % w)]
    tasks.append(t)
json.dump({"name": "bench", "tasks": tasks}, open(out, "w"))
PY
}

# cpu_rss FILE...: "CPU_S RSS_MB" summed over /usr/bin/time -v outputs.
cpu_rss() {
    awk -F': ' '/User time/{c+=$2} /System time/{c+=$2} /Maximum resident set size/{r+=$2}
        END{printf "%.2f %.1f", c, r/1024}' "$@"
}

line() { printf '%-10s %-15s %2s %6s %8s %9s %8s %8s %7s %7s %3s\n' "$@"; }
echo "# $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, DAGFLOW_PG_PIPELINE=${DAGFLOW_PG_PIPELINE:-1}"
line system workload w tasks wall_s tasks_per_s p50_ms p99_ms cpu_s rss_mb rc

# proc_cpu_rss PID: "CPU_S RSS_MB" of a live process (utime+stime, VmHWM) from /proc.
proc_cpu_rss() {
    local tck
    tck=$(getconf CLK_TCK)
    awk -v t="$tck" '{ printf "%.2f ", ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null || printf '0 '
    awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || printf '0'
}

# run_dagflow WORKLOAD N WORKERS(0 = SQLite, local) FILE
run_dagflow() {
    local wl=$1 n=$2 k=$3 file=$4 db rc t0 t1 i wp=() wcpu=0 wrss=0
    rm -f "$work"/time.*
    if [ "$k" = 0 ]; then
        db=$work/ref.db
        rm -f "$db"*
    else
        new_db dfbench
        db=$(db_uri dfbench)
        "$bin" history --db "$db" >/dev/null 2>&1 || true # migrates before the workers start
        for ((i = 0; i < k; i++)); do
            "$bin" worker --db "$db" --concurrency 256 2>"$work/w$i.err" &
            wp+=($!)
            pids+=($!)
        done
        sleep 0.5
    fi
    local exec=()
    [ "$k" = 0 ] || exec=(--executor workers)
    t0=$(date +%s%N)
    set +e
    /usr/bin/time -v -o "$work/time.engine" "$bin" run "$file" --db "$db" --concurrency 1024 \
        "${exec[@]}" >"$work/out.txt" 2>"$work/err.txt"
    rc=$?
    set -e
    t1=$(date +%s%N)
    for p in "${wp[@]}"; do
        read -r c r <<<"$(proc_cpu_rss "$p")"
        wcpu=$(awk -v a="$wcpu" -v b="$c" 'BEGIN { printf "%.2f", a + b }')
        wrss=$(awk -v a="$wrss" -v b="$r" 'BEGIN { printf "%.1f", a + b }')
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    local wall tps lat cr
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f",(b-a)/1e9}')
    tps=$(awk -v n="$n" -v w="$wall" 'BEGIN{printf "%.0f", n/w}')
    lat=$("$bin" status --db "$db" --json 2>/dev/null | python3 -c '
import json, sys
try:
    r = json.load(sys.stdin).get("ready_to_running") or {}
    print("%.3f %.3f" % (r["p50_us"] / 1000, r["p99_us"] / 1000))
except Exception:
    print("- -")')
    read -r c r <<<"$(cpu_rss "$work/time.engine")"
    cr="$(awk -v a="$c" -v b="$wcpu" 'BEGIN { printf "%.2f", a + b }') $(awk -v a="$r" -v b="$wrss" 'BEGIN { printf "%.1f", a + b }')"
    local sys=dagflow-pg
    [ "$k" != 0 ] || sys=dagflow-sq
    # shellcheck disable=SC2086
    line "$sys" "$wl" "$k" "$n" "$wall" "$tps" $lat $cr "$rc"
    grep -q "SUCCESS" "$work/out.txt" || { echo "  (not SUCCESS: $(tail -2 "$work/err.txt"))" >&2; }
}

# run_graphile WORKLOAD N PROCS
run_graphile() {
    local wl=$1 n=$2 k=$3 mode=noop rc
    psql -X -q -d "$base" -c "DROP DATABASE IF EXISTS gwbench WITH (FORCE)" >/dev/null 2>&1 || true
    [ "${wl%-dag-*}" = "$wl" ] || mode=dag
    set +e
    NODE_PATH=$GW_NODE_DIR/node_modules PGURL=$base /usr/bin/time -v -o "$work/time.gw" \
        node "$GW_DIR/gw_bench.js" "$mode" "$n" --procs "$k" --conc 24 --db gwbench \
        >"$work/gw.out" 2>"$work/gw.err"
    rc=$?
    set -e
    local res exec_s cr
    res=$(grep '^RESULT' "$work/gw.out" | tail -1 || true)
    exec_s=$(sed -nE 's/.*exec_s=([0-9.]+).*/\1/p' <<<"$res")
    [ -n "$exec_s" ] || exec_s=0
    cr=$(cpu_rss "$work/time.gw")
    # shellcheck disable=SC2086
    line graphile "$wl" "$k" "$n" "$exec_s" "$(awk -v n="$n" -v w="$exec_s" 'BEGIN{if (w > 0) printf "%.0f", n/w; else print 0}')" - - $cr "$rc"
}

have_gw=""
[ -d "$GW_NODE_DIR/node_modules/graphile-worker" ] && [ -f "$GW_DIR/gw_bench.js" ] &&
    command -v node >/dev/null && have_gw=1
for wl in "${workloads[@]}"; do
    n=${wl##*-}
    case $wl in
    noop-dag-*) gen "$n" 100 "$work/$wl.json" ;;
    noop-*) gen "$n" "$n" "$work/$wl.json" ;;
    *) echo "unknown workload $wl" >&2; exit 2 ;;
    esac
    for k in 1 3; do
        run_dagflow "$wl" "$n" "$k" "$work/$wl.json"
        [ -z "$have_gw" ] || run_graphile "$wl" "$n" "$k"
    done
    run_dagflow "$wl" "$n" 0 "$work/$wl.json"
done
echo "# $(date -u +%FT%TZ) load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$have_gw" ] || echo "(graphile-worker not installed in $GW_NODE_DIR: ../shared/peers/graphile/install_gw.sh)"
