/* dagflow embedding API: the one header a program includes to run workflows in its own process
 * (the `dagflow` command line itself uses nothing else).
 *
 * A df_engine is a library object, not a process: it owns an event loop, a coroutine pool (started
 * with its first run), a connection to one store (opened on first use) and a plugin registry, and
 * it sets no process-wide state: no environment variable, no resource limit, no signal handler, no
 * global random seed, and it never exits the process. Two engines, on two stores, can live in one
 * process and run at the same time from two threads. What a program that runs workflows usually
 * wants process-wide is its own business; the `dagflow` CLI (engine/cli/) does this:
 *   - raises the soft RLIMIT_NOFILE toward the hard limit (tasks hold pipes and sockets);
 *   - sets UV_THREADPOOL_SIZE=16 when unset, before libuv is first used (df_task_run_blocking
 *     runs on libuv's thread pool, 4 threads by default);
 *   - turns each SIGINT/SIGTERM into a df_engine_stop call (a sigwait thread), and after the
 *     second one, once the wait has returned, calls df_kill_task_processes and _exit(130),
 *     having flushed stdout and stderr (as it does at each signal, and every 200 ms).
 * (Processes the tasks start do change two dispositions, see df_kill_task_processes.)
 *
 * Conventions, for every function below unless it says otherwise:
 *   - Errors: functions return 0 or a negative DF_E* code (see df_strerror, as libuv's
 *     uv_strerror); the human-readable messages go to a df_errlist the caller passes (NULL to
 *     drop them), one message per error, all of them when there are several (a workflow file's
 *     every error at once). Nothing is ever printed. A run that reached a final state is a
 *     success (0), its state (SUCCESS, FAILED, INVALID) returned separately.
 *   - Units: milliseconds for every duration and time (times since the Unix epoch, UTC).
 *   - Ownership: `const char *` and `const json_t *` arguments are borrowed for the duration of
 *     the call; a `json_t **out` receives a new reference the caller releases with json_decref.
 *   - Thread-safety: an engine is driven by one thread at a time (any thread, but not two at
 *     once); its runs advance only while that thread is inside df_engine_wait or one of the
 *     df_engine_run_file / resume / retry calls, and the event callback is called there.
 *     df_engine_stop is the exception: any thread, and signal handlers, may call it; so is
 *     df_engine_cancel (any thread, not signal handlers). Different
 *     engines are independent. Plugins are loaded once per process (dlopen) and shared by the
 *     engines that use them, so a plugin's own state must be thread-safe (taskunit.h).
 *
 * Build: the engine is libdagflow_core (static); link it whole, exporting its symbols, so that
 * the plugins it loads find the df_task_* helpers (CMake: df_link_engine in CMakeLists.txt). */
#ifndef DAGFLOW_DAGFLOW_H
#define DAGFLOW_DAGFLOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Errors ---------------------------------------------------------------------------------- */

/* The error codes every function returns (0 is success). Negative, out of the range of negated
 * errno values, so they are never mistaken for one. */
#define DF_EINPUT (-2001)       /* unusable input: a workflow that does not load, a bad param */
#define DF_EREFUSED (-2002)     /* the run's state does not allow it (resume a finished run) */
#define DF_ESTORE (-2003)       /* the store failed (I/O, full disk, read-only, corrupt ...) */
#define DF_ECONFLICT (-2004)    /* another engine changed it first (a run taken over) */
#define DF_ENOTFOUND (-2005)    /* no such run, task or store */
#define DF_EBUSY (-2006)        /* the store stayed locked past its busy timeout */
#define DF_ENOMEM (-2007)       /* out of memory */
#define DF_EINTERNAL (-2008)    /* anything else (threads that cannot start, a broken invariant) */
#define DF_EINTERRUPTED (-2009) /* stopped by df_engine_stop; the run is INTERRUPTED, resumable */
#define DF_EFULL (-2010)        /* a bounded queue is full (the pool's); try again later */
#define DF_ESHUTDOWN (-2011)    /* the pool is shutting down */

/* A short static English text for an error code ("store error"); a generic text for any other
 * value (0 included: "success"). Thread-safe. */
const char *df_strerror(int err);

/* The messages of one or more errors. Fill one by passing it to a call (zeroed, or already holding
 * messages: new ones are appended), read msgs[0..n), release with df_errlist_clear. */
typedef struct df_errlist {
    char **msgs; /* each a NUL-terminated message, owned by the list */
    size_t n;
    size_t cap;
} df_errlist;

/* Frees every message and resets the list to empty (the struct itself is the caller's); a zeroed
 * list is fine. Not thread-safe (the list is the caller's). */
void df_errlist_clear(df_errlist *l);

/* ---- States (SPEC §3) ------------------------------------------------------------------------ */

typedef enum df_task_state {
    DF_TS_PENDING = 0,
    DF_TS_QUEUED,
    DF_TS_RUNNING,
    DF_TS_UP_FOR_RETRY,
    DF_TS_SUCCESS,
    DF_TS_FAILED,
    DF_TS_UPSTREAM_FAILED,
    DF_TS_SKIPPED,
    DF_TS_INVALID,
    DF_TS_CANCELLED, /* SPEC §10: stopped, or never started, because its run was cancelled or
                        timed out (final) */
    DF_TS__COUNT
} df_task_state;

typedef enum df_run_state {
    DF_RS_RUNNING = 0,
    DF_RS_SUCCESS,
    DF_RS_FAILED,
    DF_RS_INVALID,
    DF_RS_INTERRUPTED,
    DF_RS_CANCELLED, /* SPEC §10 */
    DF_RS__COUNT
} df_run_state;

/* Upper-case names as in SPEC §3 ("UP_FOR_RETRY"). Static strings; "?" for out-of-range values.
 * Thread-safe. */
