#!/usr/bin/env bash
# test_cli_graph: `dagflow graph` end to end (SPEC §6): DOT and Mermaid output of a DAG whose task
# ids include ones Mermaid cannot take as node ids (`end`, `a-b`, `9lives`) and one that looks
# like a generated id (`n1`); options in any order; load errors exit 2; plugins are not needed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

cp "$CLI_DATA/graph.json" .

note "DOT (the default format)"
run_df graph graph.json
expect_rc 0 "graph graph.json"
assert_eq "" "$DF_ERR" "stderr"
dot_out="$DF_OUT"
assert_eq 'digraph "cli_graph" {' "$(head -n1 <<<"$dot_out")" "first DOT line"
assert_eq '}' "$(tail -n1 <<<"$dot_out")" "last DOT line"
for id in extract a-b n1 end 9lives lonely; do
    assert_match "$dot_out" "^ *\"$id\" \\[" "node $id declared"
done
for edge in '"extract" -> "a-b"' '"extract" -> "n1"' '"a-b" -> "end"' '"n1" -> "end"' \
    '"end" -> "9lives"'; do
    assert_match "$dot_out" "^ *$edge;\$" "edge $edge"
done
assert_eq 5 "$(grep -c -- ' -> ' <<<"$dot_out")" "number of DOT edges"
assert_match "$dot_out" '"a-b" \[label="a-b\\nsleep"\]' "label with the plugin"
run_df graph --format dot graph.json
expect_rc 0
assert_eq "$dot_out" "$DF_OUT" "--format dot is the default"
# (Graphviz's own reading of this output is test_cli_graph_graphviz.)

note "Mermaid"
run_df graph graph.json --format mermaid
expect_rc 0 "graph --format mermaid"
mm="$DF_OUT"
assert_eq 'flowchart TD' "$(head -n1 <<<"$mm")" "first Mermaid line"

# mermaid_id TASK: the node id the output gives TASK (bare when safe, else ID["TASK"]).
mermaid_id() {
    local line
    if grep -Eq "^ *$1\$" <<<"$mm"; then
        printf '%s' "$1"
        return
    fi
    line="$(grep -E "^ *[A-Za-z_][A-Za-z0-9_]*\\[\"$1\"\\]\$" <<<"$mm")" ||
        fail "no Mermaid node labelled \"$1\" in: $mm"
    line="${line#"${line%%[![:space:]]*}"}"
    printf '%s' "${line%%\[*}"
}
declare -A mid
for id in extract a-b n1 end 9lives lonely; do
    mid[$id]="$(mermaid_id "$id")"
done
assert_eq extract "${mid[extract]}" "a safe id is kept"
assert_eq lonely "${mid[lonely]}" "a safe id is kept"
assert_eq n1 "${mid[n1]}" "a safe id is kept even when it looks generated"
for id in a-b end 9lives; do
    [[ "${mid[$id]}" != "$id" ]] || fail "task $id must get a generated Mermaid id"
    assert_match "${mid[$id]}" '^[A-Za-z_][A-Za-z0-9_]*$' "generated id of $id"
    assert_match "$mm" "^ *${mid[$id]}\\[\"$id\"\\]\$" "generated id of $id labelled with the task id"
done
# Every node id distinct, and none of them a Mermaid keyword.
all_ids="$(printf '%s\n' "${mid[@]}")"
assert_eq 6 "$(sort -u <<<"$all_ids" | wc -l)" "distinct Mermaid ids"
for id in "${mid[@]}"; do
    case "${id,,}" in
    end | graph | flowchart | subgraph | style | class | classdef | click | linkstyle)
        fail "Mermaid keyword $id used as a node id" ;;
    esac
done
for edge in "extract a-b" "extract n1" "a-b end" "n1 end" "end 9lives"; do
    read -r from to <<<"$edge"
    assert_match "$mm" "^ *${mid[$from]} --> ${mid[$to]}\$" "Mermaid edge $from -> $to"
done
assert_eq 5 "$(grep -c -- ' --> ' <<<"$mm")" "number of Mermaid edges"
# No line ends a block by accident: a bare `end` token never appears.
if grep -Eq '(^| )end( |$)' <<<"$mm"; then
    fail "a bare 'end' appears in the Mermaid output: $mm"
fi

note "options before the operand, and after --"
run_df graph --format=mermaid graph.json
expect_rc 0
assert_eq "$mm" "$DF_OUT" "--format=mermaid before FILE"
run_df graph --format mermaid -- graph.json
expect_rc 0
assert_eq "$mm" "$DF_OUT" "FILE after --"

note "graph needs no plugins (the file names an unknown one) and records nothing"
assert_contains "$dot_out" "no_such_plugin_xyz"
assert_file_absent dagflow.db

note "load errors exit 2"
cp "$CLI_DATA/errors.json" .
run_df graph errors.json
expect_rc 2 "graph errors.json"
expect_stderr_lines_prefixed
assert_eq "" "$DF_OUT" "no graph printed for a bad file"
assert_contains "$DF_ERR" "cycle: "
assert_contains "$DF_ERR" "ghost_task"
cp "$CLI_DATA/malformed.json" .
run_df graph malformed.json --format mermaid
expect_rc 2 "graph malformed.json"
assert_contains "$DF_ERR" "line 4"

note "usage errors"
run_df graph graph.json --format png
expect_rc 2 "--format png"
assert_contains "$DF_ERR" "dagflow: graph: --format must be dot or mermaid"
run_df graph graph.json --format
expect_rc 2 "--format without a value"
assert_contains "$DF_ERR" "needs a value"
run_df graph
expect_rc 2 "graph without FILE"
run_df graph graph.json --param x=1
expect_rc 2 "graph does not take --param"
assert_contains "$DF_ERR" "dagflow: graph: unknown option --param"
assert_contains "$DF_ERR" "dagflow graph --help"

df_done
