/* pg/internal: what the PostgreSQL backend's files share — the handle, the ids of the prepared
 * statements (their SQL is stmt.c's), text parameters, running a prepared statement with the
 * reconnect-and-retry rule (conn.c), the transaction or savepoint around one operation, and the
 * operations each file implements for the table in open.c. Included only by the .c files of
 * store/pg/, the only place in dagflow that knows libpq. Everything here runs on the thread that
 * uses the store (one at a time). */
#ifndef DF_STORE_PG_INTERNAL_H
#define DF_STORE_PG_INTERNAL_H

#include "pq_dl.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend.h"
#include "backend.h"

/* The prepared statements, prepared on a connection at first use (again after a reconnect). */
enum df_pg_stmt_id {
    PG_BEGIN,
    PG_BEGIN_READ,
    PG_COMMIT,
    PG_ROLLBACK,
    PG_SAVEPOINT,
    PG_RELEASE,
    PG_ROLLBACK_TO,
    PG_RUN_INSERT,
    PG_TASKS_INSERT,
    PG_EVENTS_INSERT,
    PG_EVENTS_RESERVE,
    PG_TRANSITION,
    PG_TRANSITIONS,    /* batch.c: many transitions in one statement */
    PG_ATTEMPTS_OPEN,  /* batch.c: many attempts opened */
    PG_ATTEMPTS_CLOSE, /* batch.c: many attempts closed */
    PG_TASK_GET,
    PG_ATTEMPT_OPEN,
    PG_ATTEMPT_CLOSE,
    PG_ATTEMPT_GET,
    PG_MAP_EXPAND,
    PG_RUN_SET_STATE,
    PG_RUN_SET_ERROR,
    PG_RUN_SET_ENGINE,
    PG_RUN_CLAIM,
    PG_RUN_HEARTBEAT,
    PG_RUN_SET_METRICS,
    PG_RUN_GET_METRICS,
    PG_BREAKER_EVENT,
    PG_ALERT_ADD,
    PG_ALERT_UPDATE,
    PG_ALERTS_PENDING,
    PG_RUN_STATUS,
    PG_RUN_STATUS_TASKS,
    PG_RUN_SUMMARY_TASKS,
    PG_RUN_STATE_COUNTS,
    PG_LATEST,
    PG_HISTORY,
    PG_LOAD_RUN,
    PG_LOAD_TASKS,
    PG_ATTEMPTS_TASK,
    PG_ATTEMPTS_RUN,
    PG_ATTEMPTS_LIST,
    PG_GC_TASK_EVENT_LOG, /* history.c: gc, one statement per table (runs last) */
    PG_GC_ATTEMPTS,
    PG_GC_RUN_EDGES,
    PG_GC_ALERTS,
    PG_GC_BREAKER_LOG,
    PG_GC_TASK_INSTANCES,
    PG_GC_RUNS,
    PG_EVENTS_RUN_STATE,
    PG_EVENTS_LIST,
    PG_COUNT_RUNS,
    PG_COUNT_TASKS,
    PG_CANCEL_REQUEST,
    PG_CANCEL_STATE,
    PG_CANCEL_CLEAR,
    PG_CANCEL_LIST,
    PG_CANCEL_ONE,
    PG_CHILD_RUN,
    PG_PROC_ADD,
    PG_PROCS_LIST,
    PG_PROCS_FORGET,
    PG_ATTEMPT_CHARGE,
    PG_CRASH_WORK,
    PG_CRASH_ATTEMPT,
    PG_PERIOD_CLOSE,
    PG_PERIOD_OPEN,
    PG_PERIODS_LIST,
    PG_SCHED_ANCHOR, /* schedule.c: schedules and the service */
    PG_SCHED_LAST,
    PG_SCHED_INSERT,
    PG_SCHED_FROM_QUEUED,
    PG_SCHED_SET_RUN,
    PG_SCHED_QUEUED,
    PG_ACTIVE_RUNS,
    PG_SERVE_RUNS,
    PG_RUN_FENCE, /* lease.c: run leases */
    PG_RUN_EXISTS,
    PG_RUN_ADOPT,
    PG_ADOPTABLE_RUNS,
    PG_WORK_ENQUEUE, /* work.c: the worker queue (store/work.h); SQL in work.c */
    PG_WORK_CLAIM,
    PG_WORK_RENEW,
    PG_WORK_COMPLETE,
    PG_WORK_COLLECT,
    PG_WORK_EXPIRE,
    PG_WORK_CANCEL,
    PG_WORK_FORGET,
    PG_WORK_PRUNE,
    PG__COUNT
};

