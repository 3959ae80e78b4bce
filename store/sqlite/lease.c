/* sqlite/lease: run leases in SQLite (SPEC §11, store.h's "run leases") — the fence that renews a
 * run's lease while this engine still owns it, adoption of a run whose lease ended, and the list
 * of such runs. Lease times are the local clock's (the caller's `at` / `now`); SQLite has one
 * writer at a time (BEGIN IMMEDIATE), so the fence, inside the caller's transaction, holds for
 * everything that transaction writes. */
#include "internal.h"

/* See store.h (run_fence). */
int df_sqlite_run_fence(df_store *store, long long run_id, const df_engine_id *owner,
                        int64_t lease_ms, int64_t now)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "renew run lease";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_RUN_FENCE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, lease_ms);
    sqlite3_bind_int64(st, 3, owner->pid);
    sqlite3_bind_text(st, 4, owner->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, owner->started_at);
    sqlite3_bind_int64(st, 6, run_id);
    code = df_sqlite_run_write(s, st, W);
    if (code != DF_STORE_OK || sqlite3_changes(s->db) > 0)
        return code;
    st = df_sqlite_stmt(s, ST_RUN_EXISTS, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    df_sqlite_done(st);
    if (rc == SQLITE_DONE)
        return df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    if (rc != SQLITE_ROW)
        return df_sqlite_fail(s, rc, W);
    return df_store_failf(&s->base, DF_STORE_CONFLICT,
                          "store: run %lld: this engine no longer holds the run's lease: another "
                          "engine adopted it",
                          run_id);
}

/* See store.h (run_adopt). */
int df_sqlite_run_adopt(df_store *store, long long run_id, const df_engine_id *expected,
                        const df_engine_id *engine, int64_t at, int64_t lease_ms)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "adopt run";
    int code;
    sqlite3_stmt *st = df_sqlite_engine_stmt(s, ST_RUN_ADOPT, run_id, engine, at, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 10, lease_ms);
    if (expected) {
        sqlite3_bind_int64(st, 6, expected->pid);
        df_sqlite_bind_text(st, 7, expected->host);
        df_sqlite_bind_ms(st, 8, expected->started_at);
    }
    code = df_sqlite_run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) == 0)
        code = df_store_failf(&s->base, DF_STORE_CONFLICT,
                              "store: %s: run %lld is not adoptable (its owner renewed its lease, "
                              "another engine adopted it, or it ended)",
                              W, run_id);
    return code;
}

/* See store.h (adoptable_runs). */
int df_sqlite_adoptable_runs(df_store *store, const df_engine_id *me, int64_t now, long long **ids,
                             char ***workflows, size_t *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read adoptable runs";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ADOPTABLE_RUNS, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, me->pid);
    sqlite3_bind_text(st, 3, me->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, me->started_at);
    return df_sqlite_run_names(s, st, W, ids, workflows, n);
}
