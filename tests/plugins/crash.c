/* crash: test-only TaskUnit that takes the whole process down (for crash-recovery tests):
 *   params.really true: raise(SIGKILL), as an outside `kill -9` would (the crash handler cannot
 *     tell whose fault it was: charged to nobody, SPEC §12);
 *   params.segv true: a segmentation fault in its own code (the crash handler names this task:
 *     charged to it). With params.path and params.times, only the first `times` executions crash
 *     (each appends a line to path first); later ones succeed.
 * Otherwise it fails permanently. */
#include <dagflow/taskunit.h>

#include <signal.h>
#include <stdio.h>

/* Lines in path (0 when it does not exist). */
static long lines(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static int crash_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)result;
    if (json_is_true(json_object_get(params, "really")))
        raise(SIGKILL);
    if (json_is_true(json_object_get(params, "segv"))) {
        const char *path = json_string_value(json_object_get(params, "path"));
        json_int_t times = json_integer_value(json_object_get(params, "times"));
        if (path && times > 0) {
            if (lines(path) >= times)
                return DF_TASK_OK;
            FILE *f = fopen(path, "a");
            if (f) {
                fprintf(f, "%s\n", df_task_id(ctx));
                fclose(f);
            }
        }
        volatile int *volatile nowhere = NULL;
        *nowhere = 1; /* SIGSEGV */
    }
    df_task_set_error(ctx, "crash: neither params.really nor params.segv is true, not crashing");
    return DF_TASK_FAILED_PERMANENT;
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "crash", .version = "1.1.0",
                   .description = "test: kills the engine process (params.really: SIGKILL; "
                                  "params.segv: a segmentation fault)",
                   .execute = crash_execute);
