#!/usr/bin/env bash
# `dagflow report RUN_ID [-o FILE.html]` (SPEC §10): one self-contained HTML file (no network: no
# src/href/link to anything, the only URL is SVG's namespace name) holding the run's data, whose
# page draws every task with its state, one Gantt bar per attempt, and a task's attempts and log
# (#task=ID opens one). Text from a task (a "</script>" on stdout) cannot end the data element.
# With headless Chromium (when installed): the page rendered from file:// with a dead proxy (no
# network), its DOM checked, a screenshot kept in the build's tests/artifacts/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
command -v python3 >/dev/null || skip "python3 is not installed"

cat >rep.json <<'JSON'
{"name": "rep", "tasks": [
 {"id": "a", "plugin": "shell", "params": {"script": "echo '</script><script>alert(1)</script>'"}},
 {"id": "b", "plugin": "shell", "depends_on": ["a"], "retries": 1, "retry_delay_ms": 10,
  "params": {"script": "echo out; exit 3"}},
 {"id": "c", "plugin": "shell", "depends_on": ["a"], "params": {"script": "true"}},
 {"id": "d", "plugin": "shell", "depends_on": ["b", "c"], "params": {"script": "true"}}]}
JSON
run_wf rep.json
expect_rc 1 "the run fails (task b)"
run=$(last_run)

note "report -o FILE writes the page; without -o, the same page on stdout"
dfx report "$run" -o page.html
expect_rc 0 "report -o"
[[ -s page.html ]] || fail "page.html is empty"
dfx report "$run"
expect_rc 0 "report to stdout"
assert_eq "$(cat page.html)" "$DF_OUT" "stdout holds the same page"
dfx report "$run" --output page2.html
cmp -s page.html page2.html || fail "--output writes the same page"

note "self-contained: no network reference, the data element intact"
assert_eq "2" "$(grep -o '</script>' page.html | wc -l | tr -d ' ')" "only the page's two script ends"
assert_eq "http://www.w3.org/2000/svg" "$(grep -oE 'https?://[^"'"'"' )]*' page.html | sort -u | tr '\n' ' ' | sed 's/ $//')" "the only URL is SVG's namespace"
if grep -qiE '<link|src=|@import|url\(' page.html; then fail "the page loads something"; fi
python3 - "$run" <<'PY' || fail "the page's data"
import json, re, sys
html = open("page.html").read()
m = re.search(r'<script id="dagflow-data" type="application/json">(.*?)</script>', html, re.S)
d = json.loads(m.group(1))
run = int(sys.argv[1])
assert d["run"]["run_id"] == run and d["run"]["state"] == "FAILED", d["run"]
assert [t["id"] for t in d["run"]["tasks"]] == ["a", "b", "c", "d"]
assert [t["depends_on"] for t in d["dag"]["tasks"]] == [[], ["a"], ["a"], ["b", "c"]]
assert [len(d["attempts"][t]) for t in "abcd"] == [1, 2, 1, 0], d["attempts"]
assert "</script><script>alert(1)</script>" in d["attempts"]["a"][0]["stdout"]
PY

note "unknown or bad run ids"
dfx report 99999
expect_rc 2 "unknown run"
assert_contains "$DF_ERR" "dagflow: " "message"
dfx report abc
expect_rc 2 "bad run id"
run_df report 1 --db "$WORK/none.db"
expect_rc 2 "no database"
assert_file_absent "$WORK/none.db" "not created"

chromium=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$chromium" ]]; then
    note "SKIP (part): headless Chromium is not installed; the page was not rendered"
    df_done
    exit 0
fi
note "rendered by headless Chromium from file://, no network"
chrome() {
    timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' "$@" 2>/dev/null
}
chrome --dump-dom "file://$WORK/page.html#task=b" >dom.html || true
[[ -s dom.html ]] || fail "Chromium rendered nothing"
for t in a b c d; do
    assert_match "$(cat dom.html)" "<g data-task=\"$t\"[^>]*><title>$t: [A-Z_]+</title>" "graph node $t with its state"
done
assert_match "$(cat dom.html)" '<g data-task="b"[^>]*><title>b: FAILED</title><rect [^>]*></rect><text [^>]*>b</text><text [^>]*>FAILED</text></g>' "the state's name drawn in the node, not colour alone"
assert_eq "4" "$(grep -o 'class="bar"' dom.html | wc -l | tr -d ' ')" "one Gantt bar per attempt"
assert_contains "$(cat dom.html)" "<h2>Task b</h2>" "the task panel opened"
assert_contains "$(cat dom.html)" "<h3>attempt 2: FAILED" "its second attempt"
assert_contains "$(cat dom.html)" '<pre class="log">exit code 3</pre>' "its log"
if grep -q '<script>alert(1)</script>' dom.html; then fail "task text became markup"; fi
mkdir -p "$DF_BUILD_DIR/tests/artifacts"
chrome --screenshot="$DF_BUILD_DIR/tests/artifacts/report.png" --window-size=1200,1000 \
    "file://$WORK/page.html#task=b" >/dev/null || true
[[ -s "$DF_BUILD_DIR/tests/artifacts/report.png" ]] || fail "no screenshot"
df_done
