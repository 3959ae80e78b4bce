/* stamp: bench-only TaskUnit (tests/bench, not part of the suite). Does nothing but record when
 * its execute began and ended, as microseconds of CLOCK_MONOTONIC (the same clock for every
 * thread of the process): result {"s": start_us, "e": end_us}. latency.py reads the stored
 * results and computes each task's wait from its last dependency's end to its own start. */
#include <dagflow/taskunit.h>

#include <time.h>

/* Microseconds of CLOCK_MONOTONIC. */
static json_int_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (json_int_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int stamp_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    (void)params;
    json_int_t s = now_us();
    *result = json_pack("{sIsI}", "s", s, "e", now_us());
    return *result ? DF_TASK_OK : DF_TASK_FAILED;
}

DF_TASKUNIT_DEFINE(.name = "stamp", .version = "1.0.0",
                   .description = "bench: records its start and end (CLOCK_MONOTONIC, us)",
                   .execute = stamp_execute);
