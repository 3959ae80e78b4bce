/* dagflow TaskUnit plugin SDK (SPEC §2): the one header a plugin includes.
 *
 * A plugin is a shared object exporting `dagflow_taskunit`, which returns a pointer to a static
 * df_taskunit. It builds with `cc -shared -fPIC -I<prefix>/include plugin.c -o NAME.so` and no
 * link flags: the df_task_* helpers below and jansson are provided by the dagflow process that
 * loads it (in the tradition of SQLite's loadable extensions and Redis modules).
 *
 * ABI rule: fields are only ever appended to df_taskunit; DF_TASKUNIT_ABI says which layout a
 * plugin was built against, and the engine refuses (with a clear error) any ABI it does not know.
 */
#ifndef DAGFLOW_TASKUNIT_H
#define DAGFLOW_TASKUNIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The layout of df_taskunit this header describes. */
#define DF_TASKUNIT_ABI 1

/* Return codes of execute(). */
#define DF_TASK_OK 0
#define DF_TASK_FAILED 1
#define DF_TASK_FAILED_PERMANENT 2

/* The attempt an execute() call belongs to. Opaque; valid only during that call, and only on
 * the coroutine that runs it. */
typedef struct df_task_ctx df_task_ctx;

typedef struct df_taskunit {
    int abi;                 /* DF_TASKUNIT_ABI */
    const char *name;        /* the name workflows use, e.g. "shell"; must equal the file name */
    const char *version;     /* the plugin's own version, e.g. "1.2.0" */
    const char *description; /* one line, shown by `dagflow plugins` */
    /* Checks params (borrowed). Returns 0 when valid; otherwise writes a NUL-terminated message
     * of at most errlen bytes into err and returns non-zero. Must not block and must have no side
     * effects. May be NULL (everything is valid). Called when the run is created, with
     * ${params.*}, ${run.*} and ${env.*} resolved and ${tasks.*} references still as strings, and
     * again before each attempt with every reference resolved. Thread-safety: may be called from
     * any thread, concurrently. */
    int (*validate)(const json_t *params, char *err, size_t errlen);
    /* Does the work. params is borrowed for the duration of the call. Returns DF_TASK_OK and may
     * set *result to a new JSON reference (the engine owns it afterwards); or DF_TASK_FAILED
     * (retried while retries remain); or DF_TASK_FAILED_PERMANENT (not retried). Runs inside a
     * coroutine of the engine's pool: to wait, use the df_task_* helpers, which yield instead of
     * blocking the worker thread. */
    int (*execute)(df_task_ctx *ctx, const json_t *params, json_t **result);
} df_taskunit;

/* The one symbol a plugin exports. */
typedef const df_taskunit *(*df_taskunit_entry_fn)(void);
#define DF_TASKUNIT_ENTRY "dagflow_taskunit"

/* ---- Helpers a plugin may call from execute(), on the coroutine that runs it. ---- */

/* Waits ms milliseconds without blocking the worker thread (the coroutine yields to a libuv
 * timer). Returns 0 after the full wait, non-zero if the attempt was cancelled (timeout,
 * shutdown) before or while waiting; a cancellation wakes the coroutine at once. With ms 0 it
 * yields once: the worker runs its other ready tasks and I/O, then this one goes on (like Go's
 * runtime.Gosched): a plugin that computes for long should call it now and then. */
int df_task_sleep(df_task_ctx *ctx, uint64_t ms);

/* Non-zero once the attempt has been cancelled (timeout or shutdown). Never blocks. */
int df_task_cancelled(const df_task_ctx *ctx);

/* Runs fn(arg) on a thread outside the coroutine workers and waits for it without blocking them.
 * Returns 0 once fn has returned, non-zero if it could not be started (fn has not run then).
 * Cancellation does not interrupt fn: it returns when fn returns. */
int df_task_run_blocking(df_task_ctx *ctx, void (*fn)(void *arg), void *arg);

/* Appends one line (printf format) to the attempt's log, which is kept in the store
 * (attempt_history.log). Lines longer than 4 KiB are cut; the log keeps its last 64 KiB. */
void df_task_log(df_task_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the error message recorded for a failed attempt (printf format; the last call wins). */
void df_task_set_error(df_task_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 for the first attempt, 2 for the first retry, ... */
unsigned df_task_attempt(const df_task_ctx *ctx);

/* The task id (borrowed, valid during execute) and run id this attempt belongs to. */
const char *df_task_id(const df_task_ctx *ctx);
long long df_task_run_id(const df_task_ctx *ctx);

/* ---- dagflow extension (beyond SPEC §2): child processes on the worker's event loop. ---- */

/* What df_task_spawn runs. All pointers are borrowed for the duration of the call. */
typedef struct df_spawn_opts {
    const char *const *argv; /* NULL-terminated; argv[0] is looked up in PATH */
    const char *const *env;  /* extra "K=V" entries added to the inherited environment, or NULL */
    const char *cwd;         /* working directory, or NULL for the task's default */
    const char *stdin_data;  /* written to the child's stdin, then closed; NULL = empty stdin */
    size_t stdin_len;
    size_t capture_max; /* most bytes kept of stdout and of stderr each; 0 = 1 MiB */
    /* Resource limits applied with setrlimit in the child; 0 = unchanged. */
    uint64_t limit_cpu_seconds;
    uint64_t limit_memory_mb;
    uint64_t limit_open_files;
} df_spawn_opts;

/* How a child ended. stdout_data/stderr_data are NUL-terminated buffers allocated with malloc
 * (the caller frees them), holding at most capture_max bytes each (the first bytes are kept). */
typedef struct df_spawn_result {
    int64_t exit_code; /* exit status, or -1 when killed by a signal */
    int term_signal;   /* the signal that ended it, or 0 */
    int cancelled;     /* non-zero when the attempt was cancelled while it ran */
    char *stdout_data;
    size_t stdout_len;
    int stdout_truncated;
    char *stderr_data;
    size_t stderr_len;
    int stderr_truncated;
} df_spawn_result;

/* Runs a child process in its own process group, with DAGFLOW_RUN_ID, DAGFLOW_TASK_ID and
 * DAGFLOW_ATTEMPT in its environment, and waits for it to exit without blocking the worker.
 * When the attempt is cancelled (timeout, shutdown) the whole group gets SIGTERM, then SIGKILL
 * 2000 ms later; the call returns once the child has been reaped. Returns 0 when the child ran
 * (whatever its exit status) and fills *res; non-zero when it could not be started, with the
 * reason in errbuf (for example "spawn ./x: no such file or directory"). */
int df_task_spawn(df_task_ctx *ctx, const df_spawn_opts *opts, df_spawn_result *res, char *errbuf,
                  size_t errlen);

/* Frees the buffers of a df_spawn_result filled by df_task_spawn (not the struct itself). */
void df_spawn_result_free(df_spawn_result *res);

/* The working directory tasks run in by default (the workflow file's folder). Borrowed. */
const char *df_task_workdir(const df_task_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
