/* sqlite/reads: what is read back, as typed records — a run's status and summary as `status`
 * shows them (SPEC §6; store.c makes the JSON), the newest run, the history (the run_history
 * view), and everything resume/retry need about a run, each read in one snapshot. */
#include "internal.h"

/* Column i holding a ms time, 0 for NULL. */
static int64_t col_ms(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* Fills g from columns i..i+4 of st: trigger, logical time, parent run, parent task, error. */
static void col_origin(sqlite3_stmt *st, int i, df_run_origin *g, bool *oom)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    if (!t || df_run_trigger_parse(t, &g->trigger) != 0)
        g->trigger = DF_TRIGGER_MANUAL;
    g->logical_time = col_ms(st, i + 1);
    g->parent_run_id = col_ms(st, i + 2);
    g->parent_task_id = df_sqlite_col_strdup(st, i + 3, oom);
    g->error = df_sqlite_col_strdup(st, i + 4, oom);
}

/* Column i holding a run state's name; DF_STORE_ERROR (recorded) for a name this build does not
 * know. */
static int col_run_state(df_sqlite_store *s, sqlite3_stmt *st, int i, long long run_id,
                         df_run_state *out, const char *W)
{
    const char *state = (const char *)sqlite3_column_text(st, i);
    if (df_run_state_parse(state, out) != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: run %lld has an unknown state \"%s\"", W, run_id,
                              state ? state : "(null)");
    return DF_STORE_OK;
}

/* Column i holding a task state's name; as col_run_state. */
static int col_task_state(df_sqlite_store *s, sqlite3_stmt *st, int i, long long run_id,
                          df_task_state *out, const char *W)
{
    const char *state = (const char *)sqlite3_column_text(st, i);
    if (df_task_state_parse(state, out) != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: a task of run %lld has an unknown state \"%s\"", W,
                              run_id, state ? state : "(null)");
    return DF_STORE_OK;
}

/* The row of one run: the cached statement id bound to run_id and stepped to its row (the caller
 * reads it, then calls df_sqlite_done()). NULL with *code set when there is no such run
 * (DF_STORE_NOTFOUND, "store: WHAT: no run N") or on an error (recorded); the statement is reset
 * then. */
static sqlite3_stmt *run_row(df_sqlite_store *s, enum df_sqlite_stmt_id id, long long run_id,
                             const char *W, int *code)
{
    sqlite3_stmt *st = df_sqlite_stmt(s, id, W, code);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return st;
    *code = rc == SQLITE_DONE
                ? df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id)
                : df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    return NULL;
}

/* ---- status and summary ---- */

/* Reads the view's tasks: the rows of the cached statement id (ST_RUN_STATUS_TASKS or
 * ST_RUN_SUMMARY_TASKS, bound by the caller), in file order. */
static int read_task_views(df_sqlite_store *s, sqlite3_stmt *st, df_run_view *v, const char *W)
{
    size_t cap = 0;
    bool oom = false;
    int rc, code = DF_STORE_OK;
    while (code == DF_STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (v->n_tasks == cap && !df_sqlite_grow((void **)&v->tasks, &cap, sizeof *v->tasks)) {
            oom = true;
            break;
        }
        df_task_view *t = &v->tasks[v->n_tasks++];
        memset(t, 0, sizeof *t);
        t->id = df_sqlite_col_strdup(st, 0, &oom);
        code = col_task_state(s, st, 1, v->run_id, &t->state, W);
        t->attempts = (unsigned)sqlite3_column_int64(st, 2);
        t->started_at = col_ms(st, 3);
        t->ended_at = col_ms(st, 4);
        t->error = df_sqlite_col_strdup(st, 5, &oom);
        t->result_json = df_sqlite_col_strdup(st, 6, &oom);
        t->map_index = sqlite3_column_int64(st, 7);
        if (oom)
            break;
    }
    if (code == DF_STORE_OK)
        code = oom ? df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W)
               : rc == SQLITE_DONE ? DF_STORE_OK
                                   : df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    return code;
}

