#!/usr/bin/env bash
# test_serve_api: the HTTP API inside a real `dagflow serve` (SPEC §9, issue 11), with a real HTTP
# client: tests/http/serve_api_check.py (Python's http.client) against serve --listen
# 127.0.0.1:0 --token-file: runs started through the API and seen to finish, cancel (process group
# gone), retry, resume, 401/404/409/400/413, the workflow list, the long poll (figure printed) and
# every /metrics series. Then serve's own options: the URL in the log, --listen off, a
# non-loopback address without a token file (exit 2), a taken address (exit 2), a bad token file.
# Runs on PostgreSQL too (pg label).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
source "$(dirname "$0")/serve_lib.sh"
run_setup
need_builtin shell
command -v python3 >/dev/null || skip "python3 is not installed"
command -v curl >/dev/null || skip "curl is not installed"

mkdir -p wf
cp "$DF_SOURCE_DIR/workflows/hello.json" wf/hello.json
cat >wf/bad.json <<'JSON'
{"name": "bad", "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "exit 3"}}]}
JSON
cat >wf/slow.json <<'JSON'
{"name": "slow", "params": {"n": 1, "pidfile": "/dev/null", "tag": {}}, "tasks": [
  {"id": "nap", "plugin": "shell",
   "params": {"script": "echo $$ > ${params.pidfile}; sleep ${params.n}"}},
  {"id": "after", "plugin": "shell", "depends_on": ["nap"], "params": {"script": "echo ${params.tag}"}}]}
JSON
cat >wf/sched.json <<'JSON'
{"name": "sched", "schedule": {"cron": "*/5 * * * * *", "catchup": "none"},
 "tasks": [{"id": "a", "plugin": "shell", "params": {"script": "true"}}]}
JSON
cat >wf/broken.json <<'JSON'
{"name": "broken", "tasks": [{"id": "a", "plugin": "no_such_plugin"}]}
JSON
printf '  serve-token-%s\n' "$$" >token
chmod 600 token

note "the API of a real serve"
serve_start --listen 127.0.0.1:0 --token-file "$WORK/token"
[[ "$SERVE_URL" =~ ^http://127\.0\.0\.1:[0-9]+/$ ]] || fail "serve's URL in its log: [$SERVE_URL]"
port=${SERVE_URL##*:}
port=${port%/}
API_PORT=$port API_TOKEN="serve-token-$$" API_DB=$DB API_WF="$WORK/wf" API_WORK=$WORK \
    python3 "$DF_SOURCE_DIR/tests/http/serve_api_check.py" >check.out 2>&1 ||
    { cat check.out; tail -30 "$SERVE_LOG"; serve_stop; fail "serve_api_check.py failed"; }
cat check.out
assert_contains "$(cat check.out)" "PASS:" "the checks ran to the end"
code=$(curl -s -o /dev/null -w '%{http_code}' "${SERVE_URL}healthz")
assert_eq "200" "$code" "curl: /healthz without a token"
code=$(curl -s -o /dev/null -w '%{http_code}' "${SERVE_URL}api/v1/runs")
assert_eq "401" "$code" "curl: /api/v1/runs without the token"
serve_stop
assert_eq "0" "$SERVE_RC" "serve exits 0 on SIGTERM with the API running"
assert_contains "$(cat "$SERVE_LOG")" "cancel asked through the HTTP API" "the log says who cancelled"
assert_eq "api" "$(q "SELECT trigger FROM run_history WHERE workflow = 'hello' ORDER BY run_id LIMIT 1")" \
    "run_history records trigger api"

note "no token on loopback: Host and cross-site write checks (DNS rebinding, simple cross-origin POSTs)"
serve_start --listen 127.0.0.1:0
port=${SERVE_URL##*:}
port=${port%/}
# http_code ARGS...: curl's status code for a request to this serve; its body in sec.json.
http_code() { curl -s -o sec.json -w '%{http_code}' "$@"; }
hello_runs() { q "SELECT COUNT(*) FROM run_history WHERE workflow = 'hello'"; }
before=$(hello_runs)
assert_eq "403" "$(http_code -H 'Host: evil.example' "${SERVE_URL}api/v1/runs")" "a foreign Host is refused"
assert_contains "$(cat sec.json)" '"error"' "the refusal is a JSON error"
assert_contains "$(cat sec.json)" "Host" "the refusal names the Host header"
assert_eq "403" "$(http_code -H "Host: evil.example:$port" "${SERVE_URL}")" "a foreign Host: no web UI either"
assert_eq "403" "$(http_code -H "Host: 127.0.0.1:1" "${SERVE_URL}api/v1/runs")" "a loopback Host with another port"
assert_eq "403" "$(http_code -H "Host: 10.0.0.1:$port" "${SERVE_URL}api/v1/runs")" "a non-loopback address as Host"
assert_eq "200" "$(http_code -H "Host: localhost:$port" "${SERVE_URL}api/v1/runs")" "Host localhost:PORT is served"
assert_eq "200" "$(http_code -H "Host: [::1]:$port" "${SERVE_URL}healthz")" "Host [::1]:PORT is served"
assert_eq "200" "$(http_code -H "Host: 127.0.0.2:$port" "${SERVE_URL}healthz")" "Host 127.0.0.2:PORT (127/8) is served"
assert_eq "415" "$(http_code -X POST -H 'Content-Type: text/plain' --data '{}' \
    "${SERVE_URL}api/v1/workflows/hello/runs")" "a text/plain POST (a simple cross-origin request) is 415"
assert_contains "$(cat sec.json)" "application/json" "the 415 says what to send"
assert_eq "415" "$(http_code -X POST "${SERVE_URL}api/v1/workflows/hello/runs")" "a POST without Content-Type is 415"
assert_eq "403" "$(http_code -X POST -H 'Content-Type: application/json' -H 'Origin: http://evil.example' \
    --data '{}' "${SERVE_URL}api/v1/workflows/hello/runs")" "a POST from a foreign Origin is 403"
assert_contains "$(cat sec.json)" "Origin" "the 403 names the Origin header"
assert_eq "403" "$(http_code -X POST -H 'Content-Type: application/json' -H "Origin: http://localhost:$port" \
    --data '{}' "${SERVE_URL}api/v1/workflows/hello/runs")" "an Origin of another host name than Host is 403"
assert_eq "403" "$(http_code -X POST -H 'Content-Type: application/json' -H 'Origin: null' \
    --data '{}' "${SERVE_URL}api/v1/workflows/hello/runs")" "Origin null is 403"
assert_eq "201" "$(http_code -X POST -H 'Content-Type: application/json; charset=utf-8' \
    -H "Origin: http://127.0.0.1:$port" --data '{}' "${SERVE_URL}api/v1/workflows/hello/runs")" \
    "a same-origin JSON POST starts a run"
assert_eq "201" "$(http_code -X POST -H 'Content-Type: application/json' --data '{}' \
    "${SERVE_URL}api/v1/workflows/hello/runs")" "a JSON POST without Origin (curl, scripts) starts a run"
# the store commits on a timer: wait for the two accepted runs, then make sure no third appears
wait_for 30 "SELECT COUNT(*) FROM run_history WHERE workflow = 'hello'" "$((before + 2))"
sleep 1
assert_eq "$((before + 2))" "$(hello_runs)" "only the two accepted POSTs started runs, no refused one"
serve_stop
assert_eq "0" "$SERVE_RC" "serve stops"

note "--listen off: no HTTP server"
serve_start --listen off
assert_eq "" "$SERVE_URL" "no URL"
assert_contains "$(cat "$SERVE_LOG")" "no HTTP API (--listen off)" "the log says so"
serve_stop
assert_eq "0" "$SERVE_RC" "serve --listen off stops"

# serve_refused EXPECTED_RC ARGS...: serve must exit at once with EXPECTED_RC; its stderr in
# refused.err.
serve_refused() {
    local want=$1 rc=0
    shift
    timeout 30 "$DF_BIN" serve --workflows "$WORK/wf" --db "$DB" "$@" >refused.out 2>refused.err ||
        rc=$?
    assert_eq "$want" "$rc" "serve $* exits $want"
}
note "addresses and token files serve refuses"
serve_refused 2 --listen 0.0.0.0:0
assert_contains "$(cat refused.err)" "--listen 0.0.0.0:0 is not a loopback address: give --token-file" \
    "non-loopback without a token file"
serve_refused 2 --listen 127.0.0.1
assert_contains "$(cat refused.err)" "not HOST:PORT" "no port"
serve_refused 2 --listen 127.0.0.1:0 --token-file "$WORK/none"
: >empty
chmod 600 empty
serve_refused 2 --listen 127.0.0.1:0 --token-file empty
assert_contains "$(cat refused.err)" "the file is empty" "an empty token file"
printf 'shared-token\n' >shared
chmod 644 shared
serve_refused 2 --listen 127.0.0.1:0 --token-file shared
assert_contains "$(cat refused.err)" "its group or others may read or write it (mode 0644)" "a token file others can read"
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >taken.port &
holder=$!
for _ in $(seq 1 100); do [[ -s taken.port ]] && break; sleep 0.05; done
serve_refused 2 --listen "127.0.0.1:$(cat taken.port)"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
assert_contains "$(cat refused.err)" "cannot listen there" "a taken address"
assert_eq "0" "$(q "SELECT COUNT(*) FROM run_history WHERE state = 'RUNNING'")" "no run left RUNNING"
df_done
