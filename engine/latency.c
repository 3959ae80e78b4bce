/* latency: a log-linear histogram of durations in microseconds (see latency.h). */
#include "latency.h"

#include <math.h>

/* The bucket of us: exact below 16, else 8 per power of two. */
static unsigned bucket_of(uint64_t us)
{
    if (us < 16)
        return (unsigned)us;
    unsigned e = 63u - (unsigned)__builtin_clzll(us); /* 2^e <= us < 2^(e+1), e >= 4 */
    if (e > 39)
        return DF_LATENCY_BUCKETS - 1;
    unsigned sub = (unsigned)(us >> (e - 3)) & 7u;
    return 16 + (e - 4) * 8 + sub;
}

/* The largest duration (us) that falls in bucket b. */
static uint64_t bucket_upper(unsigned b)
{
    if (b < 16)
        return b;
    unsigned e = 4 + (b - 16) / 8, sub = (b - 16) % 8;
    return ((uint64_t)(8 + sub) << (e - 3)) + ((uint64_t)1 << (e - 3)) - 1;
}

void df_latency_add(df_latency *h, uint64_t us)
{
    h->count++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
    h->bucket[bucket_of(us)]++;
}

uint64_t df_latency_quantile(const df_latency *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count), seen = 0;
    if (rank < 1)
        rank = 1;
    for (unsigned b = 0; b < DF_LATENCY_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen >= rank) {
            uint64_t up = bucket_upper(b); /* the last bucket also holds anything longer */
            return up < h->max_us && b + 1 < DF_LATENCY_BUCKETS ? up : h->max_us;
        }
    }
    return h->max_us;
}

json_t *df_latency_json(const df_latency *h)
{
    if (h->count == 0)
        return NULL;
    json_t *buckets = json_array();
    for (unsigned b = 0; buckets && b < DF_LATENCY_BUCKETS; b++)
        if (h->bucket[b] &&
            json_array_append_new(buckets, json_pack("[II]", (json_int_t)bucket_upper(b),
                                                     (json_int_t)h->bucket[b])) != 0) {
            json_decref(buckets);
            buckets = NULL;
        }
    if (!buckets)
        return NULL;
    return json_pack("{sIsIsIsIsIso}", "count", (json_int_t)h->count, "p50_us",
                     (json_int_t)df_latency_quantile(h, 0.50), "p99_us",
                     (json_int_t)df_latency_quantile(h, 0.99), "max_us", (json_int_t)h->max_us,
                     "mean_us", (json_int_t)(h->sum_us / h->count), "buckets", buckets);
}