const char *df_task_state_name(df_task_state s);
const char *df_run_state_name(df_run_state s);

/* True for SUCCESS, FAILED, UPSTREAM_FAILED, SKIPPED, INVALID, CANCELLED. Thread-safe. */
bool df_task_state_final(df_task_state s);

/* What started a run (SPEC §10's `${run.trigger}`, the `trigger` column of run_history). */
typedef enum df_run_trigger {
    DF_TRIGGER_MANUAL = 0, /* `dagflow run`, and the embedding API by default */
    DF_TRIGGER_SCHEDULE,   /* a fire time of the workflow's schedule (`dagflow serve`) */
    DF_TRIGGER_API,        /* serve's HTTP API (df_service_start_run) */
    DF_TRIGGER_WORKFLOW,   /* a child run of the `workflow` plugin */
    DF_TRIGGER__COUNT
} df_run_trigger;

/* Lower-case names as stored and shown ("manual", "schedule", "api", "workflow"); "?" out of
 * range. Thread-safe. */
const char *df_run_trigger_name(df_run_trigger t);

/* The trigger named (as df_run_trigger_name gives it): 0 and *out set, or DF_EINPUT. */
int df_run_trigger_parse(const char *name, df_run_trigger *out);

/* ---- Workflows ------------------------------------------------------------------------------- */

/* A loaded and checked workflow (SPEC §1). Opaque; immutable once loaded, so one workflow may be
 * read by several threads and started on several engines. */
typedef struct df_workflow df_workflow;

/* Loads a workflow file strictly: JSON syntax, keys, types, ids, dependencies, cycles, pools,
 * breakers, templates (no plugin is loaded: see df_engine_validate_file). Returns 0 and sets *out
 * (free with df_workflow_free), or DF_EINPUT with every error in errs, each naming the file, e.g.
 * `wf.json: task "load": unknown key "depend_on"; did you mean "depends_on"?` (or DF_ENOMEM).
 * A UTF-8 byte order mark at the start of the file is skipped. Path "-" reads the workflow from
 * standard input, to its end (messages name it "<stdin>"; relative paths in it are taken from the
 * current folder); so do df_engine_start_file and df_engine_validate_file. Thread-safe (but only
 * one caller should read standard input). */
int df_workflow_load(const char *path, df_workflow **out, df_errlist *errs);

/* Frees a workflow; NULL is fine. */
void df_workflow_free(df_workflow *wf);

/* The workflow's "name" (borrowed, valid as long as wf), and its number of tasks. */
const char *df_workflow_name(const df_workflow *wf);
size_t df_workflow_task_count(const df_workflow *wf);

/* The DAG as text, edges from upstream to downstream: format "dot" (Graphviz; node ids are the
 * task ids, quoted, labelled with id and plugin) or "mermaid" (a flowchart; a task id Mermaid
 * cannot take, such as `end` or one with `-`, gets a generated id labelled with the task id:
 * n3["a-b"]). Sets *text to a new NUL-terminated string (free() it) of *len bytes (len may be
 * NULL). Returns 0, DF_EINPUT for another format, DF_ENOMEM. Thread-safe. */
int df_workflow_export(const df_workflow *wf, const char *format, char **text, size_t *len);

/* ---- Schedules (SPEC §9) --------------------------------------------------------------------- */

/* Whether the workflow has a "schedule" object (loading checked it: cron syntax, time zone,
 * times, values). Thread-safe. */
bool df_workflow_has_schedule(const df_workflow *wf);

/* The next fire times of the workflow's schedule, as `dagflow schedule` prints them: at most
 * count of them, each strictly after the previous one, the first strictly after from_ms
 * (milliseconds since the epoch); for an `interval_ms` schedule without `start_at`, from_ms is
 * also the anchor (fire times from_ms + k x interval_ms, k >= 1). Fewer than count when the
 * schedule ends (`end_at`). Sets *out to a new array of objects
 *   {"at_ms": 1806195600000, "utc": "2027-03-28T01:00:00Z", "local": "2027-03-28T03:00:00+02:00"}
 * ("local": the wall-clock time and UTC offset in the schedule's `timezone`). Cron expressions
 * are read in that zone with SPEC §9's rules for DST changes. Returns 0; DF_EINPUT when the
 * workflow has no schedule (the reason in errs); DF_ENOMEM. Pure (the zone was read when the
 * workflow was loaded); thread-safe. */
int df_workflow_fire_times(const df_workflow *wf, int64_t from_ms, size_t count, json_t **out,
                           df_errlist *errs);

/* Parses an ISO-8601 time with its offset (`2027-03-28T01:00:00Z`, `2027-03-28T03:00:00+02:00`,
 * fractions of a second allowed) into milliseconds since the epoch: the times of `start_at`,
 * `end_at` and `dagflow schedule --from`. Returns 0, or DF_EINPUT (a time without an offset
 * included). Thread-safe. */
int df_parse_time(const char *text, int64_t *ms);

/* ---- Engines --------------------------------------------------------------------------------- */

typedef struct df_engine df_engine;

/* A task instance or a run changed state (for progress display). All pointers are borrowed and
 * valid during the callback only. task_id is NULL for a run-level event: then run_state is set,
 * and error (when not NULL) says why the run stopped before its end. An event with notice set is
 * no state change but something the user should hear about the run (run_id and workflow set,
 * task_id and error NULL, the counts 0): today a try of an alert delivery that failed (SPEC §5),
 * e.g. `alert run_failed to command:./notify.sh: try 1 of 3 failed, tried again in 500 ms:
 * command sink: exit code 1`. A notice with run_id 0 (workflow NULL) is about the engine as a
 * whole: today admission paused or resumed (df_engine_config's max_memory, max_load), e.g.
 * `admission paused: load 3.10 per core over --max-load 2; no new attempt starts until it falls
 * back`. */
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
    const char *notice; /* NULL unless the event is a notice (above) */
} df_engine_event;

