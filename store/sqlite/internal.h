/* sqlite/internal: what the SQLite backend's files share — the handle, the ids of the cached
 * statements (their SQL is stmt.c's), error mapping, statement helpers, the transaction around
 * one operation, and the operations each file implements for the table in open.c. Included only
 * by the .c files of store/sqlite/. Everything here runs on the thread that uses the store (one at
 * a time). */
#ifndef DF_STORE_SQLITE_INTERNAL_H
#define DF_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "backend.h"

/* The cached statements, prepared on first use and reused (reset) afterwards. */
enum df_sqlite_stmt_id {
    ST_BEGIN,
    ST_BEGIN_READ,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_RUN_INSERT,
    ST_TASK_INSERT,
    ST_EVENT_INSERT,
    ST_EVENTS_RESERVE,
    ST_EVENTS_SEQ_GET,
    ST_RUN_DAG_INSERT,
    ST_EVENTS_SEQ_INIT,
    ST_TRANSITION,
    ST_TASK_GET,
    ST_ATTEMPT_OPEN,
    ST_ATTEMPT_CLOSE,
    ST_ATTEMPT_GET,
    ST_MAP_INSERT,
    ST_MAP_EVENTS,
    ST_RUN_SET_STATE,
    ST_RUN_SET_ERROR,
    ST_RUN_SET_ENGINE,
    ST_RUN_CLAIM,
    ST_RUN_HEARTBEAT,
    ST_RUN_SET_METRICS,
    ST_RUN_GET_METRICS,
    ST_ALERT_ADD,
    ST_BREAKER_EVENT,
    ST_ALERT_UPDATE,
    ST_ALERTS_PENDING,
    ST_RUN_STATUS,
    ST_RUN_STATUS_TASKS,
    ST_RUN_SUMMARY_TASKS,
    ST_RUN_STATE_COUNTS,
    ST_LATEST,
    ST_HISTORY,
    ST_LOAD_RUN,
    ST_LOAD_TASKS,
    ST_ATTEMPTS_TASK,
    ST_ATTEMPTS_RUN,
    ST_ATTEMPTS_LIST,
    ST_CANCEL_REQUEST,
    ST_CANCEL_STATE,
    ST_CANCEL_CLEAR,
    ST_CANCEL_LIST,
    ST_CANCEL_ONE,
    ST_CHILD_RUN,
    ST_PROC_ADD,
    ST_PROCS_LIST,
    ST_PROCS_FORGET,
    ST_ATTEMPT_CHARGE,
    ST_CRASH_ATTEMPT,
    ST_PERIOD_CLOSE,
    ST_PERIOD_OPEN,
    ST_PERIODS_LIST,
    ST_LOAD_TASKS_V7,
    ST_SCHED_ANCHOR_INSERT, /* schedule.c: schedules and the service */
    ST_SCHED_ANCHOR_GET,
    ST_SCHED_LAST,
    ST_SCHED_INSERT,
    ST_SCHED_FROM_QUEUED,
    ST_SCHED_SET_RUN,
    ST_SCHED_QUEUED,
    ST_ACTIVE_RUNS,
    ST_SERVE_RUNS,
    ST_RUN_FENCE, /* lease.c: run leases */
    ST_RUN_EXISTS,
    ST_RUN_ADOPT,
    ST_ADOPTABLE_RUNS,
    ST__COUNT
};

/* The most events one INSERT appends (events.c), and the INSERTs cached: 1, 2, 4, ... 64 rows. */
#define DF_SQLITE_EV_CHUNK 64
#define DF_SQLITE_EV_SLOTS 7

/* How long a statement waits for another connection's lock before SQLITE_BUSY (ms). */
#define DF_SQLITE_BUSY_TIMEOUT_MS 10000

/* A SQLite store: the shared start, the connection, the cached statements, and the database file
 * it opened (files.c). */
