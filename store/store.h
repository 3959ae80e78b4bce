/* store: the interface between the engine and where runs are kept. The engine calls the
 * df_store_* functions below; each checks its arguments and calls the backend chosen when the
 * store was opened through its table of operations (struct df_store_ops, store/store_ops.h), as
 * Redis's ae.c calls the poller it was built with. Backends: SQLite (store/sqlite/, one file in WAL
 * mode, the views of SPEC §7 in its schema) and PostgreSQL (store/pg/, libpq, the same views).
 * Nothing outside store/ knows which backend it talks to, or SQL.
 *
 * What is stored: runs (with the DAG document they ran, their params, plugin versions, owning
 * engine and heartbeat), task instances, every state change of a task instance (an event),
 * attempts with their logs, circuit breaker changes and alerts. Every state change is a
 * compare-and-set on (state, attempt), so a stale engine never overwrites newer work.
 *
 * Records: arguments are typed records (df_run_record, df_transition, df_engine_id) whose
 * pointers are borrowed for the call only; results are typed records the caller owns and frees
 * with the function named next to each (df_stored_run_free, df_pending_alerts_free). What the
 * CLI prints (status, summary, history) comes back as new JSON objects in the shapes documented
 * below, which the CLI prints as they are.
 *
 * Thread-safety: a df_store is used by one thread at a time (the engine thread; pool threads
 * never touch it). Several processes may use one store at once (SQLite: WAL, a busy timeout,
 * BEGIN IMMEDIATE).
 * Errors: functions return DF_STORE_OK (0) or a negative DF_STORE_* code; the message of the
 * last failure ("store: WHAT: why") is df_store_error(). No function prints or aborts.
 * Times are integers in milliseconds since the Unix epoch (UTC); 0 means "none" where a field
 * says so. Durations are milliseconds. */
#ifndef DF_STORE_H
#define DF_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/model.h"

/* The store's codes are the engine's one error convention (DF_E* in dagflow.h, with their texts
 * from df_strerror): a store failure travels up to the embedding API unchanged. */
#define DF_STORE_OK 0
/* the backend failed (I/O, full disk, read-only, corrupt, bad arguments, a backend that is not
 * built, ...) */
#define DF_STORE_ERROR DF_ESTORE
#define DF_STORE_CONFLICT DF_ECONFLICT /* compare-and-set found another state, attempt or owner */
#define DF_STORE_NOTFOUND DF_ENOTFOUND /* no such run / task / attempt / alert */
#define DF_STORE_BUSY DF_EBUSY /* the store stayed locked past the busy timeout (10000 ms) */

typedef struct df_store df_store;
typedef struct df_store_ops df_store_ops;

/* ---- opening -------------------------------------------------------------------------------- */

/* Opens the store that uri names (the CLI's --db value), picking its backend:
 *   postgresql://... or postgres://...  PostgreSQL (store/pg/, libpq reads the URI): connected,
 *                                        retried while the server does not answer (30 s, or
 *                                        DAGFLOW_PG_RETRY_MS), and migrated to this build's
 *                                        schema; a newer schema is refused;
 *   anything else                        a SQLite file path: created (mode 0600, whatever the
 *                                        umask) if missing, migrated to this build's schema; a
 *                                        file newer than this build is refused; one that cannot
 *                                        be written opens read-only (reads work, writes fail
 *                                        with "store: WHAT: cannot write PATH: CAUSE"). A path
 *                                        that is a symbolic link (even a dangling one), or whose
 *                                        -wal or -shm is one, is refused and nothing is created
 *                                        (SPEC §12): "store: --db PATH is a symbolic link; ...".
 * Returns DF_STORE_OK and sets *out (close with df_store_close), or an error code with the
 * message in err (errlen bytes; *out NULL). uri is borrowed. */
int df_store_open(const char *uri, df_store **out, char *err, size_t errlen);

/* Whether uri names a file (SQLite) rather than a server (a PostgreSQL URI, which messages do
 * not repeat: it may hold a password). */
bool df_store_is_path(const char *uri);

/* Whether the store uri names exists already, without creating it (the CLI's `status` and
 * `history` do not create a store). SQLite: a file exists at that path. PostgreSQL: true (only
 * connecting can tell; df_store_open then reports). */
bool df_store_exists(const char *uri);

/* Closes the store (an open transaction is rolled back); NULL is fine. */
void df_store_close(df_store *s);

/* The message of the last failed call on s (borrowed: valid until the next call on s; "" if
 * none; "" for NULL). */
const char *df_store_error(const df_store *s);

/* Group commit: begin / commit / rollback. Calls between begin and commit are one transaction
 * (SQLite: BEGIN IMMEDIATE, which waits up to the busy timeout for the write lock); without
 * begin, each write call is its own transaction. A failed commit may leave the transaction open:
 * call df_store_rollback. Rollback without an open transaction is not an error. */
int df_store_begin(df_store *s);

