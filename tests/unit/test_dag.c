/* test_dag: unit tests of engine/dag.c — df_dag_toposort (orders, cycle paths, self loops, a
 * 100k-node chain without recursion) and df_trigger_evaluate (a table of cases per rule, and every
 * count combination up to 4 upstreams checked against a brute-force reading of SPEC §3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/dag.h"

/* ---- toposort ------------------------------------------------------------------------------- */

/* Builds upstream lists from an edge list: edges[k] = {node, upstream}. */
typedef struct graph {
    size_t n;
    size_t **up;
    size_t *nup;
} graph;

static graph *graph_new(size_t n, const size_t (*edges)[2], size_t ne)
{
    graph *g = calloc(1, sizeof *g);
    g->n = n;
    g->up = calloc(n ? n : 1, sizeof *g->up);
    g->nup = calloc(n ? n : 1, sizeof *g->nup);
    for (size_t i = 0; i < n; i++)
        g->up[i] = calloc(ne ? ne : 1, sizeof(size_t));
    for (size_t k = 0; k < ne; k++)
        g->up[edges[k][0]][g->nup[edges[k][0]]++] = edges[k][1];
    return g;
}

static void graph_free(graph *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->up[i]);
    free(g->up);
    free(g->nup);
    free(g);
}

/* Asserts order is a permutation in which every upstream precedes its task. */
static void assert_topo(const graph *g, const size_t *order)
{
    size_t *at = malloc((g->n ? g->n : 1) * sizeof *at);
    for (size_t i = 0; i < g->n; i++)
        at[i] = SIZE_MAX;
    for (size_t k = 0; k < g->n; k++) {
        assert_true(order[k] < g->n);
        assert_int_equal(at[order[k]], SIZE_MAX); /* no repeats */
        at[order[k]] = k;
    }
    for (size_t i = 0; i < g->n; i++)
        for (size_t k = 0; k < g->nup[i]; k++)
            assert_true(at[g->up[i][k]] < at[i]);
    free(at);
}

/* Asserts the cycle is closed and each node is an upstream of the next. */
static void assert_cycle(const graph *g, const size_t *cycle, size_t len)
{
    assert_true(len >= 2);
    assert_int_equal(cycle[0], cycle[len - 1]);
    for (size_t k = 0; k + 1 < len; k++) {
        size_t from = cycle[k], to = cycle[k + 1];
        int found = 0;
        for (size_t e = 0; e < g->nup[to]; e++)
            found |= g->up[to][e] == from;
        assert_true(found);
    }
}

static void test_toposort_empty(void **state)
{
    (void)state;
    size_t *cycle = (size_t *)1, clen = 7;
    assert_int_equal(df_dag_toposort(0, NULL, NULL, NULL, &cycle, &clen), 0);
    assert_null(cycle);
    assert_int_equal(clen, 0);
}

static void test_toposort_diamond(void **state)
{
    (void)state;
    /* 0 <- 1, 0 <- 2, {1,2} <- 3, and 4 isolated; listed in reverse file order on purpose */
    const size_t e[][2] = {{3, 2}, {3, 1}, {1, 0}, {2, 0}};
    graph *g = graph_new(5, e, 4);
    size_t order[5];
    assert_int_equal(df_dag_toposort(5, (const size_t *const *)g->up, g->nup, order, NULL, NULL),
                     0);
    assert_topo(g, order);
    graph_free(g);
}

static void test_toposort_reverse_chain(void **state)
{
    (void)state;
    /* i depends on i+1: the only valid order is n-1, ..., 0 */
    enum { N = 6 };
    size_t e[N - 1][2];
    for (size_t i = 0; i + 1 < N; i++) {
        e[i][0] = i;
        e[i][1] = i + 1;
    }
    graph *g = graph_new(N, e, N - 1);
    size_t order[N];
    assert_int_equal(df_dag_toposort(N, (const size_t *const *)g->up, g->nup, order, NULL, NULL),
                     0);
    for (size_t k = 0; k < N; k++)
        assert_int_equal(order[k], N - 1 - k);
    graph_free(g);
}

