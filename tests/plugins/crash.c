/* crash: test-only TaskUnit that kills the whole process with SIGKILL (for crash-recovery tests),
 * but only when params.really is true; otherwise it fails permanently. */
#include <dagflow/taskunit.h>

#include <signal.h>

static int crash_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)result;
    if (json_is_true(json_object_get(params, "really")))
        raise(SIGKILL);
    df_task_set_error(ctx, "crash: params.really is not true, not crashing");
    return DF_TASK_FAILED_PERMANENT;
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "crash", .version = "1.0.0",
                   .description = "test: kills the engine process (params.really)",
                   .execute = crash_execute);