typedef struct df_sqlite_store {
    df_store base;
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT];
    /* create run's task INSERTs of one row [0] and of many [1] (runs.c) */
    sqlite3_stmt *rows_st[2];
    /* The transitions' events not written yet, appended at the end of the transaction (events.c),
     * and the INSERTs of 1, 2, 4, ... DF_SQLITE_EV_CHUNK of them. */
    struct df_sqlite_event *ev;
    size_t n_ev, cap_ev;
    sqlite3_stmt *ev_st[DF_SQLITE_EV_SLOTS];
    char *path;     /* the database path as given (for messages) */
    char *abs_path; /* the same path made absolute when the store was opened */
    dev_t dev;      /* the identity of the file opened (st_dev, st_ino), when have_id */
    ino_t ino;
    bool have_id;
    dev_t side_dev[2]; /* the identity of its -wal [0] and -shm [1] once open, when side_id */
    ino_t side_ino[2];
    bool side_id[2];
    /* The file's schema version once opened: an older file that could not be upgraded yet (its
     * missing migrations all compatible) is used as it is. */
    int schema;
    /* The runs whose lease this store renewed lately (lease.c): the fence skips a run renewed
     * less than a moment ago by a committed transaction. */
    struct df_sqlite_renewal *renewals;
    size_t n_renewals, cap_renewals;
} df_sqlite_store;

/* The SQLite handle behind a store of this backend. */
static inline df_sqlite_store *df_sqlite_of(df_store *s)
{
    return (df_sqlite_store *)s;
}

/* ---- the transitions' events, appended in bulk (events.c) ---- */

/* Queues the event of a transition whose UPDATE was made in the open transaction (strings
 * copied). DF_STORE_ERROR when out of memory. */
int df_sqlite_events_add(df_sqlite_store *s, const df_transition *t);

/* Writes the queued events, in order, DF_SQLITE_EV_CHUNK per INSERT; empties the queue. Called
 * before anything that must see them or write after them: the commit, a savepoint, a read of
 * events, the end of an operation. */
int df_sqlite_events_flush(df_sqlite_store *s, const char *what);

/* Forgets the queued events (their transaction, or the savepoint they were queued in, is being
 * rolled back). */
void df_sqlite_events_drop(df_sqlite_store *s);

/* Frees the queue and its statements (closing the store). */
void df_sqlite_events_free(df_sqlite_store *s);

/* ---- errors and statements (stmt.c) ---- */

/* The DF_STORE_* code of a SQLite result code (BUSY and LOCKED: DF_STORE_BUSY). */
int df_sqlite_code(int rc);

/* Records SQLite's message for rc as "store: WHAT: message" and returns the DF_STORE_* code. */
int df_sqlite_fail(df_sqlite_store *s, int rc, const char *what);

/* The cached statement id, prepared on first use; NULL (error recorded in *code) on failure. */
sqlite3_stmt *df_sqlite_stmt(df_sqlite_store *s, enum df_sqlite_stmt_id id, const char *what,
                             int *code);

/* A cached multi-row INSERT: head (ending in "VALUES ") followed by n copies of row ("(?,?)"),
 * comma-separated, prepared on first use into *slot (which the caller finalizes). NULL (error
 * recorded in *code: out of memory, or SQLite's) on failure. */
sqlite3_stmt *df_sqlite_multirow_stmt(df_sqlite_store *s, sqlite3_stmt **slot, const char *head,
                                      const char *row, size_t n, const char *what, int *code);

/* Steps a statement that returns no rows and resets it. Returns DF_STORE_OK or the error. */
int df_sqlite_run_write(df_sqlite_store *s, sqlite3_stmt *st, const char *what);

/* Runs one of the argument-less cached statements (BEGIN, COMMIT, ...). */
int df_sqlite_exec(df_sqlite_store *s, enum df_sqlite_stmt_id id, const char *what);

