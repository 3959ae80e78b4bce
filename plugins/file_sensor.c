/* file_sensor: the built-in TaskUnit that waits until a file exists (SPEC §2), as Airflow's
 * FileSensor does in "poke" mode.
 *
 * params: {"path": string (required; relative to the workflow's folder), "poke_interval_ms":
 * integer >= 1 (default 1000), "soft_fail": boolean (default false; SPEC §8)}. result: {"path": the
 * path checked (the workflow's folder joined with a relative path), "size": the file's size in
 * bytes}.
 *
 * The sensor checks at once, then every poke_interval_ms, waiting with df_task_sleep between
 * checks: a waiting sensor costs a timer on its worker's event loop and no thread, so thousands
 * of sensors can wait at once. Any kind of file counts (a directory too). A missing path
 * (ENOENT, ENOTDIR) keeps it waiting; any other stat error fails the attempt (retryable). A
 * cancellation (the task's timeout_ms, or a shutdown) ends the wait with DF_TASK_FAILED and an
 * error naming the path and how long it waited; with soft_fail, it ends with DF_TASK_SKIPPED
 * instead (the engine records SKIPPED when the task's timeout cancelled it, and puts the attempt
 * back in the queue on a shutdown, as for any cancelled attempt). The check is one stat(2) on the
 * worker thread, which is instant on a local file system. */
#include <dagflow/taskunit.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/plugin_util.h"

#define DEFAULT_POKE_MS 1000

static const char *const known_keys[] = {"path", "poke_interval_ms", "soft_fail", NULL};

/* Rejects the first key not in known_keys, suggesting the known key it seems to mean: "path" for
 * a key containing "path" or part of it, "poke_interval_ms" for one containing "interval" or
 * "poke". */
static int check_keys(const json_t *params, char *err, size_t errlen)
{
    const char *key = dfp_unknown_key(params, known_keys);
    if (!key)
        return 0;
    const char *hint = NULL;
    if (strstr(key, "path") || strstr("path", key))
        hint = "path";
    else if (strstr(key, "interval") || strstr(key, "poke"))
        hint = "poke_interval_ms";
    else if (strstr(key, "soft") || strstr(key, "fail"))
        hint = "soft_fail";
    dfp_unknown_key_error(err, errlen, key, "", hint,
                          "file_sensor takes \"path\", \"poke_interval_ms\" and \"soft_fail\"");
    return 1;
}

/* The checks of validate. With templates (run creation), a ${...} string is accepted in place of
 * any value; without (execute), every value must have its final type. */
static int check_params(const json_t *params, int templates, char *err, size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "params must be an object with \"path\"");
        return 1;
    }
    if (check_keys(params, err, errlen))
        return 1;
    json_t *path = json_object_get(params, "path");
    if (!path) {
        snprintf(err, errlen, "missing required key \"path\" (the file to wait for)");
        return 1;
    }
    if (!json_is_string(path) || json_string_length(path) == 0) {
        snprintf(err, errlen, "\"path\" must be a non-empty string");
        return 1;
    }
    json_t *poke = json_object_get(params, "poke_interval_ms");
    if (poke && !(templates && dfp_is_template(poke)) &&
        (!json_is_integer(poke) || json_integer_value(poke) < 1)) {
        snprintf(err, errlen, "\"poke_interval_ms\" must be an integer >= 1 (milliseconds)");
        return 1;
    }
    json_t *soft = json_object_get(params, "soft_fail");
    if (soft && !(templates && dfp_is_template(soft)) && !json_is_boolean(soft)) {
        snprintf(err, errlen, "\"soft_fail\" must be a boolean");
        return 1;
    }
    return 0;
}

static int fs_validate(const json_t *params, char *err, size_t errlen)
{
    return check_params(params, 1, err, errlen);
}

static int fs_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    if (dfp_check_final(ctx, check_params, params, 256))
        return DF_TASK_FAILED_PERMANENT;
    json_t *poke = json_object_get(params, "poke_interval_ms");
    uint64_t interval = poke ? (uint64_t)json_integer_value(poke) : DEFAULT_POKE_MS;
    char *path =
        dfp_resolve_path(df_task_workdir(ctx), json_string_value(json_object_get(params, "path")));
    if (!path) {
        df_task_set_error(ctx, "out of memory");
        return DF_TASK_FAILED;
    }
    long long start = dfp_mono_ms();
    unsigned long pokes = 0;
    df_task_log(ctx, "waiting for %s (every %llu ms)", path, (unsigned long long)interval);
    for (;;) {
        struct stat st;
        pokes++;
        if (stat(path, &st) == 0) {
            df_task_log(ctx, "%s exists (%lld bytes) after %lld ms, %lu checks", path,
                        (long long)st.st_size, dfp_mono_ms() - start, pokes);
            *result = json_pack("{s:s, s:I}", "path", path, "size", (json_int_t)st.st_size);
            free(path);
            if (!*result) {
                df_task_set_error(ctx, "cannot build the result (path not valid UTF-8?)");
                return DF_TASK_FAILED_PERMANENT;
            }
            return DF_TASK_OK;
        }
        if (errno != ENOENT && errno != ENOTDIR) {
            df_task_set_error(ctx, "cannot check %s: %s", path, strerror(errno));
            free(path);
            return DF_TASK_FAILED;
        }
        if (df_task_sleep(ctx, interval) != 0) {
            bool soft = json_is_true(json_object_get(params, "soft_fail"));
            if (soft)
                df_task_log(ctx, "gave up after waiting %lld ms for %s (%lu checks): soft_fail",
                            dfp_mono_ms() - start, path, pokes);
            else
                df_task_set_error(ctx, "cancelled after waiting %lld ms for %s (%lu checks)",
                                  dfp_mono_ms() - start, path, pokes);
            free(path);
            return soft ? DF_TASK_SKIPPED : DF_TASK_FAILED;
        }
    }
}

/* The plugin's descriptor and its entry point, dagflow_taskunit (lives as long as the .so). */
DF_TASKUNIT_DEFINE(.name = "file_sensor", .version = "1.0.0",
                   .description =
                       "waits until a file exists, without blocking a worker; result {\"path\", "
                       "\"size\"}",
                   .validate = fs_validate, .execute = fs_execute);
