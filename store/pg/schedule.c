/* pg/schedule: what `serve` keeps in PostgreSQL (SPEC §9), as sqlite/schedule.c does: the
 * schedule_log rows that claim fire times (INSERT ... ON CONFLICT DO NOTHING on the primary key,
 * or an update of a queued row: a second engine waits for the first one's transaction, then
 * finds the fire time taken), each workflow's anchor, unfinished runs, and the runs a serve
 * engine left behind. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static int oom(df_pg_store *s, const char *W)
{
    return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
}

int df_pg_schedule_anchor(df_store *store, const char *workflow, int64_t now_ms, int64_t *first)
{
    df_pg_store *s = df_pg_of(store);
    df_pg_params p = {0};
    df_pg_text(&p, workflow);
    df_pg_i64(&p, now_ms);
    int code;
    PGresult *r = df_pg_exec(s, PG_SCHED_ANCHOR, &p, "schedule anchor", &code);
    if (!r)
        return code;
    /* No row: another engine's insert committed after this statement's snapshot; its time is
     * within moments of ours. */
    *first = PQntuples(r) > 0 ? df_pg_ll(r, 0, 0) : now_ms;
    PQclear(r);
    return DF_STORE_OK;
}

int df_pg_schedule_last(df_store *store, const char *workflow, int64_t *last, bool *has)
{
    df_pg_store *s = df_pg_of(store);
    df_pg_params p = {0};
    df_pg_text(&p, workflow);
    int code;
    PGresult *r = df_pg_exec(s, PG_SCHED_LAST, &p, "schedule last", &code);
    if (!r)
        return code;
    *has = PQntuples(r) > 0 && !PQgetisnull(r, 0, 0);
    *last = *has ? df_pg_ll(r, 0, 0) : 0;
    PQclear(r);
    return DF_STORE_OK;
}

int df_pg_schedule_claim(df_store *store, const char *workflow, int64_t logical_time,
                         bool from_queued, df_sched_decision decision, long long run_id,
                         int64_t decided_at, bool *won)
{
    df_pg_store *s = df_pg_of(store);
    df_pg_params p = {0};
    df_pg_text(&p, workflow);
    df_pg_i64(&p, logical_time);
    df_pg_text(&p, df_sched_decision_name(decision));
    if (run_id > 0)
        df_pg_i64(&p, run_id);
    else
        df_pg_text(&p, NULL);
    if (!from_queued)
        df_pg_i64(&p, decided_at);
    long long n = 0;
    int code = df_pg_write(s, from_queued ? PG_SCHED_FROM_QUEUED : PG_SCHED_INSERT, &p,
                           "claim fire time", &n);
    *won = code == DF_STORE_OK && n == 1;
    return code;
}

int df_pg_schedule_set_run(df_store *store, const char *workflow, int64_t logical_time,
                           long long run_id)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "record fire time's run";
    df_pg_params p = {0};
    df_pg_text(&p, workflow);
    df_pg_i64(&p, logical_time);
    if (run_id > 0)
        df_pg_i64(&p, run_id);
    else
        df_pg_text(&p, NULL);
    long long n = 0;
    int code = df_pg_write(s, PG_SCHED_SET_RUN, &p, W, &n);
    if (code == DF_STORE_OK && n != 1)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no fire time %lld of %s", W,
                              (long long)logical_time, workflow);
    return code;
}

int df_pg_schedule_queued(df_store *store, const char *workflow, size_t max, int64_t **out,
                          size_t *n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read queued fire times";
    df_pg_params p = {0};
    df_pg_text(&p, workflow);
    df_pg_i64(&p, (long long)max);
    int code;
    PGresult *r = df_pg_exec(s, PG_SCHED_QUEUED, &p, W, &code);
    if (!r)
        return code;
    int rows = PQntuples(r);
    int64_t *v = rows > 0 ? malloc((size_t)rows * sizeof *v) : NULL;
    if (rows > 0 && !v) {
        PQclear(r);
        return oom(s, W);
    }
    for (int i = 0; i < rows; i++)
        v[i] = df_pg_ll(r, i, 0);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return DF_STORE_OK;
}

int df_pg_active_runs(df_store *store, const char *workflow, long long *n)
{
    df_pg_store *s = df_pg_of(store);
    df_pg_params p = {0};
    df_pg_text(&p, workflow);
    int code;
    PGresult *r = df_pg_exec(s, PG_ACTIVE_RUNS, &p, "count active runs", &code);
    if (!r)
        return code;
    *n = PQntuples(r) > 0 ? df_pg_ll(r, 0, 0) : 0;
    PQclear(r);
    return DF_STORE_OK;
}

int df_pg_serve_runs(df_store *store, long long **ids, char ***workflows, size_t *n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read serve runs";
    int code;
    PGresult *r = df_pg_exec(s, PG_SERVE_RUNS, NULL, W, &code);
    if (!r)
        return code;
    return df_pg_run_names(s, r, W, ids, workflows, n);
}

/* See internal.h. */
int df_pg_run_names(df_pg_store *s, PGresult *r, const char *W, long long **ids, char ***workflows,
                    size_t *n)
{
    int rows = PQntuples(r);
    long long *id = calloc(rows ? (size_t)rows : 1, sizeof *id);
    char **wf = calloc(rows ? (size_t)rows : 1, sizeof *wf);
    bool no_mem = !id || !wf;
    for (int i = 0; !no_mem && i < rows; i++) {
        id[i] = df_pg_ll(r, i, 0);
        wf[i] = df_pg_strdup(r, i, 1, &no_mem);
    }
    PQclear(r);
    if (no_mem) {
        for (int i = 0; wf && i < rows; i++)
            free(wf[i]);
        free(wf);
        free(id);
        return oom(s, W);
    }
    *ids = id;
    *workflows = wf;
    *n = (size_t)rows;
    return DF_STORE_OK;
}
