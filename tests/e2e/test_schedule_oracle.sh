#!/usr/bin/env bash
# test_schedule_oracle: the schedule engine against fire times computed at test time by an
# independent oracle (tests/unit/schedule_oracle.py: Python's zoneinfo over the system's tz
# database, brute force over local days). Regenerates the table, then runs the unit test
# test_schedule on it (DF_SCHEDULE_ORACLE); the checked-in tests/data/schedule_oracle.tsv is the
# same table as of its commit (a difference means the tz database changed: the fresh one wins).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
df_setup

command -v python3 >/dev/null || skip "python3 is not installed"
python3 -c 'import zoneinfo; zoneinfo.ZoneInfo("Australia/Lord_Howe")' 2>/dev/null ||
    skip "python3's zoneinfo cannot read the tz database"
python3 "$DF_SOURCE_DIR/tests/unit/schedule_oracle.py" >fresh.tsv
lines=$(wc -l <fresh.tsv)
[[ "$lines" -ge 300 ]] || fail "the oracle made only $lines cases"
if ! cmp -s fresh.tsv "$DF_SOURCE_DIR/tests/data/schedule_oracle.tsv"; then
    note "the fresh table differs from the checked-in one (tz database changed?); using the fresh one"
fi
DF_SCHEDULE_ORACLE="$PWD/fresh.tsv" "$DF_BUILD_DIR/tests/test_schedule" >out.txt 2>&1 ||
    { cat out.txt; fail "test_schedule disagrees with the fresh oracle"; }
grep 'oracle:' out.txt
assert_contains "$(cat out.txt)" ", 0 differ" "oracle comparison"
df_done