/* Starts a view from the ST_RUN_STATUS row of run_id: run_id, workflow, state (as the
 * run_history view shows it), started_at, ended_at, and metrics when with_metrics. */
static int read_view_header(df_sqlite_store *s, long long run_id, bool with_metrics,
                            df_run_view **out, const char *W)
{
    int code;
    sqlite3_stmt *st = run_row(s, ST_RUN_STATUS, run_id, W, &code);
    if (!st)
        return code;
    df_run_view *v = calloc(1, sizeof *v);
    bool oom = !v;
    if (v) {
        v->run_id = sqlite3_column_int64(st, 0);
        v->workflow = df_sqlite_col_strdup(st, 1, &oom);
        code = col_run_state(s, st, 2, run_id, &v->state, W);
        v->started_at = col_ms(st, 3);
        v->ended_at = col_ms(st, 4);
        if (with_metrics)
            v->metrics_json = df_sqlite_col_strdup(st, 5, &oom);
        col_origin(st, 6, &v->origin, &oom);
    }
    df_sqlite_done(st);
    if (code == DF_STORE_OK && oom)
        code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    if (code != DF_STORE_OK) {
        df_run_view_free(v);
        return code;
    }
    *out = v;
    return DF_STORE_OK;
}

static int run_status_body(df_sqlite_store *s, long long run_id, df_run_view **out, const char *W)
{
    df_run_view *v = NULL;
    int code = read_view_header(s, run_id, true, &v, W);
    if (code != DF_STORE_OK)
        return code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_RUN_STATUS_TASKS, W, &code);
    if (st) {
        sqlite3_bind_int64(st, 1, run_id);
        code = read_task_views(s, st, v, W);
    }
    if (code != DF_STORE_OK) {
        df_run_view_free(v);
        return code;
    }
    *out = v;
    return DF_STORE_OK;
}

/* See store.h. Read in one snapshot. */
int df_sqlite_run_status(df_store *store, long long run_id, df_run_view **out)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read run status";
    int mode;
    int code = df_sqlite_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = run_status_body(s, run_id, out, W);
    /* A failed read has nothing to undo; only commit (end the snapshot) after success. */
    return df_sqlite_op_end(s, mode, code, W);
}

/* Fills v->counts from ST_RUN_STATE_COUNTS. */
static int read_counts(df_sqlite_store *s, df_run_view *v, const char *W)
{
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_RUN_STATE_COUNTS, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, v->run_id);
    int rc;
    df_task_state state;
    while (code == DF_STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((code = col_task_state(s, st, 0, v->run_id, &state, W)) == DF_STORE_OK)
            v->counts[state] = (size_t)sqlite3_column_int64(st, 1);
    if (code == DF_STORE_OK && rc != SQLITE_DONE)
        code = df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    return code;
}

static int run_summary_body(df_sqlite_store *s, long long run_id, int max_tasks, df_run_view **out,
                            const char *W)
{
    df_run_view *v = NULL;
    int code = read_view_header(s, run_id, false, &v, W);
    if (code != DF_STORE_OK)
        return code;
    code = read_counts(s, v, W);
    sqlite3_stmt *st =
        code == DF_STORE_OK ? df_sqlite_stmt(s, ST_RUN_SUMMARY_TASKS, W, &code) : NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int(st, 2, max_tasks);
        code = read_task_views(s, st, v, W);
    }
    if (code != DF_STORE_OK) {
        df_run_view_free(v);
        return code;
    }
    *out = v;
    return DF_STORE_OK;
}

/* See store.h. Read in one snapshot. */
int df_sqlite_run_summary(df_store *store, long long run_id, int max_tasks, df_run_view **out)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read run summary";
    int mode;
    int code = df_sqlite_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = run_summary_body(s, run_id, max_tasks, out, W);
    return df_sqlite_op_end(s, mode, code, W);
}

