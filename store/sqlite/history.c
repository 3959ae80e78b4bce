/* sqlite/history: the history's upkeep and live reads on SQLite: `gc` (deleting finished runs
 * with every row of theirs, and measuring the pages that freed), a run's task events after a
 * sequence number (the HTTP API's long poll) and the counts by state behind GET /metrics. These
 * statements run rarely (gc) or are cheap to prepare, so they are prepared per call rather than
 * kept in stmt.c's cache. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

/* The runs gc deletes: finished, ended before ?1 (ms). */
#define GC_RUNS                                                                                    \
    "SELECT run_id FROM runs WHERE state IN ('SUCCESS', 'FAILED', 'INVALID', 'CANCELLED')"         \
    " AND ended_at IS NOT NULL AND ended_at < ?1"

/* Every table holding a run's rows, the runs themselves last (a table added later whose rows
 * refer to a run with ON DELETE CASCADE is emptied with them, uncounted). */
static const char *const gc_tables[] = {"task_event_log", "attempts",       "run_edges", "alerts",
                                        "breaker_log",    "task_instances", "runs"};

/* One integer from a PRAGMA or SELECT without parameters. */
static int query_int(df_sqlite_store *s, const char *sql, long long *out, const char *W)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        }
    }
    int code = rc == SQLITE_OK ? DF_STORE_OK : df_sqlite_fail(s, rc, W);
    sqlite3_finalize(st);
    return code;
}

/* Deletes the rows of the runs gc deletes from one table; adds the count to *rows (and to *runs
 * for the runs table). */
static int gc_table(df_sqlite_store *s, const char *table, int64_t cutoff, df_gc_result *out,
                    const char *W)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE run_id IN (" GC_RUNS ")", table);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, cutoff);
        rc = sqlite3_step(st);
    }
    int code = DF_STORE_OK;
    if (rc == SQLITE_DONE) {
        long long n = sqlite3_changes(s->db);
        out->rows += n;
        if (strcmp(table, "runs") == 0)
            out->runs = n;
    } else {
        code = df_sqlite_fail(s, rc, W);
    }
    sqlite3_finalize(st);
    return code;
}

/* See store.h. Called inside the transaction store.c opened. Bytes: the pages the deletion
 * added to the free list, times the page size. */
int df_sqlite_gc(df_store *store, int64_t cutoff, df_gc_result *out)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "gc";
    long long page_size = 0, free_before = 0, free_after = 0;
    int code = query_int(s, "PRAGMA page_size", &page_size, W);
    if (code == DF_STORE_OK)
        code = query_int(s, "PRAGMA freelist_count", &free_before, W);
    for (size_t i = 0; code == DF_STORE_OK && i < sizeof gc_tables / sizeof *gc_tables; i++)
        code = gc_table(s, gc_tables[i], cutoff, out, W);
    if (code == DF_STORE_OK)
        code = query_int(s, "PRAGMA freelist_count", &free_after, W);
    if (code == DF_STORE_OK)
        out->bytes = free_after > free_before ? (free_after - free_before) * page_size : 0;
    return code;
}

/* The run's state as run_history shows it, into *state. DF_STORE_NOTFOUND for no such run. */
static int run_state(df_sqlite_store *s, long long run_id, df_run_state *state, const char *W)
{
    sqlite3_stmt *st = NULL;
    int rc =
        sqlite3_prepare_v2(s->db, "SELECT state FROM run_history WHERE run_id = ?1", -1, &st, NULL);
    int code = DF_STORE_OK;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, run_id);
        rc = sqlite3_step(st);
    }
    if (rc == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (df_run_state_parse(name, state) != 0)
            code = df_store_failf(&s->base, DF_STORE_ERROR,
                                  "store: %s: run %lld has an unknown state \"%s\"", W, run_id,
                                  name ? name : "(null)");
    } else if (rc == SQLITE_DONE) {
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    } else {
        code = df_sqlite_fail(s, rc, W);
    }
    sqlite3_finalize(st);
    return code;
}

