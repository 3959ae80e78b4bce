/* backend: what every store backend shares, for store.c and the backends under store/ only
 * (the engine sees df_store as an opaque handle through store/store.h). A backend's handle
 * starts with a df_store whose ops point at its table of operations; store.c's df_store_*
 * functions check their arguments and then call through that table, as Redis's ae.c calls the
 * poller it was built with. */
#ifndef DF_STORE_BACKEND_H
#define DF_STORE_BACKEND_H

#include "store.h"
#include "store_ops.h"

/* Bytes kept of the last failure's message. */
#define DF_STORE_ERR_MAX 512

/* The start of every backend's handle. */
struct df_store {
    const df_store_ops *ops;    /* the backend's table (static, never NULL) */
    char err[DF_STORE_ERR_MAX]; /* the last failure's message, "" after a successful open */
    /* Run leases (store/lease.c, df_store_set_lease): zero until an engine sets them. */
    int64_t lease_ms;         /* a run lease's length; 0: DF_RUN_LEASE_DEFAULT_MS */
    bool fence_on;            /* every run write checks that fence_owner holds the run */
    df_engine_id fence_owner; /* host points at fence_host, kind is NULL */
    char fence_host[256];
    bool in_tx;        /* the caller's transaction is open (df_store_begin) */
    bool defer_checks; /* df_store_defer_checks: writes in it may be answered later */
    bool tx_lost; /* the last failure lost the open transaction with the connection (PostgreSQL) */
    long long *fenced; /* runs whose lease this transaction checked already */
    size_t n_fenced, cap_fenced;
};

/* The lease length a backend writes with an owner (lease_until = now + this, ms). */
static inline int64_t df_store_lease_ms(const df_store *s)
{
    return s->lease_ms > 0 ? s->lease_ms : DF_RUN_LEASE_DEFAULT_MS;
}

/* store/lease.c: before a write of run_id's rows, checks (once per transaction) that this store's
 * fence owner still holds the run's lease, renewing it; opens a transaction of its own around the
 * write when the caller has none (*own set: end it with df_store_fence_end). Returns DF_STORE_OK,
 * DF_STORE_CONFLICT ("the lease was lost"), or the backend's failure. */
int df_store_fence(df_store *s, long long run_id, bool *own);
/* Ends the transaction df_store_fence opened (own): commits when code is DF_STORE_OK, else rolls
 * back. Returns code, or the commit's failure. */
int df_store_fence_end(df_store *s, bool own, int code);
/* Forgets the runs checked in the transaction (it began, committed or rolled back). */
void df_store_fence_reset(df_store *s);

/* Writes the message of a failure (printf-style) into s->err and returns code, so that
 * `return df_store_failf(s, DF_STORE_ERROR, "store: %s: ...", W)` records and fails at once.
 * Messages start with "store: " and say which operation failed. */
int df_store_failf(df_store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Free what a backend's status/summary read (a df_run_view) and its history read (n rows)
 * return, for backends that fail half-way; NULL is fine. */
void df_run_view_free(df_run_view *v);
void df_history_rows_free(df_history_row *rows, size_t n);

/* A time in ms as the views of SPEC §7 show it (ISO-8601 UTC with milliseconds), null for 0; text
 * as a JSON string, null for NULL or text that is not UTF-8. New references. */
json_t *df_store_json_time(int64_t ms);
json_t *df_store_json_text(const char *text);

/* Frees what a backend's run_events read returns; NULL is fine. */
void df_event_rows_free(df_event_row *rows, size_t n);

/* Frees what a backend's task_attempts read returns; NULL is fine. */
void df_task_attempts_free(df_task_attempts *t);

#endif
