#!/usr/bin/env bash
# profile.sh: where a no-op layered DAG run's time goes (issue 14), for the closing notes. Not
# pass/fail. One dagflow run under `perf record` (DWARF call graphs), then a second one under
# tests/bench/plugins/sqlite_steps.so; prints
#   - wall, CPU and peak RSS of the profiled run, and the load average;
#   - the share of samples by shared object, the top symbols by self time, and the inclusive
#     share of the engine's phases (load, run creation, transitions, events, attempts, commits,
#     dispatch, the run's summary, teardown);
#   - the SQLite statements per task, by kind (the first 72 characters of each statement).
# Usage: tests/bench/profile.sh [N_TASKS [OPTIONS...]]   (default 100000; OPTIONS go to `dagflow
# run`, e.g. --concurrency 8). Environment: DF_BIN (default build/dagflow; use a Release build),
# PEERS (../shared/peers, for gen_dag.py), FREQ (samples/s, 499), WORK (a new temporary folder,
# removed at the end unless KEEP=1). Needs perf and python3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${DF_BIN:-$here/../../build/dagflow}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
steps=$(dirname "$bin")/tests/bench/plugins/sqlite_steps.so
PEERS=${PEERS:-$here/../../../shared/peers}
[ -d "$PEERS" ] || PEERS=/work/shared/peers
n=${1:-100000}
shift $(($# > 0 ? 1 : 0))
WORK=${WORK:-$(mktemp -d /tmp/dfprof.XXXXXX)}
mkdir -p "$WORK"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
command -v perf >/dev/null || { echo "profile.sh: perf is not installed" >&2; exit 2; }

python3 "$PEERS/gen_dag.py" spec "$n" 100 "$WORK/dag.tsv" >/dev/null
python3 "$PEERS/gen_dag.py" dagflow "$WORK/dag.tsv" noop "$WORK/wf.json" >/dev/null
echo "# profile.sh $(date -u +%FT%TZ) bin=$bin ($(git -C "$here" rev-parse --short HEAD 2>/dev/null)) tasks=$n options=$* nproc=$(nproc)"
echo "load: $(uptime | sed 's/.*load average: //')"

mkdir -p "$WORK/p"
(cd "$WORK/p" && /usr/bin/time -f "%e %U %S %M" -o "$WORK/time.txt" \
    perf record -q -F "${FREQ:-499}" --call-graph dwarf,16384 -o "$WORK/perf.data" \
    "$bin" run --db df.db "$@" "$WORK/wf.json" >"$WORK/out.txt" 2>&1) ||
    { echo "profile.sh: the run failed: $(tail -2 "$WORK/out.txt")" >&2; exit 1; }
awk '{printf "profiled run (under perf): wall %.2f s, cpu %.2f s, peak RSS %.0f MB\n", $1, $2 + $3, $4 / 1024}' "$WORK/time.txt"
grep -m1 'SUCCESS in' "$WORK/out.txt" | sed 's/^/  /'

report() { perf report -i "$WORK/perf.data" --comm dagflow --stdio "$@" 2>/dev/null | grep -E '^ +[0-9.]+%'; }
echo "samples by shared object (engine thread and helpers, self):"
report --no-children --sort dso | head -8
echo "top symbols (self):"
report --no-children --sort sym -g none | grep -v '0x0000' | head -20
echo "phases (inclusive, share of all samples):"
report --children --sort sym -g none >"$WORK/incl.txt"
for f in df_workflow_load_file df_sqlite_create_run df_engine_start_loaded df_engine_wait \
    df_run_on_result df_run_dispatch df_store_transition df_sqlite_events_flush \
    df_sqlite_attempt_open df_sqlite_attempt_close df_store_commit sqlite3WalFrames \
    sqlite3_wal_checkpoint_v2 df_run_submit df_store_run_summary df_engine_close; do
    awk -v f="$f" '$NF == f {printf "  %-28s %s\n", f, $1; exit}' "$WORK/incl.txt"
done

if [ -f "$steps" ]; then
    mkdir -p "$WORK/s"
    (cd "$WORK/s" && env LD_PRELOAD="$steps" DF_STEPS_OUT="$WORK/steps.txt" DF_STEPS_BY_SQL=1 \
        "$bin" run --db df.db "$@" "$WORK/wf.json" >/dev/null 2>&1)
    echo "SQLite statements per task (second run, without perf):"
    awk -v n="$n" '/^steps /{printf "  all %.2f, may write %.2f\n", $2 / n, $4 / n; next}
        $1 / n >= 0.005 {c = $1; $1 = ""; printf "  %7.3f %s\n", c / n, $0}' "$WORK/steps.txt" | head -16
else
    echo "(no $steps: build the bench targets for the statement counts)"
fi
