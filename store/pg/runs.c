/* pg/runs: the writes of a run's life in PostgreSQL — creating a run with its task instances
 * (their creation events synthesised by the views); the run's state, owner (claimed as a
 * compare-and-set), heartbeat and pool metrics; compare-and-set transitions of task instances
 * with their events; attempts. Same contract and the same rows as store/sqlite/runs.c. */
#include "internal.h"

/* JSON text of v, compact, in its key order (new string, free()); NULL on failure. */
static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static int oom(df_pg_store *s, const char *W)
{
    return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: out of memory", W);
}

/* ---- runs ---- */

/* The plugin versions as the JSON object text stored in runs.plugins (as SQLite's). */
static char *plugins_text(const df_run_record *run)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < run->n_plugins; i++) {
        const df_plugin_version *p = &run->plugins[i];
        if (p->name)
            json_object_set_new(o, p->name, json_string(p->version ? p->version : ""));
    }
    char *text = o ? dump(o) : NULL;
    json_decref(o);
    return text;
}

static int insert_run_row(df_pg_store *s, const df_run_record *run, long long *id, const char *W)
{
    char *plugins = plugins_text(run);
    if (!plugins)
        return oom(s, W);
    df_pg_params p = {0};
    df_pg_text(&p, run->workflow);
    df_pg_i64(&p, run->started_at);
    df_pg_text(&p, run->dag_json);
    df_pg_text(&p, run->path);
    df_pg_text(&p, run->dir);
    df_pg_text(&p, run->params_json ? run->params_json : "{}");
    df_pg_text(&p, plugins);
    if (run->engine) {
        df_pg_i64(&p, run->engine->pid);
        df_pg_text(&p, run->engine->host);
        df_pg_i64(&p, run->engine->started_at);
        df_pg_i64(&p, run->started_at);
    } else {
        for (int i = 0; i < 4; i++)
            df_pg_text(&p, NULL);
    }
    df_pg_text(&p, df_run_trigger_name(run->trigger));
    df_pg_i64(&p, run->logical_time ? run->logical_time : run->started_at);
    if (run->parent_run_id > 0)
        df_pg_i64(&p, run->parent_run_id);
    else
        df_pg_text(&p, NULL);
    df_pg_text(&p, run->parent_task_id);
    df_pg_text(&p, run->engine ? run->engine->kind : NULL);
    df_pg_i64(&p, df_store_lease_ms(&s->base));
    int code;
    PGresult *r = df_pg_exec(s, PG_RUN_INSERT, &p, W, &code);
    free(plugins);
    if (!r)
        return code;
    *id = df_pg_ll(r, 0, 0);
    PQclear(r);
    return DF_STORE_OK;
}

/* The run's tasks as [{"id", "plugin"}, ...] (JSON text, new string), for the one-statement
 * inserts. */
static char *tasks_text(const df_run_record *run)
{
    json_t *ta = json_array();
    bool ok = ta != NULL;
    for (size_t i = 0; ok && i < run->n_tasks; i++) {
        const df_task_record *t = &run->tasks[i];
        ok = json_array_append_new(ta, json_pack("{s:s, s:s}", "id", t->id, "plugin", t->plugin)) ==
             0;
    }
    char *tasks = ok ? dump(ta) : NULL;
    json_decref(ta);
    return tasks;
}

/* The task instances of run `id`, and the seq block of their creation events (schema 10: no
 * edge rows, no stored creation events unless the block could not be contiguous). */
static int insert_tasks(df_pg_store *s, const df_run_record *run, long long id, const char *W)
{
    char *tasks = tasks_text(run);
    if (!tasks)
        return oom(s, W);
    df_pg_params p = {0};
    df_pg_i64(&p, id);
    df_pg_text(&p, tasks);
    int code = df_pg_write(s, PG_TASKS_INSERT, &p, W, NULL);
    long long reserved = 0;
    if (code == DF_STORE_OK && run->n_tasks > 0) {
        df_pg_params b = {0};
        df_pg_i64(&b, id);
        df_pg_i64(&b, (long long)run->n_tasks);
        code = df_pg_write(s, PG_EVENTS_RESERVE, &b, W, &reserved);
    }
    df_pg_i64(&p, run->started_at);
    if (code == DF_STORE_OK && run->n_tasks > 0 && reserved != 1)
        code = df_pg_write(s, PG_EVENTS_INSERT, &p, W, NULL);
    free(tasks);
    return code;
}

