/* store/views: the JSON the CLI and the API print from the backends' typed views (status,
 * summary, history, a task's attempts), made here once so that every backend prints the same
 * (SPEC §6, §7, §10). Durations count the run's running periods (SPEC §12). No SQL here. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A time in ms as the views of SPEC §7 show it: ISO-8601 UTC with milliseconds
 * ("2026-11-29T08:15:08.123Z", as SQLite's strftime('%Y-%m-%dT%H:%M:%fZ') writes it); 0 is
 * null. New reference. */
json_t *df_store_json_time(int64_t ms)
{
    if (ms == 0)
        return json_null();
    time_t secs = (time_t)(ms / 1000);
    int frac = (int)(ms % 1000);
    if (frac < 0) {
        frac += 1000;
        secs--;
    }
    struct tm tm;
    char buf[64];
    if (!gmtime_r(&secs, &tm))
        return json_null();
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return json_string(buf);
}

#define iso_ms df_store_json_time
#define text_or_null df_store_json_text

/* ended - started in ms, or null unless both are known. New reference. */
static json_t *duration_ms(int64_t started, int64_t ended)
{
    return started && ended ? json_integer(ended - started) : json_null();
}

/* The run's running periods (SPEC §12: durations count time running only). */
typedef struct periods {
    df_run_period *p; /* NULL when none (a run recorded before they were kept: wall time) */
    size_t n;
} periods;

static int periods_read(df_store *s, long long run_id, periods *out)
{
    *out = (periods){0};
    return s->ops->run_periods(s, run_id, &out->p, &out->n);
}

/* The time inside the periods between started and ended (ms), as the views' duration_ms (a
 * period still open counts up to ended); ended - started without periods; null unless both are
 * known. New reference. */
static json_t *running_ms(const periods *ps, int64_t started, int64_t ended)
{
    if (!started || !ended || !ps->n)
        return duration_ms(started, ended);
    int64_t sum = 0;
    for (size_t i = 0; i < ps->n; i++) {
        int64_t a = ps->p[i].started_at > started ? ps->p[i].started_at : started;
        int64_t b = ps->p[i].ended_at && ps->p[i].ended_at < ended ? ps->p[i].ended_at : ended;
        if (b > a)
            sum += b - a;
    }
    return json_integer(sum);
}

/* Text, or null for NULL (and for text that is not UTF-8, which a JSON string cannot hold).
 * New reference. */
json_t *df_store_json_text(const char *text)
{
    json_t *v = text ? json_string(text) : NULL;
    return v ? v : json_null();
}

/* Stored JSON text as the value it holds: null for NULL; text that does not parse stays a
 * string. JSON_ALLOW_NUL: results may hold "\u0000" (binary output), which jansson refuses by
 * default; the value must come back with the type it was stored with. New reference. */
static json_t *parsed_or_null(const char *text)
{
    if (!text)
        return json_null();
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return v ? v : text_or_null(text);
}

/* Adds SPEC §10's keys of a run's origin to o: "trigger", "logical_time", "parent_run_id",
 * "parent_task_id", "error". */
static void origin_keys(json_t *o, const df_run_origin *g)
{
    json_object_set_new(o, "trigger", json_string(df_run_trigger_name(g->trigger)));
    json_object_set_new(o, "logical_time", iso_ms(g->logical_time));
    json_object_set_new(o, "parent_run_id",
                        g->parent_run_id > 0 ? json_integer(g->parent_run_id) : json_null());
    json_object_set_new(o, "parent_task_id", text_or_null(g->parent_task_id));
    json_object_set_new(o, "error", text_or_null(g->error));
}

/* {"run_id", "workflow", "state", "started_at", "ended_at", "trigger", "logical_time",
 * "parent_run_id", "parent_task_id", "error", "duration_ms"}: the head of status and summary
 * (duration_ms: time running, null until the run ends). */