static void test_toposort_cycle_path(void **state)
{
    (void)state;
    /* b(1) depends on a(0), c(2) on b, a on c: a -> b -> c -> a; d(3) depends on c */
    const size_t e[][2] = {{1, 0}, {2, 1}, {0, 2}, {3, 2}};
    graph *g = graph_new(4, e, 4);
    size_t order[4], *cycle = NULL, clen = 0;
    assert_int_equal(df_dag_toposort(4, (const size_t *const *)g->up, g->nup, order, &cycle, &clen),
                     -1);
    assert_int_equal(clen, 4);
    const size_t want[] = {0, 1, 2, 0};
    assert_memory_equal(cycle, want, sizeof want);
    assert_cycle(g, cycle, clen);
    free(cycle);
    graph_free(g);
}

static void test_toposort_cycle_found_from_later_root(void **state)
{
    (void)state;
    /* 0 -> 1 is fine; the cycle 3 -> 4 -> 2 -> 3 is reached through 5 and starts at 2 */
    const size_t e[][2] = {{1, 0}, {4, 3}, {2, 4}, {3, 2}, {5, 3}};
    graph *g = graph_new(6, e, 5);
    size_t order[6], *cycle = NULL, clen = 0;
    assert_int_equal(df_dag_toposort(6, (const size_t *const *)g->up, g->nup, order, &cycle, &clen),
                     -1);
    assert_int_equal(clen, 4);
    assert_int_equal(cycle[0], 2); /* rotated to the smallest index */
    assert_cycle(g, cycle, clen);
    free(cycle);
    graph_free(g);
}

static void test_toposort_self_loop(void **state)
{
    (void)state;
    const size_t e[][2] = {{1, 0}, {1, 1}};
    graph *g = graph_new(2, e, 2);
    size_t order[2], *cycle = NULL, clen = 0;
    assert_int_equal(df_dag_toposort(2, (const size_t *const *)g->up, g->nup, order, &cycle, &clen),
                     -1);
    assert_int_equal(clen, 2);
    assert_int_equal(cycle[0], 1);
    assert_int_equal(cycle[1], 1);
    free(cycle);
    graph_free(g);
}

static void test_toposort_cycle_without_out_params(void **state)
{
    (void)state;
    const size_t e[][2] = {{0, 1}, {1, 0}};
    graph *g = graph_new(2, e, 2);
    size_t order[2];
    assert_int_equal(df_dag_toposort(2, (const size_t *const *)g->up, g->nup, order, NULL, NULL),
                     -1);
    graph_free(g);
}

/* A 100k-node chain in both directions: a recursive DFS would need 100k frames. */
static void test_toposort_long_chain(void **state)
{
    (void)state;
    enum { N = 100000 };
    size_t *storage = malloc(N * sizeof *storage);
    size_t **up = malloc(N * sizeof *up);
    size_t *nup = malloc(N * sizeof *nup);
    size_t *order = malloc(N * sizeof *order);
    for (int dir = 0; dir < 2; dir++) {
        for (size_t i = 0; i < N; i++) {
            up[i] = &storage[i];
            if (dir == 0) { /* i depends on i-1 */
                storage[i] = i - 1;
                nup[i] = i > 0;
            } else { /* i depends on i+1 */
                storage[i] = i + 1;
                nup[i] = i + 1 < N;
            }
        }
        assert_int_equal(df_dag_toposort(N, (const size_t *const *)up, nup, order, NULL, NULL), 0);
        for (size_t k = 0; k < N; k++)
            assert_int_equal(order[k], dir == 0 ? k : N - 1 - k);
    }
    /* Close the chain into one big cycle: 0 depends on N-1. */
    for (size_t i = 0; i < N; i++) {
        storage[i] = i - 1;
        nup[i] = 1;
    }
    storage[0] = N - 1;
    size_t *cycle = NULL, clen = 0;
    assert_int_equal(df_dag_toposort(N, (const size_t *const *)up, nup, order, &cycle, &clen), -1);
    assert_int_equal(clen, N + 1);
    for (size_t k = 0; k <= N; k++)
        assert_int_equal(cycle[k], k % N);
    free(cycle);
    free(storage);
    free(up);
    free(nup);
    free(order);
}

