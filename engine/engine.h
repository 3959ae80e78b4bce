/* engine: the embedding API the CLI uses to run workflows. One df_engine is one engine process's
 * worth of shared things (event loop, coroutine pool, store connection, plugin registry, named
 * pools' slots); it drives runs to their end on the calling thread. */
#ifndef DF_ENGINE_H
#define DF_ENGINE_H

#include <jansson.h>
#include <stddef.h>

#include "errlist.h"
#include "pool/pool.h"
#include "state.h"

typedef struct df_engine df_engine;

/* A task instance or run changed state (for progress display). All pointers borrowed, valid
 * during the call. task_id is NULL for a run-level change. */
typedef struct df_engine_event {
    long long run_id;
    const char *workflow;
    const char *task_id;
    df_task_state task_state;
    df_run_state run_state;
    unsigned attempt;
    const char *error; /* NULL when none */
    size_t tasks_total;
    size_t tasks_final;   /* tasks in a final state */
    size_t tasks_running; /* attempts in flight */
    size_t tasks_failed;
} df_engine_event;

typedef struct df_engine_config {
    const char *db_path;            /* borrowed */
    const char *const *plugin_dirs; /* borrowed: --plugin-dir values */
    size_t n_plugin_dirs;
    df_pool_config pool; /* workers, queue capacity, stack size */
    size_t concurrency;  /* attempts in flight at most (all runs); default 256 */
    /* Called on the engine thread for every state change; may be NULL. */
    void (*on_event)(void *ud, const df_engine_event *ev);
    void *ud;
} df_engine_config;

/* Status of the df_engine_* run calls. */
typedef enum df_engine_status {
    DF_ENGINE_OK = 0,      /* the run reached a final state (see *state) */
    DF_ENGINE_EINPUT,      /* unusable input (errors in errs); nothing was recorded */
    DF_ENGINE_EREFUSED,    /* resume/retry refused (reason in errs) */
    DF_ENGINE_ESTORE,      /* the store failed (reason in errs); the run can be resumed */
    DF_ENGINE_EINTERNAL,   /* anything else (reason in errs) */
    DF_ENGINE_INTERRUPTED, /* stopped by SIGINT/SIGTERM; the run is INTERRUPTED */
} df_engine_status;

/* Fills cfg with defaults (db "./dagflow.db", concurrency 256, df_pool_config_default). */
void df_engine_config_default(df_engine_config *cfg);

/* Opens the store and the plugin registry. The pool starts with the first run. Returns 0, or -1
 * with a message in err. Not thread-safe: one engine per thread. */
int df_engine_open(const df_engine_config *cfg, df_engine **out, char *err, size_t errlen);

/* Stops the pool (waiting at most 5000 ms for attempts that ignore cancellation, and not at all
 * when every attempt left was already abandoned), closes the store and unloads plugins. NULL is
 * fine. Returns how many pool workers were left behind still running plugin code (see
 * df_pool_destroy): when not 0, the caller, once done, should leave with _exit(2) rather than
 * exit(3), which would wait for them. */
size_t df_engine_close(df_engine *e);

/* Loads, validates, records and runs a workflow file to the end (SPEC §6 `run`). params
 * (borrowed, may be NULL) is an object overriding the workflow's params. On DF_ENGINE_OK,
 * *run_id and *state tell the run and how it ended; a file that cannot be loaded records nothing
 * (DF_ENGINE_EINPUT); a workflow whose tasks a plugin rejects is recorded as an INVALID run
 * (DF_ENGINE_OK with state INVALID, the rejections in errs). */
df_engine_status df_engine_run_file(df_engine *e, const char *path, const json_t *params,
                                    long long *run_id, df_run_state *state, df_errlist *errs);

/* Continues an INTERRUPTED run, or a RUNNING one whose engine is dead (SPEC §6 `resume`). */
df_engine_status df_engine_resume(df_engine *e, long long run_id, df_run_state *state,
                                  df_errlist *errs);

/* Reopens a finished run (SPEC §6 `retry`): task NULL = its FAILED and UPSTREAM_FAILED tasks and
 * the SKIPPED ones downstream of them; else that task and everything downstream of it. */
df_engine_status df_engine_retry(df_engine *e, long long run_id, const char *task,
                                 df_run_state *state, df_errlist *errs);

#endif
