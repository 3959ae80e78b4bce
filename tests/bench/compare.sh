#!/usr/bin/env bash
# compare.sh: dagflow next to its peers (../shared/peers: Dask threads, TaskFlow with SQLite, make,
# ninja) on the rows of issue 14's table, in the same run, interleaved (rep 1 of every command,
# then rep 2, ...), so that the shared machine's load falls on all of them alike. Not pass/fail.
# Every measurement is the whole process under /usr/bin/time -v, from a fresh folder; each row
# prints min and median wall seconds and peak RSS (MB) over REPS runs, with the load (uptime).
#
# Rows (arguments; default: all but noop1m):
#   noop10k   10,000-task no-op layered DAG (width 100): dagflow --concurrency 8 and default,
#             dask-threads (8 workers); TaskFlow+SQLite at 200 tasks (it cannot finish 10,000)
#   noop100k  100,000-task no-op layered DAG: dagflow, default concurrency (peers: none fit
#             in time and memory), with its database's bytes per task and the SQLite statements
#             per task that may write (tests/bench/plugins/sqlite_steps.so, when built)
#   noop1m    1,000,000-task no-op layered DAG: dagflow, default concurrency (peers: none fit)
#   sleep10k  10,000 independent 1 s sleeps: dagflow --concurrency 10000, dask-threads 10000
#             workers, make -j10000
#   start1    one-task workflow, process start to exit: dagflow on a new database and on one
#             holding a 10,000-task run, dask-threads, TaskFlow+SQLite, make, ninja
#   latency   ready->running wait under the 10k DAG at --concurrency 8 (tests/bench/stamp.so,
#             latency.py): dagflow (stamps, and its own record when it has one) and dask-threads;
#             dagflow's record also at --concurrency 256 and, as root, both under chrt -f 1
#             (SCHED_FIFO: the engine's own part, without the machine's load)
#   procdag   1,000-task layered DAG running `true` per task: dagflow, make -j8, ninja -j8
#
# Usage: tests/bench/compare.sh [ROW...]
# Environment: DF_BIN (default build/dagflow), BEFORE (a second dagflow binary, e.g. an older
# build: every dagflow measurement is then made with both, interleaved, its labels df0-*), STAMP (stamp.so, default next to DF_BIN), REPS (5), PEERS (../shared/peers), WORK (a new
# temporary folder, removed at the end unless KEEP=1), TMO (per-run timeout, 300 s), FIFO (0: no
# SCHED_FIFO runs in the latency row, e.g. on a machine others share).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${DF_BIN:-$here/../../build/dagflow}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
stampdir=$(dirname "${STAMP:-$(dirname "$bin")/tests/bench/plugins/stamp.so}")
REPS=${REPS:-5}
PEERS=${PEERS:-$here/../../../shared/peers}
[ -d "$PEERS" ] || PEERS=/work/shared/peers
TMO=${TMO:-300}
PY=/usr/bin/python3
WORK=${WORK:-$(mktemp -d /tmp/dfbench.XXXXXX)}
mkdir -p "$WORK"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(noop10k sleep10k start1 latency procdag)

spec() { # spec N W -> path of the shared spec
    local f=$WORK/dag-$1-w$2.tsv
    [ -f "$f" ] || $PY "$PEERS/gen_dag.py" spec "$1" "$2" "$f"
    echo "$f"
}
wf() { # wf SPEC KIND -> path of the dagflow workflow
    local f=${1%.tsv}-$2.json
    [ -f "$f" ] || $PY "$PEERS/gen_dag.py" dagflow "$1" "$2" "$f"
    echo "$f"
}

# run LABEL DIR CMD...: one measurement, appended to $WORK/LABEL.m as "wall_s rss_mb rc cpu_s"
# (cpu_s: user + system time of the process and its children, which the machine's load inflates
# less than the wall time)
run() {
    local label=$1 dir=$2 t0 t1 rc
    shift 2
    rm -rf "$dir"
    mkdir -p "$dir"
    t0=$(date +%s%N)
    (cd "$dir" && /usr/bin/time -v -o "$WORK/time.txt" timeout -k 5 "$TMO" "$@") \
        >"$WORK/$label.out" 2>&1
    rc=$?
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" -v rc=$rc -F': ' \
        '/Maximum resident set size/{r=$2/1024} /User time|System time/{c+=$2}
         END{printf "%.3f %.1f %d %.3f\n",(b-a)/1e9,r,rc,c}' \
        "$WORK/time.txt" >>"$WORK/$label.m"
    [ $rc -eq 0 ] || { echo "  $label: exit $rc: $(tail -2 "$WORK/$label.out")" >&2; }
}

