#!/usr/bin/env bash
# test_cli_graph_graphviz: Graphviz reads `dagflow graph`'s DOT output (SPEC §6) and lays it out.
# Skipped (exit 77) when Graphviz itself cannot render: `dot` missing, or half installed (no
# layout or output plugins, `dot -c` never run), found by rendering a trivial graph first. Only a
# Graphviz that renders that graph and refuses dagflow's output fails the test.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

command -v dot >/dev/null || skip "Graphviz (dot) is not installed"
# What the probe and the real check render: a layout (dot) and a plain-text output (-Tplain),
# the plugins a working Graphviz has.
if ! probe_err="$(printf 'digraph probe { a -> b; }\n' | dot -Tplain 2>&1 >/dev/null)"; then
    skip "Graphviz cannot render a trivial graph (half installed?): ${probe_err:0:300}"
fi

cp "$CLI_DATA/graph.json" .
run_df graph graph.json
expect_rc 0 "graph graph.json"
printf '%s\n' "$DF_OUT" >graph.dot
note "Graphviz lays out dagflow's DOT"
if ! out="$(dot -Tplain graph.dot 2>&1)"; then
    fail "Graphviz rejects the DOT output: $out"
fi
assert_eq "" "$(dot -Tplain graph.dot 2>&1 >/dev/null)" "Graphviz warnings"
# -Tplain lists one "node NAME ..." line per node and one "edge A B ..." per edge.
assert_eq 6 "$(grep -c '^node ' <<<"$out")" "nodes Graphviz laid out"
assert_eq 5 "$(grep -c '^edge ' <<<"$out")" "edges Graphviz laid out"
assert_match "$out" '^edge "?a-b"? "?end"? ' "edge a-b -> end as Graphviz read it"

df_done
