/* latency: a histogram of durations in microseconds with about 12% resolution (log-linear
 * buckets: exact below 16 us, then 8 buckets per power of two, up to 2^40 us), its quantiles and
 * its JSON. The engine keeps one per run for the ready->running wait of every attempt (from the
 * commit that made the task ready to the start of its execute). Plain data, no locking: one
 * thread at a time. */
#ifndef DF_LATENCY_H
#define DF_LATENCY_H

#include <jansson.h>
#include <stdint.h>

#define DF_LATENCY_BUCKETS (16 + 36 * 8)

typedef struct df_latency {
    uint64_t count;
    uint64_t max_us;
    uint64_t sum_us;
    uint64_t bucket[DF_LATENCY_BUCKETS];
} df_latency;

/* Adds one duration (us). */
void df_latency_add(df_latency *h, uint64_t us);

/* The q-quantile (0 < q <= 1) in us: the upper bound of the bucket holding the ceil(q * count)-th
 * smallest duration, never above the largest one; 0 when empty. */
uint64_t df_latency_quantile(const df_latency *h, double q);

/* The histogram as a new JSON object (caller owns), NULL when empty or out of memory, all
 * integers in microseconds: {"count": N, "p50_us": 12, "p99_us": 400, "max_us": 1234,
 * "mean_us": 50, "buckets": [[upper_bound_us, count], ...]} (only the non-empty buckets, in
 * increasing order). */
json_t *df_latency_json(const df_latency *h);

#endif
