/* pg/safety: the records of SPEC §12 on PostgreSQL — the process groups attempts started, LOST
 * attempts charged to their task's own code, and the periods during which an engine ran a run
 * (as store/sqlite/safety.c). */
#include "internal.h"

/* See store.h. */
int df_pg_attempt_proc_add(df_store *store, long long run_id, const char *task_id,
                           long long map_index, unsigned attempt, long long pgid,
                           int64_t pid_started_at, const char *host, const char *cgroup)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_text(&p, task_id);
    df_pg_i64(&p, attempt);
    df_pg_i64(&p, pgid);
    df_pg_i64(&p, pid_started_at);
    df_pg_text(&p, host);
    df_pg_text(&p, cgroup);
    df_pg_i64(&p, map_index);
    return df_pg_write(df_pg_of(store), PG_PROC_ADD, &p, "record attempt process", NULL);
}

/* See store.h. */
int df_pg_attempt_procs(df_store *store, long long run_id, df_attempt_proc **out, size_t *n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read attempt processes";
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    int code;
    PGresult *r = df_pg_exec(s, PG_PROCS_LIST, &p, W, &code);
    if (!r)
        return code;
    int rows = PQntuples(r);
    df_attempt_proc *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    bool oom = rows && !v;
    size_t len = 0;
    for (int i = 0; !oom && i < rows; i++) {
        df_attempt_proc *a = &v[len++];
        a->task_id = df_pg_strdup(r, i, 0, &oom);
        a->attempt = (unsigned)df_pg_ll(r, i, 1);
        a->pgid = df_pg_ll(r, i, 2);
        a->pid_started_at = df_pg_ll(r, i, 3);
        a->host = df_pg_strdup(r, i, 4, &oom);
        a->cgroup = df_pg_strdup(r, i, 5, &oom);
        a->map_index = df_pg_ll(r, i, 6);
    }
    PQclear(r);
    if (oom) {
        df_attempt_procs_free(v, len);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    }
    *out = v;
    *n = len;
    return DF_STORE_OK;
}

/* See store.h. */
int df_pg_attempt_procs_forget(df_store *store, long long run_id, const char *host)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_text(&p, host);
    return df_pg_write(df_pg_of(store), PG_PROCS_FORGET, &p, "forget attempt processes", NULL);
}

/* See store.h. */
int df_pg_attempt_charge(df_store *store, long long run_id, const char *task_id,
                         long long map_index, unsigned attempt)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "charge attempt";
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_text(&p, task_id);
    df_pg_i64(&p, attempt);
    df_pg_i64(&p, map_index);
    long long changes = 0;
    int code = df_pg_write(s, PG_ATTEMPT_CHARGE, &p, W, &changes);
    if (code == DF_STORE_OK && changes == 0)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND,
                              "store: %s: no attempt %u of task \"%s\" in run %lld", W, attempt,
                              task_id, run_id);
    return code;
}

/* See store.h: the worker's queue row first, else the engine's attempt, in one transaction. */
int df_pg_crash_report(df_store *store, const df_crash_report *r, df_crash_mark *mark)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "report a crash";
    char pid[24];
    snprintf(pid, sizeof pid, "%lld", r->pid);
    int mode;
    int code = df_pg_op_begin(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    long long changes = 0;
    df_pg_params p = {0};
    df_pg_i64(&p, r->run_id);
    df_pg_text(&p, r->task_id);
    df_pg_i64(&p, r->map_index);
    df_pg_i64(&p, r->attempt);
    df_pg_text(&p, pid);
    df_pg_text(&p, r->host);
    code = df_pg_write(s, PG_CRASH_WORK, &p, W, &changes);
    if (code == DF_STORE_OK && changes > 0) {
        *mark = DF_CRASH_MARK_WORK;
    } else if (code == DF_STORE_OK) {
        df_pg_params q = {0};
        df_pg_i64(&q, r->run_id);
        df_pg_text(&q, r->task_id);
        df_pg_i64(&q, r->map_index);
        df_pg_i64(&q, r->attempt);
        df_pg_i64(&q, r->pid);
        df_pg_text(&q, r->host);
        code = df_pg_write(s, PG_CRASH_ATTEMPT, &q, W, &changes);
        if (code == DF_STORE_OK && changes > 0)
            *mark = DF_CRASH_MARK_ATTEMPT;
    }
    code = df_pg_op_end(s, mode, code, W);
    if (code == DF_STORE_OK && *mark == DF_CRASH_MARK_NONE)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND,
                              "store: %s: attempt %u of task \"%s\" in run %lld is neither held by "
                              "worker %s:%lld nor open under that process",
                              W, r->attempt, r->task_id, r->run_id, r->host, r->pid);
    return code;
}

/* Closes the run's open period at `at` (its start when earlier). */
static int period_close(df_pg_store *s, long long run_id, int64_t at, const char *W)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_i64(&p, at);
    return df_pg_write(s, PG_PERIOD_CLOSE, &p, W, NULL);
}

/* See store.h. Two statements, one transaction (or savepoint). */
int df_pg_run_period_start(df_store *store, long long run_id, int64_t at, int64_t close_open_at)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "start running period";
    int mode;
    int code = df_pg_op_begin(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = period_close(s, run_id, close_open_at, W);
    if (code == DF_STORE_OK) {
        df_pg_params p = {0};
        df_pg_i64(&p, run_id);
        df_pg_i64(&p, at);
        code = df_pg_write(s, PG_PERIOD_OPEN, &p, W, NULL);
    }
    return df_pg_op_end(s, mode, code, W);
}

/* See store.h. */
int df_pg_run_period_end(df_store *store, long long run_id, int64_t at)
{
    return period_close(df_pg_of(store), run_id, at, "end running period");
}

/* See store.h (struct df_store_ops). */
int df_pg_run_periods(df_store *store, long long run_id, df_run_period **out, size_t *n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read running periods";
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    int code;
    PGresult *r = df_pg_exec(s, PG_PERIODS_LIST, &p, W, &code);
    if (!r)
        return code;
    int rows = PQntuples(r);
    df_run_period *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    if (rows && !v) {
        PQclear(r);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    }
    for (int i = 0; i < rows; i++) {
        v[i].started_at = df_pg_ll(r, i, 0);
        v[i].ended_at = df_pg_ll(r, i, 1);
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return DF_STORE_OK;
}
