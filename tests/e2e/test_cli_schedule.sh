#!/usr/bin/env bash
# test_cli_schedule: `dagflow schedule FILE [--from TIME] [--count N] [--json]` end to end (SPEC
# §9): the exact output (UTC, then local time with offset) across a DST change, the default count
# of 10, --json, interval_ms anchored at --from or at start_at, end_at cutting the list, a
# 6-field cron, strict loading of the schedule keys (errors naming the file and key, cron errors
# naming the field, "did you mean"), a file without a schedule (exit 2), and --from without an
# offset (exit 2). Nothing is recorded: no database is created.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

wf() { # wf FILE SCHEDULE_JSON: a one-task workflow with that schedule
    printf '{"name": "sched", "params": {"day": "today"}, "schedule": %s,\n "tasks": [{"id": "a", "plugin": "noop"}]}\n' "$2" >"$1"
}

note "cron in Europe/Berlin across the 2027 spring change: UTC, then local time"
wf berlin.json '{"cron": "0 3 * * *", "timezone": "Europe/Berlin"}'
run_df schedule berlin.json --from 2027-03-26T00:00:00Z --count 4
expect_rc 0 "schedule berlin.json"
assert_eq "" "$DF_ERR" "stderr"
assert_eq "2027-03-26T02:00:00Z  2027-03-26T03:00:00+01:00
2027-03-27T02:00:00Z  2027-03-27T03:00:00+01:00
2027-03-28T01:00:00Z  2027-03-28T03:00:00+02:00
2027-03-29T01:00:00Z  2027-03-29T03:00:00+02:00" "$DF_OUT" "fire times"
assert_file_absent dagflow.db

note "a skipped local time (02:30 on the change day) fires at the first instant after the gap"
wf gap.json '{"cron": "30 2 * * *", "timezone": "Europe/Berlin"}'
run_df schedule --count 3 gap.json --from 2027-03-27T00:00:00Z
expect_rc 0
assert_eq "2027-03-27T01:30:00Z  2027-03-27T02:30:00+01:00
2027-03-28T01:00:00Z  2027-03-28T03:00:00+02:00
2027-03-29T00:30:00Z  2027-03-29T02:30:00+02:00" "$DF_OUT" "gap fire times"

note "default count is 10, default --from is now (every line in the future)"
wf every.json '{"cron": "*/15 * * * *"}'
run_df schedule every.json
expect_rc 0
assert_eq 10 "$(wc -l <<<"$DF_OUT")" "default count"
first=$(head -n1 <<<"$DF_OUT" | cut -d' ' -f1)
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
[[ "$first" > "$now" ]] || fail "first fire time $first is not after now $now"
assert_match "$(head -n1 <<<"$DF_OUT")" '^[0-9-]{10}T[0-9:]{8}Z  [0-9-]{10}T[0-9:]{8}\+00:00$' \
    "UTC zone line"

note "--json: an array of UTC strings"
run_df schedule berlin.json --json --count 2 --from 2027-03-27T12:00:00+01:00
expect_rc 0
assert_eq '["2027-03-28T01:00:00Z","2027-03-29T01:00:00Z"]' "$(tr -d ' \n' <<<"$DF_OUT")" "json"

note "interval_ms: anchored at --from without start_at, at start_at with it; end_at ends it"
wf interval.json '{"interval_ms": 90000}'
run_df schedule interval.json --from 2027-01-01T00:00:00Z --count 3
expect_rc 0
assert_eq "2027-01-01T00:01:30Z  2027-01-01T00:01:30+00:00
2027-01-01T00:03:00Z  2027-01-01T00:03:00+00:00
2027-01-01T00:04:30Z  2027-01-01T00:04:30+00:00" "$DF_OUT" "interval from --from"
wf interval2.json '{"interval_ms": 3600000, "start_at": "2027-01-01T00:20:00+01:00", "end_at": "2027-01-01T02:30:00Z", "timezone": "Asia/Kolkata"}'
run_df schedule interval2.json --from 2026-06-01T00:00:00Z
expect_rc 0
assert_eq "2027-01-01T00:20:00Z  2027-01-01T05:50:00+05:30
2027-01-01T01:20:00Z  2027-01-01T06:50:00+05:30
2027-01-01T02:20:00Z  2027-01-01T07:50:00+05:30" "$DF_OUT" "interval from start_at to end_at"

