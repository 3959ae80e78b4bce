/* retry: the retry policy of SPEC §1 as a delay. */
#ifndef DF_RETRY_H
#define DF_RETRY_H

#include <stdint.h>

#include "workflow.h"

/* Delay in milliseconds before retry number k (k = 1 for the first retry):
 * min(retry_max_delay_ms, retry_delay_ms * retry_backoff^(k-1)), and with retry_jitter uniform in
 * [d/2, d] using rnd (a value uniform in [0, 1); pass any value when jitter is off). Saturates
 * instead of overflowing. Pure; thread-safe. */
uint64_t df_retry_delay_ms(const df_task_def *t, unsigned k, double rnd);

#endif
