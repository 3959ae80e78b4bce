#!/usr/bin/env bash
# test_plugins_sqlite: the built-in sqlite plugin end to end (SPEC §2): a table created in a
# database file relative to the workflow's folder, inserts with positional and named binds (":n",
# bare "n", "@n", "$n"), a select returning typed rows (integer, real, text, NULL, blob as base64)
# read back through `dagflow status --json`, a syntax error and a constraint violation failing
# permanently with SQLite's message, two statements rejected (by validate, and at run time when
# the SQL comes from an upstream), bind mismatches, and a locked database failing retryably after
# the 5 s busy timeout, then succeeding on retry, while a timeout cuts a busy wait short.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin sqlite
need_builtin noop

# result RUN TASK: the task's result in `status --json`, compact.
result() {
    dfx status "$1" --json
    expect_rc 0 "status --json"
    jv ".tasks[] | select(.id == \"$2\") | .result" "$DF_OUT"
}
# error_of RUN TASK: the task's error in task_history.
error_of() {
    q "SELECT error FROM task_history WHERE run_id = $1 AND task_id = '$2'"
}

note "create, insert (positional and named binds), select typed rows; run from another folder"
mkdir -p flow
cat >flow/load.json <<'EOF'
{"name": "sqlite_load", "tasks": [
  {"id": "create", "plugin": "sqlite", "params": {"database": "data/app.db",
   "sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, price REAL, note TEXT, raw BLOB, meta)"}},
  {"id": "ins_pos", "plugin": "sqlite", "depends_on": ["create"], "params": {"database": "data/app.db",
   "sql": "INSERT INTO items (name, price, note, raw) VALUES (?, ?, ?, ?), (?, ?, ?, NULL);",
   "bind": ["apple", 1.25, null, "r1", "pear", 2, "ripe"]}},
  {"id": "ins_named", "plugin": "sqlite", "depends_on": ["ins_pos"], "params": {"database": "data/app.db",
   "sql": "INSERT INTO items (name, price, note, raw, meta) VALUES (:name, @price, $note, x'00ff10', :meta)",
   "bind": {":name": "plum", "@price": 0.5, "$note": "stone fruit", "meta": {"k": [1, true]}}}},
  {"id": "update", "plugin": "sqlite", "depends_on": ["ins_named"], "params": {"database": "data/app.db",
   "sql": "UPDATE items SET price = price * 2 WHERE price < ?", "bind": [2]}},
  {"id": "select", "plugin": "sqlite", "depends_on": ["update"], "params": {"database": "data/app.db",
   "sql": "SELECT id, name, price, note, raw, meta, price > 1 AS dear FROM items ORDER BY id; -- done"}}
]}
EOF
mkdir -p flow/data
pushd / >/dev/null
run_wf "$WORK/flow/load.json"
popd >/dev/null
expect_rc 0 "load run"
run=$(last_run)
for t in create ins_pos ins_named update select; do expect_task "$run" "$t" SUCCESS; done
[[ -f flow/data/app.db ]] || fail "the database was not created relative to the workflow's folder"
DF_ASSERTS=$((DF_ASSERTS + 1))
assert_eq '{"rows":[],"changes":0}' "$(result "$run" create)" "CREATE result"
assert_eq '{"rows":[],"changes":2}' "$(result "$run" ins_pos)" "positional INSERT result"
assert_eq '{"rows":[],"changes":1}' "$(result "$run" ins_named)" "named INSERT result"
assert_eq 2 "$(jv .changes "$(result "$run" update)")" "UPDATE changes (apple and plum)"
r=$(result "$run" select)
assert_eq 3 "$(jv '.rows | length' "$r")" "row count"
assert_eq 0 "$(jv .changes "$r")" "SELECT changes"
assert_eq '{"id":1,"name":"apple","price":2.5,"note":null,"raw":"r1","meta":null,"dear":1}' \
    "$(jv '.rows[0]' "$r")" "row 1"
assert_eq '{"id":2,"name":"pear","price":2,"note":"ripe","raw":null,"meta":null,"dear":1}' \
    "$(jv '.rows[1]' "$r")" "row 2"
assert_eq '{"id":3,"name":"plum","price":1,"note":"stone fruit","raw":"AP8Q","meta":"{\"k\":[1,true]}","dear":0}' \
    "$(jv '.rows[2]' "$r")" "row 3 (blob as base64, JSON bind stored as text)"
assert_eq '["number","string","number","null","string","null","number"]' \
    "$(jv "[.rows[0] | .id, .name, .price, .note, .raw, .meta, .dear | type]" "$r")" "JSON types"
