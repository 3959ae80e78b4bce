/* skipper: test-only TaskUnit (ABI 3) that returns DF_TASK_SKIPPED with the result
 * {"why": params.why}, or, with params.wait_ms, waits that long first (cancellable) and then
 * skips. */
#include <dagflow/taskunit.h>

static int skipper_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    json_t *wait = json_object_get(params, "wait_ms");
    if (wait)
        df_task_sleep(ctx, (uint64_t)json_integer_value(wait));
    const char *why = json_string_value(json_object_get(params, "why"));
    *result = json_pack("{s:s}", "why", why ? why : "nothing to do");
    return DF_TASK_SKIPPED;
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "skipper", .version = "1.0.0",
                   .description = "test: ends SKIPPED (DF_TASK_SKIPPED)",
                   .execute = skipper_execute);