/* Lets the writes of every later begin..commit transaction report a refusal late (off by
 * default): with it on, a write inside the transaction may return DF_STORE_OK before the store
 * has answered (PostgreSQL: libpq's pipeline mode, store/pg/pipe.c), and a compare-and-set it
 * made that changed nothing, or any other failure of it, is reported by the next call that reads
 * the store's answers — a read, a savepoint, the run fence, at the latest df_store_commit — as
 * DF_STORE_ERROR with the write's own message; the transaction then cannot commit (roll it back).
 * With it off, each write reports its own refusal and the transaction stays usable, as SQLite's.
 * For a caller that treats any refused write as the end of the transaction anyway (the engine:
 * its writes are fenced by the run lease, so a refusal means a bug or a lost run). SQLite answers
 * every write at once: no effect there. Not thread-safe (the store's own thread). */
void df_store_defer_checks(df_store *s, bool on);
int df_store_commit(df_store *s);
int df_store_rollback(df_store *s);

/* ---- the database file -------------------------------------------------------------------- */

/* Puts everything committed so far into the database file itself, so that a copy of that file
 * alone holds the history (SPEC §12; the engine calls it when a run ends, after the run's last
 * commit, and when it closes). Never blocks readers for long: SQLite runs a PASSIVE checkpoint
 * (it copies what no reader needs from the -wal file and waits for nobody); when a reader still
 * reading an older snapshot keeps frames in the -wal file, one TRUNCATE checkpoint waits at most
 * 200 ms for it (while it waits, writers wait; readers never do); when the PASSIVE one copied
 * everything, a TRUNCATE that does not wait empties the -wal file if nobody is using it. Sets
 * *complete (NULL: not wanted) to whether the database file now holds every committed
 * transaction (a reader that held frames is not an error: complete is false, and a later
 * checkpoint finishes the job). DF_STORE_ERROR inside a transaction (begin..commit) and on an
 * I/O error. PostgreSQL (when built): complete, nothing to do. */
int df_store_checkpoint(df_store *s, bool *complete);

/* Whether the database file at the path the store was opened with is still the file the store
 * has open: the path is looked at without following links (lstat) and its st_dev/st_ino compared
 * with the file opened. DF_STORE_OK when it is; DF_STORE_ERROR with "store: the database file
 * PATH was deleted while dagflow was using it" (nothing there, or the path's folder gone) or
 * "store: the database file PATH was replaced by another file while dagflow was using it" (a
 * different file there; an `mv` over it, say). Writes made after the change went to a file no one
 * can open again; the engine stops the run (exit 3), which is then resumable from the file put
 * back. Costs one lstat; the engine calls it at each heartbeat and when a run ends. PostgreSQL
 * (when built): always DF_STORE_OK. */
int df_store_check_file(df_store *s);

/* ---- typed records ----------------------------------------------------------------------------
 */

/* The engine process owning a run, so that `resume` can tell a dead engine from a live one. In
 * arguments every pointer is borrowed for the call; in a df_stored_run, host belongs to the
 * record (freed by df_stored_run_free). */
typedef struct df_engine_id {
    long long pid;
    const char *host;   /* host name (gethostname); never NULL in an argument */
    int64_t started_at; /* when that engine process started, ms */
    /* "serve" for a `dagflow serve` engine (stored with the owner: serve resumes only what a
     * serve engine left behind, SPEC §9), NULL for any other engine. Not part of the identity a
     * claim compares. In a df_stored_run, owned by the record. */
    const char *kind;
} df_engine_id;

/* One task instance of a new run. Borrowed by df_store_create_run for the call. */
typedef struct df_task_record {
    const char *id;           /* unique within the run */
    const char *plugin;       /* the plugin as written in the workflow (name or path) */
    const size_t *depends_on; /* its upstream tasks: indexes into df_run_record.tasks */
    size_t n_depends_on;      /* (depends_on may be NULL when 0) */
} df_task_record;

/* The version of one plugin a run uses (a name may appear more than once: the last wins). */
typedef struct df_plugin_version {
    const char *name;
    const char *version; /* NULL is stored as "" */
} df_plugin_version;

/* A new run, as df_store_create_run records it. Every pointer is borrowed for the call. */
typedef struct df_run_record {
    const char *workflow;             /* the workflow's name; required */
    const char *dag_json;             /* the workflow document (JSON object text); required */
    const char *path;                 /* the workflow file as given, or NULL */
    const char *dir;                  /* its folder (relative paths resolve there), or NULL */
    const char *params_json;          /* resolved run params (JSON object text); NULL = "{}" */
    const df_plugin_version *plugins; /* n_plugins entries (NULL when 0) */
    size_t n_plugins;
    int64_t started_at;          /* ms; also the first heartbeat when engine is given */
    const df_engine_id *engine;  /* the engine owning the run, or NULL for none yet */
    const df_task_record *tasks; /* in file order (their index is their position) */
    size_t n_tasks;
    df_run_trigger trigger;     /* what started it (DF_TRIGGER_MANUAL when zeroed) */
    int64_t logical_time;       /* ms; 0 = started_at */
    long long parent_run_id;    /* a child run's parent run, or 0 */
    const char *parent_task_id; /* ... and task, or NULL */
} df_run_record;

