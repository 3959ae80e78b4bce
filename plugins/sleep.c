/* sleep: the built-in TaskUnit that waits `ms` milliseconds without blocking a worker (SPEC §2).
 * params: {"ms": integer >= 0}; result: {"slept_ms": the milliseconds actually waited}. A
 * cancellation (timeout, shutdown) ends the wait early and fails the attempt. */
#include <dagflow/taskunit.h>

#include <stdio.h>

#include "common/plugin_util.h"

/* Accepts {"ms": integer >= 0} (or a template string in place of the integer); rejects missing
 * or mistyped ms and any other key. */
static int sleep_validate(const json_t *params, char *err, size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "params must be an object with \"ms\"");
        return 1;
    }
    static const char *const known_keys[] = {"ms", NULL};
    const char *key = dfp_unknown_key(params, known_keys);
    if (key) {
        dfp_unknown_key_error(err, errlen, key, "", NULL, "sleep takes only \"ms\"");
        return 1;
    }
    json_t *v = json_object_get(params, "ms");
    if (!v) {
        snprintf(err, errlen, "missing required key \"ms\" (milliseconds to sleep)");
        return 1;
    }
    if (dfp_is_template(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, errlen, "\"ms\" must be an integer >= 0");
        return 1;
    }
    return 0;
}

static int sleep_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    char err[256];
    json_t *v = json_object_get(params, "ms");
    if (sleep_validate(params, err, sizeof err) != 0 || !json_is_integer(v)) {
        df_task_set_error(ctx, "%s", json_is_integer(v) ? err : "\"ms\" must be an integer >= 0");
        return DF_TASK_FAILED_PERMANENT;
    }
    long long start = dfp_mono_ms();
    int cancelled = df_task_sleep(ctx, (uint64_t)json_integer_value(v));
    long long slept = dfp_mono_ms() - start;
    if (cancelled) {
        df_task_set_error(ctx, "cancelled after %lld ms", slept);
        return DF_TASK_FAILED;
    }
    *result = json_pack("{sI}", "slept_ms", (json_int_t)slept);
    return DF_TASK_OK;
}

/* The plugin's descriptor and its entry point, dagflow_taskunit (lives as long as the .so). */
DF_TASKUNIT_DEFINE(.name = "sleep", .version = "1.0.0",
                   .description =
                       "waits ms milliseconds without blocking a worker; result {\"slept_ms\"}",
                   .validate = sleep_validate, .execute = sleep_execute);
