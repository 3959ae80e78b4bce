/* pg/reads: what is read back from PostgreSQL, as typed records — a run's status and summary as
 * `status` shows them (store.c makes the JSON), the newest run, the history (the run_history
 * view), and everything resume/retry need about a run, each read in one snapshot (a REPEATABLE
 * READ transaction, or the caller's). Same contract as store/sqlite/reads.c. */
#include "internal.h"

static int oom(df_pg_store *s, const char *W)
{
    return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
}

/* Field (row, col) holding a run state's name; DF_STORE_ERROR for a name this build does not
 * know. */
static int col_run_state(df_pg_store *s, const PGresult *r, int row, int col, long long run_id,
                         df_run_state *out, const char *W)
{
    const char *state = PQgetvalue(r, row, col);
    if (df_run_state_parse(state, out) != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: run %lld has an unknown state \"%s\"", W, run_id, state);
    return DF_STORE_OK;
}

static int col_task_state(df_pg_store *s, const PGresult *r, int row, int col, long long run_id,
                          df_task_state *out, const char *W)
{
    const char *state = PQgetvalue(r, row, col);
    if (df_task_state_parse(state, out) != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: a task of run %lld has an unknown state \"%s\"", W,
                              run_id, state);
    return DF_STORE_OK;
}

/* The rows of statement id for one run ($1 = run_id, $2 = extra when extra >= 0); NULL with
 * *code set on an error. */
static PGresult *run_rows(df_pg_store *s, enum df_pg_stmt_id id, long long run_id, long long extra,
                          const char *W, int *code)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    if (extra >= 0)
        df_pg_i64(&p, extra);
    return df_pg_exec(s, id, &p, W, code);
}

/* The one row of a run (statement id), or NULL with DF_STORE_NOTFOUND "store: WHAT: no run N". */
static PGresult *run_row(df_pg_store *s, enum df_pg_stmt_id id, long long run_id, const char *W,
                         int *code)
{
    PGresult *r = run_rows(s, id, run_id, -1, W, code);
    if (r && PQntuples(r) == 0) {
        PQclear(r);
        *code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
        return NULL;
    }
    return r;
}

/* ---- status and summary ---- */

/* Appends the task rows of r (task_id, state, attempt, started_at, ended_at, error, result). */
static int read_task_views(df_pg_store *s, const PGresult *r, df_run_view *v, const char *W)
{
    int n = PQntuples(r);
    if (n == 0)
        return DF_STORE_OK;
    v->tasks = calloc((size_t)n, sizeof *v->tasks);
    if (!v->tasks)
        return oom(s, W);
    bool no_mem = false;
    for (int i = 0; i < n; i++) {
        df_task_view *t = &v->tasks[v->n_tasks++];
        t->id = df_pg_strdup(r, i, 0, &no_mem);
        int code = col_task_state(s, r, i, 1, v->run_id, &t->state, W);
        if (code != DF_STORE_OK)
            return code;
        t->attempts = (unsigned)df_pg_ll(r, i, 2);
        t->started_at = df_pg_ll(r, i, 3);
        t->ended_at = df_pg_ll(r, i, 4);
        t->error = df_pg_strdup(r, i, 5, &no_mem);
        t->result_json = df_pg_strdup(r, i, 6, &no_mem);
        t->map_index = df_pg_ll(r, i, 7);
    }
    return no_mem ? oom(s, W) : DF_STORE_OK;
}

/* Fills g from columns col..col+4 of row: trigger, logical time, parent run, parent task, error. */
static void col_origin(const PGresult *r, int row, int col, df_run_origin *g, bool *oom)
{
    const char *t = PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
    if (!t || df_run_trigger_parse(t, &g->trigger) != 0)
        g->trigger = DF_TRIGGER_MANUAL;
    g->logical_time = df_pg_ll(r, row, col + 1);
    g->parent_run_id = df_pg_ll(r, row, col + 2);
    g->parent_task_id = df_pg_strdup(r, row, col + 3, oom);
    g->error = df_pg_strdup(r, row, col + 4, oom);
}

/* Starts a view from the PG_RUN_STATUS row of run_id. */
static int read_view_header(df_pg_store *s, long long run_id, bool with_metrics, df_run_view **out,
                            const char *W)
{
    int code;
    PGresult *r = run_row(s, PG_RUN_STATUS, run_id, W, &code);
    if (!r)
        return code;
    df_run_view *v = calloc(1, sizeof *v);
    bool no_mem = !v;
    if (v) {
        v->run_id = df_pg_ll(r, 0, 0);
        v->workflow = df_pg_strdup(r, 0, 1, &no_mem);
        code = col_run_state(s, r, 0, 2, run_id, &v->state, W);
        v->started_at = df_pg_ll(r, 0, 3);
        v->ended_at = df_pg_ll(r, 0, 4);
        if (with_metrics)
            v->metrics_json = df_pg_strdup(r, 0, 5, &no_mem);
        col_origin(r, 0, 6, &v->origin, &no_mem);
    }
    PQclear(r);
    if (code == DF_STORE_OK && no_mem)
        code = oom(s, W);
    if (code != DF_STORE_OK) {
        df_run_view_free(v);
        return code;
    }
    *out = v;
    return DF_STORE_OK;
}

