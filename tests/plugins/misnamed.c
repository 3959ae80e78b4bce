/* misnamed: test-only plugin whose name ("something_else") does not match its file name: the
 * engine must refuse it. */
#include <dagflow/taskunit.h>

static int ok_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    (void)params;
    (void)result;
    return DF_TASK_OK;
}

static const df_taskunit unit = {DF_TASKUNIT_ABI, "something_else", "1.0.0", "test: misnamed", NULL,
                                 ok_execute};

/* Entry point. */
const df_taskunit *dagflow_taskunit(void)
{
    return &unit;
}
