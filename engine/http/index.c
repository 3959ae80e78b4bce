/* http/index: GET / — a page that says what this server offers (the API's endpoints) and needs
 * no token, so that a browser pointed at the server learns where to go. Static text, embedded
 * here. */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>

static const char page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>dagflow</title>\n<style>body{font:15px/1.5 system-ui,sans-serif;max-width:50em;"
    "margin:2em auto;padding:0 1em}code{background:#f3f3f3;padding:0 .2em}</style></head>\n"
    "<body><h1>dagflow</h1>\n<p>This is dagflow's HTTP API (JSON in and out). The endpoints:</p>\n"
    "<ul>\n"
    "<li><code>GET /api/v1/workflows</code>, <code>GET /api/v1/workflows/NAME/schedule</code>, "
    "<code>POST /api/v1/workflows/NAME/runs</code></li>\n"
    "<li><code>GET /api/v1/runs?workflow=&amp;state=&amp;limit=&amp;before=</code>, "
    "<code>GET /api/v1/runs/ID</code></li>\n"
    "<li><code>GET /api/v1/runs/ID/tasks/TASK/attempts</code>, "
    "<code>GET /api/v1/runs/ID/events?after=&amp;wait_ms=</code></li>\n"
    "<li><code>POST /api/v1/runs/ID/cancel</code>, <code>/retry</code>, <code>/resume</code></li>\n"
    "<li><code>GET /metrics</code> (Prometheus), <code>GET /healthz</code></li>\n</ul>\n"
    "<p>With a token file, <code>/api/</code> and <code>/metrics</code> need "
    "<code>Authorization: Bearer TOKEN</code>. The web UI is not part of this build.</p>\n"
    "</body></html>\n";

void df_http_get_index(const df_http_req *r, df_http_reply *rep)
{
    (void)r;
    rep->status = 200;
    rep->text = strdup(page);
    rep->content_type = "text/html; charset=utf-8";
    if (!rep->text)
        df_http_error(rep, 500, "out of memory");
}
