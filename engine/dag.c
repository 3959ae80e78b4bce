/* dag: owns the graph algorithms over a workflow's tasks (topological order, cycle path) and the
 * evaluation of trigger rules (SPEC §3), see dag.h. */
#include "dag.h"

#include <stdlib.h>

enum { WHITE = 0, GRAY, BLACK };

/* Topological order by an iterative depth-first search along upstream edges: a node is emitted
 * once all its upstreams are, so upstreams come first. Roots are tried in index order and each
 * node's upstreams in list order, so the order is deterministic. No recursion: the explicit
 * stack holds at most n nodes, and 100k-node chains need no call stack.
 *
 * Preconditions: every upstream index is < n. The cycle, when there is one, is reported in the
 * direction data flows: each node is an upstream of the next (for `b depends_on a`,
 * `c depends_on b`, `a depends_on c` it is a -> b -> c -> a), rotated to start at its smallest
 * index; a node that lists itself gives [i, i]. O(V+E) time, O(V) memory. Thread-safe. */
int df_dag_toposort(size_t n, const size_t *const *upstream, const size_t *n_upstream,
                    size_t *order, size_t **cycle, size_t *cycle_len)
{
    if (cycle)
        *cycle = NULL;
    if (cycle_len)
        *cycle_len = 0;
    if (n == 0)
        return 0;
    unsigned char *color = calloc(n, 1);
    size_t *pos = calloc(n, sizeof *pos); /* next upstream to look at, per node */
    size_t *stack = malloc(n * sizeof *stack);
    if (!color || !pos || !stack) {
        free(color);
        free(pos);
        free(stack);
        return -2;
    }
    int rc = 0;
    size_t emitted = 0;
    for (size_t root = 0; root < n && rc == 0; root++) {
        if (color[root] != WHITE)
            continue;
        size_t sp = 0;
        stack[sp++] = root;
        color[root] = GRAY;
        while (sp > 0) {
            size_t v = stack[sp - 1];
            if (pos[v] < n_upstream[v]) {
                size_t u = upstream[v][pos[v]++];
                if (color[u] == WHITE) {
                    color[u] = GRAY;
                    stack[sp++] = u;
                } else if (color[u] == GRAY) {
                    /* Back edge v -> u: u is on the stack, and stack[j+1] is an upstream of
                     * stack[j], so reading the stack backwards from v to u follows the data. */
                    size_t j = sp - 1;
                    while (stack[j] != u)
                        j--;
                    size_t len = sp - j; /* distinct nodes */
                    size_t *r = malloc((len + 1) * sizeof *r);
                    if (!r) {
                        rc = -2;
                        break;
                    }
                    /* Node k of the cycle is stack[sp - 1 - k]; rotate so that the smallest
                     * index comes first, then close the loop. */
                    size_t min_at = 0;
                    for (size_t k = 1; k < len; k++)
                        if (stack[sp - 1 - k] < stack[sp - 1 - min_at])
                            min_at = k;
                    for (size_t k = 0; k < len; k++)
                        r[k] = stack[sp - 1 - (min_at + k) % len];
                    r[len] = r[0];
                    if (cycle)
                        *cycle = r;
                    else
                        free(r);
                    if (cycle_len)
                        *cycle_len = len + 1;
                    rc = -1;
                    break;
                }
            } else {
                color[v] = BLACK;
                order[emitted++] = v;
                sp--;
            }
        }
    }
    free(color);
    free(pos);
    free(stack);
    return rc;
}

