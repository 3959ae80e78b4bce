#!/usr/bin/env bash
# The web UI (issue 11, SPEC §9 "GET /") in headless Chromium (Debian's chromium), driven through
# the DevTools protocol (tests/browser/cdp.py over --remote-debugging-pipe; checks in
# tests/browser/webui_check.py) against the HTTP API's server on a real database, with a token:
# the UI asks for the token once; the workflows page; the runs page (newest first, paging,
# filters by state and workflow); the run page of a finished 20-task run (every task with its
# state in the table and in the graph, one Gantt bar per attempt, a retry's wait, clicking a task
# shows its log, Enter on a focused node, the find box); a mapped task's node, bars and
# instances; a run of 5,000 tasks (only what is in sight drawn, scrolling, find; its first-paint
# figure printed); a live run's page following it to its
# end without a reload; a live run of 2,400 tasks whose page reads the whole report once, then
# only what changed (GET /api/v1/runs/ID/report?since=SEQ, also checked with curl; the bytes of
# each read printed); no request leaves the server. Screenshots in build/tests/artifacts/
# (webui_*.png). Skipped (77) only where chromium is not installed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
need_plugin sleepy
[[ -x "${DF_HTTP_HOST:-}" ]] || fail "the test host is not built (DF_HTTP_HOST=${DF_HTTP_HOST:-})"
command -v python3 >/dev/null || skip "python3 is not installed"
command -v chromium >/dev/null || command -v chromium-browser >/dev/null ||
    skip "chromium is not installed (Debian package chromium, in .ci/packages)"

note "a finished run of 20 tasks: one retried into success, one failing twice with output, one upstream-failed"
python3 - <<'PY'
import json
tasks = []
for i in range(1, 21):
    t = {"id": "t%02d" % i, "plugin": "shell", "params": {"script": "echo task %d" % i}}
    if i > 1:
        t["depends_on"] = ["t%02d" % (i // 2)]
    tasks.append(t)
tasks[4]["retries"] = 1
tasks[4]["retry_delay_ms"] = 300
tasks[4]["params"]["script"] = "if [ -e flaky.mark ]; then echo second; else touch flaky.mark; exit 1; fi"
tasks[6]["retries"] = 1
tasks[6]["retry_delay_ms"] = 10
tasks[6]["params"]["script"] = "echo boom-stdout-$((6*7)); echo boom-stderr >&2; exit 4"
json.dump({"name": "twenty", "tasks": tasks}, open("twenty.json", "w"), indent=1)
PY
run_wf twenty.json
expect_rc 1 "the 20-task run fails (t07)"
run20=$(last_run)
states=$(q "SELECT task_id || '=' || state FROM task_history WHERE run_id = $run20 ORDER BY task_id" | tr '\n' ' ')
attempts=$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run20")
assert_contains "$states" "t05=SUCCESS" "t05 succeeded on its retry"
assert_contains "$states" "t07=FAILED" "t07 failed"
assert_contains "$states" "UPSTREAM_FAILED" "some task is upstream-failed"
assert_eq "2" "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run20 AND task_id = 't05'")" "t05's attempts"

note "more runs for the runs page: SUCCESS and FAILED, two workflows"
cat >bad.json <<'JSON'
{"name": "bad", "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "exit 3"}}]}
JSON
run_wf "$DF_SOURCE_DIR/workflows/hello.json"
expect_rc 0 "hello"
run_wf bad.json
expect_rc 1 "bad"
cat >mapped.json <<'JSON'
{"name": "mapped", "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "true"}},
 {"id": "m", "plugin": "shell", "depends_on": ["a"], "for_each": [0, 1, 2],
  "params": {"script": "echo item-${item}; test ${item} != 1"}}]}
JSON
run_wf mapped.json
expect_rc 1 "mapped (m[1] fails)"
mapped_run=$(last_run)
python3 - <<'PY'
import json
tasks = []
for l in range(50):
    for i in range(100):
        t = {"id": "t%02d_%03d" % (l, i), "plugin": "noop"}
        if l:
            t["depends_on"] = sorted({"t%02d_%03d" % (l - 1, i), "t%02d_%03d" % (l - 1, (i * 7 + 3) % 100)})
        tasks.append(t)
json.dump({"name": "big", "tasks": tasks}, open("big.json", "w"))
PY
run_wf big.json
expect_rc 0 "a run of 5,000 tasks"
big_run=$(last_run)
run_wf "$DF_SOURCE_DIR/workflows/hello.json"
expect_rc 0 "hello again"
runs=$(q "SELECT run_id || '=' || state FROM run_history ORDER BY run_id DESC" | tr '\n' ' ')

cat >slow.json <<'JSON'
{"name": "slow", "tasks": [
  {"id": "nap", "plugin": "shell", "params": {"script": "sleep 5"}},
  {"id": "then", "plugin": "shell", "depends_on": ["nap"], "params": {"script": "sleep 1"}},
  {"id": "last", "plugin": "shell", "depends_on": ["then"], "params": {"script": "true"}}]}
JSON
python3 - <<'PY'
import json
# 2,400 tasks: 2,375 quick ones, then a chain of 25 sleeping 500 ms each after them all: the page,
# opened once the chain has started, follows about 12 s in which one or two tasks change between
# two refreshes
tasks = [{"id": "w%04d" % i, "plugin": "noop"} for i in range(2375)]
for i in range(25):
    t = {"id": "c%02d" % i, "plugin": "sleepy", "params": {"ms": 500}}
    t["depends_on"] = ["c%02d" % (i - 1)] if i else [w["id"] for w in tasks[:2375]]
    tasks.append(t)
json.dump({"name": "biglive", "tasks": tasks}, open("biglive.json", "w"))
PY
printf 'ui-token-%s\n' "$$" >token
chmod 600 token
token="ui-token-$$"

"$DF_HTTP_HOST" --db "$DB" --listen 127.0.0.1:0 --token-file token \
    --workflow "twenty=$WORK/twenty.json" --workflow "slow=$WORK/slow.json" >host.out 2>host.err &
HOST_PID=$!
trap 'kill -TERM $HOST_PID 2>/dev/null || true; wait $HOST_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    grep -q '^port ' host.out 2>/dev/null && break
    sleep 0.05
done
port=$(awk '/^port /{print $2}' host.out)
[[ -n "$port" ]] || fail "the host did not start: $(cat host.err)"

note "the pages need no token; the API does"
assert_eq "200" "$(curl -s -o index.html -w '%{http_code}' "http://127.0.0.1:$port/")" "GET /"
assert_contains "$(cat index.html)" "<title>dagflow</title>" "the UI's index page"
assert_eq "200" "$(curl -s -o run.html -w '%{http_code}' "http://127.0.0.1:$port/runs/$run20")" "GET /runs/ID"
assert_contains "$(cat run.html)" '<script id="dagflow-data" type="application/json">null</script>' "the run page without data"
assert_eq "401" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/v1/runs/$run20/report")" "report data needs the token"
assert_eq "200" "$(curl -s -o rep.json -w '%{http_code}' -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/runs/$run20/report")" "report data with the token"
last_seq20=$(q "SELECT max(seq) FROM task_events WHERE run_id = $run20")
python3 - "$run20" "$last_seq20" <<'PY' || fail "the report data"
import json, sys
d = json.load(open("rep.json"))
assert d["run"]["run_id"] == int(sys.argv[1]) and len(d["run"]["tasks"]) == 20
assert len(d["dag"]["tasks"]) == 20 and d["dag"]["tasks"][1]["depends_on"] == ["t01"]
assert len(d["attempts"]["t05"]) == 2
assert all("stdout" not in a and "log" not in a for a in d["attempts"]["t07"]), "no log texts in bulk"
assert d["last_seq"] == int(sys.argv[2]), (d["last_seq"], sys.argv[2])
PY
note "report?since=SEQ: only the tasks with an event after SEQ, and their attempts"
since_t05=$(q "SELECT min(seq) - 1 FROM task_events WHERE run_id = $run20 AND task_id = 't05' AND to_state = 'SUCCESS'")
changed=$(q "SELECT group_concat(task_id, ' ') FROM (SELECT DISTINCT task_id FROM task_events WHERE run_id = $run20 AND seq > $since_t05 ORDER BY task_id)")
assert_eq "200" "$(curl -s -o delta.json -w '%{http_code}' -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/runs/$run20/report?since=$since_t05")" "report?since"
python3 - "$since_t05" "$changed" "$last_seq20" <<'PY' || fail "the report delta"
import json, sys
d = json.load(open("delta.json"))
assert d["partial"] is True and d["since"] == int(sys.argv[1]) and d["last_seq"] == int(sys.argv[3]), d
assert "dag" not in d
ids = sorted(t["id"] for t in d["run"]["tasks"])
assert ids == sys.argv[2].split() and "t05" in ids, (ids, sys.argv[2])
assert sorted(d["attempts"]) == ids and len(d["attempts"]["t05"]) == 2, d["attempts"].keys()
assert d["run"]["state"] == "FAILED"
PY
curl -s -o delta2.json -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/runs/$run20/report?since=$last_seq20"
assert_eq "0 0 $last_seq20" "$(jq -r '"\(.run.tasks | length) \(.attempts | length) \(.last_seq)"' delta2.json)" "nothing after the last event"
assert_eq "400" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/runs/$run20/report?since=x")" "a bad since"
assert_eq "404" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/v1/runs/99999/report")" "unknown run"
assert_eq "404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/runs/abc")" "bad run id"

