/* pool: the engine's coroutine pool. Worker OS threads, each with its own libuv loop and its own
 * stackful coroutines; a job's execute() runs in one coroutine, which never leaves the thread
 * that created it. The scheduler submits immutable jobs and receives results through a callback;
 * workers never touch the store or the DAG. */
#ifndef DF_POOL_H
#define DF_POOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <dagflow/dagflow.h>
#include <dagflow/taskunit.h>

#include "../state.h"

typedef struct df_pool df_pool;

typedef struct df_pool_config {
    unsigned workers_min;  /* OS threads always running; default: online CPUs, at least 2 */
    unsigned workers_max;  /* most worker threads, counting replaced ones still stuck in a
                            * coroutine, except those stuck in a cancelled job (lost until the
                            * plugin returns); default 2 * cores, at least workers_min */
    size_t queue_capacity; /* most jobs submitted but not yet started; default 65536 */
    size_t stack_size;     /* bytes per coroutine stack (guard page extra); default 256 KiB */
    /* Names and fnmatch patterns of the engine's environment that tasks' children get beyond the
     * base environment (proc.h), NULL-terminated, or NULL. Borrowed: must outlive the pool. */
    const char *const *pass_env;
    /* Caps (SPEC §12), in bytes; 0 = the default. A result whose compact JSON is longer fails
     * the attempt permanently, naming the task and the cap (default DF_POOL_MAX_RESULT_BYTES); a
     * log keeps its newest max_log_bytes (whole lines, default DF_POOL_MAX_LOG_BYTES), after a
     * line saying it was cut. */
    size_t max_result_bytes;
    size_t max_log_bytes;
} df_pool_config;

#define DF_POOL_MAX_RESULT_BYTES ((size_t)4 * 1024 * 1024)
#define DF_POOL_MAX_LOG_BYTES ((size_t)64 * 1024)

/* One attempt of one task, handed to the pool. The pool takes ownership of the whole struct at
 * df_pool_submit (it frees params, task_id, workdir and the struct after the callback). */
typedef struct df_job {
    const df_taskunit *unit; /* borrowed: plugins stay loaded for the pool's lifetime */
    json_t *params;          /* owned: resolved params (not shared with any other thread) */
    char *task_id;           /* owned */
    char *workdir;           /* owned: default working directory of children */
    long long run_id;
    unsigned attempt;
    bool mapped;         /* a mapped instance (SPEC §8): its children get DAGFLOW_MAP_INDEX */
    long long map_index; /* its index */
    void *user;          /* opaque to the pool; handed back in the result */
} df_job;

/* How an attempt ended, from the worker's side. Owned by the receiver of the callback. */
typedef struct df_job_result {
    int status;     /* DF_TASK_OK, DF_TASK_FAILED, DF_TASK_FAILED_PERMANENT or DF_TASK_SKIPPED */
    int cancelled;  /* non-zero when the attempt had been cancelled */
    json_t *result; /* owned: execute's result, or NULL */
    char *error;    /* owned: df_task_set_error's message, or NULL */
    char *log;      /* owned: the attempt's log lines joined with '\n', or NULL */
    uint64_t started_mono_ms;
    uint64_t ended_mono_ms;
    uint64_t started_mono_us;   /* when execute began (df_mono_us), 0 when it never did */
    void *user;                 /* df_job.user */
    struct df_job_result *next; /* the receiver's to use (e.g. to queue results without
                                 * allocating); NULL when delivered */
} df_job_result;

/* Frees the owned members of a result and the struct itself. NULL is fine. */
void df_job_result_free(df_job_result *r);

/* Called once per submitted job, on a worker thread, when execute() has returned (or the job
 * ended without starting). Must be thread-safe and quick (post the result to the engine thread
 * and return); takes ownership of res. The result was allocated at df_pool_submit, so delivering
 * it needs no memory: a job that was accepted always gets its callback. */
typedef void (*df_pool_done_fn)(df_job_result *res, void *ud);

/* Handle of a submitted job, for cancellation. Valid until the done callback for it has
 * returned. */
typedef struct df_pool_job df_pool_job;

/* df_fault_info and df_pool_fault_info (what a thread was running when a fatal signal hit it)
 * are declared in dagflow.h, for the CLI's fatal-signal handler. */

/* Fills cfg with the defaults above. */
void df_pool_config_default(df_pool_config *cfg);

