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

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "something_else", .version = "1.0.0", .description = "test: misnamed",
                   .execute = ok_execute);
