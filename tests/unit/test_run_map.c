/* test_run_map: the run core's dynamic mapping (engine/run_map.c, SPEC §8, §10) through
 * run_harness.h: expansion (PENDING -> RUNNING, one DF_FX_MAP_EXPAND with the instances QUEUED),
 * max_parallel holding instances back until one ends, the task's end (SUCCESS with the results
 * in index order; FAILED once one failed, after the others finished), an empty array (SKIPPED),
 * a value that is not an array (FAILED without an attempt), and retry reopening only the
 * instances that did not succeed. */
#include "run_harness.h"

#include "engine/run_internal.h"

/* Units of task id's instances, from its first. */
static size_t first_instance(harness *h, const char *id)
{
    return h->c->map[task(h, id)].first;
}

/* Instances of `id` with an attempt in flight. */
static size_t busy(harness *h, const char *id)
{
    const df_map_rt *m = &h->c->map[task(h, id)];
    size_t n = 0;
    for (size_t k = 0; k < m->n; k++)
        n += h->c->t[m->first + k].busy;
    return n;
}

/* Hands instance k of id its result (an integer k * 10 on success). */
static void inst_result(harness *h, const char *id, size_t k, int status)
{
    size_t u = first_instance(h, id) + k;
    json_t *res = status == TASK_OK ? json_integer((json_int_t)(k * 10)) : NULL;
    df_run_core_result_in(h->c, u, h->c->t[u].attempt, status, res, NULL, NULL, &h->clk);
    json_decref(res);
    drain(h);
    step(h);
}

static const char *const WF =
    "{\"name\": \"m\", \"tasks\": ["
    "{\"id\": \"m\", \"plugin\": \"x\", \"for_each\": [\"a\", \"b\", \"c\", \"d\", \"e\"],"
    " \"max_parallel\": 2},"
    "{\"id\": \"after\", \"plugin\": \"x\", \"depends_on\": [\"m\"]}]}";

static void test_expand_max_parallel_success(void **st)
{
    (void)st;
    harness *h = h_new(WF, 100);
    start(h);
    assert_int_equal(state(h, "m"), DF_TS_RUNNING);
    df_effect *fx = find(h, DF_FX_MAP_EXPAND, task(h, "m"));
    assert_non_null(fx);
    assert_int_equal(fx->map_from, 0);
    assert_int_equal(fx->map_n, 5);
    assert_int_equal(df_run_core_units(h->c), 2 + 5);
    assert_int_equal(busy(h, "m"), 2); /* max_parallel */
    assert_string_equal(json_string_value(df_run_core_item(h->c, first_instance(h, "m") + 3)), "d");
    for (size_t k = 0; k < 5; k++) {
        inst_result(h, "m", k, TASK_OK);
        assert_true(busy(h, "m") <= 2);
    }
    assert_int_equal(state(h, "m"), DF_TS_SUCCESS);
    const json_t *r = df_run_core_result(h->c, task(h, "m"));
    assert_int_equal(json_array_size(r), 5);
    assert_int_equal(json_integer_value(json_array_get(r, 4)), 40);
    assert_int_equal(state(h, "after"), DF_TS_RUNNING);
    result(h, "after", TASK_OK, NULL);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_SUCCESS);
    h_free(h);
}

static void test_failed_instance_and_retry(void **st)
{
    (void)st;
    harness *h = h_new(WF, 100);
    start(h);
    inst_result(h, "m", 0, TASK_OK);
    inst_result(h, "m", 1, TASK_PERMANENT);
    assert_int_equal(state(h, "m"), DF_TS_RUNNING); /* the others still finish */
    for (size_t k = 2; k < 5; k++)
        inst_result(h, "m", k, TASK_OK);
    assert_int_equal(state(h, "m"), DF_TS_FAILED);
    assert_int_equal(state(h, "after"), DF_TS_UPSTREAM_FAILED);
    assert_true(end(h));
    assert_int_equal(df_run_core_final_state(h->c), DF_RS_FAILED);

    /* retry: only instance 1 reopens */
    char err[256];
    assert_int_equal(df_run_core_retry_plan(h->c, NULL, err, sizeof err), 0);
    df_run_core_retry_apply(h->c, false, &h->clk);
    size_t u0 = first_instance(h, "m");
    assert_int_equal(h->c->t[u0].state, DF_TS_SUCCESS);
    assert_int_equal(h->c->t[u0 + 1].state, DF_TS_PENDING);
    h->c->ended = false;
    df_run_core_start(h->c);
    step(h);
    assert_int_equal(state(h, "m"), DF_TS_RUNNING);
    assert_int_equal(busy(h, "m"), 1);
    inst_result(h, "m", 1, TASK_OK);
    assert_int_equal(state(h, "m"), DF_TS_SUCCESS);
    h_free(h);
}

static void test_empty_and_not_an_array(void **st)
{
    (void)st;
    json_t *params = json_pack("{s:[], s:s}", "none", "str", "abc");
    harness *h =
        h_new_params("{\"name\": \"m\", \"params\": {\"none\": [], \"str\": \"\"}, "
                     "\"tasks\": ["
                     "{\"id\": \"z\", \"plugin\": \"x\", \"for_each\": \"${params.none}\"},"
                     "{\"id\": \"s\", \"plugin\": \"x\", \"for_each\": \"${params.str}\"}]}",
                     100, params);
    start(h);
    assert_int_equal(state(h, "z"), DF_TS_SKIPPED);
    assert_int_equal(state(h, "s"), DF_TS_FAILED);
    assert_null(find(h, DF_FX_ATTEMPT_OPEN, ANY_TASK));
    df_effect *fx = find(h, DF_FX_TRANSITION, task(h, "s"));
    while (fx && fx->to != DF_TS_FAILED)
        fx++;
    assert_non_null(fx);
    assert_non_null(strstr(fx->error, "not an array"));
    h_free(h);
    json_decref(params);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand_max_parallel_success),
        cmocka_unit_test(test_failed_instance_and_retry),
        cmocka_unit_test(test_empty_and_not_an_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
