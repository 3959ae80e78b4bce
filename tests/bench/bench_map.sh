#!/usr/bin/env bash
# bench_map.sh: dynamic mapping's cost (SPEC §8; not part of the pass/fail suite). Runs, in
# turn, `dagflow run` on a task with for_each over N noop elements and on the same N noop tasks
# written out statically (no edges), and prints per workload: tasks, wall seconds, tasks/s, peak
# RSS MB, exit code, and for the mapped one how long the expansion itself took (the mapped task's
# PENDING -> RUNNING event to its first instance's QUEUED -> RUNNING).
# Usage: tests/bench/bench_map.sh [BUILD_DIR] [N] [REPEATS]   (defaults: build, 100000, 1)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
n=${2:-100000}
repeats=${3:-1}
bin=$(cd "$build" && pwd)/dagflow
work=$(mktemp -d /tmp/dagflow-bench-map.XXXXXX)
trap 'rm -rf "$work"' EXIT

jq -n --argjson n "$n" '{name: "bench_mapped", params: {xs: [range($n)]},
    tasks: [{id: "m", plugin: "noop", for_each: "${params.xs}"}]}' >"$work/mapped.json"
jq -n --argjson n "$n" '{name: "bench_static",
    tasks: [range($n) | {id: "t\(.)", plugin: "noop"}]}' >"$work/static.json"

printf '%-8s %7s %8s %10s %8s %4s %s\n' workload tasks wall_s tasks_per_s rss_mb rc expansion
for r in $(seq "$repeats"); do
    for wl in mapped static; do
        rm -f "$work/df.db"*
        t0=$(date +%s%N)
        set +e
        /usr/bin/time -v -o "$work/time.txt" "$bin" run --db "$work/df.db" "$work/$wl.json" \
            >"$work/out.txt" 2>"$work/err.txt"
        rc=$?
        set -e
        t1=$(date +%s%N)
        wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f",(b-a)/1e9}')
        rss=$(awk -F': ' '/Maximum resident set size/{printf "%.1f",$2/1024}' "$work/time.txt")
        ok=$(sqlite3 "$work/df.db" "SELECT count(*) FROM task_history WHERE state = 'SUCCESS'
                                    AND (map_index IS NOT NULL OR task_id LIKE 't%')")
        [ "$ok" = "$n" ] || echo "$wl: only $ok of $n succeeded (rc $rc)" >&2
        exp=""
        if [ "$wl" = mapped ]; then
            exp=$(sqlite3 "$work/df.db" "SELECT CAST(round((julianday(
                    (SELECT min(at) FROM task_events WHERE map_index IS NOT NULL AND to_state = 'RUNNING'))
                  - julianday((SELECT at FROM task_events WHERE map_index IS NULL
                                AND to_state = 'RUNNING'))) * 86400000) AS INTEGER) || ' ms'")
        fi
        awk -v w="$wl" -v n="$n" -v s="$wall" -v m="$rss" -v rc="$rc" -v e="$exp" \
            'BEGIN{printf "%-8s %7d %8.3f %10.0f %8s %4d %s\n", w, n, s, n/s, m, rc, e}'
    done
done