note "the UI in headless Chromium"
mkdir -p "$DF_BUILD_DIR/tests/artifacts"
UI_URL="http://127.0.0.1:$port/" UI_TOKEN="$token" UI_RUN="$run20" UI_RUN_STATES="$states" \
    UI_RUN_ATTEMPTS="$attempts" UI_LOG_TASK=t07 UI_LOG_TEXT=boom-stdout-42 UI_LOG_ATTEMPTS=2 UI_RETRIED=t05 UI_MAPPED="$mapped_run" \
    UI_BIG="$big_run" \
    UI_RUNS="$runs" UI_WORKFLOWS="twenty slow" UI_LIVE_WF=slow \
    UI_LIVE_CMD="\"$DF_BIN\" run \"$WORK/slow.json\" --db \"$DB\" --plugin-dir \"$DF_TEST_PLUGIN_DIR\"" \
    UI_BIGLIVE_CMD="\"$DF_BIN\" run \"$WORK/biglive.json\" --db \"$DB\" --plugin-dir \"$DF_TEST_PLUGIN_DIR\"" \
    UI_ART="$DF_BUILD_DIR/tests/artifacts" \
    timeout 280 python3 "$DF_SOURCE_DIR/tests/browser/webui_check.py" >check.out 2>&1 ||
    { cat check.out; fail "webui_check.py failed"; }
cat check.out
assert_contains "$(cat check.out)" "PASS:" "the checks ran to the end"
for f in webui_workflows webui_runs webui_run webui_task webui_big webui_live webui_live_end webui_live_big; do
    [[ -s "$DF_BUILD_DIR/tests/artifacts/$f.png" ]] || fail "no screenshot $f.png"
done
assert_eq "SUCCESS" "$(run_state "$(last_run)")" "the live run"
df_done
