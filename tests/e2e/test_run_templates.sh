#!/usr/bin/env bash
# test_run_templates: `${...}` templates end to end (SPEC §4, §6 --param): a string that is exactly
# one reference keeps the value's JSON type, references inside a longer string become text,
# `$${` is a literal; ${run.id}, ${run.workflow}, ${task.id}, ${task.attempt} (per attempt),
# ${env.NAME}, ${tasks.ID.result...} from upstreams (stdout, parsed JSON, array index); --param
# K=V (string) and K:=JSON (typed); a reference that cannot be resolved at run time fails that task
# permanently (no retry) naming the reference. Results are read from `status --json` and the views.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin noop
need_builtin shell

# result RUN TASK [FILTER]: jq FILTER (default .) over the task's result in `status RUN --json`.
result() {
    dfx status "$1" --json
    expect_rc 0 "status $1 --json"
    jv ".tasks[] | select(.id == \"$2\") | .result ${3:-}" "$DF_OUT"
}

cat >tmpl.json <<'EOF'
{"name": "tmpl",
 "params": {"n": 5, "name": "world", "obj": {"k": [1, 2, 3]}, "flag": true, "ratio": 0.5,
            "price": 19.99},
 "tasks": [
  {"id": "a", "plugin": "noop", "params": {
     "num": "${params.n}",
     "text": "n=${params.n}, name=${params.name}!",
     "obj": "${params.obj}",
     "flag": "${params.flag}",
     "ratio": "${params.ratio}",
     "name": "${params.name}",
     "literal": "$${params.n}",
     "literal_in_text": "cost: $${x} and ${params.n}",
     "run_id": "${run.id}",
     "run_text": "run-${run.id}",
     "workflow": "${run.workflow}",
     "task": "${task.id}",
     "attempt": "${task.attempt}",
     "home": "${env.DF_E2E_VAR}",
     "home_text": "[${env.DF_E2E_VAR}]",
     "nested": {"list": ["${params.n}", "x${params.name}"]}}},
  {"id": "b", "plugin": "shell", "depends_on": ["a"],
   "params": {"script": "printf '%s' '{\"k\": 42, \"s\": \"txt\", \"arr\": [10, 20]}'",
              "parse_json_stdout": true}},
  {"id": "c", "plugin": "noop", "depends_on": ["a", "b"], "params": {
     "stdout": "${tasks.b.result.stdout}",
     "k": "${tasks.b.result.json.k}",
     "k_text": "k=${tasks.b.result.json.k};s=${tasks.b.result.json.s}",
     "second": "${tasks.b.result.json.arr.1}",
     "a_num": "${tasks.a.result.num}",
     "a_obj_k": "${tasks.a.result.obj.k}",
     "exit": "${tasks.b.result.exit_code}"}},
  {"id": "d", "plugin": "shell", "depends_on": ["a"],
   "params": {"argv": ["sh", "-c", "printf '%s|%s|%s' \"$1\" \"$2\" \"$3\"", "sh",
                       "${params.n}", "${task.id}", "${tasks.a.result.text}"]}},
  {"id": "e", "plugin": "shell",
   "params": {"argv": ["sh", "-c", "printf '%s|%s|%s|%s|%s' \"$P\" \"$N\" \"$F\" \"$1\" \"$T\"", "sh",
                       "${params.price}"],
              "env": {"P": "${params.price}", "N": "${params.n}", "F": "${params.flag}",
                      "T": "p=${params.price}"}}}
 ]}
EOF

