/* store/history: the backend-neutral half of the history's upkeep and live reads: `gc` (the
 * transaction around a backend's deletion, rolled back for a dry run), a run's task events after
 * a sequence number (the HTTP API's long poll), and the counts by state behind GET /metrics. The
 * JSON is made here from the backends' typed rows, so that every backend answers the same. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

/* See store.h. */
int df_store_gc(df_store *s, int64_t cutoff, bool dry_run, df_gc_result *out)
{
    *out = (df_gc_result){0};
    int code = s->ops->begin(s);
    if (code != DF_STORE_OK)
        return code; /* nothing of ours is open */
    code = s->ops->gc(s, cutoff, out);
    if (code == DF_STORE_OK && !dry_run) {
        code = s->ops->commit(s);
        if (code == DF_STORE_OK)
            return code;
    }
    char saved[sizeof s->err];
    memcpy(saved, s->err, sizeof saved);
    s->ops->rollback(s);
    memcpy(s->err, saved, sizeof saved);
    if (code != DF_STORE_OK)
        *out = (df_gc_result){0};
    return code;
}

/* See backend.h. */
void df_event_rows_free(df_event_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].task_id);
        free(rows[i].detail);
    }
    free(rows);
}

/* One event row as the task_events view shows it. New reference. */
static json_t *event_json(long long run_id, const df_event_row *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(r->seq));
    json_object_set_new(o, "run_id", json_integer(run_id));
    json_object_set_new(o, "task_id", df_store_json_text(r->task_id));
    json_object_set_new(o, "from_state",
                        r->from < DF_TS__COUNT ? json_string(df_task_state_name(r->from))
                                               : json_null());
    json_object_set_new(o, "to_state", json_string(df_task_state_name(r->to)));
    json_object_set_new(o, "at", df_store_json_time(r->at));
    json_object_set_new(o, "attempt", json_integer(r->attempt));
    json_object_set_new(o, "detail", df_store_json_text(r->detail));
    json_object_set_new(o, "map_index",
                        r->map_index == DF_NO_MAP_INDEX ? json_null()
                                                        : json_integer((json_int_t)r->map_index));
    return o;
}

/* See store.h. */
int df_store_run_events(df_store *s, long long run_id, long long after, int limit, json_t **out)
{
    *out = NULL;
    df_event_row *rows = NULL;
    size_t n = 0;
    df_run_state state = DF_RS_RUNNING;
    int code = s->ops->run_events(s, run_id, after < 0 ? 0 : after, limit > 0 ? limit : 1000,
                                  &state, &rows, &n);
    if (code != DF_STORE_OK)
        return code;
    json_t *events = json_array();
    long long last = after;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(events, event_json(run_id, &rows[i]));
        if (rows[i].seq > last)
            last = rows[i].seq;
    }
    df_event_rows_free(rows, n);
    *out = json_pack("{sI ss so sI}", "run_id", (json_int_t)run_id, "state",
                     df_run_state_name(state), "events", events, "last_seq", (json_int_t)last);
    return DF_STORE_OK;
}

/* See store.h. */
int df_store_state_counts(df_store *s, json_t **out)
{
    *out = NULL;
    size_t runs[DF_RS__COUNT] = {0}, tasks[DF_TS__COUNT] = {0};
    int code = s->ops->state_counts(s, runs, tasks);
    if (code != DF_STORE_OK)
        return code;
    json_t *r = json_object(), *t = json_object();
    for (int i = 0; i < DF_RS__COUNT; i++)
        if (runs[i])
            json_object_set_new(r, df_run_state_name((df_run_state)i), json_integer(runs[i]));
    for (int i = 0; i < DF_TS__COUNT; i++)
        if (tasks[i])
            json_object_set_new(t, df_task_state_name((df_task_state)i), json_integer(tasks[i]));
    *out = json_pack("{so so}", "runs", r, "task_instances", t);
    return DF_STORE_OK;
}
