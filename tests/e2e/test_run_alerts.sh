#!/usr/bin/env bash
# test_run_alerts: alerts end to end (SPEC §5): a command sink gets the alert JSON on stdin and the
# DAGFLOW_* variables in its environment; the JSON's keys; the default subscription
# (task_failed + run_failed); task_retry and run_succeeded when subscribed; a file sink appends one
# JSON line per alert; relative sink paths resolve against the workflow's folder; a failing sink
# is tried 3 times; alert_history records every (event, sink) with its status and tries; `run`
# finishes delivering before it exits.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_plugin fail
need_plugin flaky
need_builtin noop

# The workflows live in wf/ and are run from $WORK, so relative sink paths must resolve against
# the workflow's folder, not the current directory.
mkdir -p wf
# sink.sh DIR: saves each alert's stdin as DIR/N.json and its DAGFLOW_* variables as DIR/N.env.
cat >wf/sink.sh <<'EOF'
#!/bin/sh
dir="$1"
mkdir -p "$dir"
f=$(mktemp "$dir/alert.XXXXXX")
cat >"$f.json"
{
    printf 'DAGFLOW_EVENT=%s\n' "$DAGFLOW_EVENT"
    printf 'DAGFLOW_RUN_ID=%s\n' "$DAGFLOW_RUN_ID"
    printf 'DAGFLOW_WORKFLOW=%s\n' "$DAGFLOW_WORKFLOW"
    printf 'DAGFLOW_TASK_ID=%s\n' "${DAGFLOW_TASK_ID-<unset>}"
    printf 'DAGFLOW_STATE=%s\n' "$DAGFLOW_STATE"
    printf 'DAGFLOW_ERROR=%s\n' "${DAGFLOW_ERROR-<unset>}"
} >"$f.env"
rm -f "$f"
EOF
# bad.sh: counts its calls in bad.calls (in the workflow folder) and fails.
cat >wf/bad.sh <<'EOF'
#!/bin/sh
cat >/dev/null
echo "$DAGFLOW_EVENT" >> bad.calls
echo "sink is down" >&2
exit 1
EOF
# slow.sh: takes a second, then records the alert (delivery must finish before `run` exits).
cat >wf/slow.sh <<'EOF'
#!/bin/sh
cat >/dev/null
sleep 1
echo "$DAGFLOW_EVENT" >> slow.calls
EOF
chmod +x wf/sink.sh wf/bad.sh wf/slow.sh

ISO='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$'
# On PostgreSQL (DAGFLOW_TEST_DB=pg) the views' times are timestamptz, which psql prints in UTC
# as 2026-11-29 10:19:02.107+00.
VIEW_TIME="$ISO"
! df_is_pg_uri "$DB" || VIEW_TIME='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?\+00$'