static int run_status_body(df_pg_store *s, long long run_id, df_run_view **out, const char *W)
{
    df_run_view *v = NULL;
    int code = read_view_header(s, run_id, true, &v, W);
    if (code != DF_STORE_OK)
        return code;
    PGresult *r = run_rows(s, PG_RUN_STATUS_TASKS, run_id, -1, W, &code);
    if (r)
        code = read_task_views(s, r, v, W);
    PQclear(r);
    if (code != DF_STORE_OK) {
        df_run_view_free(v);
        return code;
    }
    *out = v;
    return DF_STORE_OK;
}

/* See store.h. */
int df_pg_run_status(df_store *store, long long run_id, df_run_view **out)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read run status";
    int mode;
    int code = df_pg_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = run_status_body(s, run_id, out, W);
    return df_pg_op_end(s, mode, code, W);
}

static int run_summary_body(df_pg_store *s, long long run_id, int max_tasks, df_run_view **out,
                            const char *W)
{
    df_run_view *v = NULL;
    int code = read_view_header(s, run_id, false, &v, W);
    if (code != DF_STORE_OK)
        return code;
    PGresult *r = run_rows(s, PG_RUN_STATE_COUNTS, run_id, -1, W, &code);
    df_task_state state;
    for (int i = 0; r && code == DF_STORE_OK && i < PQntuples(r); i++)
        if ((code = col_task_state(s, r, i, 0, run_id, &state, W)) == DF_STORE_OK)
            v->counts[state] = (size_t)df_pg_ll(r, i, 1);
    PQclear(r);
    if (code == DF_STORE_OK) {
        r = run_rows(s, PG_RUN_SUMMARY_TASKS, run_id, max_tasks, W, &code);
        if (r)
            code = read_task_views(s, r, v, W);
        PQclear(r);
    }
    if (code != DF_STORE_OK) {
        df_run_view_free(v);
        return code;
    }
    *out = v;
    return DF_STORE_OK;
}

/* See store.h. */
int df_pg_run_summary(df_store *store, long long run_id, int max_tasks, df_run_view **out)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read run summary";
    int mode;
    int code = df_pg_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = run_summary_body(s, run_id, max_tasks, out, W);
    return df_pg_op_end(s, mode, code, W);
}

/* ---- latest run, history ---- */

/* See store.h. */
int df_pg_latest_run(df_store *store, long long *run_id)
{
    df_pg_store *s = df_pg_of(store);
    int code;
    PGresult *r = df_pg_exec(s, PG_LATEST, NULL, "read latest run", &code);
    if (!r)
        return code;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        *run_id = df_pg_ll(r, 0, 0);
    else
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: no runs yet");
    PQclear(r);
    return code;
}

/* See store.h. Rows of the run_history view, newest first. */
int df_pg_history(df_store *store, const df_history_query *q, df_history_row **out, size_t *n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read history";
    df_pg_params p = {0};
    df_pg_text(&p, q->workflow);
    df_pg_i64(&p, q->limit);
    df_pg_text(&p, q->state);
    df_pg_ms(&p, q->since);
    df_pg_ms(&p, q->before > 0 ? q->before : 0);
    int code;
    PGresult *r = df_pg_exec(s, PG_HISTORY, &p, W, &code);
    if (!r)
        return code;
    int rows_n = PQntuples(r);
    df_history_row *rows = rows_n ? calloc((size_t)rows_n, sizeof *rows) : NULL;
    bool no_mem = rows_n && !rows;
    size_t len = 0;
    for (int i = 0; !no_mem && code == DF_STORE_OK && i < rows_n; i++) {
        df_history_row *h = &rows[len++];
        h->run_id = df_pg_ll(r, i, 0);
        h->workflow = df_pg_strdup(r, i, 1, &no_mem);
        code = col_run_state(s, r, i, 2, h->run_id, &h->state, W);
        h->started_at = df_pg_ll(r, i, 3);
        h->ended_at = df_pg_ll(r, i, 4);
        h->tasks_total = df_pg_ll(r, i, 5);
        h->tasks_succeeded = df_pg_ll(r, i, 6);
        h->tasks_failed = df_pg_ll(r, i, 7);
        col_origin(r, i, 8, &h->origin, &no_mem);
    }
    PQclear(r);
    if (code == DF_STORE_OK && no_mem)
        code = oom(s, W);
    if (code != DF_STORE_OK) {
        df_history_rows_free(rows, len);
        return code;
    }
    *out = rows;
    *n = len;
    return DF_STORE_OK;
}