static json_t *view_head(const df_run_view *v, const periods *ps)
{
    json_t *o = json_object();
    json_object_set_new(o, "run_id", json_integer(v->run_id));
    json_object_set_new(o, "workflow", text_or_null(v->workflow));
    json_object_set_new(o, "state", json_string(df_run_state_name(v->state)));
    json_object_set_new(o, "started_at", iso_ms(v->started_at));
    json_object_set_new(o, "ended_at", iso_ms(v->ended_at));
    origin_keys(o, &v->origin);
    json_object_set_new(o, "duration_ms", running_ms(ps, v->started_at, v->ended_at));
    return o;
}

/* A mapped instance's object joins its task's (the previous task object): its "instances" array
 * and the "instance_counts" by state. */
static void add_instance(json_t *task, json_t *inst, df_task_state st)
{
    json_t *list = json_object_get(task, "instances");
    json_t *counts = json_object_get(task, "instance_counts");
    if (!list) {
        json_object_set_new(task, "instances", list = json_array());
        json_object_set_new(task, "instance_counts", counts = json_object());
    }
    json_t *c = json_object_get(counts, df_task_state_name(st));
    json_object_set_new(counts, df_task_state_name(st),
                        json_integer(c ? json_integer_value(c) + 1 : 1));
    json_object_del(inst, "id");
    json_array_append_new(list, inst);
}

/* The view's tasks as status shows them (SPEC §6's keys, in this order); a mapped task's
 * instances go into its "instances", each with its "map_index" after "id" (SPEC §9). */
static json_t *view_tasks(const df_run_view *v, const periods *ps)
{
    json_t *a = json_array();
    json_t *last = NULL;
    for (size_t i = 0; i < v->n_tasks; i++) {
        const df_task_view *t = &v->tasks[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", text_or_null(t->id));
        if (t->map_index != DF_NO_MAP_INDEX)
            json_object_set_new(o, "map_index", json_integer((json_int_t)t->map_index));
        json_object_set_new(o, "state", json_string(df_task_state_name(t->state)));
        json_object_set_new(o, "attempts", json_integer(t->attempts));
        json_object_set_new(o, "started_at", iso_ms(t->started_at));
        json_object_set_new(o, "ended_at", iso_ms(t->ended_at));
        json_object_set_new(o, "duration_ms", running_ms(ps, t->started_at, t->ended_at));
        json_object_set_new(o, "error", text_or_null(t->error));
        json_object_set_new(o, "result", parsed_or_null(t->result_json));
        if (t->map_index != DF_NO_MAP_INDEX && last) {
            add_instance(last, o, t->state);
            continue;
        }
        json_array_append_new(a, o);
        last = o;
    }
    return a;
}

/* {STATE: count} for the states some task is in, in the byte order of their names (as a SQL
 * GROUP BY on the name gives them). */
static json_t *view_counts(const df_run_view *v)
{
    int order[DF_TS__COUNT];
    for (int i = 0; i < DF_TS__COUNT; i++)
        order[i] = i;
    for (int i = 1; i < DF_TS__COUNT; i++) /* insertion sort: nine names */
        for (int j = i;
             j > 0 && strcmp(df_task_state_name(order[j - 1]), df_task_state_name(order[j])) > 0;
             j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    json_t *o = json_object();
    for (int i = 0; i < DF_TS__COUNT; i++)
        if (v->counts[order[i]])
            json_object_set_new(o, df_task_state_name(order[i]),
                                json_integer((json_int_t)v->counts[order[i]]));
    return o;
}

/* See backend.h. */
void df_run_view_free(df_run_view *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n_tasks; i++) {
        free(v->tasks[i].id);
        free(v->tasks[i].error);
        free(v->tasks[i].result_json);
    }
    free(v->tasks);
    free(v->workflow);
    free(v->origin.parent_task_id);
    free(v->origin.error);
    free(v->metrics_json);
    free(v);
}

/* See backend.h. */
void df_history_rows_free(df_history_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].workflow);
        free(rows[i].origin.parent_task_id);
        free(rows[i].origin.error);
    }
    free(rows);
}

