/* store: the backend-neutral half of store.h — choosing the backend by what --db names, checking
 * every call's arguments once for all backends, dispatching through the backend's table of
 * operations, and freeing the records the reads return. No SQL here (see store/sqlite/). */
#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "sqlite/backend.h"

/* ---- backends ------------------------------------------------------------------------------- */

/* True when uri names a PostgreSQL database (URI schemes are case-insensitive, RFC 3986). */
static bool is_postgres(const char *uri)
{
    return strncasecmp(uri, "postgresql://", 13) == 0 || strncasecmp(uri, "postgres://", 11) == 0;
}

/* See store.h. The URI is not repeated in the PostgreSQL message: it may hold a password. */
int df_store_open(const char *uri, df_store **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!uri || !*uri) {
        snprintf(err, errlen, "store: no database given");
        return DF_STORE_ERROR;
    }
    if (is_postgres(uri)) {
        snprintf(err, errlen, "store: PostgreSQL support is not built yet; use a SQLite file path");
        return DF_STORE_ERROR;
    }
    return df_sqlite_open(uri, out, err, errlen);
}

/* See store.h. */
bool df_store_exists(const char *uri)
{
    if (!uri || !*uri)
        return false;
    if (is_postgres(uri))
        return true;
    return df_sqlite_exists(uri);
}

/* See store.h. */
void df_store_close(df_store *s)
{
    if (s)
        s->ops->close(s);
}

/* See store.h. */
const char *df_store_error(const df_store *s)
{
    return s ? s->err : "";
}

/* See backend.h. */
int df_store_failf(df_store *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return code;
}

/* The failure of a call whose arguments are not well-formed. */
static int bad_args(df_store *s, const char *what)
{
    return df_store_failf(s, DF_STORE_ERROR, "store: %s: invalid arguments", what);
}

/* ---- group commit --------------------------------------------------------------------------- */

int df_store_begin(df_store *s)
{
    return s->ops->begin(s);
}

int df_store_commit(df_store *s)
{
    return s->ops->commit(s);
}

int df_store_rollback(df_store *s)
{
    return s->ops->rollback(s);
}

/* ---- writes --------------------------------------------------------------------------------- */

/* Checks a run record before anything is written: required fields, every task with an id and a
 * plugin, every depends_on index in range. Returns DF_STORE_OK or DF_STORE_ERROR (recorded). */
static int check_run_record(df_store *s, const df_run_record *run, const char *W)
{
    if (!run->workflow)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: the workflow's name is missing", W);
    if (!run->dag_json)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: the DAG document is missing", W);
    if (run->n_tasks && !run->tasks)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: %zu tasks announced, none given", W,
                              run->n_tasks);
    if (run->n_plugins && !run->plugins)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: %zu plugins announced, none given", W,
                              run->n_plugins);
    if (run->engine && !run->engine->host)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: the engine's host is missing", W);
    for (size_t i = 0; i < run->n_tasks; i++) {
        const df_task_record *t = &run->tasks[i];
        if (!t->id || !t->plugin)
            return df_store_failf(s, DF_STORE_ERROR, "store: %s: task %zu needs an id and a plugin",
                                  W, i);
        if (t->n_depends_on && !t->depends_on)
            return df_store_failf(s, DF_STORE_ERROR,
                                  "store: %s: task \"%s\": depends_on is missing", W, t->id);
        for (size_t j = 0; j < t->n_depends_on; j++)
            if (t->depends_on[j] >= run->n_tasks)
                return df_store_failf(
                    s, DF_STORE_ERROR,
                    "store: %s: task \"%s\": depends_on index %zu is out of range (the "
                    "run has %zu tasks)",
                    W, t->id, t->depends_on[j], run->n_tasks);
    }
    return DF_STORE_OK;
}

/* See store.h. */
int df_store_create_run(df_store *s, const df_run_record *run, long long *run_id)
{
    const char *W = "create run";
    if (!run || !run_id)
        return df_store_failf(s, DF_STORE_ERROR, "store: %s: no run given", W);
    int code = check_run_record(s, run, W);
    return code == DF_STORE_OK ? s->ops->create_run(s, run, run_id) : code;
}

int df_store_transition(df_store *s, const df_transition *t)
{
    if (!t || !t->task_id || (unsigned)t->from >= DF_TS__COUNT || (unsigned)t->to >= DF_TS__COUNT)
        return bad_args(s, "record transition");
    return s->ops->transition(s, t);
}

int df_store_attempt_open(df_store *s, long long run_id, const char *task_id, unsigned attempt,
                          int64_t started_at)
{
    if (!task_id || attempt == 0)
        return bad_args(s, "open attempt");
    return s->ops->attempt_open(s, run_id, task_id, attempt, started_at);
}

