/* store/work: the queue of attempts handed to `dagflow worker` processes (SPEC §11), a part of
 * the store interface kept in its own header. The engine (--executor workers) enqueues the
 * attempts it has recorded RUNNING, collects their outcomes and expires lost leases; workers
 * claim attempts with a lease, renew it and complete them. Only the engine writes task states
 * and attempts: a worker writes nothing but its queue rows, so the engine's state machine stays
 * the single writer of the history (SPEC §7), and an outcome becomes history in the same
 * transaction that removes its queue row (exactly-once recorded outcomes).
 *
 * Fencing: every claim gets a new token (claim); a worker's renewal and completion carry it and
 * change nothing unless the row still holds that claim and its lease has not expired by the
 * database's clock. A worker learns that a write was refused (accepted[] false) and logs it.
 *
 * Backends: PostgreSQL (store/pg/work.c: FOR UPDATE SKIP LOCKED, LISTEN/NOTIFY on the channels
 * "dagflow_work" (payload: the queue) and "dagflow_done"). SQLite has no queue: every function
 * returns DF_STORE_ERROR with "store: the worker queue needs a PostgreSQL --db (postgresql://...)".
 *
 * Thread-safety and errors as in store.h (one thread at a time per store; DF_STORE_* codes with
 * df_store_error). Times are ms of the database's clock; durations ms. */
#ifndef DF_STORE_WORK_H
#define DF_STORE_WORK_H

#include "store.h"

/* One attempt handed to workers (df_store_work_enqueue). Pointers borrowed for the call. */
typedef struct df_work_item {
    const char *queue; /* the task's queue ("default" when it names none) */
    long long run_id;
    long long unit; /* the engine's unit index (a task, or a mapped instance) */
    unsigned attempt;
    const char *task_id;
    long long map_index; /* -1: not a mapped instance */
    const char *plugin;  /* the plugin as written in the workflow (name or path) */
    const char *params;  /* the resolved params, JSON text */
    const char *workdir; /* the workflow file's folder (relative plugin paths, children's cwd) */
} df_work_item;

/* One attempt a worker claimed (df_store_work_claim). Strings belong to the array. */
typedef struct df_work_claim {
    long long id, claim; /* the queue row and the claim's token */
    long long run_id, unit;
    unsigned attempt;
    long long map_index;
    char *task_id, *plugin, *params, *workdir;
} df_work_claim;

/* A worker's outcome of a claimed attempt (df_store_work_complete). Pointers borrowed. */
typedef struct df_work_done {
    long long id, claim;
    int status;         /* DF_TASK_* as the plugin returned it */
    const char *result; /* JSON text, or NULL */
    const char *error;  /* or NULL */
    const char *log;    /* or NULL */
} df_work_done;

/* An outcome collected by the engine (df_store_work_collect) or a lost lease
 * (df_store_work_expire: lost true, status 0, no result). Strings belong to the array. */
typedef struct df_work_outcome {
    long long run_id, unit;
    unsigned attempt;
    bool lost;
    int status;
    char *result, *error, *log; /* or NULL */
    char *worker;               /* who claimed it last, or NULL */
    int64_t wait_ms;            /* from enqueue to claim, by the database's clock; 0 unknown */
    bool charged; /* lost: its worker reported a crash in the attempt's own plugin code
                     (df_store_crash_report): the loss is charged to the task (SPEC §12) */
} df_work_outcome;

/* Enqueues n attempts (one statement; inside the caller's transaction if one is open) and
 * notifies "dagflow_work" with each queue's name at commit. */
int df_store_work_enqueue(df_store *s, const df_work_item *items, size_t n);

/* Claims at most max queued attempts of the named queues (nq names, borrowed), oldest first,
 * of runs that are RUNNING with a live lease (an engine waits for them), skipping rows other
 * workers hold locked, each with a new claim token and a lease of lease_ms
 * from the database's clock; worker names the claimer ("host:pid", borrowed). *out: a new array
 * of *n claims (NULL when none), freed with df_work_claims_free. */
int df_store_work_claim(df_store *s, const char *worker, const char *const *queues, size_t nq,
                        size_t max, int64_t lease_ms, df_work_claim **out, size_t *n);
void df_work_claims_free(df_work_claim *c, size_t n);

/* Renews the leases of n claims (ids[k], claims[k]) to lease_ms from now by the database's
 * clock. state[k] (caller's array of n): 0 renewed; 1 lost (expired, re-claimed, or the row is
 * gone: the worker must cancel the attempt); 2 renewed but the engine asks for its cancellation
 * (timeout, cancel request). */
int df_store_work_renew(df_store *s, const long long *ids, const long long *claims, size_t n,
                        int64_t lease_ms, unsigned char *state);