# The REAL stays a real in the JSON text (2.0, not 2), the INTEGER an integer.
dfx status "$run" --json
assert_match "$DF_OUT" '"price": ?2\.0[,}]' "a REAL column stays a JSON real"
assert_match "$DF_OUT" '"id": ?2[,}]' "an INTEGER column stays a JSON integer"
# The file itself has what the tasks wrote (checked with the sqlite3 shell).
assert_eq "apple|2.5|real|text,pear|2.0|real|null,plum|1.0|real|blob" \
    "$(df_sqlite flow/data/app.db "SELECT group_concat(name || '|' || price || '|' || typeof(price)
                                   || '|' || typeof(raw), ',') FROM (SELECT * FROM items ORDER BY id)")" \
    "rows in the database file"

note "a downstream task binds values from an upstream's rows"
cat >flow/chain.json <<'EOF'
{"name": "sqlite_chain", "tasks": [
  {"id": "pick", "plugin": "sqlite", "params": {"database": "data/app.db",
   "sql": "SELECT name, price FROM items WHERE id = ?", "bind": [3]}},
  {"id": "copy", "plugin": "sqlite", "depends_on": ["pick"], "params": {"database": "data/app.db",
   "sql": "INSERT INTO items (name, price) VALUES (:n || '-copy', :p) RETURNING id, name, price",
   "bind": {"n": "${tasks.pick.result.rows.0.name}", "p": "${tasks.pick.result.rows.0.price}"}}}
]}
EOF
run_wf flow/chain.json
expect_rc 0 "chain run"
run=$(last_run)
assert_eq '{"rows":[{"id":4,"name":"plum-copy","price":1}],"changes":1}' "$(result "$run" copy)" \
    "INSERT ... RETURNING with binds from an upstream"

note "a syntax error and a constraint violation fail permanently with SQLite's message"
cat >flow/errors.json <<'EOF'
{"name": "sqlite_errors", "tasks": [
  {"id": "syntax", "plugin": "sqlite", "retries": 3, "retry_delay_ms": 50,
   "params": {"database": "data/app.db", "sql": "SELEC name FROM items"}},
  {"id": "unique", "plugin": "sqlite", "retries": 3, "retry_delay_ms": 50,
   "params": {"database": "data/app.db", "sql": "INSERT INTO items (name) VALUES (?)", "bind": ["apple"]}},
  {"id": "notable", "plugin": "sqlite", "retries": 3, "retry_delay_ms": 50,
   "params": {"database": "data/app.db", "sql": "SELECT * FROM nowhere"}},
  {"id": "fewbind", "plugin": "sqlite", "params": {"database": "data/app.db",
   "sql": "SELECT ?, ?", "bind": [1]}},
  {"id": "badkey", "plugin": "sqlite", "params": {"database": "data/app.db",
   "sql": "SELECT :a", "bind": {"b": 1}}}
]}
EOF
run_wf flow/errors.json
expect_rc 1 "a run with failing statements"
run=$(last_run)
for t in syntax unique notable fewbind badkey; do
    expect_task "$run" "$t" FAILED
    assert_eq 1 "$(q "SELECT attempts FROM task_history WHERE run_id = $run AND task_id = '$t'")" \
        "attempts of $t (permanent failure: no retry)"
done
assert_contains "$(error_of "$run" syntax)" 'near "SELEC": syntax error' "syntax error message"
assert_contains "$(error_of "$run" unique)" 'UNIQUE constraint failed: items.name' "constraint message"
assert_contains "$(error_of "$run" notable)" 'no such table: nowhere' "missing table message"
assert_contains "$(error_of "$run" fewbind)" '2 parameters but "bind" gives 1 value' "bind count"
assert_contains "$(error_of "$run" badkey)" '"bind" key "b" names no parameter' "bind key"
assert_eq 4 "$(df_sqlite flow/data/app.db "SELECT count(*) FROM items")" "the table is still there"

note "a reference in sql (say, SQL from an upstream) is a load error pointing to bind (SPEC 12)"
cat >flow/late.json <<'EOF'
{"name": "sqlite_late", "tasks": [
  {"id": "mk", "plugin": "noop", "params": {"sql": "SELECT 1; DROP TABLE items"}},
  {"id": "two_late", "plugin": "sqlite", "depends_on": ["mk"],
   "params": {"database": "data/app.db", "sql": "${tasks.mk.result.sql}"}}
]}
EOF
run_wf flow/late.json
expect_rc 2 "sql from an upstream"
assert_contains "$DF_ERR" 'task "two_late": param "sql" of plugin sqlite takes no ${...} reference (found ${tasks.mk.result.sql}): pass values with "bind"' "sql reference refused"

