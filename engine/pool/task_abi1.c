/* task_abi1: the plugin helpers as plugins built against the ABI-1 header call them. Their
 * structs had no leading size field, so the symbols df_task_spawn and df_spawn_result_free keep
 * the ABI-1 layouts (frozen copies below, as in tests/plugins/abi1/include/dagflow/taskunit.h)
 * and convert to and from the sized structs of df_task_spawn2 (task_ctx.c), which the current
 * header's df_task_spawn names. Never change these structs: plugins already built rely on them. */
#include "pool_internal.h"

#include <stdlib.h>
#include <string.h>

/* The header maps these names to the sized symbols; here they are the ABI-1 symbols. */
#undef df_task_spawn
#undef df_spawn_result_free

/* df_spawn_opts of ABI 1. */
typedef struct df_spawn_opts_abi1 {
    const char *const *argv;
    const char *const *env;
    const char *cwd;
    const char *stdin_data;
    size_t stdin_len;
    size_t capture_max;
    uint64_t limit_cpu_seconds;
    uint64_t limit_memory_mb;
    uint64_t limit_open_files;
} df_spawn_opts_abi1;

/* df_spawn_result of ABI 1. */
typedef struct df_spawn_result_abi1 {
    int64_t exit_code;
    int term_signal;
    int cancelled;
    char *stdout_data;
    size_t stdout_len;
    int stdout_truncated;
    char *stderr_data;
    size_t stderr_len;
    int stderr_truncated;
} df_spawn_result_abi1;

int df_task_spawn(df_task_ctx *ctx, const df_spawn_opts_abi1 *opts, df_spawn_result_abi1 *res,
                  char *errbuf, size_t errlen);
void df_spawn_result_free(df_spawn_result_abi1 *res);

/* df_task_spawn of ABI 1: as df_task_spawn2, with the ABI-1 structs. Exported to plugins. */
int df_task_spawn(df_task_ctx *ctx, const df_spawn_opts_abi1 *opts, df_spawn_result_abi1 *res,
                  char *errbuf, size_t errlen)
{
    if (res)
        memset(res, 0, sizeof *res);
    df_spawn_opts o = DF_SPAWN_OPTS_INIT;
    if (opts) {
        o.argv = opts->argv;
        o.env = opts->env;
        o.cwd = opts->cwd;
        o.stdin_data = opts->stdin_data;
        o.stdin_len = opts->stdin_len;
        o.capture_max = opts->capture_max;
        o.limit_cpu_seconds = opts->limit_cpu_seconds;
        o.limit_memory_mb = opts->limit_memory_mb;
        o.limit_open_files = opts->limit_open_files;
    }
    df_spawn_result r = DF_SPAWN_RESULT_INIT;
    int rc = df_task_spawn2(ctx, opts ? &o : NULL, res ? &r : NULL, errbuf, errlen);
    if (rc == 0) {
        res->exit_code = r.exit_code;
        res->term_signal = r.term_signal;
        res->cancelled = r.cancelled;
        res->stdout_data = r.stdout_data;
        res->stdout_len = r.stdout_len;
        res->stdout_truncated = r.stdout_truncated;
        res->stderr_data = r.stderr_data;
        res->stderr_len = r.stderr_len;
        res->stderr_truncated = r.stderr_truncated;
    }
    return rc;
}

/* df_spawn_result_free of ABI 1: frees the buffers (not the struct). NULL is fine. */
void df_spawn_result_free(df_spawn_result_abi1 *res)
{
    if (!res)
        return;
    free(res->stdout_data);
    free(res->stderr_data);
    res->stdout_data = res->stderr_data = NULL;
    res->stdout_len = res->stderr_len = 0;
}