/* Where a run comes from and why it ended, as status and history show it (SPEC §10's
 * run_history columns). Strings belong to the record holding it. */
typedef struct df_run_origin {
    df_run_trigger trigger;
    int64_t logical_time;    /* ms (a run older than schema 5: its started_at) */
    long long parent_run_id; /* 0 = none */
    char *parent_task_id;    /* or NULL */
    char *error;             /* the run's own error (timed out, cancelled ...), or NULL */
} df_run_origin;
/* A mapped task instance's map_index for an unmapped task (and a mapped task's own row): SPEC §10
 * shows it as NULL, the tables keep -1. */
#define DF_NO_MAP_INDEX (-1)

/* One task instance of a stored run (df_stored_run.tasks). Strings belong to the run record. */
typedef struct df_stored_task {
    char *id;
    long long map_index; /* DF_NO_MAP_INDEX, or a mapped instance's index (SPEC §8) */
    char *plugin;
    df_task_state state;
    unsigned attempts;       /* number of the latest attempt (0 before the first) */
    unsigned retry_base;     /* attempt number when the retry budget was last reset */
    int64_t next_retry_at;   /* UP_FOR_RETRY: when the retry is due (ms); else 0 */
    char *result_json;       /* the task's result (JSON text), or NULL */
    char *error;             /* the task's error, or NULL */
    int64_t started_at;      /* first attempt's start (ms), or 0 */
    int64_t ended_at;        /* when it became final (ms), or 0 */
    unsigned open_attempt;   /* number of an attempt still RUNNING (a crash left it open), or 0 */
    unsigned lost_streak;    /* LOST attempts in a row before the latest attempt that ended
                                otherwise, within the current retry budget, not counting one still
                                RUNNING: with LOST, LOST, RUNNING it is 2, so an engine that closes
                                the open attempt as LOST knows it is the third in a row */
    unsigned failures;       /* FAILED or TIMED_OUT attempts since the retry budget was reset */
    unsigned charged_streak; /* of lost_streak's LOST attempts, those charged to the task's own
                                code (df_store_attempt_charge) */
    bool open_charged;       /* the open attempt's crash was reported as its own code's by the
                                crashing engine (df_store_crash_report) */
} df_stored_task;

/* Everything needed to resume or retry a run (df_store_load_run). Every pointer, strings and
 * tasks included, belongs to the record: free it whole with df_stored_run_free. */
typedef struct df_stored_run {
    long long run_id;
    char *workflow;
    df_run_state state;    /* as stored (a dead engine's run is still RUNNING here) */
    char *dag_json;        /* the workflow document recorded with the run (JSON text) */
    char *path;            /* the workflow file, or NULL */
    char *dir;             /* its folder, or NULL */
    char *params_json;     /* resolved run params (JSON object text) */
    char *plugins_json;    /* {"plugin": "version", ...} (JSON object text) */
    int64_t started_at;    /* ms */
    int64_t ended_at;      /* ms, or 0 while unfinished */
    int64_t heartbeat_at;  /* the owning engine's last heartbeat (ms), or 0 */
    df_run_origin origin;  /* trigger, logical time, parent, error; strings owned by the record */
    bool has_engine;       /* false: no engine recorded (engine is all zero, host NULL) */
    df_engine_id engine;   /* the owning engine; host owned by the record */
    df_stored_task *tasks; /* in file order, a mapped task's instances right after it by index */
    size_t n_tasks;
} df_stored_run;

/* One task instance as `status` shows it (df_run_view.tasks). Strings belong to the view. */
typedef struct df_task_view {
    char *id;
    long long map_index; /* DF_NO_MAP_INDEX, or a mapped instance's index */
    df_task_state state;
    unsigned attempts;  /* number of the latest attempt (0 before the first) */
    int64_t started_at; /* first attempt's start (ms), or 0 */
    int64_t ended_at;   /* when it became final (ms), or 0 */
    char *error;        /* or NULL */
    char *result_json;  /* the task's result (JSON text), or NULL */
} df_task_view;

/* A run as `status` and the closing summary show it: what a backend's status and summary reads
 * return, from which store.c builds the JSON the CLI prints. Every pointer belongs to the view
 * (store.c frees it); a read fills the fields its description names, the rest stay zero. */