int df_store_attempt_close(df_store *s, long long run_id, const char *task_id, unsigned attempt,
                           df_attempt_outcome outcome, int64_t ended_at, const char *error,
                           const char *log)
{
    if (!task_id || outcome == DF_AO_RUNNING || (unsigned)outcome >= DF_AO__COUNT)
        return bad_args(s, "close attempt");
    return s->ops->attempt_close(s, run_id, task_id, attempt, outcome, ended_at, error, log);
}

int df_store_run_set_state(df_store *s, long long run_id, df_run_state state, int64_t ended_at)
{
    if ((unsigned)state >= DF_RS__COUNT)
        return df_store_failf(s, DF_STORE_ERROR, "store: set run state: invalid run state %d",
                              (int)state);
    return s->ops->run_set_state(s, run_id, state, ended_at);
}

/* The failure of a call given no engine, or one without its host. */
static int bad_engine(df_store *s, const char *what)
{
    return df_store_failf(s, DF_STORE_ERROR, "store: %s: the engine or its host is missing", what);
}

int df_store_run_set_engine(df_store *s, long long run_id, const df_engine_id *engine, int64_t at)
{
    if (!engine || !engine->host)
        return bad_engine(s, "set run engine");
    return s->ops->run_set_engine(s, run_id, engine, at);
}

int df_store_run_claim(df_store *s, long long run_id, const df_engine_id *expected,
                       const df_engine_id *engine, int64_t at)
{
    if (!engine || !engine->host)
        return bad_engine(s, "claim run");
    return s->ops->run_claim(s, run_id, expected, engine, at);
}

int df_store_run_heartbeat(df_store *s, long long run_id, int64_t at)
{
    return s->ops->run_heartbeat(s, run_id, at);
}

int df_store_run_set_metrics(df_store *s, long long run_id, const json_t *metrics)
{
    return s->ops->run_set_metrics(s, run_id, metrics);
}

int df_store_breaker_event(df_store *s, long long run_id, const char *task_id, const char *breaker,
                           df_breaker_state from, df_breaker_state to, double failure_rate,
                           int calls, int64_t at)
{
    if (!breaker || (unsigned)from >= DF_BREAKER__COUNT || (unsigned)to >= DF_BREAKER__COUNT)
        return bad_args(s, "record breaker change");
    return s->ops->breaker_event(s, run_id, task_id, breaker, from, to, failure_rate, calls, at);
}

int df_store_alert_add(df_store *s, long long run_id, const char *task_id, const char *event,
                       const char *sink, int sink_index, const char *payload, int64_t created_at,
                       long long *alert_id)
{
    if (!event || !sink || !payload || !alert_id)
        return bad_args(s, "add alert");
    return s->ops->alert_add(s, run_id, task_id, event, sink, sink_index, payload, created_at,
                             alert_id);
}

int df_store_alert_update(df_store *s, long long alert_id, df_alert_status status, int tries,
                          int64_t delivered_at, const char *error)
{
    if ((unsigned)status >= DF_ALERT__COUNT)
        return df_store_failf(s, DF_STORE_ERROR, "store: update alert: invalid status %d",
                              (int)status);
    return s->ops->alert_update(s, alert_id, status, tries, delivered_at, error);
}

/* ---- reads ---------------------------------------------------------------------------------- */

int df_store_alerts_pending(df_store *s, long long run_id, df_pending_alert **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return s->ops->alerts_pending(s, run_id, out, n);
}

/* See store.h. */
void df_pending_alerts_free(df_pending_alert *alerts, size_t n)
{
    for (size_t i = 0; alerts && i < n; i++)
        free(alerts[i].payload);
    free(alerts);
}

int df_store_load_run(df_store *s, long long run_id, df_stored_run **out)
{
    *out = NULL;
    return s->ops->load_run(s, run_id, out);
}

/* See store.h. */
void df_stored_run_free(df_stored_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->n_tasks; i++) {
        df_stored_task *t = &run->tasks[i];
        free(t->id);
        free(t->plugin);
        free(t->result_json);
        free(t->error);
    }
    free(run->tasks);
    free(run->workflow);
    free(run->dag_json);
    free(run->path);
    free(run->dir);
    free(run->params_json);
    free(run->plugins_json);
    free((char *)run->engine.host);
    free(run);
}

int df_store_run_status(df_store *s, long long run_id, json_t **out)
{
    *out = NULL;
    return s->ops->run_status(s, run_id, out);
}

int df_store_run_summary(df_store *s, long long run_id, int max_tasks, json_t **out)
{
    *out = NULL;
    return s->ops->run_summary(s, run_id, max_tasks, out);
}

int df_store_latest_run(df_store *s, long long *run_id)
{
    return s->ops->latest_run(s, run_id);
}

int df_store_history(df_store *s, const char *workflow, int limit, json_t **out)
{
    *out = NULL;
    return s->ops->history(s, workflow, limit > 0 ? limit : 20, out);
}
