/* sqlite/reads: what is read back — a run's status and summary as `status` shows them (SPEC §6),
 * the newest run, the history (the run_history view), and everything resume/retry need about a
 * run, read in one snapshot. */
#include "internal.h"

/* ---- columns and rows as JSON ---- */

/* Column i as JSON: integers, reals, text; NULL as null. */
static json_t *col_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_NULL:
        return json_null();
    default: {
        json_t *v = json_stringn((const char *)sqlite3_column_text(st, i),
                                 (size_t)sqlite3_column_bytes(st, i));
        return v ? v : json_null();
    }
    }
}

/* Column i holding JSON text, parsed (NULL -> null; text that does not parse stays a string). */
static json_t *col_parsed(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    const char *text = (const char *)sqlite3_column_text(st, i);
    /* JSON_ALLOW_NUL: results may hold "\u0000" (binary output), which jansson refuses by
     * default; the value must come back with the type it was stored with. */
    json_t *v = json_loadb(text, (size_t)sqlite3_column_bytes(st, i),
                           JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return v ? v : col_json(st, i);
}

/* Column i holding a ms time, 0 for NULL. */
static int64_t col_ms(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* The current row as an object keyed by column name. */
static json_t *row_object(sqlite3_stmt *st)
{
    json_t *o = json_object();
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++)
        json_object_set_new(o, sqlite3_column_name(st, i), col_json(st, i));
    return o;
}

/* ---- rows ---------------------------------------------------------------------------------- */

/* Builds the JSON of the current row of a statement (a new reference; NULL when out of memory). */
typedef json_t *(*row_fn)(sqlite3_stmt *st);

/* Steps st (prepared and bound) to its end, appending row(st) to arr for each row, then resets
 * it. Returns DF_STORE_OK, or the step's error (recorded). */
static int append_rows(df_sqlite_store *s, sqlite3_stmt *st, json_t *arr, row_fn row, const char *W)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, row(st));
    int code = rc == SQLITE_DONE ? DF_STORE_OK : df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    return code;
}

/* Hands v (a new reference) to *out when code is DF_STORE_OK, else frees it. Returns code. */
static int hand_over(json_t *v, int code, json_t **out)
{
    if (code == DF_STORE_OK)
        *out = v;
    else
        json_decref(v);
    return code;
}

/* append_rows into a new array: *out receives it (a new reference) on success. */
static int rows_array(df_sqlite_store *s, sqlite3_stmt *st, row_fn row, json_t **out, const char *W)
{
    json_t *arr = json_array();
    return hand_over(arr, append_rows(s, st, arr, row, W), out);
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

/* Sets run["tasks"] to an array of one object per task of the run: the rows of the cached
 * statement id bound to run_id, each built by row. */
static int read_tasks(df_sqlite_store *s, json_t *run, enum df_sqlite_stmt_id id, long long run_id,
                      row_fn row, const char *W)
{
    json_t *tasks = json_array();
    json_object_set_new(run, "tasks", tasks);
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, id, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    return append_rows(s, st, tasks, row, W);
}

/* How one column becomes a value of a row object: its key and conversion (col_json, col_parsed,
 * col_ms). */
typedef struct col_spec {
    const char *key;
    json_t *(*conv)(sqlite3_stmt *st, int i);
} col_spec;

/* The current row as an object: column i becomes cols[i] (n columns). */
static json_t *row_of(sqlite3_stmt *st, const col_spec *cols, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, cols[i].key, cols[i].conv(st, (int)i));
    return o;
}

/* A task of `status` (ST_RUN_STATUS_TASKS): SPEC §6's keys, times as ISO text. */
static json_t *status_task_row(sqlite3_stmt *st)
{
    static const col_spec cols[] = {
        {"id", col_json},         {"state", col_json},    {"attempts", col_json},
        {"started_at", col_json}, {"ended_at", col_json}, {"duration_ms", col_json},
        {"error", col_json},      {"result", col_parsed},
    };
    return row_of(st, cols, sizeof cols / sizeof cols[0]);
}

/* ---- status, summary, history ---- */