/* Records n outcomes (one statement), each only if its row still holds its claim with an
 * unexpired lease; accepted[k] (caller's array) says which were; notifies "dagflow_done". */
int df_store_work_complete(df_store *s, const df_work_done *done, size_t n, bool *accepted);

/* Engine: takes (deletes) at most max completed attempts of the n runs, oldest first. Inside
 * the engine's transaction, so that deleting a row and recording its outcome commit together.
 * *out: new array, freed with df_work_outcomes_free. */
int df_store_work_collect(df_store *s, const long long *runs, size_t nruns, size_t max,
                          df_work_outcome **out, size_t *n);

/* Engine: takes (deletes) the claimed attempts of the n runs whose lease has expired by the
 * database's clock, or whose worker reported that the attempt's own code crashed it (charged;
 * df_store_crash_report ends such a lease at once) (lost: the worker's later writes find no row
 * and are refused). */
int df_store_work_expire(df_store *s, const long long *runs, size_t nruns, df_work_outcome **out,
                         size_t *n);
void df_work_outcomes_free(df_work_outcome *o, size_t n);

/* Engine: asks for the cancellation of an attempt. A claimed one is flagged (its worker sees it
 * at its next renewal and cancels it); one no worker has claimed yet is completed at once as
 * failed (status) with error "cancelled before a worker claimed it". */
int df_store_work_cancel(df_store *s, long long run_id, long long unit, unsigned attempt,
                         int status);

/* Engine: removes an attempt's row (recorded without its result: a late completion is refused),
 * or every row of the run when unit < 0 (a run resumed or retried by a new engine). */
int df_store_work_forget(df_store *s, long long run_id, long long unit, unsigned attempt);

/* Drops the queue rows of runs that are no longer RUNNING (finished, cancelled, interrupted by a
 * signal, or deleted): no engine collects them any more. Rows of a RUNNING run whose owner is gone
 * (its lease ended) are kept for `resume` or adoption, which drop them, but no worker claims them
 * meanwhile (df_store_work_claim takes only rows of runs whose lease is live). *dropped (may be
 * NULL): how many rows went. Called by engines with --executor workers when they start and by
 * workers when they start and every minute. */
int df_store_work_prune(df_store *s, long long *dropped);

/* LISTEN on channel (borrowed; "dagflow_work" or "dagflow_done"), kept across reconnections. */
int df_store_work_listen(df_store *s, const char *channel);

/* Worker: how long the store's connection may go unanswered before it counts as lost (ms, >=
 * 1000): data sent and not acknowledged for that long (TCP_USER_TIMEOUT), and connection
 * attempts (at most 10 s each). A worker sets its lease, so that a renewal sent into a network cut
 * fails once the lease could not have been renewed anyway, and the worker reconnects (for
 * DAGFLOW_PG_RETRY_MS) or stops, instead of waiting for the system's TCP retransmissions (about
 * 15 minutes). Applies to the open connection at once and to every later one; a Unix socket
 * ignores it. */
int df_store_work_set_timeout(df_store *s, int64_t ms);

/* The connection's socket to poll for notifications (it changes after a reconnection), or -1. */
int df_store_work_fd(df_store *s);

/* Reads what the server sent without waiting; returns how many notifications arrived since the
 * last call (0 when none; never an error: a broken connection shows at the next statement). */
int df_store_work_notified(df_store *s);

/* The backend's operations (store/pg/work.c); a backend without them leaves df_store_ops.work
 * NULL. */
typedef struct df_store_work_ops {
    int (*enqueue)(df_store *s, const df_work_item *items, size_t n);
    int (*claim)(df_store *s, const char *worker, const char *const *queues, size_t nq, size_t max,
                 int64_t lease_ms, df_work_claim **out, size_t *n);
    int (*renew)(df_store *s, const long long *ids, const long long *claims, size_t n,
                 int64_t lease_ms, unsigned char *state);
    int (*complete)(df_store *s, const df_work_done *done, size_t n, bool *accepted);
    int (*collect)(df_store *s, const long long *runs, size_t nruns, size_t max, bool expired,
                   df_work_outcome **out, size_t *n);
    int (*cancel)(df_store *s, long long run_id, long long unit, unsigned attempt, int status);
    int (*forget)(df_store *s, long long run_id, long long unit, unsigned attempt);
    int (*prune)(df_store *s, long long *dropped);
    int (*listen)(df_store *s, const char *channel);
    int (*set_timeout)(df_store *s, int64_t ms);
    int (*fd)(df_store *s);
    int (*notified)(df_store *s);
} df_store_work_ops;

/* Whether the store has a worker queue (PostgreSQL). */
bool df_store_has_work(const df_store *s);

#endif