/* ---- trigger rules: explicit cases -------------------------------------------------------- */

typedef struct tcase {
    df_trigger_rule rule;
    size_t total, s, f, k;
    df_trigger_verdict want;
} tcase;

#define W DF_TV_WAIT
#define R DF_TV_READY
#define UF DF_TV_UPSTREAM_FAILED
#define SK DF_TV_SKIPPED

static const tcase cases[] = {
    /* no upstreams: READY whatever the rule */
    {DF_TR_ALL_SUCCESS, 0, 0, 0, 0, R},
    {DF_TR_ALL_FAILED, 0, 0, 0, 0, R},
    {DF_TR_ONE_SUCCESS, 0, 0, 0, 0, R},
    {DF_TR_NONE_FAILED_MIN_ONE_SUCCESS, 0, 0, 0, 0, R},
    {DF_TR_NONE_SKIPPED, 0, 0, 0, 0, R},

    {DF_TR_ALL_SUCCESS, 3, 0, 0, 0, W},
    {DF_TR_ALL_SUCCESS, 3, 2, 0, 0, W},
    {DF_TR_ALL_SUCCESS, 3, 3, 0, 0, R},
    {DF_TR_ALL_SUCCESS, 3, 0, 1, 0, UF}, /* as soon as one failed */
    {DF_TR_ALL_SUCCESS, 3, 1, 1, 1, UF},
    {DF_TR_ALL_SUCCESS, 3, 1, 0, 1, W},  /* skipped, but not all final: wait (SPEC) */
    {DF_TR_ALL_SUCCESS, 3, 2, 0, 1, SK}, /* all final, none failed */

    {DF_TR_ALL_FAILED, 2, 0, 1, 0, W},
    {DF_TR_ALL_FAILED, 2, 0, 2, 0, R},
    {DF_TR_ALL_FAILED, 2, 1, 0, 0, SK}, /* as soon as it can no longer be met */
    {DF_TR_ALL_FAILED, 2, 0, 0, 1, SK},

    {DF_TR_ALL_DONE, 3, 1, 1, 0, W},
    {DF_TR_ALL_DONE, 3, 1, 1, 1, R},
    {DF_TR_ALL_DONE, 2, 0, 0, 2, R},

    {DF_TR_ALL_SKIPPED, 2, 0, 0, 1, W},
    {DF_TR_ALL_SKIPPED, 2, 0, 0, 2, R},
    {DF_TR_ALL_SKIPPED, 2, 1, 0, 0, SK},
    {DF_TR_ALL_SKIPPED, 2, 0, 1, 0, SK},

    {DF_TR_ONE_SUCCESS, 3, 1, 0, 0, R}, /* fires without waiting */
    {DF_TR_ONE_SUCCESS, 3, 0, 1, 0, W}, /* another may still succeed */
    {DF_TR_ONE_SUCCESS, 3, 0, 2, 1, UF},
    {DF_TR_ONE_SUCCESS, 3, 0, 0, 3, SK},
    {DF_TR_ONE_SUCCESS, 3, 0, 1, 1, W},

    {DF_TR_ONE_FAILED, 3, 0, 1, 0, R},
    {DF_TR_ONE_FAILED, 3, 2, 0, 0, W},
    {DF_TR_ONE_FAILED, 3, 2, 0, 1, SK},

    {DF_TR_ONE_DONE, 3, 0, 0, 2, W},
    {DF_TR_ONE_DONE, 3, 1, 0, 0, R},
    {DF_TR_ONE_DONE, 3, 0, 1, 0, R},
    {DF_TR_ONE_DONE, 3, 0, 0, 3, SK},

    {DF_TR_NONE_FAILED, 3, 2, 0, 0, W},
    {DF_TR_NONE_FAILED, 3, 2, 0, 1, R}, /* skipped counts as fine */
    {DF_TR_NONE_FAILED, 3, 0, 0, 3, R},
    {DF_TR_NONE_FAILED, 3, 0, 1, 0, UF},

    {DF_TR_NONE_FAILED_MIN_ONE_SUCCESS, 3, 1, 0, 0, W},
    {DF_TR_NONE_FAILED_MIN_ONE_SUCCESS, 3, 1, 0, 2, R},
    {DF_TR_NONE_FAILED_MIN_ONE_SUCCESS, 3, 0, 0, 3, SK},
    {DF_TR_NONE_FAILED_MIN_ONE_SUCCESS, 3, 0, 1, 0, UF},

    {DF_TR_NONE_SKIPPED, 3, 1, 1, 0, W},
    {DF_TR_NONE_SKIPPED, 3, 1, 2, 0, R},
    {DF_TR_NONE_SKIPPED, 3, 0, 0, 1, SK},

    {DF_TR_ALWAYS, 3, 0, 0, 0, R},
    {DF_TR_ALWAYS, 3, 0, 3, 0, R},
};

