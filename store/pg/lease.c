/* pg/lease: run leases in PostgreSQL (SPEC §11, store.h's "run leases") — the fence that renews a
 * run's lease while this engine still owns it, adoption of a run whose lease ended, the list of
 * such runs, and the session setting that ends a transaction left idle past the lease. Lease
 * times are the database's clock (dagflow_now_ms()), so engines on hosts whose clocks differ agree
 * on when a lease ended. The fence's UPDATE keeps the run's row locked until the caller's commit:
 * an adopter skips a locked row (SKIP LOCKED), and a claim waiting for it re-checks the owner. */
#include "internal.h"

/* See store.h (run_fence). now is not used: the database's clock decides. */
int df_pg_run_fence(df_store *store, long long run_id, const df_engine_id *owner, int64_t lease_ms,
                    int64_t now)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "renew run lease";
    df_pg_params p = {0};
    df_pg_i64(&p, now);
    df_pg_i64(&p, lease_ms);
    df_pg_i64(&p, owner->pid);
    df_pg_text(&p, owner->host);
    df_pg_i64(&p, owner->started_at);
    df_pg_i64(&p, run_id);
    long long n = 0;
    int code = df_pg_write(s, PG_RUN_FENCE, &p, W, &n);
    if (code != DF_STORE_OK || n > 0)
        return code;
    df_pg_params q = {0};
    df_pg_i64(&q, run_id);
    PGresult *r = df_pg_exec(s, PG_RUN_EXISTS, &q, W, &code);
    if (!r)
        return code;
    int rows = PQntuples(r);
    PQclear(r);
    if (rows == 0)
        return df_store_failf(store, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    return df_store_failf(store, DF_STORE_CONFLICT,
                          "store: run %lld: this engine no longer holds the run's lease: another "
                          "engine adopted it",
                          run_id);
}

/* See store.h (run_adopt). */
int df_pg_run_adopt(df_store *store, long long run_id, const df_engine_id *expected,
                    const df_engine_id *engine, int64_t at, int64_t lease_ms)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "adopt run";
    df_pg_params p = {0};
    df_pg_engine_params(&p, run_id, engine, at);
    if (expected) {
        df_pg_i64(&p, expected->pid);
        df_pg_text(&p, expected->host);
        df_pg_ms(&p, expected->started_at);
    } else {
        for (int i = 0; i < 3; i++)
            df_pg_text(&p, NULL);
    }
    df_pg_text(&p, engine->kind);
    df_pg_i64(&p, lease_ms);
    long long n = 0;
    int code = df_pg_write(s, PG_RUN_ADOPT, &p, W, &n);
    if (code == DF_STORE_OK && n == 0)
        code = df_store_failf(store, DF_STORE_CONFLICT,
                              "store: %s: run %lld is not adoptable (its owner renewed its lease "
                              "or holds it in a transaction, another engine adopted it, or it "
                              "ended)",
                              W, run_id);
    return code;
}

/* See store.h (adoptable_runs). */
int df_pg_adoptable_runs(df_store *store, const df_engine_id *me, int64_t now, long long **ids,
                         char ***workflows, size_t *n)
{
    (void)now;
    df_pg_store *s = df_pg_of(store);
    const char *W = "read adoptable runs";
    df_pg_params p = {0};
    df_pg_i64(&p, me->pid);
    df_pg_text(&p, me->host);
    df_pg_i64(&p, me->started_at);
    int code;
    PGresult *r = df_pg_exec(s, PG_ADOPTABLE_RUNS, &p, W, &code);
    if (!r)
        return code;
    return df_pg_run_names(s, r, W, ids, workflows, n);
}

/* See store.h (lease_changed). */
int df_pg_lease_changed(df_store *store)
{
    df_pg_store *s = df_pg_of(store);
    if (df_pg_session_setup(s) != DF_STORE_OK)
        return df_store_failf(store, DF_STORE_ERROR,
                              "store: set lease: cannot set idle_in_transaction_session_timeout");
    return DF_STORE_OK;
}