typedef struct df_run_view {
    long long run_id;
    char *workflow;
    df_run_state state;          /* as shown: a RUNNING run whose heartbeat is older than
                                    DF_HEARTBEAT_STALE_MS is INTERRUPTED */
    int64_t started_at;          /* ms */
    int64_t ended_at;            /* ms, or 0 while unfinished */
    df_run_origin origin;        /* status and summary: trigger, logical time, parent, error */
    char *metrics_json;          /* status: the pool metrics object (JSON text), or NULL */
    size_t counts[DF_TS__COUNT]; /* summary: how many tasks are in each state */
    df_task_view *tasks; /* status: every task and mapped instance (instances right after their
                            task, by index); summary: the first max_tasks tasks not SUCCESS; in
                            file order */
    size_t n_tasks;
} df_run_view;

/* One run of `history` (a row of SPEC §7's run_history view, times in ms). */
typedef struct df_history_row {
    long long run_id;
    char *workflow;     /* belongs to the array */
    df_run_state state; /* as shown (stale heartbeat: INTERRUPTED) */
    int64_t started_at; /* ms */
    int64_t ended_at;   /* ms, or 0 while unfinished */
    long long tasks_total, tasks_succeeded;
    long long tasks_failed; /* FAILED, UPSTREAM_FAILED or INVALID */
    df_run_origin origin;   /* strings belong to the array */
} df_history_row;

/* What `history` and GET /api/v1/runs select (SPEC §6, §9, §10). Pointers borrowed for the call. */
typedef struct df_history_query {
    const char *workflow; /* that workflow's runs only, or NULL for all */
    const char *state;    /* runs in that state as run_history shows it (a stale RUNNING run is
                             INTERRUPTED), a df_run_state name; NULL for all */
    int64_t since;        /* runs started at or after this time (ms); 0 = no bound */
    long long before;     /* runs whose id is below this one (exclusive); 0 = no bound */
    int limit;            /* rows at most; <= 0 = 20 */
} df_history_query;

/* One row of the task_events view (df_store_run_events; what a backend returns, new, malloc'd,
 * freed by store.c). */
typedef struct df_event_row {
    long long seq;
    char *task_id;
    df_task_state from; /* DF_TS__COUNT when none (the event that created the instance) */
    df_task_state to;
    int64_t at; /* ms */
    unsigned attempt;
    char *detail;        /* or NULL */
    long long map_index; /* a mapped instance's (SPEC §10), or DF_NO_MAP_INDEX */
} df_event_row;

/* What df_store_gc deleted (or would delete, with dry_run). */
typedef struct df_gc_result {
    long long runs; /* runs deleted */
    long long rows; /* rows deleted in every table, the runs' own included */
    /* Bytes freed. SQLite: the pages that the deletion put on the database's free list, times
     * the page size (the file keeps its size; new history reuses those pages; VACUUM shrinks
     * it). PostgreSQL: the on-disk size of the rows deleted (pg_column_size of each whole row),
     * which autovacuum makes reusable. */
    long long bytes;
} df_gc_result;

/* One attempt of a task instance as `logs` and `status --task` show it (a row of the
 * attempt_history view, times in ms). Strings belong to the df_task_attempts record. */
typedef struct df_attempt_view {
    unsigned attempt;
    df_attempt_outcome outcome; /* DF_AO_RUNNING while open */
    int64_t started_at;         /* ms */
    int64_t ended_at;           /* ms, or 0 while open */
    char *error;                /* or NULL */
    char *log;                  /* the lines the plugin logged (capped by the engine), or NULL */
    char *output; /* JSON text of the attempt's own stdout, stderr, exit code..., or NULL */
} df_attempt_view;

/* A task instance with its attempts, oldest first (what a backend's task_attempts returns; new,
 * malloc'd, freed by store.c). */
typedef struct df_task_attempts {
    df_task_state state;
    unsigned attempt;  /* number of the latest attempt (0 before the first) */
    char *result_json; /* the task's stored result (JSON text), or NULL */
    df_attempt_view *attempts;
    size_t n_attempts;
} df_task_attempts;

/* An alert not delivered yet (df_store_alerts_pending). */
typedef struct df_pending_alert {
    long long alert_id;
    int sink_index; /* its sink's position in the workflow's "alerts" */
    char *payload;  /* the alert JSON text; owned by the array */
    int tries;      /* tries made so far */
} df_pending_alert;

/* One state change of one task instance (df_store_transition). Pointers borrowed for the call. */
typedef struct df_transition {
    long long run_id;
    const char *task_id;
    bool mapped;         /* a mapped instance (SPEC §8): map_index names it */
    long long map_index; /* ignored unless mapped */
    df_task_state from;
    unsigned from_attempt;
    df_task_state to;
    unsigned to_attempt;
    int64_t at;              /* ms */
    const char *detail;      /* event detail text, or NULL */
    const char *error;       /* task error to store: NULL leaves it, "" clears it */
    const char *result_json; /* task result (JSON text) to store: NULL leaves it */
    int64_t next_retry_at;   /* UP_FOR_RETRY: when the retry is due (ms); otherwise 0 (cleared) */
    int reset_retry_budget;  /* non-zero (retry command): retry_base = to_attempt */
} df_transition;

/* ---- writes -----------------------------------------------------------------------------------
 */