/* How to open an engine. Zero values mean the default (df_engine_config_default fills them). */
typedef struct df_engine_config {
    /* The store, as `--db` takes it: today the path of a SQLite file, created on the first run
     * (never by df_engine_validate_file, the read calls or df_engine_plugins). Default
     * "./dagflow.db". Copied by df_engine_open. */
    const char *db;
    /* Folders searched for plugins (NAME.so) first, in order; then each folder of
     * $DAGFLOW_PLUGIN_PATH, then the built-in plugin folder. Copied by df_engine_open. */
    const char *const *plugin_dirs;
    size_t n_plugin_dirs;
    /* The coroutine pool: OS threads kept at least (default: online CPUs, at least 2, lowered to
     * workers_max when only that is given) and at most (default: 2 x online CPUs, raised to
     * workers_min when only that is given). */
    unsigned workers_min;
    unsigned workers_max;
    size_t stack_size;     /* bytes per task coroutine stack (default 256 KiB; 16 KiB at least) */
    size_t queue_capacity; /* attempts the pool holds waiting to start at most (default 65536) */
    size_t concurrency;    /* attempts in flight at most, over all runs (default 256) */
    /* Seed of the engine's own random generator (retry jitter); 0 = from the time, the process
     * id and the engine's address, so that engines started together differ. */
    uint64_t seed;
    /* Called on the thread driving the engine for every state change; may be NULL. Must not
     * call back into the engine (except df_engine_stop). */
    void (*on_event)(void *ud, const df_engine_event *ev);
    void *ud; /* handed to on_event */
    /* Load plugin files even when they, or a folder above them, are writable by group or others
     * or owned by a user other than root or the one running the engine (SPEC §12; the README's
     * "Plugin files"). Default false: such a file is refused, before it is loaded, with an error
     * naming it and why. `--allow-insecure-plugins` on the command line. */
    bool allow_insecure_plugins;
    /* Variables of the engine's environment passed to tasks' child processes and alert commands,
     * by name or fnmatch(3) pattern ("AWS_*"), on top of the base environment: PATH, HOME, USER,
     * LOGNAME, LANG, LC_*, TZ, TMPDIR and DAGFLOW_* (SPEC §12; a workflow's env_passthrough adds
     * its own). Nothing else of the engine's environment reaches them. Copied by df_engine_open.
     * `--pass-env NAME|PATTERN` (repeatable) on the command line. */
    const char *const *pass_env;
    size_t n_pass_env;
    /* Size caps in bytes (SPEC §12; the README's "Size caps"); 0 = the default. A run's params
     * (the workflow's defaults with the given ones, as compact JSON) over max_params_bytes
     * (default 1 MiB) refuse the run (DF_EINPUT, naming the largest param); a task's result over
     * max_result_bytes (default 4 MiB of compact JSON) fails its attempt permanently, naming the
     * task and the cap; an attempt's log keeps its newest max_log_bytes (default 64 KiB), after a
     * line saying older lines were dropped. `--max-params-bytes`, `--max-result-bytes` and
     * `--max-log-bytes` on the command line. */
    size_t max_params_bytes;
    size_t max_result_bytes;
    size_t max_log_bytes;
    /* The engine is a long-running service (`dagflow serve`): the runs it owns are recorded as
     * a service's (runs.engine_kind 'serve'), so that the next service on the store resumes
     * them when this one has died (SPEC §9; df_service_open sets it). Default false: runs left
     * behind by `dagflow run` are left to their owner. */
    bool service;
    /* Resource-aware admission (issue 10; the README's "Admission"): while the memory of the
     * engine process plus its task processes (each task's control group's memory.current where
     * it has one with the memory controller, else the resident sets of the processes in its
     * control group or process group, from /proc) is over max_memory bytes, or the 1-minute
     * load average divided by the online CPUs is over max_load, no new attempt starts (attempts
     * in flight go on; none fails for it) until both are back at or below; sampled every 250 ms.
     * Over 80% of max_memory the pool adds no worker thread for a backlog. Each pause is
     * recorded (see df_engine_event's notice, runs.metrics "admission", and the
     * admission_paused metric of df_engine_metrics). 0 = no limit (the default); a negative or
     * NaN max_load counts as 0. `--max-memory SIZE` and `--max-load X` on the command line. */
    uint64_t max_memory;
    double max_load;
    /* --executor workers (SPEC §11): the engine hands every attempt to `dagflow worker`
     * processes through the store's queue (each task's `queue`, default "default") instead of
     * running it in its own pool; it still records every state change itself. Needs a
     * PostgreSQL store (DF_EINPUT otherwise). Default false. */
    bool executor_workers;
    /* The lease this engine holds on each run it owns (SPEC §11), in ms; 0 = 30000. Renewed every
     * third of it (every 5 s at most) and by every transaction writing the run; judged by the
     * database's clock on PostgreSQL, by the local clock on SQLite. A service adopts the runs of
     * a `serve` whose lease ended; every write of a run checks its lease first, so an engine
     * that lost one (paused, cut off) writes nothing more for that run and stops it.
     * `--run-lease-ms` on the command line. */
    long long run_lease_ms;
} df_engine_config;

/* The defaults of df_engine_config's caps. */
#define DF_DEFAULT_MAX_PARAMS_BYTES ((size_t)1024 * 1024)
#define DF_DEFAULT_MAX_RESULT_BYTES ((size_t)4 * 1024 * 1024)
#define DF_DEFAULT_MAX_LOG_BYTES ((size_t)64 * 1024)

/* Fills cfg with the defaults: db "./dagflow.db", concurrency 256, everything else 0 (the
 * defaults above). */
void df_engine_config_default(df_engine_config *cfg);

