#!/usr/bin/env bash
# bench_webui.sh: time to first paint of the web UI's run page for a run of N tasks (default
# 5000; noop, 50 layers of N/50, each task on 2 of the layer above), in headless Chromium
# (tests/browser/cdp.py), not part of the pass/fail suite. Serves the run with the HTTP API's test
# host (tests/http/http_host) and opens /runs/ID R times (default 5, a fresh tab each), and the
# `dagflow report` file of the same run R times; prints per load: first-contentful-paint (ms after
# navigation start), "drawn" (the page's own mark once graph, Gantt and table are drawn and a
# frame has passed), the DOM's element count, and the report endpoint's time with curl.
# Usage: tests/bench/bench_webui.sh [BUILD_DIR] [N] [R]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
n=${2:-5000} reps=${3:-5}
work=$(mktemp -d /tmp/dagflow-bench-webui.XXXXXX)
pid=
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
python3 - "$n" <<'PY'
import json, sys
n = int(sys.argv[1]); layers = 50 if n >= 50 else 1; w = n // layers
tasks = []
for l in range(layers):
    for i in range(w):
        t = {"id": "t%02d_%04d" % (l, i), "plugin": "noop"}
        if l:
            t["depends_on"] = sorted({"t%02d_%04d" % (l - 1, i), "t%02d_%04d" % (l - 1, (i * 7 + 3) % w)})
        tasks.append(t)
json.dump({"name": "big", "tasks": tasks}, open("big.json", "w"))
PY
"$build/dagflow" run big.json --db big.db >/dev/null 2>&1
"$build/dagflow" report 1 --db big.db -o report.html
"$build/tests/http_host" --db big.db --listen 127.0.0.1:0 >host.out 2>host.err &
pid=$!
for _ in $(seq 1 100); do grep -q '^port ' host.out 2>/dev/null && break; sleep 0.05; done
port=$(awk '/^port /{print $2}' host.out)
echo "run of $(grep -o '"id"' big.json | wc -l) tasks; report file $(stat -c %s report.html) bytes"
for _ in 1 2 3; do
    curl -s -o /dev/null -w 'GET /api/v1/runs/1/report: %{time_total}s, %{size_download} bytes\n' \
        "http://127.0.0.1:$port/api/v1/runs/1/report"
done
python3 - "$here/../browser" "http://127.0.0.1:$port/runs/1" "file://$work/report.html" "$reps" <<'PY'
import json, statistics, sys
sys.path.insert(0, sys.argv[1])
import cdp
M = ("JSON.stringify({fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,"
     " drawn: performance.getEntriesByName('dagflow-drawn')[0].startTime,"
     " elements: document.getElementsByTagName('*').length})")
with cdp.Browser() as b:
    for label, url in (("live page", sys.argv[2]), ("report file", sys.argv[3])):
        got = []
        for i in range(int(sys.argv[4])):
            b.open(url)
            b.wait_for("performance.getEntriesByName('dagflow-drawn').length", what="drawn")
            m = json.loads(b.eval(M))
            got.append(m)
            print("%s load %d: first-contentful-paint %.0f ms, drawn %.0f ms, %d elements"
                  % (label, i + 1, m["fcp"] or -1, m["drawn"], m["elements"]))
            b.send("Target.closeTarget", {"targetId": b.send("Target.getTargetInfo")["targetInfo"]["targetId"]}, session=None)
        print("%s: median first-contentful-paint %.0f ms, median drawn %.0f ms"
              % (label, statistics.median(g["fcp"] or -1 for g in got), statistics.median(g["drawn"] for g in got)))
PY
