/* sqlite/attempts: one task instance's attempts read back (the attempt_history view's rows, with
 * the task's state, latest attempt number and result), for `logs` and `status --task`. Read in
 * one snapshot. */
#include "internal.h"

static int64_t col_ms(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* DF_STORE_NOTFOUND saying whether the run or only the task (instance) is missing. */
static int not_found(df_sqlite_store *s, long long run_id, const char *task_id, long long map_index,
                     const char *W)
{
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ATTEMPTS_RUN, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    df_sqlite_done(st);
    if (rc == SQLITE_DONE)
        return df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    if (rc != SQLITE_ROW)
        return df_sqlite_fail(s, rc, W);
    if (map_index != DF_NO_MAP_INDEX)
        return df_store_failf(&s->base, DF_STORE_NOTFOUND,
                              "store: %s: run %lld has no task \"%s[%lld]\"", W, run_id, task_id,
                              map_index);
    return df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: run %lld has no task \"%s\"", W,
                          run_id, task_id);
}

/* Fills t's state, attempt and result from the task instance's row. */
static int read_task(df_sqlite_store *s, long long run_id, const char *task_id, long long map_index,
                     df_task_attempts *t, bool *oom, const char *W)
{
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ATTEMPTS_TASK, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_sqlite_bind_text(st, 2, task_id);
    sqlite3_bind_int64(st, 3, map_index);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(st, 0);
        code =
            df_task_state_parse(state, &t->state) == 0
                ? DF_STORE_OK
                : df_store_failf(&s->base, DF_STORE_ERROR,
                                 "store: %s: task \"%s\" of run %lld has an unknown state \"%s\"",
                                 W, task_id, run_id, state ? state : "(null)");
        t->attempt = (unsigned)sqlite3_column_int64(st, 1);
        t->result_json = df_sqlite_col_strdup(st, 2, oom);
    }
    df_sqlite_done(st);
    if (rc == SQLITE_DONE)
        return not_found(s, run_id, task_id, map_index, W);
    return rc == SQLITE_ROW ? code : df_sqlite_fail(s, rc, W);
}

/* Appends the attempts' rows, oldest first. */
static int read_attempts(df_sqlite_store *s, long long run_id, const char *task_id,
                         long long map_index, df_task_attempts *t, bool *oom, const char *W)
{
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ATTEMPTS_LIST, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_sqlite_bind_text(st, 2, task_id);
    sqlite3_bind_int64(st, 3, map_index);
    size_t cap = 0;
    int rc;
    code = DF_STORE_OK;
    while (code == DF_STORE_OK && !*oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (t->n_attempts == cap &&
            !df_sqlite_grow((void **)&t->attempts, &cap, sizeof *t->attempts)) {
            *oom = true;
            break;
        }
        df_attempt_view *a = &t->attempts[t->n_attempts++];
        memset(a, 0, sizeof *a);
        a->attempt = (unsigned)sqlite3_column_int64(st, 0);
        const char *outcome = (const char *)sqlite3_column_text(st, 1);
        if (df_attempt_outcome_parse(outcome, &a->outcome) != 0)
            code = df_store_failf(&s->base, DF_STORE_ERROR,
                                  "store: %s: attempt %u of task \"%s\" of run %lld has an "
                                  "unknown outcome \"%s\"",
                                  W, a->attempt, task_id, run_id, outcome ? outcome : "(null)");
        a->started_at = col_ms(st, 2);
        a->ended_at = col_ms(st, 3);
        a->error = df_sqlite_col_strdup(st, 4, oom);
        a->log = df_sqlite_col_strdup(st, 5, oom);
        a->output = df_sqlite_col_strdup(st, 6, oom);
    }
    if (code == DF_STORE_OK && !*oom && rc != SQLITE_DONE)
        code = df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    return code;
}

static int task_attempts_body(df_sqlite_store *s, long long run_id, const char *task_id,
                              long long map_index, df_task_attempts **out, const char *W)
{
    df_task_attempts *t = calloc(1, sizeof *t);
    bool oom = !t;
    int code = DF_STORE_OK;
    if (t)
        code = read_task(s, run_id, task_id, map_index, t, &oom, W);
    if (code == DF_STORE_OK && !oom)
        code = read_attempts(s, run_id, task_id, map_index, t, &oom, W);
    if (code == DF_STORE_OK && oom)
        code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    if (code != DF_STORE_OK) {
        df_task_attempts_free(t);
        return code;
    }
    *out = t;
    return DF_STORE_OK;
}

/* See store.h. Read in one snapshot. */
int df_sqlite_task_attempts(df_store *store, long long run_id, const char *task_id,
                            long long map_index, df_task_attempts **out)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read attempts";
    int mode;
    int code = df_sqlite_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = task_attempts_body(s, run_id, task_id, map_index, out, W);
    return df_sqlite_op_end(s, mode, code, W);
}
