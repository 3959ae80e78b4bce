#!/usr/bin/env bash
# test_cli_help: the command-line framework end to end (SPEC §6): `dagflow --help`, `help`,
# every command's --help (usage, options with defaults, exit codes), --version, unknown commands
# (with a suggestion) and options (exit 2), value checks, and status/history on a database that
# does not exist (and must not be created). When `run` works, also status/history after a run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

commands=(run validate plan resume retry status logs history graph plugins)

note "dagflow --help / help / -h"
run_df --help
expect_rc 0 "dagflow --help"
main_help="$DF_OUT"
assert_contains "$main_help" "Usage: dagflow COMMAND"
for c in "${commands[@]}"; do
    assert_match "$main_help" "^  $c +[a-z]" "command $c listed"
done
for o in --db --plugin-dir --json --help --version; do
    assert_contains "$main_help" "$o" "dagflow --help"
done
run_df help
expect_rc 0 "dagflow help"
assert_eq "$main_help" "$DF_OUT" "help = --help"
run_df -h
expect_rc 0
assert_eq "$main_help" "$DF_OUT" "-h = --help"

note "--version"
run_df --version
expect_rc 0
assert_match "$DF_OUT" '^dagflow [0-9]+\.[0-9]+\.[0-9]+' "version line"

note "every command's --help"
# options_of CMD: the options its help must mention.
options_of() {
    local common="--db --plugin-dir --json --help"
    local engine="--workers-min --workers-max --concurrency --queue-capacity --stack-size"
    case "$1" in
    run) echo "$common --param $engine" ;;
    validate | plan) echo "$common --param" ;;
    resume) echo "$common $engine" ;;
    retry) echo "$common --task $engine" ;;
    status) echo "$common --task" ;;
    logs) echo "$common --attempt" ;;
    history) echo "$common --workflow --limit" ;;
    graph) echo "$common --format" ;;
    *) echo "$common" ;;
    esac
}
for c in "${commands[@]}"; do
    run_df "$c" --help
    expect_rc 0 "dagflow $c --help"
    assert_eq "" "$DF_ERR" "stderr of $c --help"
    assert_match "$DF_OUT" "^Usage: dagflow $c" "usage line of $c"
    assert_contains "$DF_OUT" "Exit codes:" "$c --help"
    assert_match "$DF_OUT" '^  0 ' "$c --help lists exit code 0"
    assert_match "$DF_OUT" '^  2 ' "$c --help lists exit code 2"
    for o in $(options_of "$c"); do
        assert_match "$DF_OUT" "^ +$o( |\$)" "$c --help describes $o"
    done
    # --help anywhere, with other options and operands around it.
    run_df "$c" x.json --json -h
    expect_rc 0 "dagflow $c x.json --json -h"
    assert_match "$DF_OUT" "^Usage: dagflow $c" "-h of $c"
    run_df help "$c"
    expect_rc 0 "dagflow help $c"
    assert_match "$DF_OUT" "^Usage: dagflow $c" "help $c"
done
run_df run --help
assert_contains "$DF_OUT" "default: 256" "run --help: the default of --concurrency"
assert_contains "$DF_OUT" "K:=JSON" "run --help: typed params"
assert_match "$DF_OUT" '^  130 ' "run --help: exit code 130"
assert_match "$DF_OUT" '^  1 ' "run --help: exit code 1"
assert_match "$DF_OUT" '^  3 ' "run --help: exit code 3"
run_df graph --help
assert_contains "$DF_OUT" "default: dot" "graph --help: default format"
run_df history --help
assert_contains "$DF_OUT" "default: 20" "history --help: default limit"

note "unknown commands and options: exit 2, one 'dagflow: ' line, a hint"
run_df
expect_rc 2 "no command"
expect_stderr_lines_prefixed
run_df stauts
expect_rc 2 "dagflow stauts"
expect_stderr_lines_prefixed
assert_contains "$DF_ERR" 'unknown command "stauts"; did you mean "status"?'
run_df valdate x.json
expect_rc 2
assert_contains "$DF_ERR" 'did you mean "validate"?'
run_df hist
expect_rc 2
assert_contains "$DF_ERR" 'did you mean "history"?'
run_df frobnicate
expect_rc 2
assert_contains "$DF_ERR" 'unknown command "frobnicate"'
assert_not_contains "$DF_ERR" "did you mean" "no suggestion for a name far from every command"
run_df help frobnicate
expect_rc 2 "help for an unknown command"
run_df --frob
expect_rc 2 "an option before the command"
expect_stderr_lines_prefixed
for c in "${commands[@]}"; do
    run_df "$c" --foo
    expect_rc 2 "dagflow $c --foo"
    assert_eq "dagflow: $c: unknown option --foo (see 'dagflow $c --help')" "$DF_ERR" "$c --foo"