# alert_files DIR EVENT: the .json files in DIR whose event is EVENT.
alert_files() {
    local f
    for f in "$1"/*.json; do
        [[ -e "$f" ]] || continue
        [[ "$(jq -r .event "$f")" == "$2" ]] && printf '%s\n' "$f"
    done
    return 0
}

# env_of JSON_FILE VAR: the variable as the sink saw it.
env_of() {
    sed -n "s/^$2=//p" "${1%.json}.env"
}

note "default subscription: task_failed and run_failed, with the JSON on stdin and DAGFLOW_* set"
cat >wf/failing.json <<'EOF'
{"name": "failing",
 "alerts": [
   {"type": "command", "argv": ["./sink.sh", "got_default"]},
   {"type": "command", "argv": ["./sink.sh", "got_retry"], "on": ["task_retry"]},
   {"type": "file", "path": "out/alerts.jsonl"},
   {"type": "command", "argv": ["./bad.sh"], "on": ["run_failed"]},
   {"type": "command", "argv": ["./slow.sh"], "on": ["run_failed"]}
 ],
 "tasks": [
   {"id": "wobbly", "plugin": "flaky", "params": {"fail_times": 1}, "retries": 1, "retry_delay_ms": 50},
   {"id": "boom", "plugin": "fail", "depends_on": ["wobbly"], "params": {"message": "kaboom: disk full"}},
   {"id": "after", "plugin": "noop", "depends_on": ["boom"]}
 ]}
EOF
mkdir -p wf/out
run_wf wf/failing.json
expect_rc 1
run=$(last_run)
expect_run "$run" FAILED
[[ ! -e got_default ]] || fail "the sink ran in the current directory, not the workflow's folder"
n=$(find wf/got_default -name '*.json' | wc -l)
assert_eq 2 "$n" "alerts received by the default-subscription sink"

f=$(alert_files wf/got_default task_failed)
[[ -n "$f" ]] || fail "no task_failed alert received"
j=$(cat "$f")
assert_eq '["at","attempt","error","event","run_id","state","task_id","workflow"]' \
    "$(jv '[keys[] | select(IN("event","run_id","workflow","task_id","state","error","attempt","at"))] | sort' "$j")" \
    "keys of the alert JSON"
assert_eq '"task_failed"' "$(jv .event "$j")" "event"
assert_eq "$run" "$(jv .run_id "$j")" "run_id (a number)"
assert_eq '"failing"' "$(jv .workflow "$j")" "workflow"
assert_eq '"boom"' "$(jv .task_id "$j")" "task_id"
assert_eq '"FAILED"' "$(jv .state "$j")" "state"
assert_eq '"kaboom: disk full"' "$(jv .error "$j")" "error"
assert_eq 1 "$(jv .attempt "$j")" "attempt"
assert_match "$(jv .at "$j" -r)" "$ISO" "at (ISO-8601 UTC)"
assert_eq task_failed "$(env_of "$f" DAGFLOW_EVENT)" "DAGFLOW_EVENT"
assert_eq "$run" "$(env_of "$f" DAGFLOW_RUN_ID)" "DAGFLOW_RUN_ID"
assert_eq failing "$(env_of "$f" DAGFLOW_WORKFLOW)" "DAGFLOW_WORKFLOW"
assert_eq boom "$(env_of "$f" DAGFLOW_TASK_ID)" "DAGFLOW_TASK_ID"
assert_eq FAILED "$(env_of "$f" DAGFLOW_STATE)" "DAGFLOW_STATE"
assert_eq "kaboom: disk full" "$(env_of "$f" DAGFLOW_ERROR)" "DAGFLOW_ERROR"

f=$(alert_files wf/got_default run_failed)
[[ -n "$f" ]] || fail "no run_failed alert received"
j=$(cat "$f")
assert_eq '"run_failed"' "$(jv .event "$j")"
assert_eq "$run" "$(jv .run_id "$j")"
assert_eq '"failing"' "$(jv .workflow "$j")"
assert_eq null "$(jv .task_id "$j")" "task_id of a run event"
assert_eq '"FAILED"' "$(jv .state "$j")" "state of run_failed"
assert_match "$(jv .at "$j" -r)" "$ISO" "at"
assert_eq run_failed "$(env_of "$f" DAGFLOW_EVENT)"
assert_eq "$run" "$(env_of "$f" DAGFLOW_RUN_ID)"
assert_eq FAILED "$(env_of "$f" DAGFLOW_STATE)"
tid=$(env_of "$f" DAGFLOW_TASK_ID)
[[ -z "$tid" || "$tid" == "<unset>" ]] || fail "DAGFLOW_TASK_ID of a run event is [$tid]"

note "task_retry when subscribed"
n=$(find wf/got_retry -name '*.json' | wc -l)
assert_eq 1 "$n" "alerts received by the task_retry sink"
f=$(alert_files wf/got_retry task_retry)
j=$(cat "$f")
assert_eq '"wobbly"' "$(jv .task_id "$j")" "task of task_retry"
assert_eq 1 "$(jv .attempt "$j")" "attempt of task_retry (the failed one)"
assert_eq '"UP_FOR_RETRY"' "$(jv .state "$j")" "state of task_retry"
assert_contains "$(jv .error "$j" -r)" "attempt 1" "error of task_retry (the flaky plugin's message)"
assert_eq task_retry "$(env_of "$f" DAGFLOW_EVENT)"
assert_eq wobbly "$(env_of "$f" DAGFLOW_TASK_ID)"

note "file sink: one JSON line per alert"
[[ -f wf/out/alerts.jsonl ]] || fail "the file sink's file wf/out/alerts.jsonl was not written"
assert_eq 2 "$(wc -l <wf/out/alerts.jsonl | tr -d ' ')" "lines in the file sink"
# (SPEC §5 does not order deliveries, so the checks below sort.)
assert_eq '["run_failed","task_failed"]' "$(jq -cs '[.[].event] | sort' wf/out/alerts.jsonl)" \
    "events in the file sink"
assert_eq "[$run,$run]" "$(jq -cs '[.[].run_id]' wf/out/alerts.jsonl)"

note "a failing sink is tried 3 times; alert_history records every delivery"
assert_eq "run_failed run_failed run_failed" "$(tr '\n' ' ' <wf/bad.calls | sed 's/ $//')" \
    "calls of the failing sink"
assert_eq run_failed "$(cat wf/slow.calls)" "the slow sink finished before run exited"
rows=$(q "SELECT count(*) FROM alert_history WHERE run_id = $run")
# default sink 2, task_retry sink 1, file sink 2, bad sink 1, slow sink 1
assert_eq 7 "$rows" "alert_history rows (one per event and sink)"
assert_eq "failed|3" "$(q "SELECT status, tries FROM alert_history WHERE run_id = $run
                          AND sink LIKE '%bad.sh%'")" "status and tries of the failing sink"
err=$(q "SELECT error FROM alert_history WHERE run_id = $run AND sink LIKE '%bad.sh%'")
[[ -n "$err" ]] || fail "the failed delivery has no error"
assert_eq 0 "$(q "SELECT count(*) FROM alert_history WHERE run_id = $run
                  AND sink NOT LIKE '%bad.sh%' AND status != 'delivered'")" "undelivered good alerts"
assert_eq 6 "$(q "SELECT count(*) FROM alert_history WHERE run_id = $run
                  AND status = 'delivered' AND tries = 1 AND delivered_at IS NOT NULL")" \
    "delivered alerts (first try, with delivered_at)"
assert_eq "run_failed|task_failed|task_retry" \
    "$(q "SELECT group_concat(event, '|') FROM (SELECT DISTINCT event FROM alert_history
          WHERE run_id = $run ORDER BY event)")" "events in alert_history"
assert_eq "boom" "$(q "SELECT DISTINCT task_id FROM alert_history WHERE run_id = $run
                       AND event = 'task_failed'")" "task of task_failed rows"
assert_eq "" "$(q "SELECT DISTINCT ifnull(task_id, '') FROM alert_history WHERE run_id = $run
                   AND event = 'run_failed'")" "task of run_failed rows"
while IFS='|' read -r c d; do
    assert_match "$c" "$VIEW_TIME" "alert created_at"
    [[ -z "$d" ]] || assert_match "$d" "$VIEW_TIME" "alert delivered_at"
done < <(q "SELECT created_at, ifnull(delivered_at, '') FROM alert_history WHERE run_id = $run")
assert_eq 0 "$(q "SELECT count(*) FROM alert_history WHERE run_id = $run AND status = 'pending'")" \
    "pending alerts after run exited"

note "a succeeding run: run_succeeded and task_retry when subscribed, nothing for the default sink"
cat >wf/ok.json <<'EOF'
{"name": "ok",
 "alerts": [
   {"type": "command", "argv": ["./sink.sh", "got_ok_default"]},
   {"type": "command", "argv": ["./sink.sh", "got_ok_sub"], "on": ["run_succeeded", "task_retry", "task_failed"]},
   {"type": "file", "path": "out/ok.jsonl", "on": ["run_succeeded"]}
 ],
 "tasks": [
   {"id": "wobbly", "plugin": "flaky", "params": {"fail_times": 2}, "retries": 2, "retry_delay_ms": 50}
 ]}
EOF
run_wf wf/ok.json
expect_rc 0
run=$(last_run)
[[ ! -e wf/got_ok_default ]] || fail "the default sink got alerts for a successful run: $(cat wf/got_ok_default/*.json)"
assert_eq "run_succeeded task_retry task_retry" \
    "$(cat wf/got_ok_sub/*.json | jq -rs '[.[].event] | sort | join(" ")')" "events of the subscribed sink"
assert_eq "1 2" "$(cat wf/got_ok_sub/*.json | jq -rs '[.[] | select(.event == "task_retry") | .attempt] | sort | join(" ")')" \
    "attempts of the task_retry alerts"
f=$(alert_files wf/got_ok_sub run_succeeded)
assert_eq '"SUCCESS"' "$(jv .state "$(cat "$f")")" "state of run_succeeded"
assert_eq null "$(jv .task_id "$(cat "$f")")" "task_id of run_succeeded"
assert_eq run_succeeded "$(env_of "$f" DAGFLOW_EVENT)"
assert_eq 1 "$(wc -l <wf/out/ok.jsonl | tr -d ' ')" "lines of the run_succeeded file sink"
assert_eq '"run_succeeded"' "$(jq -c .event wf/out/ok.jsonl)"
assert_eq 4 "$(q "SELECT count(*) FROM alert_history WHERE run_id = $run AND status = 'delivered'")" \
    "delivered alerts of the successful run"

note "webhook sink: POST of the alert JSON with the sink's headers; non-2xx is tried 3 times"
if ! command -v python3 >/dev/null; then
    note "python3 is not installed; skipping the webhook part"
else
    # A tiny HTTP server: records each POST as one JSON line in hooks.jsonl, answers 200 on /ok
    # and 500 elsewhere, and writes its port to hook.port.
    cat >hook.py <<'PY'
import http.server, json, os

class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with open("hooks.jsonl", "a") as f:
            f.write(json.dumps({"path": self.path, "body": body,
                                "ctype": self.headers.get("Content-Type"),
                                "xtest": self.headers.get("X-Test")}) + "\n")
        self.send_response(200 if self.path == "/ok" else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open("hook.port.tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename("hook.port.tmp", "hook.port")
srv.serve_forever()
PY
    python3 hook.py &
    hook_pid=$!
    trap 'kill "$hook_pid" 2>/dev/null || true; df_remove_work' EXIT
    for _ in $(seq 1 100); do [[ -s hook.port ]] && break; sleep 0.05; done
    [[ -s hook.port ]] || fail "the test's HTTP server did not start"
    port=$(cat hook.port)
    cat >wf/hook.json <<JSON
{"name": "hook",
 "alerts": [
   {"type": "webhook", "url": "http://127.0.0.1:$port/ok", "headers": {"X-Test": "yes"}},
   {"type": "webhook", "url": "http://127.0.0.1:$port/bad", "on": ["run_failed"]}
 ],
 "tasks": [{"id": "boom", "plugin": "fail", "params": {"message": "hook me"}}]}
JSON
    run_wf wf/hook.json
    expect_rc 1
    run=$(last_run)
    [[ -f hooks.jsonl ]] || fail "the webhook sinks posted nothing"
    assert_eq '["run_failed","task_failed"]' \
        "$(jq -cs '[.[] | select(.path == "/ok") | .body | fromjson | .event] | sort' hooks.jsonl)" \
        "events posted to the good webhook"
    assert_eq '["hook me"]' \
        "$(jq -cs '[.[] | select(.path == "/ok") | .body | fromjson | select(.event == "task_failed") | .error]' hooks.jsonl)" \
        "error in the posted task_failed alert"
    assert_eq '["yes"]' "$(jq -cs '[.[] | select(.path == "/ok") | .xtest] | unique' hooks.jsonl)" \
        "the sink's headers are sent"
    assert_contains "$(jq -cs '[.[] | select(.path == "/ok") | .ctype] | unique' hooks.jsonl)" \
        "application/json" "Content-Type of the POST"
    assert_eq 3 "$(jq -s '[.[] | select(.path == "/bad")] | length' hooks.jsonl)" \
        "tries of a webhook answering 500"
    assert_eq "delivered|delivered" "$(q "SELECT group_concat(status, '|') FROM alert_history
        WHERE run_id = $run AND sink LIKE '%/ok%'")" "status of the good webhook's alerts"
    assert_eq "failed|3" "$(q "SELECT status, tries FROM alert_history WHERE run_id = $run
        AND sink LIKE '%/bad%'")" "status and tries of the failing webhook"
    err=$(q "SELECT error FROM alert_history WHERE run_id = $run AND sink LIKE '%/bad%'")
    assert_contains "$err" "500" "the failed webhook's error names the status"
    kill "$hook_pid" 2>/dev/null || true
    wait "$hook_pid" 2>/dev/null || true
fi

run_done