/* Starts workers_min workers. Returns 0, or DF_EINPUT (no done callback), DF_ENOMEM or
 * DF_EINTERNAL (a thread cannot start) with a message in err (e.g. "pool: cannot start worker
 * thread: ..."). done/ud receive every job's result. */
int df_pool_create(const df_pool_config *cfg, df_pool_done_fn done, void *ud, df_pool **out,
                   char *err, size_t errlen);

/* Submits a job (ownership passes to the pool). Returns 0 and sets *handle (may be NULL if the
 * caller does not need one); or DF_POOL_EFULL when the queue holds queue_capacity jobs (the job
 * is NOT taken: the caller still owns it); or DF_POOL_ESHUTDOWN after df_pool_shutdown started;
 * or DF_ENOMEM (not taken either), DF_EINPUT for a NULL pool or job.
 * Never waits. Thread-safe (also from inside a running task). */
int df_pool_submit(df_pool *p, df_job *job, df_pool_job **handle);

/* The pool's codes are the engine's (dagflow.h); these names stay for the pool's callers. */
#define DF_POOL_EFULL DF_EFULL
#define DF_POOL_ESHUTDOWN DF_ESHUTDOWN

/* Cancels a submitted job: a job not yet started completes at once with cancelled set and status
 * DF_TASK_FAILED; a running one sees df_task_cancelled() become true, and any yielding helper it
 * waits in returns early (df_task_spawn signals the child's process group). Thread-safe;
 * idempotent. */
void df_pool_cancel(df_pool *p, df_pool_job *handle);

/* 1 when the job's coroutine is inside one run that began at least min_ms (milliseconds) ago:
 * its plugin has not yielded since (it computes or blocks), so it can only see a cancellation by
 * polling df_task_cancelled. 0 otherwise (it yields, has not started, or has ended). For a
 * scheduler deciding how long to wait after cancelling it. 2 when the job has started but its
 * worker has been inside another job's coroutine for min_ms: that plugin does not yield, so this
 * job cannot run before it does (its children are still killed by df_pool_cancel). Thread-safe. */
int df_pool_job_unyielding(df_pool *p, df_pool_job *handle, uint64_t min_ms);

/* Number of jobs submitted whose callback has not run yet. Thread-safe. */
size_t df_pool_in_flight(df_pool *p);

/* Pool metrics since creation. */
typedef struct df_pool_stats {
    unsigned workers;      /* live workers now (taking jobs) */
    unsigned workers_peak; /* most worker threads at once: live, retiring or replaced */
    unsigned workers_started;
    unsigned workers_stopped;
    size_t in_flight_peak;   /* most jobs submitted and not completed */
    size_t queue_high_water; /* most jobs waiting to start */
    size_t stacks_created;
    size_t stacks_reused;
    uint64_t jobs_completed;
    unsigned workers_replaced;      /* taken out of service after staying stuck in one coroutine */
    size_t stacks_freed;            /* unmapped again (the free list is trimmed when work stops) */
    unsigned workers_grown_blocked; /* started for a backlog while one worker per core was
                                     * live, because backed-up workers blocked (not computed) */
} df_pool_stats;

/* Thread-safe snapshot of the metrics. */
void df_pool_get_stats(df_pool *p, df_pool_stats *out);

/* While hold is true the pool starts no worker because jobs back up in the inboxes (the
 * engine's soft memory threshold, admission.h): work then waits for the workers there are.
 * Workers replacing stuck ones still start. Thread-safe. */
void df_pool_hold_growth(df_pool *p, bool hold);

/* The pool's load now (GET /metrics): jobs waiting in the workers' inboxes to start, live
 * workers, and live workers holding at least one job. Thread-safe. */
void df_pool_load(df_pool *p, size_t *queued, unsigned *live, unsigned *busy);

/* Stops accepting jobs, cancels every job in flight, waits for all their callbacks (at most
 * grace_ms for jobs that ignore cancellation; their workers are then abandoned and their late
 * results discarded), stops the workers and frees the pool. Call from the thread that created
 * the pool, never from a worker.
 * Returns how many workers it left behind that way (0 when every thread was joined): their
 * plugins, or blocking calls of theirs, still run, and an exit of the process would wait for
 * libuv's thread pool; a program that is done may leave with _exit(2). */
unsigned df_pool_destroy(df_pool *p, uint64_t grace_ms);

#endif
