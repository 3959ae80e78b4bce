#!/usr/bin/env bash
# test_cli_newuser: the command line as a new user meets it (issue 15, items 19, 21, 23):
#   19. `--param ms=5` for a param whose default is an integer: a load error (exit 2, no run
#       recorded) that suggests `--param ms:=5`; the same in `validate`; a string default still
#       takes any string, a typed value fits.
#   21. an `env` value fed an array from a param: refused at load (validate, and run before any
#       attempt), naming the key.
#   23. a cycle in a 50,000-task chain: one short line with the count of the tasks left out; a
#       UTF-8 byte order mark accepted; `run -` / `validate -` read the workflow from stdin; an
#       INVALID task's error printed once on stderr, not twice; "1 task", not "1 tasks".
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

# count_in TEXT NEEDLE: how many lines of TEXT contain NEEDLE (fixed string).
count_in() {
    grep -cF -- "$2" <<<"$1" || true
}

note "19. a string for a param whose default is an integer"
cat >typed.json <<'EOF'
{"name": "typed", "params": {"ms": 1, "label": "x", "flags": [1]},
 "tasks": [{"id": "nap", "plugin": "sleep", "params": {"ms": "${params.ms}"}}]}
EOF
run_df run typed.json --db t.db --param ms=5
expect_rc 2 "run --param ms=5"
expect_stderr_lines_prefixed
assert_contains "$DF_ERR" 'the default of param "ms" is an integer: use --param ms:=5'
assert_file_absent t.db "database (no run may be recorded for a load error)"
run_df validate typed.json --param ms=5
expect_rc 2 "validate --param ms=5"
assert_contains "$DF_ERR" "use --param ms:=5"
run_df validate typed.json --param flags=abc
expect_rc 2 "validate --param flags=abc"
assert_contains "$DF_ERR" 'the default of param "flags" is an array, not a string'
assert_contains "$DF_ERR" "--param flags:=JSON"
run_df run typed.json --db t.db --param ms:=5 --param label=anything
expect_rc 0 "run --param ms:=5 (typed) and a string for a string default"
assert_contains "$DF_OUT" "SUCCESS"

note "21. an env value fed an array: refused at load"
cat >envarr.json <<'EOF'
{"name": "envarr", "params": {"list": [1, 2]},
 "tasks": [{"id": "a", "plugin": "shell",
            "params": {"script": "echo $X", "env": {"X": "${params.list}"}}}]}
EOF
run_df validate envarr.json
expect_rc 2 "validate: env fed an array"
assert_contains "$DF_ERR" '"env"."X" must be a string'
run_df run envarr.json --db e.db
expect_rc 2 "run: env fed an array"
assert_contains "$DF_ERR" '"env"."X" must be a string'
assert_eq 0 "$(df_sqlite e.db "SELECT count(*) FROM attempt_history")" "attempts made"

