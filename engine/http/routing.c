/* http/routing: which handler answers a request (SPEC §9's table): the path split into its
 * segments, the method checked (405 with Allow otherwise), run ids parsed (a positive integer,
 * else 404: no such run can exist). Unknown paths are 404. Besides SPEC's table: the web UI's
 * pages (/ and /runs/ID) and the run page's data (/api/v1/runs/ID/report). */
#include "http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEGS 8

/* Splits path into at most MAX_SEGS segments (copied into buf). Returns their number, or -1 when
 * there are more. */
static int split_path(const char *path, char *buf, size_t len, char *segs[MAX_SEGS])
{
    snprintf(buf, len, "%s", path);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == MAX_SEGS)
            return -1;
        segs[n++] = t;
    }
    return n;
}

static bool method_is(const df_http_req *r, df_http_reply *rep, const char *m)
{
    if (strcmp(r->method, m) == 0 || (strcmp(m, "GET") == 0 && strcmp(r->method, "HEAD") == 0))
        return true;
    rep->allow = strcmp(m, "GET") == 0 ? "GET, HEAD" : m;
    df_http_error(rep, 405, "%s %s: use %s", r->method, r->path, m);
    return false;
}

/* A run id segment: a positive integer. */
static bool run_id_of(const char *seg, long long *id)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(seg, &end, 10);
    if (!*seg || *end || errno || v <= 0 || seg[0] == '+' || seg[0] == '-')
        return false;
    *id = v;
    return true;
}

/* /api/v1/runs/... (segs after "runs"). */
static void route_runs(const df_http_req *r, df_http_reply *rep, char **segs, int n)
{
    long long id = 0;
    if (n == 0) {
        if (method_is(r, rep, "GET"))
            df_http_get_runs(r, rep);
        return;
    }
    if (!run_id_of(segs[0], &id)) {
        df_http_error(rep, 404, "unknown run \"%s\" (run ids are positive integers)", segs[0]);
        return;
    }
    if (n == 1) {
        if (method_is(r, rep, "GET"))
            df_http_get_run(r, rep, id);
    } else if (n == 2 && strcmp(segs[1], "report") == 0) {
        if (method_is(r, rep, "GET"))
            df_http_get_run_report(r, rep, id);
    } else if (n == 2 && strcmp(segs[1], "events") == 0) {
        if (method_is(r, rep, "GET"))
            df_http_get_events(r, rep, id);
    } else if (n == 2 && (strcmp(segs[1], "cancel") == 0 || strcmp(segs[1], "retry") == 0 ||
                          strcmp(segs[1], "resume") == 0)) {
        if (method_is(r, rep, "POST"))
            df_http_run_action(r, rep, id, segs[1]);
    } else if (n == 4 && strcmp(segs[1], "tasks") == 0 && strcmp(segs[3], "attempts") == 0) {
        if (method_is(r, rep, "GET"))
            df_http_get_attempts(r, rep, id, segs[2]);
    } else {
        df_http_error(rep, 404, "no such resource: %s", r->path);
    }
}

/* /api/v1/workflows/... (segs after "workflows"). */
static void route_workflows(const df_http_req *r, df_http_reply *rep, char **segs, int n)
{
    if (n == 0) {
        if (method_is(r, rep, "GET"))
            df_http_get_workflows(r, rep);
    } else if (n == 2 && strcmp(segs[1], "schedule") == 0) {
        if (method_is(r, rep, "GET"))
            df_http_get_schedule(r, rep, segs[0]);
    } else if (n == 2 && strcmp(segs[1], "runs") == 0) {
        if (method_is(r, rep, "POST"))
            df_http_start_run(r, rep, segs[0]);
    } else {
        df_http_error(rep, 404, "no such resource: %s", r->path);
    }
}

void df_http_route(const df_http_req *r, df_http_reply *rep)
{
    char buf[2048];
    char *segs[MAX_SEGS];
    int n = strlen(r->path) < sizeof buf ? split_path(r->path, buf, sizeof buf, segs) : -1;
    if (n < 0) {
        df_http_error(rep, 404, "no such resource");
    } else if (n == 0) {
        if (method_is(r, rep, "GET"))
            df_http_get_index(r, rep);
    } else if (n == 2 && strcmp(segs[0], "runs") == 0) {
        long long id = 0;
        if (!run_id_of(segs[1], &id))
            df_http_error(rep, 404, "unknown run \"%s\" (run ids are positive integers)", segs[1]);
        else if (method_is(r, rep, "GET"))
            df_http_get_ui_run(r, rep, id);
    } else if (n == 1 && strcmp(segs[0], "healthz") == 0) {
        if (method_is(r, rep, "GET"))
            df_http_json(rep, 200, json_pack("{sb}", "ok", 1));
    } else if (n == 1 && strcmp(segs[0], "metrics") == 0) {
        if (method_is(r, rep, "GET"))
            df_http_get_metrics(r, rep);
    } else if (n >= 3 && strcmp(segs[0], "api") == 0 && strcmp(segs[1], "v1") == 0 &&
               strcmp(segs[2], "runs") == 0) {
        route_runs(r, rep, segs + 3, n - 3);
    } else if (n >= 3 && strcmp(segs[0], "api") == 0 && strcmp(segs[1], "v1") == 0 &&
               strcmp(segs[2], "workflows") == 0) {
        route_workflows(r, rep, segs + 3, n - 3);
    } else {
        df_http_error(rep, 404, "no such resource: %s", r->path);
    }
}
