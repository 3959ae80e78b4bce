/* workflow: the built-in TaskUnit of sub-workflows (SPEC §10). Its params are checked here:
 * `file` (a workflow file, relative to the parent's folder; required) and `params` (an object of
 * the child's run params, typed as `--param K:=JSON`). Running it is the engine's own business
 * (engine/subworkflow.c): each attempt starts a child run in the same engine and waits for it
 * without holding a pool worker, so execute is never called by an engine; it fails permanently
 * when something else calls it. */
#include <dagflow/taskunit.h>

#include <stdio.h>
#include <string.h>

static int workflow_validate(const json_t *params, char *err, size_t errlen)
{
    if (!json_is_object(params)) {
        snprintf(err, errlen, "params must be an object with \"file\"");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        if (strcmp(k, "file") != 0 && strcmp(k, "params") != 0) {
            snprintf(err, errlen, "unknown param \"%s\" (expected file and params)", k);
            return -1;
        }
    }
    const json_t *file = json_object_get(params, "file");
    if (!json_is_string(file) || json_string_length(file) == 0) {
        snprintf(err, errlen,
                 "file: required, a non-empty string (a workflow file, relative to "
                 "the workflow's folder)");
        return -1;
    }
    const json_t *p = json_object_get(params, "params");
    if (p && !json_is_object(p)) {
        snprintf(err, errlen, "params: must be an object of the child workflow's params");
        return -1;
    }
    return 0;
}

static int workflow_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)params;
    (void)result;
    df_task_set_error(ctx, "workflow: a child workflow is run by the engine itself, not by a "
                           "pool worker");
    return DF_TASK_FAILED_PERMANENT;
}

/* The plugin's descriptor and its entry point, dagflow_taskunit (lives as long as the .so). */
DF_TASKUNIT_DEFINE(.name = "workflow", .version = "1.0.0",
                   .description = "runs another workflow file as a child run and waits for it; "
                                  "its result is {run_id, state, tasks}",
                   .validate = workflow_validate, .execute = workflow_execute);