/* See store.h. */
int df_store_run_status(df_store *s, long long run_id, json_t **out)
{
    *out = NULL;
    df_run_view *v = NULL;
    int code = s->ops->run_status(s, run_id, &v);
    if (code != DF_STORE_OK)
        return code;
    periods ps;
    if ((code = periods_read(s, run_id, &ps)) != DF_STORE_OK) {
        df_run_view_free(v);
        return code;
    }
    json_t *o = view_head(v, &ps);
    json_object_set_new(o, "tasks", view_tasks(v, &ps));
    free(ps.p);
    json_object_set_new(o, "metrics", parsed_or_null(v->metrics_json));
    df_run_view_free(v);
    *out = o;
    return DF_STORE_OK;
}

/* See store.h. */
int df_store_run_summary(df_store *s, long long run_id, int max_tasks, json_t **out)
{
    *out = NULL;
    df_run_view *v = NULL;
    int code = s->ops->run_summary(s, run_id, max_tasks, &v);
    if (code != DF_STORE_OK)
        return code;
    periods ps;
    if ((code = periods_read(s, run_id, &ps)) != DF_STORE_OK) {
        df_run_view_free(v);
        return code;
    }
    json_t *o = view_head(v, &ps);
    json_object_set_new(o, "counts", view_counts(v));
    json_object_set_new(o, "tasks", view_tasks(v, &ps));
    free(ps.p);
    df_run_view_free(v);
    *out = o;
    return DF_STORE_OK;
}

int df_store_latest_run(df_store *s, long long *run_id)
{
    return s->ops->latest_run(s, run_id);
}

/* See store.h: the run_history view's columns, in its order. */
int df_store_history_query(df_store *s, const df_history_query *q, json_t **out)
{
    *out = NULL;
    if (!q)
        return df_store_failf(s, DF_STORE_ERROR, "store: read history: invalid arguments");
    df_history_query qq = *q;
    if (qq.limit <= 0)
        qq.limit = 20;
    df_history_row *rows = NULL;
    size_t n = 0;
    int code = s->ops->history(s, &qq, &rows, &n);
    if (code != DF_STORE_OK)
        return code;
    json_t *a = json_array();
    for (size_t i = 0; i < n && code == DF_STORE_OK; i++) {
        const df_history_row *h = &rows[i];
        periods ps;
        if ((code = periods_read(s, h->run_id, &ps)) != DF_STORE_OK)
            break;
        json_t *o = json_object();
        json_object_set_new(o, "run_id", json_integer(h->run_id));
        json_object_set_new(o, "workflow", text_or_null(h->workflow));
        json_object_set_new(o, "state", json_string(df_run_state_name(h->state)));
        json_object_set_new(o, "started_at", iso_ms(h->started_at));
        json_object_set_new(o, "ended_at", iso_ms(h->ended_at));
        json_object_set_new(o, "duration_ms", running_ms(&ps, h->started_at, h->ended_at));
        free(ps.p);
        json_object_set_new(o, "tasks_total", json_integer(h->tasks_total));
        json_object_set_new(o, "tasks_succeeded", json_integer(h->tasks_succeeded));
        json_object_set_new(o, "tasks_failed", json_integer(h->tasks_failed));
        origin_keys(o, &h->origin);
        json_array_append_new(a, o);
    }
    df_history_rows_free(rows, n);
    if (code != DF_STORE_OK) {
        json_decref(a);
        return code;
    }
    *out = a;
    return DF_STORE_OK;
}

/* See store.h. */
int df_store_history(df_store *s, const char *workflow, int limit, json_t **out)
{
    df_history_query q = {.workflow = workflow, .limit = limit};
    return df_store_history_query(s, &q, out);
}

/* See backend.h. */
void df_task_attempts_free(df_task_attempts *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_attempts; i++) {
        free(t->attempts[i].error);
        free(t->attempts[i].log);
        free(t->attempts[i].output);
    }
    free(t->attempts);
    free(t->result_json);
    free(t);
}

