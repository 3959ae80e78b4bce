/* bench_store: cost of the store's writes for one task's life, as the engine makes them, with no
 * engine around (store/ alone). Not a test: it prints figures.
 *
 *   bench_store [N] [SLICE] [DB]
 *
 * Creates a run of N independent tasks (default 10,000), then moves every task through
 * PENDING -> QUEUED, QUEUED -> RUNNING with its attempt opened, and attempt closed + RUNNING ->
 * SUCCESS with a small result, SLICE tasks per transaction (default 512, the engine's per-turn
 * slice). Prints, per phase, the wall time and the microseconds per task. DB defaults to a new
 * file in /tmp, removed at the end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "store/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(df_store *s, const char *what)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, s ? df_store_error(s) : "");
    exit(1);
}

static void report(const char *phase, double t, int n)
{
    printf("%-34s %8.1f ms %7.2f us/task\n", phase, t * 1e3, t * 1e6 / n);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int slice = argc > 2 ? atoi(argv[2]) : 512;
    char path[256];
    if (argc > 3)
        snprintf(path, sizeof path, "%s", argv[3]);
    else
        snprintf(path, sizeof path, "/tmp/bench_store_%d.db", (int)getpid());
    if (n <= 0 || slice <= 0) {
        fprintf(stderr, "usage: bench_store [N] [SLICE] [DB]\n");
        return 2;
    }

    df_store *s = NULL;
    char err[512];
    double t0 = now_s();
    if (df_store_open(path, &s, err, sizeof err) != DF_STORE_OK) {
        fprintf(stderr, "bench_store: %s\n", err);
        return 1;
    }
    report("open (new file, schema)", now_s() - t0, 1);

    char(*ids)[16] = calloc((size_t)n, sizeof *ids);
    df_task_record *tasks = calloc((size_t)n, sizeof *tasks);
    json_t *dag_tasks = json_array();
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "t%d", i);
        tasks[i] = (df_task_record){.id = ids[i], .plugin = "sleep"};
        json_array_append_new(dag_tasks, json_pack("{s:s, s:s, s:{s:i}}", "id", ids[i], "plugin",
                                                   "sleep", "params", "ms", 1000));
    }
    int64_t at = wall_ms();
    json_t *dag = json_pack("{s:s, s:o}", "name", "bench", "tasks", dag_tasks);
    char *dag_json = json_dumps(dag, JSON_COMPACT);
    json_decref(dag);
    df_engine_id engine = {.pid = getpid(), .host = "bench", .started_at = at};
    df_plugin_version plugin = {.name = "sleep", .version = "1.0"};
    df_run_record run = {.workflow = "bench",
                         .dag_json = dag_json,
                         .path = "/tmp/bench.json",
                         .dir = "/tmp",
                         .params_json = "{}",
                         .plugins = &plugin,
                         .n_plugins = 1,
                         .started_at = at,
                         .engine = &engine,
                         .tasks = tasks,
                         .n_tasks = (size_t)n};
    long long run_id = 0;
    t0 = now_s();
    if (df_store_create_run(s, &run, &run_id) != DF_STORE_OK)
        die(s, "create run");
    report("create run (tasks PENDING)", now_s() - t0, n);
    free(dag_json);
    free(tasks);

    for (int phase = 0; phase < 3; phase++) {
        t0 = now_s();
        for (int b = 0; b < n; b += slice) {
            if (df_store_begin(s) != DF_STORE_OK)
                die(s, "begin");
            for (int i = b; i < b + slice && i < n; i++) {
                df_transition t = {.run_id = run_id, .task_id = ids[i], .at = wall_ms()};
                if (phase == 0) {
                    t.from = DF_TS_PENDING;
                    t.to = DF_TS_QUEUED;
                } else if (phase == 1) {
                    t.from = DF_TS_QUEUED;
                    t.to = DF_TS_RUNNING;
                    t.to_attempt = 1;
                } else {
                    if (df_store_attempt_close(s, run_id, ids[i], 1, DF_AO_SUCCESS, t.at, NULL,
                                               NULL) != DF_STORE_OK)
                        die(s, "close attempt");
                    t.from = DF_TS_RUNNING;
                    t.from_attempt = 1;
                    t.to = DF_TS_SUCCESS;
                    t.to_attempt = 1;
                    t.result_json = "{\"slept_ms\":1000}";
                    t.error = "";
                }
                if (df_store_transition(s, &t) != DF_STORE_OK)
                    die(s, "transition");
                if (phase == 1 && df_store_attempt_open(s, run_id, ids[i], 1, t.at) != DF_STORE_OK)
                    die(s, "open attempt");
            }
            if (df_store_commit(s) != DF_STORE_OK)
                die(s, "commit");
        }
        static const char *const names[] = {"PENDING -> QUEUED", "QUEUED -> RUNNING + open",
                                            "close + RUNNING -> SUCCESS"};
        report(names[phase], now_s() - t0, n);
    }
    t0 = now_s();
    if (df_store_run_set_state(s, run_id, DF_RS_SUCCESS, wall_ms()) != DF_STORE_OK)
        die(s, "run state");
    json_t *summary = NULL;
    if (df_store_run_summary(s, run_id, 11, &summary) != DF_STORE_OK)
        die(s, "summary");
    json_decref(summary);
    report("run end + summary", now_s() - t0, 1);
    df_store_close(s);
    free(ids);
    if (argc <= 3) {
        char p[300];
        static const char *const suffixes[] = {"", "-wal", "-shm"};
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "%s%s", path, suffixes[k]);
            unlink(p);
        }
    }
    return 0;
}