struct df_pg_pend;

/* batch.c: the rows of one kind gathered for one statement (rows as JSON, their diagnostics). */
enum { DF_PG_B_TRANSITION, DF_PG_B_OPEN, DF_PG_B_CLOSE, DF_PG_B__COUNT };
typedef struct df_pg_batch {
    struct json_t *rows;
    struct df_pg_cas *cas;
    size_t n, cap;
    size_t bytes; /* text in the rows, about */
} df_pg_batch;

/* A PostgreSQL store: the shared start, the connection string (the --db URI, as libpq reads
 * it), the connection, which statements this connection has prepared, and the writes of the
 * open transaction whose answers are not read yet (pipe.c). */
typedef struct df_pg_store {
    df_store base;
    char *uri;
    PGconn *conn;
    bool prepared[PG__COUNT];
    char listen[2][16];    /* channels LISTENed to (work.c), again after each reconnection */
    bool session_prepared; /* df_pg_session_setup's statement, on this connection */
    long retry_ms; /* how long a lost connection is retried (DF_PG_RETRY_MS, or the environment) */
    long net_timeout_ms; /* a TCP connection's silence that counts as lost; 0: DF_PG_NET_TIMEOUT_MS
                          */
    /* pipe.c: pipelined writes of the caller's transaction */
    bool pipe_on;            /* DAGFLOW_PG_PIPELINE is not 0 */
    bool piped;              /* the connection is in pipeline mode */
    struct df_pg_pend *pend; /* queued statements, oldest first */
    size_t n_pend, cap_pend;
    int pipe_failed; /* a failure of this transaction found in the answers (0: none) */
    char pipe_err[DF_STORE_ERR_MAX];
    df_pg_batch batch[DF_PG_B__COUNT]; /* batch.c */
    size_t batched;                    /* rows in them */
} df_pg_store;

static inline df_pg_store *df_pg_of(df_store *s)
{
    return (df_pg_store *)s;
}

/* ---- parameters ---- */

#define DF_PG_MAX_PARAMS 20

/* The text parameters of one statement (libpq's text format): values point into buf for numbers,
 * or at borrowed strings; NULL is SQL NULL. */
typedef struct df_pg_params {
    const char *v[DF_PG_MAX_PARAMS];
    char buf[DF_PG_MAX_PARAMS][24];
    int n;
} df_pg_params;

static inline void df_pg_text(df_pg_params *p, const char *v)
{
    p->v[p->n++] = v;
}

static inline void df_pg_i64(df_pg_params *p, long long x)
{
    snprintf(p->buf[p->n], sizeof p->buf[p->n], "%lld", x);
    p->v[p->n] = p->buf[p->n];
    p->n++;
}

/* A time in ms, 0 meaning NULL. */
static inline void df_pg_ms(df_pg_params *p, int64_t x)
{
    if (x)
        df_pg_i64(p, (long long)x);
    else
        df_pg_text(p, NULL);
}

static inline void df_pg_bool(df_pg_params *p, bool b)
{
    df_pg_text(p, b ? "t" : "f");
}

/* ---- results ---- */

/* Field (row, col) as a number (0 for NULL). */
static inline long long df_pg_ll(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Field (row, col) as a new C string (NULL for SQL NULL); sets *oom when the copy fails. */
static inline char *df_pg_strdup(const PGresult *r, int row, int col, bool *oom)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    char *v = strdup(PQgetvalue(r, row, col));
    if (!v)
        *oom = true;
    return v;
}

/* Rows a write changed (PQcmdTuples). */
static inline long long df_pg_changes(const PGresult *r)
{
    return strtoll(PQcmdTuples((PGresult *)r), NULL, 10);
}

/* ---- running statements (conn.c) ---- */

/* How long a lost connection is retried by default (ms), with backoff from 50 ms to 1 s between
 * tries; the environment variable DAGFLOW_PG_RETRY_MS changes it (0: no retry). */
#define DF_PG_RETRY_MS 30000

/* How long data sent on a TCP connection may stay unacknowledged (TCP_USER_TIMEOUT) before the
 * connection counts as lost, by default (ms): a network cut then shows within this time, also in
 * the middle of a statement, where TCP keepalives (the same 25 s for an idle connection) do not
 * apply. A worker sets its lease instead (df_store_work_set_timeout). A connection attempt waits
 * for a server at most this long too, between 2 and 10 s. */
#define DF_PG_NET_TIMEOUT_MS 25000

