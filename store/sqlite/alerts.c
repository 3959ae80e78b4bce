/* sqlite/alerts: circuit breaker state changes (breaker_log) and the alert outbox (alerts): adding
 * an alert before its delivery, recording each try, and the alerts still pending for resume. */
#include "internal.h"

/* ---- breakers ---- */

/* See store.h. */
int df_sqlite_breaker_event(df_store *store, long long run_id, const char *task_id,
                            const char *breaker, df_breaker_state from, df_breaker_state to,
                            double failure_rate, int calls, int64_t at)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "record breaker change";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_BREAKER_EVENT, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_sqlite_bind_text(st, 2, task_id);
    sqlite3_bind_text(st, 3, breaker, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, df_breaker_state_name(from), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, df_breaker_state_name(to), -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 6, failure_rate);
    sqlite3_bind_int(st, 7, calls);
    sqlite3_bind_int64(st, 8, at);
    return df_sqlite_run_write(s, st, W);
}

/* ---- alerts ---- */

/* See store.h. DF_STORE_NOTFOUND for an unknown run. created_at in ms. */
int df_sqlite_alert_add(df_store *store, long long run_id, const char *task_id, const char *event,
                        const char *sink, int sink_index, const char *payload, int64_t created_at,
                        long long *alert_id)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "add alert";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ALERT_ADD, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_sqlite_bind_text(st, 2, task_id);
    sqlite3_bind_text(st, 3, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, sink, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, sink_index);
    sqlite3_bind_text(st, 6, payload, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, created_at);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        code = DF_STORE_OK;
        *alert_id = sqlite3_last_insert_rowid(s->db);
    } else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    } else {
        code = df_sqlite_fail(s, rc, W);
    }
    df_sqlite_done(st);
    return code;
}

/* See store.h. delivered_at in ms (0 = NULL). */
int df_sqlite_alert_update(df_store *store, long long alert_id, df_alert_status status, int tries,
                           int64_t delivered_at, const char *error)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "update alert";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ALERT_UPDATE, W, &code);
    if (!st)
        return code;
    sqlite3_bind_text(st, 1, df_alert_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, tries);
    df_sqlite_bind_ms(st, 3, delivered_at);
    df_sqlite_bind_text(st, 4, error);
    sqlite3_bind_int64(st, 5, alert_id);
    code = df_sqlite_run_write(s, st, W);
    if (code == DF_STORE_OK && sqlite3_changes(s->db) == 0)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no alert %lld", W, alert_id);
    return code;
}

/* See store.h. Oldest first. */
int df_sqlite_alerts_pending(df_store *store, long long run_id, df_pending_alert **out, size_t *n)
{
    df_sqlite_store *s = df_sqlite_of(store);
    const char *W = "read pending alerts";
    int code;
    sqlite3_stmt *st = df_sqlite_stmt(s, ST_ALERTS_PENDING, W, &code);
    if (!st)
        return code;
    sqlite3_bind_int64(st, 1, run_id);
    df_pending_alert *v = NULL;
    size_t len = 0, cap = 0;
    bool oom = false;
    int rc;
    while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap && !df_sqlite_grow((void **)&v, &cap, sizeof *v)) {
            oom = true;
            break;
        }
        df_pending_alert *a = &v[len++];
        a->alert_id = sqlite3_column_int64(st, 0);
        a->sink_index = sqlite3_column_int(st, 1);
        a->payload = df_sqlite_col_strdup(st, 2, &oom);
        a->tries = sqlite3_column_int(st, 3);
    }
    code = oom ? df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W)
           : rc == SQLITE_DONE ? DF_STORE_OK
                               : df_sqlite_fail(s, rc, W);
    df_sqlite_done(st);
    if (code != DF_STORE_OK) {
        df_pending_alerts_free(v, len);
        return code;
    }
    *out = v;
    *n = len;
    return DF_STORE_OK;
}
