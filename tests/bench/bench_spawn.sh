#!/usr/bin/env bash
# bench_spawn.sh: child processes per second through `dagflow run` (shell tasks running `true`),
# before and after the posix_spawn backend of engine/proc.c, next to GNU make -j8 running the same
# DAG in the same run (not part of the pass/fail suite). Workloads:
#   shell-dag-1000  layered DAG of 1000 tasks, width 100, each task depending on (l-1,i) and
#                   (l-1,(i+1)%100) (the shape of ../shared/peers' gen_dag.py), --concurrency 8
#   fanout-2000     2000 independent tasks, --concurrency 8
# "before" is BEFORE (a dagflow binary or a build folder holding one, e.g. built from the commit
# before the change) when given, else the same binary with DAGFLOW_PROC_BACKEND=uv_spawn (libuv's
# fork-based spawn, the code path used before). Each figure is the median of REPS runs (default
# 3); ratio is dagflow's wall time over make's (1.00 = as fast as make).
# Usage: tests/bench/bench_spawn.sh [BUILD_DIR] [BEFORE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
bin=$(cd "$build" && pwd)/dagflow
before=${2:-}
if [ -n "$before" ] && [ -d "$before" ]; then
    before=$(cd "$before" && pwd)/dagflow
fi
reps=${REPS:-3}
jobs=8
command -v make >/dev/null || { echo "bench_spawn: GNU make is needed" >&2; exit 2; }
work=$(mktemp -d /tmp/dagflow-bench-spawn.XXXXXX)
trap 'rm -rf "$work"' EXIT

gen() { # gen N WIDTH NAME: NAME.json (dagflow) and NAME/Makefile (make), same DAG
    python3 - "$@" "$work" <<'PY'
import json, os, sys
n, w, name, work = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
rows = []
for k in range(n):
    l, i = divmod(k, w)
    deps = []
    if l > 0:
        deps = ["t%d_%d" % (l - 1, i)]
        if (i + 1) % w != i:
            deps.append("t%d_%d" % (l - 1, (i + 1) % w))
    rows.append(("t%d_%d" % (l, i), deps))
tasks = []
for tid, deps in rows:
    t = {"id": tid, "plugin": "shell", "params": {"argv": ["true"]}}
    if deps:
        t["depends_on"] = deps
    tasks.append(t)
json.dump({"name": "bench_spawn", "tasks": tasks}, open(os.path.join(work, name + ".json"), "w"))
os.makedirs(os.path.join(work, name), exist_ok=True)
with open(os.path.join(work, name, "Makefile"), "w") as f:
    names = [r[0] for r in rows]
    f.write(".PHONY: all %s\nall: %s\n" % (" ".join(names), " ".join(names)))
    for tid, deps in rows:
        f.write("%s: %s\n\ttrue\n" % (tid, " ".join(deps)))
PY
}

now_ns() { date +%s%N; }

# run_dagflow NAME N BIN [ENV...]: wall seconds of one run, checked
run_dagflow() {
    local name=$1 n=$2 b=$3
    shift 3
    rm -f "$work/df.db"*
    local t0 t1 rc=0
    t0=$(now_ns)
    env "$@" "$b" run --db "$work/df.db" --concurrency "$jobs" "$work/$name.json" \
        >"$work/out.txt" 2>"$work/err.txt" || rc=$?
    t1=$(now_ns)
    local ok
    ok=$(sqlite3 "$work/df.db" "SELECT count(*) FROM task_instances WHERE state='SUCCESS'" \
        2>/dev/null || echo 0)
    if [ "$rc" != 0 ] || [ "$ok" != "$n" ]; then
        echo "bench_spawn: $name: $ok of $n tasks succeeded (exit $rc)" >&2
        tail -3 "$work/err.txt" >&2
        exit 1
    fi
    awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}'
}

run_make() {
    local name=$1 t0 t1
    t0=$(now_ns)
    make -s -C "$work/$name" -j"$jobs" >/dev/null
    t1=$(now_ns)
    awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}'
}

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }

if [ -n "$before" ]; then
    before_label="before ($before)"
else
    before_label="before (DAGFLOW_PROC_BACKEND=uv_spawn)"
fi
echo "dagflow: $bin; $before_label; make: $(make --version | head -1); reps: $reps;" \
    "kernel $(uname -r); $(nproc) CPUs"
printf '%-15s %-8s %9s %8s %12s %14s\n' workload runner children wall_s children_per_s \
    ratio_to_make
for wl in shell-dag-1000 fanout-2000; do
    case $wl in
    shell-dag-1000) n=1000; gen 1000 100 "$wl" ;;
    fanout-2000) n=2000; gen 2000 2000 "$wl" ;;
    esac
    run_dagflow "$wl" "$n" "$bin" >/dev/null # warm-up (page cache, loader)
    tm="" tb="" ta=""
    for _ in $(seq "$reps"); do # interleaved, so load on the machine hits all three alike
        tm="$tm $(run_make "$wl")"
        if [ -n "$before" ]; then
            tb="$tb $(run_dagflow "$wl" "$n" "$before")"
        else
            tb="$tb $(run_dagflow "$wl" "$n" "$bin" DAGFLOW_PROC_BACKEND=uv_spawn)"
        fi
        ta="$ta $(run_dagflow "$wl" "$n" "$bin" DAGFLOW_PROC_BACKEND=posix_spawn)"
    done
    m=$(echo "$tm" | median)
    for runner in make before after; do
        case $runner in
        make) w=$m ;;
        before) w=$(echo "$tb" | median) ;;
        after) w=$(echo "$ta" | median) ;;
        esac
        printf '%-15s %-8s %9d %8.3f %12.1f %14.2f\n' "$wl" "$runner" "$n" "$w" \
            "$(awk -v n="$n" -v w="$w" 'BEGIN{print n/w}')" \
            "$(awk -v m="$m" -v w="$w" 'BEGIN{print w/m}')"
    done
done
