#!/usr/bin/env bash
# test_durability_crash_short: the random-kill crash test (tests/crash/crash_test.sh) in its short
# CI mode: about 5 SIGKILLs at random moments of runs of 120 tasks, resuming after each, with the
# store invariants of SPEC §3/§7 checked after every kill and at the end of every run, and no task
# failed by LOST attempts unless its own plugin crashed the engine (SPEC §12). A fixed
# seed keeps CI reproducible; run the script itself with --kills 200 (and no seed) for a long run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup
command -v sqlite3 >/dev/null || skip "the sqlite3 shell is not installed"
out="$(bash "$DF_SOURCE_DIR/tests/crash/crash_test.sh" --short --seed "${DF_CRASH_SEED:-4242}" \
    --build "$DF_BUILD_DIR" 2>&1)" || fail "crash_test.sh --short failed: $out"
echo "$out"
assert_match "$out" "^crash_test: seed [0-9]+: 5 kills survived( \\(plus [0-9]+ engine crashes [^)]*\\))?, [1-9][0-9]* runs completed .* 0 tasks failed by LOST without their own plugin crashing, .* 0 failures" \
    "crash test summary"
df_done
