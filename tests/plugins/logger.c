/* logger: a test-only plugin that writes "lines" (integer, default 10) log lines of the form
 * "line N xxx..." ("width" bytes each, default 100) with df_task_log, and returns
 * {"lines": N}: the log size cap (SPEC §12, --max-log-bytes) is seen in attempt_history.log. */
#include <dagflow/taskunit.h>

#include <string.h>

static int logger_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    json_int_t lines = json_integer_value(json_object_get(params, "lines"));
    json_int_t width = json_integer_value(json_object_get(params, "width"));
    if (lines <= 0)
        lines = 10;
    if (width <= 0 || width > 4000)
        width = 100;
    char pad[4001];
    memset(pad, 'x', (size_t)width);
    pad[width] = '\0';
    for (json_int_t i = 1; i <= lines; i++)
        df_task_log(ctx, "line %lld %s", (long long)i, pad);
    *result = json_pack("{s:I}", "lines", lines);
    return DF_TASK_OK;
}

DF_TASKUNIT_DEFINE(.name = "logger", .version = "1.0.0", .description = "writes log lines",
                   .execute = logger_execute);
