/* spin: test-only TaskUnit that busy-loops for params.ms milliseconds without yielding and
 * ignoring cancellation (a misbehaving plugin), then succeeds with {"spun_ms": n}. */
#include <dagflow/taskunit.h>

#include <time.h>

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int spin_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    long long ms = json_integer_value(json_object_get(params, "ms"));
    long long start = mono_ms();
    volatile unsigned long spins = 0;
    while (mono_ms() - start < ms)
        spins++;
    *result = json_pack("{sI}", "spun_ms", (json_int_t)(mono_ms() - start));
    return DF_TASK_OK;
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "spin", .version = "1.0.0",
                   .description = "test: busy loop for ms, ignoring cancellation",
                   .execute = spin_execute);