/* See store.h. One transaction (or savepoint): the run, its task instances with their creation
 * events, and its edges. */
int df_pg_create_run(df_store *store, const df_run_record *run, long long *run_id)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "create run";
    int mode;
    int code = df_pg_op_begin(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    long long id = 0;
    code = insert_run_row(s, run, &id, W);
    if (code == DF_STORE_OK)
        code = insert_tasks(s, run, id, W);
    code = df_pg_op_end(s, mode, code, W);
    if (code == DF_STORE_OK)
        *run_id = id;
    return code;
}

static int no_run(df_pg_store *s, const df_pg_cas *c, const char *W)
{
    return df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no run %lld", W, c->run_id);
}

/* A one-row UPDATE of runs; DF_STORE_NOTFOUND when no such run. */
static int run_update(df_pg_store *s, enum df_pg_stmt_id id, const df_pg_params *p,
                      long long run_id, const char *W)
{
    df_pg_cas cas = {.run_id = run_id};
    return df_pg_write_cas(s, id, p, W, no_run, &cas);
}

/* See store.h. */
int df_pg_run_set_state(df_store *store, long long run_id, df_run_state state, int64_t ended_at)
{
    df_pg_params p = {0};
    df_pg_text(&p, df_run_state_name(state));
    df_pg_ms(&p, ended_at);
    df_pg_i64(&p, run_id);
    return run_update(df_pg_of(store), PG_RUN_SET_STATE, &p, run_id, "set run state");
}

/* See store.h. */
int df_pg_run_set_error(df_store *store, long long run_id, const char *error)
{
    df_pg_params p = {0};
    df_pg_text(&p, error);
    df_pg_i64(&p, run_id);
    return run_update(df_pg_of(store), PG_RUN_SET_ERROR, &p, run_id, "set run error");
}

/* Parameters 1..5 of the engine statements: pid, host, started_at, at, run_id. */
void df_pg_engine_params(df_pg_params *p, long long run_id, const df_engine_id *engine, int64_t at)
{
    df_pg_i64(p, engine->pid);
    df_pg_text(p, engine->host);
    df_pg_i64(p, engine->started_at);
    df_pg_i64(p, at);
    df_pg_i64(p, run_id);
}

/* See store.h. */
int df_pg_run_set_engine(df_store *store, long long run_id, const df_engine_id *engine, int64_t at)
{
    df_pg_params p = {0};
    df_pg_engine_params(&p, run_id, engine, at);
    df_pg_text(&p, engine->kind);
    df_pg_i64(&p, df_store_lease_ms(store));
    return run_update(df_pg_of(store), PG_RUN_SET_ENGINE, &p, run_id, "set run engine");
}

/* See store.h. A run without an owner has NULL engine columns: IS NOT DISTINCT FROM compares
 * them with the NULLs sent for expected == NULL. */
int df_pg_run_claim(df_store *store, long long run_id, const df_engine_id *expected,
                    const df_engine_id *engine, int64_t at)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "claim run";
    df_pg_params p = {0};
    df_pg_engine_params(&p, run_id, engine, at);
    if (expected) {
        df_pg_i64(&p, expected->pid);
        df_pg_text(&p, expected->host);
        df_pg_ms(&p, expected->started_at);
    } else {
        for (int i = 0; i < 3; i++)
            df_pg_text(&p, NULL);
    }
    df_pg_text(&p, engine->kind);
    df_pg_i64(&p, df_store_lease_ms(store));
    long long n = 0;
    int code = df_pg_write(s, PG_RUN_CLAIM, &p, W, &n);
    if (code == DF_STORE_OK && n == 0)
        code = df_store_failf(&s->base, DF_STORE_CONFLICT,
                              "store: %s: run %lld was claimed by another engine in the meantime",
                              W, run_id);
    return code;
}

