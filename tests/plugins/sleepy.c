/* sleepy: test-only TaskUnit that sleeps params.ms with df_task_sleep; with params.ignore_cancel
 * true it keeps sleeping after a cancellation until the full time has elapsed. Result
 * {"slept_ms": n, "cancelled": bool}; a cancelled attempt that did not ignore it fails. */
#include <dagflow/taskunit.h>

#include <time.h>

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void block_ms(void *arg)
{
    long long ms = *(long long *)arg;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int sleepy_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    long long ms = json_integer_value(json_object_get(params, "ms"));
    int ignore = json_is_true(json_object_get(params, "ignore_cancel"));
    long long start = mono_ms(), left = ms;
    int cancelled = 0;
    while (left > 0) {
        if (df_task_sleep(ctx, (uint64_t)left) != 0) {
            cancelled = 1;
            if (!ignore)
                break;
            /* df_task_sleep returns at once once cancelled: wait out the rest on a blocking
             * thread, which cancellation does not interrupt */
            long long rest = ms - (mono_ms() - start);
            if (rest > 0)
                df_task_run_blocking(ctx, block_ms, &rest);
        }
        left = ms - (mono_ms() - start);
    }
    long long slept = mono_ms() - start;
    if (cancelled && !ignore) {
        df_task_set_error(ctx, "cancelled after %lld ms", slept);
        return DF_TASK_FAILED;
    }
    *result = json_pack("{sIsb}", "slept_ms", (json_int_t)slept, "cancelled", cancelled);
    return DF_TASK_OK;
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "sleepy", .version = "1.0.0",
                   .description = "test: sleeps ms, optionally ignoring cancellation",
                   .execute = sleepy_execute);
