#!/usr/bin/env bash
# The HTTP API (SPEC §9) with a real HTTP client: tests/http/http_api_check.py (Python's
# http.client) against tests/http/http_host (df_http_start, the server `dagflow serve` hosts) on a
# real database with a SUCCESS run, a FAILED run and, during the check, a slow live run: shapes and
# status codes of every endpoint, the token, 413, strict bodies, 404/409/501, the long poll, and
# /metrics against the text format's rules. Also: a non-loopback address without a token file is
# refused, a bad address or an empty token file is an error. Runs on PostgreSQL too (pg label).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
[[ -x "${DF_HTTP_HOST:-}" ]] || fail "the test host is not built (DF_HTTP_HOST=${DF_HTTP_HOST:-})"
command -v python3 >/dev/null || skip "python3 is not installed"

run_wf "$DF_SOURCE_DIR/workflows/hello.json"
expect_rc 0 "a SUCCESS run"
ok_run=$(last_run)
cat >bad.json <<'JSON'
{"name": "bad", "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "exit 3"}}]}
JSON
run_wf bad.json
expect_rc 1 "a FAILED run"
bad_run=$(last_run)
cat >slow.json <<'JSON'
{"name": "slow", "tasks": [
  {"id": "nap", "plugin": "shell", "params": {"script": "sleep 6"}},
  {"id": "after", "plugin": "shell", "depends_on": ["nap"], "params": {"script": "true"}}]}
JSON
cat >sched.json <<'JSON'
{"name": "sched", "schedule": {"cron": "0 * * * *"},
 "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "true"}}]}
JSON
cat >metrics.json <<'JSON'
{"attempts_started": 7, "attempts_finished": {"SUCCESS": 5, "FAILED": 2},
 "ready_to_running_seconds": {"buckets": [[0.001, 1], [0.01, 4], [0.1, 7]], "sum": 0.05, "count": 7},
 "queue_depth": 0, "pool_workers": {"current": 2, "busy": 1, "peak": 3},
 "breaker_open": {"api": 0, "a\"b\\c": 1},
 "store_commit_seconds": {"buckets": [[0.001, 2], [0.01, 3]], "sum": 0.004, "count": 3},
 "schedule_lateness_seconds": {"buckets": [[1, 0]], "sum": 0, "count": 0},
 "admission_paused": 0}
JSON
printf '  s3cret-token-%s\n' "$$" >token
chmod 600 token
token="s3cret-token-$$"

# start_host ARGS...: starts the host, sets HOST_PID and HOST_PORT (fails when it does not start).
start_host() {
    "$DF_HTTP_HOST" --db "$DB" "$@" >host.out 2>host.err &
    HOST_PID=$!
    for _ in $(seq 1 100); do
        grep -q '^port ' host.out 2>/dev/null && break
        kill -0 "$HOST_PID" 2>/dev/null || break
        sleep 0.05
    done
    HOST_PORT=$(awk '/^port /{print $2}' host.out)
    [[ -n "$HOST_PORT" ]] || fail "the host did not start: $(cat host.err)"
}
stop_host() {
    kill -TERM "$HOST_PID"
    wait "$HOST_PID" || fail "the host did not exit 0 on SIGTERM"
}

note "the API against a real server"
start_host --listen 127.0.0.1:0 --token-file token --workflow "hello=$DF_SOURCE_DIR/workflows/hello.json" \
    --workflow "sched=$WORK/sched.json" --engine-metrics metrics.json
API_PORT=$HOST_PORT API_TOKEN=$token API_OK=$ok_run API_BAD=$bad_run API_DB=$DB \
    API_SLOW_WF="$WORK/slow.json" python3 "$DF_SOURCE_DIR/tests/http/http_api_check.py" >check.out 2>&1 ||
    { cat check.out; fail "http_api_check.py failed"; }
cat check.out
assert_contains "$(cat check.out)" "PASS:" "the checks ran to the end"
stop_host

note "without --token-file the API is open on loopback"
start_host --listen 127.0.0.1:0
code=$(curl -s -o body.json -w '%{http_code}' "http://127.0.0.1:$HOST_PORT/api/v1/runs/$ok_run")
assert_eq "200" "$code" "no token needed"
code=$(curl -s -o body.json -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    "http://127.0.0.1:$HOST_PORT/api/v1/workflows/x/runs")
assert_eq "501" "$code" "no workflows hook: 501"
stop_host

note "a non-loopback address needs a token file"
run_df_host() {
    "$DF_HTTP_HOST" --db "$DB" "$@" >host.out 2>host.err &
    local pid=$!
    for _ in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        grep -q '^port ' host.out && break
        sleep 0.05
    done
    if grep -q '^port ' host.out; then
        kill -TERM "$pid"
        wait "$pid" || true
        HOST_RC=0
    else
        HOST_RC=0
        wait "$pid" || HOST_RC=$?
    fi
}
run_df_host --listen 0.0.0.0:0
assert_eq "2" "$HOST_RC" "0.0.0.0 without a token file is refused"
assert_contains "$(cat host.err)" "--listen 0.0.0.0:0 is not a loopback address: give --token-file" "message"
run_df_host --listen 0.0.0.0:0 --token-file token
assert_eq "0" "$HOST_RC" "0.0.0.0 with a token file starts"
run_df_host --listen '[::1]:0'
assert_eq "0" "$HOST_RC" "::1 is loopback"
run_df_host --listen localhost
assert_eq "2" "$HOST_RC" "no port"
assert_contains "$(cat host.err)" "not HOST:PORT" "bad address message"
: >empty
chmod 600 empty
run_df_host --listen 127.0.0.1:0 --token-file empty
assert_eq "2" "$HOST_RC" "an empty token file"
assert_contains "$(cat host.err)" "the file is empty" "empty token message"
run_df_host --listen 127.0.0.1:0 --token-file "$WORK/none"
assert_eq "2" "$HOST_RC" "a missing token file"

note "off loopback, one client address cannot take every connection (64) with unfinished requests"
start_host --listen 0.0.0.0:0 --token-file token
python3 - "$HOST_PORT" >slots.out 2>&1 <<'PY' || { cat slots.out; fail "another client was not served"; }
import socket, sys, time, http.client
port = int(sys.argv[1])
held = []
for _ in range(70):  # from 127.0.0.2: half a request line each, never finished
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"GET /healthz HT")
        held.append(s)
    except OSError:
        s.close()
time.sleep(0.5)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # another client address
c.request("GET", "/healthz", headers={"Host": "127.0.0.1:%d" % port})
r = c.getresponse()
print("healthz", r.status)
sys.exit(0 if r.status == 200 else 1)
PY
assert_contains "$(cat slots.out)" "healthz 200" "served beside 70 unfinished requests from one address"
stop_host
note "a token file its group or others can read is refused, as ssh refuses such a key"
printf 'open-token\n' >open_token
chmod 644 open_token
run_df_host --listen 127.0.0.1:0 --token-file open_token
assert_eq "2" "$HOST_RC" "a 0644 token file"
assert_contains "$(cat host.err)" "its group or others may read or write it (mode 0644)" "open token message"
assert_contains "$(cat host.err)" "chmod 600 open_token" "open token hint"
chmod 640 open_token
run_df_host --listen 127.0.0.1:0 --token-file open_token
assert_eq "2" "$HOST_RC" "a 0640 token file"
chmod 600 open_token
run_df_host --listen 127.0.0.1:0 --token-file open_token
assert_eq "0" "$HOST_RC" "a 0600 token file"
run_df_host --listen 127.0.0.1:0 --token-file "$WORK"
assert_eq "2" "$HOST_RC" "a folder as token file"
df_done
