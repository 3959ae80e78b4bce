#!/usr/bin/env bash
# test_run_alerts_terminal: what a user of alerts sees (issue 15, item 20): a command sink gets the
# alert JSON as one line with its trailing newline (so `read` in a shell gets it); a delivery that
# fails is said on the terminal (stderr), each failed try and the final failure, not only recorded
# in alert_history; a sink that works prints nothing there.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin noop

# line.sh: keeps its stdin byte for byte, and what `read` got from it.
cat >line.sh <<'EOF2'
#!/bin/sh
cat >stdin.bin
IFS= read -r first <stdin.bin && printf '%s' "$first" >read.txt
EOF2
# down.sh: a sink that is down.
cat >down.sh <<'EOF2'
#!/bin/sh
cat >/dev/null
echo "sink is down" >&2
exit 3
EOF2
chmod +x line.sh down.sh
cat >wf.json <<'EOF2'
{"name": "alerts_terminal",
 "alerts": [{"type": "command", "argv": ["./line.sh"], "on": ["run_succeeded"]},
            {"type": "command", "argv": ["./down.sh"], "on": ["run_succeeded"]}],
 "tasks": [{"id": "a", "plugin": "noop"}]}
EOF2

run_df run wf.json --db "$DB"
expect_rc 0 "the run succeeds whatever its alerts do"

note "the command sink's stdin: one JSON line, newline included"
[[ -f stdin.bin ]] || fail "line.sh did not run"
assert_eq "0a" "$(tail -c 1 stdin.bin | od -An -tx1 | tr -d ' ')" "last byte of the sink's stdin"
assert_eq 1 "$(wc -l <stdin.bin)" "lines on the sink's stdin"
assert_eq "$(head -n 1 stdin.bin)" "$(cat read.txt)" "what read got"
if have_jq; then
    assert_eq '"run_succeeded"' "$(jq -c .event stdin.bin)" "the JSON's event"
fi

note "a failing sink is reported on stderr: each failed try, then the final failure"
assert_contains "$DF_ERR" "dagflow: run 1: alert run_succeeded to command:./down.sh: try 1 of 3 failed, tried again in 500 ms: command sink: exit code 3: sink is down"
assert_contains "$DF_ERR" "dagflow: run 1: alert run_succeeded to command:./down.sh: try 2 of 3 failed, tried again in 1000 ms"
assert_contains "$DF_ERR" "dagflow: run 1: alert run_succeeded to command:./down.sh: not delivered after 3 tries (recorded failed in alert_history): command sink: exit code 3"
assert_not_contains "$DF_ERR" "line.sh" "stderr (the working sink)"
assert_eq "failed|3" "$(q "SELECT status, tries FROM alert_history WHERE sink LIKE '%down.sh%'")" \
    "alert_history of the failing sink"
assert_eq "delivered|1" "$(q "SELECT status, tries FROM alert_history WHERE sink LIKE '%line.sh%'")" \
    "alert_history of the working sink"

run_done
