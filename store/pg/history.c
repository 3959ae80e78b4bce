/* pg/history: the history's upkeep and live reads on PostgreSQL: `gc` (deleting finished runs
 * with every row of theirs, measuring the rows' on-disk size), a run's task events after a
 * sequence number (the HTTP API's long poll) and the counts by state behind GET /metrics. */
#include "internal.h"

#include <stdlib.h>

/* The gc statements, one per table, the runs last. */
static const enum df_pg_stmt_id gc_stmts[] = {
    PG_GC_TASK_EVENT_LOG, PG_GC_ATTEMPTS,       PG_GC_RUN_EDGES, PG_GC_ALERTS,
    PG_GC_BREAKER_LOG,    PG_GC_TASK_INSTANCES, PG_GC_RUNS};

/* See store.h. Called inside the transaction store.c opened. */
int df_pg_gc(df_store *store, int64_t cutoff, df_gc_result *out)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "gc";
    for (size_t i = 0; i < sizeof gc_stmts / sizeof *gc_stmts; i++) {
        df_pg_params p = {0};
        df_pg_i64(&p, (long long)cutoff);
        int code;
        PGresult *r = df_pg_exec(s, gc_stmts[i], &p, W, &code);
        if (!r)
            return code;
        long long n = df_pg_ll(r, 0, 0);
        out->rows += n;
        out->bytes += df_pg_ll(r, 0, 1);
        if (gc_stmts[i] == PG_GC_RUNS)
            out->runs = n;
        PQclear(r);
    }
    return DF_STORE_OK;
}

/* The run's state as run_history shows it. DF_STORE_NOTFOUND for no such run. */
static int run_state(df_pg_store *s, long long run_id, df_run_state *state, const char *W)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    int code;
    PGresult *r = df_pg_exec(s, PG_EVENTS_RUN_STATE, &p, W, &code);
    if (!r)
        return code;
    if (PQntuples(r) != 1)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    else if (df_run_state_parse(PQgetvalue(r, 0, 0), state) != 0)
        code = df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: run %lld has an unknown state \"%s\"", W, run_id,
                              PQgetvalue(r, 0, 0));
    PQclear(r);
    return code;
}

/* Row i of the events list into *e. */
static int event_row(df_pg_store *s, const PGresult *r, int i, df_event_row *e, bool *oom,
                     const char *W)
{
    e->seq = df_pg_ll(r, i, 0);
    e->task_id = df_pg_strdup(r, i, 1, oom);
    e->from = DF_TS__COUNT;
    if ((!PQgetisnull(r, i, 2) && df_task_state_parse(PQgetvalue(r, i, 2), &e->from) != 0) ||
        df_task_state_parse(PQgetvalue(r, i, 3), &e->to) != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: event %lld has an unknown state", W, e->seq);
    e->at = df_pg_ll(r, i, 4);
    e->attempt = (unsigned)df_pg_ll(r, i, 5);
    e->detail = df_pg_strdup(r, i, 6, oom);
    e->map_index = df_pg_ll(r, i, 7);
    return DF_STORE_OK;
}

static int events_body(df_pg_store *s, long long run_id, long long after, int limit,
                       df_event_row **out, size_t *n, const char *W)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_i64(&p, after);
    df_pg_i64(&p, limit);
    int code;
    PGresult *r = df_pg_exec(s, PG_EVENTS_LIST, &p, W, &code);
    if (!r)
        return code;
    int rows_n = PQntuples(r);
    df_event_row *rows = rows_n ? calloc((size_t)rows_n, sizeof *rows) : NULL;
    bool oom = rows_n && !rows;
    size_t len = 0;
    for (int i = 0; !oom && code == DF_STORE_OK && i < rows_n; i++)
        code = event_row(s, r, i, &rows[len++], &oom, W);
    PQclear(r);
    if (code == DF_STORE_OK && oom)
        code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    if (code != DF_STORE_OK) {
        df_event_rows_free(rows, len);
        return code;
    }
    *out = rows;
    *n = len;
    return DF_STORE_OK;
}

/* See store.h. One read snapshot for the run's state and its events. */
int df_pg_run_events(df_store *store, long long run_id, long long after, int limit,
                     df_run_state *state, df_event_row **out, size_t *n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read events";
    int mode;
    int code = df_pg_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = run_state(s, run_id, state, W);
    if (code == DF_STORE_OK)
        code = events_body(s, run_id, after, limit, out, n, W);
    return df_pg_op_end(s, mode, code, W);
}

/* Adds the (state name, count) rows of statement id to counts (a run state's or a task
 * state's). */
static int count_rows(df_pg_store *s, enum df_pg_stmt_id id, bool runs, size_t *counts,
                      const char *W)
{
    int code;
    PGresult *r = df_pg_exec(s, id, NULL, W, &code);
    if (!r)
        return code;
    for (int i = 0; i < PQntuples(r); i++) {
        df_run_state rs;
        df_task_state ts;
        const char *name = PQgetvalue(r, i, 0);
        if (runs && df_run_state_parse(name, &rs) == 0)
            counts[rs] += (size_t)df_pg_ll(r, i, 1);
        else if (!runs && df_task_state_parse(name, &ts) == 0)
            counts[ts] += (size_t)df_pg_ll(r, i, 1);
    }
    PQclear(r);
    return DF_STORE_OK;
}

/* See store.h. */
int df_pg_state_counts(df_store *store, size_t runs[DF_RS__COUNT], size_t tasks[DF_TS__COUNT])
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read state counts";
    int mode;
    int code = df_pg_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = count_rows(s, PG_COUNT_RUNS, true, runs, W);
    if (code == DF_STORE_OK)
        code = count_rows(s, PG_COUNT_TASKS, false, tasks, W);
    return df_pg_op_end(s, mode, code, W);
}
