#!/usr/bin/env bash
# test_startup_libs: a process start loads neither libcurl, libpq nor libmicrohttpd (issue 14:
# linking each cost several ms of every start); they are loaded when needed: libpq for a
# PostgreSQL store (tested by the pg label's runs), libcurl for a webhook alert (test_run_alerts)
# or by a plugin linking it, libmicrohttpd by the HTTP API (test_http_api).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
command -v ldd >/dev/null || skip "ldd is not installed"

note "the binary does not link libcurl, libpq or libmicrohttpd"
libs=$(ldd "$DF_BIN")
assert_not_contains "$libs" "libcurl" "ldd dagflow"
assert_not_contains "$libs" "libpq" "ldd dagflow"
assert_not_contains "$libs" "libmicrohttpd" "ldd dagflow"

note "a SQLite run of a noop task loads neither"
cat >wf.json <<'EOF2'
{"name": "one", "tasks": [{"id": "a", "plugin": "noop"}]}
EOF2
LD_DEBUG=files LD_DEBUG_OUTPUT="$WORK/ld" "$DF_BIN" run --db df.db wf.json >/dev/null 2>&1 ||
    fail "the run failed"
loaded=$(cat "$WORK"/ld.* | grep 'file=' | sed 's/.*file=\([^ ;]*\).*/\1/' | sort -u)
assert_contains "$loaded" "noop.so" "libraries the run loaded"
assert_not_contains "$loaded" "libcurl" "libraries the run loaded"
assert_not_contains "$loaded" "libpq" "libraries the run loaded"
assert_not_contains "$loaded" "libmicrohttpd" "libraries the run loaded"

note "the http plugin brings libcurl in with it (its init runs after curl_global_init)"
cat >http.json <<'EOF2'
{"name": "web", "tasks": [{"id": "get", "plugin": "http", "params": {"url": "http://127.0.0.1:9/"}}]}
EOF2
rm -f "$WORK"/ld.*
LD_DEBUG=files LD_DEBUG_OUTPUT="$WORK/ld" "$DF_BIN" validate http.json >/dev/null 2>&1 ||
    fail "validate of an http task failed"
loaded=$(cat "$WORK"/ld.* | grep 'file=' | sed 's/.*file=\([^ ;]*\).*/\1/' | sort -u)
assert_contains "$loaded" "libcurl" "libraries validate loaded for the http plugin"
df_done
