/* exiter: a test-only plugin that calls exit(params.code) from inside execute, as a badly written
 * plugin might; dagflow must not then exit 0 as if the run had succeeded. */
#include <stdlib.h>

#include <dagflow/taskunit.h>

static int execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    (void)result;
    exit((int)json_integer_value(json_object_get(params, "code")));
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "exiter", .version = "1.0.0",
                   .description = "test only: calls exit(params.code)", .execute = execute);
