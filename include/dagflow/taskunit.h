/* dagflow TaskUnit plugin SDK (SPEC §2): the one header a plugin includes.
 *
 * A plugin is a shared object exporting `dagflow_taskunit`, which returns a pointer to a static
 * df_taskunit (DF_TASKUNIT_DEFINE below writes both). It builds with
 * `cc -shared -fPIC -I<prefix>/include plugin.c -o NAME.so` and no link flags: the df_task_*
 * helpers below and jansson are provided by the dagflow process that loads it (in the tradition
 * of SQLite's loadable extensions and Redis modules).
 *
 * ABI rules (SPEC §2, §10):
 * - Fields are only ever appended to df_taskunit. DF_TASKUNIT_ABI says which layout a plugin was
 *   built against; each append raises it by one. The engine loads plugins built against any ABI
 *   from 1 to its own, reads only the fields that layout has (later ones count as NULL), and
 *   refuses an ABI of 0 or less, or above its own, with an error naming the file and both ABIs.
 * - From ABI 2 on, every struct a plugin passes to a helper starts with `size_t size`, which the
 *   plugin sets to sizeof the struct (the DF_*_INIT macros do it); the engine reads and writes
 *   only the fields that size covers, so fields may be appended to those structs too.
 * - A helper whose struct changed layout when the size field came keeps its old symbol for
 *   plugins built before (ABI 1: df_task_spawn, df_spawn_result_free); this header maps the
 *   name to the sized symbol (df_task_spawn2, df_spawn_result_free2), so source is unchanged.
 *   Helpers taking only plain arguments keep their one symbol.
 */
