/* abi2_spawn: a test-only plugin written as the current header (ABI 2) intends: DF_TASKUNIT_DEFINE,
 * and df_task_spawn with the sized structs from DF_SPAWN_OPTS_INIT / DF_SPAWN_RESULT_INIT. Takes
 * the params of tests/plugins/abi1/abi1_spawn.c (argv, env, stdin, cwd, capture_max) and returns
 * the same JSON, so that a workflow can compare the two. Two more params test that the engine
 * honours the size fields:
 *   "short_opts": true   opts.size covers argv only, while env, cwd and stdin are set: the engine
 *                        must not read them (the child runs without them).
 *   "short_result": true res.size covers the fields before stdout_data; the bytes past it are
 *                        filled with 0xA5 and must come back untouched ("tail_intact" in the
 *                        result), and stdout/stderr are not handed over.
 *   "opts_size": N       opts.size is N (e.g. 0: the engine must refuse with a clear error). */
#include <dagflow/taskunit.h>

#include <string.h>

#if DF_TASKUNIT_ABI < 2
#error "abi2_spawn needs the ABI-2 header"
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

/* The result JSON of res (the fields its size covers; the others as 0 and ""). */
static json_t *result_json(const df_spawn_result *res)
{
    const char *out = res->stdout_data ? res->stdout_data : "";
    const char *err = res->stderr_data ? res->stderr_data : "";
    return json_pack("{sI si sb ss# sI sb ss# sI sb}", "exit_code", (json_int_t)res->exit_code,
                     "term_signal", res->term_signal, "cancelled", res->cancelled, "stdout", out,
                     (int)res->stdout_len, "stdout_len", (json_int_t)res->stdout_len,
                     "stdout_truncated", res->stdout_truncated, "stderr", err, (int)res->stderr_len,
                     "stderr_len", (json_int_t)res->stderr_len, "stderr_truncated",
                     res->stderr_truncated);
}

static int abi2_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    const char *argv[MAX_ARGS], *env[MAX_ARGS];
    const json_t *jenv = json_object_get(params, "env");
    if (strings(json_object_get(params, "argv"), argv) != 0 || !argv[0] ||
        (jenv && strings(jenv, env) != 0)) {
        df_task_set_error(ctx, "abi2_spawn: params.argv (strings) is required; env: strings");
        return DF_TASK_FAILED_PERMANENT;
    }
    df_spawn_opts opts = DF_SPAWN_OPTS_INIT;
    opts.argv = argv;
    opts.env = jenv ? env : NULL;
    opts.cwd = json_string_value(json_object_get(params, "cwd"));
    opts.stdin_data = json_string_value(json_object_get(params, "stdin"));
    opts.stdin_len = opts.stdin_data ? strlen(opts.stdin_data) : 0;
    opts.capture_max = (size_t)json_integer_value(json_object_get(params, "capture_max"));
    if (json_is_true(json_object_get(params, "short_opts")))
        opts.size = offsetof(df_spawn_opts, argv) + sizeof opts.argv;
    if (json_is_integer(json_object_get(params, "opts_size")))
        opts.size = (size_t)json_integer_value(json_object_get(params, "opts_size"));

    df_spawn_result res = DF_SPAWN_RESULT_INIT;
    int short_result = json_is_true(json_object_get(params, "short_result"));
    if (short_result) {
        res.size = offsetof(df_spawn_result, stdout_data);
        memset((char *)&res + res.size, 0xA5, sizeof res - res.size);
    }
    char err[512];
    if (df_task_spawn(ctx, &opts, &res, err, sizeof err) != 0) {
        df_task_set_error(ctx, "abi2_spawn: %s", err);
        return DF_TASK_FAILED_PERMANENT;
    }
    df_task_log(ctx, "abi2_spawn: %s exited with %lld", argv[0], (long long)res.exit_code);
    if (short_result) {
        int intact = 1;
        for (size_t i = res.size; i < sizeof res; i++)
            intact &= ((unsigned char *)&res)[i] == 0xA5;
        df_spawn_result_free(&res); /* frees nothing: the buffers were not handed over */
        memset((char *)&res + res.size, 0, sizeof res - res.size);
        *result = result_json(&res);
        json_object_set_new(*result, "tail_intact", json_boolean(intact));
        return DF_TASK_OK;
    }
    *result = result_json(&res);
    df_spawn_result_free(&res);
    return *result ? DF_TASK_OK : DF_TASK_FAILED;
}

/* The descriptor and the entry point. */
DF_TASKUNIT_DEFINE(.name = "abi2_spawn", .version = "1.0.0",
                   .description = "test: df_task_spawn with the sized structs of ABI 2",
                   .execute = abi2_execute);