/* Records a new run with its DAG snapshot and its task instances (all PENDING; their events from
 * none to PENDING are not rows but shown by the views, from a block of seq values reserved here,
 * and the edges are the DAG snapshot's: schema 10), in one transaction (or a savepoint inside the
 * caller's); sets
 * *run_id (positive, increasing). DF_STORE_ERROR for a record missing a required field, an index
 * in depends_on out of range, duplicate task ids or JSON text that is not valid; nothing of the
 * run is left behind then. */
int df_store_create_run(df_store *s, const df_run_record *run, long long *run_id);

/* One state change of one task instance, applied only if the row is still in (from,
 * from_attempt): writes the new state and attempt, the event, and per t's fields the instance's
 * error/result/next retry time. Sets the instance's started_at on its first RUNNING, ended_at
 * when `to` is final, and clears ended_at when `to` is PENDING. The transition table is the
 * engine's (engine/state.c): the store records what the caller decided. DF_STORE_CONFLICT when
 * the row was not in (from, from_attempt) (the message says what it was), DF_STORE_NOTFOUND for
 * an unknown task instance; either, and a refused value, leave nothing behind. Inside the caller's
 * transaction an I/O failure may leave part of the change: roll the transaction back. */
int df_store_transition(df_store *s, const df_transition *t);

/* Opens attempt number `attempt` (>= 1, outcome RUNNING, started at started_at ms) of a task
 * instance. DF_STORE_CONFLICT when that attempt exists already, DF_STORE_NOTFOUND when the task
 * instance does not. */
int df_store_attempt_open(df_store *s, long long run_id, const char *task_id, unsigned attempt,
                          int64_t started_at);

/* The same for the instance map_index of a mapped task (DF_NO_MAP_INDEX: the task itself). */
int df_store_instance_attempt_open(df_store *s, long long run_id, const char *task_id,
                                   long long map_index, unsigned attempt, int64_t started_at);

/* Expands the mapped task task_id of run_id (SPEC §8): creates its instances from .. n - 1
 * (map_index; 0 <= from < n, those below from exist already), QUEUED, each with two events (its
 * creation, NULL -> PENDING with detail "mapped", then PENDING -> QUEUED) at `at` (ms), in bulk
 * (one statement per kind of row: 100,000 instances take well under a second). The task's own
 * row is not changed (the caller records its PENDING -> RUNNING). DF_STORE_NOTFOUND when the
 * task does not exist, DF_STORE_CONFLICT when one of the instances does already. */
int df_store_map_expand(df_store *s, long long run_id, const char *task_id, long long from,
                        long long n, int64_t at);

/* Closes an open attempt with its outcome (not DF_AO_RUNNING) at ended_at (ms); error and log
 * (borrowed) may be NULL. Applied only while the attempt is still RUNNING: DF_STORE_CONFLICT when
 * it was closed already, DF_STORE_NOTFOUND when there is no such attempt. */
int df_store_attempt_close(df_store *s, long long run_id, const char *task_id, unsigned attempt,
                           df_attempt_outcome outcome, int64_t ended_at, const char *error,
                           const char *log);

/* The same for the instance map_index of a mapped task (DF_NO_MAP_INDEX: the task itself). */
int df_store_instance_attempt_close(df_store *s, long long run_id, const char *task_id,
                                    long long map_index, unsigned attempt,
                                    df_attempt_outcome outcome, int64_t ended_at, const char *error,
                                    const char *log);

/* The same, also keeping the attempt's own output (SPEC §10): output (borrowed, may be NULL) is
 * the JSON text of an object with the `shell` result keys the attempt's plugin returned
 * ("exit_code", "stdout", "stderr", "stdout_truncated", "stderr_truncated"), stored in
 * attempts.output and read back by df_store_instance_attempts for this attempt. */
int df_store_instance_attempt_close_output(df_store *s, long long run_id, const char *task_id,
                                           long long map_index, unsigned attempt,
                                           df_attempt_outcome outcome, int64_t ended_at,
                                           const char *error, const char *log, const char *output);

/* Sets the run's state and its ended_at (ms; 0 clears it; a RUNNING run never has one).
 * DF_STORE_NOTFOUND for an unknown run. */
int df_store_run_set_state(df_store *s, long long run_id, df_run_state state, int64_t ended_at);

/* Sets the run's own error (SPEC §10's run_history.error: why it ended as it did when that is
 * not a task's error, e.g. "run timed out after 500 ms"); NULL clears it. DF_STORE_NOTFOUND for
 * an unknown run. */
int df_store_run_set_error(df_store *s, long long run_id, const char *error);

/* Records the engine owning the run (borrowed) and refreshes its heartbeat to at (ms).
 * DF_STORE_NOTFOUND for an unknown run. */
int df_store_run_set_engine(df_store *s, long long run_id, const df_engine_id *engine, int64_t at);

