/* store: the only place that speaks SQL. One SQLite file in WAL mode holding runs, task
 * instances, every transition, attempts with their logs, and alerts; the five stable views of
 * SPEC §7 are defined in schema.sql. Every state change is a compare-and-set on (state, attempt),
 * so a stale engine never overwrites newer work.
 *
 * Thread-safety: a df_store is used by one thread at a time (the engine thread). Several
 * processes may use one file at once (WAL, busy timeout, BEGIN IMMEDIATE).
 * Errors: functions return DF_STORE_OK (0) or a negative DF_STORE_* code; the message of the
 * last failure is df_store_error() (borrowed, valid until the next call on the same store).
 * Times are integers in milliseconds since the Unix epoch (UTC); the views format them. */
#ifndef DF_STORE_H
#define DF_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "../engine/model.h"

#define DF_STORE_OK 0
#define DF_STORE_ERROR (-1)    /* SQLite error (I/O, full disk, read-only, corrupt, ...) */
#define DF_STORE_CONFLICT (-2) /* compare-and-set found another state or attempt */
#define DF_STORE_NOTFOUND (-3) /* no such run / task / alert */
#define DF_STORE_BUSY (-4)     /* the database stayed locked past the busy timeout */

/* The schema version this build writes (PRAGMA user_version). */
#define DF_STORE_SCHEMA_VERSION 2

typedef struct df_store df_store;

/* Opens (creating with mode 0600 if needed) and migrates the store at path: WAL mode, a busy
 * timeout of 10000 ms, foreign keys on. Safe when several processes create the same new file at
 * the same moment. Returns DF_STORE_OK and sets *out (close with df_store_close), or an error
 * code with the message in err (and *out NULL). A file whose user_version is newer than this
 * build's is refused with a clear message. */
int df_store_open(const char *path, df_store **out, char *err, size_t errlen);

/* Closes the store; NULL is fine. */
void df_store_close(df_store *s);

/* The message of the last failed call (borrowed; "" if none). */
const char *df_store_error(const df_store *s);

/* Group commit: BEGIN IMMEDIATE / COMMIT / ROLLBACK. Calls between begin and commit are one
 * transaction; without begin, each write call is its own transaction. */
int df_store_begin(df_store *s);
int df_store_commit(df_store *s);
int df_store_rollback(df_store *s);

/* Records a new run with its DAG snapshot, its task instances (all PENDING, one event each from
 * NULL to PENDING) and its edges; sets *run_id (positive, increasing). run (borrowed):
 *   {"workflow": str, "dag": {the workflow document}, "path": str, "dir": str,
 *    "params": {resolved run params}, "plugins": {"name": "version", ...},
 *    "started_at": ms, "engine": {"pid": int, "host": str, "started_at": ms},
 *    "tasks": [{"id": str, "plugin": str, "depends_on": [ids]}]}          (in file order) */
int df_store_create_run(df_store *s, const json_t *run, long long *run_id);

/* One state change of one task instance: applied only if the row is still in (from,
 * from_attempt). Writes the new state and attempt, the event (task_events), and per the fields
 * below the instance's error/result/next retry time. Sets the instance's started_at on its first
 * RUNNING, ended_at when to is final, and clears ended_at when to is PENDING.
 * Returns DF_STORE_OK, DF_STORE_CONFLICT when the row was not in (from, from_attempt), or an
 * error. */
typedef struct df_transition {
    long long run_id;
    const char *task_id;
    df_task_state from;
    unsigned from_attempt;
    df_task_state to;
    unsigned to_attempt;
    int64_t at;
    const char *detail;      /* event detail text, or NULL */
    const char *error;       /* task error to store: NULL leaves it, "" clears it */
    const char *result_json; /* task result (JSON text) to store: NULL leaves it */
    int64_t next_retry_at;   /* UP_FOR_RETRY: when the retry is due; otherwise 0 (cleared) */
    int reset_retry_budget;  /* non-zero (retry command): retry_base = to_attempt */
} df_transition;
int df_store_transition(df_store *s, const df_transition *t);

/* Opens attempt number `attempt` (outcome RUNNING) of a task instance. */
int df_store_attempt_open(df_store *s, long long run_id, const char *task_id, unsigned attempt,
                          int64_t started_at);

/* Closes an open attempt with its outcome; applied only if it is still RUNNING (else
 * DF_STORE_CONFLICT). error and log may be NULL. */
int df_store_attempt_close(df_store *s, long long run_id, const char *task_id, unsigned attempt,
                           df_attempt_outcome outcome, int64_t ended_at, const char *error,
                           const char *log);

/* Sets the run's state (and ended_at when it is final or INTERRUPTED, 0 to clear it). */
int df_store_run_set_state(df_store *s, long long run_id, df_run_state state, int64_t ended_at);

/* Records the engine owning the run and refreshes its heartbeat. engine (borrowed):
 * {"pid": int, "host": str, "started_at": ms}. */
