#!/usr/bin/python3
"""latency.py: ready->running wait of every non-root task of a layered DAG (bench only).

A task's wait is the time from the end of its last dependency's execution to the start of its
own, both stamped inside the task on the process's monotonic clock. That is an upper bound of
the engine's ready->running latency (it includes recording the dependency's end).

  latency.py dagflow DB SPEC.tsv    dagflow's run in DB used tests/bench/stamp.so
  latency.py dask SPEC.tsv JOBS     runs the DAG on dask's threads scheduler with the same stamps
Prints: n=<tasks> p50_ms=<> p99_ms=<> max_ms=<>
"""
import json
import sys
import time


def read_spec(path):
    rows = []
    with open(path) as f:
        for line in f:
            name, deps = line.rstrip("\n").split("\t")
            rows.append((name, [] if deps == "-" else deps.split(",")))
    return rows


def report(rows, stamps):
    waits = sorted(stamps[n][0] - max(stamps[d][1] for d in deps)
                   for n, deps in rows if deps)
    def pct(p):
        return waits[min(len(waits) - 1, int(p * len(waits)))] / 1000.0
    print("n=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f"
          % (len(waits), pct(0.50), pct(0.99), waits[-1] / 1000.0))


def from_dagflow(db, spec):
    import sqlite3
    rows = read_spec(spec)
    c = sqlite3.connect(db)
    run = c.execute("SELECT max(run_id) FROM runs").fetchone()[0]
    stamps = {}
    for tid, res in c.execute(
            "SELECT task_id, result FROM task_instances WHERE run_id = ?", (run,)):
        r = json.loads(res)
        stamps[tid] = (r["s"], r["e"])
    report(rows, stamps)


def from_dask(spec, jobs):
    import dask
    rows = read_spec(spec)
    stamps = {}

    def fn(name, *deps):
        s = time.monotonic_ns() // 1000
        stamps[name] = (s, time.monotonic_ns() // 1000)
        return name

    d = dask.delayed(fn, pure=False)
    nodes = {}
    for name, deps in rows:
        nodes[name] = d(name, *[nodes[x] for x in deps], dask_key_name="k-" + name)
    dask.compute(*nodes.values(), scheduler="threads", num_workers=jobs)
    report(rows, stamps)


if __name__ == "__main__":
    if sys.argv[1] == "dagflow":
        from_dagflow(sys.argv[2], sys.argv[3])
    else:
        from_dask(sys.argv[2], int(sys.argv[3]))