/* Opens an engine: copies the configuration (cfg NULL: the defaults), creates its event loop and
 * plugin registry. Neither the store nor the pool is opened yet (the first run does it), so
 * opening is cheap, starts no thread and creates no file. Returns 0 and sets *out (close it with
 * df_engine_close), or DF_ENOMEM / DF_EINTERNAL with the reason in errs. Any thread; the engine
 * then belongs to the threads that drive it, one at a time. */
int df_engine_open(const df_engine_config *cfg, df_engine **out, df_errlist *errs);

/* Closes the engine: stops the pool (waiting at most 5000 ms for attempts that ignore their
 * cancellation, and not at all when every attempt left was already abandoned), closes the store
 * and runs the fini hook of the plugins no other engine of the process holds (plugins stay
 * loaded: their code may be needed again). Runs not waited to their end are left as they are
 * in the store (RUNNING: resumable once their heartbeat is 30 s old, or once this process has
 * exited). Must not run while another thread calls df_engine_stop. NULL is fine. Returns how many
 * pool workers were left behind still running plugin code: when not 0, a program that is done
 * should leave with _exit(2) rather than exit(3), which would wait for them in libuv's clean-up. */
size_t df_engine_close(df_engine *e);

/* Asks the engine to stop, as SIGINT does to `dagflow run`: every attempt in flight is cancelled
 * (given 5000 ms to return, then recorded CANCELLED without its result), no new attempt starts,
 * every run ends INTERRUPTED (resumable), and the wait in progress returns DF_EINTERRUPTED; the
 * run calls made afterwards refuse with DF_EINTERRUPTED (the stop is for good). A second call
 * stops at once, as a second SIGINT does: the engine records nothing more (its runs stay RUNNING
 * in the store, resumable once the engine is gone: heartbeat 30 s old, or process exited) and the
 * wait returns DF_EINTERRUPTED without waiting for the attempts (*state RUNNING); a program that
 * leaves then may end the task processes with df_kill_task_processes first. Returns at once.
 * Thread-safe and async-signal-safe (an atomic add and uv_async_send): may be called from any
 * thread or from a signal handler, until df_engine_close is called. */
void df_engine_stop(df_engine *e);

/* ---- Cancelling runs (SPEC §10) ------------------------------------------------------------- */

/* Asks for the run run_id to be cancelled, from any thread (the `serve` engine's overlap
 * cancel_running and its HTTP API; the thread driving the engine too, an on_event callback
 * included): the request is queued and returns at once; the engine thread acts on it in its next
 * loop turn (at once while a thread is inside df_engine_wait or a run call; otherwise when one
 * next is). Acting on it: the request is stored on the run (so that the engine owning it acts on
 * it within 1 s, whichever process that is, and a later `resume` finds it), and when this engine
 * owns the run it is cancelled now: nothing more starts, attempts in flight are cancelled (shell
 * process groups get SIGTERM, then SIGKILL 2000 ms later; an attempt that comes back without
 * success is recorded CANCELLED, one that ignores its cancellation is recorded CANCELLED at the
 * end of a 3000 ms grace period), every unfinished task becomes CANCELLED with the error "run
 * cancelled: REASON", and once the attempts are back the run ends CANCELLED and raises the alert
 * run_cancelled; the wait on it then returns 0 with *state CANCELLED. A run whose tasks are all
 * final already ends in its own state. reason (borrowed, copied; may be NULL) says who asked
 * ("dagflow cancel", "schedule overlap"). An unknown or finished run is not an error here (this
 * call does not wait): the on_event callback gets a notice saying so. Returns 0 (queued),
 * DF_EINPUT (run_id not positive), DF_ENOMEM. Thread-safe; not async-signal-safe (it takes a
 * mutex and allocates). As Argo's `argo stop`, the exit handlers (on_exit) still run. */
int df_engine_cancel(df_engine *e, long long run_id, const char *reason, df_errlist *errs);

/* The same, done now on the calling thread, which must be the one driving the engine (or no
 * thread drives it: the `dagflow cancel` command), with the outcome: stores the request, cancels
 * the run if this engine owns it, and sets *state (may be NULL) to the run's state as the caller
 * should see it: RUNNING when an engine that is alive owns it (it acts within 1 s), INTERRUPTED
 * when none does (the run is INTERRUPTED, or its engine is dead: its process gone from this host,
 * or its heartbeat older than 30000 ms), so that the caller may take it over with
 * df_engine_start_resume, which then finishes the cancel (on_exit handlers included) and ends
 * the run CANCELLED. Returns 0; DF_ENOTFOUND (no such run, or no store); DF_EREFUSED for a
 * finished run (*state says how it ended; errs: "run N has finished (STATE); nothing to
 * cancel"); DF_ESTORE. Not thread-safe (the engine's thread rules). */
int df_engine_request_cancel(df_engine *e, long long run_id, const char *reason,
                             df_run_state *state, df_errlist *errs);

/* ---- Starting runs: they advance while df_engine_wait (or a run call) drives the engine ---- */

/* Loads a workflow file, checks every task's plugin and params (each plugin's validate, with the
 * workflow's params overridden by `params`: an object {NAME: value}, NULL for none; a name the
 * workflow does not declare is an input error), records the run (SPEC §6 `run`) and queues its
 * first tasks. Returns 0 and sets *run_id; the run then advances in df_engine_wait. A file that
 * cannot be loaded records nothing (DF_EINPUT, every error in errs). A workflow whose tasks a
 * plugin rejects is recorded as a run that will end INVALID (0; the rejections in errs). Else
 * DF_ESTORE (the store cannot be opened or written), DF_EINTERNAL (the pool cannot start),
 * DF_ENOMEM, DF_EINTERRUPTED (df_engine_stop was called; nothing recorded). */
int df_engine_start_file(df_engine *e, const char *path, const json_t *params, long long *run_id,
                         df_errlist *errs);