/* Takes ownership of a run for engine (borrowed), as a compare-and-set: applied only while the
 * run is still owned by `expected` (borrowed: the engine read with the run before deciding that
 * engine was dead; NULL for a run without an owner). Sets the new engine and its heartbeat (at,
 * ms). DF_STORE_CONFLICT when another engine claimed it first (two resumes at once, or this
 * engine was frozen past DF_HEARTBEAT_STALE_MS and its run taken over). */
int df_store_run_claim(df_store *s, long long run_id, const df_engine_id *expected,
                       const df_engine_id *engine, int64_t at);

/* ---- run leases (SPEC §11; store/lease.c) -------------------------------------------------
 * Each run is owned by one engine with a lease: runs.lease_until (ms) is set to now + the lease
 * by every write that names the owner (create_run, run_set_engine, run_claim, run_heartbeat,
 * run_adopt) and by the fence below. "now" is the database's clock on PostgreSQL
 * (dagflow_now_ms()) and the local clock (the call's `at`) on SQLite, so on PostgreSQL engines on
 * hosts whose clocks differ still agree on when a lease expired. */

/* The lease length when an engine sets none (ms). */
#define DF_RUN_LEASE_DEFAULT_MS 30000

/* Makes this store an engine's: owner (borrowed; copied, kind ignored) is the engine whose runs
 * its writes are for, lease_ms (> 0; 0 = DF_RUN_LEASE_DEFAULT_MS) the lease each owning write
 * sets. From then on every write of a run's rows (transitions, attempts, the run's state, error,
 * heartbeat and metrics, breaker events, alerts, process records, running periods) is fenced: the
 * first one of each run in a transaction first renews the lease as a compare-and-set on the
 * owner (SQLite: inside BEGIN IMMEDIATE; PostgreSQL: it keeps the run's row locked until the
 * commit, so an adopter's claim waits for it and then re-checks), and fails with
 * DF_STORE_CONFLICT, changing nothing, when another engine owns the run now ("store: run N: this
 * engine no longer holds the run's lease: another engine adopted it"). A write outside a
 * transaction gets one of its own for the check and the write. On PostgreSQL a transaction left
 * idle longer than the lease is ended by the server (idle_in_transaction_session_timeout), so a
 * paused engine never holds a run's row past its lease. Returns DF_STORE_OK or DF_STORE_ERROR. */
int df_store_set_lease(df_store *s, const df_engine_id *owner, int64_t lease_ms);

/* The fence of df_store_set_lease on its own: checks (and renews) this engine's lease on run_id
 * now, once per transaction (a later write of the run in the same transaction is not checked
 * again). DF_STORE_OK also when no lease was set; DF_STORE_CONFLICT when another engine owns the
 * run. */
int df_store_run_fence(df_store *s, long long run_id);

/* Whether the last failure on s lost the caller's open transaction with the connection to the
 * server (PostgreSQL restarted or cut off during begin..commit): what the transaction wrote is not
 * recorded, and the next call reconnects. When true, *runs (may be NULL) is set to the runs the
 * lost transaction wrote (the fenced ones; borrowed, valid until the next call on s) and *n to
 * their number. SQLite: always false. */
bool df_store_tx_lost(df_store *s, const long long **runs, size_t *n);

/* Adopts a run whose lease expired (SPEC §11): a compare-and-set that makes engine (borrowed) the
 * owner, with heartbeat at (ms) and a fresh lease, applied only while the run is still owned by
 * expected (borrowed; NULL: none), was started by a `serve` engine, and either is INTERRUPTED, or
 * is RUNNING with its lease expired by the store's clock (a run recorded before leases existed:
 * heartbeat + DF_RUN_LEASE_DEFAULT_MS), or is owned by engine itself (an engine taking back a run
 * it dropped). On PostgreSQL a run row locked by its owner's open transaction is skipped (SKIP
 * LOCKED), not waited for. DF_STORE_CONFLICT when not applied (the owner renewed, another engine
 * adopted it first, or the run ended). */
int df_store_run_adopt(df_store *s, long long run_id, const df_engine_id *expected,
                       const df_engine_id *engine, int64_t at);

/* The runs df_store_run_adopt may adopt for engine me (borrowed) at now (ms; SQLite's clock;
 * PostgreSQL uses its own), oldest first: a new array of *n ids in *ids and of their workflow
 * names in *workflows (free each name, then both arrays), as df_store_serve_runs. Runs owned by
 * me are listed too (the caller skips those it still runs). */
int df_store_adoptable_runs(df_store *s, const df_engine_id *me, int64_t now, long long **ids,
                            char ***workflows, size_t *n);

/* Refreshes the run's heartbeat (at, ms). DF_STORE_NOTFOUND for an unknown run. */
int df_store_run_heartbeat(df_store *s, long long run_id, int64_t at);

