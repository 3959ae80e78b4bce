/* http/runs: the run resources of SPEC §9: the list (GET /api/v1/runs, filtered and paged), one
 * run's object (GET /api/v1/runs/ID), a task's attempts, and the actions cancel, retry and resume
 * (POST), which check the run's state here (404, 409) and then go through the hosting program's
 * hooks (501 without them). Reads use a reader engine, never the engine that runs workflows. */
#include "http_internal.h"

#include <stdio.h>
#include <string.h>

/* Keys SPEC §9 adds to the status object, null until the store records them. */
static const char *const run_extra_keys[] = {"trigger", "logical_time", "parent_run_id", "error",
                                             NULL};

json_t *df_http_run_object(df_engine *e, long long run_id, df_http_reply *rep)
{
    df_errlist errs = {0};
    json_t *o = NULL;
    int rc = df_engine_run_status(e, run_id, &o, &errs);
    if (rc == DF_ENOTFOUND) {
        df_http_error(rep, 404, "unknown run %lld", run_id);
    } else if (rc) {
        df_http_error_code(rep, rc, &errs);
    } else {
        for (size_t i = 0; run_extra_keys[i]; i++)
            if (!json_object_get(o, run_extra_keys[i]))
                json_object_set_new(o, run_extra_keys[i], json_null());
    }
    df_errlist_clear(&errs);
    return rc ? NULL : o;
}

void df_http_get_run(const df_http_req *r, df_http_reply *rep, long long run_id)
{
    df_engine *e = df_http_reader_take(r->h);
    json_t *o = df_http_run_object(e, run_id, rep);
    df_http_reader_give(r->h, e);
    if (o)
        df_http_json(rep, 200, o);
}

/* One row of the list from a run_history row. */
static json_t *list_row(const json_t *h)
{
    json_t *o = json_object();
    static const char *const keys[] = {"run_id",       "workflow",   "state",   "trigger",
                                       "logical_time", "started_at", "ended_at"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_t *v = json_object_get(h, keys[i]);
        json_object_set(o, keys[i], v ? v : json_null());
    }
    return o;
}

void df_http_get_runs(const df_http_req *r, df_http_reply *rep)
{
    long long limit, before;
    if (df_http_int_arg(r, rep, "limit", 1, 1000, 50, &limit) ||
        df_http_int_arg(r, rep, "before", 1, INT64_MAX, 0, &before))
        return;
    const char *wf = r->arg(r, "workflow"), *state = r->arg(r, "state");
    df_history_filter f = {.workflow = wf && *wf ? wf : NULL,
                           .state = state && *state ? state : NULL,
                           .before = before,
                           .limit = (size_t)limit + 1}; /* one more: is there a next page? */
    df_errlist errs = {0};
    json_t *rows = NULL;
    df_engine *e = df_http_reader_take(r->h);
    int rc = df_engine_history_query(e, &f, &rows, &errs);
    df_http_reader_give(r->h, e);
    if (rc) {
        df_http_error_code(rep, rc, &errs);
        df_errlist_clear(&errs);
        return;
    }
    json_t *runs = json_array();
    size_t i;
    json_t *h;
    json_array_foreach(rows, i, h)
    {
        if (i == (size_t)limit)
            break;
        json_array_append_new(runs, list_row(h));
    }
    bool more = json_array_size(rows) > (size_t)limit;
    json_t *last = json_array_get(runs, json_array_size(runs) - 1);
    json_t *next = more && last ? json_incref(json_object_get(last, "run_id")) : json_null();
    json_decref(rows);
    df_http_json(rep, 200, json_pack("{so so}", "runs", runs, "next_before", next));
}