# summary LABEL [N]: min/median wall and peak RSS of LABEL's runs, tasks/s at N
summary() {
    local cpu
    cpu=$(awk '{print $4}' "$WORK/$1.m" | sort -n | awk '{c[NR]=$1} END{printf "%.3f/%.3f", c[1], c[int((NR+1)/2)]}')
    sort -n "$WORK/$1.m" | awk -v l="$1" -v n="${2:-0}" -v cpu="$cpu" '
        {w[NR]=$1; r[NR]=$2; if ($3!=0) bad++}
        END{m=w[int((NR+1)/2)]; x=0; for(i=1;i<=NR;i++) if(r[i]>x) x=r[i];
            printf "  %-28s wall min %7.3f median %7.3f s", l, w[1], m;
            if (n>0) printf " (%6.0f tasks/s)", n/m;
            printf "  cpu min/med %s s  RSS %6.1f MB  runs %d%s\n", cpu, x, NR, bad?"  FAILED "bad:""}'
}

load() { echo "  load: $(uptime | sed 's/.*load average: //')"; }

peer_py() { # peer_py LABEL PEER SPEC KIND JOBS
    run "$1" "$WORK/d-$1" $PY "$PEERS/py_peers.py" "$2" "$3" "$4" "$5" "$WORK/d-$1/taskflow.db"
    grep -q ' ok=1 ' "$WORK/$1.out" || echo "  $1: peer check failed" >&2
}

# dagflow_run LABEL WF [OPTIONS...]: DF_BIN as LABEL, and BEFORE (when set) as df0-*
dagflow_run() {
    local label=$1 w=$2
    shift 2
    run "$label" "$WORK/d-$label" "$bin" run --db df.db "$@" "$w"
    [ -z "${BEFORE:-}" ] || run "df0${label#df}" "$WORK/d-df0${label#df}" "$BEFORE" run --db df.db "$@" "$w"
}

# dsummary LABEL [N]: summary of a dagflow label, and of its df0-* twin when BEFORE is set
dsummary() {
    summary "$@"
    [ -z "${BEFORE:-}" ] || summary "df0${1#df}" "${2:-0}"
}

row_noop10k() {
    local sp sp200
    sp=$(spec 10000 100)
    sp200=$(spec 200 100)
    wf "$sp" noop >/dev/null
    echo "noop10k: 10,000-task no-op layered DAG"
    load
    for _ in $(seq "$REPS"); do
        dagflow_run df-noop10k-c8 "$(wf "$sp" noop)" --concurrency 8
        dagflow_run df-noop10k-default "$(wf "$sp" noop)"
        peer_py dask-noop10k-8 dask-threads "$sp" noop 8
        peer_py taskflow-sqlite-noop200-8 taskflow-parallel-sqlite "$sp200" noop 8
    done
    load
    dsummary df-noop10k-c8 10000
    dsummary df-noop10k-default 10000
    summary dask-noop10k-8 10000
    summary taskflow-sqlite-noop200-8 200
}

# store_figures LABEL DIR N: appends "bytes/task writes/task" of the run in DIR (df.db and its
# -wal; steps.txt from sqlite_steps.so) to $WORK/LABEL.s
store_figures() {
    local bytes writes
    bytes=$(cat "$2"/df.db "$2"/df.db-wal 2>/dev/null | wc -c)
    writes=$(awk '/^steps /{w += $4} END {print w + 0}' "$2/steps.txt" 2>/dev/null || echo 0)
    awk -v b="$bytes" -v w="$writes" -v n="$3" 'BEGIN {printf "%.0f %.2f\n", b / n, w / n}' \
        >>"$WORK/$1.s"
}

