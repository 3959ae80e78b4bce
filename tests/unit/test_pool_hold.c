/* test_pool_hold: df_pool_hold_growth, the pool's side of admission's soft memory threshold
 * (engine/admission.h): while held, a backlog of jobs that block their worker starts no worker
 * for the backlog (workers_grown_blocked stays 0; without the hold the same load grows the pool
 * past the cores, as test_pool_elastic shows), every job still completes; released, the pool
 * grows again for the same load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pool_fixture.h"

/* block: blocks its worker thread in usleep for params.ms (a plugin that blocks). */
static int block_execute(df_task_ctx *ctx, const json_t *params, json_t **result)
{
    (void)ctx;
    (void)result;
    usleep((useconds_t)json_integer_value(json_object_get(params, "ms")) * 1000);
    return DF_TASK_OK;
}
static const df_taskunit block_unit = {.abi = DF_TASKUNIT_ABI,
                                       .name = "block",
                                       .version = "1",
                                       .description = "t",
                                       .execute = block_execute};

/* Submits n 5 ms blocking jobs (tags from first), waits for them; returns the pool's stats. */
static df_pool_stats run_batch(df_pool *p, int first, int n)
{
    for (int i = first; i < first + n; i++)
        assert_int_equal(
            df_pool_submit(p, make_job(&block_unit, json_pack("{s:i}", "ms", 5), "t", TAG(i)),
                           NULL),
            0);
    assert_int_equal(wait_results((size_t)(first + n), 20000), (size_t)(first + n));
    df_pool_stats st;
    df_pool_get_stats(p, &st);
    return st;
}

static void test_hold_growth(void **state)
{
    (void)state;
    collector_reset();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned max = (unsigned)(cores < 1 ? 1 : cores) + 2;
    df_pool *p = new_pool(1, max, 0);
    enum { N = 150 };
    df_pool_hold_growth(p, true);
    df_pool_stats st = run_batch(p, 0, N);
    assert_int_equal(st.workers_grown_blocked, 0); /* the backlog started no worker */
    for (int i = 0; i < N; i++)
        assert_int_equal(find_result(TAG(i))->status, DF_TASK_OK);

    df_pool_hold_growth(p, false);
    st = run_batch(p, N, N);
    assert_true(st.workers_grown_blocked >= 1); /* the same load grows the pool again */
    df_pool_destroy(p, 1000);
    collector_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