void df_http_get_attempts(const df_http_req *r, df_http_reply *rep, long long run_id,
                          const char *task)
{
    df_errlist errs = {0};
    json_t *o = NULL;
    df_engine *e = df_http_reader_take(r->h);
    int rc = df_engine_task_attempts(e, run_id, task, &o, &errs);
    df_http_reader_give(r->h, e);
    if (rc)
        df_http_error_code(rep, rc, &errs);
    else
        df_http_json(rep, 200, json_incref(json_object_get(o, "attempts")));
    json_decref(o);
    df_errlist_clear(&errs);
}

static bool final_state(const char *s)
{
    return strcmp(s, "SUCCESS") == 0 || strcmp(s, "FAILED") == 0 || strcmp(s, "INVALID") == 0 ||
           strcmp(s, "CANCELLED") == 0;
}

/* Whether the run's state allows the action; a 409 reply when not. */
static bool state_allows(df_http_reply *rep, long long id, const char *action, const char *st)
{
    bool fin = final_state(st);
    if (strcmp(action, "cancel") == 0 && fin)
        df_http_error(rep, 409, "run %lld has finished (%s); nothing to cancel", id, st);
    else if (strcmp(action, "resume") == 0 && fin)
        df_http_error(rep, 409, "run %lld has finished (%s); nothing to resume (retry reopens it)",
                      id, st);
    else if (strcmp(action, "resume") == 0 && strcmp(st, "RUNNING") == 0)
        df_http_error(rep, 409, "run %lld is running: its engine is alive", id);
    else if (strcmp(action, "retry") == 0 && !fin)
        df_http_error(rep, 409, "run %lld has not finished (%s); retry reopens finished runs", id,
                      st);
    else
        return true;
    return false;
}

/* Calls the hook of action; 501 when the hosting program gave none. Returns 0 when it ran. */
static int call_hook(const df_http_req *r, df_http_reply *rep, long long id, const char *action,
                     const char *task)
{
    const df_http_hooks *k = &r->h->hooks;
    df_errlist errs = {0};
    int rc;
    if (strcmp(action, "cancel") == 0 && k->cancel)
        rc = k->cancel(k->ud, id, &errs);
    else if (strcmp(action, "retry") == 0 && k->retry)
        rc = k->retry(k->ud, id, task, &errs);
    else if (strcmp(action, "resume") == 0 && k->resume)
        rc = k->resume(k->ud, id, &errs);
    else {
        df_http_error(rep, 501,
                      "POST /api/v1/runs/ID/%s is not available on this server: it "
                      "needs `dagflow serve` (`dagflow %s %lld` does it from a shell)",
                      action, action, id);
        return -1;
    }
    if (rc)
        df_http_error_code(rep, rc, &errs);
    df_errlist_clear(&errs);
    return rc ? -1 : 0;
}

void df_http_run_action(const df_http_req *r, df_http_reply *rep, long long run_id,
                        const char *action)
{
    static const char *const retry_keys[] = {"task", NULL};
    json_t *body = NULL;
    if (df_http_body_object(r, rep, strcmp(action, "retry") == 0 ? retry_keys : NULL, &body))
        return;
    json_t *task = json_object_get(body, "task");
    if (task && !json_is_string(task) && !json_is_null(task)) {
        df_http_error(rep, 400, "\"task\" must be a task id (a string)");
        json_decref(body);
        return;
    }
    df_engine *e = df_http_reader_take(r->h);
    json_t *run = df_http_run_object(e, run_id, rep);
    df_http_reader_give(r->h, e);
    const char *st = run ? json_string_value(json_object_get(run, "state")) : NULL;
    if (run && state_allows(rep, run_id, action, st ? st : "?") &&
        call_hook(r, rep, run_id, action, json_string_value(task)) == 0) {
        e = df_http_reader_take(r->h);
        json_t *now = df_http_run_object(e, run_id, rep);
        df_http_reader_give(r->h, e);
        if (now) {
            df_http_json(rep, 202, now);
            snprintf(rep->location, sizeof rep->location, "/api/v1/runs/%lld", run_id);
        }
    }
    json_decref(run);
    json_decref(body);
}