/* ---- load for resume and retry ---- */

static int load_run_row(df_pg_store *s, const PGresult *r, df_stored_run *run, bool *no_mem,
                        const char *W)
{
    run->run_id = df_pg_ll(r, 0, 0);
    run->workflow = df_pg_strdup(r, 0, 1, no_mem);
    int code = col_run_state(s, r, 0, 2, run->run_id, &run->state, W);
    if (code != DF_STORE_OK)
        return code;
    run->dag_json = df_pg_strdup(r, 0, 3, no_mem);
    run->path = df_pg_strdup(r, 0, 4, no_mem);
    run->dir = df_pg_strdup(r, 0, 5, no_mem);
    run->params_json = df_pg_strdup(r, 0, 6, no_mem);
    run->plugins_json = df_pg_strdup(r, 0, 7, no_mem);
    run->started_at = df_pg_ll(r, 0, 8);
    run->ended_at = df_pg_ll(r, 0, 9);
    if (!PQgetisnull(r, 0, 10)) {
        run->has_engine = true;
        run->engine.pid = df_pg_ll(r, 0, 10);
        run->engine.host = df_pg_strdup(r, 0, 11, no_mem);
        run->engine.started_at = df_pg_ll(r, 0, 12);
        if (!run->engine.host && !*no_mem && !(run->engine.host = strdup("")))
            *no_mem = true;
    }
    run->heartbeat_at = df_pg_ll(r, 0, 13);
    if (run->has_engine)
        run->engine.kind = df_pg_strdup(r, 0, 14, no_mem);
    col_origin(r, 0, 15, &run->origin, no_mem);
    return DF_STORE_OK;
}

static int load_tasks(df_pg_store *s, df_stored_run *run, bool *no_mem, const char *W)
{
    int code;
    PGresult *r = run_rows(s, PG_LOAD_TASKS, run->run_id, -1, W, &code);
    if (!r)
        return code;
    int n = PQntuples(r);
    run->tasks = n ? calloc((size_t)n, sizeof *run->tasks) : NULL;
    if (n && !run->tasks)
        *no_mem = true;
    for (int i = 0; !*no_mem && code == DF_STORE_OK && i < n; i++) {
        df_stored_task *t = &run->tasks[run->n_tasks++];
        t->id = df_pg_strdup(r, i, 0, no_mem);
        t->plugin = df_pg_strdup(r, i, 1, no_mem);
        const char *state = PQgetvalue(r, i, 2);
        if (df_task_state_parse(state, &t->state) != 0) {
            code = df_store_failf(&s->base, DF_STORE_ERROR,
                                  "store: %s: task \"%s\" of run %lld has an unknown state \"%s\"",
                                  W, PQgetvalue(r, i, 0), run->run_id, state);
            break;
        }
        t->attempts = (unsigned)df_pg_ll(r, i, 3);
        t->retry_base = (unsigned)df_pg_ll(r, i, 4);
        t->next_retry_at = df_pg_ll(r, i, 5);
        t->result_json = df_pg_strdup(r, i, 6, no_mem);
        t->error = df_pg_strdup(r, i, 7, no_mem);
        t->started_at = df_pg_ll(r, i, 8);
        t->ended_at = df_pg_ll(r, i, 9);
        t->open_attempt = (unsigned)df_pg_ll(r, i, 10);
        t->lost_streak = (unsigned)df_pg_ll(r, i, 11);
        t->failures = (unsigned)df_pg_ll(r, i, 12);
        t->map_index = df_pg_ll(r, i, 13);
        t->charged_streak = (unsigned)df_pg_ll(r, i, 14);
        t->open_charged = df_pg_ll(r, i, 15) != 0;
    }
    PQclear(r);
    return code;
}

static int load_run_body(df_pg_store *s, long long run_id, df_stored_run **out, const char *W)
{
    int code;
    PGresult *r = run_row(s, PG_LOAD_RUN, run_id, W, &code);
    if (!r)
        return code;
    df_stored_run *run = calloc(1, sizeof *run);
    bool no_mem = !run;
    code = run ? load_run_row(s, r, run, &no_mem, W) : DF_STORE_OK;
    PQclear(r);
    if (code == DF_STORE_OK && !no_mem)
        code = load_tasks(s, run, &no_mem, W);
    if (code == DF_STORE_OK && no_mem)
        code = oom(s, W);
    if (code != DF_STORE_OK) {
        df_stored_run_free(run);
        return code;
    }
    *out = run;
    return DF_STORE_OK;
}

/* See store.h. */
int df_pg_load_run(df_store *store, long long run_id, df_stored_run **out)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "load run";
    int mode;
    int code = df_pg_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = load_run_body(s, run_id, out, W);
    return df_pg_op_end(s, mode, code, W);
}
