/* http/run_page: the run page (engine/http/assets/run_page.html, embedded at build time) and its
 * data: df_run_page_data reads a run's status, DAG and attempts (for `dagflow report` and for the
 * web UI's GET /api/v1/runs/ID/report); df_run_page_html puts such data inside the page (the
 * report's one file; the web UI serves the page with null data, and it fetches the data);
 * df_run_page_live_data adds the run's last event seq to that data, and df_run_page_delta gives
 * the live page only what changed after such a seq (GET /api/v1/runs/ID/report?since=SEQ). */
#include "http_internal.h"

#include <stdint.h>
#include <stdio.h>
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

/* Events read per look by df_run_page_delta; past DELTA_MAX_EVENTS changes the whole data is
 * sent again instead (as many changes make a delta about as big). */
#define EVENTS_PAGE 5000
#define DELTA_MAX_EVENTS 20000

/* Reads the run's events after since, page by page: *last the highest seq read (since when none);
 * tids gets the ids of the tasks they changed, keys the "ID" or "ID[N]" keys of the instances
 * (sets: objects of true). *many is set and reading stops once more than DELTA_MAX_EVENTS were
 * read. */
static int changed_since(df_engine *e, long long run_id, long long since, json_t *tids,
                         json_t *keys, long long *last, bool *many, df_errlist *errs)
{
    *last = since;
    for (size_t seen = 0;;) {
        json_t *o = NULL;
        int rc = df_engine_run_events(e, run_id, *last, EVENTS_PAGE, &o, errs);
        if (rc)
            return rc;
        json_t *evs = json_object_get(o, "events"), *ev;
        size_t i, n = json_array_size(evs);
        json_array_foreach(evs, i, ev)
        {
            const char *tid = json_string_value(json_object_get(ev, "task_id"));
            json_t *mi = json_object_get(ev, "map_index");
            char key[512];
            if (!tid || (size_t)snprintf(key, sizeof key, json_is_integer(mi) ? "%s[%lld]" : "%s",
                                         tid, (long long)json_integer_value(mi)) >= sizeof key)
                continue;
            json_object_set_new(tids, tid, json_true());
            json_object_set_new(keys, key, json_true());
        }
        *last = json_integer_value(json_object_get(o, "last_seq"));
        json_decref(o);
        seen += n;
        if (n < EVENTS_PAGE)
            return 0;
        if (seen > DELTA_MAX_EVENTS) {
            *many = true;
            return 0;
        }
    }
}

/* Whether the run has an event with a seq above x (*yes). */
static int has_after(df_engine *e, long long run_id, long long x, bool *yes, df_errlist *errs)
{
    json_t *o = NULL;
    int rc = df_engine_run_events(e, run_id, x, 1, &o, errs);
    *yes = !rc && json_array_size(json_object_get(o, "events")) > 0;
    json_decref(o);
    return rc;
}

/* The run's highest event seq (0 when none), by doubling then halving with one-event reads:
 * about 2 log2(seq) small reads, where reading every event of a 5,000-task run took 0.4 s. */
static int last_event_seq(df_engine *e, long long run_id, long long *last, df_errlist *errs)
{
    bool yes = false;
    long long lo = 0, hi = 1024; /* an event above lo; none above hi, once found */
    int rc = has_after(e, run_id, 0, &yes, errs);
    *last = 0;
    if (rc || !yes)
        return rc;
    while (!(rc = has_after(e, run_id, hi, &yes, errs)) && yes && hi < INT64_MAX / 2) {
        lo = hi;
        hi *= 2;
    }
    while (!rc && hi - lo > 1) {
        long long mid = lo + (hi - lo) / 2;
        if (!(rc = has_after(e, run_id, mid, &yes, errs)))
            *(yes ? &lo : &hi) = mid;
    }
    *last = hi;
    return rc;
}

int df_run_page_live_data(df_engine *e, long long run_id, json_t **out, df_errlist *errs)
{
    *out = NULL;
    long long last = 0;
    int rc = last_event_seq(e, run_id, &last, errs);
    if (!rc)
        rc = df_run_page_data(e, run_id, false, out, errs);
    if (!rc)
        json_object_set_new(*out, "last_seq", json_integer(last));
    return rc;
}

/* The delta's "run": the run's object with only the tasks named in tids, and their attempts (of
 * the instances named in keys) into att. */
static void delta_tasks(df_engine *e, json_t *run, const json_t *tids, const json_t *keys,
                        json_t *att)
{
    json_t *kept = json_array(), *t, *inst;
    size_t i, j;
    json_array_foreach(json_object_get(run, "tasks"), i, t)
    {
        const char *tid = json_string_value(json_object_get(t, "id"));
        if (!tid || !json_object_get(tids, tid))
            continue;
        json_array_append(kept, t);
        json_t *insts = json_object_get(t, "instances");
        if (!json_is_array(insts)) {
            add_attempts(e, json_integer_value(json_object_get(run, "run_id")), tid, false, att);
            continue;
        }
        json_array_foreach(insts, j, inst)
        {
            char key[512];
            long long mi = json_integer_value(json_object_get(inst, "map_index"));
            if ((size_t)snprintf(key, sizeof key, "%s[%lld]", tid, mi) < sizeof key &&
                json_object_get(keys, key))
                add_attempts(e, json_integer_value(json_object_get(run, "run_id")), key, false,
                             att);
        }
    }
    json_object_set_new(run, "tasks", kept);
}

int df_run_page_delta(df_engine *e, long long run_id, long long since, json_t **out,
                      df_errlist *errs)
{
    *out = NULL;
    json_t *tids = json_object(), *keys = json_object(), *run = NULL;
    long long last = since;
    bool many = false;
    int rc = changed_since(e, run_id, since, tids, keys, &last, &many, errs);
    if (!rc && many) {
        rc = df_run_page_live_data(e, run_id, out, errs);
    } else if (!rc && !(rc = df_engine_run_status(e, run_id, &run, errs))) {
        json_t *att = json_object();
        delta_tasks(e, run, tids, keys, att);
        *out = json_pack("{so so sI sI sb}", "run", run, "attempts", att, "since",
                         (json_int_t)since, "last_seq", (json_int_t)last, "partial", 1);
        rc = *out ? 0 : DF_ENOMEM;
    }
    json_decref(tids);
    json_decref(keys);
    return rc;
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