row_noop100k() {
    local sp so w
    sp=$(spec 100000 100)
    w=$(wf "$sp" noop)
    so="$stampdir/sqlite_steps.so"
    echo "noop100k: 100,000-task no-op layered DAG"
    load
    for _ in $(seq "$REPS"); do
        for b in "$bin" ${BEFORE:+"$BEFORE"}; do
            local label=df-noop100k
            [ "$b" = "$bin" ] || label=df0-noop100k
            if [ -f "$so" ]; then
                run "$label" "$WORK/d-$label" env LD_PRELOAD="$so" \
                    DF_STEPS_OUT="$WORK/d-$label/steps.txt" "$b" run --db df.db "$w"
            else
                run "$label" "$WORK/d-$label" "$b" run --db df.db "$w"
            fi
            store_figures "$label" "$WORK/d-$label" 100000
        done
    done
    load
    for l in df-noop100k ${BEFORE:+df0-noop100k}; do
        summary "$l" 100000
        sort -n "$WORK/$l.s" | awk -v l="$l" '{b = $1; w = $2} END {printf "  %-28s db %d bytes/task, %s writing statements/task\n", l, b, w}'
    done
}

row_noop1m() {
    local sp
    sp=$(spec 1000000 100)
    wf "$sp" noop >/dev/null
    echo "noop1m: 1,000,000-task no-op layered DAG (dagflow only: dask-threads needs 0.93 GB at"
    echo "  10,000 tasks, TaskFlow cannot finish 10,000)"
    load
    for _ in $(seq "$REPS"); do
        dagflow_run df-noop1m "$(wf "$sp" noop)"
    done
    load
    dsummary df-noop1m 1000000
}

row_sleep10k() {
    local sp
    sp=$(spec 10000 10000)
    wf "$sp" sleep >/dev/null
    $PY "$PEERS/gen_dag.py" make "$sp" "sleep 1" "$WORK/sleep.mk"
    echo "sleep10k: 10,000 independent 1 s sleeps, all at once (TaskFlow: 9 GB, does not finish)"
    load
    for _ in $(seq "$REPS"); do
        dagflow_run df-sleep10k "$(wf "$sp" sleep)" --concurrency 10000
        peer_py dask-sleep10k dask-threads "$sp" sleep 10000
        run make-sleep10k "$WORK/d-make-sleep10k" make -s -f "$WORK/sleep.mk" -j10000
    done
    load
    dsummary df-sleep10k
    summary dask-sleep10k
    summary make-sleep10k
}

row_start1() {
    local sp big
    sp=$(spec 1 1)
    wf "$sp" noop >/dev/null
    $PY "$PEERS/gen_dag.py" make "$sp" "true" "$WORK/one.mk"
    $PY "$PEERS/gen_dag.py" ninja "$sp" "true" "$WORK/one.ninja"
    # a database that already holds a 10,000-task run
    big=$WORK/big.db
    rm -f "$big"* "$WORK"/big0.db*
    "$bin" run --db "$big" "$(wf "$(spec 10000 100)" noop)" >/dev/null 2>&1
    [ -z "${BEFORE:-}" ] ||
        "$BEFORE" run --db "$WORK/big0.db" "$(wf "$(spec 10000 100)" noop)" >/dev/null 2>&1
    echo "start1: one-task workflow, process start to exit"
    load
    for _ in $(seq "$REPS"); do
        dagflow_run df-start1-newdb "$(wf "$sp" noop)"
        run df-start1-bigdb "$WORK/d-df-start1-bigdb" "$bin" run --db "$big" "$(wf "$sp" noop)"
        [ -z "${BEFORE:-}" ] || run df0-start1-bigdb "$WORK/d-df0-start1-bigdb" "$BEFORE" run \
            --db "$WORK/big0.db" "$(wf "$sp" noop)"
        peer_py dask-start1 dask-threads "$sp" noop 8
        peer_py taskflow-sqlite-start1 taskflow-parallel-sqlite "$sp" noop 8
        run make-start1 "$WORK/d-make-start1" make -s -f "$WORK/one.mk"
        run ninja-start1 "$WORK/d-ninja-start1" ninja -f "$WORK/one.ninja"
    done
    load
    dsummary df-start1-newdb
    dsummary df-start1-bigdb
    for l in dask-start1 taskflow-sqlite-start1 make-start1 \
        ninja-start1; do
        summary $l
    done
}