/* Connects s->conn to s->uri, retrying for s->retry_ms while the server does not answer (not
 * when it answers and refuses: a wrong password or database fails at once). Returns DF_STORE_OK
 * or DF_STORE_ERROR with "store: WHAT: ..." recorded. */
int df_pg_connect(df_pg_store *s, const char *what);

/* Runs the prepared statement id with p's parameters (p may be NULL: none). Returns the result
 * (PQclear it) when it ended in PGRES_COMMAND_OK or PGRES_TUPLES_OK; otherwise NULL with the
 * failure recorded and its code in *code. A connection found lost outside a transaction is
 * re-established (retried for s->retry_ms) and the statement run again; inside a transaction the
 * transaction is gone with the connection, so the call fails ("lost the connection to
 * PostgreSQL") and the next one outside a transaction reconnects. */
PGresult *df_pg_exec(df_pg_store *s, enum df_pg_stmt_id id, const df_pg_params *p, const char *what,
                     int *code);

/* df_pg_exec for a statement whose rows are not needed. */
int df_pg_write(df_pg_store *s, enum df_pg_stmt_id id, const df_pg_params *p, const char *what,
                long long *changes);

/* The failure of a statement's result r as a DF_STORE_* code, recorded as "store: WHAT: the
 * server's message" (conn.c). */
int df_pg_fail_result(df_pg_store *s, const PGresult *r, const char *what);

/* ---- pipelined writes (pipe.c) ---- */

/* What a compare-and-set write was about, for the message when it changed no row. */
typedef struct df_pg_cas {
    long long run_id;
    char *task_id; /* borrowed by the caller; pipe.c keeps its own copy */
    long long map_index;
    unsigned attempt; /* the attempt (open, close) or the attempt expected (transition) */
    int from;         /* a transition's expected state (df_task_state) */
} df_pg_cas;

/* Says why a write changed no row (its diagnostic reads run in the same transaction) and
 * returns the code: DF_STORE_CONFLICT or DF_STORE_NOTFOUND, with the message recorded. */
typedef int (*df_pg_refused_fn)(df_pg_store *s, const df_pg_cas *cas, const char *what);

/* Whether a write may be deferred now: the caller let checks be deferred
 * (df_store_defer_checks), its transaction is open on a live connection. */
bool df_pg_can_defer(const df_pg_store *s);

/* Queues a multi-row statement whose answer lists, ascending, the numbers (0..n-1) of the rows
 * that applied; rows (n, owned from here on) say what each was, for refused. */
int df_pg_queue_rows(df_pg_store *s, enum df_pg_stmt_id id, const df_pg_params *p, const char *what,
                     df_pg_refused_fn refused, df_pg_cas *rows, size_t n);

/* batch.c: gathers a transition, an attempt's opening or closing (deferred checks only), to be
 * sent as one queued statement per kind by df_pg_batch_flush (before any other statement, and by
 * df_pg_pipe_drain); DF_PG_UNBATCHED when the row cannot be gathered (text that is not UTF-8):
 * the caller sends its own statement. df_pg_batch_clear forgets the gathered rows. */
#define DF_PG_UNBATCHED 1
int df_pg_batch_transition(df_pg_store *s, const df_transition *t);
int df_pg_batch_open(df_pg_store *s, long long run_id, const char *task_id, long long map_index,
                     unsigned attempt, int64_t started_at);
int df_pg_batch_close(df_pg_store *s, long long run_id, const char *task_id, long long map_index,
                      unsigned attempt, const char *outcome, int64_t ended_at, const char *error,
                      const char *log, const char *output);
int df_pg_batch_flush(df_pg_store *s);
void df_pg_batch_clear(df_pg_store *s);
void df_pg_batch_free(df_pg_store *s);
/* runs.c: why a transition, an attempt's opening or closing changed nothing (DF_STORE_CONFLICT
 * or DF_STORE_NOTFOUND, the message recorded). */
int df_pg_transition_refused(df_pg_store *s, const df_pg_cas *t, const char *W);
int df_pg_open_refused(df_pg_store *s, const df_pg_cas *c, const char *W);
int df_pg_close_refused(df_pg_store *s, const df_pg_cas *c, const char *W);

/* Whether writes are pipelined: yes unless the environment says DAGFLOW_PG_PIPELINE=0. */
bool df_pg_pipe_wanted(void);

