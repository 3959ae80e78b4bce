/* metrics: an engine's own counters for GET /metrics (SPEC §9), kept by the engine thread and
 * read from any thread (df_engine_metrics, the HTTP server's): attempts started and finished by
 * outcome, three latency histograms (a task instance ready -> its attempt running; a store
 * commit; a scheduled run's start after its fire time) and the circuit breakers that are open. One
 * mutex guards them; every update is a few additions under it. */
#ifndef DF_METRICS_H
#define DF_METRICS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "model.h"

/* Upper bounds of the histograms' buckets, in seconds. */
#define DF_METRICS_N_BUCKETS 13

typedef struct df_histogram {
    uint64_t buckets[DF_METRICS_N_BUCKETS]; /* observations <= bound i (not cumulative here) */
    uint64_t count;
    double sum; /* seconds */
} df_histogram;

typedef struct df_metrics {
    pthread_mutex_t mu;
    uint64_t attempts_started;
    uint64_t attempts_finished[DF_AO__COUNT];
    df_histogram ready_to_running, store_commit;
    df_histogram schedule_lateness; /* its own, wider bounds (lateness_bounds in metrics.c) */
    char **breakers;                /* names (owned) */
    bool *breaker_open;
    size_t n_breakers;
    /* set by the engine thread at each tick: a run waits for room in the pool's full queue, so
     * no new attempt is admitted */
    atomic_bool admission_paused;
} df_metrics;

void df_metrics_init(df_metrics *m);
void df_metrics_free(df_metrics *m);

void df_metrics_attempt_started(df_metrics *m);
void df_metrics_attempt_finished(df_metrics *m, df_attempt_outcome outcome);
/* ms: a duration in milliseconds (negative values count as 0). */
void df_metrics_ready_to_running(df_metrics *m, int64_t ms);
void df_metrics_store_commit(df_metrics *m, double seconds);
/* A scheduled run started ms milliseconds after its fire time (`serve`; negative counts as 0). */
void df_metrics_schedule_lateness(df_metrics *m, int64_t ms);
void df_metrics_breaker(df_metrics *m, const char *name, bool open);

/* A snapshot as the HTTP server's metrics object (df_http_metrics_text's keys, the pool's
 * left to the caller): {"attempts_started", "attempts_finished": {OUTCOME: n},
 * "ready_to_running_seconds": H, "store_commit_seconds": H, "schedule_lateness_seconds": H,
 * "breaker_open": {NAME: 0|1}, "admission_paused": 0|1}.
 * New reference, or NULL when out of memory. Thread-safe. */
json_t *df_metrics_json(df_metrics *m);

#endif
