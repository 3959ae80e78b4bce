/* overflow: test-only TaskUnit that crashes the engine from inside a task, for the fatal-signal
 * message of engine/cli/crash.c. params.mode: "stack" recurses with params.kib KiB of stack
 * frames (default 4096: overflows the default 256 KiB coroutine stack, passes with
 * --stack-size 8M), "segv" writes through a null pointer, "abort" calls abort(). */
#include <dagflow/taskunit.h>

#include <stdlib.h>
#include <string.h>

/* Uses about 1 KiB of stack per level; the volatile buffer keeps the frames real. */
static __attribute__((noinline)) unsigned deep(unsigned levels)
{
    volatile char frame[1024];
    memset((char *)frame, (int)levels, sizeof frame);
    if (levels == 0)
        return frame[7];
    return deep(levels - 1) + frame[levels % sizeof frame];
}

static int overflow_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    const char *mode = json_string_value(json_object_get(params, "mode"));
    if (mode && strcmp(mode, "stack") == 0) {
        json_int_t kib = json_integer_value(json_object_get(params, "kib"));
        unsigned got = deep(kib > 0 ? (unsigned)kib : 4096);
        *result = json_pack("{s:i}", "depth_sum", (int)(got & 0xffff));
        return DF_TASK_OK;
    }
    if (mode && strcmp(mode, "segv") == 0) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
    if (mode && strcmp(mode, "abort") == 0)
        abort();
    df_task_set_error(ctx, "overflow: params.mode must be stack, segv or abort");
    return DF_TASK_FAILED_PERMANENT;
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "overflow", .version = "1.0.0",
                   .description = "test: crashes the engine (stack overflow, SIGSEGV, abort)",
                   .execute = overflow_execute);
