/* pg/attempts: one task instance's attempts read back from PostgreSQL (the attempt_history
 * view's rows, with the task's state, latest attempt number and result), for `logs` and
 * `status --task`, in one snapshot. Same contract as store/sqlite/attempts.c. */
#include "internal.h"

/* DF_STORE_NOTFOUND saying whether the run or only the task is missing. */
static int not_found(df_pg_store *s, long long run_id, const char *task_id, long long map_index,
                     const char *W)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    int code;
    PGresult *r = df_pg_exec(s, PG_ATTEMPTS_RUN, &p, W, &code);
    if (!r)
        return code;
    bool run = PQntuples(r) > 0;
    PQclear(r);
    if (!run)
        return df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    if (map_index != DF_NO_MAP_INDEX)
        return df_store_failf(&s->base, DF_STORE_NOTFOUND,
                              "store: %s: run %lld has no task \"%s[%lld]\"", W, run_id, task_id,
                              map_index);
    return df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: run %lld has no task \"%s\"", W,
                          run_id, task_id);
}

/* Fills t's state, attempt and result from the task instance's row. */
static int read_task(df_pg_store *s, long long run_id, const char *task_id, long long map_index,
                     df_task_attempts *t, bool *no_mem, const char *W)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_text(&p, task_id);
    df_pg_i64(&p, map_index);
    int code;
    PGresult *r = df_pg_exec(s, PG_ATTEMPTS_TASK, &p, W, &code);
    if (!r)
        return code;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return not_found(s, run_id, task_id, map_index, W);
    }
    const char *state = PQgetvalue(r, 0, 0);
    code = df_task_state_parse(state, &t->state) == 0
               ? DF_STORE_OK
               : df_store_failf(&s->base, DF_STORE_ERROR,
                                "store: %s: task \"%s\" of run %lld has an unknown state \"%s\"", W,
                                task_id, run_id, state);
    t->attempt = (unsigned)df_pg_ll(r, 0, 1);
    t->result_json = df_pg_strdup(r, 0, 2, no_mem);
    PQclear(r);
    return code;
}

/* Reads the attempts' rows, oldest first. */
static int read_attempts(df_pg_store *s, long long run_id, const char *task_id, long long map_index,
                         df_task_attempts *t, bool *no_mem, const char *W)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_text(&p, task_id);
    df_pg_i64(&p, map_index);
    int code;
    PGresult *r = df_pg_exec(s, PG_ATTEMPTS_LIST, &p, W, &code);
    if (!r)
        return code;
    int n = PQntuples(r);
    code = DF_STORE_OK;
    if (n > 0 && !(t->attempts = calloc((size_t)n, sizeof *t->attempts)))
        *no_mem = true;
    for (int i = 0; i < n && t->attempts && code == DF_STORE_OK; i++) {
        df_attempt_view *a = &t->attempts[t->n_attempts++];
        a->attempt = (unsigned)df_pg_ll(r, i, 0);
        const char *outcome = PQgetvalue(r, i, 1);
        if (df_attempt_outcome_parse(outcome, &a->outcome) != 0)
            code = df_store_failf(&s->base, DF_STORE_ERROR,
                                  "store: %s: attempt %u of task \"%s\" of run %lld has an "
                                  "unknown outcome \"%s\"",
                                  W, a->attempt, task_id, run_id, outcome);
        a->started_at = df_pg_ll(r, i, 2);
        a->ended_at = df_pg_ll(r, i, 3);
        a->error = df_pg_strdup(r, i, 4, no_mem);
        a->log = df_pg_strdup(r, i, 5, no_mem);
        a->output = df_pg_strdup(r, i, 6, no_mem);
    }
    PQclear(r);
    return code;
}

/* See store.h. */
int df_pg_task_attempts(df_store *store, long long run_id, const char *task_id, long long map_index,
                        df_task_attempts **out)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read attempts";
    int mode;
    int code = df_pg_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    df_task_attempts *t = calloc(1, sizeof *t);
    bool no_mem = !t;
    if (t)
        code = read_task(s, run_id, task_id, map_index, t, &no_mem, W);
    if (code == DF_STORE_OK && !no_mem)
        code = read_attempts(s, run_id, task_id, map_index, t, &no_mem, W);
    if (code == DF_STORE_OK && no_mem)
        code = df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    if (code != DF_STORE_OK) {
        df_task_attempts_free(t);
        t = NULL;
    }
    code = df_pg_op_end(s, mode, code, W);
    if (code == DF_STORE_OK)
        *out = t;
    else
        df_task_attempts_free(t);
    return code;
}