/* The same for a workflow already loaded (borrowed: the engine keeps its own copy). */
int df_engine_start_workflow(df_engine *e, const df_workflow *wf, const json_t *params,
                             long long *run_id, df_errlist *errs);

/* How a run is started, beyond its workflow (df_engine_start_file_opts,
 * df_engine_start_workflow_opts): what SPEC §10 records with each run (run_history's trigger,
 * logical_time, parent_run_id, parent_task_id) and the templates ${run.trigger},
 * ${run.logical_time}, ${run.logical_date} read. A zeroed struct is a manual run with no params
 * and the creation time as logical time (what df_engine_start_file does). Pointers are borrowed
 * for the call. */
typedef struct df_run_options {
    const json_t *params;       /* overrides of the workflow's params ({NAME: value}), or NULL */
    df_run_trigger trigger;     /* DF_TRIGGER_MANUAL by default */
    int64_t logical_time;       /* ms since the epoch; 0 = the run's creation time */
    long long parent_run_id;    /* a child run's parent run (the `workflow` plugin), or 0 */
    const char *parent_task_id; /* ... and the parent's task, or NULL */
} df_run_options;

/* df_engine_start_file and df_engine_start_workflow with options (opts NULL: a zeroed struct).
 * Returns as df_engine_start_file; DF_EINPUT also for a trigger out of range or a
 * parent_task_id without parent_run_id. */
int df_engine_start_file_opts(df_engine *e, const char *path, const df_run_options *opts,
                              long long *run_id, df_errlist *errs);
int df_engine_start_workflow_opts(df_engine *e, const df_workflow *wf, const df_run_options *opts,
                                  long long *run_id, df_errlist *errs);

/* Takes over a stored run to continue it (SPEC §6 `resume`): an INTERRUPTED run, or a RUNNING one
 * whose engine is dead (its process gone, or its heartbeat older than 30 s); attempts lost with
 * that engine are recorded LOST and queued again. A run with a stored cancel request
 * (df_engine_request_cancel) is cancelled as soon as it is taken over (it ends CANCELLED). Returns
 * 0 (it advances in df_engine_wait), DF_EREFUSED (a finished run, or one whose engine is alive; why
 * in errs), DF_ENOTFOUND (no such run), DF_EINPUT (its stored DAG or a plugin no longer loads),
 * DF_ESTORE, DF_ENOMEM, DF_EINTERRUPTED. */
int df_engine_start_resume(df_engine *e, long long run_id, df_errlist *errs);

/* Reopens a finished stored run (SPEC §6 `retry`): task NULL = its FAILED, UPSTREAM_FAILED and
 * CANCELLED tasks and the SKIPPED ones downstream of them (a CANCELLED run's cancel request is
 * forgotten); else that task (whatever its state) and
 * everything downstream of it, each with a fresh retry budget. Returns as df_engine_start_resume
 * (DF_EREFUSED for a run that has not finished, an INVALID run, an unknown task, or nothing to
 * retry). */
int df_engine_start_retry(df_engine *e, long long run_id, const char *task, df_errlist *errs);

/* Drives the engine (every run it holds advances) until the run run_id, started on this engine,
 * has ended; when no other run is left, also until the alerts they raised are delivered. Sets
 * *state to its state and returns 0 when it reached a final state (SUCCESS, FAILED, INVALID,
 * CANCELLED);
 * DF_EINTERRUPTED when df_engine_stop interrupted it (*state INTERRUPTED); DF_ESTORE when the
 * store failed, or DF_ECONFLICT when another engine took the run over (every run of this engine
 * then stops; *state RUNNING; errs says how to continue); DF_ENOTFOUND for a run this engine did
 * not start. Blocks the calling thread. */
int df_engine_wait(df_engine *e, long long run_id, df_run_state *state, df_errlist *errs);

/* df_engine_start_file then df_engine_wait (*run_id stays 0 when nothing was recorded). */
int df_engine_run_file(df_engine *e, const char *path, const json_t *params, long long *run_id,
                       df_run_state *state, df_errlist *errs);

/* df_engine_start_resume / df_engine_start_retry, then df_engine_wait. */
int df_engine_resume(df_engine *e, long long run_id, df_run_state *state, df_errlist *errs);
int df_engine_retry(df_engine *e, long long run_id, const char *task, df_run_state *state,
                    df_errlist *errs);

/* ---- Checking, listing, reading history (no pool; the store is never created) ---- */

/* Every check of loading, each task's plugin loaded and its validate called with the run params
 * (the workflow's params overlaid with `params`, NULL for none), every error reported: SPEC §6
 * `validate`. Nothing is recorded; the store is not opened. Returns 0 when the workflow is valid
 * (*n_tasks set; may be NULL), DF_EINPUT when it is not (each message in errs starts with
 * "PATH: "), DF_ENOMEM. */
int df_engine_validate_file(df_engine *e, const char *path, const json_t *params, size_t *n_tasks,
                            df_errlist *errs);

/* `dagflow plan` (SPEC §10), a dry run: loads and checks the workflow file as
 * df_engine_validate_file does (path "-" reads standard input), then sets *plan to a new object
 * {"workflow", "params" (the run params), "tasks": [{"step", "id", "plugin", "depends_on",
 * "trigger_rule", "params", ...}]}: the tasks in the order they would become ready if every task
 * succeeded (step 1 = ready at the start; within a step, higher priority first, then file
 * order), each with its params resolved as far as they can be before running (run params, env,
 * ${run.workflow}, ${task.id}, ${task.attempt} as 1; ${run.id}, results and the on_exit
 * handlers' ${run.state} / ${run.failed_tasks} left as written). Keys added where they apply:
 * "when" (the condition, not evaluated), "branch": true, "on_exit": true (handlers, last), and
 * for a task that would not run when every task succeeds (all_failed, one_failed, all_skipped,
 * or downstream of one) "step": null and "skipped": the reason. Records nothing: the store is
 * never opened. Returns 0; DF_EINPUT with every error in errs (a file that does not load, or
 * params a plugin rejects); DF_ENOMEM. Not thread-safe with other calls on e. */
