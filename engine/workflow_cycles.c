/* workflow_cycles: the workflow loader's search for cycles among the tasks' dependencies (SPEC
 * §1: a workflow is a DAG). df_dag_toposort finds one cycle in O(V+E); its tasks are then left
 * out and the search repeats, so that disjoint cycles are all reported, each as a path shortened
 * in the middle when long. The tasks and their dependency lists are workflow_task.c's. */
#include "workflow_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"

/* A cycle of more than this many tasks is shown by its first and last DF_CYCLE_SHOWN_END
 * tasks with the count of those left out between them: a 50,000-task cycle would otherwise be
 * one line of hundreds of kilobytes. */
#define DF_CYCLE_SHOWN_MAX 20
#define DF_CYCLE_SHOWN_END 8

/* Reports one cycle found by df_dag_toposort (clen entries, the first repeated at the end) as
 * "cycle: a -> b -> a", or for a long one "cycle of N tasks: t0 -> ... -> t7 -> (N-16 more) ->
 * t(N-8) -> ... -> t0". */
static void report_cycle(df_wfl_loader *L, const size_t *cycle, size_t clen)
{
    df_workflow *wf = L->wf;
    size_t tasks = clen - 1, tlen = 64;
    bool cut = tasks > DF_CYCLE_SHOWN_MAX;
    for (size_t k = 0; k < clen; k++)
        if (!cut || k < DF_CYCLE_SHOWN_END || k >= clen - DF_CYCLE_SHOWN_END - 1)
            tlen += strlen(wf->tasks[cycle[k]].id) + 4;
    char *text = malloc(tlen);
    if (!text) {
        df_wfl_err(L, NULL, "cycle (out of memory while printing it)");
        return;
    }
    size_t at = 0;
    for (size_t k = 0; k < clen; k++) {
        if (cut && k == DF_CYCLE_SHOWN_END)
            at += (size_t)snprintf(text + at, tlen - at, " -> (%zu more)",
                                   tasks - 2 * DF_CYCLE_SHOWN_END);
        if (cut && k >= DF_CYCLE_SHOWN_END && k < clen - DF_CYCLE_SHOWN_END - 1)
            continue;
        at +=
            (size_t)snprintf(text + at, tlen - at, "%s%s", k ? " -> " : "", wf->tasks[cycle[k]].id);
    }
    if (cut)
        df_wfl_err(L, NULL, "cycle of %zu tasks: %s", tasks, text);
    else
        df_wfl_err(L, NULL, "cycle: %s", text);
    free(text);
}

/* Rebuilds the upstream lists up/nup (in *buf, allocated on first use to hold every edge)
 * without the tasks marked gone. Returns 0, or -1 when out of memory (reported). */
static int drop_gone_tasks(df_wfl_loader *L, size_t **up, size_t *nup, const unsigned char *gone,
                           size_t **buf)
{
    df_workflow *wf = L->wf;
    size_t n = wf->n_tasks;
    if (!*buf) {
        size_t total = 0;
        for (size_t i = 0; i < n; i++)
            total += wf->tasks[i].n_upstream;
        *buf = malloc((total ? total : 1) * sizeof **buf);
        if (!*buf) {
            df_wfl_err(L, NULL, "out of memory");
            return -1;
        }
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        up[i] = *buf + at;
        nup[i] = 0;
        if (gone[i])
            continue;
        for (size_t k = 0; k < wf->tasks[i].n_upstream; k++)
            if (!gone[wf->tasks[i].upstream[k]])
                (*buf)[at + nup[i]++] = wf->tasks[i].upstream[k];
        at += nup[i];
    }
    return 0;
}

/* See workflow_loader.h. */
int df_wfl_check_cycles(df_wfl_loader *L)
{
    df_workflow *wf = L->wf;
    size_t n = wf->n_tasks;
    wf->topo = malloc((n ? n : 1) * sizeof *wf->topo);
    size_t **up = malloc((n ? n : 1) * sizeof *up);
    size_t *nup = malloc((n ? n : 1) * sizeof *nup);
    unsigned char *gone = calloc(n ? n : 1, 1);
    size_t *buf = NULL;
    int rc = -1;
    if (!wf->topo || !up || !nup || !gone) {
        df_wfl_err(L, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        up[i] = wf->tasks[i].upstream;
        nup[i] = wf->tasks[i].n_upstream;
    }
    for (int found = 0;; found++) {
        size_t *cycle = NULL, clen = 0;
        int r = df_dag_toposort(n, (const size_t *const *)up, nup, wf->topo, &cycle, &clen);
        if (r == 0) {
            rc = found ? -1 : 0;
            break;
        }
        if (r == -2) {
            df_wfl_err(L, NULL, "out of memory");
            break;
        }
        if (found == 20) {
            df_wfl_err(L, NULL, "more cycles (only the first 20 are shown)");
            free(cycle);
            break;
        }
        report_cycle(L, cycle, clen);
        for (size_t k = 0; k < clen; k++)
            gone[cycle[k]] = 1;
        free(cycle);
        if (drop_gone_tasks(L, up, nup, gone, &buf) != 0)
            break;
    }
out:
    free(up);
    free(nup);
    free(gone);
    free(buf);
    return rc;
}