/* Resets a statement after use and clears its bindings. */
static inline void df_sqlite_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Binds text (SQLITE_STATIC: it must outlive the step), NULL as NULL. */
static inline void df_sqlite_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Binds a time in ms, 0 meaning NULL. */
static inline void df_sqlite_bind_ms(sqlite3_stmt *st, int i, int64_t v)
{
    if (v)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* Column i as a new C string (NULL for SQL NULL); sets *oom when the copy fails. */
static inline char *df_sqlite_col_strdup(sqlite3_stmt *st, int i, bool *oom)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    const char *t = (const char *)sqlite3_column_text(st, i);
    char *v = t ? strdup(t) : NULL;
    if (!v)
        *oom = true;
    return v;
}

/* Doubles the capacity of the array *v of elements of size `size` (16 at first). Returns false,
 * leaving *v as it was, when out of memory. */
static inline bool df_sqlite_grow(void **v, size_t *cap, size_t size)
{
    size_t n = *cap ? *cap * 2 : 16;
    void *g = realloc(*v, n * size);
    if (!g)
        return false;
    *v = g;
    *cap = n;
    return true;
}

/* ---- the database file (files.c) ---- */

/* Opens the file at path for the store s without following a symbolic link (a link there, or at
 * its -wal or -shm, is refused with a message), creating it with mode 0600 if missing; records
 * the path (s->path, s->abs_path) and the file's identity (s->dev, s->ino) for
 * df_sqlite_check_file, and gives -wal and -shm files of ours the database's mode back (see
 * repair_side_modes). Returns DF_STORE_OK or DF_STORE_ERROR with the message recorded. The file
 * is closed again: SQLite opens it itself. */
int df_sqlite_file_open(df_sqlite_store *s, const char *path);

/* Records the identity of the -wal and -shm files once SQLite has opened them (the end of
 * df_sqlite_open), for df_sqlite_file_close. */
void df_sqlite_file_opened(df_sqlite_store *s);

/* Closes the connection. When the database file was deleted (or moved away) while in use, what
 * the -wal file holds is first copied into the file the connection has open (which, moved, is
 * complete then), and the -wal and -shm left at the path are removed once closed, if they are
 * still the ones this connection used: a copy of the database put back at the path must not
 * have another file's log applied to it. */
void df_sqlite_file_close(df_sqlite_store *s);

/* Whether the SQLite result code rc (extended) says the file could not be written or opened
 * for writing: SQLITE_READONLY and its variants, SQLITE_PERM, SQLITE_CANTOPEN, and I/O errors
 * caused by EACCES, EROFS or EPERM. */
bool df_sqlite_unwritable_rc(const df_sqlite_store *s, int rc);

/* Why the store's file cannot be written, as a phrase for "cannot write PATH: <phrase>" into buf
 * (len bytes): the file deleted or replaced, a read-only file system, the file or its -wal/-shm
 * read-only or not this user's to write, or the folder not writable so that a missing -wal or
 * -shm file cannot be created. "" when none of these holds (a read-only connection, say). */
void df_sqlite_unwritable_cause(const df_sqlite_store *s, char *buf, size_t len);

/* ---- the transaction around one operation (stmt.c) ---- */

/* A write made of several statements is atomic: its own BEGIN IMMEDIATE ... COMMIT when no
 * transaction is open (DF_SQLITE_OP_OWN), a savepoint inside the caller's group-commit
 * transaction otherwise (DF_SQLITE_OP_SAVEPOINT). A read made of several statements sees one
 * snapshot (its own BEGIN, or the caller's transaction: DF_SQLITE_OP_NONE). */
enum { DF_SQLITE_OP_NONE, DF_SQLITE_OP_OWN, DF_SQLITE_OP_SAVEPOINT };

int df_sqlite_op_begin(df_sqlite_store *s, int *mode, const char *what);
int df_sqlite_op_begin_read(df_sqlite_store *s, int *mode, const char *what);

