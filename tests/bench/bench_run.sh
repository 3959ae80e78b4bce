#!/usr/bin/env bash
# bench_run.sh: whole-process figures of `dagflow run` on generated workloads (not part of the
# pass/fail suite). Prints one line per workload: name, tasks, wall seconds, tasks/s, peak RSS MB,
# exit code. Workloads (same shapes as ../shared/peers):
#   noop-dag-N   layered DAG of N noop tasks, width 100, each task depending on 2 of the layer above
#   sleep-N      N independent tasks each sleeping 1000 ms, --concurrency N
#   shell-dag-N  layered DAG of N shell tasks running `true`
# Usage: tests/bench/bench_run.sh [BUILD_DIR] [WORKLOAD...]
#   default workloads: noop-dag-10000 sleep-2000 sleep-10000 shell-dag-1000
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
shift || true
bin=$(cd "$build" && pwd)/dagflow
work=$(mktemp -d /tmp/dagflow-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(noop-dag-10000 sleep-2000 sleep-10000 shell-dag-1000)

gen() { # gen KIND N WIDTH OUT
    python3 - "$@" <<'PY'
import json, sys
kind, n, w, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
plugin, params = {"noop": ("noop", {}), "sleep": ("sleep", {"ms": 1000}),
                  "shell": ("shell", {"argv": ["true"]})}[kind]
tasks = []
for k in range(n):
    l, i = divmod(k, w)
    t = {"id": "t%d_%d" % (l, i), "plugin": plugin, "params": params}
    if l > 0:
        deps = ["t%d_%d" % (l - 1, i)]
        if (i + 1) % w != i:
            deps.append("t%d_%d" % (l - 1, (i + 1) % w))
        t["depends_on"] = deps
    tasks.append(t)
json.dump({"name": "bench_" + kind, "tasks": tasks}, open(out, "w"))
PY
}

printf '%-16s %7s %8s %10s %8s %4s\n' workload tasks wall_s tasks_per_s rss_mb rc
for wl in "${workloads[@]}"; do
    n=${wl##*-}
    case $wl in
    noop-dag-*) gen noop "$n" 100 "$work/$wl.json"; conc=8 ;;
    shell-dag-*) gen shell "$n" 100 "$work/$wl.json"; conc=8 ;;
    sleep-*) gen sleep "$n" "$n" "$work/$wl.json"; conc=$n ;;
    *) echo "unknown workload $wl" >&2; exit 2 ;;
    esac
    rm -f "$work/df.db"*
    t0=$(date +%s%N)
    set +e
    /usr/bin/time -v -o "$work/time.txt" "$bin" run --db "$work/df.db" --concurrency "$conc" \
        "$work/$wl.json" >"$work/out.txt" 2>"$work/err.txt"
    rc=$?
    set -e
    t1=$(date +%s%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f",(b-a)/1e9}')
    rss=$(awk -F': ' '/Maximum resident set size/{printf "%.1f",$2/1024}' "$work/time.txt")
    ok=$(sqlite3 "$work/df.db" "SELECT count(*) FROM task_instances WHERE state='SUCCESS'" 2>/dev/null || echo 0)
    [ "$ok" = "$n" ] || { echo "$wl: only $ok of $n tasks succeeded (rc $rc)" >&2; tail -3 "$work/err.txt" >&2; }
    printf '%-16s %7s %8s %10.1f %8s %4s\n' "$wl" "$n" "$wall" "$(awk -v n="$n" -v w="$wall" 'BEGIN{print n/w}')" "$rss" "$rc"
done