static void test_trigger_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tcase *c = &cases[i];
        df_upstream_counts uc = {
            .total = c->total, .success = c->s, .failed = c->f, .skipped = c->k};
        df_trigger_verdict got = df_trigger_evaluate(c->rule, &uc);
        if (got != c->want)
            fail_msg("case %zu: %s total=%zu s=%zu f=%zu k=%zu: got %d, want %d", i,
                     df_trigger_rule_name(c->rule), c->total, c->s, c->f, c->k, (int)got,
                     (int)c->want);
    }
}

/* ---- trigger rules: brute force against SPEC §3 ------------------------------------------ */

/* Whether the rule is satisfied by these upstream outcomes, every upstream being final. */
static int met_final(df_trigger_rule r, size_t n, size_t s, size_t f, size_t k)
{
    switch (r) {
    case DF_TR_ALL_SUCCESS:
        return s == n;
    case DF_TR_ALL_FAILED:
        return f == n;
    case DF_TR_ALL_DONE:
        return 1;
    case DF_TR_ALL_SKIPPED:
        return k == n;
    case DF_TR_ONE_SUCCESS:
        return s >= 1;
    case DF_TR_ONE_FAILED:
        return f >= 1;
    case DF_TR_ONE_DONE:
        return s + f >= 1;
    case DF_TR_NONE_FAILED:
        return f == 0;
    case DF_TR_NONE_FAILED_MIN_ONE_SUCCESS:
        return f == 0 && s >= 1;
    case DF_TR_NONE_SKIPPED:
        return k == 0;
    default:
        return 1;
    }
}

static int is_one_rule(df_trigger_rule r)
{
    return r == DF_TR_ONE_SUCCESS || r == DF_TR_ONE_FAILED || r == DF_TR_ONE_DONE;
}

static int needs_success(df_trigger_rule r)
{
    return r == DF_TR_ALL_SUCCESS || r == DF_TR_ONE_SUCCESS || r == DF_TR_NONE_FAILED ||
           r == DF_TR_NONE_FAILED_MIN_ONE_SUCCESS;
}

/* SPEC §3 read literally, with "can no longer be met" decided by trying every way the pending
 * upstreams could still end. */
