/* sqlite/schedule: what `serve` keeps in SQLite (SPEC §9) — the schedule_log rows that claim
 * fire times (INSERT OR IGNORE on the primary key workflow + logical time, or an update of a
 * queued row, so a fire time is decided once), the anchor of each workflow (schedule_state), the
 * count of a workflow's unfinished runs and the runs a serve engine left behind. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Steps a one-value SELECT: *v its integer (0 for NULL, *has false then), reset after. */
static int one_int(df_sqlite_store *s, sqlite3_stmt *st, long long *v, bool *has, const char *W)
{
    int rc = sqlite3_step(st);
    int code = DF_STORE_OK;
    *v = 0;
    if (has)
        *has = false;
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
            *v = sqlite3_column_int64(st, 0);
            if (has)
                *has = true;
        }
    } else if (rc != SQLITE_DONE) {
        code = df_sqlite_fail(s, rc, W);
    }
    df_sqlite_done(st);
    return code;
}

int df_sqlite_schedule_anchor(df_store *store, const char *workflow, int64_t now_ms, int64_t *first)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "schedule anchor";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_SCHED_ANCHOR_INSERT, W, &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now_ms);
    if ((code = df_sqlite_run_write(s, st, W)) != DF_STORE_OK)
        return code;
    if (!(st = df_sqlite_stmt(s, ST_SCHED_ANCHOR_GET, W, &code)))
        return code;
    sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
    long long v = 0;
    code = one_int(s, st, &v, NULL, W);
    *first = v;
    return code;
}

int df_sqlite_schedule_last(df_store *store, const char *workflow, int64_t *last, bool *has)
{
    df_sqlite_store *s = df_sqlite_of(store);
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_SCHED_LAST, "schedule last", &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
    long long v = 0;
    code = one_int(s, st, &v, has, "schedule last");
    *last = v;
    return code;
}

int df_sqlite_schedule_claim(df_store *store, const char *workflow, int64_t logical_time,
                             bool from_queued, df_sched_decision decision, long long run_id,
                             int64_t decided_at, bool *won)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "claim fire time";
    int code;
    sqlite3_stmt *st =
        df_sqlite_stmt(s, from_queued ? ST_SCHED_FROM_QUEUED : ST_SCHED_INSERT, W, &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, logical_time);
    sqlite3_bind_text(st, 3, df_sched_decision_name(decision), -1, SQLITE_STATIC);
    if (run_id > 0)
        sqlite3_bind_int64(st, 4, run_id);
    else
        sqlite3_bind_null(st, 4);
    if (!from_queued)
        sqlite3_bind_int64(st, 5, decided_at);
    code = df_sqlite_run_write(s, st, W);
    *won = code == DF_STORE_OK && sqlite3_changes(s->db) == 1;
    return code;
}

int df_sqlite_schedule_set_run(df_store *store, const char *workflow, int64_t logical_time,
                               long long run_id)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "record fire time's run";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_SCHED_SET_RUN, W, &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, logical_time);
    if (run_id > 0)
        sqlite3_bind_int64(st, 3, run_id);
    else
        sqlite3_bind_null(st, 3);
    code = df_sqlite_run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) != 1)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no fire time %lld of %s", W,
                              (long long)logical_time, workflow);
    return code;
}

int df_sqlite_schedule_queued(df_store *store, const char *workflow, size_t max, int64_t **out,
                              size_t *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read queued fire times";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_SCHED_QUEUED, W, &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
    int64_t *v = NULL;
    size_t len = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap && !df_sqlite_grow((void **)&v, &cap, sizeof *v)) {
            rc = SQLITE_NOMEM;
            break;
        }
        v[len++] = sqlite3_column_int64(st, 0);
    }
    code = rc == SQLITE_DONE ? DF_STORE_OK : df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    if (code != DF_STORE_OK) {
        free(v);
        return code;
    }
    *out = v;
    *n = len;
    return DF_STORE_OK;
}

int df_sqlite_active_runs(df_store *store, const char *workflow, long long *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ACTIVE_RUNS, "count active runs", &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, workflow, -1, SQLITE_STATIC);
    return one_int(s, st, n, NULL, "count active runs");
}

int df_sqlite_serve_runs(df_store *store, long long **ids, char ***workflows, size_t *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read serve runs";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_SERVE_RUNS, W, &code);
    if (!st)
        return code;
    return df_sqlite_run_names(s, st, W, ids, workflows, n);
}

/* See internal.h. */
int df_sqlite_run_names(df_sqlite_store *s, sqlite3_stmt *st, const char *W, long long **ids,
                        char ***workflows, size_t *n)
{
    int code;
    long long *id = NULL;
    char **wf = NULL;
    size_t len = 0, cap = 0, cap2 = 0;
    bool oom = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((len == cap && !df_sqlite_grow((void **)&id, &cap, sizeof *id)) ||
            (len == cap2 && !df_sqlite_grow((void **)&wf, &cap2, sizeof *wf))) {
            oom = true;
            break;
        }
        id[len] = sqlite3_column_int64(st, 0);
        wf[len] = df_sqlite_col_strdup(st, 1, &oom);
        len++;
        if (oom)
            break;
    }
    code = oom ? df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W)
           : rc == SQLITE_DONE ? DF_STORE_OK
                               : df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    if (code != DF_STORE_OK) {
        for (size_t i = 0; i < len; i++)
            free(wf[i]);
        free(wf);
        free(id);
        return code;
    }
    *ids = id;
    *workflows = wf;
    *n = len;
    return DF_STORE_OK;
}