/* A write of the store: inside the caller's transaction (df_store_begin), queued in pipeline mode
 * and DF_STORE_OK at once, its answer judged at the next df_pg_pipe_drain (refused, when not NULL,
 * called there if it changed no row); otherwise run at once, refused called when it changed no
 * row, as df_pg_write. Once a write of the transaction failed, every call returns DF_STORE_ERROR
 * with that failure's message until the rollback. */
int df_pg_write_cas(df_pg_store *s, enum df_pg_stmt_id id, const df_pg_params *p, const char *what,
                    df_pg_refused_fn refused, const df_pg_cas *cas);

/* Reads the answers of the queued writes and leaves pipeline mode (df_pg_exec calls it before
 * any statement; the commit before COMMIT). Returns DF_STORE_OK, or DF_STORE_ERROR with the first
 * failure's message (a lost connection also sets the store's tx_lost). */
int df_pg_pipe_drain(df_pg_store *s, const char *what);

/* Forgets the queued writes and any failure of the transaction (before ROLLBACK). */
void df_pg_pipe_discard(df_pg_store *s);

/* Forgets the queued writes of a connection that is replaced (conn.c) or closed. */
void df_pg_pipe_reset(df_pg_store *s);
void df_pg_pipe_free(df_pg_store *s);

/* True while a transaction is open on the connection. */
bool df_pg_in_tx(const df_pg_store *s);

/* The SQL of a prepared statement (stmt.c). */
const char *df_pg_sql(enum df_pg_stmt_id id);

/* ---- the transaction around one operation (conn.c) ---- */

/* As SQLite's: a write of several statements is its own transaction (DF_PG_OP_OWN) or a
 * savepoint inside the caller's (DF_PG_OP_SAVEPOINT); a read of several statements sees one
 * snapshot (its own REPEATABLE READ transaction, or the caller's: DF_PG_OP_NONE). */
enum { DF_PG_OP_NONE, DF_PG_OP_OWN, DF_PG_OP_SAVEPOINT };
int df_pg_op_begin(df_pg_store *s, int *mode, const char *what);
int df_pg_op_begin_read(df_pg_store *s, int *mode, const char *what);
int df_pg_op_end(df_pg_store *s, int mode, int code, const char *what);

/* work.c: the SQL of the PG_WORK_* statements; LISTEN again on a new connection. */
const char *df_pg_work_sql(enum df_pg_stmt_id id);
void df_pg_work_relisten(df_pg_store *s);
extern const struct df_store_work_ops df_pg_work_ops;

/* ---- the operations (see store.h for each one's contract; arguments already checked) ---- */

int df_pg_begin(df_store *s);
int df_pg_commit(df_store *s);
int df_pg_rollback(df_store *s);

int df_pg_create_run(df_store *s, const df_run_record *run, long long *run_id);
int df_pg_transition(df_store *s, const df_transition *t);
int df_pg_attempt_open(df_store *s, long long run_id, const char *task_id, long long map_index,
                       unsigned attempt, int64_t started_at);
int df_pg_map_expand(df_store *s, long long run_id, const char *task_id, long long from,
                     long long n, int64_t at);
int df_pg_attempt_close(df_store *s, long long run_id, const char *task_id, long long map_index,
                        unsigned attempt, df_attempt_outcome outcome, int64_t ended_at,
                        const char *error, const char *log, const char *output);
int df_pg_run_set_state(df_store *s, long long run_id, df_run_state state, int64_t ended_at);
int df_pg_run_set_error(df_store *s, long long run_id, const char *error);
/* schedule.c */
int df_pg_schedule_anchor(df_store *s, const char *workflow, int64_t now_ms, int64_t *first);
int df_pg_schedule_last(df_store *s, const char *workflow, int64_t *last, bool *has);
int df_pg_schedule_claim(df_store *s, const char *workflow, int64_t logical_time, bool from_queued,
                         df_sched_decision decision, long long run_id, int64_t decided_at,
                         bool *won);
int df_pg_schedule_set_run(df_store *s, const char *workflow, int64_t logical_time,
                           long long run_id);
int df_pg_schedule_queued(df_store *s, const char *workflow, size_t max, int64_t **out, size_t *n);
int df_pg_active_runs(df_store *s, const char *workflow, long long *n);
int df_pg_serve_runs(df_store *s, long long **ids, char ***workflows, size_t *n);
/* Reads (run_id, workflow) rows of r (cleared) into new arrays as df_store_serve_runs gives
 * them. */
int df_pg_run_names(df_pg_store *s, PGresult *r, const char *W, long long **ids, char ***workflows,
                    size_t *n);