note "typed and interpolated references in one run"
DF_E2E_VAR="value with spaces" run_wf tmpl.json
expect_rc 0 "the template workflow"
run=$(last_run)
expect_task "$run" a SUCCESS
assert_eq 5 "$(result "$run" a .num)" "\${params.n} alone keeps the number"
assert_eq '"n=5, name=world!"' "$(result "$run" a .text)" "references inside a longer string"
assert_eq '{"k":[1,2,3]}' "$(result "$run" a .obj)" "an object param"
assert_eq true "$(result "$run" a .flag)" "a boolean param"
assert_eq 0.5 "$(result "$run" a .ratio)" "a real param"
assert_eq '"world"' "$(result "$run" a .name)" "a string param"
assert_eq '"${params.n}"' "$(result "$run" a .literal)" "\$\${ is a literal \${"
assert_eq '"cost: ${x} and 5"' "$(result "$run" a .literal_in_text)" "a literal next to a reference"
assert_eq "$run" "$(result "$run" a .run_id)" "\${run.id} (a number)"
assert_eq "\"run-$run\"" "$(result "$run" a .run_text)" "\${run.id} in text"
assert_eq '"tmpl"' "$(result "$run" a .workflow)" "\${run.workflow}"
assert_eq '"a"' "$(result "$run" a .task)" "\${task.id}"
assert_eq 1 "$(result "$run" a .attempt)" "\${task.attempt}"
assert_eq '"value with spaces"' "$(result "$run" a .home)" "\${env.NAME}"
assert_eq '"[value with spaces]"' "$(result "$run" a .home_text)" "\${env.NAME} in text"
assert_eq '[5,"xworld"]' "$(result "$run" a .nested.list)" "references nested in arrays and objects"
assert_eq '"number"' "$(result "$run" a '.num | type')" "type of a single reference"
expect_task "$run" c SUCCESS
assert_eq '"{\"k\": 42, \"s\": \"txt\", \"arr\": [10, 20]}"' "$(result "$run" c .stdout)" \
    "\${tasks.b.result.stdout}"
assert_eq 42 "$(result "$run" c .k)" "\${tasks.b.result.json.k} keeps the number"
assert_eq '"k=42;s=txt"' "$(result "$run" c .k_text)" "upstream results in text"
assert_eq 20 "$(result "$run" c .second)" "a numeric key indexes an array"
assert_eq 5 "$(result "$run" c .a_num)" "an upstream noop's result"
assert_eq '[1,2,3]' "$(result "$run" c .a_obj_k)" "an upstream result's array"
assert_eq 0 "$(result "$run" c .exit)" "exit_code of the shell upstream"
expect_task "$run" d SUCCESS
assert_eq '"5|d|n=5, name=world!"' "$(result "$run" d .stdout)" "templates in a shell argv"
# A typed value handed to shell's env or argv is written as its JSON text: 19.99, not
# 19.989999999999998.
expect_task "$run" e SUCCESS
soft_eq '"19.99|5|true|19.99|p=19.99"' "$(result "$run" e .stdout)" "typed values in shell env and argv"

note "--param K=V gives a string, K:=JSON a typed value"
export DF_E2E_VAR="v2"
before=$(last_run)
# A string for a param whose default is a number is refused, naming the typed form (issue 15,
# item 19), rather than recording a run its tasks would get wrong.
run_wf tmpl.json --param ratio=0.25
expect_rc 2 "--param ratio=0.25 (a string) for a number default"
assert_contains "$DF_ERR" "use --param ratio:=0.25"
assert_eq "$before" "$(last_run)" "runs after a string for a number param"
run_wf tmpl.json --param name=7 --param n:=12 --param 'obj:={"k": ["z"]}' --param flag:=false \
    --param ratio:=0.25
expect_rc 0 "the run with --param overrides"
run=$(last_run)
assert_eq '"7"' "$(result "$run" a .name)" "--param name=7 is a string"
assert_eq 12 "$(result "$run" a .num)" "--param n:=12 is a number"
assert_eq '"n=12, name=7!"' "$(result "$run" a .text)" "--param values in text"
assert_eq '{"k":["z"]}' "$(result "$run" a .obj)" "--param obj:=JSON object"
assert_eq false "$(result "$run" a .flag)" "--param flag:=false"
assert_eq 0.25 "$(result "$run" a .ratio)" "--param ratio:=0.25 is a number"
assert_eq '"12|d|n=12, name=7!"' "$(result "$run" d .stdout)"
assert_eq '"v2"' "$(result "$run" a .home)" "\${env.NAME} read at each run"

