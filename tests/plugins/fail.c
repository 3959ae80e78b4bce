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

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "fail", .version = "1.0.0", .description = "test: always fails",
                   .execute = fail_execute);
