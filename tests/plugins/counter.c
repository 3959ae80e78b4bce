/* counter: test-only TaskUnit that appends "<task_id> <attempt>\n" to the file params.path
 * (relative to the workflow folder) with one O_APPEND write, then succeeds with
 * {"task_id", "attempt"} — for at-most/at-least-once checks. */
#include <dagflow/taskunit.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int counter_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    const char *path = json_string_value(json_object_get(params, "path"));
    if (!path) {
        df_task_set_error(ctx, "counter: params.path (string) is required");
        return DF_TASK_FAILED_PERMANENT;
    }
    char full[4096];
    const char *wd = df_task_workdir(ctx);
    if (path[0] != '/' && wd && *wd)
        snprintf(full, sizeof full, "%s/%s", wd, path);
    else
        snprintf(full, sizeof full, "%s", path);
    char line[512];
    int n = snprintf(line, sizeof line, "%s %u\n", df_task_id(ctx), df_task_attempt(ctx));
    int fd = open(full, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        df_task_set_error(ctx, "counter: cannot open %s: %s", full, strerror(errno));
        return DF_TASK_FAILED;
    }
    ssize_t w = write(fd, line, (size_t)n);
    int e = errno;
    close(fd);
    if (w != n) {
        df_task_set_error(ctx, "counter: cannot write %s: %s", full, strerror(e));
        return DF_TASK_FAILED;
    }
    *result = json_pack("{sssI}", "task_id", df_task_id(ctx), "attempt",
                        (json_int_t)df_task_attempt(ctx));
    return DF_TASK_OK;
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "counter", .version = "1.0.0",
                   .description = "test: appends task id and attempt to a file",
                   .execute = counter_execute);
