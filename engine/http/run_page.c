/* http/run_page: the run page (engine/http/assets/run_page.html, embedded at build time) with a
 * run's data put inside it: what `dagflow report` writes, and what the web UI's run page can
 * serve. */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>

extern const char df_asset_run_page[];

int df_run_page_html(const json_t *data, char **html)
{
    *html = NULL;
    /* JSON_ESCAPE_SLASH: "</script>" in a log becomes "<\/script>", inert inside the element */
    char *json = json_dumps(data, JSON_COMPACT | JSON_ESCAPE_SLASH | JSON_ENSURE_ASCII);
    if (!json)
        return DF_ENOMEM;
    const char *mark = "/*DAGFLOW_DATA*/";
    const char *at = strstr(df_asset_run_page, mark);
    size_t pre = at ? (size_t)(at - df_asset_run_page) : strlen(df_asset_run_page);
    size_t post_len = at ? strlen(at + strlen(mark)) : 0;
    size_t jl = strlen(json);
    char *out = malloc(pre + jl + post_len + 1);
    if (!out) {
        free(json);
        return DF_ENOMEM;
    }
    memcpy(out, df_asset_run_page, pre);
    memcpy(out + pre, json, jl);
    if (at)
        memcpy(out + pre + jl, at + strlen(mark), post_len);
    out[pre + jl + post_len] = '\0';
    free(json);
    *html = out;
    return 0;
}