/* The task result's key as the attempt's, when of the type wanted; else null. New reference. */
static json_t *result_key(const json_t *result, const char *key, json_type type)
{
    json_t *v = json_object_get(result, key);
    if (v && (json_typeof(v) == type || (type == JSON_TRUE && json_is_boolean(v))))
        return json_incref(v);
    return json_null();
}

/* One attempt_history row as a new object; result (borrowed, may be NULL) holds the attempt's
 * output keys: its own (attempts.output), or the task's result for a latest attempt closed before
 * attempts kept their own. */
static json_t *attempt_json(const df_attempt_view *a, const json_t *result)
{
    json_t *o = json_object();
    json_object_set_new(o, "attempt", json_integer(a->attempt));
    json_object_set_new(o, "outcome", json_string(df_attempt_outcome_name(a->outcome)));
    json_object_set_new(o, "started_at", iso_ms(a->started_at));
    json_object_set_new(o, "ended_at", iso_ms(a->ended_at));
    json_object_set_new(o, "duration_ms", duration_ms(a->started_at, a->ended_at));
    json_object_set_new(o, "error", text_or_null(a->error));
    json_object_set_new(o, "log", text_or_null(a->log));
    json_object_set_new(o, "stdout", result_key(result, "stdout", JSON_STRING));
    json_object_set_new(o, "stderr", result_key(result, "stderr", JSON_STRING));
    json_object_set_new(o, "exit_code", result_key(result, "exit_code", JSON_INTEGER));
    json_object_set_new(o, "stdout_truncated", result_key(result, "stdout_truncated", JSON_TRUE));
    json_object_set_new(o, "stderr_truncated", result_key(result, "stderr_truncated", JSON_TRUE));
    /* a text kept whole: its flag false rather than null */
    if (json_is_string(json_object_get(o, "stdout")) &&
        json_is_null(json_object_get(o, "stdout_truncated")))
        json_object_set_new(o, "stdout_truncated", json_false());
    if (json_is_string(json_object_get(o, "stderr")) &&
        json_is_null(json_object_get(o, "stderr_truncated")))
        json_object_set_new(o, "stderr_truncated", json_false());
    return o;
}

/* See store.h. */
int df_store_task_attempts(df_store *s, long long run_id, const char *task_id, json_t **out)
{
    return df_store_instance_attempts(s, run_id, task_id, DF_NO_MAP_INDEX, out);
}

int df_store_instance_attempts(df_store *s, long long run_id, const char *task_id,
                               long long map_index, json_t **out)
{
    *out = NULL;
    if (!task_id || map_index < DF_NO_MAP_INDEX)
        return df_store_failf(s, DF_STORE_ERROR, "store: read attempts: no task id");
    df_task_attempts *t = NULL;
    int code = s->ops->task_attempts(s, run_id, task_id, map_index, &t);
    if (code != DF_STORE_OK)
        return code;
    json_t *result = parsed_or_null(t->result_json);
    json_t *a = json_array();
    for (size_t i = 0; i < t->n_attempts; i++) {
        const df_attempt_view *v = &t->attempts[i];
        json_t *output = parsed_or_null(v->output);
        bool own = v->attempt == t->attempt && v->outcome != DF_AO_RUNNING;
        const json_t *from = json_is_object(output)          ? output
                             : own && json_is_object(result) ? result
                                                             : NULL;
        json_array_append_new(a, attempt_json(v, from));
        json_decref(output);
    }
    json_decref(result);
    json_t *o = json_object();
    json_object_set_new(o, "run_id", json_integer(run_id));
    json_object_set_new(o, "task_id", text_or_null(task_id));
    if (map_index != DF_NO_MAP_INDEX)
        json_object_set_new(o, "map_index", json_integer((json_int_t)map_index));
    json_object_set_new(o, "state", json_string(df_task_state_name(t->state)));
    json_object_set_new(o, "attempts", a);
    df_task_attempts_free(t);
    *out = o;
    return DF_STORE_OK;
}
