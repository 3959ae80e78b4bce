/* http/workflows: the workflow resources of SPEC §9: the list (from the hosting program's
 * workflows hook), a workflow's next fire times (its file loaded here, as `dagflow schedule
 * --json` prints them) and starting a run now (the start_run hook, then the run's object, 201
 * with Location). Without the hooks (no `dagflow serve`), 501 says so. */
#include "http_internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int no_hook(df_http_reply *rep, const char *what)
{
    return df_http_error(rep, 501,
                         "%s is not available on this server: it needs `dagflow serve "
                         "--workflows DIR`",
                         what);
}

/* The hook's workflow list, or NULL with a reply set. */
static json_t *workflow_list(const df_http_req *r, df_http_reply *rep, const char *what)
{
    const df_http_hooks *k = &r->h->hooks;
    if (!k->workflows) {
        no_hook(rep, what);
        return NULL;
    }
    df_errlist errs = {0};
    json_t *list = NULL;
    int rc = k->workflows(k->ud, &list, &errs);
    if (rc)
        df_http_error_code(rep, rc, &errs);
    else if (!json_is_array(list))
        df_http_error(rep, 500, "the workflow list is not an array");
    df_errlist_clear(&errs);
    if (rc || !json_is_array(list)) {
        json_decref(list);
        return NULL;
    }
    return list;
}

void df_http_get_workflows(const df_http_req *r, df_http_reply *rep)
{
    json_t *list = workflow_list(r, rep, "GET /api/v1/workflows");
    if (list)
        df_http_json(rep, 200, list);
}

/* The file of the workflow named name in list (borrowed), or NULL. */
static const char *file_of(const json_t *list, const char *name)
{
    size_t i;
    json_t *w;
    json_array_foreach(list, i, w)
    {
        const char *n = json_string_value(json_object_get(w, "name"));
        if (n && strcmp(n, name) == 0)
            return json_string_value(json_object_get(w, "file"));
    }
    return NULL;
}

/* The fire times of the workflow in file (count of them after from_ms). */
static void fire_times(df_http_reply *rep, const char *file, long long from_ms, size_t count)
{
    df_errlist errs = {0};
    df_workflow *wf = NULL;
    json_t *times = NULL;
    int rc = df_workflow_load(file, &wf, &errs);
    if (rc == DF_EINPUT)
        rc = DF_EREFUSED; /* an invalid workflow: 409 */
    if (!rc)
        rc = df_workflow_fire_times(wf, from_ms, count, &times, &errs);
    if (rc == DF_EINPUT)
        rc = DF_EREFUSED; /* no schedule: 409 */
    if (rc) {
        df_http_error_code(rep, rc, &errs);
    } else {
        json_t *utc = json_array();
        size_t i;
        json_t *t;
        json_array_foreach(times, i, t) json_array_append(utc, json_object_get(t, "utc"));
        df_http_json(rep, 200, json_pack("{so}", "fire_times", utc));
    }
    json_decref(times);
    df_workflow_free(wf);
    df_errlist_clear(&errs);
}

void df_http_get_schedule(const df_http_req *r, df_http_reply *rep, const char *name)
{
    long long count;
    if (df_http_int_arg(r, rep, "count", 1, 1000, 10, &count))
        return;
    int64_t from_ms;
    const char *from = r->arg(r, "from");
    if (from && *from) {
        if (df_parse_time(from, &from_ms) != 0) {
            df_http_error(rep, 400,
                          "query argument from must be an ISO-8601 time with its offset "
                          "(2027-03-28T01:00:00Z)");
            return;
        }
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        from_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    json_t *list = workflow_list(r, rep, "GET /api/v1/workflows/NAME/schedule");
    if (!list)
        return;
    const char *file = file_of(list, name);
    if (!file)
        df_http_error(rep, 404, "unknown workflow \"%s\"", name);
    else
        fire_times(rep, file, from_ms, (size_t)count);
    json_decref(list);
}

void df_http_start_run(const df_http_req *r, df_http_reply *rep, const char *name)
{
    static const char *const keys[] = {"params", NULL};
    const df_http_hooks *k = &r->h->hooks;
    json_t *body = NULL;
    if (df_http_body_object(r, rep, keys, &body))
        return;
    json_t *params = json_object_get(body, "params");
    if (params && !json_is_object(params)) {
        df_http_error(rep, 400, "\"params\" must be an object {NAME: value}");
    } else if (!k->start_run) {
        no_hook(rep, "POST /api/v1/workflows/NAME/runs");
    } else {
        df_errlist errs = {0};
        long long id = 0;
        int rc = k->start_run(k->ud, name, params, &id, &errs);
        if (rc) {
            df_http_error_code(rep, rc, &errs);
        } else {
            df_engine *e = df_http_reader_take(r->h);
            json_t *run = df_http_run_object(e, id, rep);
            df_http_reader_give(r->h, e);
            if (run) {
                df_http_json(rep, 201, run);
                snprintf(rep->location, sizeof rep->location, "/api/v1/runs/%lld", id);
            }
        }
        df_errlist_clear(&errs);
    }
    json_decref(body);
}