/* runs.c: parameters 1..5 of the engine statements: pid, host, started_at, at, run_id. */
void df_pg_engine_params(df_pg_params *p, long long run_id, const df_engine_id *engine, int64_t at);
/* lease.c: run leases (store.h) */
int df_pg_run_fence(df_store *s, long long run_id, const df_engine_id *owner, int64_t lease_ms,
                    int64_t now);
int df_pg_run_adopt(df_store *s, long long run_id, const df_engine_id *expected,
                    const df_engine_id *engine, int64_t at, int64_t lease_ms);
int df_pg_adoptable_runs(df_store *s, const df_engine_id *me, int64_t now, long long **ids,
                         char ***workflows, size_t *n);
int df_pg_lease_changed(df_store *s);
/* conn.c: applies the session settings the lease asks for on the current connection (a
 * transaction left idle longer than the lease, 5 s at least, is ended by the server). */
int df_pg_session_setup(df_pg_store *s);
int df_pg_run_set_engine(df_store *s, long long run_id, const df_engine_id *engine, int64_t at);
int df_pg_run_claim(df_store *s, long long run_id, const df_engine_id *expected,
                    const df_engine_id *engine, int64_t at);
int df_pg_run_heartbeat(df_store *s, long long run_id, int64_t at);
int df_pg_run_set_metrics(df_store *s, long long run_id, const json_t *metrics);

/* safety.c: SPEC §12's records (attempts' processes, charged losses, running periods). */
int df_pg_attempt_proc_add(df_store *s, long long run_id, const char *task_id, long long map_index,
                           unsigned attempt, long long pgid, int64_t pid_started_at,
                           const char *host, const char *cgroup);
int df_pg_attempt_procs(df_store *s, long long run_id, df_attempt_proc **out, size_t *n);
int df_pg_attempt_procs_forget(df_store *s, long long run_id, const char *host);
int df_pg_attempt_charge(df_store *s, long long run_id, const char *task_id, long long map_index,
                         unsigned attempt);
int df_pg_crash_report(df_store *s, const df_crash_report *r, df_crash_mark *mark);
int df_pg_run_period_start(df_store *s, long long run_id, int64_t at, int64_t close_open_at);
int df_pg_run_period_end(df_store *s, long long run_id, int64_t at);
int df_pg_run_periods(df_store *s, long long run_id, df_run_period **out, size_t *n);

int df_pg_breaker_event(df_store *s, long long run_id, const char *task_id, const char *breaker,
                        df_breaker_state from, df_breaker_state to, double failure_rate, int calls,
                        int64_t at);
int df_pg_alert_add(df_store *s, long long run_id, const char *task_id, const char *event,
                    const char *sink, int sink_index, const char *payload, int64_t created_at,
                    long long *alert_id);
int df_pg_alert_update(df_store *s, long long alert_id, df_alert_status status, int tries,
                       int64_t delivered_at, const char *error);
int df_pg_alerts_pending(df_store *s, long long run_id, df_pending_alert **out, size_t *n);

int df_pg_run_status(df_store *s, long long run_id, df_run_view **out);
int df_pg_run_summary(df_store *s, long long run_id, int max_tasks, df_run_view **out);
int df_pg_latest_run(df_store *s, long long *run_id);
int df_pg_history(df_store *s, const df_history_query *q, df_history_row **out, size_t *n);
/* history.c: gc, a run's events, counts by state */
int df_pg_gc(df_store *s, int64_t cutoff, df_gc_result *out);
int df_pg_run_events(df_store *s, long long run_id, long long after, int limit, df_run_state *state,
                     df_event_row **out, size_t *n);
int df_pg_state_counts(df_store *s, size_t runs[DF_RS__COUNT], size_t tasks[DF_TS__COUNT]);
int df_pg_load_run(df_store *s, long long run_id, df_stored_run **out);

/* cancel.c: cancel requests (SPEC §10). */
int df_pg_cancel_request(df_store *s, long long run_id, const char *reason, int64_t requested_at,
                         df_run_state *state);
int df_pg_cancel_clear(df_store *s, long long run_id);
int df_pg_cancel_requests(df_store *s, long long run_id, df_cancel_request **out, size_t *n);
int df_pg_child_run(df_store *s, long long parent_run_id, const char *parent_task_id,
                    long long *run_id, df_run_state *state);

/* attempts.c: one task instance's attempts (logs, status --task). */
int df_pg_task_attempts(df_store *s, long long run_id, const char *task_id, long long map_index,
                        df_task_attempts **out);

#endif