#ifndef DAGFLOW_TASKUNIT_H
#define DAGFLOW_TASKUNIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The layout of df_taskunit this header describes: 1 = up to execute, 2 = init, fini and
 * param_rules added (and the sized spawn structs), 3 = DF_TASK_SKIPPED (SPEC §10; the struct's
 * layout is ABI 2's). */
#define DF_TASKUNIT_ABI 3

/* Return codes of execute(). */
#define DF_TASK_OK 0
#define DF_TASK_FAILED 1
#define DF_TASK_FAILED_PERMANENT 2
/* ABI 3 (SPEC §10): the task ends SKIPPED (attempt outcome SKIPPED), not retried and not a
 * failure; its downstream tasks follow their trigger rules. A result set with it is kept. From a
 * plugin built against an earlier ABI, this value is an unknown status (a failure). */
#define DF_TASK_SKIPPED 3

/* The attempt an execute() call belongs to. Opaque; valid only during that call, and only on
 * the coroutine that runs it. */
typedef struct df_task_ctx df_task_ctx;

/* How the engine treats the references in one top-level param of a plugin (SPEC §12):
 * - DF_PARAM_SHELL_SCRIPT: the param is a /bin/sh script. Each reference in it is inserted
 *   escaped for the place where it stands (outside quotes as one single-quoted word, inside
 *   double quotes with \, ", $ and ` backslashed, inside single quotes by closing, inserting and
 *   reopening the quote), so a value never becomes shell syntax and arrives as it is. A
 *   reference where no escaping is safe (inside backquotes, a ${...} expansion, a here-document,
 *   or right after a backslash) is a load error.
 * - DF_PARAM_NO_TEMPLATES: a reference in the param is a load error (values go through another
 *   param, e.g. sqlite's "bind"); the message names the param and, when given, hint.
 * - DF_PARAM_ENV: the param is an object of environment variables for the plugin's child
 *   processes (SPEC §8, §12). The engine adds to it the workflow's "env" (the task's own keys
 *   win) and, for each variable of the engine's environment that the workflow's
 *   "env_passthrough" names, that variable. A param that is not an object (a template string)
 *   is left as it is. */
#define DF_PARAM_SHELL_SCRIPT 1
#define DF_PARAM_NO_TEMPLATES 2
#define DF_PARAM_ENV 3

typedef struct df_param_rule {
    const char *param; /* a top-level key of params; NULL ends the array */
    int rule;          /* DF_PARAM_* */
    const char *hint;  /* for DF_PARAM_NO_TEMPLATES: what to use instead, or NULL */
} df_param_rule;

typedef struct df_taskunit {
    int abi;                 /* DF_TASKUNIT_ABI as built (DF_TASKUNIT_DEFINE sets it) */
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
     * (retried while retries remain); or DF_TASK_FAILED_PERMANENT (not retried); or (ABI 3)
     * DF_TASK_SKIPPED (the task ends SKIPPED; when the attempt's timeout cancelled it, this
     * turns the timeout into SKIPPED instead of a failure). Runs inside a
     * coroutine of the engine's pool: to wait, use the df_task_* helpers, which yield instead of
     * blocking the worker thread. */
    int (*execute)(df_task_ctx *ctx, const json_t *params, json_t **result);

    /* ---- ABI 2 ---- */

    /* Prepares the plugin's process-wide state. May be NULL. Called once, on the thread loading
     * the plugin (the engine's) and under a process-wide lock, when the plugin is first loaded in
     * the process, before any validate or execute of it. Returns 0, or
     * non-zero with a NUL-terminated message of at most errlen bytes in err: the plugin is then
     * refused (the message is shown with the file's path) and fini is not called. Before the
     * first init the engine has called curl_global_init(CURL_GLOBAL_DEFAULT) for the process, so
     * a plugin using libcurl must not call it (nor curl_global_cleanup): libcurl stays
     * initialised until the process exits. */
    int (*init)(char *err, size_t errlen);
    /* Releases what init prepared. May be NULL. Called once on the engine thread when the
     * registry that loaded the plugin is freed, after the pool has stopped (no validate or
     * execute of it is running); not called when workers were left behind in plugin code that
     * ignored its cancellation (that code may still use the state), nor when init failed. A
     * process that makes several registries (the test suite) sees init and fini in pairs:
     * never a second init without a fini between. The plugin's code stays loaded after fini. */
    void (*fini)(void);
    /* Rules for the ${...} references (SPEC §4) in some of the plugin's params, or NULL: an array
     * ended by an entry whose param is NULL (see df_param_rule). Read when the plugin is loaded;
     * a rule this engine does not know refuses the plugin. */
    const df_param_rule *param_rules;
} df_taskunit;

/* The one symbol a plugin exports. */
typedef const df_taskunit *(*df_taskunit_entry_fn)(void);
#define DF_TASKUNIT_ENTRY "dagflow_taskunit"

#ifdef __cplusplus
#define DF_TASKUNIT_EXPORT_ extern "C" __attribute__((visibility("default")))
#else
#define DF_TASKUNIT_EXPORT_ __attribute__((visibility("default")))
#endif

/* The entry point: returns the plugin's static descriptor (never NULL for a working plugin). */
DF_TASKUNIT_EXPORT_ const df_taskunit *dagflow_taskunit(void);

/* Defines a plugin's static descriptor, with .abi = DF_TASKUNIT_ABI, and the exported entry
 * point returning it, from designated initializers (fields not given are NULL):
 *
 *     DF_TASKUNIT_DEFINE(.name = "hello", .version = "1.0.0", .description = "says hello",
 *                        .validate = hello_validate, .execute = hello_execute);
 *
 * Use it once per plugin, at file scope, followed by a semicolon. Do not give .abi. */
#define DF_TASKUNIT_DEFINE(...)                                                                    \
    static const df_taskunit df_taskunit_defined_ = {.abi = DF_TASKUNIT_ABI, __VA_ARGS__};         \
    DF_TASKUNIT_EXPORT_ const df_taskunit *dagflow_taskunit(void)                                  \
    {                                                                                              \
        return &df_taskunit_defined_;                                                              \
    }                                                                                              \
    DF_TASKUNIT_EXPORT_ const df_taskunit *dagflow_taskunit(void)

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
 * (attempt_history.log). Lines longer than 4 KiB are cut; the log keeps its last 64 KiB (the
 * engine's --max-log-bytes), after a line saying older lines were dropped. */
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

/* What df_task_spawn runs. All pointers are borrowed for the duration of the call. Start from
 * DF_SPAWN_OPTS_INIT (which sets size; every other field 0 or NULL). */
typedef struct df_spawn_opts {
    size_t size;             /* sizeof(df_spawn_opts) as the plugin was built (ABI 2) */
    const char *const *argv; /* NULL-terminated; argv[0] is looked up in PATH */
    const char *const *env;  /* extra "K=V" entries added to the inherited environment, or NULL */
    const char *cwd;         /* working directory, or NULL for the task's default */
    const char *stdin_data;  /* written to the child's stdin, then closed; NULL = empty stdin */
    size_t stdin_len;
    size_t capture_max; /* most bytes kept of stdout and of stderr each; 0 = 1 MiB */
    /* Resource limits applied with setrlimit in the child; 0 = unchanged. Where the engine
     * gives the child a control group, limit_cpu_seconds also holds for the child and all it
     * starts together (the engine kills the group once their CPU time reaches it). */
    uint64_t limit_cpu_seconds;
    uint64_t limit_memory_mb;
    uint64_t limit_open_files;
    /* Whole-task limits (SPEC §12), where the machine gives dagflow control groups: the child
     * and everything it starts may not have more than this many processes at once (pids.max);
     * 0 = none. With such groups limit_memory_mb also holds for them all (memory.max). A spawn
     * asking for max_processes where there are none fails. */
    uint64_t limit_max_processes;
} df_spawn_opts;

/* clang-format off */
#define DF_SPAWN_OPTS_INIT {.size = sizeof(df_spawn_opts)}
/* clang-format on */

/* How a child ended. stdout_data/stderr_data are NUL-terminated buffers allocated with malloc
 * (df_spawn_result_free frees them), holding at most capture_max bytes each (the first bytes are
 * kept). Start from DF_SPAWN_RESULT_INIT (which sets size): the engine fills only the fields that
 * size covers. */
typedef struct df_spawn_result {
    size_t size;       /* sizeof(df_spawn_result) as the plugin was built (ABI 2) */
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

/* clang-format off */
#define DF_SPAWN_RESULT_INIT {.size = sizeof(df_spawn_result)}
/* clang-format on */

/* Runs a child process in its own process group, with DAGFLOW_RUN_ID, DAGFLOW_TASK_ID and
 * DAGFLOW_ATTEMPT in its environment, and waits for it to exit without blocking the worker.
 * When the attempt is cancelled (timeout, shutdown) the whole group gets SIGTERM, then SIGKILL
 * 2000 ms later; the call returns once the child has been reaped. Returns 0 when the child ran
 * (whatever its exit status) and fills *res; non-zero when it could not be started, with the
 * reason in errbuf (for example "spawn ./x: no such file or directory"): when the system refused
 * it, the negative errno value (-ENOENT, -E2BIG for arguments and environment too long, ...),
 * else -1, as when opts->size does not cover argv or res->size does not cover exit_code (a
 * struct not started from its DF_*_INIT). res->size is kept; the rest of what it covers is
 * written.
 *
 * df_task_spawn is a macro naming the sized symbol df_task_spawn2 (see the ABI rules above);
 * the symbol df_task_spawn itself takes the ABI-1 structs, without size. */
int df_task_spawn2(df_task_ctx *ctx, const df_spawn_opts *opts, df_spawn_result *res, char *errbuf,
                   size_t errlen);
#define df_task_spawn df_task_spawn2

/* Frees the buffers of a df_spawn_result filled by df_task_spawn (not the struct itself), those
 * that res->size covers, and sets them to NULL. NULL is fine. A macro naming the sized symbol
 * df_spawn_result_free2, as df_task_spawn. */
void df_spawn_result_free2(df_spawn_result *res);
#define df_spawn_result_free df_spawn_result_free2

/* The working directory tasks run in by default (the workflow file's folder). Borrowed. */
const char *df_task_workdir(const df_task_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
