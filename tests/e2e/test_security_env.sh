#!/usr/bin/env bash
# test_security_env: tasks and alert commands get a base environment, not the engine's (SPEC §12,
# issue 15 item 12): PATH, HOME, USER, LOGNAME, LANG, LC_*, TZ, TMPDIR and DAGFLOW_*, plus the
# workflow's and the task's env (the task's wins); a secret in the engine's environment reaches
# neither unless passed through by name or pattern, with --pass-env or the workflow's
# env_passthrough. Bad env / env_passthrough values are load errors.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_builtin shell

cat >env.json <<'EOF'
{"name": "env_check", "env": {"WF_ONLY": "from-wf", "BOTH": "wf"},
 "alerts": [{"type": "command", "argv": ["sh", "-c", "env | sort > alert.env"], "on": ["run_succeeded"]}],
 "tasks": [{"id": "t", "plugin": "shell", "params": {"script": "env | sort", "env": {"BOTH": "task"}}}]}
EOF

# task_env: the task's environment in the last run, one VAR=VALUE a line.
task_env() {
    dfx status "$(last_run)" --json
    jq -r '.tasks[0].result.stdout' <<<"$DF_OUT"
}

export DF_SECRET_TOKEN=hunter2 DF_AWS_KEY=k1 DF_AWS_ID=i1 TZ=UTC TMPDIR=/tmp LC_TIME=C LOGNAME=tester
run_wf env.json
expect_rc 0 "run"
env_t="$(task_env)"
env_a="$(cat alert.env)"
for what in task alert; do
    e=$env_t
    [[ $what == alert ]] && e=$env_a
    assert_not_contains "$e" "hunter2" "the engine's secret reached the $what"
    assert_not_contains "$e" "DF_AWS_KEY" "an engine variable reached the $what"
    for v in PATH HOME LANG TZ TMPDIR LC_TIME LOGNAME; do
        grep -q "^$v=" <<<"$e" || [[ -z "${!v:-}" ]] || fail "$what lacks the base variable $v"
    done
    assert_contains "$e" "WF_ONLY=from-wf" "the workflow's env reaches the $what"
done
assert_contains "$env_t" "BOTH=task" "the task's env wins over the workflow's"
assert_contains "$env_a" "BOTH=wf" "an alert command gets the workflow's env"
assert_contains "$env_t" "DAGFLOW_TASK_ID=t" "DAGFLOW_* for the task"
assert_contains "$env_a" "DAGFLOW_EVENT=run_succeeded" "DAGFLOW_* for the alert"

note "--pass-env by name and by pattern"
rm -f alert.env
run_wf env.json --pass-env DF_SECRET_TOKEN --pass-env 'DF_AWS_*'
expect_rc 0 "run --pass-env"
env_t="$(task_env)"
env_a="$(cat alert.env)"
for e in "$env_t" "$env_a"; do
    assert_contains "$e" "DF_SECRET_TOKEN=hunter2" "--pass-env NAME"
    assert_contains "$e" "DF_AWS_KEY=k1" "--pass-env PATTERN"
    assert_contains "$e" "DF_AWS_ID=i1" "--pass-env PATTERN (second match)"
done

note "the workflow's env_passthrough"
rm -f alert.env
jq '.env_passthrough = ["DF_AWS_*"]' env.json >pass.json
run_wf pass.json
expect_rc 0 "run with env_passthrough"
env_t="$(task_env)"
env_a="$(cat alert.env)"
for e in "$env_t" "$env_a"; do
    assert_contains "$e" "DF_AWS_KEY=k1" "env_passthrough pattern"
    assert_not_contains "$e" "hunter2" "env_passthrough passes only what it names"
done

note "bad env and env_passthrough are load errors"
cat >bad.json <<'EOF'
{"name": "bad_env", "env": {"A": ["x"], "1B": "y"}, "env_passthrough": ["OK_*", "NO=PE", 3],
 "tasks": [{"id": "t", "plugin": "shell", "params": {"argv": ["true"]}}]}
EOF
run_df validate bad.json
expect_rc 2 "validate bad env"
assert_contains "$DF_ERR" 'env.A: must be a string' "env value type"
assert_contains "$DF_ERR" 'env: "1B" is not a valid variable name' "env name"
assert_contains "$DF_ERR" 'env_passthrough[1]: expected a variable name' "passthrough entry"
assert_contains "$DF_ERR" 'env_passthrough[2]: expected a variable name' "passthrough type"
run_wf env.json --pass-env 'A=B'
expect_rc 2 "--pass-env with '='"
assert_contains "$DF_ERR" "--pass-env needs a variable name or pattern" "--pass-env message"

df_done
