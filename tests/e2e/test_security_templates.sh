#!/usr/bin/env bash
# test_security_templates: references cannot inject (SPEC §12, issue 15 item 9). In a `shell`
# script each ${...} value is escaped for where it stands (outside quotes, in double quotes, in
# single quotes, in a comment) and arrives as it is: a --param `$(touch PWNED)` and an upstream's
# stdout full of $(...), backquotes, quotes, backslashes and newlines run nothing. Places where no
# escaping is safe (backquotes, a here-document, right after a backslash) are load errors. In
# `sqlite`'s `sql`, a reference is a load error that points to `bind`; through `bind`, the classic
# `x' OR '1'='1` matches no row. Scripts that quote their references keep their meaning.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell
need_builtin sqlite

# out RUN TASK: the task's result.stdout in `status RUN --json`.
out() {
    dfx status "$1" --json
    expect_rc 0 "status $1 --json"
    jq -r ".tasks[] | select(.id == \"$2\") | .result.stdout" <<<"$DF_OUT"
}

# --- a param that is a command substitution, in each place of a script -------------------------
cat >param.json <<'EOF'
{"name": "param_inj", "params": {"who": "nobody", "n": 5},
 "tasks": [
  {"id": "bare", "plugin": "shell", "params": {"script": "echo ${params.who}"}},
  {"id": "dq", "plugin": "shell", "params": {"script": "echo \"hi ${params.who}\""}},
  {"id": "sq", "plugin": "shell", "params": {"script": "echo 'hi ${params.who}'"}},
  {"id": "whole", "plugin": "shell", "params": {"script": "${params.who}"}},
  {"id": "comment", "plugin": "shell", "params": {"script": "echo ok # ${params.who}"}},
  {"id": "subst", "plugin": "shell", "params": {"script": "echo \"$(echo ${params.who})\""}},
  {"id": "quoted", "plugin": "shell", "params": {"script": "n=\"${params.n}\"; echo \"n=$n m=${params.n}\" '[${params.n}]' x${params.n}y"}}
 ]}
EOF
run_wf param.json --param 'who=$(touch PWNED)'
run=$(last_run)
assert_file_absent PWNED "a --param command substitution ran"
assert_eq "$(out "$run" bare)" '$(touch PWNED)' "unquoted reference"
assert_eq "$(out "$run" dq)" 'hi $(touch PWNED)' "double-quoted reference"
assert_eq "$(out "$run" sq)" 'hi $(touch PWNED)' "single-quoted reference"
assert_eq "$(out "$run" comment)" 'ok' "reference in a comment"
assert_eq "$(out "$run" subst)" '$(touch PWNED)' "reference inside \$( ) in double quotes"
assert_eq "$(out "$run" quoted)" 'n=5 m=5 [5] x5y' "scripts that quote their references"
expect_task "$run" whole FAILED # the value is one word: `$(touch PWNED)` is not a command

# Newlines and quotes in a param: still one value, in each place.
run_wf param.json --param "who=a'b\"c
rm -f param.json # \`touch PWNED\` \\"
run=$(last_run)
assert_file_absent PWNED "a backquoted command in a param ran"
[[ -f param.json ]] || fail "a line of a param ran as a command"
want="a'b\"c
rm -f param.json # \`touch PWNED\` \\"
assert_eq "$(out "$run" bare)" "$want" "unquoted reference with quotes and a newline"
assert_eq "$(out "$run" dq)" "hi $want" "double-quoted reference with quotes and a newline"
assert_eq "$(out "$run" sq)" "hi $want" "single-quoted reference with quotes and a newline"
assert_eq "$(out "$run" comment)" 'ok' "a newline in a comment's reference"

# --- an upstream's stdout ------------------------------------------------------------------------
cat >up.json <<'EOF'
{"name": "up_inj",
 "tasks": [
  {"id": "up", "plugin": "shell", "params": {"script": "printf '%s\\n' 'l1 $(touch PWNED2) `touch PWNED3`' \"q'\\\"\" 'back\\slash;touch PWNED4' '$HOME' '--'"}},
  {"id": "down", "plugin": "shell", "depends_on": ["up"], "params": {
     "script": "printf '%s|' ${tasks.up.result.stdout} \"${tasks.up.result.stdout}\" '${tasks.up.result.stdout}' # ${tasks.up.result.stdout}\necho end"}}
 ]}
EOF
run_wf up.json
run=$(last_run)
expect_task "$run" down SUCCESS
for f in PWNED2 PWNED3 PWNED4; do assert_file_absent "$f" "upstream stdout ran a command ($f)"; done
up="$(out "$run" up)"
assert_contains "$up" 'touch PWNED2' "the upstream printed its text"
assert_eq "$(out "$run" down)" "$up|$up|$up|end" "upstream stdout arrives as it is"

