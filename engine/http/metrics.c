/* http/metrics: GET /metrics (SPEC §9) in Prometheus's text exposition format (version 0.0.4:
 * `# HELP` and `# TYPE` before each family, label values escaped, histograms as cumulative
 * `_bucket{le=...}` series ending with `+Inf`, then `_sum` and `_count`). The gauges of runs and
 * task instances by state come from the store (a reader engine); the engine's own series (attempts,
 * latencies, queue, workers, breakers, admission) from the hosting program's metrics hook, and
 * are left out without one. */
#include "http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A label value with \, " and newline escaped. */
static void label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A gauge or counter family with one label, a series per state name given (0 when counts lacks
 * it), then any other key of counts. */
static void by_label(FILE *f, const char *name, const char *type, const char *help, const char *lbl,
                     const json_t *counts, const char *const *names)
{
    family(f, name, type, help);
    for (size_t i = 0; names && names[i]; i++)
        fprintf(f, "%s{%s=\"%s\"} %lld\n", name, lbl, names[i],
                (long long)json_integer_value(json_object_get(counts, names[i])));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)counts, key, v)
    {
        bool listed = false;
        for (size_t i = 0; names && names[i]; i++)
            listed = listed || strcmp(names[i], key) == 0;
        if (listed)
            continue;
        fprintf(f, "%s{%s=\"", name, lbl);
        label(f, key);
        fprintf(f, "\"} %.17g\n", json_number_value(v));
    }
}

static void scalar(FILE *f, const char *name, const char *type, const char *help, const json_t *v)
{
    if (!json_is_number(v))
        return;
    family(f, name, type, help);
    fprintf(f, "%s %.17g\n", name, json_number_value(v));
}

static void histogram(FILE *f, const char *name, const char *help, const json_t *h)
{
    if (!json_is_object(h))
        return;
    family(f, name, "histogram", help);
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(h, "buckets"), i, b)
    {
        fprintf(f, "%s_bucket{le=\"%.17g\"} %lld\n", name, json_number_value(json_array_get(b, 0)),
                (long long)json_integer_value(json_array_get(b, 1)));
    }
    long long count = (long long)json_integer_value(json_object_get(h, "count"));
    fprintf(f, "%s_bucket{le=\"+Inf\"} %lld\n", name, count);
    fprintf(f, "%s_sum %.17g\n", name, json_number_value(json_object_get(h, "sum")));
    fprintf(f, "%s_count %lld\n", name, count);
}

static const char *const run_states[] = {"RUNNING",     "SUCCESS",   "FAILED", "INVALID",
                                         "INTERRUPTED", "CANCELLED", NULL};
static const char *const task_states[] = {
    "PENDING",         "QUEUED",  "RUNNING", "UP_FOR_RETRY", "SUCCESS", "FAILED",
    "UPSTREAM_FAILED", "SKIPPED", "INVALID", "CANCELLED",    NULL};

/* The engine's series (the hook's object). */
static void engine_series(FILE *f, const json_t *e)
{
    scalar(f, "dagflow_attempts_started_total", "counter", "Attempts started by this engine.",
           json_object_get(e, "attempts_started"));
    const json_t *fin = json_object_get(e, "attempts_finished");
    if (json_is_object(fin))
        by_label(f, "dagflow_attempts_finished_total", "counter",
                 "Attempts finished by this engine, by outcome.", "outcome", fin, NULL);
    histogram(f, "dagflow_ready_to_running_seconds",
              "Time from a task instance becoming ready to its attempt running.",
              json_object_get(e, "ready_to_running_seconds"));
    scalar(f, "dagflow_queue_depth", "gauge", "Attempts waiting in the pool's queue.",
           json_object_get(e, "queue_depth"));
    const json_t *w = json_object_get(e, "pool_workers");
    if (json_is_object(w))
        by_label(f, "dagflow_pool_workers", "gauge", "Pool worker threads: current, busy, peak.",
                 "kind", w, NULL);
    const json_t *br = json_object_get(e, "breaker_open");
    if (json_is_object(br))
        by_label(f, "dagflow_breaker_open", "gauge", "1 while the circuit breaker is open.",
                 "breaker", br, NULL);
    histogram(f, "dagflow_store_commit_seconds", "Time of the engine's store commits.",
              json_object_get(e, "store_commit_seconds"));
    histogram(f, "dagflow_schedule_lateness_seconds",
              "How late scheduled runs started after their fire time.",
              json_object_get(e, "schedule_lateness_seconds"));
    scalar(f, "dagflow_admission_paused", "gauge",
           "1 while the engine starts no new attempt (admission paused).",
           json_object_get(e, "admission_paused"));
}

int df_http_metrics_text(const json_t *counts, const json_t *engine, char **text)
{
    *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(text, &len);
    if (!f)
        return DF_ENOMEM;
    by_label(f, "dagflow_runs", "gauge",
             "Runs in the store by state (a RUNNING run whose engine stopped is INTERRUPTED).",
             "state", json_object_get(counts, "runs"), run_states);
    by_label(f, "dagflow_task_instances", "gauge",
             "Task instances of the runs not finished, by state.", "state",
             json_object_get(counts, "task_instances"), task_states);
    if (engine)
        engine_series(f, engine);
    if (fclose(f) != 0) {
        free(*text);
        *text = NULL;
        return DF_ENOMEM;
    }
    return 0;
}

void df_http_get_metrics(const df_http_req *r, df_http_reply *rep)
{
    df_errlist errs = {0};
    json_t *counts = NULL, *engine = NULL;
    df_engine *e = df_http_reader_take(r->h);
    int rc = df_engine_state_counts(e, &counts, &errs);
    df_http_reader_give(r->h, e);
    const df_http_hooks *k = &r->h->hooks;
    if (!rc && k->metrics)
        rc = k->metrics(k->ud, &engine, &errs);
    char *text = NULL;
    if (!rc)
        rc = df_http_metrics_text(counts, engine, &text);
    if (rc) {
        df_http_error_code(rep, rc, &errs);
    } else {
        rep->status = 200;
        rep->text = text;
        rep->content_type = "text/plain; version=0.0.4; charset=utf-8";
    }
    json_decref(counts);
    json_decref(engine);
    df_errlist_clear(&errs);
}
