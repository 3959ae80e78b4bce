/* subworkflow_check: the load-time check of the built-in `workflow` plugin's tasks (SPEC §10):
 * each task's `file` (relative to the workflow's folder) is loaded, recursively, and a workflow
 * that runs itself, directly or through others, is a load error showing the chain of files.
 * A `file` with a template (`${...}`) is left to run time. Pure loading: no store, no engine. */
#include "subworkflow.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "path.h"

/* Checks the `workflow` tasks of wf (whose file is real_path; stack holds the files of the
 * workflows that run it, depth of them): each child file loads, and none runs itself. */
static int check(const df_workflow *wf, char **stack, size_t depth, df_errlist *errs)
{
    int bad = 0;
    for (size_t i = 0; i < wf->n_tasks; i++) {
        const df_task_def *d = &wf->tasks[i];
        const char *file = json_string_value(json_object_get(d->params, "file"));
        if (strcmp(d->plugin, "workflow") != 0 || !file || strstr(file, "${"))
            continue; /* the plugin's validate reports a bad file; a template is for run time */
        char *path = df_path_resolve(wf->dir, file);
        char *real = path ? realpath(path, NULL) : NULL;
        if (!real) {
            df_errlist_add(errs, "%s: task \"%s\": file: cannot read the child workflow %s",
                           wf->path, d->id, path ? path : file);
            free(path);
            bad = -1;
            continue;
        }
        free(path);
        size_t k = 0;
        while (k < depth && strcmp(stack[k], real) != 0)
            k++;
        if (k < depth || depth >= DF_SUBWORKFLOW_MAX_DEPTH) {
            char chain[2048] = "";
            size_t n = 0;
            for (size_t j = k < depth ? k : 0; j < depth && n < sizeof chain; j++)
                n += (size_t)snprintf(chain + n, sizeof chain - n, "%s -> ", stack[j]);
            if (n < sizeof chain)
                snprintf(chain + n, sizeof chain - n, "%s", real);
            df_errlist_add(errs, "%s: task \"%s\": %s: %s", wf->path, d->id,
                           k < depth ? "a workflow that runs itself" : "workflows nested too deep",
                           chain);
            free(real);
            bad = -1;
            continue;
        }
        df_workflow *child = NULL;
        size_t before = errs->n;
        if (df_workflow_load_file(real, &child, errs) != 0) {
            if (errs->n == before)
                df_errlist_add(errs, "%s: cannot be loaded", real);
            df_errlist_add(errs, "%s: task \"%s\": the child workflow %s does not load", wf->path,
                           d->id, file);
            bad = -1;
        } else {
            stack[depth] = real;
            if (check(child, stack, depth + 1, errs) != 0)
                bad = -1;
            df_workflow_free(child);
        }
        free(real);
    }
    return bad;
}

int df_subworkflow_check(const df_workflow *wf, df_errlist *errs)
{
    char *stack[DF_SUBWORKFLOW_MAX_DEPTH + 1];
    size_t depth = 0;
    char *self = wf->path ? realpath(wf->path, NULL) : NULL;
    if (self)
        stack[depth++] = self;
    int rc = check(wf, stack, depth, errs);
    free(self);
    return rc;
}