/* Fills one event row from the statement's current row. */
static int event_row(df_sqlite_store *s, sqlite3_stmt *st, df_event_row *r, bool *oom,
                     const char *W)
{
    r->seq = sqlite3_column_int64(st, 0);
    r->task_id = df_sqlite_col_strdup(st, 1, oom);
    const char *from = (const char *)sqlite3_column_text(st, 2);
    const char *to = (const char *)sqlite3_column_text(st, 3);
    r->from = DF_TS__COUNT;
    if ((from && df_task_state_parse(from, &r->from) != 0) || df_task_state_parse(to, &r->to) != 0)
        return df_store_failf(&s->base, DF_STORE_ERROR,
                              "store: %s: event %lld has an unknown state", W, r->seq);
    r->at = sqlite3_column_int64(st, 4);
    r->attempt = (unsigned)sqlite3_column_int64(st, 5);
    r->detail = df_sqlite_col_strdup(st, 6, oom);
    r->map_index = sqlite3_column_int64(st, 7);
    return DF_STORE_OK;
}

/* The events after `after`, into a new array. */
static int events_body(df_sqlite_store *s, long long run_id, long long after, int limit,
                       df_event_row **out, size_t *n, const char *W)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT seq, task_id, from_state, to_state, at, attempt, detail,"
                                " map_index FROM task_event_log WHERE run_id = ?1 AND seq > ?2"
                                " UNION ALL SELECT r.events_seq0 + t.idx, t.task_id, NULL,"
                                " 'PENDING', r.started_at, 0, NULL, -1 FROM runs r"
                                " JOIN task_instances t ON t.run_id = r.run_id"
                                " AND t.map_index = -1 AND t.idx > ?2 - r.events_seq0"
                                " WHERE r.run_id = ?1 AND r.events_seq0 IS NOT NULL"
                                " ORDER BY 1 LIMIT ?3",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return df_sqlite_fail(s, rc, W);
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int(st, 3, limit);
    df_event_row *rows = NULL;
    size_t len = 0, cap = 0;
    bool oom = false;
    int code = DF_STORE_OK;
    while (code == DF_STORE_OK && !oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap && !df_sqlite_grow((void **)&rows, &cap, sizeof *rows)) {
            oom = true;
            break;
        }
        memset(&rows[len], 0, sizeof rows[len]);
        code = event_row(s, st, &rows[len++], &oom, W);
    }
    if (code == DF_STORE_OK)
        code = oom ? df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W)
               : rc == SQLITE_DONE ? DF_STORE_OK
                                   : df_sqlite_fail(s, rc, W);
    sqlite3_finalize(st);
    if (code != DF_STORE_OK) {
        df_event_rows_free(rows, len);
        return code;
    }
    *out = rows;
    *n = len;
    return DF_STORE_OK;
}

/* See store.h. One read snapshot for the run's state and its events. */
int df_sqlite_run_events(df_store *store, long long run_id, long long after, int limit,
                         df_run_state *state, df_event_row **out, size_t *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read events";
    int mode;
    int code = df_sqlite_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = run_state(s, run_id, state, W);
    if (code == DF_STORE_OK)
        code = events_body(s, run_id, after, limit, out, n, W);
    return df_sqlite_op_end(s, mode, code, W);
}

/* Adds the (state name, count) rows of sql to counts, a run state's (runs) or a task state's. */
static int count_rows(df_sqlite_store *s, const char *sql, bool runs, size_t *counts, const char *W)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
            break;
        const char *name = (const char *)sqlite3_column_text(st, 0);
        df_run_state rs;
        df_task_state ts;
        if (runs && df_run_state_parse(name, &rs) == 0)
            counts[rs] += (size_t)sqlite3_column_int64(st, 1);
        else if (!runs && df_task_state_parse(name, &ts) == 0)
            counts[ts] += (size_t)sqlite3_column_int64(st, 1);
    }
    int code = rc == SQLITE_DONE ? DF_STORE_OK : df_sqlite_fail(s, rc, W);
    sqlite3_finalize(st);
    return code;
}

/* See store.h. */
int df_sqlite_state_counts(df_store *store, size_t runs[DF_RS__COUNT], size_t tasks[DF_TS__COUNT])
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read state counts";
    int mode;
    int code = df_sqlite_op_begin_read(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = count_rows(s, "SELECT state, count(*) FROM run_history GROUP BY state", true, runs, W);
    if (code == DF_STORE_OK)
        code = count_rows(s,
                          "SELECT t.state, count(*) FROM task_instances t"
                          " JOIN runs r ON r.run_id = t.run_id WHERE r.state = 'RUNNING'"
                          " GROUP BY t.state",
                          false, tasks, W);
    return df_sqlite_op_end(s, mode, code, W);
}