note "--param with malformed JSON, or naming an undeclared param: exit 2, nothing recorded"
before=$(last_run)
run_wf tmpl.json --param 'n:={bad'
expect_rc 2 "--param n:= with malformed JSON"
expect_stderr_lines_prefixed
assert_eq "$before" "$(last_run)" "runs after a bad --param"
run_wf tmpl.json --param nosuch=1
expect_rc 2 "--param naming a param the workflow does not declare"
assert_contains "$DF_ERR" "nosuch"
assert_eq "$before" "$(last_run)"

note "\${task.attempt} is resolved again for each attempt"
cat >attempts.json <<'EOF'
{"name": "attempts", "tasks": [
  {"id": "t", "plugin": "shell", "retries": 2, "retry_delay_ms": 50,
   "params": {"script": "echo ${task.attempt} >> attempts.txt; test ${task.attempt} -ge 3"}}
]}
EOF
run_wf attempts.json
expect_rc 0
assert_eq "1 2 3" "$(tr '\n' ' ' <attempts.txt | sed 's/ $//')" "\${task.attempt} per attempt"

note "an unresolvable reference at run time fails the task permanently, naming the reference"
cat >missing.json <<'EOF'
{"name": "missing", "tasks": [
  {"id": "up", "plugin": "noop", "params": {"present": 1}},
  {"id": "down", "plugin": "noop", "depends_on": ["up"], "retries": 3, "retry_delay_ms": 50,
   "params": {"v": "${tasks.up.result.absent}"}},
  {"id": "down_text", "plugin": "noop", "depends_on": ["up"], "retries": 2, "retry_delay_ms": 50,
   "params": {"v": "value: ${tasks.up.result.present.deeper}"}},
  {"id": "ok", "plugin": "noop", "depends_on": ["up"], "params": {"v": "${tasks.up.result.present}"}},
  {"id": "after", "plugin": "noop", "depends_on": ["down"]}
]}
EOF
run_wf missing.json
expect_rc 1
run=$(last_run)
expect_run "$run" FAILED
expect_task "$run" up SUCCESS
expect_task "$run" ok SUCCESS
expect_task "$run" down FAILED
expect_task "$run" down_text FAILED
expect_task "$run" after UPSTREAM_FAILED
assert_eq 1 "$(result "$run" ok .v)" "a present key"
for t in down down_text; do
    assert_eq 0 "$(q "SELECT count(*) FROM task_events WHERE run_id = $run AND task_id = '$t'
                      AND to_state = 'UP_FOR_RETRY'")" "retries of $t (an unresolvable reference is permanent)"
    n=$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run AND task_id = '$t'")
    ((n <= 1)) || fail "$t was attempted $n times"
done
err=$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'down'")
assert_contains "$err" "tasks.up.result.absent" "error of the unresolvable reference"
err=$(q "SELECT error FROM task_history WHERE run_id = $run AND task_id = 'down_text'")
assert_contains "$err" "tasks.up.result.present.deeper" "error of the unresolvable reference in text"

note "a reference to a task that is not an upstream, or an unknown param: exit 2 before running"
before=$(last_run)
cat >notup.json <<'EOF'
{"name": "notup", "tasks": [
  {"id": "x", "plugin": "noop"},
  {"id": "y", "plugin": "noop", "params": {"v": "${tasks.x.result}"}}
]}
EOF
run_wf notup.json
expect_rc 2 "a reference to a task not in depends_on"
assert_contains "$DF_ERR" "tasks.x" "the error names the reference"
assert_contains "$DF_ERR" '"y"' "the error names the task"
cat >noparam.json <<'EOF'
{"name": "noparam", "params": {"a": 1}, "tasks": [
  {"id": "x", "plugin": "noop", "params": {"v": "${params.nope}"}}
]}
EOF
run_wf noparam.json
expect_rc 2 "a reference to an undeclared param"
assert_contains "$DF_ERR" "params.nope"
assert_eq "$before" "$(last_run)" "runs recorded by the rejected files"

run_done
