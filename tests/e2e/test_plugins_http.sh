#!/usr/bin/env bash
# test_plugins_http: the built-in http plugin end to end (SPEC §2), against a loopback Python test
# server (data/plugins/http_server.py): a GET of JSON whose parsed body feeds a downstream task
# through ${tasks.get.result.json.x}, a POST of a JSON body echoed back, request headers, a non-2xx
# status failing and being retried until the fail-N-times endpoint succeeds, expect_status
# accepting a 404, a connection refused, a server that never answers cut off by timeout_ms
# (TIMED_OUT), validate rejecting bad params (missing url, unknown key, bad method), and the
# example workflows/api_to_sqlite.json run from a copy, leaving no server behind.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin http
need_builtin noop
command -v python3 >/dev/null || skip "python3 is not installed (the test server needs it)"

# The server: a free loopback port written to $WORK/port; killed on exit (and it exits by itself
# after 50 s in any case).
SERVER_PID=""
trap '[[ -z "$SERVER_PID" ]] || kill "$SERVER_PID" 2>/dev/null || true; df_remove_work' EXIT
python3 "$E2E_DIR/data/plugins/http_server.py" --port-file "$WORK/port" --lifetime 50 &
SERVER_PID=$!
for _ in $(seq 100); do
    [[ -s "$WORK/port" ]] && break
    sleep 0.05
done
[[ -s "$WORK/port" ]] || fail "the test HTTP server did not start"
PORT=$(cat "$WORK/port")
BASE="http://127.0.0.1:$PORT"
note "test server on $BASE"
# No proxy between dagflow and the loopback server.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

# result RUN TASK: the task's result in `status --json`, compact.
result() {
    dfx status "$1" --json
    expect_rc 0 "status --json"
    jv ".tasks[] | select(.id == \"$2\") | .result" "$DF_OUT"
}

note "GET of JSON: status, lower-case headers, body, parsed json used downstream"
cat >get.json <<'EOF'
{"name": "http_get", "params": {"base": "", "url": ""}, "tasks": [
  {"id": "get", "plugin": "http", "params": {"url": "${params.base}/json"}},
  {"id": "use", "plugin": "noop", "depends_on": ["get"],
   "params": {"x": "${tasks.get.result.json.x}", "msg": "x is ${tasks.get.result.json.x}",
              "ctype": "${tasks.get.result.headers.content-type}"}}
]}
EOF
run_wf get.json --param base="$BASE"
expect_rc 0 "GET run"
run=$(last_run)
expect_task "$run" get SUCCESS
expect_task "$run" use SUCCESS
r=$(result "$run" get)
assert_eq 200 "$(jv .status "$r")" "status"
assert_eq '{"x":42,"name":"dagflow","items":[1,2,3]}' "$(jv .json "$r")" "parsed json"
assert_eq '"dagflow"' "$(jv '.headers["x-test-server"]' "$r")" "a lower-cased response header"
assert_eq '"application/json"' "$(jv '.headers["content-type"]' "$r")" "content-type header"
assert_eq '"string"' "$(jv '.body | type' "$r")" "body is a string"
assert_contains "$(jv .body "$r" -r)" '"x": 42' "body text"
assert_eq '{"x":42,"msg":"x is 42","ctype":"application/json"}' "$(result "$run" use)" \
    "downstream noop got the typed value"

note "a text response has no \"json\""
cat >text.json <<'EOF'
{"name": "http_text", "params": {"base": "", "url": ""}, "tasks": [{"id": "t", "plugin": "http", "params": {"url": "${params.base}/text"}}]}
EOF
run_wf text.json --param base="$BASE"
expect_rc 0
r=$(result "$(last_run)" t)
assert_eq '"hello"' "$(jv .body "$r")" "text body"
assert_eq false "$(jv 'has("json")' "$r")" "no json key for text/plain"

