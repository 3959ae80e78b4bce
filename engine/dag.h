/* dag: graph algorithms over the workflow's tasks, and trigger-rule evaluation (SPEC §3). */
#ifndef DF_DAG_H
#define DF_DAG_H

#include <stddef.h>

#include "state.h"
#include "workflow.h"

/* Computes a topological order of n nodes whose edges are given as upstream lists
 * (upstream[i] lists the nodes i depends on). O(V+E). On success returns 0 and fills order
 * (n entries, caller-allocated). On a cycle returns -1 and sets *cycle to a new malloc'd array
 * of node indexes forming the cycle, first node repeated at the end (a -> b -> c -> a), and
 * *cycle_len to its length. Returns -2 on allocation failure. Thread-safe. */
int df_dag_toposort(size_t n, const size_t *const *upstream, const size_t *n_upstream,
                    size_t *order, size_t **cycle, size_t *cycle_len);

/* Counts of an task's upstream final states, as trigger rules see them. */
typedef struct df_upstream_counts {
    size_t total;
    size_t success;
    size_t failed; /* FAILED, UPSTREAM_FAILED, INVALID */
    size_t skipped;
    /* done = success + failed + skipped; the rest are not final yet */
} df_upstream_counts;

typedef enum df_trigger_verdict {
    DF_TV_WAIT = 0,        /* not decided yet */
    DF_TV_READY,           /* the task may start (PENDING -> QUEUED) */
    DF_TV_UPSTREAM_FAILED, /* can never run because upstreams failed */
    DF_TV_SKIPPED,         /* can never run otherwise */
} df_trigger_verdict;

/* Evaluates a trigger rule, as in Airflow (SPEC §3): one_* rules fire as soon as met; a rule that
 * can no longer be met gives UPSTREAM_FAILED (rules needing success, once an upstream failed) or
 * SKIPPED; `always` and tasks without upstreams are READY at once. Pure; thread-safe. */
df_trigger_verdict df_trigger_evaluate(df_trigger_rule rule, const df_upstream_counts *c);

#endif
