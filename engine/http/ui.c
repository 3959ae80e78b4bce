/* http/ui: the web UI (SPEC §9 "GET /"): its two pages, embedded at build time from
 * engine/http/assets/ — index.html at / (workflows with "run now", runs with filters and paging)
 * and run_page.html at /runs/ID (the page `dagflow report` writes, here with null data: it
 * fetches GET /api/v1/runs/ID/report and follows the run's events) — and that report endpoint,
 * the run page's data as one JSON object, or with ?since=SEQ only what changed after the event
 * SEQ (the live page's refreshes). The pages need no token (they hold no data); the endpoint,
 * under /api/, does. */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>

extern const char df_asset_index[];

void df_http_get_index(const df_http_req *r, df_http_reply *rep)
{
    (void)r;
    rep->status = 200;
    rep->text = strdup(df_asset_index);
    rep->content_type = "text/html; charset=utf-8";
    if (!rep->text)
        df_http_error(rep, 500, "out of memory");
}

void df_http_get_ui_run(const df_http_req *r, df_http_reply *rep, long long run_id)
{
    (void)r;
    (void)run_id; /* the page reads it from its URL */
    json_t *none = json_null();
    if (df_run_page_html(none, &rep->text) != 0) {
        df_http_error(rep, 500, "out of memory");
        return;
    }
    rep->status = 200;
    rep->content_type = "text/html; charset=utf-8";
}

void df_http_get_run_report(const df_http_req *r, df_http_reply *rep, long long run_id)
{
    long long since;
    if (df_http_int_arg(r, rep, "since", 0, INT64_MAX, -1, &since))
        return;
    df_errlist errs = {0};
    json_t *data = NULL;
    df_engine *e = df_http_reader_take(r->h);
    int rc = since < 0 ? df_run_page_live_data(e, run_id, &data, &errs)
                       : df_run_page_delta(e, run_id, since, &data, &errs);
    df_http_reader_give(r->h, e);
    if (rc == DF_ENOTFOUND)
        df_http_error(rep, 404, "unknown run %lld", run_id);
    else if (rc)
        df_http_error_code(rep, rc, &errs);
    else
        df_http_json(rep, 200, data);
    df_errlist_clear(&errs);
}