note "two statements are rejected by validate (nothing recorded) and make a run INVALID"
cat >flow/two.json <<'EOF'
{"name": "sqlite_two", "tasks": [
  {"id": "two", "plugin": "sqlite", "params": {"database": "data/app.db",
   "sql": "INSERT INTO items (name) VALUES ('x'); DELETE FROM items"}}
]}
EOF
run_df validate flow/two.json
expect_rc 2 "validate of two statements"
assert_contains "$DF_ERR" 'exactly one statement' "validate message"
assert_contains "$DF_ERR" 'DELETE FROM items' "the message shows the extra statement"
run_wf flow/two.json
expect_rc 2 "run of two statements"
expect_run "$(last_run)" INVALID
assert_eq 4 "$(df_sqlite flow/data/app.db "SELECT count(*) FROM items")" "nothing was inserted"
# A ';' inside a string literal or a comment, and a trigger body, are one statement.
cat >flow/one.json <<'EOF'
{"name": "sqlite_one", "tasks": [
  {"id": "lit", "plugin": "sqlite", "params": {"database": "data/app.db",
   "sql": "SELECT 'a;b' AS s /* ; */ ; -- ; trailing\n  ;"}},
  {"id": "trig", "plugin": "sqlite", "params": {"database": "data/app.db",
   "sql": "CREATE TRIGGER IF NOT EXISTS t1 AFTER INSERT ON items BEGIN SELECT 1; SELECT 2; END;"}}
]}
EOF
run_wf flow/one.json
expect_rc 0 "statements with ';' in literals, comments and a trigger body"
assert_eq '{"rows":[{"s":"a;b"}],"changes":0}' "$(result "$(last_run)" lit)" "literal with ';'"

note "validate: missing database, unknown key, bad bind type"
printf '{"name": "b1", "tasks": [{"id": "t", "plugin": "sqlite", "params": {"sql": "SELECT 1"}}]}\n' >b1.json
printf '{"name": "b2", "tasks": [{"id": "t", "plugin": "sqlite", "params": {"database": "x.db", "sql": "SELECT 1", "query": "x"}}]}\n' >b2.json
printf '{"name": "b3", "tasks": [{"id": "t", "plugin": "sqlite", "params": {"database": "x.db", "sql": "SELECT ?", "bind": 5}}]}\n' >b3.json
run_df validate b1.json
expect_rc 2
assert_contains "$DF_ERR" '"database"' "missing database"
run_df validate b2.json
expect_rc 2
assert_contains "$DF_ERR" 'unknown key "query"' "unknown key"
run_df validate b3.json
expect_rc 2
assert_contains "$DF_ERR" '"bind" must be an array' "bad bind"

note "a locked database: a timeout cuts the busy wait short; the 5 s busy timeout fails retryably"
# A Python process holds an exclusive lock for 8 s.
python3 - "$WORK/flow/data/app.db" "$WORK/locked" <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(8)
c.execute("COMMIT")
EOF
LOCKER=$!
for _ in $(seq 100); do [[ -e locked ]] && break; sleep 0.05; done
[[ -e locked ]] || fail "the locking process did not start"
cat >flow/busy_timeout.json <<'EOF'
{"name": "sqlite_busy_timeout", "tasks": [
  {"id": "w", "plugin": "sqlite", "timeout_ms": 800, "params": {"database": "data/app.db",
   "sql": "INSERT INTO items (name) VALUES ('late')"}}
]}
EOF
run_wf flow/busy_timeout.json
expect_rc 1
run=$(last_run)
assert_eq TIMED_OUT "$(q "SELECT outcome FROM attempt_history WHERE run_id = $run AND task_id = 'w'")" \
    "outcome of a busy wait cut by timeout_ms"
((RUN_MS < 3000)) || fail "the busy wait was not cut short by timeout_ms 800 (run took $RUN_MS ms)"
DF_ASSERTS=$((DF_ASSERTS + 1))
cat >flow/busy.json <<'EOF'
{"name": "sqlite_busy", "tasks": [
  {"id": "w", "plugin": "sqlite", "retries": 1, "retry_delay_ms": 100,
   "params": {"database": "data/app.db", "sql": "INSERT INTO items (name) VALUES ('late')"}}
]}
EOF
run_wf flow/busy.json
expect_rc 0 "the insert succeeds on retry once the lock is gone"
run=$(last_run)
assert_eq "1 FAILED,2 SUCCESS" \
    "$(q "SELECT group_concat(attempt || ' ' || outcome, ',') FROM (SELECT attempt, outcome
          FROM attempt_history WHERE run_id = $run AND task_id = 'w' ORDER BY attempt)")" \
    "a locked database is retried"
assert_contains "$(q "SELECT error FROM attempt_history WHERE run_id = $run AND task_id = 'w' AND attempt = 1")" \
    "database is locked" "SQLite's busy message"
d=$(q "SELECT duration_ms FROM attempt_history WHERE run_id = $run AND task_id = 'w' AND attempt = 1")
((d >= 4500 && d < 7000)) || fail "the first attempt waited $d ms; the busy timeout is 5000 ms"
DF_ASSERTS=$((DF_ASSERTS + 1))
wait "$LOCKER"
assert_eq 1 "$(df_sqlite flow/data/app.db "SELECT count(*) FROM items WHERE name = 'late'")" "inserted once"

df_done