note "POST of a JSON body (echoed back with Content-Type application/json), PUT of a string, headers"
cat >post.json <<'EOF'
{"name": "http_post", "params": {"base": "", "url": ""}, "tasks": [
  {"id": "post", "plugin": "http", "params": {"url": "${params.base}/echo", "method": "POST",
   "body": {"a": [1, 2], "s": "t\u00e9"}}},
  {"id": "put", "plugin": "http", "params": {"url": "${params.base}/echo", "method": "put",
   "body": "plain text", "headers": {"Content-Type": "text/plain"}}},
  {"id": "hdr", "plugin": "http", "params": {"url": "${params.base}/headers",
   "headers": {"X-Custom": "v1", "X-Number": 7}}},
  {"id": "head", "plugin": "http", "params": {"url": "${params.base}/json", "method": "HEAD"}}
]}
EOF
run_wf post.json --param base="$BASE"
expect_rc 0 "POST run"
run=$(last_run)
r=$(result "$run" post)
assert_eq '"POST"' "$(jv .json.method "$r")" "echoed method"
assert_eq '"application/json"' "$(jv .json.content_type "$r")" "Content-Type of a JSON body"
assert_eq '{"a":[1,2],"s":"té"}' "$(jv .json.json "$r")" "echoed JSON body"
r=$(result "$run" put)
assert_eq '"PUT"' "$(jv .json.method "$r")" "method given in lower case"
assert_eq '"text/plain"' "$(jv .json.content_type "$r")" "the user's Content-Type wins"
assert_eq '"plain text"' "$(jv .json.body "$r")" "string body sent as is"
r=$(result "$run" hdr)
assert_eq '"v1"' "$(jv '.json["x-custom"]' "$r")" "request header sent"
assert_eq '"7"' "$(jv '.json["x-number"]' "$r")" "numeric header value sent as text"
r=$(result "$run" head)
assert_eq 200 "$(jv .status "$r")" "HEAD status"
assert_eq '""' "$(jv .body "$r")" "HEAD has no body"

note "non-2xx fails the attempt and is retried: fail-once endpoint -> FAILED then SUCCESS"
cat >flaky.json <<'EOF'
{"name": "http_flaky", "params": {"base": "", "url": ""}, "tasks": [
  {"id": "flaky", "plugin": "http", "retries": 2, "retry_delay_ms": 100,
   "params": {"url": "${params.base}/flaky/k1?fail=1"}},
  {"id": "bad", "plugin": "http", "retries": 1, "retry_delay_ms": 50,
   "params": {"url": "${params.base}/status/500"}}
]}
EOF
run_wf flaky.json --param base="$BASE"
expect_rc 1 "a run with a task failing on HTTP 500"
run=$(last_run)
expect_task "$run" flaky SUCCESS
assert_eq "1 FAILED,2 SUCCESS" \
    "$(q "SELECT group_concat(attempt || ' ' || outcome, ',') FROM (SELECT attempt, outcome
          FROM attempt_history WHERE run_id = $run AND task_id = 'flaky' ORDER BY attempt)")" \
    "outcomes of the flaky request"
err=$(q "SELECT error FROM attempt_history WHERE run_id = $run AND task_id = 'flaky' AND attempt = 1")
assert_contains "$err" "HTTP 503" "error of the failed attempt names the status"
assert_contains "$err" "flaky failure 1 of 1" "error of the failed attempt shows the body"
assert_eq 2 "$(jv .json.calls "$(result "$run" flaky)")" "server saw two calls"
expect_task "$run" bad FAILED
assert_eq "FAILED,FAILED" \
    "$(q "SELECT group_concat(outcome, ',') FROM (SELECT outcome FROM attempt_history
          WHERE run_id = $run AND task_id = 'bad' ORDER BY attempt)")" "HTTP 500 retried (retryable)"
err=$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'bad'")
assert_contains "$err" "HTTP 500" "error names the status"
assert_contains "$err" "expected 2xx" "error says what was expected"
assert_contains "$err" "status 500 body" "error shows the start of the body"

note "expect_status accepts a 404 (and then rejects a 200)"
cat >expect.json <<'EOF'
{"name": "http_expect", "params": {"base": "", "url": ""}, "tasks": [
  {"id": "nf", "plugin": "http", "params": {"url": "${params.base}/status/404", "expect_status": [200, 404]}},
  {"id": "only404", "plugin": "http", "params": {"url": "${params.base}/json", "expect_status": [404]}}
]}
EOF
run_wf expect.json --param base="$BASE"
expect_rc 1
run=$(last_run)
expect_task "$run" nf SUCCESS
r=$(result "$run" nf)
assert_eq 404 "$(jv .status "$r")" "accepted 404"
assert_eq '"status 404 body"' "$(jv .body "$r")" "404 body"
expect_task "$run" only404 FAILED
assert_contains "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'only404'")" \
    "HTTP 200" "a 2xx outside expect_status fails"

note "connection refused: FAILED with curl's message"
FREE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >refused.json <<'EOF'
{"name": "http_refused", "params": {"base": "", "url": ""}, "tasks": [{"id": "r", "plugin": "http", "params": {"url": "${params.url}"}}]}
EOF
run_wf refused.json --param url="http://127.0.0.1:$FREE_PORT/x"
expect_rc 1
run=$(last_run)
expect_task "$run" r FAILED
assert_match "$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'r'")" \
    "[Cc]ouldn't connect|Connection refused|Failed to connect" "curl's message"

