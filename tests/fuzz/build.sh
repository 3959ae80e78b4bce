#!/usr/bin/env bash
# build.sh: builds the libFuzzer targets of tests/fuzz/ with clang (-fsanitize=fuzzer,address,
# undefined) against the engine sources they exercise, and makes their seed corpora.
#
# Usage: tests/fuzz/build.sh [OUT_DIR]        (default OUT_DIR: build-fuzz/ in the source tree)
# Then, e.g.:
#   OUT/fuzz_workflow -jobs=1 -max_total_time=300 OUT/corpus/workflow
#   OUT/fuzz_template -jobs=1 -max_total_time=300 -dict=tests/fuzz/template.dict OUT/corpus/template
# A crash is written as crash-<sha1> in the current folder; replay it with `OUT/fuzz_X crash-...`.
#
# Seeds: fuzz_workflow gets every workflow JSON of workflows/, tests/data/workflows/ and
# tests/e2e/data/ (each is already a valid or deliberately broken workflow); fuzz_template gets
# the string values of those files that contain "${" (with mode byte 0 = a plain string) and a
# few hand-written references.
# fuzz_workflow also loads every input through the streaming (yajl) loader and compares.
# Needs clang (14 here) with its libFuzzer runtime (Debian: libclang-rt-14-dev), jansson's and
# yajl's development files, libjq (`when`), and sqlite3/jq for nothing (seeds are extracted with
# jansson-free shell).
# The default CMake build does not include these targets; `cmake -DDF_FUZZ=ON` builds the same
# with CMake (see the block at the end of CMakeLists.txt).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$(cd "$HERE/../.." && pwd)"
OUT="${1:-$SRC/build-fuzz}"
CC="${CC:-clang}"
mkdir -p "$OUT"

FLAGS=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=undefined -D_GNU_SOURCE -I"$SRC" -I"$SRC/include")
# shellcheck disable=SC2207
PKG=($(pkg-config --cflags --libs jansson glib-2.0 yajl))
ENGINE=("$SRC/engine/workflow.c" "$SRC/engine/workflow_task.c" "$SRC/engine/workflow_cycles.c"
    "$SRC/engine/workflow_fields.c"
    "$SRC/engine/workflow_stream.c" "$SRC/engine/workflow_map.c" "$SRC/engine/workflow_on_exit.c"
    "$SRC/engine/dag.c" "$SRC/engine/template.c" "$SRC/engine/template_ref.c" "$SRC/engine/template_shell.c"
    "$SRC/engine/suggest.c" "$SRC/engine/errlist.c" "$SRC/engine/json_kind.c" "$SRC/engine/expr.c"
    "$SRC/engine/state.c" "$SRC/engine/path.c" "$SRC/engine/model.c"
    "$SRC/engine/workflow_schedule.c" "$SRC/engine/schedule.c" "$SRC/engine/cron.c"
    "$SRC/engine/tz.c" "$SRC/engine/civil.c")

for target in workflow template; do
    echo "build.sh: $OUT/fuzz_$target"
    "$CC" "${FLAGS[@]}" "$HERE/fuzz_$target.c" "${ENGINE[@]}" "${PKG[@]}" -ljq -lm -o "$OUT/fuzz_$target"
done

# Seed corpora.
mkdir -p "$OUT/corpus/workflow" "$OUT/corpus/template"
n=0
while IFS= read -r -d '' f; do
    cp "$f" "$OUT/corpus/workflow/seed_$(printf '%03d' $n)_$(basename "$f")"
    n=$((n + 1))
done < <(find "$SRC/workflows" "$SRC/tests/data/workflows" "$SRC/tests/e2e/data" -name '*.json' \
    -print0 2>/dev/null)
m=0
# Every "..." JSON string containing ${ from those files, as a mode-0 (plain string) input.
while IFS= read -r line; do
    printf '\0%s' "$line" >"$OUT/corpus/template/seed_$(printf '%03d' $m)"
    m=$((m + 1))
done < <(find "$SRC/workflows" "$SRC/tests/data/workflows" "$SRC/tests/e2e/data" -name '*.json' \
    -exec cat {} + 2>/dev/null | grep -o '"[^"]*\${[^"]*"' | sed 's/^"//; s/"$//' | sort -u)
for t in '${params.day}' '${params.obj.a.2.b}' 'x ${run.id} ${run.workflow} y' '${task.id}-${task.attempt}' \
    '${env.DF_FUZZ_ENV}' '${tasks.up.result}' '${tasks.up.result.json.rows.1.id}' \
    'a $${literal} b' '${tasks.arr.result.2.0}' '${params.nothing}' '${' '${}' '${params.}'; do
    printf '\0%s' "$t" >"$OUT/corpus/template/seed_$(printf '%03d' $m)"
    m=$((m + 1))
done
printf '\001{"a": ["${params.n}", {"b": "${tasks.up.result.stdout}"}], "c": 1}' \
    >"$OUT/corpus/template/seed_json"
echo "build.sh: seeds: $n workflows, $m template strings in $OUT/corpus"
