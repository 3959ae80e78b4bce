/* badabi: test-only plugin built against an ABI that does not exist (999): the engine must refuse
 * it with a clear error. */
#include <dagflow/taskunit.h>

static int ok_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    (void)params;
    (void)result;
    return DF_TASK_OK;
}

static const df_taskunit unit = {.abi = 999,
                                 .name = "badabi",
                                 .version = "1.0.0",
                                 .description = "test: wrong ABI",
                                 .execute = ok_execute};

/* Entry point. */
const df_taskunit *dagflow_taskunit(void)
{
    return &unit;
}