# recorded LABEL BIN DB: dagflow's own ready->running record of the run in DB
recorded() {
    "$2" status --db "$3" --json 1 2>/dev/null |
        $PY -c 'import json,sys; m=json.load(sys.stdin).get("ready_to_running");
print("  '"$1"' " + ("n=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f" % (m["count"], m["p50_us"]/1e3, m["p99_us"]/1e3, m["max_us"]/1e3) if m else "(not recorded)"))' 2>/dev/null ||
        echo "  $1 (not recorded)"
}

row_latency() {
    local sp w d
    sp=$(spec 10000 100)
    w=$WORK/lat.json
    $PY - "$sp" "$stampdir/stamp.so" "$w" <<'PY'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
tasks = [dict({"id": n, "plugin": sys.argv[2]}, **({"depends_on": d.split(",")} if d != "-" else {}))
         for n, d in rows]
json.dump({"name": "latency", "tasks": tasks}, open(sys.argv[3], "w"))
PY
    echo "latency: ready->running wait under the 10k DAG, --concurrency 8 / 8 workers"
    echo "  (stamps: from the last dependency's end to the task's start, inside the tasks)"
    load
    for i in $(seq "$REPS"); do
        for b in "$bin" ${BEFORE:+"$BEFORE"}; do
            d=$WORK/d-lat-$i
            rm -rf "$d"
            mkdir -p "$d"
            "$b" run --db "$d/df.db" --concurrency 8 "$w" >/dev/null 2>&1
            tag=df
            [ "$b" = "$bin" ] || tag=df0
            echo "  $tag stamps        $($PY "$here/latency.py" dagflow "$d/df.db" "$sp")"
            recorded "$tag recorded     " "$b" "$d/df.db"
            # The same record at --concurrency 256 (no task waits for a slot), and both under
            # SCHED_FIFO when allowed (root): what the engine adds once the machine's other
            # load no longer delays its threads.
            rm -rf "$d" && mkdir -p "$d"
            "$b" run --db "$d/df.db" --concurrency 256 "$w" >/dev/null 2>&1
            recorded "$tag rec c256     " "$b" "$d/df.db"
            if [ "${FIFO:-1}" = 1 ] && [ "$(id -u)" = 0 ] && chrt -f 1 true 2>/dev/null; then
                for c in 8 256; do
                    rm -rf "$d" && mkdir -p "$d"
                    timeout 120 chrt -f 1 "$b" run --db "$d/df.db" --concurrency $c "$w" >/dev/null 2>&1
                    recorded "$tag rec fifo c$c" "$b" "$d/df.db"
                done
            fi
        done
        echo "  dask-threads     $($PY "$here/latency.py" dask "$sp" 8)"
    done
    load
}

row_procdag() {
    local sp
    sp=$(spec 1000 100)
    wf "$sp" shell >/dev/null
    $PY "$PEERS/gen_dag.py" make "$sp" "true" "$WORK/proc.mk"
    $PY "$PEERS/gen_dag.py" ninja "$sp" "true" "$WORK/proc.ninja"
    echo "procdag: 1,000-task layered DAG running \`true\` per task, 8 at a time"
    load
    for _ in $(seq "$REPS"); do
        dagflow_run df-procdag-c8 "$(wf "$sp" shell)" --concurrency 8
        run make-procdag-j8 "$WORK/d-make-procdag" make -s -f "$WORK/proc.mk" -j8
        run ninja-procdag-j8 "$WORK/d-ninja-procdag" ninja -f "$WORK/proc.ninja" -j8
    done
    load
    dsummary df-procdag-c8 1000
    summary make-procdag-j8 1000
    summary ninja-procdag-j8 1000
}

echo "# compare.sh $(date -u +%FT%TZ) bin=$bin before=${BEFORE:-none} ($(git -C "$here" rev-parse --short HEAD 2>/dev/null)) reps=$REPS nproc=$(nproc)"
for r in "${rows[@]}"; do
    "row_$r"
done