/* See store.h. */
int df_pg_run_heartbeat(df_store *store, long long run_id, int64_t at)
{
    df_pg_params p = {0};
    df_pg_i64(&p, at);
    df_pg_i64(&p, run_id);
    df_pg_i64(&p, df_store_lease_ms(store));
    return run_update(df_pg_of(store), PG_RUN_HEARTBEAT, &p, run_id, "heartbeat");
}

/* Whether a metric is a high-water mark (kept at its maximum) rather than a count (summed). */
static bool metric_is_peak(const char *key)
{
    size_t n = strlen(key);
    return strcmp(key, "queue_high_water") == 0 || (n > 5 && strcmp(key + n - 5, "_peak") == 0);
}

/* Merges the metrics stored before (old, JSON text or NULL) into merged, as store.h says. */
static void merge_metrics(json_t *merged, const char *old_text)
{
    json_t *old = old_text ? json_loads(old_text, 0, NULL) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(old, k, v)
    {
        json_t *now = json_object_get(merged, k);
        if (!now)
            json_object_set(merged, k, v);
        else if (json_is_integer(now) && json_is_integer(v)) {
            json_int_t a = json_integer_value(v), b = json_integer_value(now);
            json_integer_set(now, metric_is_peak(k) ? (a > b ? a : b) : a + b);
        }
    }
    json_decref(old);
}

static int set_metrics_body(df_pg_store *s, long long run_id, const json_t *metrics, const char *W)
{
    json_t *merged = json_is_object(metrics) ? json_deep_copy(metrics) : NULL;
    int code = DF_STORE_OK;
    if (merged) {
        df_pg_params g = {0};
        df_pg_i64(&g, run_id);
        PGresult *r = df_pg_exec(s, PG_RUN_GET_METRICS, &g, W, &code);
        if (!r) {
            json_decref(merged);
            return code;
        }
        if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
            merge_metrics(merged, PQgetvalue(r, 0, 0));
        PQclear(r);
        metrics = merged;
    }
    char *text = metrics ? dump(metrics) : NULL;
    json_decref(merged);
    if (metrics && !text)
        return df_store_failf(&s->base, DF_STORE_ERROR, "store: %s: cannot encode the metrics", W);
    df_pg_params p = {0};
    df_pg_text(&p, text);
    df_pg_i64(&p, run_id);
    code = run_update(s, PG_RUN_SET_METRICS, &p, run_id, W);
    free(text);
    return code;
}

/* See store.h. The read and the write in one transaction, the row locked between them. */
int df_pg_run_set_metrics(df_store *store, long long run_id, const json_t *metrics)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "set run metrics";
    int mode;
    int code = df_pg_op_begin(s, &mode, W);
    if (code != DF_STORE_OK)
        return code;
    code = set_metrics_body(s, run_id, metrics, W);
    return df_pg_op_end(s, mode, code, W);
}

/* ---- task instances ---- */

/* The state and attempt of c's task instance (PG_TASK_GET; new result, PQclear it), or NULL with
 * *code set on a store error. */
static PGresult *task_row(df_pg_store *s, const df_pg_cas *c, const char *W, int *code)
{
    df_pg_params p = {0};
    df_pg_i64(&p, c->run_id);
    df_pg_text(&p, c->task_id);
    df_pg_i64(&p, c->map_index);
    return df_pg_exec(s, PG_TASK_GET, &p, W, code);
}

/* See internal.h: why a transition changed nothing: the row's state and attempt
 * (DF_STORE_CONFLICT) or no such task (DF_STORE_NOTFOUND). */