/* Stores the run's pool metrics object (borrowed; any JSON object, kept as the JSON it is, since
 * the pool's counters change more often than this interface should; NULL clears them), merged
 * with what earlier engines stored for the run (before a resume or a retry): a key ending in
 * "_peak" and "queue_high_water" keep the larger integer, other integers add up, other values
 * are replaced, and keys only stored before stay. DF_STORE_NOTFOUND for an unknown run. */
int df_store_run_set_metrics(df_store *s, long long run_id, const json_t *metrics);

/* Records a circuit breaker's state change (SPEC §3a; the breaker_history view): caused by an
 * attempt of task_id (may be NULL) in run_id; failure_rate (0..1) over `calls` outcomes in its
 * window at that moment; at in ms. Strings borrowed. */
int df_store_breaker_event(df_store *s, long long run_id, const char *task_id, const char *breaker,
                           df_breaker_state from, df_breaker_state to, double failure_rate,
                           int calls, int64_t at);

/* Writes one alert (status DF_ALERT_PENDING, tries 0, created_at ms) before its delivery and
 * sets *alert_id. task_id may be NULL (run events). sink is a short description
 * ("command:./notify.sh", "file:alerts.jsonl"); payload is the alert JSON text. Strings
 * borrowed. DF_STORE_NOTFOUND for an unknown run. */
int df_store_alert_add(df_store *s, long long run_id, const char *task_id, const char *event,
                       const char *sink, int sink_index, const char *payload, int64_t created_at,
                       long long *alert_id);

/* Updates an alert's delivery: its status, tries so far, delivered_at (ms, 0 = none), error
 * (borrowed; NULL = none). DF_STORE_NOTFOUND for an unknown alert. */
int df_store_alert_update(df_store *s, long long alert_id, df_alert_status status, int tries,
                          int64_t delivered_at, const char *error);

#include "store_procs.h"

/* ---- reads ------------------------------------------------------------------------------------
 */

/* The run's alerts still pending, oldest first: sets *out to a new array of *n entries (NULL
 * when none), which the caller frees with df_pending_alerts_free. */
int df_store_alerts_pending(df_store *s, long long run_id, df_pending_alert **out, size_t *n);

/* Frees an array from df_store_alerts_pending; NULL is fine. */
void df_pending_alerts_free(df_pending_alert *alerts, size_t n);

/* Loads a run for resume or retry, read in one snapshot: sets *out to a new record (free with
 * df_stored_run_free). DF_STORE_NOTFOUND for an unknown run; DF_STORE_ERROR (the message says
 * which) for a stored state this build does not know. */
int df_store_load_run(df_store *s, long long run_id, df_stored_run **out);

/* Frees a record from df_store_load_run; NULL is fine. */
void df_stored_run_free(df_stored_run *run);

/* The run as `status --json` shows it (SPEC §6), read in one snapshot, as a new object (the
 * caller json_decref's it):
 * {"run_id", "workflow", "state", "started_at", "ended_at", "duration_ms", "tasks": [{"id",
 *  "state", "attempts", "started_at", "ended_at", "duration_ms", "error", "result"}], "metrics"}
 * times ISO-8601 UTC strings or null; duration_ms (null until the run / task ended) counts only
 * the time inside the run's running periods (df_store_run_period_start: SPEC §12, the idle gap
 * before a resume or a retry is not counted; a run recorded before periods were kept counts
 * ended_at - started_at); the run's is not a SPEC §6 key (the CLI's JSON leaves it out); a
 * RUNNING run whose heartbeat is older than
 * DF_HEARTBEAT_STALE_MS shows as INTERRUPTED; tasks in file order; result is the stored JSON or
 * null; metrics the stored pool metrics object or null. DF_STORE_NOTFOUND for an unknown run. */
int df_store_run_status(df_store *s, long long run_id, json_t **out);

/* A short view of a run for large runs' summaries, as a new object: {"run_id", "workflow",
 * "state", "started_at", "ended_at" (as in df_store_run_status), "counts": {STATE: number of
 * tasks in it, ...}, "tasks": [the first max_tasks tasks, in file order, that are not SUCCESS,
 * shaped as in df_store_run_status]}. DF_STORE_NOTFOUND for an unknown run. */
int df_store_run_summary(df_store *s, long long run_id, int max_tasks, json_t **out);

/* The newest run's id, or DF_STORE_NOTFOUND when there are no runs. */
int df_store_latest_run(df_store *s, long long *run_id);

/* Recent runs, newest first, as a new array of run_history rows (SPEC §7): objects
 * {"run_id", "workflow", "state", "started_at", "ended_at", "duration_ms", "tasks_total",
 *  "tasks_succeeded", "tasks_failed"} with ISO-8601 times. workflow (borrowed) NULL = all;
 * limit <= 0 = 20. */
int df_store_history(df_store *s, const char *workflow, int limit, json_t **out);

/* The same, filtered by q (see df_history_query), newest first: run_history rows as above. */
int df_store_history_query(df_store *s, const df_history_query *q, json_t **out);

