/* abi2_skip: test-only TaskUnit declaring ABI 2 (built before DF_TASK_SKIPPED existed) whose
 * execute returns 3, DF_TASK_SKIPPED's value: for an ABI-2 plugin that is an unknown status, so
 * the attempt fails permanently (SPEC §10: earlier plugins keep their meaning). */
#include <dagflow/taskunit.h>

static int abi2_skip_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    (void)params;
    (void)result;
    return 3;
}

static const df_taskunit unit = {.abi = 2,
                                 .name = "abi2_skip",
                                 .version = "1.0.0",
                                 .description = "test: ABI 2, returns status 3",
                                 .execute = abi2_skip_execute};

DF_TASKUNIT_EXPORT_ const df_taskunit *dagflow_taskunit(void)
{
    return &unit;
}