# --- where no escaping is safe: load errors naming the reference --------------------------------
cat >refused.json <<'EOF'
{"name": "refused", "params": {"x": "1"},
 "tasks": [
  {"id": "bq", "plugin": "shell", "params": {"script": "echo `echo ${params.x}`"}},
  {"id": "heredoc", "plugin": "shell", "params": {"script": "cat <<EOF\n${params.x}\nEOF"}},
  {"id": "backslash", "plugin": "shell", "params": {"script": "echo \\${params.x}"}},
  {"id": "after_heredoc", "plugin": "shell", "params": {"script": "cat <<'EOF'\nhi\nEOF\necho ${params.x}"}}
 ]}
EOF
run_df validate refused.json
expect_rc 2 "validate: references where no escaping is safe"
assert_contains "$DF_ERR" 'task "bq": param "script": ${params.x} cannot be escaped where it stands in the script: inside backquotes' "backquotes"
assert_contains "$DF_ERR" 'task "heredoc": param "script": ${params.x} cannot be escaped where it stands in the script: inside a here-document' "here-document"
assert_contains "$DF_ERR" 'task "backslash": param "script": ${params.x} cannot be escaped where it stands in the script: right after a backslash' "backslash"
assert_not_contains "$DF_ERR" 'after_heredoc' "a reference after a here-document is fine"

# --- sqlite: no reference in sql; bind is safe ---------------------------------------------------
df_sqlite users.db "CREATE TABLE u(name TEXT, secret TEXT); INSERT INTO u VALUES ('alice', 's1'), ('bob', 's2');"
cat >sql_ref.json <<'EOF'
{"name": "sql_ref", "params": {"name": "alice"},
 "tasks": [{"id": "q", "plugin": "sqlite",
            "params": {"database": "users.db", "sql": "SELECT * FROM u WHERE name = '${params.name}'"}}]}
EOF
runs_before=$(q "SELECT count(*) FROM run_history")
run_wf sql_ref.json --param "name=x' OR '1'='1"
expect_rc 2 "a reference in sql"
assert_contains "$DF_ERR" 'task "q": param "sql" of plugin sqlite takes no ${...} reference (found ${params.name}): pass values with "bind"' "sql reference message"
assert_eq "$(q "SELECT count(*) FROM run_history")" "$runs_before" "a load error records no run"
run_df validate sql_ref.json
expect_rc 2 "validate: a reference in sql"
cat >sql_bind.json <<'EOF'
{"name": "sql_bind", "params": {"name": "alice"},
 "tasks": [{"id": "q", "plugin": "sqlite",
            "params": {"database": "users.db", "sql": "SELECT * FROM u WHERE name = :name",
                       "bind": {"name": "${params.name}"}}}]}
EOF
run_wf sql_bind.json --param "name=x' OR '1'='1"
expect_rc 0 "bind"
run=$(last_run)
dfx status "$run" --json
assert_eq "$(jq -c '.tasks[0].result.rows' <<<"$DF_OUT")" "[]" "x' OR '1'='1 through bind matches nothing"
run_wf sql_bind.json
dfx status "$(last_run)" --json
assert_eq "$(jq -c '.tasks[0].result.rows' <<<"$DF_OUT")" '[{"name":"alice","secret":"s1"}]' "bind still works"

# --- resume keeps escaping (the stored DAG is marked again) ---------------------------------------
cat >slow.json <<'EOF'
{"name": "slow_inj", "params": {"who": "x"},
 "tasks": [
  {"id": "wait", "plugin": "shell", "params": {"script": "while [ ! -f go ]; do sleep 0.05; done"}},
  {"id": "after", "plugin": "shell", "depends_on": ["wait"], "params": {"script": "echo ${params.who}"}}
 ]}
EOF
set +e
"$DF_BIN" run slow.json --db "$DB" --param 'who=$(touch PWNED5)' >/dev/null 2>&1 &
pid=$!
set -e
for _ in $(seq 1 100); do
    [[ "$(q "SELECT count(*) FROM attempt_history WHERE task_id = 'wait'" 2>/dev/null)" == 1 ]] && break
    sleep 0.1
done
kill -INT "$pid"
wait "$pid" || true
run=$(last_run)
touch go
dfx resume "$run" --plugin-dir "$DF_TEST_PLUGIN_DIR"
expect_rc 0 "resume"
assert_file_absent PWNED5 "a param's command ran after resume"
assert_eq "$(out "$run" after)" '$(touch PWNED5)' "escaped after resume"

df_done
