#!/usr/bin/env bash
# test_cli_hostile_files: files that are not workflow JSON, as a new user (or a served folder)
# meets them (newuser finding 3):
#   - a sparse file of 2 GiB: refused from its size (the 1 GiB cap), at once, without reading it
#     (before: read whole into memory, 20 GiB for a 20 GiB file, and reported as a JSON error);
#   - files with a NUL byte (zeros, or JSON cut by zeros as after a crash): named as not JSON
#     text at that byte (before: "line 1, column 1: JSON error: ... near end of file");
#   - such files in a `serve` folder: reported invalid (log and API) while serve goes on serving
#     the other workflow (before: serve read the sparse file into memory until it was killed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
df_setup
DB="$WORK/df.db"

cleanup() {
    [[ -n "${SERVE_PID:-}" ]] && kill "$SERVE_PID" 2>/dev/null || true
    df_remove_work
}
trap cleanup EXIT

note "a 2 GiB sparse file: refused from its size"
truncate -s 2G sparse.json
start=$(date +%s)
run_df validate sparse.json
expect_rc 2 "validate of a 2 GiB file"
expect_stderr_lines_prefixed
assert_contains "$DF_ERR" "sparse.json: the file is 2147483648 bytes, over the cap of 1073741824 bytes (1 GiB) for a workflow file"
run_df run sparse.json --db "$DB"
expect_rc 2 "run of a 2 GiB file"
assert_contains "$DF_ERR" "over the cap of 1073741824 bytes"
assert_file_absent "$DB" "database (nothing may be recorded for a file that does not load)"
elapsed=$(($(date +%s) - start))
# Reading 2 GiB took minutes on this machine; refusing from the size takes milliseconds (60 s is
# a generous bound for a loaded machine).
((elapsed < 60)) || fail "refusing the sparse file took $elapsed s"

note "NUL bytes: not JSON text, named at the byte"
head -c 100000 /dev/zero >zeros.json
run_df validate zeros.json
expect_rc 2 "validate of a file of zeros"
assert_contains "$DF_ERR" "zeros.json: byte 1 is a NUL byte: this is not a JSON text file"
assert_not_contains "$DF_ERR" "near end of file"
printf '{"name": "cut", "tasks": [{"id": "a", "plugin": "noop"' >cut.json
head -c 4096 /dev/zero >>cut.json
run_df validate cut.json
expect_rc 2 "validate of a file cut by zeros"
assert_contains "$DF_ERR" "cut.json: byte 55 is a NUL byte"
run_df validate - <cut.json
expect_rc 2 "validate - of the same bytes"
assert_contains "$DF_ERR" "<stdin>: byte 55 is a NUL byte"
# An escaped \u0000 inside a string is JSON text: still jansson's own message.
printf '{"name": "x\\u0000", "tasks": [{"id": "a", "plugin": "noop"}]}' >escaped.json
run_df validate escaped.json
expect_rc 2 "validate of an escaped NUL"
assert_contains "$DF_ERR" "JSON error"

note "serve: the hostile files are invalid, the good one is served"
mkdir wf
cp sparse.json zeros.json wf/
cat >wf/good.json <<'JSON'
{"name": "good", "tasks": [{"id": "a", "plugin": "noop"}]}
JSON
serve_start
wait_log 30 "wf/sparse.json"
wait_log 30 "wf/zeros.json"
assert_contains "$(cat "$SERVE_LOG")" "over the cap of 1073741824 bytes"
assert_contains "$(cat "$SERVE_LOG")" "byte 1 is a NUL byte"
list=$(curl -sf "${SERVE_URL}api/v1/workflows")
assert_contains "$list" '"name":"good","file":'
assert_contains "$list" '"valid":true'
assert_contains "$list" 'over the cap of 1073741824 bytes'
created=$(curl -sf -X POST -H 'Content-Type: application/json' "${SERVE_URL}api/v1/workflows/good/runs")
assert_contains "$created" '"workflow":"good"'
rss=$(awk '/VmHWM/ {print $2}' "/proc/$SERVE_PID/status")
((rss < 500000)) || fail "serve's peak RSS is $rss kB after the hostile files"
serve_stop
assert_eq 0 "$SERVE_RC" "serve's exit code"
SERVE_PID=""
df_done