int df_engine_plan_file(df_engine *e, const char *path, const json_t *params, json_t **plan,
                        df_errlist *errs);

/* Every plugin found along the engine's plugin search path (first of each name wins), loaded and
 * sorted by name, as a new array of {"name", "version", "description", "path"} (version and
 * description null when the plugin has none). A file that fails to load is a warning in
 * `warnings`, not an error. Returns 0, or DF_ENOMEM. */
int df_engine_plugins(df_engine *e, json_t **out, df_errlist *warnings);

/* The newest run's id. DF_ENOTFOUND when there are no runs or no store; DF_ESTORE. */
int df_engine_latest_run(df_engine *e, long long *run_id, df_errlist *errs);

/* The run as `status --json` shows it (SPEC §6), plus the pool metrics, as a new object:
 *   {"run_id", "workflow", "state", "started_at", "ended_at",
 *    "tasks": [{"id", "state", "attempts", "started_at", "ended_at", "duration_ms", "error",
 *               "result"}],
 *    "metrics": {"workers_peak", "workers_started", ...} (absent before the run's first end)}
 * times ISO-8601 UTC strings or null; a RUNNING run whose heartbeat is older than 30000 ms shows
 * INTERRUPTED; tasks in file order. DF_ENOTFOUND for an unknown run (or no store); DF_ESTORE. */
int df_engine_run_status(df_engine *e, long long run_id, json_t **out, df_errlist *errs);

/* A short view of a run for large runs: {"run_id", "workflow", "state", "started_at",
 * "ended_at", "counts": {STATE: number of tasks}, "tasks": [the first max_tasks tasks, in file
 * order, that did not succeed, shaped as in df_engine_run_status]}. Errors as
 * df_engine_run_status. */
int df_engine_run_summary(df_engine *e, long long run_id, size_t max_tasks, json_t **out,
                          df_errlist *errs);

/* One task instance's attempts, oldest first, as a new object (what `dagflow logs` and
 * `status --task` show; each attempt is a row of SPEC §9's GET
 * /api/v1/runs/ID/tasks/TASK/attempts):
 *   {"run_id", "task_id", "state",
 *    "attempts": [{"attempt", "outcome", "started_at", "ended_at", "duration_ms", "error", "log",
 *                  "stdout", "stderr", "exit_code", "stdout_truncated", "stderr_truncated"}]}
 * times ISO-8601 UTC strings or null; duration_ms (ms) null while the attempt is open; log the
 * lines the plugin logged (newline-separated, capped by the engine's max_log_bytes when it ran)
 * or null. Attempts keep no result of their own: stdout, stderr, exit_code and the truncation
 * flags come from the task's stored result (the `shell` plugin's keys) and are given for the
 * latest attempt once it has ended, null otherwise. An empty array before the first attempt.
 * DF_ENOTFOUND for an unknown run ("unknown run N") or task ("run N has no task \"ID\"", with
 * "; did you mean \"ID2\"?" when a task id of the run is close); DF_ESTORE. Same thread rules as
 * df_engine_run_status. */
int df_engine_task_attempts(df_engine *e, long long run_id, const char *task_id, json_t **out,
                            df_errlist *errs);

/* Recent runs, newest first, as a new array of run_history rows (SPEC §7; objects with the view's
 * column names). workflow NULL = every workflow; limit 0 = 20. No store yet: an empty array.
 * Returns 0, DF_ESTORE, DF_ENOMEM. */
int df_engine_history(df_engine *e, const char *workflow, size_t limit, json_t **out,
                      df_errlist *errs);

/* What df_engine_history_query selects (SPEC §6 `history`, §10's filters, §9's GET
 * /api/v1/runs). Zero fields mean "no bound". Pointers borrowed for the call. */
typedef struct df_history_filter {
    const char *workflow; /* that workflow's runs only; NULL = all */
    const char *state;    /* runs in that state as run_history shows it ("INTERRUPTED" for a
                             RUNNING run whose heartbeat is 30000 ms old); a name of
                             df_run_state_name; NULL = all */
    int64_t since_ms;     /* runs started at or after this time (ms since the epoch); 0 = any */
    long long before;     /* runs whose id is below this one (exclusive); 0 = any */
    size_t limit;         /* rows at most; 0 = 20 */
} df_history_filter;

/* Recent runs as df_engine_history returns them (newest first, run_history rows), filtered by f,
 * except that a RUNNING run whose engine is gone from this host (its process dead, or its pid
 * reused) shows INTERRUPTED at once, as df_engine_run_status shows it, and the state filter
 * follows the state shown (the views wait for the heartbeat to be 30 s old). No store yet: an
 * empty array. Returns 0, DF_EINPUT (f NULL, or a state name that is not a run
 * state), DF_ESTORE, DF_ENOMEM. Same thread rules as df_engine_run_status. */
int df_engine_history_query(df_engine *e, const df_history_filter *f, json_t **out,
                            df_errlist *errs);

/* What df_engine_gc deleted (or, with dry_run, would delete). */
typedef struct df_gc_stats {
    long long runs;  /* runs deleted */
    long long rows;  /* rows deleted, in every table, the runs' own included */
    long long bytes; /* bytes freed: SQLite, the database pages the deletion freed (they go to
                        the file's free list and are reused; the file keeps its size until
                        VACUUM); PostgreSQL, the on-disk size of the deleted rows */
} df_gc_stats;