/* Verdicts per rule, with s/f/k the upstreams that ended in SUCCESS / failure (FAILED,
 * UPSTREAM_FAILED, INVALID) / SKIPPED, n the total and "all final" meaning s+f+k == n.
 * Rows are checked top to bottom; the first that matches decides. A task without upstreams
 * (n == 0) and `always` are READY before any row is looked at.
 *
 *   all_success                  f>0: UPSTREAM_FAILED | all final, s==n: READY
 *                                | all final (k>0): SKIPPED | else WAIT
 *   all_failed                   s>0 or k>0: SKIPPED | all final: READY | else WAIT
 *   all_done                     all final: READY | else WAIT
 *   all_skipped                  s>0 or f>0: SKIPPED | all final: READY | else WAIT
 *   one_success                  s>0: READY | all final, f>0: UPSTREAM_FAILED
 *                                | all final: SKIPPED | else WAIT
 *   one_failed                   f>0: READY | all final: SKIPPED | else WAIT
 *   one_done                     s>0 or f>0: READY | all final: SKIPPED | else WAIT
 *   none_failed                  f>0: UPSTREAM_FAILED | all final: READY | else WAIT
 *   none_failed_min_one_success  f>0: UPSTREAM_FAILED | all final, s>0: READY
 *                                | all final: SKIPPED | else WAIT
 *   none_skipped                 k>0: SKIPPED | all final: READY | else WAIT
 *
 * This is SPEC §3 (after Airflow): one_* rules fire as soon as met; the rules that need success
 * turn UPSTREAM_FAILED once a failure means they can no longer be met (for one_success that is
 * when every upstream is final without a success), and SKIPPED once every upstream is final with
 * none failed; the others turn SKIPPED as soon as they can no longer be met. Note that, unlike
 * Airflow's all_success, a skipped upstream skips an all_success task only once every upstream is
 * final, because a later failure must still give UPSTREAM_FAILED (SPEC §3).
 *
 * Counts that add up to more than total are treated as if total were their sum. An unknown rule
 * gives WAIT. Pure; thread-safe. */
df_trigger_verdict df_trigger_evaluate(df_trigger_rule rule, const df_upstream_counts *c)
{
    size_t s = c->success, f = c->failed, k = c->skipped;
    size_t n = c->total;
    if (s + f + k > n)
        n = s + f + k;
    if (n == 0 || rule == DF_TR_ALWAYS)
        return DF_TV_READY;
    bool final = s + f + k == n;

    switch (rule) {
    case DF_TR_ALL_SUCCESS:
        if (f > 0)
            return DF_TV_UPSTREAM_FAILED;
        if (!final)
            return DF_TV_WAIT;
        return s == n ? DF_TV_READY : DF_TV_SKIPPED;
    case DF_TR_ALL_FAILED:
        if (s > 0 || k > 0)
            return DF_TV_SKIPPED;
        return final ? DF_TV_READY : DF_TV_WAIT;
    case DF_TR_ALL_DONE:
        return final ? DF_TV_READY : DF_TV_WAIT;
    case DF_TR_ALL_SKIPPED:
        if (s > 0 || f > 0)
            return DF_TV_SKIPPED;
        return final ? DF_TV_READY : DF_TV_WAIT;
    case DF_TR_ONE_SUCCESS:
        if (s > 0)
            return DF_TV_READY;
        if (!final)
            return DF_TV_WAIT;
        return f > 0 ? DF_TV_UPSTREAM_FAILED : DF_TV_SKIPPED;
    case DF_TR_ONE_FAILED:
        if (f > 0)
            return DF_TV_READY;
        return final ? DF_TV_SKIPPED : DF_TV_WAIT;
    case DF_TR_ONE_DONE:
        if (s > 0 || f > 0)
            return DF_TV_READY;
        return final ? DF_TV_SKIPPED : DF_TV_WAIT;
    case DF_TR_NONE_FAILED:
        if (f > 0)
            return DF_TV_UPSTREAM_FAILED;
        return final ? DF_TV_READY : DF_TV_WAIT;
    case DF_TR_NONE_FAILED_MIN_ONE_SUCCESS:
        if (f > 0)
            return DF_TV_UPSTREAM_FAILED;
        if (!final)
            return DF_TV_WAIT;
        return s > 0 ? DF_TV_READY : DF_TV_SKIPPED;
    case DF_TR_NONE_SKIPPED:
        if (k > 0)
            return DF_TV_SKIPPED;
        return final ? DF_TV_READY : DF_TV_WAIT;
    default:
        return DF_TV_WAIT;
    }
}
