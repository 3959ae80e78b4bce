/* flaky: test-only TaskUnit that fails (retryable) while df_task_attempt() <= params.fail_times,
 * then succeeds with {"attempt": n}. */
#include <dagflow/taskunit.h>

static int flaky_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    json_int_t fail_times = json_integer_value(json_object_get(params, "fail_times"));
    unsigned n = df_task_attempt(ctx);
    if ((json_int_t)n <= fail_times) {
        df_task_set_error(ctx, "flaky: attempt %u fails (fail_times %lld)", n,
                          (long long)fail_times);
        return DF_TASK_FAILED;
    }
    *result = json_pack("{sI}", "attempt", (json_int_t)n);
    return DF_TASK_OK;
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "flaky", .version = "1.0.0",
                   .description = "test: fails while attempt <= fail_times",
                   .execute = flaky_execute);
