/* workflow_schedule: the workflow loader's `schedule` object (SPEC §9) into wf->schedule
 * (schedule.h): cron (a string or an array of strings, each parsed: errors name the file, the
 * key and the cron field), interval_ms, timezone (a zone of the system's tz database), start_at
 * and end_at (ISO-8601 with an offset), catchup, max_active_runs, overlap and params (names the
 * workflow's `params` declare). Strict like the rest of the loader: every error reported, unknown
 * keys and values with "did you mean". See workflow_loader.h. */
#include "workflow_loader.h"

#include <stdio.h>
#include <string.h>

#include "schedule.h"
#include "suggest.h"

static const char *const schedule_keys[] = {"cron",     "interval_ms",     "timezone",
                                            "start_at", "end_at",          "catchup",
                                            "overlap",  "max_active_runs", "params"};
#define WHERE "schedule"

/* One cron expression (key is "cron" or "cron[N]"). */
static void load_cron(df_wfl_loader *L, df_schedule *s, const char *key, const json_t *v)
{
    char err[256];
    if (!df_wfl_want_string(L, WHERE, key, v, true))
        return;
    const char *expr = json_string_value(v);
    int rc = df_schedule_add_cron(s, expr, err, sizeof err);
    if (rc == -1)
        df_wfl_err(L, WHERE, "%s: \"%.100s\": %s", key, expr, err);
    else if (rc != 0)
        df_wfl_err(L, WHERE, "out of memory");
}

static void load_crons(df_wfl_loader *L, df_schedule *s, const json_t *v)
{
    char d[128];
    if (json_is_string(v)) {
        load_cron(L, s, "cron", v);
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            char key[32];
            snprintf(key, sizeof key, "cron[%zu]", i);
            load_cron(L, s, key, json_array_get(v, i));
        }
    } else {
        df_wfl_err(L, WHERE, "cron: must be a string or a non-empty array of strings, got %s",
                   json_is_array(v) ? "an empty array" : df_wfl_describe(v, d, sizeof d));
    }
}

/* One of the names of an enum-like key; returns its index, or -1 after reporting it. */
static int load_choice(df_wfl_loader *L, const char *key, const json_t *v, const char *const *names,
                       size_t n, const char *expected)
{
    if (!df_wfl_want_string(L, WHERE, key, v, false))
        return -1;
    const char *t = json_string_value(v);
    for (size_t i = 0; i < n; i++)
        if (strcmp(t, names[i]) == 0)
            return (int)i;
    const char *s = df_suggest(t, names, n);
    df_wfl_err(L, WHERE, "%s: unknown value \"%.100s\"%s%s%s (expected %s)", key, t,
               s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "", expected);
    return -1;
}

/* start_at / end_at: an ISO-8601 time with an offset. */
static bool load_time(df_wfl_loader *L, const char *key, const json_t *v, int64_t *ms)
{
    if (!df_wfl_want_string(L, WHERE, key, v, true))
        return false;
    if (df_tz_parse_time(json_string_value(v), ms) == 0)
        return true;
    df_wfl_err(L, WHERE,
               "%s: \"%.100s\" is not an ISO-8601 time with an offset (such as "
               "\"2027-01-01T09:00:00Z\" or \"2027-01-01T09:00:00+01:00\")",
               key, json_string_value(v));
    return false;
}

static void load_timezone(df_wfl_loader *L, df_schedule *s, const json_t *v)
{
    char err[300];
    df_tz *tz = NULL;
    if (!df_wfl_want_string(L, WHERE, "timezone", v, true))
        return;
    if (df_tz_open(json_string_value(v), &tz, err, sizeof err) != 0) {
        df_wfl_err(L, WHERE, "timezone: %s", err);
        return;
    }
    df_tz_free(s->tz);
    s->tz = tz;
}

/* params: an object whose names the workflow's `params` declare (as --param's). */
static void load_params(df_wfl_loader *L, df_schedule *s, const json_t *v)
{
    char d[128];
    if (!json_is_object(v)) {
        df_wfl_err(L, WHERE, "params: must be an object, got %s", df_wfl_describe(v, d, sizeof d));
        return;
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (L->wf->params && json_object_get(L->wf->params, k))
            continue;
        df_suggester sg;
        df_suggest_init(&sg, k);
        const char *pk;
        json_t *px;
        json_object_foreach(L->wf->params, pk, px) df_suggest_add(&sg, pk);
        const char *best = df_suggest_best(&sg);
        df_wfl_err(L, WHERE, "params: \"%.100s\" is not a param of the workflow%s%s%s", k,
                   best ? "; did you mean \"" : " (declare it in \"params\")", best ? best : "",
                   best ? "\"?" : "");
    }
    json_decref(s->params);
    s->params = json_incref((json_t *)v);
}

/* One key of the object. */
static void load_key(df_wfl_loader *L, df_schedule *s, const char *key, const json_t *v)
{
    int c;
    if (strcmp(key, "cron") == 0) {
        load_crons(L, s, v);
    } else if (strcmp(key, "interval_ms") == 0) {
        df_wfl_want_int(L, WHERE, key, v, 1000, true, &s->interval_ms);
    } else if (strcmp(key, "timezone") == 0) {
        load_timezone(L, s, v);
    } else if (strcmp(key, "start_at") == 0) {
        s->has_start = load_time(L, key, v, &s->start_ms);
    } else if (strcmp(key, "end_at") == 0) {
        s->has_end = load_time(L, key, v, &s->end_ms);
    } else if (strcmp(key, "catchup") == 0) {
        if ((c = load_choice(L, key, v, df_catchup_names, 3, "none, latest or all")) >= 0)
            s->catchup = (df_catchup)c;
    } else if (strcmp(key, "overlap") == 0) {
        if ((c = load_choice(L, key, v, df_overlap_names, 3, "skip, queue or cancel_running")) >= 0)
            s->overlap = (df_overlap)c;
    } else if (strcmp(key, "max_active_runs") == 0) {
        df_wfl_want_int(L, WHERE, key, v, 1, true, &s->max_active_runs);
    } else if (strcmp(key, "params") == 0) {
        load_params(L, s, v);
    } else {
        df_wfl_unknown_key(L, WHERE, key, schedule_keys, DF_WFL_COUNT(schedule_keys));
    }
}

void df_wfl_load_schedule(df_wfl_loader *L, const json_t *v)
{
    char d[128];
    if (!json_is_object(v)) {
        df_wfl_err(L, NULL, "schedule: must be an object, got %s", df_wfl_describe(v, d, sizeof d));
        return;
    }
    df_schedule *s = df_schedule_new();
    if (!s) {
        df_wfl_err(L, NULL, "out of memory");
        return;
    }
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)v, key, x) load_key(L, s, key, x);
    bool has_cron = json_object_get(v, "cron"), has_interval = json_object_get(v, "interval_ms");
    if (has_cron && has_interval)
        df_wfl_err(L, WHERE, "give \"cron\" or \"interval_ms\", not both");
    else if (!has_cron && !has_interval)
        df_wfl_err(L, WHERE, "missing required key \"cron\" (or \"interval_ms\")");
    if (s->has_start && s->has_end && s->end_ms < s->start_ms)
        df_wfl_err(L, WHERE, "end_at: is before start_at");
    L->wf->schedule = s;
}