int df_pg_transition_refused(df_pg_store *s, const df_pg_cas *t, const char *W)
{
    int code;
    PGresult *r = task_row(s, t, W, &code);
    if (!r)
        return code;
    if (PQntuples(r) == 1)
        code = df_store_failf(&s->base, DF_STORE_CONFLICT,
                              "store: %s: task \"%s\" of run %lld is %s (attempt %s), not %s "
                              "(attempt %u)",
                              W, t->task_id, t->run_id, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                              df_task_state_name((df_task_state)t->from), t->attempt);
    else
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no task \"%s\" in run %lld",
                              W, t->task_id, t->run_id);
    PQclear(r);
    return code;
}

/* See store.h. One statement: the compare-and-set UPDATE on (state, attempt) and the event
 * INSERT of the row it changed, so it is atomic without a transaction of its own. */
int df_pg_transition(df_store *store, const df_transition *t)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "record transition";
    if (s->pipe_failed)
        return df_pg_pipe_drain(s, W);
    if (df_pg_can_defer(s)) {
        int code = df_pg_batch_transition(s, t);
        if (code != DF_PG_UNBATCHED)
            return code;
    }
    df_pg_params p = {0};
    df_pg_text(&p, df_task_state_name(t->to));
    df_pg_i64(&p, t->to_attempt);
    df_pg_i64(&p, t->at);
    df_pg_bool(&p, df_task_state_final(t->to));
    df_pg_text(&p, t->error);
    df_pg_text(&p, t->result_json);
    df_pg_ms(&p, t->next_retry_at);
    df_pg_bool(&p, t->reset_retry_budget != 0);
    df_pg_i64(&p, t->run_id);
    df_pg_text(&p, t->task_id);
    df_pg_text(&p, df_task_state_name(t->from));
    df_pg_i64(&p, t->from_attempt);
    df_pg_text(&p, t->detail);
    df_pg_i64(&p, t->mapped ? t->map_index : DF_NO_MAP_INDEX);
    df_pg_cas cas = {.run_id = t->run_id,
                     .task_id = (char *)t->task_id,
                     .map_index = t->mapped ? t->map_index : DF_NO_MAP_INDEX,
                     .attempt = t->from_attempt,
                     .from = (int)t->from};
    return df_pg_write_cas(s, PG_TRANSITION, &p, W, df_pg_transition_refused, &cas);
}

/* ---- attempts ---- */

/* See internal.h: an attempt was not opened, it exists already, or the task does not. */
int df_pg_open_refused(df_pg_store *s, const df_pg_cas *c, const char *W)
{
    int code;
    PGresult *r = task_row(s, c, W, &code);
    if (!r)
        return code;
    if (PQntuples(r) == 1)
        code = df_store_failf(&s->base, DF_STORE_CONFLICT,
                              "store: %s: attempt %u of task \"%s\" in run %lld already exists", W,
                              c->attempt, c->task_id, c->run_id);
    else
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND, "store: %s: no task \"%s\" in run %lld",
                              W, c->task_id, c->run_id);
    PQclear(r);
    return code;
}

/* See store.h. */
int df_pg_attempt_open(df_store *store, long long run_id, const char *task_id, long long map_index,
                       unsigned attempt, int64_t started_at)
{
    df_pg_store *s = df_pg_of(store);
    if (s->pipe_failed)
        return df_pg_pipe_drain(s, "open attempt");
    if (df_pg_can_defer(s)) {
        int code = df_pg_batch_open(s, run_id, task_id, map_index, attempt, started_at);
        if (code != DF_PG_UNBATCHED)
            return code;
    }
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_text(&p, task_id);
    df_pg_i64(&p, map_index);
    df_pg_i64(&p, attempt);
    df_pg_i64(&p, started_at);
    df_pg_cas cas = {
        .run_id = run_id, .task_id = (char *)task_id, .map_index = map_index, .attempt = attempt};
    return df_pg_write_cas(s, PG_ATTEMPT_OPEN, &p, "open attempt", df_pg_open_refused, &cas);
}