/* ---- latest run, history ---- */

/* See store.h. */
int df_sqlite_latest_run(df_store *store, long long *run_id)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read latest run";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_LATEST, W, &code);
    if (!st)
        return code;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *run_id = sqlite3_column_int64(st, 0);
        code = DF_STORE_OK;
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: no runs yet");
    } else {
        code = df_sqlite_fail(s, rc, W);
    }
    df_sqlite_done(st);
    return code;
}

/* See store.h. Rows of the run_history view (state and counts as it shows them), newest first. */
int df_sqlite_history(df_store *store, const df_history_query *q, df_history_row **out, size_t *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read history";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_HISTORY, W, &code);
    if (!st)
        return code;
    df_sqlite_bind_text(st, 1, q->workflow);
    sqlite3_bind_int(st, 2, q->limit);
    df_sqlite_bind_text(st, 3, q->state);
    df_sqlite_bind_ms(st, 4, q->since);
    if (q->before > 0)
        sqlite3_bind_int64(st, 5, q->before);
    else
        sqlite3_bind_null(st, 5);
    df_history_row *rows = NULL;
    size_t len = 0, cap = 0;
    bool oom = false;
    int rc;
    while (code == DF_STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap && !df_sqlite_grow((void **)&rows, &cap, sizeof *rows)) {
            oom = true;
            break;
        }
        df_history_row *h = &rows[len++];
        memset(h, 0, sizeof *h);
        h->run_id = sqlite3_column_int64(st, 0);
        h->workflow = df_sqlite_col_strdup(st, 1, &oom);
        code = col_run_state(s, st, 2, h->run_id, &h->state, W);
        h->started_at = col_ms(st, 3);
        h->ended_at = col_ms(st, 4);
        h->tasks_total = sqlite3_column_int64(st, 5);
        h->tasks_succeeded = sqlite3_column_int64(st, 6);
        h->tasks_failed = sqlite3_column_int64(st, 7);
        col_origin(st, 8, &h->origin, &oom);
        if (oom)
            break;
    }
    if (code == DF_STORE_OK)
        code = oom ? df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W)
               : rc == SQLITE_DONE ? DF_STORE_OK
                                   : df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    if (code != DF_STORE_OK) {
        df_history_rows_free(rows, len);
        return code;
    }
    *out = rows;
    *n = len;
    return DF_STORE_OK;
}

/* ---- load for resume and retry ---- */

/* Fills run from the ST_LOAD_RUN row of st. DF_STORE_ERROR for an unknown stored state. */
static int load_run_row(df_sqlite_store *s, sqlite3_stmt *st, df_stored_run *run, bool *oom,
                        const char *W)
{
    run->run_id = sqlite3_column_int64(st, 0);
    run->workflow = df_sqlite_col_strdup(st, 1, oom);
    int code = col_run_state(s, st, 2, run->run_id, &run->state, W);
    if (code != DF_STORE_OK)
        return code;
    run->dag_json = df_sqlite_col_strdup(st, 3, oom);
    run->path = df_sqlite_col_strdup(st, 4, oom);
    run->dir = df_sqlite_col_strdup(st, 5, oom);
    run->params_json = df_sqlite_col_strdup(st, 6, oom);
    run->plugins_json = df_sqlite_col_strdup(st, 7, oom);
    run->started_at = col_ms(st, 8);
    run->ended_at = col_ms(st, 9);
    if (sqlite3_column_type(st, 10) != SQLITE_NULL) {
        run->has_engine = true;
        run->engine.pid = sqlite3_column_int64(st, 10);
        run->engine.host = df_sqlite_col_strdup(st, 11, oom);
        run->engine.started_at = col_ms(st, 12);
        if (!run->engine.host && !*oom)
            run->engine.host = strdup("");
    }
    run->heartbeat_at = col_ms(st, 13);
    if (run->has_engine)
        run->engine.kind = df_sqlite_col_strdup(st, 14, oom);
    col_origin(st, 15, &run->origin, oom);
    return DF_STORE_OK;
}