done
run_df status -x
expect_rc 2
assert_contains "$DF_ERR" "dagflow: status: unknown option -x"
run_df status --json=yes
expect_rc 2
assert_contains "$DF_ERR" "--json takes no value"
run_df history --task t1
expect_rc 2 "history does not take --task"
assert_contains "$DF_ERR" "dagflow: history: unknown option --task"
run_df history --db
expect_rc 2 "--db without a value"
assert_contains "$DF_ERR" "dagflow: history: option --db needs a value"

note "bad values are usage errors naming the option"
for bad in 0 -3 abc 1x 99999999999; do
    run_df history --limit "$bad"
    expect_rc 2 "history --limit $bad"
    assert_contains "$DF_ERR" "dagflow: history: --limit needs a positive integer, got \"$bad\""
done
run_df status abc
expect_rc 2 "status with a non-numeric run id"
assert_contains "$DF_ERR" "RUN_ID must be a positive integer"
run_df status 1 2
expect_rc 2 "status with two run ids"
assert_contains "$DF_ERR" 'unexpected operand "2"'

note "status and history on a database that does not exist"
run_df status
expect_rc 2 "status without a database"
expect_stderr_lines_prefixed
assert_contains "$DF_ERR" "no runs"
assert_file_absent dagflow.db "status must not create the database"
run_df status 7 --json
expect_rc 2 "status 7 without a database"
assert_contains "$DF_ERR" "unknown run 7"
assert_eq "" "$DF_OUT" "no JSON for a missing run"
assert_file_absent dagflow.db
run_df history
expect_rc 0 "history without a database"
assert_eq "no runs" "$DF_OUT"
run_df history --json --workflow nothing --limit 5
expect_rc 0
assert_eq "[]" "$DF_OUT" "history --json without a database"
assert_file_absent dagflow.db "history must not create the database"
DAGFLOW_DB="$WORK/env.db" run_df status
expect_rc 2
assert_contains "$DF_ERR" "$WORK/env.db" "status names \$DAGFLOW_DB"
run_df status --db "$WORK/opt.db"
assert_contains "$DF_ERR" "$WORK/opt.db" "status names --db"
assert_file_absent "$WORK/env.db"
assert_file_absent "$WORK/opt.db"

note "status and history on an empty database"
: >empty.db
run_df status --db empty.db
expect_rc 2 "status on an empty database"
assert_contains "$DF_ERR" "no runs"
run_df status 3 --db empty.db
expect_rc 2 "status 3 on an empty database"
assert_contains "$DF_ERR" "unknown run 3"
run_df history --db empty.db --json
expect_rc 0 "history on an empty database"
assert_eq "[]" "$DF_OUT"

note "status and history after a run (when run is available)"
cp "$CLI_DATA/valid.json" .
run_df run valid.json --db runs.db
if [[ "$DF_RC" != 0 ]]; then
    echo "note: 'dagflow run' is not usable yet (exit $DF_RC: $DF_ERR); skipping this part"
else
    run_df run valid.json --db runs.db --param ms:=1
    expect_rc 0 "second run"
    run_df status --db runs.db
    expect_rc 0 "status of the latest run"
    assert_match "$DF_OUT" '^Run: +2$' "latest run is run 2"
    assert_match "$DF_OUT" '^Workflow: +cli_valid$'
    assert_match "$DF_OUT" '^State: +SUCCESS$'
    assert_match "$DF_OUT" '^TASK +STATE +ATTEMPTS +DURATION +ERROR$' "task table header"
    for t in start nap finish; do
        assert_match "$DF_OUT" "^$t +SUCCESS +1 +[0-9.]+(ms|s) +-\$" "task row $t"
    done
    run_df status 1 --db runs.db --json
    expect_rc 0 "status 1 --json"
    if have_jq; then
        assert_eq 1 "$(json_q .run_id "$DF_OUT")"
        assert_eq '"SUCCESS"' "$(json_q .state "$DF_OUT")"
        assert_eq '["start","nap","finish"]' "$(json_q '[.tasks[].id]' "$DF_OUT")" "tasks in file order"
        assert_eq true "$(json_q '.tasks[1].result.slept_ms >= 5' "$DF_OUT")" "result of nap"
    fi
    run_df status 99 --db runs.db
    expect_rc 2 "status of an unknown run"
    assert_contains "$DF_ERR" "unknown run 99"
    run_df history --db runs.db
    expect_rc 0
    assert_match "$(sed -n 2p <<<"$DF_OUT")" '^2 +cli_valid +SUCCESS +[0-9T:.-]+Z +[0-9.]+(ms|s) +3/0/3$' "newest run first"
    run_df history --db runs.db --limit 1 --json
    expect_rc 0
    if have_jq; then
        assert_eq 1 "$(json_q length "$DF_OUT")" "--limit 1"
        assert_eq 2 "$(json_q '.[0].run_id' "$DF_OUT")"
    fi
    run_df history --db runs.db --workflow other --json
    assert_eq "[]" "$DF_OUT" "--workflow filters"
fi

df_done