/* The run part of a status object from a ST_RUN_STATUS row: run_id, workflow, state (as the
 * run_history view shows it), started_at, ended_at. New object. */
static json_t *status_header(sqlite3_stmt *st)
{
    json_t *o = json_object();
    json_object_set_new(o, "run_id", col_json(st, 0));
    json_object_set_new(o, "workflow", col_json(st, 1));
    json_object_set_new(o, "state", col_json(st, 2));
    json_object_set_new(o, "started_at", col_json(st, 3));
    json_object_set_new(o, "ended_at", col_json(st, 4));
    return o;
}

static int run_status_body(df_sqlite_store *s, long long run_id, json_t **out, const char *W)
{
    int code;
    sqlite3_stmt *st = run_row(s, ST_RUN_STATUS, run_id, W, &code);
    if (!st)
        return code;
    json_t *o = status_header(st);
    json_t *metrics = col_parsed(st, 5);
    df_sqlite_done(st);

    code = read_tasks(s, o, ST_RUN_STATUS_TASKS, run_id, status_task_row, W);
    json_object_set_new(o, "metrics", metrics); /* after "tasks" */
    return hand_over(o, code, out);
}

/* See store.h: SPEC §6's `status --json` object plus "metrics". Read in one snapshot. *out is a
 * new reference. */
int df_sqlite_run_status(df_store *store, long long run_id, json_t **out)
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

static int run_summary_body(df_sqlite_store *s, long long run_id, int max_tasks, json_t **out,
                            const char *W)
{
    int code;
    sqlite3_stmt *st = run_row(s, ST_RUN_STATUS, run_id, W, &code);
    if (!st)
        return code;
    json_t *o = status_header(st);
    df_sqlite_done(st);

    json_t *counts = json_object();
    json_object_set_new(o, "counts", counts);
    if (!(st = df_sqlite_stmt(s, ST_RUN_STATE_COUNTS, W, &code)))
        return hand_over(o, code, out);
    sqlite3_bind_int64(st, 1, run_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_object_set_new(counts, (const char *)sqlite3_column_text(st, 0),
                            json_integer(sqlite3_column_int64(st, 1)));
    code = rc == SQLITE_DONE ? DF_STORE_OK : df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    if (code != DF_STORE_OK)
        return hand_over(o, code, out);

    json_t *tasks = json_array();
    json_object_set_new(o, "tasks", tasks);
    if (!(st = df_sqlite_stmt(s, ST_RUN_SUMMARY_TASKS, W, &code)))
        return hand_over(o, code, out);
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int(st, 2, max_tasks);
    return hand_over(o, append_rows(s, st, tasks, status_task_row, W), out);
}

/* See store.h. Read in one snapshot. *out is a new reference. */
int df_sqlite_run_summary(df_store *store, long long run_id, int max_tasks, json_t **out)
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

/* See store.h. Rows of the run_history view (its column names as keys, times as ISO text),
 * newest first. *out is a new reference. */
int df_sqlite_history(df_store *store, const char *workflow, int limit, json_t **out)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read history";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_HISTORY, W, &code);
    if (!st)
        return code;
    df_sqlite_bind_text(st, 1, workflow);
    sqlite3_bind_int(st, 2, limit);
    return rows_array(s, st, row_object, out, W);
}

/* Fills run from the ST_LOAD_RUN row of st. DF_STORE_ERROR for an unknown stored state. */
static int load_run_row(df_sqlite_store *s, sqlite3_stmt *st, df_stored_run *run, bool *oom,
                        const char *W)
{
    run->run_id = sqlite3_column_int64(st, 0);
    run->workflow = df_sqlite_col_strdup(st, 1, oom);
    const char *state = (const char *)sqlite3_column_text(st, 2);
    if (df_run_state_parse(state, &run->state) != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: run %lld has an unknown state \"%s\"", W, run->run_id,
                              state ? state : "(null)");
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
    return DF_STORE_OK;
}

/* Reads the run's tasks (ST_LOAD_TASKS, file order) into run->tasks. */
static int load_tasks(df_sqlite_store *s, df_stored_run *run, bool *oom, const char *W)
{
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_LOAD_TASKS, W, &code);
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
