#!/usr/bin/env bash
# test_cli_plugins: `dagflow plugins` end to end (SPEC §2, §6): the built-in plugins with their
# versions and descriptions, --json, the search path order (--plugin-dir first), and files that
# fail to load reported as `dagflow: ` warnings while the exit code stays 0.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

note "the built-in plugins (found next to the binary)"
run_df plugins
expect_rc 0 "plugins"
assert_eq "" "$DF_ERR" "stderr"
assert_match "$(head -n1 <<<"$DF_OUT")" '^NAME +VERSION +DESCRIPTION +PATH$' "table header"
for p in noop sleep shell; do
    assert_match "$DF_OUT" "^$p +[0-9]+\\.[0-9]+(\\.[0-9]+)? +[^ ].* +/.*/$p\\.so\$" "row of $p"
done
assert_file_absent dagflow.db "plugins records nothing"

note "--json"
run_df plugins --json
expect_rc 0 "plugins --json"
if have_jq; then
    for p in noop sleep shell; do
        row="$(json_q ".[] | select(.name == \"$p\")" "$DF_OUT")"
        [[ -n "$row" ]] || fail "plugin $p missing from --json: $DF_OUT"
        assert_match "$(json_q .version "$row")" '^"[0-9]+\.[0-9]+' "version of $p"
        assert_match "$(json_q .description "$row")" '^"[^"]+' "description of $p"
        assert_match "$(json_q .path "$row")" "^\"/.*/$p\\.so\"\$" "absolute path of $p"
        assert_eq '["description","name","path","version"]' "$(json_q 'keys' "$row")" "keys"
    done
    names="$(json_q '[.[].name]' "$DF_OUT")"
    assert_eq "$(json_q '[.[].name] | sort' "$DF_OUT")" "$names" "sorted by name"
else
    assert_contains "$DF_OUT" '"name": "noop"'
fi

note "--plugin-dir comes first in the search path"
mkdir -p mine
cp "$DF_PLUGIN_DIR/noop.so" mine/noop.so
run_df plugins --plugin-dir mine
expect_rc 0
assert_match "$DF_OUT" "^noop +.* +$WORK/mine/noop\\.so\$" "noop from --plugin-dir"
assert_match "$DF_OUT" "^sleep +.* +/.*/sleep\\.so\$" "the others still listed"
DAGFLOW_PLUGIN_PATH="$WORK/mine" run_df plugins
expect_rc 0
assert_match "$DF_OUT" "^noop +.* +$WORK/mine/noop\\.so\$" "noop from \$DAGFLOW_PLUGIN_PATH"

note "files that fail to load are warnings; the exit code stays 0"
broken=0
for bad in badabi nosym misnamed; do
    if test_plugin "$bad" >/dev/null; then
        broken=$((broken + 1))
    else
        echo "note: test plugin $bad.so not built in $DF_TEST_PLUGIN_DIR"
    fi
done
# A file that is not a shared object at all.
mkdir -p junk
echo "not an ELF file" >junk/garbage.so
run_df plugins --plugin-dir junk
expect_rc 0 "plugins with a garbage .so"
expect_stderr_lines_prefixed
assert_match "$DF_ERR" '^dagflow: .*garbage' "warning about garbage.so"
assert_match "$DF_OUT" '^noop ' "noop still listed"
if [[ $broken -gt 0 ]]; then
    run_df plugins --plugin-dir "$DF_TEST_PLUGIN_DIR"
    expect_rc 0 "plugins with the test plugins"
    expect_stderr_lines_prefixed
    for bad in badabi nosym misnamed; do
        if test_plugin "$bad" >/dev/null; then
            assert_match "$DF_ERR" "^dagflow: .*$bad" "warning about $bad.so"
            assert_not_contains "$DF_OUT" "$bad.so" "a broken plugin is not listed"
        fi
    done
    assert_match "$DF_OUT" '^noop ' "noop still listed"
    run_df plugins --plugin-dir "$DF_TEST_PLUGIN_DIR" --json
    expect_rc 0
    if have_jq; then
        json_q 'length' "$DF_OUT" >/dev/null
    fi
else
    echo "note: no broken test plugins found; only the garbage file was checked"
fi

note "usage errors"
run_df plugins extra
expect_rc 2 "plugins takes no operand"
assert_contains "$DF_ERR" 'unexpected operand "extra"'
run_df plugins --limit 3
expect_rc 2 "plugins does not take --limit"

df_done