/* `dagflow gc` (SPEC §10): deletes every finished run (SUCCESS, FAILED, INVALID, CANCELLED)
 * that ended before cutoff_ms (ms since the epoch), with all its rows, in one transaction; with
 * dry_run, measures the same and changes nothing. RUNNING and INTERRUPTED runs are never
 * deleted. A store that does not exist is not created (all zero). Returns 0, DF_ESTORE,
 * DF_EBUSY. Same thread rules as df_engine_run_status; it must not be called while this engine
 * has runs in flight. */
int df_engine_gc(df_engine *e, int64_t cutoff_ms, bool dry_run, df_gc_stats *out, df_errlist *errs);

/* A run's task events after seq `after` (SPEC §9 GET /api/v1/runs/ID/events), oldest first, at
 * most limit (0 = 1000), as a new object {"run_id", "state", "events": [{"seq", "run_id",
 * "task_id", "from_state", "to_state", "at", "attempt", "detail"}], "last_seq"} (the rows of
 * the task_events view, "at" ISO-8601 UTC; "state" the run's state as status shows it; last_seq
 * the highest seq returned, or `after` when none). DF_ENOTFOUND for an unknown run ("unknown run
 * N") or no store; DF_ESTORE. Same thread rules as df_engine_run_status. */
int df_engine_run_events(df_engine *e, long long run_id, long long after, size_t limit,
                         json_t **out, df_errlist *errs);

/* The DAG a run ran, from the workflow document stored with it, as a new object {"workflow",
 * "tasks": [{"id", "plugin", "depends_on": [IDS]}]} in file order (what `dagflow report` draws;
 * a task without depends_on has []). DF_ENOTFOUND for an unknown run ("unknown run N") or no
 * store; DF_ESTORE (also for a stored document that is not a workflow). Same thread rules as
 * df_engine_run_status. */
int df_engine_run_dag(df_engine *e, long long run_id, json_t **out, df_errlist *errs);

/* The store's runs by state and the task instances of its unfinished runs by state, as a new
 * object {"runs": {STATE: n}, "task_instances": {STATE: n}} (states with none absent; a stale
 * RUNNING run counts as INTERRUPTED): GET /metrics's gauges. No store: both empty. Returns 0,
 * DF_ESTORE. Same thread rules as df_engine_run_status. */
int df_engine_state_counts(df_engine *e, json_t **out, df_errlist *errs);

/* The engine's own series for GET /metrics (SPEC §9), as a new object in df_http_metrics_text's
 * shape: {"attempts_started", "attempts_finished": {OUTCOME: n}, "ready_to_running_seconds": H
 * (a task instance QUEUED -> its attempt RUNNING), "store_commit_seconds": H (each group
 * commit), "breaker_open": {NAME: 0|1} (the breakers that changed state on this engine),
 * "admission_paused": 0|1 (a run waits for room in the pool's full queue), "queue_depth"
 * (attempts waiting in the pool's queues), "pool_workers": {"current", "busy", "peak"}}; counts
 * since the engine was opened, histogram buckets in seconds, cumulative. Returns 0 or DF_ENOMEM.
 * Thread-safe: any thread, while another drives the engine (not during df_engine_close). */
int df_engine_metrics(df_engine *e, json_t **out, df_errlist *errs);

/* ---- For a program that hosts engines ------------------------------------------------------- */

/* Whether the store db names (as df_engine_config.db) exists already, without creating it: a
 * SQLite file at that path; a server URI (PostgreSQL) counts as existing, since only connecting
 * can tell (the calls then report). Thread-safe. */
bool df_db_exists(const char *db);

/* Levenshtein distance between a and b (insertions, deletions, substitutions each cost 1;
 * case-sensitive), SIZE_MAX when either is longer than 256 bytes: the edit distance the engine's
 * "did you mean" suggestions use, for a program's own (the CLI's nearest command). Pure;
 * thread-safe. */
size_t df_levenshtein(const char *a, const char *b);

/* SIGKILLs now the process group of every child process that the tasks (and alert command sinks)
 * of the engines of this process started and that has not exited yet: for a program that must
 * leave at once (the CLI's second SIGINT: the second df_engine_stop, then this once the wait has
 * returned, then _exit(130); the runs stay RUNNING and `resume` continues them). Process-wide:
 * children are tracked in one list per process, so call it when every engine is stopped.
 * Thread-safe (takes a mutex, so not async-signal-safe). The first child process started also
 * sets SIGPIPE to SIG_IGN (a child that exits without reading its stdin must not kill the
 * process) and a SIGCHLD that was SIG_IGN back to SIG_DFL (exit statuses would be lost). */
void df_kill_task_processes(void);

/* What the calling thread was running when a fatal signal hit it, for a handler's message. */
typedef struct df_fault_info {
    const char *task_id; /* borrowed from the job */
    const char *plugin;  /* the plugin's name, or NULL */
    long long run_id;
    unsigned attempt;
    long long map_index; /* a mapped instance's index (SPEC §8), or -1 */
    int stack_overflow;  /* the fault is below the task's coroutine stack: it overflowed */
    size_t stack_size;   /* that stack's usable size in bytes (0: not on a coroutine stack) */
} df_fault_info;

/* Fills *out and returns 1 when the calling thread is running a task's code (a pool worker in one
 * of its coroutines, or a df_task_run_blocking thread); returns 0 otherwise. addr is the faulting
 * address (siginfo's si_addr) and sp the stack pointer at the fault (from the signal's ucontext;
 * NULL when unknown): together they tell a stack overflow from other faults. Async-signal-safe,
 * for fatal-signal handlers; reads thread-local state only. Worker threads run with an alternate
 * signal stack, so a handler installed with SA_ONSTACK still runs after a coroutine overflowed
 * into its guard page. */
int df_pool_fault_info(const void *addr, const void *sp, df_fault_info *out);

