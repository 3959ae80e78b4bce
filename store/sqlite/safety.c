/* sqlite/safety: the records of SPEC §12 — the process groups attempts started (so that a later
 * engine can confirm them gone before an attempt runs again), LOST attempts charged to their
 * task's own code, and the periods during which an engine ran a run (durations count those). On a
 * file older than schema version 8 used as it is (its upgrade had to wait), none of them is kept:
 * writes do nothing, reads find nothing. */
#include "internal.h"

/* See store.h. */
int df_sqlite_attempt_proc_add(df_store *store, long long run_id, const char *task_id,
                               long long map_index, unsigned attempt, long long pgid,
                               int64_t pid_started_at, const char *host, const char *cgroup)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "record attempt process";
    if (s->schema < 8)
        return DF_STORE_OK;
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_PROC_ADD, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_sqlite_bind_text(st, 2, task_id);
    sqlite3_bind_int64(st, 3, attempt);
    sqlite3_bind_int64(st, 4, pgid);
    sqlite3_bind_int64(st, 5, pid_started_at);
    df_sqlite_bind_text(st, 6, host);
    df_sqlite_bind_text(st, 7, cgroup);
    sqlite3_bind_int64(st, 8, map_index);
    return df_sqlite_run_write(s, st, W);
}

/* See store.h. One statement: one snapshot. */
int df_sqlite_attempt_procs(df_store *store, long long run_id, df_attempt_proc **out, size_t *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read attempt processes";
    if (s->schema < 8)
        return DF_STORE_OK;
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_PROCS_LIST, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_attempt_proc *v = NULL;
    size_t len = 0, cap = 0;
    bool oom = false;
    int rc;
    while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap && !df_sqlite_grow((void **)&v, &cap, sizeof *v)) {
            oom = true;
            break;
        }
        df_attempt_proc *p = &v[len++];
        memset(p, 0, sizeof *p);
        p->task_id = df_sqlite_col_strdup(st, 0, &oom);
        p->attempt = (unsigned)sqlite3_column_int64(st, 1);
        p->pgid = sqlite3_column_int64(st, 2);
        p->pid_started_at = sqlite3_column_int64(st, 3);
        p->host = df_sqlite_col_strdup(st, 4, &oom);
        p->cgroup = df_sqlite_col_strdup(st, 5, &oom);
        p->map_index = sqlite3_column_int64(st, 6);
    }
    code = oom ? df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W)
           : rc != SQLITE_DONE ? df_sqlite_fail(s, rc, W)
                               : DF_STORE_OK;
    df_sqlite_done(st);
    if (code != DF_STORE_OK) {
        df_attempt_procs_free(v, len);
        return code;
    }
    *out = v;
    *n = len;
    return DF_STORE_OK;
}

/* See store.h. */
int df_sqlite_attempt_procs_forget(df_store *store, long long run_id, const char *host)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "forget attempt processes";
    if (s->schema < 8)
        return DF_STORE_OK;
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_PROCS_FORGET, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_sqlite_bind_text(st, 2, host);
    return df_sqlite_run_write(s, st, W);
}

/* See store.h. */
int df_sqlite_attempt_charge(df_store *store, long long run_id, const char *task_id,
                             long long map_index, unsigned attempt)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "charge attempt";
    if (s->schema < 8)
        return DF_STORE_OK;
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ATTEMPT_CHARGE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_sqlite_bind_text(st, 2, task_id);
    sqlite3_bind_int64(st, 3, attempt);
    sqlite3_bind_int64(st, 4, map_index);
    code = df_sqlite_run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) == 0)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND,
                              "store: %s: no attempt %u of task \"%s\" in run %lld", W, attempt,
                              task_id, run_id);
    return code;
}

/* See store.h: SQLite has no worker queue, so only the engine's own attempt. */
int df_sqlite_crash_report(df_store *store, const df_crash_report *r, df_crash_mark *mark)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "report a crash";
    int code = DF_STORE_OK;
    sqlite3_stmt *st = s->schema < 8 ? NULL : df_sqlite_stmt(s, ST_CRASH_ATTEMPT, W, &code);
    if (s->schema >= 8 && !st)
        return code;
    if (st) {
        sqlite3_bind_int64(st, 1, r->run_id);
        df_sqlite_bind_text(st, 2, r->task_id);
        sqlite3_bind_int64(st, 3, r->map_index);
        sqlite3_bind_int64(st, 4, r->attempt);
        sqlite3_bind_int64(st, 5, r->pid);
        df_sqlite_bind_text(st, 6, r->host);
        code = df_sqlite_run_write(s, st, W);
        if (code == DF_STORE_OK && sqlite3_changes(s->db) > 0)
            *mark = DF_CRASH_MARK_ATTEMPT;
    }
    if (code == DF_STORE_OK && *mark == DF_CRASH_MARK_NONE)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND,
                              "store: %s: attempt %u of task \"%s\" in run %lld is not open under "
                              "process %lld on %s",
                              W, r->attempt, r->task_id, r->run_id, r->pid, r->host);
    return code;
}

/* Closes the run's open period at `at` (its start when earlier). */
static int period_close(df_sqlite_store *s, long long run_id, int64_t at, const char *W)
{
    if (s->schema < 8)
        return DF_STORE_OK;
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_PERIOD_CLOSE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, at);
    return df_sqlite_run_write(s, st, W);
}

/* See store.h. Two statements, one transaction (or savepoint). */
int df_sqlite_run_period_start(df_store *store, long long run_id, int64_t at, int64_t close_open_at)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "start running period";
    if (s->schema < 8)
        return DF_STORE_OK;
    int mode;
    int code = df_sqlite_op_begin(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = period_close(s, run_id, close_open_at, W);
    sqlite3_stmt *st = code == DF_STORE_OK ? df_sqlite_stmt(s, ST_PERIOD_OPEN, W, &code) : NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, at);
        code = df_sqlite_run_write(s, st, W);
    }
    return df_sqlite_op_end(s, mode, code, W);
}

/* See store.h. */
int df_sqlite_run_period_end(df_store *store, long long run_id, int64_t at)
{
    return period_close(df_sqlite_of(store), run_id, at, "end running period");
}

/* See store.h (struct df_store_ops). */
int df_sqlite_run_periods(df_store *store, long long run_id, df_run_period **out, size_t *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read running periods";
    if (s->schema < 8)
        return DF_STORE_OK;
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_PERIODS_LIST, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_run_period *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    bool oom = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap && !df_sqlite_grow((void **)&v, &cap, sizeof *v)) {
            oom = true;
            break;
        }
        v[len].started_at = sqlite3_column_int64(st, 0);
        v[len].ended_at =
            sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 1);
        len++;
    }
    code = oom ? df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W)
           : rc != SQLITE_DONE ? df_sqlite_fail(s, rc, W)
                               : DF_STORE_OK;
    df_sqlite_done(st);
    if (code != DF_STORE_OK) {
        free(v);
        return code;
    }
    *out = v;
    *n = len;
    return DF_STORE_OK;
}