/* Deletes every finished run (SUCCESS, FAILED, INVALID, CANCELLED) that ended before cutoff (ms
 * since the epoch), with all its rows (task instances, edges, events, attempts, alerts, breaker
 * changes), in one transaction, and fills *out with what it deleted and freed (see
 * df_gc_result). With dry_run, measures the same in a transaction it rolls back: nothing
 * changes. Runs not finished (RUNNING, INTERRUPTED) are never deleted. Must not be called inside
 * a transaction of the caller's (begin..commit). */
int df_store_gc(df_store *s, int64_t cutoff, bool dry_run, df_gc_result *out);

/* The task_events rows (SPEC §7, §9) of one run with seq > after, oldest first, at most limit
 * (<= 0: 1000), as a new object {"run_id", "state", "events": [{"seq", "run_id", "task_id",
 * "from_state", "to_state", "at", "attempt", "detail"}], "last_seq"}: "state" the run's state as
 * run_history shows it, "at" ISO-8601 UTC, from_state and detail null when none, last_seq the
 * highest seq returned, or `after` when none. DF_STORE_NOTFOUND for an unknown run. */
int df_store_run_events(df_store *s, long long run_id, long long after, int limit, json_t **out);

/* Counts for GET /metrics, as a new object {"runs": {STATE: n}, "task_instances": {STATE: n}}:
 * every run by the state run_history shows, and the task instances of the runs not final
 * (RUNNING) by their state. States with no run are absent. */
int df_store_state_counts(df_store *s, json_t **out);

/* One task instance's attempts, oldest first, read in one snapshot, as a new object (the caller
 * json_decref's it):
 * {"run_id", "task_id", "state", "attempts": [{"attempt", "outcome", "started_at", "ended_at",
 *  "duration_ms", "error", "log", "stdout", "stderr", "exit_code", "stdout_truncated",
 *  "stderr_truncated"}]}
 * shaped as SPEC §9's GET /api/v1/runs/ID/tasks/TASK/attempts rows (plus the last three keys);
 * times ISO-8601 UTC strings or null, duration_ms null while open. Attempts do not keep their own
 * result: stdout, stderr, exit_code and the truncation flags are the attempt's own output
 * (attempts.output, kept since schema version 11); for an attempt closed before that, the
 * latest attempt's are those of the task's stored result (a `shell` result's keys, when
 * present), once it has ended; null elsewhere. DF_STORE_NOTFOUND for an unknown run ("store: read
 * attempts: no run N") or task ("store: read attempts: run N has no task \"ID\""). */
int df_store_task_attempts(df_store *s, long long run_id, const char *task_id, json_t **out);

/* The same for the instance map_index of a mapped task (DF_NO_MAP_INDEX: the task itself); the
 * object then has "map_index" too, and an unknown instance is "run N has no task \"ID[K]\"". */
int df_store_instance_attempts(df_store *s, long long run_id, const char *task_id,
                               long long map_index, json_t **out);
/* ---- cancel requests (SPEC §10) ------------------------------------------------------------ */

/* A run's cancel request (df_store_cancel_requests). reason belongs to the array. */
typedef struct df_cancel_request {
    long long run_id;
    int64_t requested_at; /* ms */
    char *reason;         /* who asked ("dagflow cancel", "parent run 4 was cancelled"), or NULL */
} df_cancel_request;

/* Records a cancel request on a run still RUNNING or INTERRUPTED as stored (whatever its
 * engine's state): requested_at (ms) and reason (borrowed; may be NULL). A second request keeps
 * the first one's time and reason. Sets *state (may be NULL) to the run's stored state.
 * DF_STORE_NOTFOUND for an unknown run; DF_STORE_CONFLICT for a finished run (nothing stored;
 * *state says how it ended). */
int df_store_cancel_request(df_store *s, long long run_id, const char *reason, int64_t requested_at,
                            df_run_state *state);

/* Forgets a run's cancel request (`retry` reopens a CANCELLED run). DF_STORE_NOTFOUND for an
 * unknown run. */
int df_store_cancel_clear(df_store *s, long long run_id);

/* Cancel requests, oldest run first: with run_id 0, those of every run stored RUNNING (what an
 * engine looks for at least once a second; an index keeps it cheap); with run_id > 0, that run's
 * request whatever its state (none: *n 0). Sets *out to a new array of *n entries (NULL when
 * none), freed with df_cancel_requests_free. */
int df_store_cancel_requests(df_store *s, long long run_id, df_cancel_request **out, size_t *n);

/* Frees an array from df_store_cancel_requests; NULL is fine. */
void df_cancel_requests_free(df_cancel_request *r, size_t n);
#include "store_sched.h"

/* The newest child run of a parent's task (a `workflow` task, SPEC §10): sets *run_id and *state
 * (as stored). DF_STORE_NOTFOUND when the task has started none. parent_task_id borrowed. */
int df_store_child_run(df_store *s, long long parent_run_id, const char *parent_task_id,
                       long long *run_id, df_run_state *state);

#endif
