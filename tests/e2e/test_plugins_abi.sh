#!/usr/bin/env bash
# test_plugins_abi: plugins built against an older ABI keep working (SPEC §2, §10). In one run, a
# plugin built against the frozen ABI-1 header (tests/plugins/abi1/: df_task_spawn with the
# ABI-1 structs, no size field) and one built against the current header (sized structs) run the
# same child; both succeed with the same, right result, and the ABI-1 plugin's df_task_log line is
# stored. The sized structs are honoured: fields past opts.size are not read, fields past
# res.size are not written, a size of 0 is refused with a clear error. The init hook runs before
# the plugin's first task, a failing one refuses the plugin with its message, and a plugin that
# declares ABI 1 gets no init (the field is not part of its layout).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/run_lib.sh"
run_setup
need_plugin abi1_spawn
need_plugin abi2_spawn
need_plugin lifecycle

note "each plugin binds the spawn symbols of its own ABI"
if command -v nm >/dev/null; then
    old_syms="$(nm -D --undefined-only "$DF_TEST_PLUGIN_DIR/abi1_spawn.so")"
    new_syms="$(nm -D --undefined-only "$DF_TEST_PLUGIN_DIR/abi2_spawn.so")"
    assert_match "$old_syms" ' df_task_spawn$' "abi1_spawn calls df_task_spawn"
    assert_match "$old_syms" ' df_spawn_result_free$' "abi1_spawn calls df_spawn_result_free"
    assert_match "$new_syms" ' df_task_spawn2$' "abi2_spawn calls df_task_spawn2"
    assert_match "$new_syms" ' df_spawn_result_free2$' "abi2_spawn calls df_spawn_result_free2"
else
    echo "note: nm is not installed; the symbol check is skipped"
fi

note "an ABI-1 plugin and an ABI-2 plugin side by side in one run"
mkdir -p sub
# The child: an extra env entry, the working directory, stdin, stderr, exit code 3.
script='printf "env=%s cwd=%s in=" "$ABI_X" "$(pwd -P)"; cat; printf "err-%s" "$DAGFLOW_ATTEMPT" >&2; exit 3'
cat >both.json <<EOF2
{"name": "abi_both", "tasks": [
  {"id": "old", "plugin": "abi1_spawn", "params": {"argv": ["/bin/sh", "-c", $(jq -Rn --arg s "$script" '$s')],
   "env": ["ABI_X=from-env"], "cwd": "sub", "stdin": "from-stdin"}},
  {"id": "new", "plugin": "abi2_spawn", "params": {"argv": ["/bin/sh", "-c", $(jq -Rn --arg s "$script" '$s')],
   "env": ["ABI_X=from-env"], "cwd": "sub", "stdin": "from-stdin"}},
  {"id": "old_cut", "plugin": "abi1_spawn",
   "params": {"argv": ["/bin/sh", "-c", "printf abcdefgh; printf ijkl >&2"], "capture_max": 4}},
  {"id": "new_cut", "plugin": "abi2_spawn",
   "params": {"argv": ["/bin/sh", "-c", "printf abcdefgh; printf ijkl >&2"], "capture_max": 4}},
  {"id": "old_sig", "plugin": "abi1_spawn", "params": {"argv": ["/bin/sh", "-c", "kill -TERM \$\$"]}},
  {"id": "new_sig", "plugin": "abi2_spawn", "params": {"argv": ["/bin/sh", "-c", "kill -TERM \$\$"]}}
]}
EOF2
run_wf both.json --json
expect_rc 0 "the run with both plugins"
run_id="$(last_run)"
expect_run "$run_id" SUCCESS
sub_real="$(cd sub && pwd -P)"
want="$(jq -cn --arg out "env=from-env cwd=$sub_real in=from-stdin" \
    '{exit_code: 3, term_signal: 0, cancelled: false, stdout: $out, stdout_len: ($out | length),
      stdout_truncated: false, stderr: "err-1", stderr_len: 5, stderr_truncated: false}')"
result() { jv ".tasks[] | select(.id == \"$1\") | .result" "$DF_OUT"; }
assert_eq "$want" "$(result old)" "the ABI-1 plugin's spawn result"
assert_eq "$want" "$(result new)" "the ABI-2 plugin's spawn result"
want_cut='{"exit_code":0,"term_signal":0,"cancelled":false,"stdout":"abcd","stdout_len":4,"stdout_truncated":true,"stderr":"ijkl","stderr_len":4,"stderr_truncated":false}'
assert_eq "$want_cut" "$(result old_cut)" "ABI 1: capture_max and the truncated flags"
assert_eq "$want_cut" "$(result new_cut)" "ABI 2: capture_max and the truncated flags"
want_sig='{"exit_code":-1,"term_signal":15,"cancelled":false,"stdout":"","stdout_len":0,"stdout_truncated":false,"stderr":"","stderr_len":0,"stderr_truncated":false}'
assert_eq "$want_sig" "$(result old_sig)" "ABI 1: a child ended by a signal"
assert_eq "$want_sig" "$(result new_sig)" "ABI 2: a child ended by a signal"
assert_contains "$(q "SELECT log FROM attempt_history WHERE run_id = $run_id AND task_id = 'old'")" \
    "abi1_spawn: /bin/sh exited with 3" "the ABI-1 plugin's df_task_log line"