/* Fills t from a ST_LOAD_TASKS row. DF_STORE_ERROR for an unknown stored state. */
static int load_task_row(df_sqlite_store *s, sqlite3_stmt *st, long long run_id, df_stored_task *t,
                         bool *oom, const char *W)
{
    t->id = df_sqlite_col_strdup(st, 0, oom);
    t->plugin = df_sqlite_col_strdup(st, 1, oom);
    const char *state = (const char *)sqlite3_column_text(st, 2);
    if (df_task_state_parse(state, &t->state) != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: task \"%s\" of run %lld has an unknown state \"%s\"", W,
                              t->id ? t->id : "?", run_id, state ? state : "(null)");
    t->attempts = (unsigned)sqlite3_column_int64(st, 3);
    t->retry_base = (unsigned)sqlite3_column_int64(st, 4);
    t->next_retry_at = col_ms(st, 5);
    t->result_json = df_sqlite_col_strdup(st, 6, oom);
    t->error = df_sqlite_col_strdup(st, 7, oom);
    t->started_at = col_ms(st, 8);
    t->ended_at = col_ms(st, 9);
    t->open_attempt = (unsigned)sqlite3_column_int64(st, 10);
    t->lost_streak = (unsigned)sqlite3_column_int64(st, 11);
    t->failures = (unsigned)sqlite3_column_int64(st, 12);
    t->map_index = sqlite3_column_int64(st, 13);
    t->charged_streak = (unsigned)sqlite3_column_int64(st, 14);
    t->open_charged = sqlite3_column_int64(st, 15) != 0;
    return DF_STORE_OK;
}

/* Reads the run's tasks (ST_LOAD_TASKS, file order) into run->tasks. */
static int load_tasks(df_sqlite_store *s, df_stored_run *run, bool *oom, const char *W)
{
    int code;
    sqlite3_stmt *st =
        df_sqlite_stmt(s, s->schema < 8 ? ST_LOAD_TASKS_V7 : ST_LOAD_TASKS, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run->run_id);
    size_t cap = 0;
    int rc;
    code = DF_STORE_OK;
    while (code == DF_STORE_OK && !*oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (run->n_tasks == cap &&
            !df_sqlite_grow((void **)&run->tasks, &cap, sizeof *run->tasks)) {
            *oom = true;
            break;
        }
        df_stored_task *t = &run->tasks[run->n_tasks++];
        memset(t, 0, sizeof *t);
        code = load_task_row(s, st, run->run_id, t, oom, W);
    }
    if (code == DF_STORE_OK && !*oom && rc != SQLITE_DONE)
        code = df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    return code;
}

static int load_run_body(df_sqlite_store *s, long long run_id, df_stored_run **out, const char *W)
{
    int code;
    sqlite3_stmt *st = run_row(s, ST_LOAD_RUN, run_id, W, &code);
    if (!st)
        return code;
    df_stored_run *run = calloc(1, sizeof *run);
    bool oom = !run;
    code = run ? load_run_row(s, st, run, &oom, W) : DF_STORE_OK;
    df_sqlite_done(st);
    if (code == DF_STORE_OK && !oom)
        code = load_tasks(s, run, &oom, W);
    if (code == DF_STORE_OK && oom)
        code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    if (code != DF_STORE_OK) {
        df_stored_run_free(run);
        return code;
    }
    *out = run;
    return DF_STORE_OK;
}

/* See store.h. Read in one snapshot. */
int df_sqlite_load_run(df_store *store, long long run_id, df_stored_run **out)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "load run";
    int mode;
    int code = df_sqlite_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = load_run_body(s, run_id, out, W);
    return df_sqlite_op_end(s, mode, code, W);
}