/* Ends the operation: commits/releases when code is DF_STORE_OK, else rolls back what it did
 * (keeping code and its message). Returns the final code. */
int df_sqlite_op_end(df_sqlite_store *s, int mode, int code, const char *what);

/* ---- the operations (see store.h for each one's contract; arguments already checked) ---- */

/* stmt.c: group commit. */
int df_sqlite_begin(df_store *s);
int df_sqlite_commit(df_store *s);
int df_sqlite_rollback(df_store *s);

/* files.c: the database file itself. */
int df_sqlite_checkpoint(df_store *s, bool *complete);
int df_sqlite_check_file(df_store *s);

/* runs.c: runs, task instances, attempts. */
int df_sqlite_create_run(df_store *s, const df_run_record *run, long long *run_id);
int df_sqlite_transition(df_store *s, const df_transition *t);
int df_sqlite_attempt_open(df_store *s, long long run_id, const char *task_id, long long map_index,
                           unsigned attempt, int64_t started_at);
int df_sqlite_map_expand(df_store *s, long long run_id, const char *task_id, long long from,
                         long long n, int64_t at);
int df_sqlite_attempt_close(df_store *s, long long run_id, const char *task_id, long long map_index,
                            unsigned attempt, df_attempt_outcome outcome, int64_t ended_at,
                            const char *error, const char *log, const char *output);
int df_sqlite_run_set_state(df_store *s, long long run_id, df_run_state state, int64_t ended_at);
int df_sqlite_run_set_error(df_store *s, long long run_id, const char *error);
/* schedule.c (store.h's schedule calls) */
int df_sqlite_schedule_anchor(df_store *s, const char *workflow, int64_t now_ms, int64_t *first);
int df_sqlite_schedule_last(df_store *s, const char *workflow, int64_t *last, bool *has);
int df_sqlite_schedule_claim(df_store *s, const char *workflow, int64_t logical_time,
                             bool from_queued, df_sched_decision decision, long long run_id,
                             int64_t decided_at, bool *won);
int df_sqlite_schedule_set_run(df_store *s, const char *workflow, int64_t logical_time,
                               long long run_id);
int df_sqlite_schedule_queued(df_store *s, const char *workflow, size_t max, int64_t **out,
                              size_t *n);
int df_sqlite_active_runs(df_store *s, const char *workflow, long long *n);
int df_sqlite_serve_runs(df_store *s, long long **ids, char ***workflows, size_t *n);
/* Steps st (bound) to its end, reading (run_id, workflow) rows into new arrays as
 * df_store_serve_runs gives them; finishes st. */
int df_sqlite_run_names(df_sqlite_store *s, sqlite3_stmt *st, const char *W, long long **ids,
                        char ***workflows, size_t *n);
/* runs.c: statement id with an engine bound (1 pid, 2 host, 3 started_at, 4 at, 5 run_id, 9 kind,
 * 10 the lease); NULL with *code set on an error (recorded). */
sqlite3_stmt *df_sqlite_engine_stmt(df_sqlite_store *s, enum df_sqlite_stmt_id id, long long run_id,
                                    const df_engine_id *engine, int64_t at, const char *W,
                                    int *code);
/* lease.c: run leases (store.h) */
int df_sqlite_run_fence(df_store *s, long long run_id, const df_engine_id *owner, int64_t lease_ms,
                        int64_t now);
/* The transaction committed (true) or rolled back (false): the renewals it made count, or are
 * forgotten. */
void df_sqlite_renewals_end(df_sqlite_store *s, bool committed);
/* See store.h (lease_changed): forgets every renewal. */
int df_sqlite_lease_changed(df_store *s);
int df_sqlite_run_adopt(df_store *s, long long run_id, const df_engine_id *expected,
                        const df_engine_id *engine, int64_t at, int64_t lease_ms);
int df_sqlite_adoptable_runs(df_store *s, const df_engine_id *me, int64_t now, long long **ids,
                             char ***workflows, size_t *n);
