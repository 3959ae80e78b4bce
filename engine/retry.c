/* retry: owns the retry policy of SPEC §1 as a delay in milliseconds (see retry.h). */
#include "retry.h"

#include <math.h>

/* Delay before retry number k, in milliseconds:
 *   d = min(retry_max_delay_ms, retry_delay_ms * retry_backoff^(k-1))
 * and, when t->retry_jitter is set, an integer uniform in [ceil(d/2), d] chosen by rnd (a value
 * in [0, 1); values outside are clamped). k = 0 is treated as 1. Out-of-contract fields are
 * clamped rather than trusted (negative delays count as 0, a backoff below 1 or NaN as 1), and the
 * power is computed in double precision and capped before converting, so huge k or backoff
 * saturate at retry_max_delay_ms instead of overflowing. Pure; thread-safe. */
uint64_t df_retry_delay_ms(const df_task_def *t, unsigned k, double rnd)
{
    uint64_t base = t->retry_delay_ms > 0 ? (uint64_t)t->retry_delay_ms : 0;
    uint64_t cap = t->retry_max_delay_ms > 0 ? (uint64_t)t->retry_max_delay_ms : 0;
    double backoff = t->retry_backoff;
    if (!(backoff >= 1.0)) /* also catches NaN */
        backoff = 1.0;
    if (k == 0)
        k = 1;

    uint64_t d;
    if (base == 0 || cap == 0) {
        d = 0;
    } else {
        /* pow() of finite operands >= 1 is finite or +inf; both compare correctly below. */
        double x = (double)base * pow(backoff, (double)(k - 1));
        if (!(x < (double)cap)) /* +inf and NaN saturate too */
            d = cap;
        else {
            d = (uint64_t)llround(x);
            if (d > cap)
                d = cap;
        }
    }

    if (t->retry_jitter && d > 0) {
        if (!(rnd >= 0.0)) /* negative or NaN */
            rnd = 0.0;
        if (rnd >= 1.0)
            rnd = nextafter(1.0, 0.0);
        uint64_t lo = d / 2 + d % 2; /* ceil(d/2) */
        uint64_t span = d - lo + 1;  /* how many integers lie in [lo, d] */
        uint64_t off = (uint64_t)(rnd * (double)span);
        if (off >= span)
            off = span - 1;
        d = lo + off;
    }
    return d;
}
