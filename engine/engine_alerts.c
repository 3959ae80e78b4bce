/* engine_alerts: the engine's side of alerts (SPEC §5) — an alert the run core raised recorded
 * in the store for each sink that wants it, in the open group-commit transaction, and queued in
 * the alert module's outbox (alert.c), which the engine flushes after the commit; alerts a dead
 * engine left pending queued again on resume; each delivery try's outcome recorded. */
#include "engine_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "clock.h"

int df_engine_raise_alert(df_engine *e, long long run_id, const df_workflow *wf, const char *event,
                          const char *task_id, const char *state, const char *error,
                          unsigned attempt)
{
    size_t n = json_array_size(wf->alerts);
    if (n == 0)
        return 0;
    int64_t now = df_now_ms();
    /* The error goes into the JSON and into a command sink's environment: keep it short. */
    char short_error[DF_ALERT_ERROR_MAX + 1];
    if (error)
        error = df_utf8_cut(error, short_error, sizeof short_error);
    json_t *payload =
        df_alert_payload(event, run_id, wf->name, task_id, state, error, attempt, now);
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (!text) {
        df_engine_fail(e, "alerts: out of memory");
        return DF_ESTORE;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const json_t *sink = json_array_get(wf->alerts, i);
        if (!df_alert_sink_wants(sink, event))
            continue;
        if ((rc = df_engine_tx(e)) != 0)
            break;
        char *desc = df_alert_sink_describe(sink);
        long long id = 0;
        int code = df_store_alert_add(e->store, run_id, task_id, event, desc ? desc : "?", (int)i,
                                      text, now, &id);
        if (code != DF_STORE_OK) {
            df_engine_store_failed(e, run_id, code);
            rc = DF_ESTORE;
        } else {
            /* delivered once the transaction that recorded it has committed */
            if (df_alerts_queue(e->alerts, id, sink, wf->dir, text, 0, wf->env,
                                (const char *const *)wf->env_passthrough) != 0) {
                df_engine_fail(e, "alerts: out of memory");
                rc = DF_ESTORE;
            }
        }
        free(desc);
    }
    free(text);
    df_engine_wake(e);
    return rc;
}

int df_engine_redeliver_alert(df_engine *e, const df_workflow *wf, long long alert_id,
                              int sink_index, const char *payload, int tries)
{
    const json_t *sink = json_array_get(wf->alerts, (size_t)sink_index);
    if (!sink)
        return 0;
    if (df_alerts_queue(e->alerts, alert_id, sink, wf->dir, payload, tries, wf->env,
                        (const char *const *)wf->env_passthrough) != 0)
        return DF_ENOMEM;
    df_engine_wake(e);
    return 0;
}

/* Tells the program driving the engine (a notice event) that a try of an alert delivery failed:
 * the store records it, but a user watching the run should not have to query alert_history to
 * learn that their sink is broken. */
static void notice_alert_failure(df_engine *e, df_alert_status status, int tries, const char *error,
                                 const json_t *sink, const char *payload)
{
    json_t *p = json_loads(payload, 0, NULL);
    char *where = df_alert_sink_describe(sink);
    char *msg = NULL;
    int n;
    if (status == DF_ALERT_PENDING)
        n = asprintf(&msg, "alert %s to %s: try %d of %d failed, tried again in %d ms: %s",
                     json_string_value(json_object_get(p, "event")), where ? where : "a sink",
                     tries, DF_ALERT_MAX_TRIES, DF_ALERT_BACKOFF_MS << (tries - 1), error);
    else
        n = asprintf(&msg,
                     "alert %s to %s: not delivered after %d tries (recorded failed in "
                     "alert_history): %s",
                     json_string_value(json_object_get(p, "event")), where ? where : "a sink",
                     tries, error);
    if (n >= 0 && p) {
        df_engine_event ev = {.run_id = (long long)json_integer_value(json_object_get(p, "run_id")),
                              .workflow = json_string_value(json_object_get(p, "workflow")),
                              .notice = msg};
        df_engine_emit(e, &ev);
    }
    if (n >= 0)
        free(msg);
    free(where);
    json_decref(p);
}

void df_engine_alert_outcome(void *ud, long long alert_id, df_alert_status status, int tries,
                             int64_t delivered_at, const char *error, const json_t *sink,
                             const char *payload)
{
    df_engine *e = ud;
    if (df_engine_tx(e) != 0)
        return;
    if (df_store_alert_update(e->store, alert_id, status, tries, delivered_at, error) !=
        DF_STORE_OK)
        df_engine_fail(e, "%s", df_store_error(e->store));
    if (status != DF_ALERT_DELIVERED && error)
        notice_alert_failure(e, status, tries, error, sink, payload);
    df_engine_wake(e);
}
