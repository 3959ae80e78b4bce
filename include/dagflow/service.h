/* dagflow service API: the HTTP API server (df_http_*), the run page (df_run_page_*, for
 * `dagflow report` and the web UI), the Prometheus text of GET /metrics, and the service
 * (df_service_*: `dagflow serve` as a library). dagflow.h includes this header: a program needs
 * no other include, and the conventions stated at the top of dagflow.h (errors, units,
 * ownership, thread-safety) hold here too. Including this header alone works as well (it
 * includes dagflow.h). */
#ifndef DAGFLOW_SERVICE_H
#define DAGFLOW_SERVICE_H

#include "dagflow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The HTTP API (SPEC §9; engine/http/) ----------------------------------------------------
 *
 * An HTTP server on libmicrohttpd with threads of its own (one per connection, at most 64
 * connections): it never runs on, nor waits for, the thread driving an engine. Reads (runs,
 * attempts, events, metrics' counts) go through reader engines of its own on the same store
 * (df_http_config.readers of them, each used by one request at a time), so a slow client never
 * holds the engine that runs the workflows. What only the hosting program can do (list its
 * workflows, start a run now, cancel, retry, resume, the running engine's metrics) goes through
 * the hooks below, which must be thread-safe: a hook left NULL makes its endpoint answer 501
 * with a message saying so. Bodies are strict JSON (jansson: trailing text, duplicate keys,
 * wrong types and unknown keys are 400); bodies over 1 MiB get 413; errors are {"error": TEXT}.
 * With a token file every /api/ request and /metrics need "Authorization: Bearer TOKEN" (401
 * otherwise; compared in constant time, as SHA-256 digests); GET /, /healthz and static assets
 * need none. Listening on an address that is not loopback without a token file is refused. */

typedef struct df_http df_http;

/* The hooks' answers: 0, or DF_ENOTFOUND (404), DF_EREFUSED (409), DF_EINPUT (400), another
 * DF_E* (500), each with its message in errs. They are called from the server's threads, several
 * at once. */
typedef struct df_http_hooks {
    void *ud; /* handed to every hook */
    /* GET /api/v1/workflows: sets *out to a new array of {"name", "file", "valid", "errors",
     * "schedule", "next_fire_at", "last_run"} (SPEC §9). Also used by the schedule endpoint,
     * which loads "file". */
    int (*workflows)(void *ud, json_t **out, df_errlist *errs);
    /* POST /api/v1/workflows/NAME/runs: starts a run of that workflow now with params (an
     * object, borrowed) over its own, trigger "api"; sets *run_id. DF_ENOTFOUND unknown
     * workflow, DF_EREFUSED an invalid one, DF_EINPUT bad params. */
    int (*start_run)(void *ud, const char *workflow, const json_t *params, long long *run_id,
                     df_errlist *errs);
    /* POST /api/v1/runs/ID/cancel, /retry (task NULL = the failed part), /resume: as the commands
     * of these names. The server has checked that the run exists. */
    int (*cancel)(void *ud, long long run_id, df_errlist *errs);
    int (*retry)(void *ud, long long run_id, const char *task, df_errlist *errs);
    int (*resume)(void *ud, long long run_id, df_errlist *errs);
    /* GET /metrics: the running engine's series as a new object (see df_http_metrics_text for
     * its keys); NULL: only the series the store can tell (runs and task instances by state). */
    int (*metrics)(void *ud, json_t **out, df_errlist *errs);
} df_http_hooks;

typedef struct df_http_config {
    const char *listen;     /* "HOST:PORT" ("[::1]:8080" for IPv6); NULL = "127.0.0.1:8080"; port 0
                               picks a free one (df_http_port tells which) */
    const char *token_file; /* a file holding the bearer token (surrounding blanks dropped), or
                               NULL for none (then only a loopback address is accepted) */
    const char *db;         /* the store the reads use, as df_engine_config.db */
    size_t readers;         /* reader engines (default 4) */
    df_http_hooks hooks;
} df_http_config;

/* Starts the server: reads the token file, resolves and checks the address, binds and starts
 * listening (the server's own threads). Returns 0 and sets *out (stop with df_http_stop), or
 * DF_EINPUT (a bad address, a non-loopback address without a token file, an empty or unreadable
 * token file), DF_EINTERNAL (the address cannot be bound: in use, permission), DF_ENOMEM, with
 * the reason in errs. Strings in cfg are copied. Thread-safe. */
int df_http_start(const df_http_config *cfg, df_http **out, df_errlist *errs);

/* The port the server listens on (the one chosen when the address said 0). Thread-safe. */
int df_http_port(const df_http *h);

/* Wakes the long polls of GET /api/v1/runs/ID/events at once (they look at the store again):
 * for an engine's on_event callback, so that a new event reaches a waiting client in a few ms
 * rather than at the next look (every 50 ms). Thread-safe, cheap (a mutex and a broadcast);
 * not async-signal-safe. NULL is fine. */
void df_http_notify(df_http *h);

/* Stops the server: no new connection, the requests in flight end (long polls are woken and
 * answer), then its threads are joined and everything freed. NULL is fine. Not from a hook. */
void df_http_stop(df_http *h);

/* The run page's data (`dagflow report`, and GET /api/v1/runs/ID/report for the web UI's run
 * page), read with e as a new object:
 *   {"run": df_engine_run_status's object, "dag": df_engine_run_dag's object,
 *    "attempts": {KEY: df_engine_task_attempts's "attempts"}}
 * KEY is a task's id, or "ID[N]" for each instance of a mapped task (which has none of its own).
 * Without texts, the attempts lack "log", "stdout" and "stderr" (the live page fetches one
 * task's attempts when it shows that task: a run of thousands of tasks stays small). Returns 0,
 * DF_ENOTFOUND (unknown run, "unknown run N" in errs), DF_ESTORE, DF_ENOMEM. Reads one query
 * per task instance. Same thread rules as df_engine_run_status. */
int df_run_page_data(df_engine *e, long long run_id, bool texts, json_t **out, df_errlist *errs);

/* The run page (`dagflow report`; the web UI's run page): one self-contained HTML file (inline
 * CSS and JavaScript, no network) drawing data, df_run_page_data's object: the DAG coloured by
 * state with state names, a Gantt chart of every attempt, and each task's attempts, errors, logs
 * and result. data is embedded as JSON with every "/" escaped, so no text of a task can end the
 * script element. data JSON null makes the live page of the web UI: it reads the run id from
 * its URL (/runs/ID), fetches the data from the API and follows the run's events. Sets *html to
 * a new string (free()). Returns 0 or DF_ENOMEM. Pure; thread-safe. */
int df_run_page_html(const json_t *data, char **html);

/* GET /metrics's body (Prometheus text format 0.0.4) from counts (df_engine_state_counts's
 * object) and engine (NULL, or the metrics hook's object, whose keys are all optional):
 *   {"attempts_started": N, "attempts_finished": {OUTCOME: N}, "queue_depth": N,
 *    "pool_workers": {"current": N, "busy": N, "peak": N}, "breaker_open": {NAME: 0|1},
 *    "admission_paused": 0|1, "ready_to_running_seconds": H, "store_commit_seconds": H,
 *    "schedule_lateness_seconds": H}
 * where H is a histogram {"buckets": [[UPPER_BOUND_S, CUMULATIVE_COUNT], ...], "sum": S,
 * "count": N}. Series the object lacks are left out. Sets *text to a new string (free()).
 * Returns 0 or DF_ENOMEM. Pure; thread-safe. */
int df_http_metrics_text(const json_t *counts, const json_t *engine, char **text);

/* ---- The service: `dagflow serve` as a library (SPEC §9) ------------------------------------
 *
 * A df_service is an engine (its own, opened with df_engine_config.service set) plus a folder of
 * workflow files it serves: every *.json in the folder is loaded (an invalid file is reported
 * and kept with its errors, never stopping the others), a changed file is reloaded and a removed
 * one forgotten within 2 s (inotify through libuv's fs events, and a stat of the folder every
 * second in case events are lost), schedules fire (each fire time decided once, in the same
 * transaction as the run it creates: the schedule_history view), and any number of runs advance
 * at once on the engine's one pool, dispatched fairly between runs. Pools and breakers are
 * global by name: a file declaring a pool or breaker another loaded file declares with other
 * settings, or a workflow name another file has, is invalid.
 *
 * Threads: df_service_run drives everything on the thread that calls it (the engine thread)
 * until df_service_stop. df_service_start_run, _cancel_run, _retry_run, _resume_run,
 * df_service_workflows and df_service_stop may be called from any other thread meanwhile (an
 * HTTP server's): they take a mutex and wake the engine thread with uv_async_send; the engine
 * thread never waits for them. */

typedef struct df_service df_service;

/* One log line of the service (run started, ended, failed to start; a file invalid, loaded,
 * removed; a fire time skipped ...), without a newline, e.g.
 * `run 12 (etl) started: trigger schedule, logical time 2026-12-07T16:00:00.000Z`. Called on the
 * engine thread; line is borrowed for the call. */
typedef void (*df_service_log_fn)(void *ud, const char *line);

typedef struct df_service_config {
    df_engine_config engine;   /* the engine's configuration (service is set by df_service_open) */
    const char *workflows_dir; /* the folder of workflow files; required; copied */
    df_service_log_fn log;     /* may be NULL */
    void *log_ud;
    /* How often the folder is looked at with stat, besides fs events (ms; default 1000). */
    unsigned rescan_ms;
} df_service_config;

/* Opens a service: the engine (df_engine_open) and the folder's path; loads nothing yet. Returns
 * 0 and sets *out (df_service_close), DF_EINPUT (no folder given, or not a folder), or the
 * engine's errors. Any thread. */
int df_service_open(const df_service_config *cfg, df_service **out, df_errlist *errs);

/* The service's engine (borrowed, valid until df_service_close): for df_engine_stop (what
 * SIGINT/SIGTERM should call) and, from the thread running df_service_run, the read calls. */
df_engine *df_service_engine(df_service *s);

/* Runs the service until df_service_stop (or df_engine_stop on its engine): opens the store
 * (created if missing), loads the folder, resumes the runs a serve engine left RUNNING (its
 * engine dead) or INTERRUPTED for the workflows it serves (runs of `dagflow run` are left to
 * their owner), catches up missed fire times per each schedule's `catchup`, then serves. On
 * stop: no new run starts, the runs in flight are interrupted (INTERRUPTED, resumable by the
 * next serve), and it returns 0 once they have ended (a second stop: at once, the runs left
 * RUNNING, also 0). DF_ESTORE when the store fails (why in errs); DF_EINTERNAL when the folder
 * cannot be watched at all. Blocks the calling thread, which becomes the engine thread. */
int df_service_run(df_service *s, df_errlist *errs);

/* Asks df_service_run to stop, as SIGINT does (df_engine_stop on its engine; a second call stops
 * at once). Any thread, async-signal-safe. */
void df_service_stop(df_service *s);

/* Starts a run of the workflow named `workflow` now (trigger api, SPEC §9's POST
 * /api/v1/workflows/NAME/runs): params (borrowed; NULL = none) over the workflow's, typed as
 * `--param K:=JSON`. Blocks the calling thread until the engine thread has recorded the run
 * (or refused it), at most timeout_ms (0 = 30000), and sets *run_id. Returns 0; DF_ENOTFOUND (no
 * such workflow), DF_EREFUSED (the workflow's file is invalid), DF_EINPUT (bad params; why in
 * errs), DF_EINTERRUPTED (the service is stopping or not running), DF_EBUSY (timed out: the run
 * may still be created), DF_ESTORE. Thread-safe; must not be called from the engine thread. */
int df_service_start_run(df_service *s, const char *workflow, const json_t *params,
                         unsigned timeout_ms, long long *run_id, df_errlist *errs);

/* The run actions of SPEC §9's POST /api/v1/runs/ID/cancel, /retry and /resume, asked from
 * another thread (an HTTP server's) and done on the engine thread, as the commands of the same
 * names (SPEC §10, §6): cancel stores the request (reason "HTTP API") and acts on it now when this
 * service owns the run (its owner acts within 1 s otherwise), and takes over, as resume would, a
 * run no live engine owns, so that its on_exit handlers run and it ends CANCELLED; retry reopens a
 * finished run (task NULL: its failed part; else that task and what is downstream of it) and
 * resume takes over an INTERRUPTED run or one whose engine is dead, both then advancing in this
 * service like its other runs. Each blocks the calling thread until the engine thread has acted,
 * at most timeout_ms (0 = 30000); it never waits for the run to end. Returns 0; DF_EINPUT (run_id
 * not positive); DF_ENOTFOUND (no such run); DF_EREFUSED (the run's state does not allow it: a
 * finished run for cancel and resume, an unfinished one for retry, a run whose engine is alive for
 * resume, an unknown task or nothing to retry; why in errs); DF_EINTERRUPTED (stopping or not
 * running); DF_EBUSY (timed out: the action may still happen); DF_ESTORE; or resume's errors.
 * Thread-safe; must not be called from the engine thread. */
int df_service_cancel_run(df_service *s, long long run_id, unsigned timeout_ms, df_errlist *errs);
int df_service_retry_run(df_service *s, long long run_id, const char *task, unsigned timeout_ms,
                         df_errlist *errs);
int df_service_resume_run(df_service *s, long long run_id, unsigned timeout_ms, df_errlist *errs);

/* The workflows served, as a new array sorted by name (then file), each
 *   {"name", "file", "valid", "errors": [...], "schedule": the file's schedule object or null,
 *    "next_fire_at": ISO-8601 UTC or null, "last_run": {"run_id", "state"} or null}
 * (SPEC §9's GET /api/v1/workflows; "name" is null for a file too broken to have one; last_run is
 * the newest run this service started or resumed, or found in the store at load, with its state
 * as this service last saw it). A snapshot taken by the engine thread after each change: may lag
 * by a moment. Returns 0, DF_ENOMEM. Thread-safe. */
int df_service_workflows(df_service *s, json_t **out);

/* Closes the service and its engine (df_engine_close's return value). Not while df_service_run
 * runs. NULL is fine. */
size_t df_service_close(df_service *s);

#ifdef __cplusplus
}
#endif
#endif
