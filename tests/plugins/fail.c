/* fail: test-only TaskUnit that always fails: permanently, or retryably when params.retryable is
 * true; the error is params.message (default "failed by test"). */
#include <dagflow/taskunit.h>

static int fail_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)result;
    const char *msg = json_string_value(json_object_get(params, "message"));
    df_task_set_error(ctx, "%s", msg ? msg : "failed by test");
    return json_is_true(json_object_get(params, "retryable")) ? DF_TASK_FAILED
                                                              : DF_TASK_FAILED_PERMANENT;
}

static const df_taskunit unit = {DF_TASKUNIT_ABI,      "fail", "1.0.0",
                                 "test: always fails", NULL,   fail_execute};

/* Entry point. */
const df_taskunit *dagflow_taskunit(void)
{
    return &unit;
}
