/* noop: the built-in TaskUnit that does nothing and returns its params (templates resolved), to
 * pass data along a workflow (SPEC §2). */
#include <dagflow/taskunit.h>

/* Returns a deep copy of params as the result (a new reference the engine owns). */
static int noop_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    *result = params ? json_deep_copy(params) : json_object();
    if (!*result) {
        df_task_set_error(ctx, "noop: out of memory");
        return DF_TASK_FAILED;
    }
    return DF_TASK_OK;
}

/* The plugin's descriptor and its entry point, dagflow_taskunit (lives as long as the .so). */
DF_TASKUNIT_DEFINE(.name = "noop", .version = "1.0.0",
                   .description = "does nothing; its result is its params, templates resolved",
                   .execute = noop_execute);