/* Crash records (SPEC §12: a crash is charged to a task only when it is attributed to that task's
 * own code). A program's fatal-signal handler (and its atexit guard against a plugin's exit())
 * that found the culprit with df_pool_fault_info records it with df_crash_record_write before the
 * process dies; the engine that resumes the run reads it and charges the LOST attempt to that task
 * alone (three charged losses in a row fail a task; losses not charged fail it after ten).
 * The record is a small file, crash.PID, in a folder of the user's own (mode 0700):
 * $XDG_RUNTIME_DIR/dagflow, else ${TMPDIR:-/tmp}/dagflow-UID; it is read (and removed) by a
 * resume on this host. For other hosts (a PostgreSQL store), df_crash_report_send puts the same
 * culprit in the store.
 * df_crash_record_prepare: call once, early, outside any handler (not thread-safe with itself):
 * computes this process's record path and makes the folder. Returns 0, or DF_EREFUSED when no
 * safe folder exists (owned by someone else, group/world-accessible, a symbolic link): records are
 * then not written. */
int df_crash_record_prepare(void);

/* Writes the record of fi (the task that crashed the process) for the resuming engine.
 * Async-signal-safe (open, write, close, clock_gettime); does nothing before
 * df_crash_record_prepare or when fi is NULL. */
void df_crash_record_write(const df_fault_info *fi);

/* Sends the culprit of a crash to the store db (a PostgreSQL URI or a SQLite path, borrowed), so
 * that any engine on any host charges the lost attempt to that task alone (SPEC §12): called by
 * the reporter process that a crashing `dagflow` starts from its fatal-signal handler (the
 * crashed process, pid, waits for it; engine/cli/crash.c), on the crashed process's host. fi
 * (borrowed) names the task, run, attempt and map index whose own code crashed process pid. When
 * pid is a `dagflow worker` holding that attempt's claim, its queue row is marked and its lease
 * ended, so the run's engine records the attempt LOST and charged within a second; when pid is
 * the engine that owns the run and the attempt is still RUNNING, the attempt is marked charged
 * for the engine that resumes the run. Opens and closes its own connection (one transaction);
 * thread-safe. Returns 1 (a worker's claim marked) or 2 (the engine's attempt marked);
 * DF_ENOTFOUND when neither applies (the lease had expired, the run was taken over); DF_EINPUT
 * for an incomplete fi; DF_ESTORE when the store cannot be opened or written; err (errlen bytes)
 * then says why. */
int df_crash_report_send(const char *db, long long pid, const df_fault_info *fi, char *err,
                         size_t errlen);

/* ---- dagflow worker (SPEC §11, engine/worker.c) ----------------------------------------------
 * A worker claims attempts from a PostgreSQL store's queue (those engines with --executor
 * workers put there), runs them on its own coroutine pool with its own plugins, renews each
 * claim's lease every third of lease_ms and sends back the outcomes in batches; the engine that
 * owns the run records them. A lease not renewed by its expiry (the worker was paused, cut off,
 * or the engine asked) cancels the attempt here (its process group is killed); a write for an
 * attempt whose lease was lost changes nothing and is reported through log. The library prints
 * nothing and installs no signal handler: the CLI's `dagflow worker` does. */
typedef struct df_worker df_worker;

typedef struct df_worker_config {
    const char *db;            /* a postgresql:// or postgres:// URI (a SQLite path is DF_EINPUT) */
    const char *const *queues; /* the queues to claim from; NULL/0: {"default"} */
    size_t n_queues;
    size_t concurrency;             /* attempts running at once at most (default 256) */
    int64_t lease_ms;               /* default 15000; renewed every lease_ms / 3 */
    const char *const *plugin_dirs; /* as df_engine_config's */
    size_t n_plugin_dirs;
    bool allow_insecure_plugins;
    const char *const *pass_env; /* as df_engine_config's (borrowed until df_worker_close) */
    size_t n_pass_env;
    unsigned workers_min, workers_max; /* the pool's threads, as df_engine_config's */
    size_t stack_size;
    /* One line of the worker's log (a refused late write, a lost lease, a plugin that does not
     * load here), on the thread running df_worker_run or on the worker's watchdog thread (a
     * lease that ran out while that thread was blocked), so it must be thread-safe; may be
     * NULL. */
    void (*log)(void *ud, const char *line);
    void *ud;
} df_worker_config;

/* Counters since df_worker_open (df_worker_stats). */
typedef struct df_worker_stats {
    uint64_t claimed, completed, refused, lost, cancelled;
} df_worker_stats;

/* Connects to cfg->db (retried as df_engine_open's store) and loads nothing yet. Returns 0 and
 * sets *out, or DF_EINPUT (bad configuration, not a PostgreSQL URI) / DF_ESTORE with a message
 * in err. Strings in cfg are copied except pass_env. */
int df_worker_open(const df_worker_config *cfg, df_worker **out, char *err, size_t errlen);

/* Runs the worker on the calling thread until df_worker_stop: claims, runs, renews, completes.
 * Returns 0 after a stop, or DF_ESTORE when the store failed for good (its message in err).
 * A first stop ends claiming and waits for the attempts in flight; a second one returns at once
 * (their leases then expire and the engines queue them again). */
int df_worker_run(df_worker *w, char *err, size_t errlen);

/* Asks df_worker_run to return (see there). Any thread; async-signal-safe. */
void df_worker_stop(df_worker *w);

void df_worker_get_stats(const df_worker *w, df_worker_stats *out);

/* Frees the worker (after df_worker_run returned, or instead of it). Returns how many pool
 * threads were left behind in plugins that ignore cancellation (see df_engine_close). */
size_t df_worker_close(df_worker *w);

#ifdef __cplusplus
}
#endif

/* The HTTP API, the run page and the service (`dagflow serve` as a library). */
#include "service.h"

#endif
