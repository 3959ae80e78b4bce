/* lease: the backend-neutral half of run leases (SPEC §11, store.h's "run leases") — the engine
 * whose writes a store carries, the fence that checks (once per transaction and run) that this
 * engine still holds a run before anything of the run is written, and the arguments of adoption.
 * The SQL is each backend's (run_fence, run_adopt, adoptable_runs). */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* See store.h. */
int df_store_set_lease(df_store *s, const df_engine_id *owner, int64_t lease_ms)
{
    if (!s || !owner || !owner->host || lease_ms < 0)
        return s ? df_store_failf(s, DF_STORE_ERROR, "store: set lease: invalid arguments")
                 : DF_STORE_ERROR;
    s->lease_ms = lease_ms;
    snprintf(s->fence_host, sizeof s->fence_host, "%s", owner->host);
    s->fence_owner =
        (df_engine_id){.pid = owner->pid, .host = s->fence_host, .started_at = owner->started_at};
    s->fence_on = true;
    df_store_fence_reset(s);
    return s->ops->lease_changed ? s->ops->lease_changed(s) : DF_STORE_OK;
}

void df_store_fence_reset(df_store *s)
{
    s->n_fenced = 0;
}

static bool fenced_already(const df_store *s, long long run_id)
{
    for (size_t i = 0; i < s->n_fenced; i++)
        if (s->fenced[i] == run_id)
            return true;
    return false;
}

/* Remembers run_id as checked in this transaction; forgetting it on out of memory only costs
 * another check. */
static void remember(df_store *s, long long run_id)
{
    if (s->n_fenced == s->cap_fenced) {
        size_t cap = s->cap_fenced ? s->cap_fenced * 2 : 16;
        long long *v = realloc(s->fenced, cap * sizeof *v);
        if (!v)
            return;
        s->fenced = v;
        s->cap_fenced = cap;
    }
    s->fenced[s->n_fenced++] = run_id;
}

/* See backend.h. */
int df_store_fence(df_store *s, long long run_id, bool *own)
{
    *own = false;
    if (!s->fence_on || run_id <= 0 || (s->in_tx && fenced_already(s, run_id)))
        return DF_STORE_OK;
    if (!s->in_tx) {
        int code = df_store_begin(s);
        if (code != DF_STORE_OK)
            return code;
        *own = true;
    }
    int code = s->ops->run_fence(s, run_id, &s->fence_owner, df_store_lease_ms(s), now_ms());
    if (code == DF_STORE_OK) {
        remember(s, run_id);
        return code;
    }
    if (*own) {
        char saved[sizeof s->err];
        memcpy(saved, s->err, sizeof saved);
        df_store_rollback(s);
        memcpy(s->err, saved, sizeof saved);
        *own = false;
    }
    return code;
}

/* See backend.h. */
int df_store_fence_end(df_store *s, bool own, int code)
{
    if (!own)
        return code;
    if (code == DF_STORE_OK) {
        code = df_store_commit(s);
        if (code == DF_STORE_OK)
            return code;
    }
    char saved[sizeof s->err];
    memcpy(saved, s->err, sizeof saved);
    df_store_rollback(s);
    memcpy(s->err, saved, sizeof saved);
    return code;
}

/* See store.h. */
bool df_store_tx_lost(df_store *s, const long long **runs, size_t *n)
{
    if (!s || !s->tx_lost)
        return false;
    if (runs)
        *runs = s->fenced;
    if (n)
        *n = s->n_fenced;
    return true;
}

/* See store.h. */
int df_store_run_fence(df_store *s, long long run_id)
{
    bool own;
    int code = df_store_fence(s, run_id, &own);
    return code == DF_STORE_OK ? df_store_fence_end(s, own, code) : code;
}

/* See store.h. */
int df_store_run_adopt(df_store *s, long long run_id, const df_engine_id *expected,
                       const df_engine_id *engine, int64_t at)
{
    if (run_id <= 0 || !engine || !engine->host || (expected && !expected->host))
        return df_store_failf(s, DF_STORE_ERROR, "store: adopt run: invalid arguments");
    int code = s->ops->run_adopt(s, run_id, expected, engine, at, df_store_lease_ms(s));
    if (code == DF_STORE_OK && s->in_tx)
        remember(s, run_id);
    return code;
}

/* See store.h. */
int df_store_adoptable_runs(df_store *s, const df_engine_id *me, int64_t now, long long **ids,
                            char ***workflows, size_t *n)
{
    if (!me || !me->host || !ids || !workflows || !n)
        return df_store_failf(s, DF_STORE_ERROR, "store: adoptable runs: invalid arguments");
    *ids = NULL;
    *workflows = NULL;
    *n = 0;
    return s->ops->adoptable_runs(s, me, now, ids, workflows, n);
}
