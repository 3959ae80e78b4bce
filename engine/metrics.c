/* metrics: an engine's own counters for GET /metrics (see metrics.h). */
#include "metrics.h"

#include <stdlib.h>
#include <string.h>

static const double bounds[DF_METRICS_N_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                    0.25,  0.5,    1,     2.5,  5,     10};
/* A scheduled run's lateness: ms when the loop is idle, up to minutes when a catch-up or a queued
 * fire time waits for a place. */
static const double lateness_bounds[DF_METRICS_N_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60, 300, 3600};

void df_metrics_init(df_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    atomic_init(&m->admission_paused, false);
}

void df_metrics_free(df_metrics *m)
{
    for (size_t i = 0; i < m->n_breakers; i++)
        free(m->breakers[i]);
    free(m->breakers);
    free(m->breaker_open);
    pthread_mutex_destroy(&m->mu);
}

static void observe_in(df_histogram *h, const double *bnd, double s)
{
    if (s < 0)
        s = 0;
    for (size_t i = 0; i < DF_METRICS_N_BUCKETS; i++)
        if (s <= bnd[i]) {
            h->buckets[i]++;
            break;
        }
    h->count++;
    h->sum += s;
}

static void observe(df_histogram *h, double s)
{
    observe_in(h, bounds, s);
}

void df_metrics_attempt_started(df_metrics *m)
{
    pthread_mutex_lock(&m->mu);
    m->attempts_started++;
    pthread_mutex_unlock(&m->mu);
}

void df_metrics_attempt_finished(df_metrics *m, df_attempt_outcome outcome)
{
    if ((int)outcome < 0 || outcome >= DF_AO__COUNT)
        return;
    pthread_mutex_lock(&m->mu);
    m->attempts_finished[outcome]++;
    pthread_mutex_unlock(&m->mu);
}

void df_metrics_ready_to_running(df_metrics *m, int64_t ms)
{
    pthread_mutex_lock(&m->mu);
    observe(&m->ready_to_running, (double)ms / 1000.0);
    pthread_mutex_unlock(&m->mu);
}

void df_metrics_store_commit(df_metrics *m, double seconds)
{
    pthread_mutex_lock(&m->mu);
    observe(&m->store_commit, seconds);
    pthread_mutex_unlock(&m->mu);
}

void df_metrics_schedule_lateness(df_metrics *m, int64_t ms)
{
    pthread_mutex_lock(&m->mu);
    observe_in(&m->schedule_lateness, lateness_bounds, (double)ms / 1000.0);
    pthread_mutex_unlock(&m->mu);
}

void df_metrics_breaker(df_metrics *m, const char *name, bool open)
{
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->n_breakers && strcmp(m->breakers[i], name) != 0)
        i++;
    if (i == m->n_breakers) {
        char **b = realloc(m->breakers, (i + 1) * sizeof *b);
        if (b)
            m->breakers = b;
        bool *o = b ? realloc(m->breaker_open, (i + 1) * sizeof *o) : NULL;
        if (o)
            m->breaker_open = o;
        char *copy = o ? strdup(name) : NULL;
        if (!copy) {
            pthread_mutex_unlock(&m->mu);
            return; /* out of memory: this breaker goes unreported */
        }
        m->breakers[i] = copy;
        m->n_breakers++;
    }
    m->breaker_open[i] = open;
    pthread_mutex_unlock(&m->mu);
}

static json_t *histogram_json_in(const df_histogram *h, const double *bnd)
{
    json_t *b = json_array();
    uint64_t cum = 0;
    for (size_t i = 0; i < DF_METRICS_N_BUCKETS; i++) {
        cum += h->buckets[i];
        json_array_append_new(b, json_pack("[fI]", bnd[i], (json_int_t)cum));
    }
    return json_pack("{so sf sI}", "buckets", b, "sum", h->sum, "count", (json_int_t)h->count);
}

static json_t *histogram_json(const df_histogram *h)
{
    return histogram_json_in(h, bounds);
}

json_t *df_metrics_json(df_metrics *m)
{
    json_t *fin = json_object(), *br = json_object();
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < DF_AO__COUNT; i++)
        if (i != DF_AO_RUNNING)
            json_object_set_new(fin, df_attempt_outcome_name((df_attempt_outcome)i),
                                json_integer((json_int_t)m->attempts_finished[i]));
    for (size_t i = 0; i < m->n_breakers; i++)
        json_object_set_new(br, m->breakers[i], json_integer(m->breaker_open[i] ? 1 : 0));
    json_t *o = json_pack(
        "{sI so so so so so si}", "attempts_started", (json_int_t)m->attempts_started,
        "attempts_finished", fin, "ready_to_running_seconds", histogram_json(&m->ready_to_running),
        "store_commit_seconds", histogram_json(&m->store_commit), "schedule_lateness_seconds",
        histogram_json_in(&m->schedule_lateness, lateness_bounds), "breaker_open", br,
        "admission_paused", atomic_load(&m->admission_paused) ? 1 : 0);
    pthread_mutex_unlock(&m->mu);
    return o;
}
