/* workflow_on_exit: the loader's rules for `on_exit` handlers (SPEC §8). Handlers are loaded by
 * workflow_task.c as tasks after the DAG's own (wf->tasks[n_dag ..], .handler set, trigger rule
 * all_done): this file holds what differs — the keys they may not have, their upstreams (every
 * DAG task) and which references their params may make (${run.state}, ${run.failed_tasks}, any
 * DAG task's result). See workflow_loader.h. */
#include "workflow_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool df_wfl_handler_key(df_wfl_loader *L, const char *where, const char *key)
{
    static const char *const refused[] = {"depends_on", "trigger_rule", "for_each", "max_parallel",
                                          "branch"};
    if (!df_wfl_in_list(key, refused, DF_WFL_COUNT(refused)))
        return false;
    df_wfl_err(L, where,
               "%s: an on_exit handler cannot have %s (handlers start together once every task is "
               "final; their upstreams are all the tasks)",
               key, key);
    return true;
}

int df_wfl_handler_upstream(df_wfl_loader *L, size_t i, size_t n_dag, size_t *stamp)
{
    df_task_def *t = &L->wf->tasks[i];
    t->upstream = malloc((n_dag ? n_dag : 1) * sizeof *t->upstream);
    if (!t->upstream) {
        df_wfl_err(L, NULL, "out of memory");
        return -1;
    }
    for (size_t j = 0; j < n_dag; j++) {
        t->upstream[j] = j;
        stamp[j] = i + 1;
    }
    t->n_upstream = n_dag;
    return 0;
}

/* Whether ref is ${run.state} or ${run.failed_tasks}, which only handlers know. */
static bool handler_only(const char *ref)
{
    return strcmp(ref, "run.state") == 0 || strcmp(ref, "run.failed_tasks") == 0;
}

bool df_wfl_handler_ref(df_wfl_loader *L, const char *where, const char *path, const char *ref,
                        bool handler, const df_workflow *wf, size_t n_dag)
{
    if (!handler) {
        if (!handler_only(ref))
            return false;
        df_wfl_err(L, where,
                   "%s: ${%s} is only known in on_exit handlers (the run's state once every task "
                   "is final)",
                   path, ref);
        return true;
    }
    if (strncmp(ref, "tasks.", 6) != 0)
        return false;
    const char *id = ref + 6;
    size_t n = strcspn(id, ".");
    char name[129];
    snprintf(name, sizeof name, "%.*s", (int)(n > 128 ? 128 : n), id);
    long idx = df_workflow_find_task(wf, name);
    if (idx < 0)
        return false; /* the usual check reports it, with a suggestion */
    if ((size_t)idx >= n_dag)
        df_wfl_err(L, where,
                   "%s: ${%s} references on_exit handler \"%s\" (handlers read the tasks' "
                   "results, not each other's)",
                   path, ref, name);
    return true;
}