int df_sqlite_run_set_engine(df_store *s, long long run_id, const df_engine_id *engine, int64_t at);
int df_sqlite_run_claim(df_store *s, long long run_id, const df_engine_id *expected,
                        const df_engine_id *engine, int64_t at);
int df_sqlite_run_heartbeat(df_store *s, long long run_id, int64_t at);
int df_sqlite_run_set_metrics(df_store *s, long long run_id, const json_t *metrics);

/* cancel.c: cancel requests (SPEC §10). */
int df_sqlite_cancel_request(df_store *s, long long run_id, const char *reason,
                             int64_t requested_at, df_run_state *state);
int df_sqlite_cancel_clear(df_store *s, long long run_id);
int df_sqlite_cancel_requests(df_store *s, long long run_id, df_cancel_request **out, size_t *n);
int df_sqlite_child_run(df_store *s, long long parent_run_id, const char *parent_task_id,
                        long long *run_id, df_run_state *state);
/* safety.c: SPEC §12's records (attempts' processes, charged losses, running periods). */
int df_sqlite_attempt_proc_add(df_store *s, long long run_id, const char *task_id,
                               long long map_index, unsigned attempt, long long pgid,
                               int64_t pid_started_at, const char *host, const char *cgroup);
int df_sqlite_attempt_procs(df_store *s, long long run_id, df_attempt_proc **out, size_t *n);
int df_sqlite_attempt_procs_forget(df_store *s, long long run_id, const char *host);
int df_sqlite_attempt_charge(df_store *s, long long run_id, const char *task_id,
                             long long map_index, unsigned attempt);
int df_sqlite_crash_report(df_store *s, const df_crash_report *r, df_crash_mark *mark);
int df_sqlite_run_period_start(df_store *s, long long run_id, int64_t at, int64_t close_open_at);
int df_sqlite_run_period_end(df_store *s, long long run_id, int64_t at);
int df_sqlite_run_periods(df_store *s, long long run_id, df_run_period **out, size_t *n);

/* alerts.c: circuit breaker changes and the alert outbox. */
int df_sqlite_breaker_event(df_store *s, long long run_id, const char *task_id, const char *breaker,
                            df_breaker_state from, df_breaker_state to, double failure_rate,
                            int calls, int64_t at);
int df_sqlite_alert_add(df_store *s, long long run_id, const char *task_id, const char *event,
                        const char *sink, int sink_index, const char *payload, int64_t created_at,
                        long long *alert_id);
int df_sqlite_alert_update(df_store *s, long long alert_id, df_alert_status status, int tries,
                           int64_t delivered_at, const char *error);
int df_sqlite_alerts_pending(df_store *s, long long run_id, df_pending_alert **out, size_t *n);

/* reads.c: what the CLI shows and what resume/retry load. */
int df_sqlite_run_status(df_store *s, long long run_id, df_run_view **out);
int df_sqlite_run_summary(df_store *s, long long run_id, int max_tasks, df_run_view **out);
int df_sqlite_latest_run(df_store *s, long long *run_id);
int df_sqlite_history(df_store *s, const df_history_query *q, df_history_row **out, size_t *n);
/* history.c: gc, a run's events, counts by state */
int df_sqlite_gc(df_store *s, int64_t cutoff, df_gc_result *out);
int df_sqlite_run_events(df_store *s, long long run_id, long long after, int limit,
                         df_run_state *state, df_event_row **out, size_t *n);
int df_sqlite_state_counts(df_store *s, size_t runs[DF_RS__COUNT], size_t tasks[DF_TS__COUNT]);
int df_sqlite_load_run(df_store *s, long long run_id, df_stored_run **out);

/* attempts.c: one task instance's attempts (logs, status --task). */
int df_sqlite_task_attempts(df_store *s, long long run_id, const char *task_id, long long map_index,
                            df_task_attempts **out);

#endif