note "6 fields (seconds first), several expressions, macros"
wf six.json '{"cron": ["*/20 0 12 * * *", "@yearly"]}'
run_df schedule six.json --from 2026-12-31T12:00:30Z --count 4 --json
expect_rc 0
assert_eq '["2026-12-31T12:00:40Z","2027-01-01T00:00:00Z","2027-01-01T12:00:00Z","2027-01-01T12:00:20Z"]' \
    "$(tr -d ' \n' <<<"$DF_OUT")" "6-field and macro"

note "strict loading: every error, naming the file, the key and the cron field"
cat >bad.json <<'JSON'
{"name": "bad", "params": {"day": "x"},
 "schedule": {"cron": ["0 9 * * MOM", "61 * * * *"], "timezone": "Europe/Berln",
              "catchup": "lastest", "overlap": "queued", "max_active_runs": 0,
              "start_at": "2027-01-01 09:00", "params": {"dya": 1}, "timezon": "UTC"},
 "tasks": [{"id": "a", "plugin": "noop"}]}
JSON
run_df schedule bad.json
expect_rc 2 "schedule bad.json"
for line in \
    'dagflow: bad.json: schedule: cron[0]: "0 9 * * MOM": day-of-week: unknown name "MOM"; did you mean "MON"?' \
    'dagflow: bad.json: schedule: cron[1]: "61 * * * *": minute: 61 is out of range (0-59)' \
    'dagflow: bad.json: schedule: timezone: unknown time zone "Europe/Berln"; did you mean "Europe/Berlin"?' \
    'dagflow: bad.json: schedule: catchup: unknown value "lastest"; did you mean "latest"? (expected none, latest or all)' \
    'dagflow: bad.json: schedule: overlap: unknown value "queued"; did you mean "queue"? (expected skip, queue or cancel_running)' \
    'dagflow: bad.json: schedule: max_active_runs: must be an integer >= 1, got 0' \
    'dagflow: bad.json: schedule: start_at: "2027-01-01 09:00" is not an ISO-8601 time with an offset' \
    'dagflow: bad.json: schedule: params: "dya" is not a param of the workflow; did you mean "day"?' \
    'dagflow: bad.json: schedule: unknown key "timezon"; did you mean "timezone"?'; do
    assert_contains "$DF_ERR" "$line" "stderr"
done
expect_stderr_lines_prefixed
run_df validate bad.json
expect_rc 2 "validate reports schedule errors too"
assert_contains "$DF_ERR" 'day-of-week: unknown name "MOM"' "validate stderr"

wf neither.json '{"timezone": "UTC"}'
run_df schedule neither.json
expect_rc 2
assert_contains "$DF_ERR" 'neither.json: schedule: missing required key "cron" (or "interval_ms")'
wf both.json '{"cron": "@daily", "interval_ms": 5000}'
run_df schedule both.json
expect_rc 2
assert_contains "$DF_ERR" 'both.json: schedule: give "cron" or "interval_ms", not both'
wf never.json '{"cron": "0 0 30 2 *"}'
run_df schedule never.json
expect_rc 2
assert_contains "$DF_ERR" 'never.json: schedule: cron: "0 0 30 2 *": day-of-month: no day allowed exists in the months allowed (the expression never fires)'

note "no schedule, bad --from, bad --count"
cp "$DF_SOURCE_DIR/workflows/hello.json" .
run_df schedule hello.json
expect_rc 2 "no schedule"
assert_eq 'dagflow: hello.json: the workflow has no "schedule"' "$DF_ERR" "no schedule stderr"
run_df schedule berlin.json --from 2027-03-26T00:00:00
expect_rc 2 "--from without offset"
assert_contains "$DF_ERR" "schedule: --from needs an ISO-8601 time with its offset"
run_df schedule berlin.json --count 0
expect_rc 2 "--count 0"
run_df schedule berlin.json --count 100001
expect_rc 2 "--count 100001"
assert_eq "dagflow: schedule: --count is at most 100000, got 100001" "$DF_ERR" "--count cap"
run_df schedule berlin.json --count 100000 --from 2027-01-01T00:00:00Z
expect_rc 0 "--count 100000"
assert_eq 100000 "$(wc -l <<<"$DF_OUT")" "100000 lines"

note "run ignores the schedule"
run_df run berlin.json --db run.db
expect_rc 0 "run a scheduled workflow"

note "help"
run_df schedule --help
expect_rc 0
assert_contains "$DF_OUT" "Usage: dagflow schedule FILE [options]"
assert_contains "$DF_OUT" "--from TIME"
assert_contains "$DF_OUT" "--count N"
run_df --help
assert_contains "$DF_OUT" "schedule"

df_done
