/* http/run_page: the run page (engine/http/assets/run_page.html, embedded at build time) and its
 * data: df_run_page_data reads a run's status, DAG and attempts (for `dagflow report` and for the
 * web UI's GET /api/v1/runs/ID/report); df_run_page_html puts such data inside the page (the
 * report's one file; the web UI serves the page with null data, and it fetches the data). */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>

extern const char df_asset_run_page[];

/* Adds to att the attempts of task key ("ID" or "ID[N]"); without texts, their log, stdout and
 * stderr are left out (the live page fetches one task's on demand). A task with no attempt
 * readable (a mapped task's own row) is left out. */
static void add_attempts(df_engine *e, long long run_id, const char *key, bool texts, json_t *att)
{
    json_t *a = NULL;
    if (df_engine_task_attempts(e, run_id, key, &a, NULL) != 0)
        return;
    json_t *list = json_object_get(a, "attempts");
    size_t i;
    json_t *row;
    json_array_foreach(texts ? NULL : list, i, row)
    {
        json_object_del(row, "log");
        json_object_del(row, "stdout");
        json_object_del(row, "stderr");
    }
    if (json_is_array(list))
        json_object_set(att, key, list);
    json_decref(a);
}

int df_run_page_data(df_engine *e, long long run_id, bool texts, json_t **out, df_errlist *errs)
{
    *out = NULL;
    json_t *run = NULL, *dag = NULL;
    int rc = df_engine_run_status(e, run_id, &run, errs);
    if (!rc)
        rc = df_engine_run_dag(e, run_id, &dag, errs);
    if (rc) {
        json_decref(run);
        return rc;
    }
    json_t *att = json_object();
    size_t i, j;
    json_t *t, *inst;
    json_array_foreach(json_object_get(run, "tasks"), i, t)
    {
        const char *tid = json_string_value(json_object_get(t, "id"));
        json_t *insts = json_object_get(t, "instances");
        if (!tid)
            continue;
        if (!json_is_array(insts)) {
            add_attempts(e, run_id, tid, texts, att);
            continue;
        }
        json_array_foreach(insts, j, inst)
        {
            char key[512];
            long long mi = json_integer_value(json_object_get(inst, "map_index"));
            if ((size_t)snprintf(key, sizeof key, "%s[%lld]", tid, mi) < sizeof key)
                add_attempts(e, run_id, key, texts, att);
        }
    }
    *out = json_pack("{so so so}", "run", run, "dag", dag, "attempts", att);
    return *out ? 0 : DF_ENOMEM;
}

int df_run_page_html(const json_t *data, char **html)
{
    *html = NULL;
    /* JSON_ESCAPE_SLASH: "</script>" in a log becomes "<\/script>", inert inside the element */
    char *json =
        json_dumps(data, JSON_COMPACT | JSON_ESCAPE_SLASH | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
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
