#!/usr/bin/env bash
# test_security_plugins: untrusted plugin files are refused before they are loaded (SPEC §12,
# issue 15 item 10), as ssh's StrictModes does: a file writable by group or others, a file in a
# folder (at any level up to /) writable by group or others without the sticky bit, a file owned
# by a user other than root or the one running dagflow. The message names the file and the reason;
# the plugin's constructor never runs, not even in `validate`; `--allow-insecure-plugins` loads
# them. A sticky world-writable folder (as /tmp, where this test's folder lives) is fine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
command -v cc >/dev/null || skip "no C compiler (cc)"

# A plugin whose constructor leaves a mark: loading it, even to validate, runs that code.
mkdir -p src
cat >src/evil.c <<'EOF'
#include <dagflow/taskunit.h>
#include <stdio.h>
__attribute__((constructor)) static void mark(void)
{
    FILE *f = fopen("CONSTRUCTOR_RAN", "a");
    if (f)
        fclose(f);
}
static int evil_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx; (void)params; (void)result;
    return DF_TASK_OK;
}
DF_TASKUNIT_DEFINE(.name = "evil", .version = "1.0.0", .description = "marks", .execute = evil_execute);
EOF
cc -shared -fPIC -I"$DF_SOURCE_DIR/include" $(pkg-config --cflags jansson) src/evil.c -o src/evil.so ||
    fail "cannot build the test plugin"
cat >wf.json <<'EOF'
{"name": "uses_evil", "tasks": [{"id": "a", "plugin": "evil"}]}
EOF

# fresh DIR: DIR/evil.so, 0755 folder, 0755 file.
fresh() {
    rm -rf "$1" CONSTRUCTOR_RAN
    mkdir -p "$1"
    chmod 755 "$1"
    cp src/evil.so "$1/evil.so"
    chmod 755 "$1/evil.so"
}

# refused DIR WHY: validate and run refuse the plugin, naming the file and WHY, and load nothing.
refused() {
    local real
    real="$(realpath "$1")/evil.so"
    run_df validate wf.json --plugin-dir "$1"
    expect_rc 2 "validate with $1/evil.so ($2)"
    assert_contains "$DF_ERR" "plugin \"evil\": refusing to load $real: $2" "message for $1"
    assert_contains "$DF_ERR" "--allow-insecure-plugins" "the message names the option"
    assert_file_absent CONSTRUCTOR_RAN "the constructor of a refused plugin ran (validate)"
    run_df run wf.json --plugin-dir "$1" --db run.db
    expect_rc 2 "run with $1/evil.so ($2)"
    assert_file_absent CONSTRUCTOR_RAN "the constructor of a refused plugin ran (run)"
    run_df plugins --plugin-dir "$1"
    assert_contains "$DF_ERR" "refusing to load $real" "plugins lists the refusal"
    assert_file_absent CONSTRUCTOR_RAN "the constructor of a refused plugin ran (plugins)"
}

note "a safe folder loads (the constructor runs: this is the control)"
fresh p
run_df validate wf.json --plugin-dir p
expect_rc 0 "validate with a safe plugin"
[[ -f CONSTRUCTOR_RAN ]] || fail "the control plugin's constructor did not run"

note "a folder writable by others, without the sticky bit"
fresh p
chmod 777 p
refused p "its folder $(realpath p) is writable by others (mode 0777)"

note "a folder writable by its group"
fresh p
chmod 775 p
refused p "its folder $(realpath p) is writable by its group (mode 0775)"

note "a folder two levels up writable by others"
rm -rf top
mkdir -p top
fresh top/sub
chmod 757 top
refused top/sub "its folder $(realpath top) is writable by others (mode 0757)"
chmod 755 top

note "a file writable by its group or by others"
fresh p
chmod 775 p/evil.so
refused p "$(realpath p)/evil.so is writable by its group (mode 0775)"
chmod 757 p/evil.so
refused p "$(realpath p)/evil.so is writable by others (mode 0757)"

note "a file or folder owned by another user"
if [[ $(id -u) == 0 ]]; then
    fresh p
    chown 65534 p/evil.so
    refused p "$(realpath p)/evil.so is owned by"
    assert_contains "$DF_ERR" "not by root or the user running dagflow" "owner message"
    fresh p
    chown 65534 p
    refused p "its folder $(realpath p) is owned by"
else
    note "(not root: cannot give a file to another user; skipped)"
fi

note "--allow-insecure-plugins loads it"
fresh p
chmod 777 p
run_df validate wf.json --plugin-dir p --allow-insecure-plugins
expect_rc 0 "validate --allow-insecure-plugins"
[[ -f CONSTRUCTOR_RAN ]] || fail "--allow-insecure-plugins did not load the plugin"

note "a sticky folder writable by others (as /tmp) is fine"
fresh p
chmod 1777 p
run_df validate wf.json --plugin-dir p
expect_rc 0 "validate from a sticky world-writable folder"
[[ "$(stat -c %a /tmp)" == 1777 ]] && note "/tmp is 1777, as this test's own folder's parent"

note "a plugin named by path in the workflow is checked too"
fresh p
chmod 777 p
cat >bypath.json <<'EOF'
{"name": "bypath", "tasks": [{"id": "a", "plugin": "p/evil.so"}]}
EOF
run_df validate bypath.json
expect_rc 2 "a plugin path in the workflow"
assert_contains "$DF_ERR" "refusing to load $(realpath p)/evil.so: its folder" "path plugin message"
assert_file_absent CONSTRUCTOR_RAN "the constructor of a plugin named by path ran"

df_done
