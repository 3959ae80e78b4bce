/* sqlite/cancel: cancel requests on runs (SPEC §10) in SQLite, and the child run of a parent's
 * `workflow` task — recorded by `dagflow cancel` and
 * df_engine_cancel on a run not finished, looked for by the engines that own runs (the RUNNING
 * runs with a request, through a partial index), read by `resume`, cleared by `retry`. Same
 * contract and rows as store/pg/cancel.c. A file older than schema version 7 that could not be
 * upgraded yet (read-only, or an older engine alive on it) has no place for a request: a request
 * is refused with the reason, none is ever found, clearing does nothing. */
#include "internal.h"

#include "../../engine/model.h"

/* The schema version that has the cancel request columns (007_cancel_request.sql). */
#define CANCEL_SCHEMA 7

/* The run's stored state into *state. DF_STORE_NOTFOUND for an unknown run. */
static int run_state(df_sqlite_store *s, long long run_id, df_run_state *state, const char *W)
{
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_CANCEL_STATE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (df_run_state_parse(name, state) != 0)
            code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: run %lld has state \"%s\"",
                                  W, run_id, name ? name : "");
    } else if (rc == SQLITE_DONE) {
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    } else {
        code = df_sqlite_fail(s, rc, W);
    }
    df_sqlite_done(st);
    return code;
}

/* See store.h. The update and the read of the state are one transaction (or a savepoint). */
int df_sqlite_cancel_request(df_store *store, long long run_id, const char *reason,
                             int64_t requested_at, df_run_state *state)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "cancel request";
    if (s->schema < CANCEL_SCHEMA)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: %s has schema version %d, which has no place for cancel "
                              "requests: it is upgraded to version %d by the next dagflow that "
                              "opens it with write access while no engine is alive on it",
                              W, s->path ? s->path : "the database", s->schema, CANCEL_SCHEMA);
    int mode, code = df_sqlite_op_begin(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_CANCEL_REQUEST, W, &code);
    if (st) {
        df_sqlite_bind_text(st, 1, reason);
        sqlite3_bind_int64(st, 2, requested_at);
        sqlite3_bind_int64(st, 3, run_id);
        code = df_sqlite_run_write(s, st, W);
    }
    bool changed = code == DF_STORE_OK && sqlite3_changes(s->db) > 0;
    if (code == DF_STORE_OK)
        code = run_state(s, run_id, state, W);
    if (code == DF_STORE_OK && !changed)
        code = df_store_failf(&s->base, DF_STORE_CONFLICT, "store: %s: run %lld has finished (%s)",
                              W, run_id, df_run_state_name(*state));
    /* A refused request wrote nothing: keep the operation's own transaction clean. */
    int end = df_sqlite_op_end(s, mode, code == DF_STORE_CONFLICT ? DF_STORE_OK : code, W);
    return end == DF_STORE_OK ? code : end;
}

/* See store.h. */
int df_sqlite_cancel_clear(df_store *store, long long run_id)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "clear cancel request";
    if (s->schema < CANCEL_SCHEMA)
        return DF_STORE_OK; /* nothing was ever requested */
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_CANCEL_CLEAR, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    code = df_sqlite_run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) == 0)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    return code;
}

/* See store.h. */
int df_sqlite_cancel_requests(df_store *store, long long run_id, df_cancel_request **out, size_t *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read cancel requests";
    if (s->schema < CANCEL_SCHEMA)
        return DF_STORE_OK; /* none */
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, run_id > 0 ? ST_CANCEL_ONE : ST_CANCEL_LIST, W, &code);
    if (!st)
        return code;
    if (run_id > 0)
        sqlite3_bind_int64(st, 1, run_id);
    df_cancel_request *v = NULL;
    size_t cap = 0, k = 0;
    bool oom = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap && !df_sqlite_grow((void **)&v, &cap, sizeof *v)) {
            oom = true;
            break;
        }
        v[k].run_id = sqlite3_column_int64(st, 0);
        v[k].requested_at = sqlite3_column_int64(st, 1);
        v[k].reason = df_sqlite_col_strdup(st, 2, &oom);
        k++;
    }
    if (oom)
        code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    else if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        code = df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    if (code != DF_STORE_OK) {
        df_cancel_requests_free(v, k);
        return code;
    }
    *out = v;
    *n = k;
    return DF_STORE_OK;
}

/* See store.h. */
int df_sqlite_child_run(df_store *store, long long parent_run_id, const char *parent_task_id,
                        long long *run_id, df_run_state *state)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read child run";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_CHILD_RUN, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, parent_run_id);
    sqlite3_bind_text(st, 2, parent_task_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *run_id = sqlite3_column_int64(st, 0);
        if (df_run_state_parse((const char *)sqlite3_column_text(st, 1), state) != 0)
            code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: run %lld: unknown state", W,
                                  *run_id);
    } else if (rc == SQLITE_DONE) {
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND,
                              "store: %s: run %lld task \"%s\" has "
                              "no child run",
                              W, parent_run_id, parent_task_id);
    } else {
        code = df_sqlite_fail(s, rc, W);
    }
    df_sqlite_done(st);
    return code;
}
