/* abi1_spawn: a test-only plugin built against the frozen ABI-1 header
 * (tests/plugins/abi1/include/dagflow/taskunit.h, not include/), written as plugins were before
 * ABI 2: a positional df_taskunit, its own entry point, and df_task_spawn with the ABI-1 structs
 * (no size field). It stands for a plugin already built that a newer dagflow must keep loading
 * and running (SPEC §10). Runs params.argv (strings) with params.env ("K=V" strings),
 * params.stdin, params.cwd and params.capture_max, logs one line with df_task_log, and returns
 * every field of the df_spawn_result as JSON (the same shape as tests/plugins/abi2_spawn.c). */
#include <dagflow/taskunit.h>

#include <string.h>

#if DF_TASKUNIT_ABI != 1
#error "abi1_spawn must be built against the frozen ABI-1 header"
#endif

#define MAX_ARGS 32

/* Copies the strings of the array arr into out (at most MAX_ARGS, NULL-terminated). Returns 0, or
 * -1 when arr is not an array of at most MAX_ARGS strings. */
static int strings(const json_t *arr, const char **out)
{
    size_t i;
    json_t *v;
    if (!json_is_array(arr) || json_array_size(arr) >= MAX_ARGS)
        return -1;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            return -1;
        out[i] = json_string_value(v);
    }
    out[json_array_size(arr)] = NULL;
    return 0;
}

static int abi1_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    const char *argv[MAX_ARGS], *env[MAX_ARGS];
    const json_t *jenv = json_object_get(params, "env");
    if (strings(json_object_get(params, "argv"), argv) != 0 || !argv[0] ||
        (jenv && strings(jenv, env) != 0)) {
        df_task_set_error(ctx, "abi1_spawn: params.argv (strings) is required; env: strings");
        return DF_TASK_FAILED_PERMANENT;
    }
    df_spawn_opts opts;
    memset(&opts, 0, sizeof opts);
    opts.argv = argv;
    opts.env = jenv ? env : NULL;
    opts.cwd = json_string_value(json_object_get(params, "cwd"));
    opts.stdin_data = json_string_value(json_object_get(params, "stdin"));
    opts.stdin_len = opts.stdin_data ? strlen(opts.stdin_data) : 0;
    opts.capture_max = (size_t)json_integer_value(json_object_get(params, "capture_max"));
    df_spawn_result res;
    char err[512];
    if (df_task_spawn(ctx, &opts, &res, err, sizeof err) != 0) {
        df_task_set_error(ctx, "abi1_spawn: %s", err);
        return DF_TASK_FAILED_PERMANENT;
    }
    df_task_log(ctx, "abi1_spawn: %s exited with %lld", argv[0], (long long)res.exit_code);
    *result =
        json_pack("{sI si sb ss# sI sb ss# sI sb}", "exit_code", (json_int_t)res.exit_code,
                  "term_signal", res.term_signal, "cancelled", res.cancelled, "stdout",
                  res.stdout_data ? res.stdout_data : "", (int)res.stdout_len, "stdout_len",
                  (json_int_t)res.stdout_len, "stdout_truncated", res.stdout_truncated, "stderr",
                  res.stderr_data ? res.stderr_data : "", (int)res.stderr_len, "stderr_len",
                  (json_int_t)res.stderr_len, "stderr_truncated", res.stderr_truncated);
    df_spawn_result_free(&res);
    return *result ? DF_TASK_OK : DF_TASK_FAILED;
}

static const df_taskunit unit = {
    DF_TASKUNIT_ABI, "abi1_spawn", "1.0.0", "test: df_task_spawn through the ABI-1 header", NULL,
    abi1_execute};

/* Entry point. */
const df_taskunit *dagflow_taskunit(void)
{
    return &unit;
}
