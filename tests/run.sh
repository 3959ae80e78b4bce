#!/usr/bin/env bash
# Builds dagflow and runs the whole test suite twice: a normal build (build/) and one under
# AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/). Exits non-zero on any failure.
#
# Options (none: the above, once; that is what CI and the README run):
#   --under-load   run `stress-ng --cpu 4` beside the suite (the loaded, shared machine CI may be;
#                  every test must pass so), stopped at the end, whatever happens
#   --repeat N     run each build's ctest N times; prints how many passes were clean
#   --normal-only  only the normal build (quicker, for repeated runs)
#   -- ARGS...     more arguments for ctest (e.g. -- -LE pg: without the PostgreSQL label)
# The e2e tests run again on PostgreSQL (ctest label `pg`, a throwaway cluster the suite starts)
# in the normal build; the sanitizer build runs the PostgreSQL backend's own tests (pg_test_*)
# but not that second pass of the e2e suite (pg_e2e_*), to keep CI's time.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

under_load=0 repeat=1 asan=1
ctest_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --)
        shift
        ctest_args=("$@")
        break ;;
    --under-load) under_load=1 ;;
    --repeat)
        [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "tests/run.sh: --repeat needs a count (1 or more)" >&2; exit 2; }
        repeat=$2
        shift ;;
    --repeat=*)
        repeat=${1#--repeat=}
        [[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "tests/run.sh: --repeat needs a count (1 or more)" >&2; exit 2; } ;;
    --normal-only) asan=0 ;;
    -h | --help)
        sed -n '2,10s/^# \{0,1\}//p' "$0"
        exit 0 ;;
    *)
        echo "tests/run.sh: unknown option $1 (see tests/run.sh --help)" >&2
        exit 2 ;;
    esac
    shift
done

stress_pid=
stop_stress() {
    if [[ -n "$stress_pid" ]]; then
        kill -TERM -- "-$stress_pid" 2>/dev/null || true # its whole process group
        wait "$stress_pid" 2>/dev/null || true
        stress_pid=
    fi
}
if ((under_load)); then
    command -v stress-ng >/dev/null || { echo "tests/run.sh: --under-load needs stress-ng (apt-get install stress-ng)" >&2; exit 2; }
    trap stop_stress EXIT
    trap 'exit 130' INT TERM
    # A session (and process group) of its own, so that one kill stops it and its workers; the
    # timeout is a backstop should this script itself be killed with SIGKILL.
    setsid stress-ng --cpu 4 --timeout 4h >/dev/null 2>&1 &
    stress_pid=$!
    echo "== under load: stress-ng --cpu 4 (pid $stress_pid) =="
fi

# run_ctest DIR [ENV...]: runs DIR's ctest $repeat times (options: ctest_extra, ctest_args);
# counts the clean passes.
failed=0
ctest_extra=()
run_ctest() {
    local dir=$1 pass=0 i
    shift
    for ((i = 1; i <= repeat; i++)); do
        ((repeat == 1)) || echo "-- $dir: pass $i of $repeat"
        if (cd "$dir" && env "$@" ctest --output-on-failure -j"$jobs" "${ctest_extra[@]}" "${ctest_args[@]}"); then
            pass=$((pass + 1))
        fi
    done
    ((repeat == 1)) || echo "== $dir: $pass of $repeat passes clean =="
    ((pass == repeat)) || failed=1
}

echo "== build and test (RelWithDebInfo) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
run_ctest build
((failed == 0 || repeat > 1)) || exit 1

if ((asan)); then
    echo "== build and test (AddressSanitizer + UBSan) =="
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDF_SANITIZE=ON >/dev/null
    cmake --build build-asan -j"$jobs"
    ctest_extra=(-E '^pg_e2e_')
    run_ctest build-asan ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
exit "$failed"