static df_trigger_verdict oracle(df_trigger_rule r, size_t n, size_t s, size_t f, size_t k)
{
    size_t pending = n - s - f - k;
    if (n == 0 || r == DF_TR_ALWAYS)
        return R;
    if (pending == 0 && met_final(r, n, s, f, k))
        return R;
    /* one_* rules fire as soon as met: their conditions only grow with more outcomes. */
    if (is_one_rule(r) && met_final(r, n, s, f, k))
        return R;
    int can = 0;
    for (size_t a = 0; a <= pending; a++)
        for (size_t b = 0; a + b <= pending; b++)
            can |= met_final(r, n, s + a, f + b, k + (pending - a - b));
    if (can)
        return W;
    if (needs_success(r)) {
        if (f > 0)
            return UF;
        return pending == 0 ? SK : W;
    }
    return SK;
}

static void test_trigger_brute_force(void **state)
{
    (void)state;
    size_t checked = 0;
    for (int r = 0; r < DF_TR__COUNT; r++)
        for (size_t n = 0; n <= 4; n++)
            for (size_t s = 0; s <= n; s++)
                for (size_t f = 0; s + f <= n; f++)
                    for (size_t k = 0; s + f + k <= n; k++) {
                        df_upstream_counts uc = {
                            .total = n, .success = s, .failed = f, .skipped = k};
                        df_trigger_verdict got = df_trigger_evaluate((df_trigger_rule)r, &uc);
                        df_trigger_verdict want = oracle((df_trigger_rule)r, n, s, f, k);
                        if (got != want)
                            fail_msg("%s n=%zu s=%zu f=%zu k=%zu: got %d, want %d",
                                     df_trigger_rule_name((df_trigger_rule)r), n, s, f, k, (int)got,
                                     (int)want);
                        checked++;
                    }
    assert_int_equal(checked, 11 * (1 + 4 + 10 + 20 + 35));
}

/* A verdict other than WAIT must never change as more upstreams finish (the scheduler acts on
 * it once). */
static void test_trigger_final_verdicts_are_stable(void **state)
{
    (void)state;
    for (int r = 0; r < DF_TR__COUNT; r++)
        for (size_t n = 1; n <= 4; n++)
            for (size_t s = 0; s <= n; s++)
                for (size_t f = 0; s + f <= n; f++)
                    for (size_t k = 0; s + f + k <= n; k++) {
                        df_upstream_counts uc = {n, s, f, k};
                        df_trigger_verdict v = df_trigger_evaluate((df_trigger_rule)r, &uc);
                        if (v == W || s + f + k == n)
                            continue;
                        size_t more[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
                        for (int m = 0; m < 3; m++) {
                            df_upstream_counts u2 = {n, s + more[m][0], f + more[m][1],
                                                     k + more[m][2]};
                            assert_int_equal(df_trigger_evaluate((df_trigger_rule)r, &u2), v);
                        }
                    }
}

static void test_trigger_inconsistent_counts(void **state)
{
    (void)state;
    /* More outcomes than upstreams: treated as if total were their sum, never a crash. */
    df_upstream_counts uc = {.total = 1, .success = 2, .failed = 0, .skipped = 0};
    assert_int_equal(df_trigger_evaluate(DF_TR_ALL_SUCCESS, &uc), R);
    assert_int_equal(df_trigger_evaluate((df_trigger_rule)99, &uc), W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toposort_empty),
        cmocka_unit_test(test_toposort_diamond),
        cmocka_unit_test(test_toposort_reverse_chain),
        cmocka_unit_test(test_toposort_cycle_path),
        cmocka_unit_test(test_toposort_cycle_found_from_later_root),
        cmocka_unit_test(test_toposort_self_loop),
        cmocka_unit_test(test_toposort_cycle_without_out_params),
        cmocka_unit_test(test_toposort_long_chain),
        cmocka_unit_test(test_trigger_table),
        cmocka_unit_test(test_trigger_brute_force),
        cmocka_unit_test(test_trigger_final_verdicts_are_stable),
        cmocka_unit_test(test_trigger_inconsistent_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