int df_store_run_set_engine(df_store *s, long long run_id, const json_t *engine, int64_t at);

/* Takes ownership of a run for this engine, as a compare-and-set: applied only while the run is
 * still owned by `expected` (the {"pid","host","started_at"} object read before deciding that
 * engine was dead; null or NULL for a run without an owner). Sets the new engine and its
 * heartbeat. DF_STORE_CONFLICT when another engine claimed it first (two resumes at once). */
int df_store_run_claim(df_store *s, long long run_id, const json_t *expected, const json_t *engine,
                       int64_t at);

/* Refreshes the run's heartbeat. */
int df_store_run_heartbeat(df_store *s, long long run_id, int64_t at);

/* Stores the run's pool metrics object (borrowed; any JSON object), merged with what earlier
 * engines stored for the run (before a resume or a retry): a key ending in "_peak" and
 * "queue_high_water" keep the larger integer, other integers add up, other values are replaced,
 * and keys only stored before stay. */
int df_store_run_set_metrics(df_store *s, long long run_id, const json_t *metrics);

/* Records a circuit breaker's state change (SPEC §3a; the breaker_history view): caused by an
 * attempt of task_id (may be NULL) in run_id; from/to are "CLOSED", "OPEN" or "HALF_OPEN";
 * failure_rate (0..1) over `calls` outcomes in its window at that moment. */
int df_store_breaker_event(df_store *s, long long run_id, const char *task_id, const char *breaker,
                           const char *from, const char *to, double failure_rate, int calls,
                           int64_t at);

/* Writes one alert row (status "pending", tries 0) and sets *alert_id. task_id may be NULL (run
 * events). sink is a short description ("command:./notify.sh", "file:alerts.jsonl"); payload is
 * the alert JSON text. */
int df_store_alert_add(df_store *s, long long run_id, const char *task_id, const char *event,
                       const char *sink, int sink_index, const char *payload, int64_t created_at,
                       long long *alert_id);

/* Updates an alert's delivery: status "pending" | "delivered" | "failed", tries so far,
 * delivered_at (0 = NULL), error (NULL = none). */
int df_store_alert_update(df_store *s, long long alert_id, const char *status, int tries,
                          int64_t delivered_at, const char *error);

/* The run's alerts still "pending": sets *out to a new array of
 * {"alert_id": int, "sink_index": int, "payload": str, "tries": int}. */
int df_store_alerts_pending(df_store *s, long long run_id, json_t **out);

/* The run as `status --json` shows it (SPEC §6), as a new object:
 * {"run_id", "workflow", "state", "started_at", "ended_at", "tasks": [{"id", "state",
 *  "attempts", "started_at", "ended_at", "duration_ms", "error", "result"}], "metrics"}
 * times ISO-8601 UTC strings or null; a RUNNING run with a heartbeat older than 30000 ms shows
 * as INTERRUPTED; tasks in file order; result is the stored JSON or null. DF_STORE_NOTFOUND
 * for an unknown run. */
int df_store_run_status(df_store *s, long long run_id, json_t **out);

/* A short view of a run for large runs' summaries, as a new object: {"run_id", "workflow",
 * "state", "started_at", "ended_at" (as in df_store_run_status), "counts": {STATE: number of
 * tasks in it, ...}, "tasks": [the first max_tasks tasks, in file order, that are not SUCCESS,
 * shaped as in df_store_run_status]}. DF_STORE_NOTFOUND for an unknown run. */
int df_store_run_summary(df_store *s, long long run_id, int max_tasks, json_t **out);

/* The newest run's id, or DF_STORE_NOTFOUND when there are no runs. */
int df_store_latest_run(df_store *s, long long *run_id);

/* Recent runs, newest first, as a new array of run_history rows (objects with the view's column
 * names). workflow NULL = all; limit <= 0 = 20. */
int df_store_history(df_store *s, const char *workflow, int limit, json_t **out);

/* Everything needed to resume or retry a run, as a new object:
 * {"run_id", "workflow", "state" (stored state, not the heartbeat view), "dag": {...},
 *  "path", "dir", "params": {...}, "engine": {"pid","host","started_at"} or null,
 *  "heartbeat_at": ms or null, "ended_at": ms or null,
 *  "tasks": [{"id", "state", "attempts", "retry_base", "next_retry_at" (ms or null),
 *             "result" (JSON or null), "error",
 *             "open_attempt" (number of an attempt still RUNNING, or 0),
 *             "lost_streak" (LOST attempts in a row before the latest attempt that ended
 *                            otherwise, not counting one still RUNNING),
 *             "failures" (FAILED or TIMED_OUT attempts since the retry budget was reset)}]}
 * DF_STORE_NOTFOUND for an unknown run. */
int df_store_load_run(df_store *s, long long run_id, json_t **out);

#endif