note "a server that never answers is cut off by timeout_ms: TIMED_OUT within a few seconds"
cat >hang.json <<'EOF'
{"name": "http_hang", "params": {"base": "", "url": ""}, "tasks": [
  {"id": "hang", "plugin": "http", "timeout_ms": 1000, "params": {"url": "${params.base}/hang"}}
]}
EOF
run_wf hang.json --param base="$BASE"
expect_rc 1
run=$(last_run)
expect_task "$run" hang FAILED
assert_eq TIMED_OUT "$(q "SELECT outcome FROM attempt_history WHERE run_id = $run AND task_id = 'hang'")" \
    "outcome of the hanging request"
((RUN_MS < 5000)) || fail "the hanging request took $RUN_MS ms to be cut off (timeout_ms 1000)"
d=$(q "SELECT duration_ms FROM attempt_history WHERE run_id = $run AND task_id = 'hang'")
((d >= 900 && d < 3000)) || fail "attempt duration $d ms, expected about 1000"
DF_ASSERTS=$((DF_ASSERTS + 2))

note "validate: missing url, unknown key (with a suggestion), bad method, bad expect_status"
bad_params() { # NAME PARAMS_JSON: writes bad_NAME.json with one http task
    printf '{"name": "bad_%s", "tasks": [{"id": "t", "plugin": "http", "params": %s}]}\n' "$1" "$2" \
        >"bad_$1.json"
}
bad_params nourl '{"method": "GET"}'
bad_params typo '{"url": "http://127.0.0.1:1/", "hedaers": {}}'
bad_params method '{"url": "http://127.0.0.1:1/", "method": "FETCH"}'
bad_params expect '{"url": "http://127.0.0.1:1/", "expect_status": ["ok"]}'
bad_params scheme '{"url": "ftp://127.0.0.1/x"}'
run_df validate bad_nourl.json
expect_rc 2 "validate of a task without url"
assert_contains "$DF_ERR" '"url"' "the error names the missing key"
assert_contains "$DF_ERR" '"t"' "the error names the task"
run_df validate bad_typo.json
expect_rc 2
assert_contains "$DF_ERR" 'did you mean "headers"' "unknown key suggestion"
run_df validate bad_method.json
expect_rc 2
assert_contains "$DF_ERR" '"method" must be one of' "bad method"
run_df validate bad_expect.json
expect_rc 2
assert_contains "$DF_ERR" '"expect_status"[0]' "bad expect_status element"
run_df validate bad_scheme.json
expect_rc 2
assert_contains "$DF_ERR" 'http:// or https://' "unsupported scheme"
# A template url is fine at validation; a run without url is recorded INVALID.
cat >tmpl.json <<'EOF'
{"name": "tmpl", "tasks": [
  {"id": "a", "plugin": "noop", "params": {"u": "http://127.0.0.1:1/", "m": "GET", "c": [200]}},
  {"id": "b", "plugin": "http", "depends_on": ["a"],
   "params": {"url": "${tasks.a.result.u}", "method": "${tasks.a.result.m}",
              "expect_status": "${tasks.a.result.c}"}}
]}
EOF
run_df validate tmpl.json
expect_rc 0 "validate accepts template url, method and expect_status"
run_wf bad_nourl.json
expect_rc 2 "run of a task without url"
expect_run "$(last_run)" INVALID

note "the example workflows/api_to_sqlite.json runs as is (from a copy) and leaves no server"
mkdir example
cp "$DF_SOURCE_DIR/workflows/api_to_sqlite.json" "$DF_SOURCE_DIR/workflows/api_server.py" example/
run_wf example/api_to_sqlite.json
expect_rc 0 "the api_to_sqlite example"
run=$(last_run)
expect_run "$run" SUCCESS
assert_eq 10 "$(q "SELECT tasks_succeeded FROM run_history WHERE run_id = $run")" "example tasks"
loaded=$(jv .changes "$(result "$run" load)")
((loaded >= 8)) || fail "the example loaded $loaded orders"
assert_eq "$loaded" "$(df_sqlite example/out/orders.db "SELECT count(*) FROM orders")" "orders in SQLite"
assert_contains "$(cat example/out/api_report.txt)" "$loaded loaded into out/orders.db" "the report"
assert_file_absent example/out/api.pid "the server's pid file"
stopped=$(jv .stdout "$(result "$run" stop_api)" -r)
assert_match "$stopped" '^api server [0-9]+ stopped$' "the stop task's output"
pid=${stopped//[^0-9]/}
if kill -0 "$pid" 2>/dev/null && ! grep -q ') Z' "/proc/$pid/stat" 2>/dev/null; then
    fail "the example left its API server (pid $pid) running"
fi

df_done
