#!/usr/bin/env bash
# Every error in a file is reported at once (SPEC §1): a structural error (here an unknown key)
# does not hide what the plugins say (an unknown plugin, a params rejection), for `validate` and
# for `run` alike; nothing is recorded.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
cat >staged.json <<'JSON'
{"name": "staged", "tasks": [
  {"id": "a", "plugin": "shell", "params": {"argv": ["true"]}, "retires": 2},
  {"id": "b", "plugin": "nope", "params": {}},
  {"id": "c", "plugin": "sleep", "params": {"ms": -1}},
  {"id": "d", "plugin": "shell", "params": {"argv": ["echo", "${params.x}"]}}
]}
JSON
for cmd in validate run; do
    run_df "$cmd" staged.json --db df.db
    expect_rc 2 "$cmd of a file with several kinds of errors"
    assert_contains "$DF_ERR" 'task "a": unknown key "retires"; did you mean "retries"?' "$cmd: key error"
    assert_contains "$DF_ERR" 'task "b": unknown plugin "nope"' "$cmd: plugin error"
    assert_contains "$DF_ERR" 'task "c": plugin sleep rejected its params' "$cmd: validate error"
    assert_not_contains "$DF_ERR" 'task "d"' "$cmd: a template string is accepted as a value"
    assert_eq 3 "$(grep -c '^dagflow: ' <<<"$DF_ERR")" "$cmd: error lines"
done
assert_file_absent df.db "database of a run that could not be loaded"
df_done
