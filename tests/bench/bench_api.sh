#!/usr/bin/env bash
# bench_api.sh: the HTTP API of `dagflow serve` under load (issue 11; not part of the pass/fail
# suite). One serve (--listen 127.0.0.1:0) on a fresh SQLite database serves two workflows of noop
# tasks: k1 (1,000 tasks, 10 layers x 100) and big (10,000 tasks, 100 layers x 100), each task on 2
# of the layer above. k1 runs once (through the API). Then, R times (default 3), interleaved:
#   alone   big started through the API and waited for: its wall time (the run's duration_ms)
#   loaded  the same while a load tool sends GET /api/v1/runs/K1 (k1's 1,000-task run object) as
#           fast as it can, from 1 s before big starts until big has ended: big's wall time, and
#           the API's requests/s and latency over that window.
# Prints each round and the medians: requests/s, latency p50/p99, big's wall time alone and
# loaded, and the slowdown. The load tool is wrk (Debian's `wrk`: 2 threads, 16 connections,
# keep-alive) when installed, else Python threads with http.client (16 keep-alive connections).
# Usage: tests/bench/bench_api.sh [BUILD_DIR] [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
rounds=${2:-3}
bin=$(cd "$build" && pwd)/dagflow
work=$(mktemp -d /tmp/dagflow-bench-api.XXXXXX)
pid=
load=
cleanup() {
    [[ -n "$load" ]] && kill "$load" 2>/dev/null
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
mkdir wf

dag() { # dag NAME LAYERS
    python3 - "$1" "$2" >"wf/$1.json" <<'PY'
import json, sys
name, layers = sys.argv[1], int(sys.argv[2])
tasks = []
for l in range(layers):
    for i in range(100):
        t = {"id": f"t{l}_{i}", "plugin": "noop"}
        if l:
            t["depends_on"] = [f"t{l-1}_{i}", f"t{l-1}_{(i + 1) % 100}"]
        tasks.append(t)
print(json.dumps({"name": name, "tasks": tasks}))
PY
}
dag k1 10
dag big 100

"$bin" serve --workflows wf --db api.db --listen 127.0.0.1:0 2>serve.log &
pid=$!
for _ in $(seq 1 300); do
    grep -q 'dagflow serve: serving' serve.log && break
    sleep 0.1
done
url=$(grep -o 'HTTP API and web UI on http://[^ ]*' serve.log | sed 's/.* on //')
[[ -n "$url" ]] || { cat serve.log; echo "serve did not start" >&2; exit 1; }

start() { # start WORKFLOW: prints the run id
    curl -sf -X POST -H 'Content-Type: application/json' "${url}api/v1/workflows/$1/runs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])'
}
wait_end() { # wait_end RUN_ID: waits for a final state, prints duration_ms
    local body
    while :; do
        body=$(curl -sf "${url}api/v1/runs/$1")
        case $(jq -r .state <<<"$body") in
        SUCCESS) jq -r .duration_ms <<<"$body"; return 0 ;;
        FAILED | INVALID | CANCELLED) echo "run $1 ended $(jq -r .state <<<"$body")" >&2; exit 1 ;;
        esac
        sleep 0.2
    done
}

k1=$(start k1)
wait_end "$k1" >/dev/null
target="${url}api/v1/runs/$k1"
bytes=$(curl -sf "$target" | wc -c)

# load_start OUT: the load tool on target in the background (load = its pid).
load_start() {
    if command -v wrk >/dev/null; then
        wrk -t2 -c16 -d600s --latency "$target" >"$1" 2>&1 &
    else
        python3 - "$target" >"$1" 2>&1 <<'PY' &
import http.client, signal, sys, threading, time, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
stop, lat, lock = threading.Event(), [], threading.Lock()
def worker():
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    mine = []
    while not stop.is_set():
        t = time.monotonic()
        c.request("GET", u.path)
        r = c.getresponse(); r.read()
        mine.append(time.monotonic() - t)
    with lock: lat.extend(mine)
signal.signal(signal.SIGINT, lambda *a: stop.set())
t0 = time.monotonic()
ts = [threading.Thread(target=worker) for _ in range(16)]
for t in ts: t.start()
while not stop.is_set(): time.sleep(0.05)
for t in ts: t.join()
el = time.monotonic() - t0
lat.sort()
print(f"Requests/sec: {len(lat) / el:.2f}")
print(f"p50 {lat[len(lat) // 2] * 1000:.2f}ms p99 {lat[int(len(lat) * 0.99)] * 1000:.2f}ms")
PY
    fi
    load=$!
}
load_stop() {
    kill -INT "$load"
    wait "$load" || true
    load=
}
# rps OUT / pct OUT P: figures of the load tool's output.
rps() { awk '/Requests\/sec:/ {print $2}' "$1"; }
pct() {
    if grep -q 'Latency Distribution' "$1"; then
        awk -v p="$2%" '$1 == p {print $2}' "$1"
    else
        grep -o "p$2 [0-9.]*ms" "$1" | awk '{print $2}'
    fi
}

tool=$(command -v wrk >/dev/null && echo "wrk -t2 -c16" || echo "python threads x16")
echo "bench_api: GET /api/v1/runs/$k1 (a 1,000-task run, $bytes bytes) with $tool, while serve runs big"
echo "(10,000 noop tasks); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
alone=() loaded=() rates=() p50s=() p99s=()
for ((i = 1; i <= rounds; i++)); do
    run=$(start big)
    a=$(wait_end "$run")
    load_start "load$i.txt"
    sleep 1
    run=$(start big)
    b=$(wait_end "$run")
    load_stop
    r=$(rps "load$i.txt")
    p50=$(pct "load$i.txt" 50)
    p99=$(pct "load$i.txt" 99)
    echo "round $i: big alone ${a} ms, with API load ${b} ms; API ${r} req/s, p50 ${p50} p99 ${p99}"
    alone+=("$a") loaded+=("$b") rates+=("$r") p50s+=("$p50") p99s+=("$p99")
done
med() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ma=$(med "${alone[@]}")
mb=$(med "${loaded[@]}")
echo "median of $rounds: API $(med "${rates[@]}") req/s (p50 $(med "${p50s[@]}"), p99 $(med "${p99s[@]}"));" \
    "big alone $ma ms, with API load $mb ms: $(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%+.0f%%", (b - a) * 100 / a}')"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