/* See internal.h: an attempt was not closed, it is closed already, or it does not exist. */
int df_pg_close_refused(df_pg_store *s, const df_pg_cas *c, const char *W)
{
    df_pg_params g = {0};
    df_pg_i64(&g, c->run_id);
    df_pg_text(&g, c->task_id);
    df_pg_i64(&g, c->attempt);
    df_pg_i64(&g, c->map_index);
    int code;
    PGresult *r = df_pg_exec(s, PG_ATTEMPT_GET, &g, W, &code);
    if (!r)
        return code;
    if (PQntuples(r) == 1)
        code = df_store_failf(
            &s->base, DF_STORE_CONFLICT,
            "store: %s: attempt %u of task \"%s\" in run %lld is already closed (%s)", W,
            c->attempt, c->task_id, c->run_id, PQgetvalue(r, 0, 0));
    else
        code = df_store_failf(&s->base, DF_STORE_NOTFOUND,
                              "store: %s: no attempt %u of task \"%s\" in run %lld", W, c->attempt,
                              c->task_id, c->run_id);
    PQclear(r);
    return code;
}

/* See store.h. */
int df_pg_attempt_close(df_store *store, long long run_id, const char *task_id, long long map_index,
                        unsigned attempt, df_attempt_outcome outcome, int64_t ended_at,
                        const char *error, const char *log, const char *output)
{
    df_pg_store *s = df_pg_of(store);
    if (s->pipe_failed)
        return df_pg_pipe_drain(s, "close attempt");
    if (df_pg_can_defer(s)) {
        int code =
            df_pg_batch_close(s, run_id, task_id, map_index, attempt,
                              df_attempt_outcome_name(outcome), ended_at, error, log, output);
        if (code != DF_PG_UNBATCHED)
            return code;
    }
    df_pg_params p = {0};
    df_pg_text(&p, df_attempt_outcome_name(outcome));
    df_pg_i64(&p, ended_at);
    df_pg_text(&p, error);
    df_pg_text(&p, log);
    df_pg_i64(&p, run_id);
    df_pg_text(&p, task_id);
    df_pg_i64(&p, attempt);
    df_pg_i64(&p, map_index);
    df_pg_text(&p, output);
    df_pg_cas cas = {
        .run_id = run_id, .task_id = (char *)task_id, .map_index = map_index, .attempt = attempt};
    return df_pg_write_cas(s, PG_ATTEMPT_CLOSE, &p, "close attempt", df_pg_close_refused, &cas);
}

/* ---- mapped instances (SPEC §8) ---- */

/* See store.h. One statement: the instances and their events. */
int df_pg_map_expand(df_store *store, long long run_id, const char *task_id, long long from,
                     long long n, int64_t at)
{
    df_pg_store *s = df_pg_of(store);
    const char *W = "expand mapped task";
    df_pg_params p = {0};
    df_pg_i64(&p, run_id);
    df_pg_text(&p, task_id);
    df_pg_i64(&p, from);
    df_pg_i64(&p, n);
    df_pg_i64(&p, at);
    int code;
    PGresult *r = df_pg_exec(s, PG_MAP_EXPAND, &p, W, &code);
    if (!r)
        return code;
    long long made = df_pg_ll(r, 0, 0);
    PQclear(r);
    if (made == n - from)
        return DF_STORE_OK;
    if (made > 0)
        return df_store_failf(&s->base, DF_STORE_CONFLICT,
                              "store: %s: task \"%s\" of run %lld has some of instances %lld.."
                              "%lld already",
                              W, task_id, run_id, from, n - 1);
    p.n = 2;
    df_pg_i64(&p, DF_NO_MAP_INDEX);
    r = df_pg_exec(s, PG_TASK_GET, &p, W, &code);
    if (!r)
        return code;
    code = PQntuples(r) == 1
               ? df_store_failf(&s->base, DF_STORE_CONFLICT,
                                "store: %s: task \"%s\" of run %lld has instances from %lld "
                                "already",
                                W, task_id, run_id, from)
               : df_store_failf(&s->base, DF_STORE_NOTFOUND,
                                "store: %s: no task \"%s\" in run %lld", W, task_id, run_id);
    PQclear(r);
    return code;
}