note "23. a cycle in a 50,000-task chain"
python3 - <<'EOF'
import json
n = 50000
tasks = [{"id": "t%d" % i, "plugin": "noop", "depends_on": ["t%d" % ((i - 1) % n)]} for i in range(n)]
json.dump({"name": "chain", "tasks": tasks}, open("chain.json", "w"))
EOF
run_df validate chain.json
expect_rc 2 "validate chain.json"
assert_eq 1 "$(wc -l <<<"$DF_ERR")" "lines of stderr"
((${#DF_ERR} < 1000)) || fail "the cycle message is ${#DF_ERR} bytes long"
DF_ASSERTS=$((DF_ASSERTS + 1))
assert_eq "dagflow: chain.json: cycle of 50000 tasks: t0 -> t1 -> t2 -> t3 -> t4 -> t5 -> t6 -> t7 -> (49984 more) -> t49992 -> t49993 -> t49994 -> t49995 -> t49996 -> t49997 -> t49998 -> t49999 -> t0" \
    "$DF_ERR" "the cycle, shortened"
printf '{"name": "c3", "tasks": [{"id": "a", "plugin": "noop", "depends_on": ["c"]},
  {"id": "b", "plugin": "noop", "depends_on": ["a"]}, {"id": "c", "plugin": "noop", "depends_on": ["b"]}]}' >c3.json
run_df validate c3.json
expect_rc 2
assert_eq "dagflow: c3.json: cycle: a -> b -> c -> a" "$DF_ERR" "a short cycle in full"

note "23. a UTF-8 byte order mark"
printf '\xef\xbb\xbf{"name": "bom", "tasks": [{"id": "only", "plugin": "noop"}]}\n' >bom.json
run_df validate bom.json
expect_rc 0 "validate with a BOM"
assert_eq "bom.json: valid (1 task)" "$DF_OUT" "validate's line (and its grammar)"
run_df run bom.json --db bom.db
expect_rc 0 "run with a BOM"
assert_match "$DF_OUT" '^run 1 \(bom\): SUCCESS in [^:]+: 1 task, 1 succeeded, 0 failed, 0 skipped$' \
    "summary line (1 task)"
printf '\xef\xbb\xbf{"name": "bad", "tasks": [}\n' >badbom.json
run_df validate badbom.json
expect_rc 2
assert_contains "$DF_ERR" "badbom.json: line 1, column"

note "23. run - and validate - read the workflow from stdin"
set +e
"$DF_BIN" run - --db stdin.db <bom.json >.stdout 2>.stderr
DF_RC=$?
set -e
DF_OUT="$(cat .stdout)" DF_ERR="$(cat .stderr)"
expect_rc 0 "run - <bom.json"
assert_contains "$DF_OUT" "run 1 (bom): SUCCESS"
assert_eq "1" "$(df_sqlite stdin.db "SELECT count(*) FROM runs WHERE state = 'SUCCESS'")" "run stored"
DF_OUT="$("$DF_BIN" validate - <typed.json)"
assert_eq "<stdin>: valid (1 task)" "$DF_OUT" "validate -"
set +e
DF_ERR="$(printf '{"name": "x", "tasks": [' | "$DF_BIN" validate - 2>&1)"
DF_RC=$?
set -e
expect_rc 2 "validate - with broken JSON"
assert_match "$DF_ERR" '^dagflow: <stdin>: line [0-9]+, column [0-9]+: JSON error: ' "stdin named <stdin>"

note "23. an INVALID task's error is printed once"
cat >rejected.json <<'EOF'
{"name": "rejected", "tasks": [
  {"id": "bad", "plugin": "sleep", "params": {"ms": "soon"}},
  {"id": "ok", "plugin": "noop"}]}
EOF
run_df run rejected.json --db r.db
expect_rc 2 "run with a task its plugin rejects"
assert_eq 1 "$(count_in "$DF_ERR" 'plugin sleep rejected its params')" "times the rejection is on stderr"
assert_contains "$DF_ERR" "run 1: bad INVALID (attempt 0)"
assert_contains "$DF_OUT" "plugin sleep rejected its params" "summary table"
run_df validate rejected.json
assert_eq 1 "$(count_in "$DF_ERR" 'plugin sleep rejected its params')" "times in validate"

note "17. shell output over 1 MiB"
# loud: 1.5 MiB on stdout, 1.05 MiB on stderr; bigjson: 1.3 MB of valid JSON on stdout.
cat >loud.sh <<'SH'
head -c 1572864 /dev/zero | tr '\0' a
head -c 1100000 /dev/zero | tr '\0' b >&2
SH
cat >bigjson.sh <<'SH'
printf '['
i=0
while [ $i -lt 100000 ]; do printf '"0123456789",'; i=$((i + 1)); done
printf '0]'
SH
cat >big.json <<'JSON'
{"name": "big", "tasks": [
  {"id": "loud", "plugin": "shell", "params": {"argv": ["sh", "loud.sh"]}},
  {"id": "quiet", "plugin": "shell", "params": {"script": "echo hi"}},
  {"id": "bigjson", "plugin": "shell", "params": {"argv": ["sh", "bigjson.sh"], "parse_json_stdout": true}}]}
JSON
run_df run big.json --db big.db
expect_rc 1 "a run whose JSON output was cut"
if have_jq; then
    loud="$(df_sqlite big.db "SELECT result FROM task_instances WHERE task_id = 'loud'")"
    assert_eq true "$(jq -c .stdout_truncated <<<"$loud")" "loud's stdout_truncated"
    assert_eq true "$(jq -c .stderr_truncated <<<"$loud")" "loud's stderr_truncated"
    assert_eq 1048576 "$(jq '.stdout | length' <<<"$loud")" "bytes of stdout kept"
    quiet="$(df_sqlite big.db "SELECT result FROM task_instances WHERE task_id = 'quiet'")"
    assert_eq '{"exit_code":0,"stdout":"hi","stderr":""}' "$(jq -c . <<<"$quiet")" \
        "a short output's result has no truncation keys"
fi
err="$(df_sqlite big.db "SELECT error FROM task_history WHERE task_id = 'bigjson'")"
assert_contains "$err" "stdout is longer than 1 MiB, the most a shell task keeps, so it was cut"
assert_not_contains "$err" "column" "the error of a cut JSON stdout"
assert_eq FAILED "$(df_sqlite big.db "SELECT state FROM task_history WHERE task_id = 'bigjson'")"

df_done
