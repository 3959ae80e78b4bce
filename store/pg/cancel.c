/* pg/cancel: cancel requests on runs (SPEC §10) in PostgreSQL, and the child run of a parent's
 * `workflow` task — recorded by `dagflow cancel` and
 * df_engine_cancel on a run not finished, looked for by the engines that own runs (the RUNNING
 * runs with a request, through a partial index), read by `resume`, cleared by `retry`. Same
 * contract and rows as store/sqlite/cancel.c. */
#include "internal.h"

#include "../../engine/model.h"

/* The run's stored state into *state. DF_STORE_NOTFOUND for an unknown run. */
static int run_state(df_pg_store *s, long long run_id, df_run_state *state, const char *W)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    int code;
    PGresult *r = df_pg_exec(s, PG_CANCEL_STATE, &p, W, &code);
    if (!r)
        return code;
    if (PQntuples(r) == 0)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    else if (df_run_state_parse(PQgetvalue(r, 0, 0), state) != 0)
        code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: run %lld has state \"%s\"", W,
                              run_id, PQgetvalue(r, 0, 0));
    PQclear(r);
    return code;
}

/* See store.h. The update and the read of the state are one transaction (or a savepoint). */
int df_pg_cancel_request(df_store *store, long long run_id, const char *reason,
                         int64_t requested_at, df_run_state *state)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "cancel request";
    int mode, code = df_pg_op_begin(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    df_pg_params p = {0};
    df_pg_text(&p, reason);
    df_pg_i64(&p, (long long)requested_at);
    df_pg_i64(&p, run_id);
    long long changed = 0;
    code = df_pg_write(s, PG_CANCEL_REQUEST, &p, W, &changed);
    if (code == DF_STORE_OK)
        code = run_state(s, run_id, state, W);
    if (code == DF_STORE_OK && changed == 0)
        code = df_store_failf(&s->base, DF_STORE_CONFLICT, "store: %s: run %lld has finished (%s)",
                              W, run_id, df_run_state_name(*state));
    int end = df_pg_op_end(s, mode, code == DF_STORE_CONFLICT ? DF_STORE_OK : code, W);
    return end == DF_STORE_OK ? code : end;
}

/* See store.h. */
int df_pg_cancel_clear(df_store *store, long long run_id)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "clear cancel request";
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    long long changed = 0;
    int code = df_pg_write(s, PG_CANCEL_CLEAR, &p, W, &changed);
    if (code == DF_STORE_OK && changed == 0)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    return code;
}

/* See store.h. */
int df_pg_cancel_requests(df_store *store, long long run_id, df_cancel_request **out, size_t *n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read cancel requests";
    df_pg_params p = {0};
    if (run_id > 0)
        df_pg_i64(&p, run_id);
    int code;
    PGresult *r = df_pg_exec(s, run_id > 0 ? PG_CANCEL_ONE : PG_CANCEL_LIST, &p, W, &code);
    if (!r)
        return code;
    int rows = PQntuples(r);
    df_cancel_request *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    bool oom = rows && !v;
    for (int i = 0; v && i < rows; i++) {
        v[i].run_id = df_pg_ll(r, i, 0);
        v[i].requested_at = df_pg_ll(r, i, 1);
        v[i].reason = df_pg_strdup(r, i, 2, &oom);
    }
    PQclear(r);
    if (oom) {
        df_cancel_requests_free(v, rows);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    }
    *out = v;
    *n = (size_t)rows;
    return DF_STORE_OK;
}

/* See store.h. */
int df_pg_child_run(df_store *store, long long parent_run_id, const char *parent_task_id,
                    long long *run_id, df_run_state *state)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read child run";
    df_pg_params p = {0};
    df_pg_i64(&p, parent_run_id);
    df_pg_text(&p, parent_task_id);
    int code;
    PGresult *r = df_pg_exec(s, PG_CHILD_RUN, &p, W, &code);
    if (!r)
        return code;
    if (PQntuples(r) == 0) {
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND,
                              "store: %s: run %lld task \"%s\" has no child run", W, parent_run_id,
                              parent_task_id);
    } else {
        *run_id = df_pg_ll(r, 0, 0);
        if (df_run_state_parse(PQgetvalue(r, 0, 1), state) != 0)
            code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: run %lld: unknown state", W,
                                  *run_id);
    }
    PQclear(r);
    return code;
}
