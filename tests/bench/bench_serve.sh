#!/usr/bin/env bash
# bench_serve.sh: figures of `dagflow serve` (not part of the pass/fail suite).
#   schedules   N workflows (default 1000) each scheduled every second (a noop task), one serve
#               for S seconds (default 60): fire-time lateness p50/p99/max (decided_at minus
#               logical_time, from schedule_log, after a 5 s warm-up), fire times decided, CPU
#               seconds and peak RSS of serve.
#   runs        R runs (default 100) of a 100-task DAG (noop, layered 10 x 10, each task on 2 of
#               the layer above) at once in one serve (R workflow files with an interval schedule
#               whose first fire time is the same instant) vs the same R runs as R `dagflow run`
#               processes started together on one database: wall seconds (first fire / start to
#               the last run's end), peak RSS (serve's; the sum of the processes'), tasks/s.
# Usage: tests/bench/bench_serve.sh [BUILD_DIR] [schedules [N [S]] | runs [R]]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
shift || true
bin=$(cd "$build" && pwd)/dagflow
what=${1:-schedules}
work=$(mktemp -d /tmp/dagflow-bench-serve.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
pid=
cd "$work"
mkdir wf
tick() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

if [[ $what == schedules ]]; then
    n=${2:-1000} secs=${3:-60}
    for ((i = 0; i < n; i++)); do
        printf '{"name": "w%d", "schedule": {"cron": "* * * * * *", "catchup": "none"},
 "tasks": [{"id": "a", "plugin": "noop"}]}\n' "$i" >"wf/w$i.json"
    done
    "$bin" serve --workflows wf --db s.db --listen off 2>serve.log &
    pid=$!
    t0=$(date +%s%3N)
    sleep "$secs"
    cpu=$(tick "$pid")
    rss=$(hwm "$pid")
    kill -TERM "$pid"
    wait "$pid" || true
    hz=$(getconf CLK_TCK)
    sqlite3 s.db "SELECT decided_at - logical_time FROM schedule_log
                  WHERE logical_time >= $t0 + 5000 ORDER BY 1" >late.txt
    cnt=$(wc -l <late.txt)
    p50=$(awk -v n="$cnt" 'NR == int(n * 0.5) + 1' late.txt)
    p99=$(awk -v n="$cnt" 'NR == int(n * 0.99) + 1' late.txt)
    max=$(tail -1 late.txt)
    runs=$(sqlite3 s.db "SELECT count(*) FROM runs")
    echo "schedules: $n workflows every 1 s for $secs s: $cnt fire times after warm-up," \
        "lateness p50 ${p50} ms p99 ${p99} ms max ${max} ms; $runs runs;" \
        "serve CPU $(awk -v c="$cpu" -v h="$hz" 'BEGIN {printf "%.1f", c / h}') s," \
        "peak RSS $((rss / 1024)) MB"
    exit 0
fi

r=${2:-100}
dag() { # dag FIRE_MS|none NAME...: one workflow file per NAME (all in one python3: fast)
    python3 - "$@" <<'PY'
import datetime, json, sys
fire, names = sys.argv[1], sys.argv[2:]
tasks = []
for k in range(100):
    l, i = divmod(k, 10)
    t = {"id": "t%d_%d" % (l, i), "plugin": "noop"}
    if l > 0:
        t["depends_on"] = ["t%d_%d" % (l - 1, i), "t%d_%d" % (l - 1, (i + 1) % 10)]
    tasks.append(t)
for name in names:
    wf = {"name": name, "tasks": tasks}
    if fire != "none":  # an interval schedule whose first fire time after an hour-old start is FIRE
        start = datetime.datetime.fromtimestamp(int(fire) / 1000 - 3600, datetime.timezone.utc)
        wf["schedule"] = {"interval_ms": 3600000, "start_at": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
        path = "wf/%s.json" % name
    else:
        path = "%s.json" % name
    with open(path, "w") as f:
        json.dump(wf, f)
PY
}
# The fire time: whole seconds, far enough ahead for serve to load every file first. The wall
# time counts from the first run's creation (not the fire time: a serve that started late would
# count its own start-up).
fire=$((($(date +%s) + 5) * 1000))
names=()
for ((i = 0; i < r; i++)); do names+=("d$i"); done
dag "$fire" "${names[@]}"
"$bin" serve --workflows wf --db s.db --listen off 2>serve.log &
pid=$!
while [[ $(sqlite3 s.db "SELECT count(*) FROM runs WHERE state <> 'RUNNING'" 2>/dev/null || echo 0) -lt $r ]]; do
    sleep 0.2
    (($(date +%s) < fire / 1000 + 120)) || { echo "runs: serve did not finish in 120 s"; exit 1; }
done
rss=$(hwm "$pid")
cpu=$(tick "$pid")
kill -TERM "$pid"
wait "$pid" || true
hz=$(getconf CLK_TCK)
wall=$(sqlite3 s.db "SELECT (max(ended_at) - min(started_at)) / 1000.0 FROM runs")
ok=$(sqlite3 s.db "SELECT count(*) FROM runs WHERE state = 'SUCCESS'")
echo "runs: $r x 100-task DAG in one serve: $ok SUCCESS, wall ${wall} s," \
    "$(awk -v w="$wall" -v r="$r" 'BEGIN {printf "%.0f", r * 100 / w}') tasks/s, peak RSS $((rss / 1024)) MB," \
    "serve CPU $(awk -v c="$cpu" -v h="$hz" 'BEGIN {printf "%.1f", c / h}') s (from its start)"

dag none solo
t0=$(date +%s%3N)
pids=()
for ((i = 0; i < r; i++)); do
    /usr/bin/time -f "%M %U %S" -o "rss.$i" "$bin" run solo.json --db p.db >/dev/null 2>"err.$i" &
    pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
t1=$(date +%s%3N)
sum=$(cat rss.* | awk '{s += $1} END {print s}')
cpus=$(cat rss.* | awk '{s += $2 + $3} END {printf "%.1f", s}')
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1000}')
echo "runs: $r x 100-task DAG as $r dagflow run processes: $((r - failed)) exit 0, wall ${wall} s," \
    "$(awk -v w="$wall" -v r="$r" 'BEGIN {printf "%.0f", r * 100 / w}') tasks/s, RSS sum $((sum / 1024)) MB, CPU $cpus s"
