/* rejects: test-only plugin whose validate always rejects with "rejected by test" (for INVALID
 * runs). */
#include <dagflow/taskunit.h>

#include <stdio.h>

static int rejects_validate(const json_t *params, char *err, size_t errlen)
{
    (void)params;
    snprintf(err, errlen, "rejected by test");
    return 1;
}

static int rejects_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)params;
    (void)result;
    df_task_set_error(ctx, "rejected by test");
    return DF_TASK_FAILED_PERMANENT;
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "rejects", .version = "1.0.0", .description = "test: validate rejects",
                   .validate = rejects_validate, .execute = rejects_execute);
