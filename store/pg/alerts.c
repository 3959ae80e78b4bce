/* pg/alerts: circuit breaker state changes (breaker_log) and the alert outbox (alerts) in
 * PostgreSQL: adding an alert before its delivery, recording each try, and the alerts still
 * pending for resume. Same contract as store/sqlite/alerts.c. */
#include "internal.h"

/* See store.h. */
int df_pg_breaker_event(df_store *store, long long run_id, const char *task_id, const char *breaker,
                        df_breaker_state from, df_breaker_state to, double failure_rate, int calls,
                        int64_t at)
{
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_text(&p, task_id);
    df_pg_text(&p, breaker);
    df_pg_text(&p, df_breaker_state_name(from));
    df_pg_text(&p, df_breaker_state_name(to));
    /* %.17g: the double read back is the one written. */
    snprintf(p.buf[p.n], sizeof p.buf[p.n], "%.17g", failure_rate);
    p.v[p.n] = p.buf[p.n];
    p.n++;
    df_pg_i64(&p, calls);
    df_pg_i64(&p, at);
    return df_pg_write(df_pg_of(store), PG_BREAKER_EVENT, &p, "record breaker change", NULL);
}

/* See store.h. DF_STORE_NOTFOUND for an unknown run (nothing inserted: no error aborts the
 * caller's transaction). */
int df_pg_alert_add(df_store *store, long long run_id, const char *task_id, const char *event,
                    const char *sink, int sink_index, const char *payload, int64_t created_at,
                    long long *alert_id)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "add alert";
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_text(&p, task_id);
    df_pg_text(&p, event);
    df_pg_text(&p, sink);
    df_pg_i64(&p, sink_index);
    df_pg_text(&p, payload);
    df_pg_i64(&p, created_at);
    int code;
    PGresult *r = df_pg_exec(s, PG_ALERT_ADD, &p, W, &code);
    if (!r)
        return code;
    if (PQntuples(r) == 1)
        *alert_id = df_pg_ll(r, 0, 0);
    else
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, run_id);
    PQclear(r);
    return code;
}

/* See store.h. */
int df_pg_alert_update(df_store *store, long long alert_id, df_alert_status status, int tries,
                       int64_t delivered_at, const char *error)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "update alert";
    df_pg_params p = {0};
    df_pg_text(&p, df_alert_status_name(status));
    df_pg_i64(&p, tries);
    df_pg_ms(&p, delivered_at);
    df_pg_text(&p, error);
    df_pg_i64(&p, alert_id);
    long long n = 0;
    int code = df_pg_write(s, PG_ALERT_UPDATE, &p, W, &n);
    if (code == DF_STORE_OK && n == 0)
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no alert %lld", W, alert_id);
    return code;
}

/* See store.h. Oldest first. */
int df_pg_alerts_pending(df_store *store, long long run_id, df_pending_alert **out, size_t *n)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "read pending alerts";
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    int code;
    PGresult *r = df_pg_exec(s, PG_ALERTS_PENDING, &p, W, &code);
    if (!r)
        return code;
    int rows = PQntuples(r);
    df_pending_alert *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
    bool no_mem = rows && !v;
    size_t len = 0;
    for (int i = 0; !no_mem && i < rows; i++) {
        df_pending_alert *a = &v[len++];
        a->alert_id = df_pg_ll(r, i, 0);
        a->sink_index = (int)df_pg_ll(r, i, 1);
        a->payload = df_pg_strdup(r, i, 2, &no_mem);
        a->tries = (int)df_pg_ll(r, i, 3);
    }
    PQclear(r);
    if (no_mem) {
        df_pending_alerts_free(v, len);
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
    }
    *out = v;
    *n = len;
    return DF_STORE_OK;
}