note "the engine reads only the fields opts.size covers, and writes only those res.size covers"
cat >short.json <<'EOF2'
{"name": "abi_short", "tasks": [
  {"id": "short_opts", "plugin": "abi2_spawn",
   "params": {"argv": ["/bin/sh", "-c", "printf '[%s] ' \"$ABI_X\"; pwd -P; cat"],
              "env": ["ABI_X=must-not-be-seen"], "cwd": "sub", "stdin": "must-not-be-read",
              "short_opts": true}},
  {"id": "short_result", "plugin": "abi2_spawn",
   "params": {"argv": ["/bin/sh", "-c", "echo lost; exit 5"], "short_result": true}}
]}
EOF2
run_wf short.json --json
expect_rc 0 "the run with short structs"
work_real="$(pwd -P)"
assert_eq "\"[] $work_real\\n\"" "$(jv '.tasks[] | select(.id == "short_opts") | .result.stdout' "$DF_OUT")" \
    "no env, cwd or stdin past opts.size"
assert_eq '{"exit_code":5,"term_signal":0,"cancelled":false,"stdout":"","stdout_len":0,"stdout_truncated":false,"stderr":"","stderr_len":0,"stderr_truncated":false,"tail_intact":true}' \
    "$(jv '.tasks[] | select(.id == "short_result") | .result' "$DF_OUT")" \
    "the fields before stdout_data written, the bytes past res.size untouched"

note "a struct whose size was never set is refused with a clear error"
cat >nosize.json <<'EOF2'
{"name": "abi_nosize", "tasks": [
  {"id": "t", "plugin": "abi2_spawn", "params": {"argv": ["/bin/true"], "opts_size": 0}}]}
EOF2
run_wf nosize.json
expect_rc 1 "the run fails"
run_id="$(last_run)"
assert_eq "FAILED" "$(task_state "$run_id" t)" "the task"
assert_eq "abi2_spawn: spawn: df_spawn_opts.size is 0, too small to hold argv (start the options from DF_SPAWN_OPTS_INIT)" \
    "$(q "SELECT error FROM attempt_history WHERE run_id = $run_id AND task_id = 't'")" "the error"
assert_eq "1" "$(q "SELECT count(*) FROM attempt_history WHERE run_id = $run_id")" "not retried"

note "init runs once before the plugin's first task; a plugin declaring ABI 1 gets none"
cat >life.json <<'EOF2'
{"name": "abi_life", "tasks": [{"id": "a", "plugin": "lifecycle"},
                               {"id": "b", "plugin": "lifecycle", "depends_on": ["a"]}]}
EOF2
run_wf life.json --json
expect_rc 0 "lifecycle at ABI 2"
assert_eq '{"inits":1,"finis":0}' "$(jv '.tasks[] | select(.id == "b") | .result' "$DF_OUT")" \
    "init ran once"
DFTEST_LIFECYCLE_ABI=1 run_wf life.json --json
expect_rc 0 "lifecycle declaring ABI 1"
assert_eq '{"inits":0,"finis":0}' "$(jv '.tasks[] | select(.id == "b") | .result' "$DF_OUT")" \
    "an ABI-1 plugin's init is not read"

note "a failing init refuses the plugin with its message; a wrong ABI names both numbers"
DFTEST_LIFECYCLE_INIT_FAIL="no licence server" run_df validate life.json \
    --plugin-dir "$DF_TEST_PLUGIN_DIR"
expect_rc 2 "validate with a failing init"
expect_stderr_lines_prefixed
plugin_dir_real="$(cd "$DF_TEST_PLUGIN_DIR" && pwd -P)"
assert_contains "$DF_ERR" "$plugin_dir_real/lifecycle.so: init failed: no licence server" \
    "the init's message"
for abi in 0 4; do
    DFTEST_LIFECYCLE_ABI=$abi run_df validate life.json --plugin-dir "$DF_TEST_PLUGIN_DIR"
    expect_rc 2 "validate with ABI $abi"
    assert_contains "$DF_ERR" \
        "lifecycle.so was built for plugin ABI $abi, this dagflow supports plugin ABI 1 to 3" \
        "the refusal of ABI $abi"
done

run_done
